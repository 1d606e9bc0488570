/*
 * config.c: binkd's command line, BINKD_* environment variables and config
 * file (see config.h and server.md, "binkd — the server").
 *
 * Every option is one row of config__opts: its long name, the type of its
 * field, where it may be set (command line, environment, config file) and
 * the range or choices of its value. The loader applies, in order:
 * defaults, the config file, the environment, the command line; then it
 * derives db and public_url when they were left empty. The command line is
 * walked once first ("early") only to find --config, --help and --version.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the option table ------------------------------------------------- */

typedef enum config__type {
  CONFIG__STR,    /* char[] field, value copied; min = minimum length */
  CONFIG__LISTEN, /* char[] field holding host:port or [v6]:port */
  CONFIG__INT,    /* int field, min..max */
  CONFIG__I64,    /* int64_t field, min..max */
  CONFIG__BOOL,   /* bool field; a flag on the command line */
  CONFIG__ARG     /* const char * field pointing into argv (command line) */
} config__type;

/* Where an option may be set. */
#define CONFIG__CLI 1u   /* command line */
#define CONFIG__ENV 2u   /* BINKD_<NAME> */
#define CONFIG__FILE 4u  /* config file key */
#define CONFIG__EARLY 8u /* applied by the early walk of the command line */
#define CONFIG__ALL (CONFIG__CLI | CONFIG__ENV | CONFIG__FILE)

typedef struct config__opt {
  const char *name; /* long name without "--" */
  char short_name;  /* -h, -V; 0 for none */
  config__type type;
  size_t off;          /* offsetof the field in binkd_config */
  size_t size;         /* sizeof the field (string capacity) */
  int64_t min, max;    /* integer range; minimum length of a string */
  const char *choices; /* "a|b|c" allowed string values, or NULL */
  unsigned where;      /* CONFIG__CLI | CONFIG__ENV | ... */
  bool invert;         /* a flag that sets its field to false */
} config__opt;

#define CONFIG__F(field) offsetof(binkd_config, field), sizeof(((binkd_config *)0)->field)

/* One row of the table per kind of option. */
#define CONFIG__ROW_STR(name, field, minlen, choices, where)                             \
  { name, 0, CONFIG__STR, CONFIG__F(field), minlen, 0, choices, where, false }
#define CONFIG__ROW_LISTEN(name, field)                                                  \
  { name, 0, CONFIG__LISTEN, CONFIG__F(field), 1, 0, NULL, CONFIG__ALL, false }
#define CONFIG__ROW_INT(name, field, lo, hi)                                             \
  { name, 0, CONFIG__INT, CONFIG__F(field), lo, hi, NULL, CONFIG__ALL, false }
#define CONFIG__ROW_I64(name, field, lo)                                                 \
  { name, 0, CONFIG__I64, CONFIG__F(field), lo, INT64_MAX, NULL, CONFIG__ALL, false }
#define CONFIG__ROW_FLAG(name, short_name, field, invert, where)                         \
  { name, short_name, CONFIG__BOOL, CONFIG__F(field), 0, 0, NULL, where, invert }
#define CONFIG__ROW_ARG(name, field)                                                     \
  { name, 0, CONFIG__ARG, CONFIG__F(field), 0, 0, NULL, CONFIG__CLI, false }

