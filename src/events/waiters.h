/*
 * waiters.h: requests parked until something commits (long polls of
 * getupdates, clickbutton's wait for an answer) or their deadline passes.
 *
 * A parked request holds no thread: it is suspended in libmicrohttpd
 * (http_suspend) and resumed exactly once, by a commit that touches its key
 * (ev_waiters_wake, called from the store's commit hook), by its deadline
 * (a timer thread of this module), by a newer exclusive waiter on the same
 * key (a second getupdates of the same bot), or by shutdown.
 *
 * Lost wake-ups are avoided with per-key generations: read the generation,
 * look in the database, and park only if the generation did not move in
 * between (ev_waiters_park returns BINK_OK to say "look again").
 */
#ifndef BINK_EVENTS_WAITERS_H
#define BINK_EVENTS_WAITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

typedef struct ev_waiters ev_waiters;

typedef enum ev_wake {
  EV_WAKE_NONE = 0,
  EV_WAKE_EVENT,      /* the key was touched by a commit */
  EV_WAKE_TIMEOUT,    /* the deadline passed */
  EV_WAKE_SUPERSEDED, /* a newer exclusive waiter took the key */
  EV_WAKE_SHUTDOWN    /* the server is stopping */
} ev_wake;

/* One parked request; lives in the request's memory (http_alloc). */
typedef struct ev_waiter {
  uint64_t key;
  double deadline;        /* CLOCK_MONOTONIC seconds */
  bool exclusive;
  http_req *req;
  http_handler cont;
  ev_wake reason;         /* set before the request is resumed */
  /* For a response already streaming (SSE): how to suspend and resume its
   * connection instead of http_suspend/http_resume. */
  void (*suspend)(struct ev_waiter *wt);
  void (*resume)(struct ev_waiter *wt);
  void *arg;
  struct ev_waiter *prev, *next;
} ev_waiter;

/* Starts the timer thread. NULL when memory or threads run out. */
ev_waiters *ev_waiters_new(void);

/* Resumes every parked request with EV_WAKE_SHUTDOWN and refuses new ones;
 * safe to call twice. */
void ev_waiters_shutdown(ev_waiters *w);

/* Shuts down (if not yet), joins the timer thread, frees everything. */
void ev_waiters_free(ev_waiters *w);

/* The key's generation: read it before looking in the database. */
uint64_t ev_waiters_generation(ev_waiters *w, uint64_t key);

/* Parks r under key until woken (see above); `cont` then runs with
 * wt->reason set. Returns BINK_AGAIN when parked, BINK_OK when the key's
 * generation is no longer `gen` (look again at once), BINK_EUNAVAIL when
 * shutting down. wt must live as long as the request. */
bink_rc ev_waiters_park(ev_waiters *w, ev_waiter *wt, uint64_t gen,
                        http_handler cont);

/* Wakes every request parked under one of keys and moves their
 * generations (any thread; the store's commit hook). */
void ev_waiters_wake(ev_waiters *w, const uint64_t *keys, size_t n);

/* Ends every request parked under key with EV_WAKE_SUPERSEDED (a newer
 * getupdates of the same bot arrived). */
void ev_waiters_kick(ev_waiters *w, uint64_t key);
/* How many requests are parked now (long polls and clickbutton waits), not
 * counting event streams between events (any thread; 0 for NULL). */
size_t ev_waiters_parked_requests(ev_waiters *w);

/* Wakes every parked waiter as if its key had fired (STORE_WAKE_ALL). */
void ev_waiters_wake_all(ev_waiters *w);

/* The monotonic clock in seconds, as deadlines use it. */
double ev_now(void);

/* What a long poll (getupdates, getevents) does after one look at the
 * database: answer with what it found, fail with 503, or park. */
typedef enum ev_poll_next {
  EV_POLL_ANSWER, /* something found, the deadline passed, or shutdown */
  EV_POLL_FAIL,   /* the look failed and waiting on would not help */
  EV_POLL_PARK    /* park wt (its deadline is set) and look again */
} ev_poll_next;

/* The rule both long polls share: a poll that has parked once and whose
 * look failed (the database away: PostgreSQL restarting) waits on and looks
 * again every EV_POLL_RETRY_S until its deadline (seconds, ev_now()), and
 * answers 503 only when its first or its last look fails. looked: the look
 * succeeded; found: it found something to answer with. *parked is the
 * poll's own flag (false at first); wt->reason is read (shutdown) and, for
 * EV_POLL_PARK, wt->deadline set. */
#define EV_POLL_RETRY_S 0.5
ev_poll_next ev_poll_after_look(ev_waiter *wt, bool *parked, double deadline,
                                bool looked, bool found);

#endif
