/*
 * authcache.h: a small in-memory cache of token digest -> account, so that
 * a bot hammering the API does not cost a database read per request.
 *
 * An entry lives at most `ttl_ms` milliseconds and is dropped at once, on
 * this node, when any account changes (authcache_invalidate(), called from
 * the store's commit hook): a revoked token stops working immediately here.
 * Nodes sharing a database (PostgreSQL) see a revocation within ttl_ms.
 * Direct-mapped slots, each with its own lock; thread-safe.
 */
#ifndef BINK_HTTP_AUTHCACHE_H
#define BINK_HTTP_AUTHCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"

typedef struct authcache authcache;

/* A cache of `slots` entries (rounded up to a power of two) that keeps an
 * entry ttl_ms milliseconds. NULL when memory runs out. */
authcache *authcache_new(unsigned slots, unsigned ttl_ms);
void authcache_free(authcache *c);

/* Copies the account of digest into out and returns true when cached and
 * fresh. */
bool authcache_get(authcache *c, const unsigned char digest[BINK_SHA256_LEN],
                   bink_account *out);
/* The current generation: read it before reading the account from the
 * database and pass it to authcache_put, so that an account read before
 * an invalidation is never cached after it. */
uint64_t authcache_generation(authcache *c);
void authcache_put(authcache *c, const unsigned char digest[BINK_SHA256_LEN],
                   const bink_account *a, uint64_t generation);

/* Forgets every entry (an account or token changed). */
void authcache_invalidate(authcache *c);

#endif
