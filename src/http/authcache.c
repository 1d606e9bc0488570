#include "http/authcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct authcache__slot {
  pthread_mutex_t lock;
  bool used;
  uint64_t generation;
  int64_t expires_ms;
  unsigned char digest[BINK_SHA256_LEN];
  bink_account account;
} authcache__slot;

struct authcache {
  unsigned mask;
  unsigned ttl_ms;
  atomic_uint_fast64_t generation;
  authcache__slot *slots;
};

static int64_t authcache__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

authcache *authcache_new(unsigned slots, unsigned ttl_ms) {
  unsigned n = 1;
  while (n < slots)
    n <<= 1;
  authcache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->slots = calloc(n, sizeof *c->slots);
  if (!c->slots) {
    free(c);
    return NULL;
  }
  c->mask = n - 1;
  c->ttl_ms = ttl_ms;
  atomic_init(&c->generation, 1);
  for (unsigned i = 0; i < n; i++)
    pthread_mutex_init(&c->slots[i].lock, NULL);
  return c;
}

void authcache_free(authcache *c) {
  if (!c)
    return;
  for (unsigned i = 0; i <= c->mask; i++)
    pthread_mutex_destroy(&c->slots[i].lock);
  free(c->slots);
  free(c);
}

static authcache__slot *authcache__slot_of(authcache *c,
                                           const unsigned char *digest) {
  unsigned h;
  memcpy(&h, digest, sizeof h); /* a digest's bytes are already uniform */
  return &c->slots[h & c->mask];
}

bool authcache_get(authcache *c, const unsigned char digest[BINK_SHA256_LEN],
                   bink_account *out) {
  authcache__slot *s = authcache__slot_of(c, digest);
  bool hit = false;
  pthread_mutex_lock(&s->lock);
  if (s->used && s->generation == atomic_load(&c->generation) &&
      s->expires_ms > authcache__now_ms() &&
      bink_digest_equal(s->digest, digest)) {
    *out = s->account;
    hit = true;
  }
  pthread_mutex_unlock(&s->lock);
  return hit;
}

uint64_t authcache_generation(authcache *c) {
  return atomic_load(&c->generation);
}

void authcache_put(authcache *c, const unsigned char digest[BINK_SHA256_LEN],
                   const bink_account *a, uint64_t generation) {
  authcache__slot *s = authcache__slot_of(c, digest);
  pthread_mutex_lock(&s->lock);
  s->used = true;
  s->generation = generation;
  s->expires_ms = authcache__now_ms() + c->ttl_ms;
  memcpy(s->digest, digest, BINK_SHA256_LEN);
  s->account = *a;
  pthread_mutex_unlock(&s->lock);
}

void authcache_invalidate(authcache *c) {
  if (c)
    atomic_fetch_add(&c->generation, 1);
}
