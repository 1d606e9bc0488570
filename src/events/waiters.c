#include "events/waiters.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define WAITERS__BUCKETS 4096
#define WAITERS__TICK_NS (100 * 1000 * 1000) /* deadline resolution */

/* A key seen so far: its generation and the requests parked under it. */
typedef struct waiters__slot {
  uint64_t key;
  uint64_t generation;
  ev_waiter *head;
  struct waiters__slot *next;
} waiters__slot;

struct ev_waiters {
  pthread_mutex_t lock;
  pthread_cond_t tick;
  pthread_t timer;
  bool stopping;
  bool timer_started;
  size_t parked;
  size_t parked_streams; /* of them, event streams (wt->resume set) */
  waiters__slot *buckets[WAITERS__BUCKETS];
};

double ev_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The slot of key, created when create is set (NULL if memory runs out). */
static waiters__slot *waiters__slot_of(ev_waiters *w, uint64_t key,
                                       bool create) {
  size_t b = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 52) % WAITERS__BUCKETS;
  for (waiters__slot *s = w->buckets[b]; s; s = s->next)
    if (s->key == key)
      return s;
  if (!create)
    return NULL;
  waiters__slot *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->key = key;
  s->next = w->buckets[b];
  w->buckets[b] = s;
  return s;
}

static void waiters__unlink(ev_waiters *w, waiters__slot *s, ev_waiter *wt) {
  if (wt->prev)
    wt->prev->next = wt->next;
  else
    s->head = wt->next;
  if (wt->next)
    wt->next->prev = wt->prev;
  wt->prev = wt->next = NULL;
  w->parked--;
  w->parked_streams -= wt->resume != NULL;
}

/* Takes wt out and resumes its request (lock held). */
static void waiters__fire(ev_waiters *w, waiters__slot *s, ev_waiter *wt,
                          ev_wake why) {
  waiters__unlink(w, s, wt);
  wt->reason = why;
  if (wt->resume)
    wt->resume(wt);
  else
    http_resume(wt->req);
}

static void *waiters__timer_main(void *arg) {
  ev_waiters *w = arg;
  pthread_mutex_lock(&w->lock);
  while (!w->stopping) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += WAITERS__TICK_NS;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&w->tick, &w->lock, &until);
    if (w->stopping || w->parked == 0)
      continue;
    double now = ev_now();
    for (size_t b = 0; b < WAITERS__BUCKETS; b++)
      for (waiters__slot *s = w->buckets[b]; s; s = s->next) {
        ev_waiter *wt = s->head;
        while (wt) {
          ev_waiter *next = wt->next;
          if (wt->deadline <= now)
            waiters__fire(w, s, wt, EV_WAKE_TIMEOUT);
          wt = next;
        }
      }
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

ev_waiters *ev_waiters_new(void) {
  ev_waiters *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->tick, NULL);
  if (pthread_create(&w->timer, NULL, waiters__timer_main, w) != 0) {
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->tick);
    free(w);
    return NULL;
  }
  w->timer_started = true;
  return w;
}

void ev_waiters_shutdown(ev_waiters *w) {
  if (!w)
    return;
  pthread_mutex_lock(&w->lock);
  w->stopping = true;
  for (size_t b = 0; b < WAITERS__BUCKETS; b++)
    for (waiters__slot *s = w->buckets[b]; s; s = s->next)
      while (s->head)
        waiters__fire(w, s, s->head, EV_WAKE_SHUTDOWN);
  pthread_cond_broadcast(&w->tick);
  pthread_mutex_unlock(&w->lock);
}

void ev_waiters_free(ev_waiters *w) {
  if (!w)
    return;
  ev_waiters_shutdown(w);
  if (w->timer_started)
    pthread_join(w->timer, NULL);
  for (size_t b = 0; b < WAITERS__BUCKETS; b++) {
    waiters__slot *s = w->buckets[b];
    while (s) {
      waiters__slot *next = s->next;
      free(s);
      s = next;
    }
  }
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->tick);
  free(w);
}

