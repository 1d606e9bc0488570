#include "events/dispatcher.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/events.h"
#include "events/target.h"
#include "log.h"
#include "metrics.h"
#include "svc/svc.h"

#define DISPATCH__SCAN_MS 250      /* look at the outbox at least this often */
#define DISPATCH__SCAN_BATCH 256   /* due events read per scan */
#define DISPATCH__EXPIRE_S 60      /* dead-letter sweep period */
/* The outbox's pending rows are counted on this thread, not on a request's
 * (the count reads every pending row: ~1 ms per 1 000), at most this often
 * and only while someone scrapes /metrics. */
#define DISPATCH__COUNT_MS 5000
#define DISPATCH__COUNT_WANTED_MS 60000
#define DISPATCH__RETRY_AFTER_MAX 3600
#define DISPATCH__LEASE_MARGIN_MS 5000 /* a lease outlives an attempt by this */

typedef enum dispatch__state {
  XFER_RUNNING = 0, /* the HTTP request is under way */
  XFER_RECORDING,   /* finished; its outcome is being committed */
  XFER_RECORDED     /* committed (or given up): to be freed */
} dispatch__state;

typedef struct dispatch__xfer {
  struct dispatch__xfer *next;
  ev_dispatcher *d;
  dispatch__state state;
  int64_t bot_id, update_id, created_at;
  char chat_key[32];
  int attempts; /* this one included */
  int blocked;  /* refused by dispatch__open_socket */
  bool huge_retry_after; /* a Retry-After too large for libcurl to parse */
  CURL *easy;
  struct curl_slist *headers;
  char *body;
  size_t body_len, body_sent; /* dispatch__read's position */
  store_job job;
  svc_attempt rec;
} dispatch__xfer;

struct ev_dispatcher {
  store *st;
  const binkd_config *cfg;
  CURLM *multi;
  pthread_t thread;
  atomic_bool stop;
  atomic_bool scan; /* a wake-up asked for a scan */
  atomic_int running; /* transfers in XFER_RUNNING (for metrics) */
  atomic_llong pending;     /* outbox's pending rows, -1 unknown (metrics) */
  atomic_llong wanted_at;   /* ms of the last ev_dispatcher_outbox_pending */
  dispatch__xfer *xfers; /* running or recording */
  pthread_mutex_t done_lock;
  dispatch__xfer *done; /* recorded: to be freed by the thread */
  char user_agent[64];
};

static int64_t dispatch__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double dispatch__unit(void) {
  uint32_t r = 0;
  if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
    return 0.5;
  return (double)r / 4294967296.0;
}

/* --deny-private-webhooks, enforced when connecting too: the name may
 * resolve differently now than at setwebhook (DNS rebinding). */
static curl_socket_t dispatch__open_socket(void *ud, curlsocktype purpose,
                                           struct curl_sockaddr *a) {
  int *blocked = ud;
  if (purpose == CURLSOCKTYPE_IPCXN && ev_addr_private(&a->addr)) {
    *blocked = 1;
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype, a->protocol);
}

/* libcurl reports a Retry-After beyond its range as absent; such a value
 * still asks for the longest wait (clamped to an hour, events.md). */
static size_t dispatch__header(char *p, size_t size, size_t n, void *ud) {
  dispatch__xfer *x = ud;
  size_t len = size * n;
  if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
    size_t i = 12, digits = 0;
    while (i < len && (p[i] == ' ' || p[i] == '\t'))
      i++;
    while (i < len && p[i] >= '0' && p[i] <= '9')
      i++, digits++;
    if (digits > 9)
      x->huge_retry_after = true;
  }
  return len;
}

/* The body, handed to libcurl once. With no way to rewind it
 * (dispatch__no_rewind), libcurl cannot silently send the attempt a second
 * time on a fresh connection when a reused one dies before an answer (it
 * does for a POSTFIELDS body): the attempt fails instead and is retried by
 * the back-off schedule, under the next X-Bink-Attempt number (events.md). */
