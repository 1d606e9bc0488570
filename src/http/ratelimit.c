#include "http/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#define RL__SHARDS 64
#define RL__BUCKETS 256 /* hash chains per shard */

typedef struct rl__node {
  struct rl__node *next;
  int64_t key;
  double tokens;
  double last; /* when tokens was computed */
} rl__node;

typedef struct rl__shard {
  pthread_mutex_t lock;
  rl__node *chains[RL__BUCKETS];
} rl__shard;

struct http_ratelimit {
  double rate;  /* tokens a second */
  double burst; /* bucket size */
  rl__shard shards[RL__SHARDS];
};

http_ratelimit *http_ratelimit_new(int per_second) {
  if (per_second <= 0)
    return NULL;
  http_ratelimit *rl = calloc(1, sizeof *rl);
  if (!rl)
    return NULL;
  rl->rate = per_second;
  rl->burst = 2.0 * per_second;
  for (int i = 0; i < RL__SHARDS; i++)
    pthread_mutex_init(&rl->shards[i].lock, NULL);
  return rl;
}

void http_ratelimit_free(http_ratelimit *rl) {
  if (!rl)
    return;
  for (int i = 0; i < RL__SHARDS; i++) {
    for (int b = 0; b < RL__BUCKETS; b++) {
      rl__node *n = rl->shards[i].chains[b];
      while (n) {
        rl__node *next = n->next;
        free(n);
        n = next;
      }
    }
    pthread_mutex_destroy(&rl->shards[i].lock);
  }
  free(rl);
}

int http_ratelimit_take(http_ratelimit *rl, int64_t key, double now) {
  uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
  rl__shard *s = &rl->shards[h >> 58];
  rl__node **chain = &s->chains[(h >> 40) % RL__BUCKETS];
  pthread_mutex_lock(&s->lock);
  rl__node *n = *chain;
  while (n && n->key != key)
    n = n->next;
  if (!n) {
    n = calloc(1, sizeof *n);
    if (!n) { /* no memory for the state: do not refuse the caller */
      pthread_mutex_unlock(&s->lock);
      return 0;
    }
    n->key = key;
    n->tokens = rl->burst;
    n->last = now;
    n->next = *chain;
    *chain = n;
  }
  n->tokens = fmin(rl->burst, n->tokens + (now - n->last) * rl->rate);
  n->last = now;
  int wait = 0;
  if (n->tokens >= 1.0)
    n->tokens -= 1.0;
  else
    wait = (int)ceil((1.0 - n->tokens) / rl->rate);
  pthread_mutex_unlock(&s->lock);
  return wait < 1 && n->tokens < 0 ? 1 : wait;
}
