/*
 * main.c: binkd's entry point: configuration, the operator commands, and
 * the server's start and graceful stop (SIGTERM/SIGINT).
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "admin.h"
#include "api/api.h"
#include "config.h"
#include "ctx.h"
#include "events/dispatcher.h"
#include "http/authcache.h"
#include "events/waiters.h"
#include "log.h"
#include "metrics.h"
#include "store/store.h"
#include "svc/files.h"

#define BINKD_GRACE_SECONDS 10

/* After every commit: wake the long polls and clicks it concerns, and the
 * webhook dispatcher when a bot got an event. */
static void main__on_commit(void *arg, const uint64_t *keys, size_t n) {
  binkd_ctx *ctx = arg;
  bool bot = false, account = false, all = false;
  for (size_t i = 0; i < n; i++) {
    uint64_t kind = STORE_WAKE_KIND(keys[i]);
    all |= keys[i] == STORE_WAKE_ALL;
    bot |= all || kind == STORE_WAKE_KIND(STORE_WAKE_BOT(0));
    account |= all || kind == STORE_WAKE_KIND(STORE_WAKE_ACCOUNT(0));
  }
  if (ctx->waiters) {
    if (all)
      ev_waiters_wake_all(ctx->waiters);
    else
      ev_waiters_wake(ctx->waiters, keys, n);
  }
  if (bot)
    ev_dispatcher_wake(ctx->dispatcher);
  if (account)
    authcache_invalidate(ctx->auth_cache);
}

/* Long polls and event streams are open connections: let the process use
 * every file descriptor it is allowed (the soft limit is often 1024). */
static void main__raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      binkd_log(BINKD_LOG_WARN, "cannot raise the open file limit: %s",
                strerror(errno));
  }
}

static int main__mkdir(const char *path) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST)
    return 0;
  fprintf(stderr, "binkd: cannot create data directory %s: %s\n", path,
          strerror(errno));
  return -1;
}

/* The stop order matters: parked requests are ended first so that the HTTP
 * server can drain, the dispatcher stops while the store's writer can
 * still record its last outcomes, and the store goes last. */
static void main__shutdown(binkd_ctx *ctx, http_server *server) {
  ev_waiters_shutdown(ctx->waiters);
  http_server_stop(server, BINKD_GRACE_SECONDS);
  ev_dispatcher_stop(ctx->dispatcher);
  ctx->dispatcher = NULL;
  store_close(ctx->st);
  ev_waiters_free(ctx->waiters);
  ctx->waiters = NULL;
  authcache_free(ctx->auth_cache);
  ctx->auth_cache = NULL;
  curl_global_cleanup();
}

int main(int argc, char **argv) {
  static binkd_config cfg;
  char err[512];
  if (binkd_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
    fprintf(stderr, "binkd: %s\n", err);
    return 2;
  }
  if (cfg.show_help) {
    fputs(binkd_config_usage(), stdout);
    return 0;
  }
  if (cfg.show_version) {
    printf("binkd %s\n", BINK_VERSION);
    return 0;
  }
  binkd_log_setup(cfg.log_level, cfg.log_format);
  /* migrate names its own databases: the default store is neither made
   * nor opened, and no data directory is created. */
  if (cfg.nargs > 0 && strcmp(cfg.args[0], "migrate") == 0)
    return admin_migrate(&cfg);
  if (main__mkdir(cfg.data) != 0)
    return 1;

  /* Signals are taken by sigwait() below: block them before any thread. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  binkd_ctx ctx = {.cfg = &cfg};
  bink_limits_default(&ctx.limits);
  bink_err e = {0};
  store_options so = {.pool = cfg.db_pool};
  if (store_open(cfg.db, &so, &ctx.st, &e) != BINK_OK) {
    fprintf(stderr, "binkd: %s\n", e.msg);
    return 1;
  }
  if (cfg.nargs > 0) {
    int status = admin_run(&cfg, ctx.st, &ctx.limits);
    store_close(ctx.st);
    return status;
  }

  /* The file store's directories, leftovers of a crash, and the default
   * sticker set on first start (svc/files.h). */
  if (files_prepare_dirs(cfg.data) != 0) {
    store_close(ctx.st);
    return 1;
  }
  if (files_install_default_stickers(ctx.st, cfg.data) != BINK_OK)
    binkd_log(BINKD_LOG_WARN, "the default sticker set is not installed");

  main__raise_nofile();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  metrics_init();
  store_set_commit_hook(ctx.st, main__on_commit, &ctx);
  ctx.waiters = ev_waiters_new();
  ctx.auth_cache = authcache_new(1024, 2000);
  if (!ctx.waiters ||
      ev_dispatcher_start(ctx.st, &cfg, &ctx.dispatcher, &e) != BINK_OK) {
    fprintf(stderr, "binkd: %s\n", ctx.waiters ? e.msg : "out of memory");
    ev_waiters_free(ctx.waiters);
    authcache_free(ctx.auth_cache);
    store_close(ctx.st);
    curl_global_cleanup();
    return 1;
  }
  http_server *server = NULL;
  int port = 0;
  if (http_server_start(&ctx, api_routes, &server, &port, &e) != BINK_OK) {
    fprintf(stderr, "binkd: %s\n", e.msg);
    main__shutdown(&ctx, NULL);
    return 1;
  }
  /* With port 0 the derived public URL names the port actually bound. */
  char base[1100];
  size_t ul = strlen(cfg.public_url);
  if (ul >= 2 && strcmp(cfg.public_url + ul - 2, ":0") == 0)
    snprintf(base, sizeof base, "%.*s:%d", (int)(ul - 2), cfg.public_url, port);
  else
    snprintf(base, sizeof base, "%s", cfg.public_url);
  while (strlen(base) > 0 && base[strlen(base) - 1] == '/')
    base[strlen(base) - 1] = '\0';
  ctx.public_base = base; /* atomic store; base outlives the server */
  if (cfg.demo && admin_demo(&cfg, ctx.st, &ctx.limits, base) != 0) {
    main__shutdown(&ctx, server);
    return 1;
  }
  const char *colon = strrchr(cfg.listen, ':');
  binkd_log(BINKD_LOG_INFO, "binkd %s listening on http://%.*s:%d (public URL %s, data %s)",
            BINK_VERSION, (int)(colon - cfg.listen), cfg.listen, port, base,
            cfg.data);

  int sig = 0;
  sigwait(&stop, &sig);
  binkd_log(BINKD_LOG_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  main__shutdown(&ctx, server);
  files_shutdown();
  binkd_log(BINKD_LOG_INFO, "stopped");
  return 0;
}
