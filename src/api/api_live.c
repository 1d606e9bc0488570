/*
 * api_live.c: live updates for people (app-api.md): GET /app/events as
 * Server-Sent Events and POST /app/getevents by long polling. Both read the
 * feed rows the user may see; a waiting stream or poll holds no thread (its
 * connection is suspended in the waiters until a commit concerns the user,
 * or the next heartbeat is due).
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "ctx.h"
#include "core/session.h"
#include "events/waiters.h"
#include "http/session.h"
#include "metrics.h"

#define LIVE__HEARTBEAT_S 15.0 /* comment lines so dead peers are noticed */
#define LIVE__BATCH 100
#define LIVE__BLOCK 256 /* see api_app_events */

/* ---- SSE ---- */

typedef struct live__stream {
  binkd_ctx *ctx;
  struct MHD_Connection *conn;
  int64_t user_id;
  int64_t last_id;
  char *buf;
  size_t len, off, cap;
  bool failed;
  bool counted; /* in the open-streams gauge (metrics.h) */
  double next_ping;
  ev_waiter wt;
  bool by_session;            /* opened with the web session cookie: */
  unsigned char session[BINK_SHA256_LEN]; /* ends when it does */
} live__stream;

static void live__append(live__stream *s, const char *p, size_t n) {
  if (s->failed)
    return;
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 512;
    while (cap < s->len + n)
      cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) {
      s->failed = true;
      return;
    }
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, p, n);
  s->len += n;
}

/* One SSE message: "id: N", "event: NAME", "data: JSON" (the JSON has no
 * raw newlines: jansson escapes them). */
static void live__frame(void *arg, int64_t id, const char *event,
                        const char *data) {
  live__stream *s = arg;
  char head[96];
  int n = snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ",
                   (long long)id, event ? event : "");
  live__append(s, head, (size_t)n);
  live__append(s, data ? data : "null", strlen(data ? data : "null"));
  live__append(s, "\n\n", 2);
  s->last_id = id;
}

static void live__suspend(ev_waiter *wt) {
  live__stream *s = wt->arg;
  MHD_suspend_connection(s->conn);
}

static void live__resume(ev_waiter *wt) {
  live__stream *s = wt->arg;
  MHD_resume_connection(s->conn);
}

static ssize_t live__read(void *cls, uint64_t pos, char *out, size_t max) {
  live__stream *s = cls;
  for (;;) {
    if (s->off < s->len) {
      size_t n = s->len - s->off < max ? s->len - s->off : max;
      memcpy(out, s->buf + s->off, n);
      s->off += n;
      if (s->off == s->len) {
        /* All out: an idle stream keeps no buffer (thousands of them may
         * be open; the next batch or heartbeat allocates again). */
        free(s->buf);
        s->buf = NULL;
        s->off = s->len = s->cap = 0;
      }
      return (ssize_t)n;
    }
    if (s->failed || s->wt.reason == EV_WAKE_SHUTDOWN)
      return MHD_CONTENT_READER_END_OF_STREAM;
    uint64_t key = STORE_WAKE_USER(s->user_id);
    uint64_t gen = ev_waiters_generation(s->ctx->waiters, key);
    store_conn *c = store_reader(s->ctx->st);
    bink_rc rc = c ? store_read_begin(c) : BINK_EUNAVAIL;
    if (rc == BINK_OK && s->by_session) { /* signed out: the stream ends */
      bink_account who;
      rc = store_session_account(c, s->session, (int64_t)time(NULL), &who);
      if (rc == BINK_ENOTFOUND) {
        store_read_end(c);
        return MHD_CONTENT_READER_END_OF_STREAM;
      }
    }
    if (rc == BINK_OK)
      rc = store_feed_read(c, s->user_id, s->last_id, LIVE__BATCH,
                           live__frame, s);
    if (c)
      store_read_end(c);
    /* The database away (PostgreSQL restarting): the stream stays open,
     * keeps its heartbeat and looks again shortly (rows are read by id, so
     * nothing is skipped). */
    bool retry = rc != BINK_OK;
    if (s->len)
      continue;
    double now = ev_now();
    if (now >= s->next_ping) {
      s->next_ping = now + LIVE__HEARTBEAT_S;
      live__append(s, ": ping\n\n", 8);
      continue;
    }
    s->wt.key = key;
    s->wt.deadline = retry && now + EV_POLL_RETRY_S < s->next_ping
                         ? now + EV_POLL_RETRY_S
                         : s->next_ping;
    s->wt.exclusive = false;
    s->wt.suspend = live__suspend;
    s->wt.resume = live__resume;
    s->wt.arg = s;
    rc = ev_waiters_park(s->ctx->waiters, &s->wt, gen, NULL);
    if (rc == BINK_AGAIN)
      return 0; /* suspended: called again once resumed */
    if (rc != BINK_OK)
      return MHD_CONTENT_READER_END_OF_STREAM;
  }
}

