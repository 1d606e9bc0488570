/*
 * ratelimit.h: a token bucket per caller (bot-api.md, 429 "rate limited").
 * Each caller may make `per_second` requests a second on average and bursts
 * of twice that; the state lives in memory (one node per caller seen).
 * Thread-safe: callers are spread over independently locked shards.
 */
#ifndef BINK_HTTP_RATELIMIT_H
#define BINK_HTTP_RATELIMIT_H

#include <stdint.h>

typedef struct http_ratelimit http_ratelimit;

/* A limiter of per_second requests a second per caller; NULL when
 * per_second is 0 (no limit) or memory runs out. */
http_ratelimit *http_ratelimit_new(int per_second);

/* Frees the limiter and every caller's bucket. NULL is allowed. */
void http_ratelimit_free(http_ratelimit *rl);

/* Takes one request from the bucket of caller `key` at time `now`
 * (monotonic seconds). Returns 0 when the request may go on, else the
 * whole seconds (>= 1) after which it would be allowed. */
int http_ratelimit_take(http_ratelimit *rl, int64_t key, double now);

#endif
