/*
 * test_config.c: unit tests of the command line, environment and config
 * file loader (src/config.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

/* Every variable the loader reads; unset before and after each test. */
static const char *const env_vars[] = {
    "BINKD_LISTEN",
    "BINKD_DATA",
    "BINKD_DB",
    "BINKD_CONFIG",
    "BINKD_LOG_LEVEL",
    "BINKD_LOG_FORMAT",
    "BINKD_PUBLIC_URL",
    "BINKD_ALLOW_PRIVATE_WEBHOOKS",
    "BINKD_DENY_PRIVATE_WEBHOOKS",
    "BINKD_OPEN_REGISTRATION",
    "BINKD_NO_OPEN_REGISTRATION",
    "BINKD_DEMO",
    "BINKD_MAX_UPLOAD_BYTES",
    "BINKD_MAX_BODY_BYTES",
    "BINKD_CALLBACK_TTL",
    "BINKD_WEBHOOK_TIMEOUT",
    "BINKD_EVENT_RETENTION",
    "BINKD_THREADS",
    "BINKD_CONNECTION_LIMIT",
    "BINKD_CONNECTION_TIMEOUT",
};

static int clear_env(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
    unsetenv(env_vars[i]);
  return 0;
}

/* Loads with argv = {"binkd", args..., NULL}; the list ends with NULL. */
#define ARGV_MAX 40
typedef struct fixture {
  binkd_config c;
  char err[512];
  char *argv[ARGV_MAX];
} fixture;

static fixture fx;

static int load(const char *first, ...) {
  int argc = 0;
  fx.argv[argc++] = "binkd";
  va_list ap;
  va_start(ap, first);
  for (const char *a = first; a != NULL && argc < ARGV_MAX - 1;
       a = va_arg(ap, const char *))
    fx.argv[argc++] = (char *)a;
  va_end(ap);
  fx.argv[argc] = NULL;
  memset(fx.err, 0, sizeof fx.err);
  return binkd_config_load(&fx.c, argc, fx.argv, fx.err, sizeof fx.err);
}

/* Writes text into a new temporary file; its path goes into path. */
static void write_file(char *path, size_t n, const char *text) {
  snprintf(path, n, "/tmp/binkd_test_config_XXXXXX");
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  close(fd);
}

static void assert_err(const char *needle) {
  if (strstr(fx.err, needle) == NULL)
    fail_msg("error '%s' lacks '%s'", fx.err, needle);
}

/* Expects load(...) to fail with a message containing needle. */
#define ASSERT_FAILS(needle, ...)                                                        \
  do {                                                                                   \
    assert_int_equal(load(__VA_ARGS__, NULL), -1);                                       \
    assert_err(needle);                                                                  \
  } while (0)

/* ---- defaults --------------------------------------------------------- */

static void test_defaults(void **state) {
  (void)state;
  assert_int_equal(load(NULL), 0);
  const binkd_config *c = &fx.c;
  assert_string_equal(c->listen, "127.0.0.1:8080");
  assert_string_equal(c->data, "./data");
  assert_string_equal(c->db, "sqlite:./data/bink.db");
  assert_string_equal(c->config, "");
  assert_string_equal(c->log_level, "info");
  assert_string_equal(c->log_format, "text");
  assert_string_equal(c->public_url, "http://127.0.0.1:8080");
  assert_true(c->allow_private_webhooks);
  assert_true(c->open_registration);
  assert_false(c->demo);
  assert_int_equal(c->max_upload_bytes, 52428800);
  assert_int_equal(c->max_body_bytes, 1048576);
  assert_int_equal(c->callback_ttl, 30);
  assert_int_equal(c->webhook_timeout, 10);
  assert_int_equal(c->event_retention, 86400);
  assert_int_equal(c->threads, 0);
  assert_int_equal(c->connection_limit, 20000);
  assert_int_equal(c->connection_timeout, 60);
  assert_int_equal(c->nargs, 0);
  assert_null(c->display_name);
  assert_null(c->owner);
  assert_null(c->webhook);
  assert_null(c->set);
  assert_false(c->show_help);
  assert_false(c->show_version);
  assert_string_equal(fx.err, "");
}