uint64_t ev_waiters_generation(ev_waiters *w, uint64_t key) {
  pthread_mutex_lock(&w->lock);
  /* Created now, so that a commit before the caller parks moves it. */
  waiters__slot *s = waiters__slot_of(w, key, true);
  uint64_t g = s ? s->generation : UINT64_MAX;
  pthread_mutex_unlock(&w->lock);
  return g;
}

bink_rc ev_waiters_park(ev_waiters *w, ev_waiter *wt, uint64_t gen,
                        http_handler cont) {
  pthread_mutex_lock(&w->lock);
  if (w->stopping) {
    pthread_mutex_unlock(&w->lock);
    return BINK_EUNAVAIL;
  }
  waiters__slot *s = waiters__slot_of(w, wt->key, true);
  if (!s || s->generation != gen) {
    pthread_mutex_unlock(&w->lock);
    return BINK_OK; /* something committed since the caller looked */
  }
  if (wt->exclusive)
    while (s->head)
      waiters__fire(w, s, s->head, EV_WAKE_SUPERSEDED);
  wt->reason = EV_WAKE_NONE;
  wt->prev = NULL;
  wt->next = s->head;
  if (s->head)
    s->head->prev = wt;
  s->head = wt;
  w->parked++;
  w->parked_streams += wt->resume != NULL;
  /* Suspend under the lock: a wake-up cannot resume it before this. */
  if (wt->suspend)
    wt->suspend(wt);
  else
    http_suspend(wt->req, cont);
  pthread_mutex_unlock(&w->lock);
  return BINK_AGAIN;
}

void ev_waiters_wake(ev_waiters *w, const uint64_t *keys, size_t n) {
  pthread_mutex_lock(&w->lock);
  for (size_t i = 0; i < n; i++) {
    waiters__slot *s = waiters__slot_of(w, keys[i], false);
    if (!s)
      continue; /* nobody ever looked at it: no generation to move */
    s->generation++;
    while (s->head)
      waiters__fire(w, s, s->head, EV_WAKE_EVENT);
  }
  pthread_mutex_unlock(&w->lock);
}

void ev_waiters_wake_all(ev_waiters *w) {
  pthread_mutex_lock(&w->lock);
  for (size_t b = 0; b < WAITERS__BUCKETS; b++)
    for (waiters__slot *s = w->buckets[b]; s; s = s->next) {
      s->generation++;
      while (s->head)
        waiters__fire(w, s, s->head, EV_WAKE_EVENT);
    }
  pthread_mutex_unlock(&w->lock);
}

void ev_waiters_kick(ev_waiters *w, uint64_t key) {
  pthread_mutex_lock(&w->lock);
  waiters__slot *s = waiters__slot_of(w, key, false);
  while (s && s->head)
    waiters__fire(w, s, s->head, EV_WAKE_SUPERSEDED);
  pthread_mutex_unlock(&w->lock);
}

size_t ev_waiters_parked_requests(ev_waiters *w) {
  if (!w)
    return 0;
  pthread_mutex_lock(&w->lock);
  size_t n = w->parked - w->parked_streams;
  pthread_mutex_unlock(&w->lock);
  return n;
}

ev_poll_next ev_poll_after_look(ev_waiter *wt, bool *parked, double deadline,
                                bool looked, bool found) {
  double now = ev_now();
  bool ending = now >= deadline || wt->reason == EV_WAKE_SHUTDOWN;
  if (!looked) {
    if (!*parked || ending)
      return EV_POLL_FAIL;
    double retry = now + EV_POLL_RETRY_S;
    wt->deadline = retry < deadline ? retry : deadline;
    return EV_POLL_PARK;
  }
  if (found || ending)
    return EV_POLL_ANSWER;
  *parked = true;
  wt->deadline = deadline;
  return EV_POLL_PARK;
}
