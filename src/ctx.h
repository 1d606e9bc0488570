/*
 * ctx.h: the server-wide state every handler reaches through r->ctx.
 * Created by main() before the HTTP server starts and destroyed after it
 * stops; read-only while requests run (the store is thread-safe).
 */
#ifndef BINKD_CTX_H
#define BINKD_CTX_H

#include "config.h"
#include "core/rules.h"
#include "store/store.h"

struct ev_waiters;
struct authcache;
struct ev_dispatcher;

typedef struct binkd_ctx {
  const binkd_config *cfg;
  store *st;
  bink_limits limits;
  struct ev_waiters *waiters;       /* parked long polls and clicks */
  struct ev_dispatcher *dispatcher; /* webhook delivery */
  struct authcache *auth_cache;     /* token digest -> account */
  /* The public base URL without a trailing '/' (--public-url, or the URL
   * of the port actually bound when --listen asked for port 0), for
   * download_url. Set by main() once the server listens, before it
   * announces the address; NULL until then (use cfg->public_url). */
  _Atomic(const char *) public_base;
} binkd_ctx;

#endif