static size_t dispatch__read(char *out, size_t size, size_t n, void *ud) {
  dispatch__xfer *x = ud;
  size_t left = x->body_len - x->body_sent;
  size_t take = size * n < left ? size * n : left;
  memcpy(out, x->body + x->body_sent, take);
  x->body_sent += take;
  return take;
}

static int dispatch__no_rewind(void *ud, curl_off_t offset, int origin) {
  (void)ud;
  (void)offset;
  (void)origin;
  return CURL_SEEKFUNC_CANTSEEK;
}

static size_t dispatch__discard(char *p, size_t size, size_t n, void *ud) {
  return size * n; /* the receiver's body is ignored (events.md) */
}

static void dispatch__free(dispatch__xfer *x) {
  if (x->easy) {
    if (x->state == XFER_RUNNING)
      curl_multi_remove_handle(x->d->multi, x->easy);
    curl_easy_cleanup(x->easy);
  }
  curl_slist_free_all(x->headers);
  free(x->body);
  free(x);
}

/* Counts what is in flight for a bot and whether its chat is busy. */
static void dispatch__busy(ev_dispatcher *d, const store_delivery *dv,
                           int *per_bot, bool *chat_busy, bool *same) {
  *per_bot = 0;
  *chat_busy = *same = false;
  for (dispatch__xfer *x = d->xfers; x; x = x->next) {
    if (x->bot_id != dv->bot_id)
      continue;
    (*per_bot)++;
    if (strcmp(x->chat_key, dv->chat_key) == 0)
      *chat_busy = true;
    if (x->update_id == dv->update_id)
      *same = true;
  }
}

static struct curl_slist *dispatch__headers(const store_delivery *dv,
                                            int attempt, const char *body) {
  char line[320];
  char msg_id[96];
  struct curl_slist *h = NULL, *t;
  int64_t ts = (int64_t)time(NULL);
  snprintf(msg_id, sizeof msg_id, "evt_%s_%lld", dv->bot_ext,
           (long long)dv->update_id);
#define DISPATCH__ADD(...)                                                    \
  do {                                                                        \
    snprintf(line, sizeof line, __VA_ARGS__);                                 \
    if (!(t = curl_slist_append(h, line)))                                    \
      goto fail;                                                              \
    h = t;                                                                    \
  } while (0)
  DISPATCH__ADD("Content-Type: application/json; charset=utf-8");
  DISPATCH__ADD("X-Bink-Event: %s", dv->event_type);
  DISPATCH__ADD("X-Bink-Attempt: %d", attempt);
  DISPATCH__ADD("webhook-id: %s", msg_id);
  DISPATCH__ADD("webhook-timestamp: %lld", (long long)ts);
  DISPATCH__ADD("Expect:"); /* no 100-continue round trip */
  if (dv->secret[0]) {
    unsigned char key[256];
    size_t klen;
    char sig[64];
    if (bink_webhook_key(dv->secret, key, &klen)) {
      bink_webhook_sign(key, klen, msg_id, ts, body, strlen(body), sig);
      DISPATCH__ADD("webhook-signature: %s", sig);
    }
  }
#undef DISPATCH__ADD
  return h;
fail:
  curl_slist_free_all(h);
  return NULL;
}