static const config__opt config__opts[] = {
    CONFIG__ROW_LISTEN("listen", listen),
    CONFIG__ROW_STR("data", data, 1, NULL, CONFIG__ALL),
    CONFIG__ROW_STR("db", db, 0, NULL, CONFIG__ALL),
    CONFIG__ROW_STR("config", config, 1, NULL, CONFIG__CLI | CONFIG__EARLY),
    CONFIG__ROW_STR("log-level", log_level, 1, "debug|info|warn|error", CONFIG__ALL),
    CONFIG__ROW_STR("log-format", log_format, 1, "text|json", CONFIG__ALL),
    CONFIG__ROW_STR("public-url", public_url, 0, NULL, CONFIG__ALL),
    CONFIG__ROW_FLAG("allow-private-webhooks", 0, allow_private_webhooks, false,
                     CONFIG__ALL),
    CONFIG__ROW_FLAG("deny-private-webhooks", 0, allow_private_webhooks, true,
                     CONFIG__ALL),
    CONFIG__ROW_FLAG("open-registration", 0, open_registration, false, CONFIG__ALL),
    CONFIG__ROW_FLAG("no-open-registration", 0, open_registration, true, CONFIG__ALL),
    CONFIG__ROW_FLAG("demo", 0, demo, false, CONFIG__ALL),
    CONFIG__ROW_I64("max-upload-bytes", max_upload_bytes, 1),
    CONFIG__ROW_I64("max-body-bytes", max_body_bytes, 1024),
    CONFIG__ROW_INT("callback-ttl", callback_ttl, 1, 3600),
    CONFIG__ROW_INT("webhook-timeout", webhook_timeout, 1, 300),
    CONFIG__ROW_I64("event-retention", event_retention, 60),
    CONFIG__ROW_INT("threads", threads, 0, 256),
    CONFIG__ROW_INT("db-pool", db_pool, 0, 64),
    CONFIG__ROW_INT("connection-limit", connection_limit, 1, 1000000),
    CONFIG__ROW_INT("connection-timeout", connection_timeout, 1, 3600),
    CONFIG__ROW_INT("rate-limit", rate_limit, 0, 1000000),
    CONFIG__ROW_ARG("display-name", display_name),
    CONFIG__ROW_ARG("owner", owner),
    CONFIG__ROW_ARG("webhook", webhook),
    CONFIG__ROW_ARG("set", set),
    CONFIG__ROW_ARG("from", from),
    CONFIG__ROW_ARG("to", to),
    CONFIG__ROW_FLAG("help", 'h', show_help, false, CONFIG__CLI | CONFIG__EARLY),
    CONFIG__ROW_FLAG("version", 'V', show_version, false, CONFIG__CLI | CONFIG__EARLY),
};

#define CONFIG__NOPTS (sizeof config__opts / sizeof config__opts[0])

/* Longest config file line, in bytes including the newline. */
#define CONFIG__LINE_MAX 4096

/* ---- small helpers ---------------------------------------------------- */

static int config__fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message into err (when there is room) and returns -1. */
static int config__fail(char *err, size_t errlen, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static const config__opt *config__find(const char *name, size_t len, unsigned where) {
  for (size_t i = 0; i < CONFIG__NOPTS; i++) {
    const config__opt *o = &config__opts[i];
    if ((o->where & where) && strlen(o->name) == len && memcmp(o->name, name, len) == 0)
      return o;
  }
  return NULL;
}

static const config__opt *config__find_short(char s) {
  for (size_t i = 0; i < CONFIG__NOPTS; i++)
    if (s != 0 && config__opts[i].short_name == s)
      return &config__opts[i];
  return NULL;
}

/* Strict base-10 integer: the whole string, no blanks, no overflow. */
static bool config__parse_i64(const char *s, int64_t *out) {
  if (*s == '\0' || isspace((unsigned char)*s))
    return false;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return false;
  *out = (int64_t)v;
  return true;
}

static bool config__parse_bool(const char *s, bool *out) {
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *out = true;
      return true;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *out = false;
      return true;
    }
  }
  return false;
}

/* Is s one of the '|'-separated words of choices? */
static bool config__is_choice(const char *s, const char *choices) {
  size_t n = strlen(s);
  for (const char *p = choices; *p != '\0';) {
    size_t w = strcspn(p, "|");
    if (w == n && memcmp(p, s, n) == 0)
      return true;
    p += w;
    if (*p == '|')
      p++;
  }
  return false;
}

/* host:port or [v6]:port with a non-empty host and port 0..65535. */
static bool config__is_listen(const char *s) {
  const char *colon;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close == s + 1 || close[1] != ':')
      return false;
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (colon == NULL || colon == s || memchr(s, ':', (size_t)(colon - s)) != NULL)
      return false;
  }
  const char *port = colon + 1;
  size_t n = strlen(port);
  if (n == 0 || n > 5 || strspn(port, "0123456789") != n)
    return false;
  return strtol(port, NULL, 10) <= 65535; /* at most 5 digits: no overflow */
}

