/*
 * log.h: binkd's log lines on stderr, as text or as JSON (--log-format).
 * Tokens and request bodies are never passed here.
 */
#ifndef BINKD_LOG_H
#define BINKD_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum binkd_log_level {
  BINKD_LOG_DEBUG = 0,
  BINKD_LOG_INFO,
  BINKD_LOG_WARN,
  BINKD_LOG_ERROR
} binkd_log_level;

/* Sets the threshold and the format. level is "debug|info|warn|error",
 * format "text|json"; unknown values keep the defaults (info, text). */
void binkd_log_setup(const char *level, const char *format);

/* One line: "<UTC time> <level> <message>" (or a JSON object with "time",
 * "level" and "msg"). Thread-safe: one write(2) per line. */
void binkd_log(binkd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The access-log line of one request (server.md "Logs"):
 * time level request_id method path status ms bytes caller.
 * caller is an external id or "-"; path never holds the query string. */
void binkd_log_access(const char *request_id, const char *method,
                      const char *path, int status, double ms,
                      uint64_t bytes, const char *caller);

#endif