/* Starts one attempt (taking dv->body over), or declines it for now. */
static store_due_answer dispatch__start(void *arg, store_delivery *dv) {
  ev_dispatcher *d = arg;
  int per_bot;
  bool chat_busy, same;
  dispatch__busy(d, dv, &per_bot, &chat_busy, &same);
  int max = dv->max_connections > 0 ? dv->max_connections : 40;
  if (same || chat_busy || per_bot >= max)
    return STORE_DUE_SKIP;
  dispatch__xfer *x = calloc(1, sizeof *x);
  if (!x)
    return STORE_DUE_STOP;
  x->d = d;
  x->bot_id = dv->bot_id;
  x->update_id = dv->update_id;
  x->created_at = dv->created_at;
  x->attempts = dv->attempts + 1;
  snprintf(x->chat_key, sizeof x->chat_key, "%s", dv->chat_key);
  x->body = dv->body; /* ours from here on, also on failure */
  dv->body = NULL;
  x->headers = dispatch__headers(dv, x->attempts, x->body);
  x->easy = curl_easy_init();
  if (!x->headers || !x->easy) {
    dispatch__free(x);
    return STORE_DUE_STOP;
  }
  long timeout_ms = (long)d->cfg->webhook_timeout * 1000L;
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_URL, dv->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  x->body_len = strlen(x->body);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_READFUNCTION, dispatch__read);
  curl_easy_setopt(e, CURLOPT_READDATA, x);
  curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, dispatch__no_rewind);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, d->user_agent);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   timeout_ms < 5000 ? timeout_ms : 5000L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dispatch__discard);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, dispatch__header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  if (!d->cfg->allow_private_webhooks) {
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, dispatch__open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &x->blocked);
  }
  if (curl_multi_add_handle(d->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    x->easy = NULL;
    dispatch__free(x);
    return STORE_DUE_STOP;
  }
  atomic_fetch_add(&d->running, 1);
  x->next = d->xfers;
  d->xfers = x;
  return STORE_DUE_TAKE;
}

static bink_rc dispatch__record_fn(store_conn *c, void *arg, bink_err *err);

/* The writer committed an attempt's outcome (writer thread). */
static void dispatch__recorded(store_job *job) {
  dispatch__xfer *x = job->arg;
  ev_dispatcher *d = x->d;
  if (job->rc != BINK_OK)
    binkd_log(BINKD_LOG_WARN, "webhook: recording update %lld failed: %s",
              (long long)x->update_id, job->err.msg);
  /* The dispatcher thread owns the list; only the state changes here. */
  pthread_mutex_lock(&d->done_lock);
  x->state = XFER_RECORDED;
  pthread_mutex_unlock(&d->done_lock);
  atomic_store(&d->scan, true);
  curl_multi_wakeup(d->multi);
}

static void dispatch__finish(ev_dispatcher *d, dispatch__xfer *x,
                             CURLcode res) {
  long code = 0;
  curl_off_t total_us = 0, retry_after = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us);
  curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after);
  curl_multi_remove_handle(d->multi, x->easy);
  x->state = XFER_RECORDING;
  atomic_fetch_sub(&d->running, 1);

  int64_t now_ms = dispatch__now_ms();
  store_attempt *a = &x->rec.a;
  a->bot_id = x->bot_id;
  a->update_id = x->update_id;
  a->attempts = x->attempts;
  a->http_status = res == CURLE_OK ? (int)code : 0;
  a->latency_ms = (int)(total_us / 1000);
  a->now = now_ms / 1000;
  bool ok = res == CURLE_OK && code >= 200 && code < 300;
  metrics_delivery_outcome(ok                                 ? METRICS_DELIVERED
                           : x->blocked                       ? METRICS_BLOCKED
                           : res == CURLE_OPERATION_TIMEDOUT  ? METRICS_TIMEOUT
                           : res != CURLE_OK ? METRICS_NETWORK_ERROR
                                             : METRICS_HTTP_ERROR);
  if (ok) {
    a->state = 1;
    x->rec.error[0] = '\0';
  } else {
    if (x->blocked)
      snprintf(x->rec.error, sizeof x->rec.error,
               "the webhook's address is private or loopback, which this "
               "server does not allow (--deny-private-webhooks)");
    else if (res == CURLE_SEND_FAIL_REWIND) /* dispatch__read */
      snprintf(x->rec.error, sizeof x->rec.error,
               "the connection closed before an answer");
    else if (res != CURLE_OK)
      snprintf(x->rec.error, sizeof x->rec.error, "%s",
               curl_easy_strerror(res));
    else if (code >= 300 && code < 400)
      snprintf(x->rec.error, sizeof x->rec.error,
               "HTTP %ld: redirects are not followed", code);
    else
      snprintf(x->rec.error, sizeof x->rec.error, "HTTP %ld", code);
    int64_t delay = bink_webhook_backoff_ms(x->attempts, dispatch__unit());
    if ((code == 429 || code == 503) && x->huge_retry_after)
      retry_after = DISPATCH__RETRY_AFTER_MAX;
    if ((code == 429 || code == 503) && retry_after > 0)
      delay = (int64_t)(retry_after > DISPATCH__RETRY_AFTER_MAX
                            ? DISPATCH__RETRY_AFTER_MAX
                            : retry_after) *
              1000;
    bool too_old = a->now - x->created_at >= d->cfg->event_retention;
    a->state = too_old ? 2 : 0;
    a->next_at_ms = now_ms + delay;
  }
  binkd_log(ok ? BINKD_LOG_DEBUG : BINKD_LOG_INFO,
            "webhook: bot %lld update %lld attempt %d: %s (%d ms)",
            (long long)x->bot_id, (long long)x->update_id, x->attempts,
            ok ? "delivered" : x->rec.error, a->latency_ms);
}

