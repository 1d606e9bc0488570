/*
 * admin.h: binkd's operator commands (server.md).
 */
#ifndef BINKD_ADMIN_H
#define BINKD_ADMIN_H

#include "config.h"
#include "core/rules.h"
#include "store/store.h"

/* Runs `binkd user add USERNAME [--display-name NAME]` or `binkd bot add
 * USERNAME --owner USERNAME [--display-name NAME] [--webhook URL]` from
 * cfg->args: prints the new token on stdout (and nothing else there).
 * Also `binkd stickers import DIR [--set NAME]` (svc/files.h).
 * Returns the process exit status: 0, 1 on a refusal, 2 on usage errors. */
int admin_run(const binkd_config *cfg, store *st, const bink_limits *limits);

/* `binkd migrate --from sqlite:PATH --to postgresql://…` (store/migrate.h):
 * copies the SQLite database into an empty PostgreSQL database, one line
 * per table ("accounts 12 rows") on stdout. Needs no open store (main runs
 * it before opening the default one). Returns the process exit status: 0,
 * 1 on a failure (the reason on stderr), 2 on usage errors. */
int admin_migrate(const binkd_config *cfg);

/* --demo: creates once the user alice, her bot demo_bot and the public
 * group Demo holding both, keeps their tokens in <data>/demo.json (mode
 * 0600, as tokens are stored only hashed) and prints them with base_url
 * and a curl example on stdout. Returns 0, or -1 with the cause logged. */
int admin_demo(const binkd_config *cfg, store *st, const bink_limits *limits,
               const char *base_url);

#endif