/* Describes the range of an integer option: "1..3600" or ">= 60". */
static void config__range(const config__opt *o, char *buf, size_t n) {
  if (o->max == INT64_MAX)
    snprintf(buf, n, ">= %" PRId64, o->min);
  else
    snprintf(buf, n, "%" PRId64 "..%" PRId64, o->min, o->max);
}

/* ---- setting one option ----------------------------------------------- */

static int config__set_int(binkd_config *c, const config__opt *o, const char *v,
                           const char *who, char *err, size_t errlen) {
  int64_t n;
  if (!config__parse_i64(v, &n) || n < o->min || n > o->max) {
    char range[64];
    config__range(o, range, sizeof range);
    return config__fail(err, errlen, "%s: must be an integer %s, got '%s'", who, range,
                        v);
  }
  char *field = (char *)c + o->off;
  if (o->type == CONFIG__INT) {
    int i = (int)n;
    memcpy(field, &i, sizeof i);
  } else {
    memcpy(field, &n, sizeof n);
  }
  return 0;
}

static int config__set_str(binkd_config *c, const config__opt *o, const char *v,
                           const char *who, char *err, size_t errlen) {
  size_t n = strlen(v);
  if (n >= o->size)
    return config__fail(err, errlen, "%s: too long (at most %zu bytes)", who,
                        o->size - 1);
  if ((int64_t)n < o->min)
    return config__fail(err, errlen, "%s: must not be empty", who);
  if (o->choices != NULL && !config__is_choice(v, o->choices))
    return config__fail(err, errlen, "%s: must be one of %s, got '%s'", who, o->choices,
                        v);
  if (o->type == CONFIG__LISTEN && !config__is_listen(v))
    return config__fail(err, errlen,
                        "%s: must be host:port or [v6]:port with port 0..65535, got '%s'",
                        who, v);
  memcpy((char *)c + o->off, v, n + 1);
  return 0;
}

/* Sets option o to the text v ("who" names the source in messages). For a
 * flag, v NULL means "given without a value", that is true. Values of
 * CONFIG__ARG options are kept by pointer, so v must outlive c (argv). */
static int config__set(binkd_config *c, const config__opt *o, const char *v,
                       const char *who, char *err, size_t errlen) {
  switch (o->type) {
  case CONFIG__INT:
  case CONFIG__I64:
    return config__set_int(c, o, v, who, err, errlen);
  case CONFIG__STR:
  case CONFIG__LISTEN:
    return config__set_str(c, o, v, who, err, errlen);
  case CONFIG__ARG:
    memcpy((char *)c + o->off, &v, sizeof v);
    return 0;
  case CONFIG__BOOL: {
    bool b = true;
    if (v != NULL && !config__parse_bool(v, &b))
      return config__fail(err, errlen, "%s: must be true or false, got '%s'", who, v);
    *(bool *)((char *)c + o->off) = o->invert ? !b : b;
    return 0;
  }
  }
  return config__fail(err, errlen, "%s: internal error", who);
}

/* ---- defaults and derived values -------------------------------------- */

static void config__defaults(binkd_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->listen, sizeof c->listen, "%s", "127.0.0.1:8080");
  snprintf(c->data, sizeof c->data, "%s", "./data");
  snprintf(c->log_level, sizeof c->log_level, "%s", "info");
  snprintf(c->log_format, sizeof c->log_format, "%s", "text");
  c->allow_private_webhooks = true;
  c->open_registration = true;
  c->max_upload_bytes = 52428800;
  c->max_body_bytes = 1048576;
  c->callback_ttl = 30;
  c->webhook_timeout = 10;
  c->event_retention = 86400;
  c->threads = 0;
  c->db_pool = 0;
  c->connection_limit = 20000;
  c->connection_timeout = 60;
  c->rate_limit = 0;
}

