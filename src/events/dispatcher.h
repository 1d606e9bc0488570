/*
 * dispatcher.h: the webhook dispatcher (events.md "Webhook delivery").
 *
 * One thread owns a libcurl multi handle. It takes due events from the
 * outbox (the oldest pending event of each chat whose next attempt is due),
 * POSTs them with the Standard Webhooks headers and signature, and records
 * each outcome through the store's writer: delivered on any 2xx, otherwise
 * a retry after an exponential back-off with jitter (or the receiver's
 * Retry-After), dead-lettered once the event is older than
 * --event-retention. Per chat, the next event waits for the previous one to
 * settle; per bot, at most max_connections requests run at once; an event
 * is never attempted twice at the same time. Delivery state lives in the
 * database, so a restart (even kill -9) resumes where it stopped; a
 * receiver that answered 2xx just before a crash sees the event again
 * (at-least-once, same webhook-id).
 */
#ifndef BINK_EVENTS_DISPATCHER_H
#define BINK_EVENTS_DISPATCHER_H

#include "config.h"
#include "core/result.h"
#include "store/store.h"

typedef struct ev_dispatcher ev_dispatcher;

/* Starts the dispatcher thread. curl_global_init must have run. */
bink_rc ev_dispatcher_start(store *st, const binkd_config *cfg,
                            ev_dispatcher **out, bink_err *err);

/* Asks the dispatcher to look at the outbox now (any thread). */
void ev_dispatcher_wake(ev_dispatcher *d);

/* Webhook requests under way now (any thread; 0 for NULL). */
int ev_dispatcher_running(ev_dispatcher *d);

/* The outbox's pending rows (every bot's, every node's) as the dispatcher
 * thread last counted them, or -1 before the first count or when the
 * database did not answer it. The thread counts every 5 s while this is
 * called (so that /metrics never counts on a request's thread: the count
 * grows with the outbox), and stops a minute after the last call. */
int64_t ev_dispatcher_outbox_pending(ev_dispatcher *d);

/* Stops the thread: attempts in flight are abandoned unrecorded (they run
 * again after the next start) and everything is freed. NULL is allowed. */
void ev_dispatcher_stop(ev_dispatcher *d);

#endif
