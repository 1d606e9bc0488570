#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static binkd_log_level log__threshold = BINKD_LOG_INFO;
static bool log__json = false;

static const char *const log__names[] = {"debug", "info", "warn", "error"};

void binkd_log_setup(const char *level, const char *format) {
  for (int i = 0; i < 4; i++)
    if (level && strcmp(level, log__names[i]) == 0)
      log__threshold = (binkd_log_level)i;
  log__json = format && strcmp(format, "json") == 0;
}

static void log__time(char *out, size_t n) {
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, n - k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static void log__write(const char *line, size_t len) {
  /* One write per line keeps lines whole when threads log at once. */
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

static void log__emit_json(json_t *obj) {
  /* ms: 6 significant digits, not the 17 that show binary noise */
  char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
  if (s) {
    size_t n = strlen(s);
    s[n] = '\n'; /* json_dumps leaves room only for the NUL: rewrite it */
    log__write(s, n + 1);
    free(s);
  }
  json_decref(obj);
}

void binkd_log(binkd_log_level level, const char *fmt, ...) {
  if (level < log__threshold)
    return;
  char msg[1024], ts[40];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  log__time(ts, sizeof ts);
  if (log__json) {
    log__emit_json(json_pack("{s:s, s:s, s:s}", "time", ts, "level",
                             log__names[level], "msg", msg));
    return;
  }
  char line[1100];
  int n = snprintf(line, sizeof line, "%s %s %s\n", ts, log__names[level], msg);
  if (n > (int)sizeof line - 1)
    n = (int)sizeof line - 1, line[n - 1] = '\n';
  log__write(line, (size_t)n);
}

void binkd_log_access(const char *request_id, const char *method,
                      const char *path, int status, double ms,
                      uint64_t bytes, const char *caller) {
  if (BINKD_LOG_INFO < log__threshold)
    return;
  char ts[40];
  log__time(ts, sizeof ts);
  if (log__json) {
    log__emit_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:f, s:I, s:s}",
                             "time", ts, "level", "info", "request_id",
                             request_id, "method", method, "path", path,
                             "status", status, "ms", ms, "bytes",
                             (json_int_t)bytes, "caller", caller));
    return;
  }
  char line[1024];
  int n = snprintf(line, sizeof line, "%s info %s %s %.200s %d %.2f %llu %s\n",
                   ts, request_id, method, path, status, ms,
                   (unsigned long long)bytes, caller);
  if (n > (int)sizeof line - 1)
    n = (int)sizeof line - 1, line[n - 1] = '\n';
  log__write(line, (size_t)n);
}
