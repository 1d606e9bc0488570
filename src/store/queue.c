/*
 * queue.c: the write-job queue of queue.h, shared by store_sqlite.c and
 * store_pg.c.
 */
#include "store/queue.h"

#include <string.h>
#include <time.h>

#include "metrics.h"

void store_queue_init(store_queue *q) {
  memset(q, 0, sizeof *q);
  atomic_init(&q->depth, 0);
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cv, NULL);
}

void store_queue_destroy(store_queue *q) {
  pthread_mutex_destroy(&q->lock);
  pthread_cond_destroy(&q->cv);
}

bink_rc store_queue_submit(store_queue *q, store_job *job) {
  job->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->stopping) {
    pthread_mutex_unlock(&q->lock);
    return bink_fail(&job->err, BINK_EUNAVAIL, "the server is shutting down");
  }
  if (q->tail)
    q->tail->next = job;
  else
    q->head = job;
  q->tail = job;
  atomic_fetch_add_explicit(&q->depth, 1, memory_order_relaxed);
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->lock);
  return BINK_OK;
}

store_job *store_queue_take(store_queue *q, int max, int idle_s, bool *idle) {
  if (idle)
    *idle = false;
  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->stopping) {
    if (idle_s <= 0) {
      pthread_cond_wait(&q->cv, &q->lock);
      continue;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += idle_s;
    if (pthread_cond_timedwait(&q->cv, &q->lock, &until) != 0 && !q->head &&
        !q->stopping) {
      pthread_mutex_unlock(&q->lock);
      if (idle)
        *idle = true;
      return NULL;
    }
  }
  store_job *batch = q->head, *last = batch;
  if (batch) {
    int n = 1;
    for (; n < max && last->next; n++)
      last = last->next;
    atomic_fetch_sub_explicit(&q->depth, n, memory_order_relaxed);
    q->head = last->next;
    if (!q->head)
      q->tail = NULL;
    last->next = NULL;
  }
  pthread_mutex_unlock(&q->lock);
  return batch;
}

void store_queue_finish(store_job *batch) {
  uint64_t produced = 0;
  for (store_job *j = batch; j; j = j->next)
    produced += j->rc == BINK_OK ? j->events : 0;
  if (produced)
    metrics_events_produced(produced);
  while (batch) {
    store_job *next = batch->next;
    batch->next = NULL;
    batch->done(batch); /* may free or reuse the job */
    batch = next;
  }
}

long store_queue_depth(store_queue *q) {
  return atomic_load_explicit(&q->depth, memory_order_relaxed);
}

void store_queue_stop(store_queue *q) {
  pthread_mutex_lock(&q->lock);
  q->stopping = true;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->lock);
}

typedef struct queue__sync {
  store_job job;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool done;
} queue__sync;

static void queue__sync_done(store_job *job) {
  queue__sync *w = (queue__sync *)job;
  pthread_mutex_lock(&w->lock);
  w->done = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->lock);
}

bink_rc store_queue_write(store_queue *q, store_job_fn fn, void *arg,
                          bink_err *err) {
  queue__sync w;
  memset(&w, 0, sizeof w);
  w.job.fn = fn;
  w.job.arg = arg;
  w.job.done = queue__sync_done;
  pthread_mutex_init(&w.lock, NULL);
  pthread_cond_init(&w.cv, NULL);
  bink_rc rc = store_queue_submit(q, &w.job);
  if (rc == BINK_OK) {
    pthread_mutex_lock(&w.lock);
    while (!w.done)
      pthread_cond_wait(&w.cv, &w.lock);
    pthread_mutex_unlock(&w.lock);
    rc = w.job.rc;
  }
  if (rc != BINK_OK && err)
    *err = w.job.err;
  pthread_mutex_destroy(&w.lock);
  pthread_cond_destroy(&w.cv);
  return rc;
}