static bink_rc dispatch__record_fn(store_conn *c, void *arg, bink_err *err) {
  dispatch__xfer *x = arg;
  return svc_attempt_record_job(c, &x->rec, err);
}

static void dispatch__expire_done(store_job *job) {
  free(job->arg);
  free(job);
}

static void dispatch__expire(ev_dispatcher *d) {
  store_job *job = calloc(1, sizeof *job);
  int64_t *cutoff = malloc(sizeof *cutoff);
  if (!job || !cutoff) {
    free(job);
    free(cutoff);
    return;
  }
  *cutoff = (int64_t)time(NULL) - d->cfg->event_retention;
  job->fn = svc_events_expire_job;
  job->arg = cutoff;
  job->done = dispatch__expire_done;
  if (store_submit(d->st, job) != BINK_OK)
    dispatch__expire_done(job);
}

/* Frees transfers whose outcome has been committed. */
static void dispatch__reap(ev_dispatcher *d) {
  pthread_mutex_lock(&d->done_lock);
  dispatch__xfer **pp = &d->xfers;
  while (*pp) {
    dispatch__xfer *x = *pp;
    if (x->state == XFER_RECORDED) {
      *pp = x->next;
      dispatch__free(x);
    } else {
      pp = &x->next;
    }
  }
  pthread_mutex_unlock(&d->done_lock);
}

/* Counts the outbox's pending rows for /metrics (this thread's reader). */
static void dispatch__count(ev_dispatcher *d) {
  int64_t n = -1;
  store_conn *c = store_reader(d->st);
  if (c && store_read_begin(c) == BINK_OK) {
    if (store_events_pending_total(c, &n) != BINK_OK)
      n = -1;
    store_read_end(c);
  }
  atomic_store(&d->pending, n);
}

