/* poll.c - the long-polling loop helper. */
#include <string.h>

#include "internal.h"

/* Tells the server that everything before offset was handled. The cancel
 * flag is ignored for this short call so that a stop does not make the
 * server send the handled events again. */
static void confirm(bink_client *c, int64_t offset) {
  const volatile sig_atomic_t *flag = c->cancel;
  bink_error saved = c->err;
  c->cancel = NULL;
  bink_event_list l;
  if (bink_get_updates(c, offset, 1, 0, NULL, 0, &l) == BINK_OK)
    bink_event_list_clear(&l);
  c->cancel = flag;
  c->err = saved;
}

/* A failure that a server restart or a network blip explains: no HTTP
 * exchange at all, a connection closed without an answer, or 502/503/504
 * ("the server is shutting down", a proxy without its upstream). */
static int retryable(const bink_client *c, bink_status st) {
  if (st == BINK_E_TRANSPORT)
    return 1;
  if (st == BINK_E_PROTOCOL && c->conn_lost)
    return 1; /* empty reply: the server closed the connection */
  if (st == BINK_E_API)
    return c->err.code == 502 || c->err.code == 503 || c->err.code == 504;
  return 0;
}

bink_status bink_poll(bink_client *c, const bink_poll_options *opts, bink_event_fn fn, void *user,
                      int64_t *next_offset) {
  if (!c)
    return BINK_E_INVALID;
  if (!fn)
    return bink__fail(c, BINK_E_INVALID, 0, "a callback is required");
  bink_poll_options o;
  memset(&o, 0, sizeof o);
  if (opts)
    o = *opts;
  if (o.timeout_s <= 0)
    o.timeout_s = 30;
  if (o.limit <= 0)
    o.limit = 100;
  int64_t offset = o.offset;      /* next update to ask for */
  int64_t confirmed = o.offset;   /* what the server was last told */
  int failures = 0;
  bink_status st = BINK_OK;
  int stop = 0;
  while (!stop) {
    if (bink__cancelled(c)) {
      st = bink__fail(c, BINK_E_CANCELLED, 0, "cancelled");
      break;
    }
    bink_event_list l;
    st = bink_get_updates(c, offset, o.limit, o.timeout_s, o.allowed_events,
                          o.allowed_event_count, &l);
    if (retryable(c, st) && failures < o.max_transport_retries) {
      long wait = 1L << (failures < 5 ? failures : 5);
      failures++;
      if (c->err.retry_after > wait)
        wait = (long)c->err.retry_after;
      st = bink__sleep(c, wait > 30 ? 30 : wait);
      if (st != BINK_OK)
        break;
      continue;
    }
    if (st != BINK_OK)
      break;
    failures = 0;
    confirmed = offset;
    for (size_t i = 0; i < l.count; i++) {
      if (l.items[i].update_id >= offset)
        offset = l.items[i].update_id + 1;
      if (fn(c, &l.items[i], user) != 0) {
        stop = 1;
        break;
      }
    }
    bink_event_list_clear(&l);
  }
  if (offset > confirmed)
    confirm(c, offset);
  if (next_offset)
    *next_offset = offset;
  if (stop) {
    bink__ok(c);
    return BINK_OK;
  }
  return st;
}