/* ---- command line forms ----------------------------------------------- */

static void test_cli_value_forms(void **state) {
  (void)state;
  assert_int_equal(load("--listen", "0.0.0.0:9000", "--data=/srv/bink", "--threads=4",
                        "--max-upload-bytes", "10", "--log-level=debug", "--log-format",
                        "json", "--event-retention=60", "--connection-limit", "1000000",
                        "--connection-timeout=3600", "--webhook-timeout", "300",
                        "--max-body-bytes=1024", "--callback-ttl", "3600", NULL),
                   0);
  const binkd_config *c = &fx.c;
  assert_string_equal(c->listen, "0.0.0.0:9000");
  assert_string_equal(c->data, "/srv/bink");
  assert_int_equal(c->threads, 4);
  assert_int_equal(c->max_upload_bytes, 10);
  assert_string_equal(c->log_level, "debug");
  assert_string_equal(c->log_format, "json");
  assert_int_equal(c->event_retention, 60);
  assert_int_equal(c->connection_limit, 1000000);
  assert_int_equal(c->connection_timeout, 3600);
  assert_int_equal(c->webhook_timeout, 300);
  assert_int_equal(c->max_body_bytes, 1024);
  assert_int_equal(c->callback_ttl, 3600);
}

static void test_cli_flags(void **state) {
  (void)state;
  assert_int_equal(
      load("--deny-private-webhooks", "--no-open-registration", "--demo", NULL), 0);
  assert_false(fx.c.allow_private_webhooks);
  assert_false(fx.c.open_registration);
  assert_true(fx.c.demo);
  assert_int_equal(fx.c.nargs, 0);

  /* The last one wins; flags take =true/=false and never the next argument. */
  assert_int_equal(load("--no-open-registration", "--open-registration",
                        "--deny-private-webhooks", "--allow-private-webhooks",
                        "--demo=false", NULL),
                   0);
  assert_true(fx.c.open_registration);
  assert_true(fx.c.allow_private_webhooks);
  assert_false(fx.c.demo);

  assert_int_equal(load("--demo", "false", "--deny-private-webhooks=false", NULL), 0);
  assert_true(fx.c.demo);
  assert_true(fx.c.allow_private_webhooks);
  assert_int_equal(fx.c.nargs, 1);
  assert_string_equal(fx.c.args[0], "false");

  ASSERT_FAILS("--demo: must be true or false, got 'maybe'", "--demo=maybe");
}

static void test_help_version(void **state) {
  (void)state;
  assert_int_equal(load("--help", NULL), 0);
  assert_true(fx.c.show_help);
  assert_int_equal(load("-h", NULL), 0);
  assert_true(fx.c.show_help);
  assert_int_equal(load("--version", NULL), 0);
  assert_true(fx.c.show_version);
  assert_int_equal(load("-V", NULL), 0);
  assert_true(fx.c.show_version);
  /* --help wins over other mistakes, even a missing config file. */
  assert_int_equal(load("--bogus", "--config", "/nonexistent/binkd.conf", "-h", NULL), 0);
  assert_true(fx.c.show_help);
  setenv("BINKD_CALLBACK_TTL", "x", 1);
  assert_int_equal(load("--version", NULL), 0);
  assert_true(fx.c.show_version);
  assert_string_equal(fx.c.db, "sqlite:./data/bink.db");
}