static void *dispatch__main(void *arg) {
  ev_dispatcher *d = arg;
  int64_t last_scan = 0, last_expire = 0, last_count = 0;
  while (!atomic_load(&d->stop)) {
    dispatch__reap(d);
    int64_t now = dispatch__now_ms();
    if (atomic_exchange(&d->scan, false) ||
        now - last_scan >= DISPATCH__SCAN_MS) {
      last_scan = now;
      /* A claimed head is leased past the longest attempt, so that no
       * other node sends it meanwhile (store.h); the outcome's record
       * ends the lease, a dead node's lease runs out. */
      store_conn *c = store_reader(d->st);
      int64_t lease_ms = (int64_t)d->cfg->webhook_timeout * 1000 +
                         DISPATCH__LEASE_MARGIN_MS;
      if (c)
        store_deliveries_due(c, now, lease_ms, DISPATCH__SCAN_BATCH,
                             dispatch__start, d);
    }
    if (now - last_expire >= DISPATCH__EXPIRE_S * 1000) {
      last_expire = now;
      dispatch__expire(d);
    }
    if (now - last_count >= DISPATCH__COUNT_MS &&
        now - atomic_load(&d->wanted_at) < DISPATCH__COUNT_WANTED_MS) {
      last_count = now;
      dispatch__count(d);
    }
    int running = 0;
    curl_multi_perform(d->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(d->multi, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      dispatch__xfer *x = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
      CURLcode res = msg->data.result;
      dispatch__finish(d, x, res);
      x->job.fn = dispatch__record_fn;
      x->job.arg = x;
      x->job.done = dispatch__recorded;
      if (store_submit(d->st, &x->job) != BINK_OK) {
        /* Shutting down: forget it; it is retried after the next start. */
        pthread_mutex_lock(&d->done_lock);
        x->state = XFER_RECORDED;
        pthread_mutex_unlock(&d->done_lock);
      }
    }
    curl_multi_poll(d->multi, NULL, 0, DISPATCH__SCAN_MS, NULL);
  }
  return NULL;
}

bink_rc ev_dispatcher_start(store *st, const binkd_config *cfg,
                            ev_dispatcher **out, bink_err *err) {
  *out = NULL;
  ev_dispatcher *d = calloc(1, sizeof *d);
  if (!d)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  d->st = st;
  d->cfg = cfg;
  snprintf(d->user_agent, sizeof d->user_agent, "binkd/%s", BINK_VERSION);
  pthread_mutex_init(&d->done_lock, NULL);
  atomic_init(&d->stop, false);
  atomic_init(&d->scan, true);
  atomic_init(&d->running, 0);
  atomic_init(&d->pending, -1);
  atomic_init(&d->wanted_at, 0);
  d->multi = curl_multi_init();
  if (!d->multi ||
      pthread_create(&d->thread, NULL, dispatch__main, d) != 0) {
    if (d->multi)
      curl_multi_cleanup(d->multi);
    pthread_mutex_destroy(&d->done_lock);
    free(d);
    return bink_fail(err, BINK_EINTERNAL, "cannot start the webhook dispatcher");
  }
  *out = d;
  return BINK_OK;
}

int ev_dispatcher_running(ev_dispatcher *d) {
  return d ? atomic_load(&d->running) : 0;
}

int64_t ev_dispatcher_outbox_pending(ev_dispatcher *d) {
  if (!d)
    return -1;
  if (atomic_exchange(&d->wanted_at, dispatch__now_ms()) == 0)
    curl_multi_wakeup(d->multi); /* the first ask: count now */
  return atomic_load(&d->pending);
}

void ev_dispatcher_wake(ev_dispatcher *d) {
  if (!d)
    return;
  atomic_store(&d->scan, true);
  curl_multi_wakeup(d->multi);
}

void ev_dispatcher_stop(ev_dispatcher *d) {
  if (!d)
    return;
  atomic_store(&d->stop, true);
  curl_multi_wakeup(d->multi);
  pthread_join(d->thread, NULL);
  /* Outcomes still being committed call back into d: wait for them (the
   * writer is still running; it stops after this). */
  for (int i = 0; i < 5000; i++) {
    bool recording = false;
    pthread_mutex_lock(&d->done_lock);
    for (dispatch__xfer *x = d->xfers; x; x = x->next)
      recording |= x->state == XFER_RECORDING;
    pthread_mutex_unlock(&d->done_lock);
    if (!recording)
      break;
    struct timespec ms = {0, 1000 * 1000};
    nanosleep(&ms, NULL);
  }
  while (d->xfers) {
    dispatch__xfer *x = d->xfers;
    d->xfers = x->next;
    dispatch__free(x);
  }
  curl_multi_cleanup(d->multi);
  pthread_mutex_destroy(&d->done_lock);
  free(d);
}
