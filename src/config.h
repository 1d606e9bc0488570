/*
 * config.h: binkd's command line, BINKD_* environment variables and config
 * file (server.md, "binkd — the server").
 *
 * Precedence: command line > environment > config file > default.
 * The environment variable of an option is BINKD_ + its long name in upper
 * case with '-' as '_' (BINKD_LISTEN, BINKD_MAX_UPLOAD_BYTES, ...). The
 * config file holds `key = value` lines named after the long options
 * (without "--"), '#' comments and blank lines; flags take true/false.
 * Durations are seconds, sizes bytes.
 */
#ifndef BINKD_CONFIG_H
#define BINKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BINKD_PATH_MAX 1024
#define BINKD_ARGS_MAX 16

typedef struct binkd_config {
  char listen[256];          /* --listen host:port, default 127.0.0.1:8080;
                                "[::1]:8080" form for IPv6 */
  char data[BINKD_PATH_MAX]; /* --data, default ./data */
  char db[BINKD_PATH_MAX];   /* --db, default "sqlite:<data>/bink.db" */
  char config[BINKD_PATH_MAX]; /* --config, default "" (no file) */
  char log_level[16];        /* --log-level debug|info|warn|error, default info */
  char log_format[16];       /* --log-format text|json, default text */
  char public_url[1024];     /* --public-url, default "http://<listen>" */
  bool allow_private_webhooks; /* --allow-private-webhooks (default true) /
                                  --deny-private-webhooks */
  bool open_registration;    /* default true; --no-open-registration */
  bool demo;                 /* --demo */
  int64_t max_upload_bytes;  /* --max-upload-bytes, default 52428800, >= 1 */
  int64_t max_body_bytes;    /* --max-body-bytes, default 1048576, >= 1024 */
  int callback_ttl;          /* --callback-ttl seconds, default 30, 1..3600 */
  int webhook_timeout;       /* --webhook-timeout seconds, default 10, 1..300 */
  int64_t event_retention;   /* --event-retention seconds, default 86400, >= 60 */
  int threads;               /* --threads, default 0 = number of cores, 0..256 */
  int db_pool;               /* --db-pool, PostgreSQL writers, 0 = default (2) */
  int connection_limit;      /* --connection-limit, default 20000, 1..1000000 */
  int connection_timeout;    /* --connection-timeout seconds (idle), default 60,
                                1..3600 */
  int rate_limit;            /* --rate-limit requests/second per caller, bursts
                                of twice that; 0 = off (default), 0..1000000 */

  /* What is left after the options: a subcommand and its arguments, for
   * example {"user", "add", "alice"}. Options of subcommands
   * (--display-name, --owner, --webhook, --set, --from, --to) are collected
   * here below. */
  int nargs;
  const char *args[BINKD_ARGS_MAX]; /* point into argv */
  const char *display_name;  /* --display-name NAME, or NULL */
  const char *owner;         /* --owner USERNAME, or NULL */
  const char *webhook;       /* --webhook URL, or NULL */
  const char *set;           /* --set NAME, or NULL */
  const char *from;          /* --from sqlite:PATH (migrate), or NULL */
  const char *to;            /* --to postgresql://... (migrate), or NULL */

  bool show_help;            /* --help / -h */
  bool show_version;         /* --version / -V */
} binkd_config;

/* Loads the configuration from argv, the environment (getenv) and, when
 * --config / BINKD_CONFIG names one, the config file. `c` is filled
 * completely (defaults first). Returns 0 on success; on an unknown option
 * or key, a missing value or a bad value returns -1 and writes one line
 * naming the offender (and the file and line for the config file) into
 * err[0..errlen). Nothing is allocated: string fields are copied into c or
 * point into argv. */
int binkd_config_load(binkd_config *c, int argc, char **argv, char *err,
                      size_t errlen);

/* The --help text (static storage). */
const char *binkd_config_usage(void);

#endif
