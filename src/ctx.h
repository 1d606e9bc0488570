/*
 * ctx.h: the server-wide state every handler reaches through r->ctx.
 * Created by main() before the HTTP server starts and destroyed after it
 * stops; read-only while requests run (the store is thread-safe).
 */
#ifndef BINKD_CTX_H
#define BINKD_CTX_H

#include "config.h"
#include "core/rules.h"
#include "store/store.h"

typedef struct binkd_ctx {
  const binkd_config *cfg;
  store *st;
  bink_limits limits;
} binkd_ctx;

#endif
