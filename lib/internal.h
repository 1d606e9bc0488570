/*
 * internal.h - libbink's private helpers (prefix bink__). Not installed.
 */
#ifndef BINK_INTERNAL_H
#define BINK_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>

#include "bink.h"

#define BINK__HIDDEN __attribute__((visibility("hidden")))

/* ---- growable byte buffer with a hard cap set at creation ---- */
typedef struct bink__buf {
  char *data;     /* NUL-terminated when not NULL */
  size_t len;
  size_t cap;     /* allocated bytes */
  size_t max;     /* never more than max bytes of content */
  int overflow;   /* set when an append would have passed max */
} bink__buf;

BINK__HIDDEN void bink__buf_init(bink__buf *b, size_t max);
/* Appends n bytes; BINK_E_PROTOCOL (and overflow set) past the cap,
 * BINK_E_NOMEM when allocation fails. */
BINK__HIDDEN bink_status bink__buf_append(bink__buf *b, const void *p, size_t n);
BINK__HIDDEN void bink__buf_free(bink__buf *b);

/* ---- the client ---- */
struct bink_client {
  CURL *curl;
  char *base_url;              /* without a trailing '/' */
  char *auth_header;           /* "Authorization: Bearer <token>" */
  long timeout_s;
  long connect_timeout_s;
  size_t max_response;
  int retry_429;
  long max_retry_wait_s;
  const volatile sig_atomic_t *cancel;
  bink_error err;
  int conn_lost;               /* last exchange: connection closed before
                                  any answer (a restart, not a bad server) */
  char curl_err[CURL_ERROR_SIZE];
};

/* Records an error on the client (printf-style msg) and returns status. */
BINK__HIDDEN bink_status bink__fail(bink_client *c, bink_status st, int code, const char *fmt,
                                    ...) __attribute__((format(printf, 4, 5)));
BINK__HIDDEN void bink__ok(bink_client *c);

/* Reads a response envelope: body[0..len) with the HTTP status. On
 * BINK_OK *data (may be NULL) holds a new reference to data (json null when
 * absent). Otherwise err describes the API or protocol error. */
BINK__HIDDEN bink_status bink__envelope_parse(const char *body, size_t len, long http_status,
                                              json_t **data, bink_error *err);

/* POSTs params (borrowed; NULL = {}) to /bot/<method> and unwraps the
 * envelope. extra_timeout_s is added to the client's timeout (long polls).
 * *data (may be NULL) receives a new reference on success. */
BINK__HIDDEN bink_status bink__call(bink_client *c, const char *method, json_t *params,
                                    const char *idempotency_key, long extra_timeout_s,
                                    json_t **data);

/* As bink__call with a multipart body (uploads). */
BINK__HIDDEN bink_status bink__call_mime(bink_client *c, const char *method, curl_mime *mime,
                                         json_t **data);

/* Sleeps for seconds, waking every 100 ms to check the cancel flag;
 * BINK_E_CANCELLED when it was set. */
BINK__HIDDEN bink_status bink__sleep(bink_client *c, long seconds);
BINK__HIDDEN int bink__cancelled(const bink_client *c);

/* ---- JSON to structs (objects.c). They return BINK_OK, BINK_E_PARSE
 * (err says which key) or BINK_E_NOMEM; on failure *out is cleared. ---- */
BINK__HIDDEN bink_status bink__event_from_json(json_t *obj, bink_event *out, char *err,
                                               size_t err_size);
BINK__HIDDEN bink_status bink__message_from_json(json_t *obj, bink_message *out, char *err,
                                                 size_t err_size);
BINK__HIDDEN bink_status bink__file_from_json(json_t *obj, bink_file *out, char *err,
                                              size_t err_size);
BINK__HIDDEN bink_status bink__bot_from_json(json_t *obj, bink_bot *out, char *err,
                                             size_t err_size);
BINK__HIDDEN bink_status bink__group_from_json(json_t *obj, bink_group *out, char *err,
                                               size_t err_size);
BINK__HIDDEN bink_status bink__commands_from_json(json_t *obj, bink_command_list *out,
                                                  char *err, size_t err_size);
BINK__HIDDEN bink_status bink__webhook_info_from_json(json_t *obj, bink_webhook_info *out,
                                                      char *err, size_t err_size);
BINK__HIDDEN bink_status bink__delete_result_from_json(json_t *obj, bink_delete_result *out,
                                                       char *err, size_t err_size);

/* A JSON copy of the keyboard's rows (empty rows left out); NULL on OOM. */
BINK__HIDDEN json_t *bink__keyboard_json(const bink_keyboard *kb);

/* The webhook key of a secret (events.md): BINK_OK with key[0..*len),
 * or BINK_E_SECRET. key must hold 256 bytes. */
BINK__HIDDEN bink_status bink__webhook_key(const char *secret, unsigned char *key, size_t *len);

#endif /* BINK_INTERNAL_H */