static void live__free(void *cls) {
  live__stream *s = cls;
  if (s->counted)
    metrics_streams_add(-1);
  free(s->buf);
  free(s);
}

static bool live__parse_id(const char *v, int64_t *out) {
  if (!v || !*v)
    return false;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (*end || n < 0)
    return false;
  *out = n;
  return true;
}

bink_rc api_app_events(http_req *r) {
  live__stream *s = calloc(1, sizeof *s);
  if (!s)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  s->ctx = r->ctx;
  s->conn = http_connection(r);
  s->user_id = r->caller.id;
  s->next_ping = ev_now() + LIVE__HEARTBEAT_S;
  const char *cookie = http_session_cookie(r);
  if (cookie && !http_header(r, MHD_HTTP_HEADER_AUTHORIZATION)) {
    s->by_session = true;
    bink_session_digest(cookie, strlen(cookie), s->session);
  }
  const char *last = http_header(r, "Last-Event-ID");
  if (!last) /* a new EventSource cannot set the header (docs/web.md) */
    last = MHD_lookup_connection_value(s->conn, MHD_GET_ARGUMENT_KIND,
                                       "last_event_id");
  /* A new stream starts now: only what happens from here on. A resumed
   * one goes on after its last id, but never after the newest row (an id
   * from another database, or made up, would leave it silent). */
  int64_t newest = 0;
  store_conn *c = store_reader(r->ctx->st);
  if (!c || store_feed_last(c, &newest) != BINK_OK) {
    free(s);
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  }
  if (!live__parse_id(last, &s->last_id) || s->last_id > newest)
    s->last_id = newest;
  live__append(s, "retry: 2000\n\n", 13);
  /* The block size is the response's own buffer, which libmicrohttpd uses
   * only for a reply without chunked encoding (HTTP/1.0 clients); with
   * chunks live__read writes straight into the connection's buffer. A
   * small one saves ~2 KiB per open stream. */
  struct MHD_Response *resp = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, LIVE__BLOCK, live__read, s, live__free);
  if (!resp) {
    live__free(s);
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  }
  s->counted = true; /* from here on the response frees s (live__free) */
  metrics_streams_add(1);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "text/event-stream; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  /* The stream holds nothing of the request (live__stream has what it
   * needs): the layer sheds the request's state once the reply is out. */
  return http_reply_stream(r, 200, resp);
}

/* ---- getevents: the same by long polling ---- */

typedef struct live__poll {
  svc_ctx x;
  int64_t offset;
  double deadline;
  ev_waiter wt;
  bool parked; /* waited once: a failing look waits on */
} live__poll;

static void live__collect(void *arg, int64_t id, const char *event,
                          const char *data) {
  json_t *list = arg;
  json_t *d = data ? json_loads(data, 0, NULL) : NULL;
  json_array_append_new(list, json_pack("{s:I, s:s, s:o}", "id",
                                        (json_int_t)id, "event",
                                        event ? event : "", "data",
                                        d ? d : json_null()));
}

static bink_rc live__poll_look(http_req *r) {
  live__poll *p = r->state;
  uint64_t key = STORE_WAKE_USER(r->caller.id);
  for (;;) {
    uint64_t gen = ev_waiters_generation(r->ctx->waiters, key);
    json_t *list = json_array();
    if (!list)
      return http_fail(r, BINK_EINTERNAL, "out of memory");
    store_conn *c = store_reader(r->ctx->st);
    bink_rc rc = c ? store_read_begin(c) : BINK_EUNAVAIL;
    if (rc == BINK_OK) {
      rc = store_feed_read(c, r->caller.id, p->offset - 1, LIVE__BATCH,
                           live__collect, list);
      store_read_end(c);
    }
    switch (ev_poll_after_look(&p->wt, &p->parked, p->deadline,
                               rc == BINK_OK, json_array_size(list) > 0)) {
    case EV_POLL_FAIL:
      json_decref(list);
      return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
    case EV_POLL_ANSWER:
      return http_reply(r, json_pack("{s:o}", "events", list));
    case EV_POLL_PARK:
      break;
    }
    json_decref(list);
    p->wt.key = key;
    p->wt.req = r;
    rc = ev_waiters_park(r->ctx->waiters, &p->wt, gen, live__poll_look);
    if (rc == BINK_AGAIN)
      return rc;
    if (rc != BINK_OK)
      return http_reply(r, json_pack("{s:[]}", "events"));
  }
}

bink_rc api_app_getevents(http_req *r) {
  API_OP(live__poll, p);
  r->state = p;
  int64_t timeout = 0;
  API_TRY(http_param_int(r, "offset", false, NULL, &p->offset));
  API_TRY(http_param_int(r, "timeout", false, NULL, &timeout));
  if (p->offset < 0)
    return http_fail(r, BINK_EINVAL, "offset must be 0 or more");
  if (timeout < 0 || timeout > 50)
    return http_fail(r, BINK_EINVAL, "timeout must be 0..50 seconds");
  p->deadline = ev_now() + (double)timeout;
  return live__poll_look(r);
}