/* db = "sqlite:<data>/bink.db", public_url = "http://<listen>" when empty. */
static int config__derive(binkd_config *c, char *err, size_t errlen) {
  if (c->db[0] == '\0') {
    size_t n = strlen(c->data);
    while (n > 0 && c->data[n - 1] == '/')
      n--; /* no "data//bink.db" */
    int len = snprintf(c->db, sizeof c->db, "sqlite:%.*s/bink.db", (int)n, c->data);
    if (len < 0 || (size_t)len >= sizeof c->db)
      return config__fail(err, errlen, "data: too long to derive the database path");
  }
  if (c->public_url[0] == '\0') {
    int len = snprintf(c->public_url, sizeof c->public_url, "http://%s", c->listen);
    if (len < 0 || (size_t)len >= sizeof c->public_url)
      return config__fail(err, errlen, "listen: too long to derive the public URL");
  }
  return 0;
}

/* ---- the config file -------------------------------------------------- */

static char *config__trim(char *s) {
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  return s;
}

/* Cuts a trailing comment: '#' at the start or after whitespace. */
static void config__cut_comment(char *s) {
  for (char *p = s; *p != '\0'; p++) {
    if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
      *p = '\0';
      return;
    }
  }
}

/* Splits value text after '=' (leading blanks already skipped): a quoted
 * value ends at the next '"' and may only be followed by a comment.
 * Returns NULL with *why set on a malformed value. */
static char *config__value(char *v, const char **why) {
  if (*v != '"') {
    config__cut_comment(v);
    return config__trim(v);
  }
  char *close = strchr(v + 1, '"');
  if (close == NULL) {
    *why = "unterminated quote";
    return NULL;
  }
  *close = '\0';
  char *rest = close + 1;
  while (isspace((unsigned char)*rest))
    rest++;
  if (*rest != '\0' && *rest != '#') {
    *why = "text after the closing quote";
    return NULL;
  }
  return v + 1;
}

/* Applies one line of the file. */
static int config__file_line(binkd_config *c, char *line, const char *path, int lineno,
                             char *err, size_t errlen) {
  char *s = config__trim(line);
  if (*s == '\0' || *s == '#')
    return 0;
  char *eq = strchr(s, '=');
  if (eq == NULL)
    return config__fail(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
  *eq = '\0';
  char *key = config__trim(s);
  const char *why = NULL;
  char *value = config__value(config__trim(eq + 1), &why);
  if (value == NULL)
    return config__fail(err, errlen, "%s:%d: %s", path, lineno, why);
  const config__opt *o = config__find(key, strlen(key), CONFIG__FILE);
  if (o == NULL)
    return config__fail(err, errlen, "%s:%d: unknown key '%s'", path, lineno, key);
  char who[BINKD_PATH_MAX + 64];
  snprintf(who, sizeof who, "%s:%d: %s", path, lineno, o->name);
  return config__set(c, o, value, who, err, errlen);
}

static int config__load_file(binkd_config *c, const char *path, char *err,
                             size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return config__fail(err, errlen, "cannot open config file '%s': %s", path,
                        strerror(errno));
  char line[CONFIG__LINE_MAX];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    if (strchr(line, '\n') == NULL && !feof(f))
      rc = config__fail(err, errlen, "%s:%d: line too long (at most %d bytes)", path,
                        lineno, CONFIG__LINE_MAX - 2);
    else
      rc = config__file_line(c, line, path, lineno, err, errlen);
  }
  if (rc == 0 && ferror(f))
    rc = config__fail(err, errlen, "cannot read config file '%s'", path);
  fclose(f);
  return rc;
}

/* ---- the environment -------------------------------------------------- */

/* BINKD_ + the name in upper case with '-' as '_'. */
static void config__env_name(const char *name, char *buf, size_t n) {
  size_t i = (size_t)snprintf(buf, n, "BINKD_");
  for (; *name != '\0' && i + 1 < n; name++, i++)
    buf[i] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
  buf[i] = '\0';
}

/* An empty variable counts as unset. */
static const char *config__getenv(const char *name) {
  char var[64];
  config__env_name(name, var, sizeof var);
  const char *v = getenv(var);
  return v != NULL && *v != '\0' ? v : NULL;
}