static void test_usage(void **state) {
  (void)state;
  const char *u = binkd_config_usage();
  static const char *const needles[] = {
      "binkd [options]",
      "binkd user add USERNAME [--display-name NAME]",
      "binkd bot add USERNAME --owner USERNAME [--display-name NAME] [--webhook URL]",
      "binkd stickers import DIR [--set NAME]",
      "binkd --version | --help",
      "--listen",
      "--data",
      "--db",
      "--config",
      "--log-level",
      "--log-format",
      "--public-url",
      "--allow-private-webhooks",
      "--deny-private-webhooks",
      "--open-registration",
      "--no-open-registration",
      "--demo",
      "--max-upload-bytes",
      "--max-body-bytes",
      "--callback-ttl",
      "--webhook-timeout",
      "--event-retention",
      "--threads",
      "--connection-limit",
      "--connection-timeout",
      "--help",
      "--version",
      "127.0.0.1:8080",
      "./data",
      "sqlite:<data>/bink.db",
      "52428800",
      "1048576",
      "86400",
      "20000",
      "BINKD_",
      "BINKD_CONFIG",
      "command line > environment > config file > default"};
  for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
    if (strstr(u, needles[i]) == NULL)
      fail_msg("usage lacks '%s'", needles[i]);
}

/* ---- precedence ------------------------------------------------------- */

static void test_cli_over_env(void **state) {
  (void)state;
  setenv("BINKD_CALLBACK_TTL", "100", 1);
  setenv("BINKD_LISTEN", "10.0.0.1:1", 1);
  setenv("BINKD_OPEN_REGISTRATION", "true", 1);
  assert_int_equal(
      load("--callback-ttl", "5", "--listen=[::1]:7000", "--no-open-registration", NULL),
      0);
  assert_int_equal(fx.c.callback_ttl, 5);
  assert_string_equal(fx.c.listen, "[::1]:7000");
  assert_false(fx.c.open_registration);
}

static void test_env_over_default(void **state) {
  (void)state;
  setenv("BINKD_WEBHOOK_TIMEOUT", "20", 1);
  setenv("BINKD_ALLOW_PRIVATE_WEBHOOKS", "false", 1);
  setenv("BINKD_DEMO", "yes", 1);
  setenv("BINKD_MAX_UPLOAD_BYTES", "9000000000", 1);
  setenv("BINKD_LOG_FORMAT", "json", 1);
  setenv("BINKD_PUBLIC_URL", "https://chat.example.com", 1);
  assert_int_equal(load(NULL), 0);
  assert_int_equal(fx.c.webhook_timeout, 20);
  assert_false(fx.c.allow_private_webhooks);
  assert_true(fx.c.demo);
  assert_int_equal(fx.c.max_upload_bytes, INT64_C(9000000000));
  assert_string_equal(fx.c.log_format, "json");
  assert_string_equal(fx.c.public_url, "https://chat.example.com");
}

static void test_env_negated_flags(void **state) {
  (void)state;
  setenv("BINKD_DENY_PRIVATE_WEBHOOKS", "true", 1);
  setenv("BINKD_NO_OPEN_REGISTRATION", "on", 1);
  assert_int_equal(load(NULL), 0);
  assert_false(fx.c.allow_private_webhooks);
  assert_false(fx.c.open_registration);
}

static void test_empty_env_is_unset(void **state) {
  (void)state;
  setenv("BINKD_CALLBACK_TTL", "", 1);
  setenv("BINKD_LISTEN", "", 1);
  assert_int_equal(load(NULL), 0);
  assert_int_equal(fx.c.callback_ttl, 30);
  assert_string_equal(fx.c.listen, "127.0.0.1:8080");
}

static void test_env_over_file(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path,
             "callback-ttl = 40\nlisten = 127.0.0.1:1\ndemo = false\nthreads = 3\n");
  setenv("BINKD_CALLBACK_TTL", "50", 1);
  setenv("BINKD_DEMO", "true", 1);
  assert_int_equal(load("--config", path, NULL), 0);
  assert_int_equal(fx.c.callback_ttl, 50);
  assert_true(fx.c.demo);
  assert_string_equal(fx.c.listen, "127.0.0.1:1"); /* from the file */
  assert_int_equal(fx.c.threads, 3);
  assert_string_equal(fx.c.config, path);
  unlink(path);
}

