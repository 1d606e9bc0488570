/*
 * queue.h: the queue of write jobs that both backends' writer threads
 * drain (store.h, "Concurrency model"). Not for use outside src/store/.
 *
 * store_queue_submit() appends a job; a writer thread takes what is queued
 * in batches with store_queue_take(). After store_queue_stop(), submit
 * refuses new jobs and take hands out what is left, then NULL.
 */
#ifndef BINK_STORE_QUEUE_H
#define BINK_STORE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store/store.h"

typedef struct store_queue {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  store_job *head, *tail;
  atomic_long depth; /* jobs queued, not yet taken (read without the lock) */
  bool stopping;
} store_queue;

void store_queue_init(store_queue *q);
/* The queue must be empty and no thread waiting in it. */
void store_queue_destroy(store_queue *q);

/* Appends job (job->next is the queue's from here on): BINK_OK, or
 * BINK_EUNAVAIL with job->err set once the queue is stopping (then job->done
 * is never called). */
bink_rc store_queue_submit(store_queue *q, store_job *job);

/* Waits for jobs and takes up to max of them, oldest first, as a list linked
 * through ->next (the last one's next is NULL). idle_s > 0: gives up after
 * that many seconds without a job and returns NULL with *idle set (idle may
 * be NULL when idle_s is 0). NULL with *idle false: stopped and empty. */
store_job *store_queue_take(store_queue *q, int max, int idle_s, bool *idle);

/* A batch has committed or failed (each job's rc says which): counts the
 * outbox events of the committed ones (metrics.h) and calls each job's done,
 * in order. A done may free or reuse its job. */
void store_queue_finish(store_job *batch);

/* How many jobs are queued and not yet taken (any thread, no lock). */
long store_queue_depth(store_queue *q);

/* Refuses new jobs and wakes every waiting writer. */
void store_queue_stop(store_queue *q);

/* Submits fn as a job and waits until a writer has run it and its batch has
 * committed or failed (store_write()). */
bink_rc store_queue_write(store_queue *q, store_job_fn fn, void *arg,
                          bink_err *err);

#endif