static int config__load_env(binkd_config *c, char *err, size_t errlen) {
  for (size_t i = 0; i < CONFIG__NOPTS; i++) {
    const config__opt *o = &config__opts[i];
    if (!(o->where & CONFIG__ENV))
      continue;
    const char *v = config__getenv(o->name);
    if (v == NULL)
      continue;
    char var[64];
    config__env_name(o->name, var, sizeof var);
    if (config__set(c, o, v, var, err, errlen) != 0)
      return -1;
  }
  return 0;
}

/* ---- the command line ------------------------------------------------- */

/* Handles the option argv[*i] (which starts with '-'), taking its value
 * from "=value" or the next argument. In the early walk only CONFIG__EARLY
 * options are applied and nothing is reported; in the full walk those are
 * skipped (already applied) and everything else is applied or reported. */
static int config__cli_option(binkd_config *c, int argc, char **argv, int *i, bool early,
                              char *err, size_t errlen) {
  const char *arg = argv[*i];
  const config__opt *o = NULL;
  const char *value = NULL;
  if (arg[1] == '-') {
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    o = config__find(name, len, CONFIG__CLI);
    if (o == NULL)
      return early ? 0
                   : config__fail(err, errlen, "unknown option --%.*s", (int)len, name);
    value = eq != NULL ? eq + 1 : NULL;
  } else {
    o = arg[1] != '\0' && arg[2] == '\0' ? config__find_short(arg[1]) : NULL;
    if (o == NULL)
      return early ? 0 : config__fail(err, errlen, "unknown option %s", arg);
  }
  if (value == NULL && o->type != CONFIG__BOOL) {
    if (*i + 1 >= argc)
      return early ? 0 : config__fail(err, errlen, "--%s: missing value", o->name);
    value = argv[++*i];
  }
  if (early != ((o->where & CONFIG__EARLY) != 0))
    return 0;
  char who[64];
  snprintf(who, sizeof who, "--%s", o->name);
  return config__set(c, o, value, who, err, errlen);
}

/* Walks argv: options (see config__cli_option) and, in the full walk,
 * positional arguments; everything after "--" is positional. */
static int config__load_cli(binkd_config *c, int argc, char **argv, bool early, char *err,
                            size_t errlen) {
  bool options = true;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options && strcmp(arg, "--") == 0) {
      options = false;
    } else if (options && arg[0] == '-') {
      if (config__cli_option(c, argc, argv, &i, early, err, errlen) != 0)
        return -1;
    } else if (!early) {
      if (c->nargs >= BINKD_ARGS_MAX)
        return config__fail(err, errlen, "too many arguments (at most %d)",
                            BINKD_ARGS_MAX);
      c->args[c->nargs++] = arg;
    }
  }
  return 0;
}

/* ---- the loader ------------------------------------------------------- */

int binkd_config_load(binkd_config *c, int argc, char **argv, char *err, size_t errlen) {
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  config__defaults(c);
  if (config__load_cli(c, argc, argv, true, err, errlen) != 0)
    return -1;
  if (c->show_help || c->show_version)
    return config__derive(c, err, errlen);
  if (c->config[0] == '\0') {
    const char *env = config__getenv("config");
    if (env != NULL && config__set(c, config__find("config", 6, CONFIG__CLI), env,
                                   "BINKD_CONFIG", err, errlen) != 0)
      return -1;
  }
  if (c->config[0] != '\0' && config__load_file(c, c->config, err, errlen) != 0)
    return -1;
  if (config__load_env(c, err, errlen) != 0)
    return -1;
  if (config__load_cli(c, argc, argv, false, err, errlen) != 0)
    return -1;
  return config__derive(c, err, errlen);
}