static void test_file_over_default(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path,
             "listen = 0.0.0.0:8443\n"
             "data = /var/lib/binkd\n"
             "log-level = warn\n"
             "max-body-bytes = 2048\n"
             "event-retention = 3600\n"
             "connection-limit = 10\n"
             "connection-timeout = 5\n");
  assert_int_equal(load("--config=", NULL), -1); /* empty --config is an error */
  assert_int_equal(load("--config", path, NULL), 0);
  assert_string_equal(fx.c.listen, "0.0.0.0:8443");
  assert_string_equal(fx.c.data, "/var/lib/binkd");
  assert_string_equal(fx.c.log_level, "warn");
  assert_int_equal(fx.c.max_body_bytes, 2048);
  assert_int_equal(fx.c.event_retention, 3600);
  assert_int_equal(fx.c.connection_limit, 10);
  assert_int_equal(fx.c.connection_timeout, 5);
  assert_int_equal(fx.c.callback_ttl, 30); /* untouched */
  assert_string_equal(fx.c.db, "sqlite:/var/lib/binkd/bink.db");
  assert_string_equal(fx.c.public_url, "http://0.0.0.0:8443");
  unlink(path);
}

static void test_cli_over_file(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path, "threads = 8\nopen-registration = false\n");
  /* --config after the option it is overridden by still counts. */
  assert_int_equal(load("--threads", "2", "--open-registration", "--config", path, NULL),
                   0);
  assert_int_equal(fx.c.threads, 2);
  assert_true(fx.c.open_registration);
  unlink(path);
}

static void test_config_from_env(void **state) {
  (void)state;
  char path[64], other[64];
  write_file(path, sizeof path, "threads = 7\n");
  write_file(other, sizeof other, "threads = 9\n");
  setenv("BINKD_CONFIG", path, 1);
  assert_int_equal(load(NULL), 0);
  assert_int_equal(fx.c.threads, 7);
  assert_string_equal(fx.c.config, path);
  /* --config on the command line wins over BINKD_CONFIG. */
  assert_int_equal(load("--config", other, NULL), 0);
  assert_int_equal(fx.c.threads, 9);
  assert_string_equal(fx.c.config, other);
  unlink(path);
  unlink(other);
}

/* ---- the config file -------------------------------------------------- */

static void test_file_flags(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path,
             "allow-private-webhooks = false\nopen-registration = false\ndemo = true\n");
  assert_int_equal(load("--config", path, NULL), 0);
  assert_false(fx.c.allow_private_webhooks);
  assert_false(fx.c.open_registration);
  assert_true(fx.c.demo);
  unlink(path);

  write_file(path, sizeof path,
             "allow-private-webhooks = true\nopen-registration = TRUE\ndemo = off\n");
  assert_int_equal(load("--config", path, NULL), 0);
  assert_true(fx.c.allow_private_webhooks);
  assert_true(fx.c.open_registration);
  assert_false(fx.c.demo);
  unlink(path);

  write_file(path, sizeof path,
             "deny-private-webhooks = true\nno-open-registration = 1\n");
  assert_int_equal(load("--config", path, NULL), 0);
  assert_false(fx.c.allow_private_webhooks);
  assert_false(fx.c.open_registration);
  unlink(path);

  write_file(path, sizeof path, "\n\ndemo = sure\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":3: demo: must be true or false, got 'sure'");
  unlink(path);
}

static void test_file_syntax(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path,
             "# binkd.conf\n"
             "\n"
             "   \t\n"
             "  listen=127.0.0.1:9\t# trailing comment\n"
             "data = \"/srv/with space\"   # quoted\n"
             "public-url = http://example.com/a#frag\n"
             "log-level =   error   \n"
             "db = \"sqlite:/x # not a comment.db\"\n"
             "threads = 12\r\n"
             "   # indented comment\n");
  assert_int_equal(load("--config", path, NULL), 0);
  assert_string_equal(fx.c.listen, "127.0.0.1:9");
  assert_string_equal(fx.c.data, "/srv/with space");
  assert_string_equal(fx.c.public_url, "http://example.com/a#frag");
  assert_string_equal(fx.c.log_level, "error");
  assert_string_equal(fx.c.db, "sqlite:/x # not a comment.db");
  assert_int_equal(fx.c.threads, 12);
  unlink(path);
}