const char *binkd_config_usage(void) {
  return "Usage:\n"
         "  binkd [options]                  run the server\n"
         "  binkd user add USERNAME [--display-name NAME]\n"
         "                                   add a user and print its token\n"
         "  binkd bot add USERNAME --owner USERNAME [--display-name NAME] [--webhook "
         "URL]\n"
         "                                   add a bot owned by a user and print its "
         "token\n"
         "  binkd stickers import DIR [--set NAME]\n"
         "                                   import the stickers in DIR as a set\n"
         "  binkd migrate --from sqlite:PATH --to postgresql://...\n"
         "                                   copy a SQLite installation into an "
         "empty\n"
         "                                   PostgreSQL database\n"
         "  binkd --version | --help\n"
         "\n"
         "Options (default in brackets):\n"
         "  --listen HOST:PORT           address to listen on; [V6ADDR]:PORT for IPv6,\n"
         "                               port 0 for any free port [127.0.0.1:8080]\n"
         "  --data DIR                   data directory (files, SQLite database) "
         "[./data]\n"
         "  --db URL                     sqlite:PATH or postgresql://...\n"
         "                               [sqlite:<data>/bink.db]\n"
         "  --config FILE                config file to read [none]\n"
         "  --log-level LEVEL            debug, info, warn or error [info]\n"
         "  --log-format FORMAT          text or json [text]\n"
         "  --public-url URL             address under which clients reach the server\n"
         "                               [http://<listen>]\n"
         "  --allow-private-webhooks     allow webhook URLs on private or loopback\n"
         "                               addresses [on]\n"
         "  --deny-private-webhooks      refuse them (recommended in production)\n"
         "  --open-registration          anyone may sign up in the App API [on]\n"
         "  --no-open-registration       only 'binkd user add' creates users\n"
         "  --demo                       create the demo user alice, bot demo_bot and\n"
         "                               group Demo once, print their tokens [off]\n"
         "  --max-upload-bytes N         largest uploaded file, >= 1 [52428800]\n"
         "  --max-body-bytes N           largest request body, >= 1024 [1048576]\n"
         "  --callback-ttl SECONDS       time to answer a callback query, 1..3600 [30]\n"
         "  --webhook-timeout SECONDS    timeout of a webhook request, 1..300 [10]\n"
         "  --event-retention SECONDS    how long unconfirmed events are kept,\n"
         "                               >= 60 [86400]\n"
         "  --threads N                  worker threads, 0..256, 0 = number of cores "
         "[0]\n"
         "  --db-pool N                  PostgreSQL: writer connections of this node,\n"
         "                               0..64, 0 = 2 (docs/scaling.md) [0]\n"
         "  --connection-limit N         open connections at most, 1..1000000 [20000]\n"
         "  --connection-timeout SECONDS idle connection timeout, 1..3600 [60]\n"
         "  --rate-limit N               requests a second per token (bursts of\n"
         "                               twice that), then 429; 0 = off [0]\n"
         "  -h, --help                   print this help and exit\n"
         "  -V, --version                print the version and exit\n"
         "\n"
         "Subcommand options:\n"
         "  --display-name NAME          display name of the new user or bot\n"
         "  --owner USERNAME             owner of the new bot (required by 'bot add')\n"
         "  --webhook URL                webhook URL of the new bot\n"
         "  --set NAME                   name of the imported sticker set\n"
         "  --from sqlite:PATH           database to migrate from (its file is only "
         "read)\n"
         "  --to URL                     empty PostgreSQL database to migrate to\n"
         "                               (postgresql://...; a password is better "
         "kept\n"
         "                               in PGPASSWORD or ~/.pgpass)\n"
         "\n"
         "Values are given as '--opt value' or '--opt=value'; flags also take\n"
         "'--flag=true' or '--flag=false'. Durations are seconds, sizes bytes.\n"
         "\n"
         "Environment: each option (but the subcommand options, --help and --version)\n"
         "is also read from BINKD_ + its name in upper case with '-' as '_':\n"
         "BINKD_LISTEN, BINKD_MAX_UPLOAD_BYTES, BINKD_OPEN_REGISTRATION=false, ...\n"
         "BINKD_CONFIG names the config file when --config is not given. Flags take\n"
         "true or false (also 1/0, yes/no, on/off); an empty variable counts as unset.\n"
         "\n"
         "Config file: 'key = value' lines, the keys being the long option names\n"
         "without '--' (listen = 0.0.0.0:8080, open-registration = false); '#'\n"
         "starts a comment; the value may be put in double quotes. Unknown keys and\n"
         "bad values stop the start.\n"
         "\n"
         "Precedence: command line > environment > config file > default.\n";
}