static void test_file_malformed(void **state) {
  (void)state;
  char path[64];
  write_file(path, sizeof path, "# ok\nlisten 127.0.0.1:1\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":2: expected 'key = value'");
  unlink(path);

  write_file(path, sizeof path, "data = \"/unterminated\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":1: unterminated quote");
  unlink(path);

  write_file(path, sizeof path, "data = \"/a\" junk\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":1: text after the closing quote");
  unlink(path);

  /* Keys the file may not set. */
  write_file(path, sizeof path, "config = /etc/other.conf\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":1: unknown key 'config'");
  unlink(path);

  write_file(path, sizeof path, "owner = alice\n");
  assert_int_equal(load("--config", path, NULL), -1);
  assert_err(":1: unknown key 'owner'");
  unlink(path);
}

static void test_unknown_key(void **state) {
  (void)state;
  char path[64], want[128];
  write_file(path, sizeof path, "# comment\n\nfoo = 1\n");
  assert_int_equal(load("--config", path, NULL), -1);
  snprintf(want, sizeof want, "%s:3: unknown key 'foo'", path);
  assert_err(want);
  unlink(path);
}

static void test_file_bad_value(void **state) {
  (void)state;
  char path[64], want[160];
  write_file(path, sizeof path, "listen = 127.0.0.1:1\ncallback-ttl = 0\n");
  assert_int_equal(load("--config", path, NULL), -1);
  snprintf(want, sizeof want, "%s:2: callback-ttl: must be an integer 1..3600, got '0'",
           path);
  assert_err(want);
  unlink(path);
}

static void test_missing_config_file(void **state) {
  (void)state;
  ASSERT_FAILS("/nonexistent/binkd.conf", "--config", "/nonexistent/binkd.conf");
  assert_err("cannot open config file");
  setenv("BINKD_CONFIG", "/nonexistent/env.conf", 1);
  assert_int_equal(load(NULL), -1);
  assert_err("/nonexistent/env.conf");
}

/* ---- errors ----------------------------------------------------------- */

static void test_unknown_option(void **state) {
  (void)state;
  ASSERT_FAILS("unknown option --foo", "--foo");
  ASSERT_FAILS("unknown option --foo", "--foo=bar");
  assert_null(strstr(fx.err, "bar"));
  ASSERT_FAILS("unknown option -x", "-x");
  ASSERT_FAILS("unknown option -", "-");
  ASSERT_FAILS("unknown option -hV", "-hV");
}

static void test_bad_integer(void **state) {
  (void)state;
  ASSERT_FAILS("--callback-ttl: must be an integer 1..3600, got 'x'", "--callback-ttl",
               "x");
  ASSERT_FAILS("got '12abc'", "--callback-ttl=12abc");
  ASSERT_FAILS("got ''", "--callback-ttl=");
  ASSERT_FAILS("got ' 5'", "--callback-ttl", " 5");
  ASSERT_FAILS("got '5 '", "--callback-ttl", "5 ");
  ASSERT_FAILS("got '1.5'", "--threads", "1.5");
  ASSERT_FAILS("got '0x10'", "--threads", "0x10");
  ASSERT_FAILS("--max-upload-bytes: must be an integer >= 1, got '99999999999999999999'",
               "--max-upload-bytes", "99999999999999999999");
  setenv("BINKD_CALLBACK_TTL", "x", 1);
  ASSERT_FAILS("BINKD_CALLBACK_TTL: must be an integer 1..3600, got 'x'", "--threads",
               "1");
}

static void test_out_of_range(void **state) {
  (void)state;
  ASSERT_FAILS("--callback-ttl: must be an integer 1..3600, got '0'", "--callback-ttl",
               "0");
  ASSERT_FAILS("got '3601'", "--callback-ttl", "3601");
  ASSERT_FAILS("--webhook-timeout: must be an integer 1..300, got '301'",
               "--webhook-timeout=301");
  ASSERT_FAILS("--threads: must be an integer 0..256, got '-1'", "--threads", "-1");
  ASSERT_FAILS("got '257'", "--threads", "257");
  ASSERT_FAILS("--max-body-bytes: must be an integer >= 1024, got '1023'",
               "--max-body-bytes", "1023");
  ASSERT_FAILS("--event-retention: must be an integer >= 60, got '59'",
               "--event-retention", "59");
  ASSERT_FAILS("--connection-limit: must be an integer 1..1000000, got '1000001'",
               "--connection-limit", "1000001");
  ASSERT_FAILS("--connection-timeout: must be an integer 1..3600, got '0'",
               "--connection-timeout", "0");
  ASSERT_FAILS("--max-upload-bytes: must be an integer >= 1, got '0'",
               "--max-upload-bytes", "0");
  ASSERT_FAILS("got '4294967297'", "--threads", "4294967297"); /* would wrap an int */
  assert_int_equal(load("--threads", "0", "--threads", "256", NULL), 0);
  assert_int_equal(fx.c.threads, 256);
}

static void test_bad_strings(void **state) {
  (void)state;
  ASSERT_FAILS("--log-level: must be one of debug|info|warn|error, got 'verbose'",
               "--log-level", "verbose");
  ASSERT_FAILS("--log-level: must be one of", "--log-level", "inf");
  ASSERT_FAILS("--log-format: must be one of text|json, got 'xml'", "--log-format=xml");
  ASSERT_FAILS("--data: must not be empty", "--data=");
  setenv("BINKD_LOG_LEVEL", "loud", 1);
  ASSERT_FAILS("BINKD_LOG_LEVEL: must be one of debug|info|warn|error, got 'loud'",
               "--threads", "1");
  unsetenv("BINKD_LOG_LEVEL");
  setenv("BINKD_DEMO", "maybe", 1);
  ASSERT_FAILS("BINKD_DEMO: must be true or false, got 'maybe'", "--threads", "1");
  unsetenv("BINKD_DEMO");

  char longer[1100];
  memset(longer, 'a', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  ASSERT_FAILS("--data: too long", "--data", longer);
}

static void test_listen(void **state) {
  (void)state;
  static const char *const good[] = {"127.0.0.1:8080", "[::1]:8080", "localhost:0",
                                     "0.0.0.0:65535",  "[::]:1",     "example.com:443"};
  static const char *const bad[] = {"8080",      "host:",    "host:65536", "::1:80",
                                    "[::1]8080", "host:80x", ":8080",      "[]:80",
                                    "[::1]:",    "host:-1",  "host:+80",   "host:123456"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    if (load("--listen", good[i], NULL) != 0)
      fail_msg("%s: %s", good[i], fx.err);
    assert_string_equal(fx.c.listen, good[i]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (load("--listen", bad[i], NULL) != -1)
      fail_msg("%s accepted", bad[i]);
    assert_err("--listen: must be host:port or [v6]:port");
  }
}

static void test_missing_value(void **state) {
  (void)state;
  ASSERT_FAILS("--listen: missing value", "--listen");
  ASSERT_FAILS("--owner: missing value", "bot", "add", "bob", "--owner");
  ASSERT_FAILS("--config: missing value", "--config");
}

/* ---- positional arguments and subcommand options ---------------------- */

static void test_positional_and_subcommand(void **state) {
  (void)state;
  assert_int_equal(load("--data", "/d", "bot", "add", "bob", "--owner", "alice",
                        "--display-name=Bob the Bot", "--webhook", "http://h/hook", NULL),
                   0);
  assert_int_equal(fx.c.nargs, 3);
  assert_string_equal(fx.c.args[0], "bot");
  assert_string_equal(fx.c.args[1], "add");
  assert_string_equal(fx.c.args[2], "bob");
  assert_string_equal(fx.c.owner, "alice");
  assert_string_equal(fx.c.display_name, "Bob the Bot");
  assert_string_equal(fx.c.webhook, "http://h/hook");
  assert_null(fx.c.set);
  assert_string_equal(fx.c.data, "/d");
  assert_ptr_equal(fx.c.args[0], fx.argv[3]); /* points into argv */
  assert_ptr_equal(fx.c.owner, fx.argv[7]);

  assert_int_equal(load("stickers", "import", "./stickers", "--set", "cats", NULL), 0);
  assert_int_equal(fx.c.nargs, 3);
  assert_string_equal(fx.c.args[2], "./stickers");
  assert_string_equal(fx.c.set, "cats");
  assert_null(fx.c.owner);

  /* Values may start with '-'; after "--" everything is positional. */
  assert_int_equal(
      load("user", "add", "--display-name", "-dash-", "--", "--not-an-option", NULL), 0);
  assert_string_equal(fx.c.display_name, "-dash-");
  assert_int_equal(fx.c.nargs, 3);
  assert_string_equal(fx.c.args[2], "--not-an-option");
}

static void test_too_many_args(void **state) {
  (void)state;
  char *argv[BINKD_ARGS_MAX + 3];
  argv[0] = "binkd";
  for (int i = 1; i <= BINKD_ARGS_MAX + 1; i++)
    argv[i] = "x";
  argv[BINKD_ARGS_MAX + 2] = NULL;
  char err[256] = "";
  binkd_config c;
  assert_int_equal(binkd_config_load(&c, BINKD_ARGS_MAX + 1, argv, err, sizeof err), 0);
  assert_int_equal(c.nargs, BINKD_ARGS_MAX);
  assert_int_equal(binkd_config_load(&c, BINKD_ARGS_MAX + 2, argv, err, sizeof err), -1);
  assert_non_null(strstr(err, "too many arguments"));
}

/* ---- derived values ---------------------------------------------------- */

static void test_derived(void **state) {
  (void)state;
  assert_int_equal(load("--data", "/srv/bink", "--listen", "[::1]:9999", NULL), 0);
  assert_string_equal(fx.c.db, "sqlite:/srv/bink/bink.db");
  assert_string_equal(fx.c.public_url, "http://[::1]:9999");

  assert_int_equal(load("--data", "/srv/bink/", NULL), 0);
  assert_string_equal(fx.c.db, "sqlite:/srv/bink/bink.db");

  assert_int_equal(
      load("--db", "postgresql://u@h/bink", "--public-url", "https://x.org", NULL), 0);
  assert_string_equal(fx.c.db, "postgresql://u@h/bink");
  assert_string_equal(fx.c.public_url, "https://x.org");

  setenv("BINKD_DATA", "/env/data", 1);
  assert_int_equal(load(NULL), 0);
  assert_string_equal(fx.c.db, "sqlite:/env/data/bink.db");
}

static void test_null_err(void **state) {
  (void)state;
  char *argv[] = {"binkd", "--foo", NULL};
  binkd_config c;
  assert_int_equal(binkd_config_load(&c, 2, argv, NULL, 0), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, clear_env, clear_env)
      T(test_defaults),
      T(test_cli_value_forms),
      T(test_cli_flags),
      T(test_help_version),
      T(test_usage),
      T(test_cli_over_env),
      T(test_env_over_default),
      T(test_env_negated_flags),
      T(test_empty_env_is_unset),
      T(test_env_over_file),
      T(test_file_over_default),
      T(test_cli_over_file),
      T(test_config_from_env),
      T(test_file_flags),
      T(test_file_syntax),
      T(test_file_malformed),
      T(test_unknown_key),
      T(test_file_bad_value),
      T(test_missing_config_file),
      T(test_unknown_option),
      T(test_bad_integer),
      T(test_out_of_range),
      T(test_bad_strings),
      T(test_listen),
      T(test_missing_value),
      T(test_positional_and_subcommand),
      T(test_too_many_args),
      T(test_derived),
      T(test_null_err),
#undef T
  };
  return cmocka_run_group_tests(tests, clear_env, clear_env);
}
