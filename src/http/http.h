/*
 * http.h: what an endpoint handler sees of the HTTP layer.
 *
 * The layer (server.c) reads the request on libmicrohttpd, enforces the
 * body cap while reading, parses JSON / form / query parameters into one
 * JSON object, authenticates the caller and calls the route's handler. The
 * handler reads parameters with http_param_*(), then either replies at once
 * (http_reply() and BINK_OK, or an error code with r->err filled), or hands
 * a write to the store with http_defer() and returns BINK_AGAIN: the
 * connection is suspended (no thread waits) and resumed after the commit,
 * when `cont` builds the reply.
 *
 * Every reply is the envelope of bot-api.md: {"code","msg","data"}.
 * Per-request memory (http_alloc, the parameters, the reply) is released in
 * one place when the request completes.
 */
#ifndef BINK_HTTP_H
#define BINK_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/result.h"
#include "store/store.h"

struct binkd_ctx;

typedef struct http_req http_req;
typedef bink_rc (*http_handler)(http_req *r);

typedef enum http_auth {
  HTTP_AUTH_NONE = 0,
  HTTP_AUTH_BOT,  /* Authorization: Bearer <bot token> */
  HTTP_AUTH_USER  /* Authorization: Bearer <user token> */
} http_auth;

enum {
  HTTP_ROUTE_GET = 1 << 0,     /* also GET with a query string (read-only) */
  HTTP_ROUTE_GET_ONLY = 1 << 1, /* GET only (health, static) */
  HTTP_ROUTE_PREFIX = 1 << 2,   /* path is a prefix: "/file/" matches
                                   "/file/<id>" */
  HTTP_ROUTE_UPLOAD = 1 << 3    /* takes multipart/form-data (RFC 7578)
                                   only, streamed to a temporary file: see
                                   http_upload_info() */
};

typedef struct http_route {
  const char *path; /* lower case, e.g. "/bot/sendmessage" */
  http_handler handler;
  http_auth auth;
  unsigned flags;
} http_route;

/* A (pointer, length) string; p == NULL means absent. Not NUL-terminated
 * unless said; the parameters' strings are (they live in jansson). */
typedef struct bink_str {
  const char *p;
  size_t n;
} bink_str;

struct http_req {
  struct binkd_ctx *ctx;     /* server-wide state */
  const http_route *route;
  bool authenticated;
  char request_id[40];
  const char *idempotency_key; /* header value or NULL */

  /* Set by the handler: */
  bink_err err;              /* message of an error reply */
  json_t *data;              /* reply data (owned) */
  int retry_after;           /* seconds, for 429 */

  /* Deferred write: */
  json_t *out;               /* the operation's result (owned) */
  void *state;               /* the handler's, kept across suspensions */
  store_job job;
  http_handler cont;

  struct http_req__private *priv; /* the layer's */

  /* Last, and not zeroed when a request starts (it is large): valid when
   * `authenticated`. */
  bink_account caller;       /* the authenticated user or bot */
};

/* Allocates n zeroed bytes that live until the request completes. NULL only
 * when memory runs out. */
void *http_alloc(http_req *r, size_t n);

/* Formats an error into r->err and returns code. */
bink_rc http_fail(http_req *r, bink_rc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reply data (steals the reference): a 200 envelope. Returns BINK_OK,
 * or BINK_EINTERNAL when data is NULL (memory ran out). */
bink_rc http_reply(http_req *r, json_t *data);

/* The success envelope {"code":200,"msg":"ok","data":data} serialised
 * exactly as http_reply sends it (jansson, compact): a malloc'd buffer the
 * caller frees, its length in *len (no NUL counted); NULL when memory runs
 * out. data is borrowed. For replies a handler keeps and sends again. */
char *http_envelope_ok(json_t *data, size_t *len);

/* Sends a success envelope serialised earlier by http_envelope_ok (the
 * layer copies body[0..len)), with http_reply's status and headers.
 * Returns BINK_OK, or BINK_EINTERNAL when memory runs out. */
bink_rc http_reply_serialised(http_req *r, const char *body, size_t len);

/* ---- parameters ----
 * Each returns BINK_OK (absent or present), or BINK_EINVAL with r->err set:
 * "<name> is required", "<name> must be a string" / "an integer" /
 * "a boolean" / "an object" / "an array". JSON null counts as absent.
 * Form and query values are strings; integers and booleans are parsed from
 * them ("true"/"false"/"1"/"0"), and nested values (`extra`, `message_ids`,
 * `commands`) are JSON-encoded strings. */
bink_rc http_param_str(http_req *r, const char *name, bool required,
                       bink_str *out);
bink_rc http_param_int(http_req *r, const char *name, bool required,
                       bool *present, int64_t *out);
bink_rc http_param_bool(http_req *r, const char *name, bool required,
                        bool *present, bool *out);
/* A nested JSON value of the given type (JSON_OBJECT or JSON_ARRAY); *out
 * is borrowed (lives as long as the request) or NULL when absent. */
bink_rc http_param_json(http_req *r, const char *name, json_type type,
                        bool required, const json_t **out);
/* True when the parameter is present and not null. */
bool http_param_has(http_req *r, const char *name);

/* The raw request body and its SHA-256 (for Idempotency-Key). */
void http_body_hash(http_req *r, unsigned char out[32]);

/* Hands fn(arg) to the store's writer; returns BINK_AGAIN. After the commit
 * the request is resumed and cont(r) runs with r->job.rc and r->job.err
 * holding the outcome. */
bink_rc http_defer(http_req *r, store_job_fn fn, void *arg, http_handler cont);

/* Suspends the request without a store job (a long poll, a stream): no
 * thread waits. cont(r) runs once someone calls http_resume(r), which must
 * happen exactly once, from any thread. Returns BINK_AGAIN. */
bink_rc http_suspend(http_req *r, http_handler cont);
void http_resume(http_req *r);

/* A reply that is not the envelope (file bytes, an event stream, a page).
 * The layer adds X-Request-Id and queues it with `status`; it takes the
 * response over (destroys it) in every case. Returns BINK_OK. */
struct MHD_Response;
bink_rc http_reply_raw(http_req *r, unsigned status, struct MHD_Response *resp);

/* As http_reply_raw, for a reply that stays open (an event stream). Once
 * it is queued the request's state is released (parameters, http_alloc
 * blocks, the caller's account: several KiB) and only its access-log line
 * is kept, so an idle stream costs little memory. The response's callbacks
 * must therefore use nothing of the request (r, its parameters, headers or
 * http_alloc blocks). */
bink_rc http_reply_stream(http_req *r, unsigned status,
                          struct MHD_Response *resp);

/* A request header (case-insensitive name), or NULL. */
const char *http_header(http_req *r, const char *name);

/* The request path as sent (percent-decoded, not lower-cased), for routes
 * that carry an id (HTTP_ROUTE_PREFIX). */
const char *http_path(http_req *r);

/* The connection, for libmicrohttpd calls a handler needs (post processor,
 * connection info). */
struct MHD_Connection *http_connection(http_req *r);

/* ---- uploads (HTTP_ROUTE_UPLOAD) ----
 * The body of an upload route must be multipart/form-data (else 415). It
 * is never buffered whole: libmicrohttpd's post processor splits it into
 * parts and the bytes of the first part named `file` are written, as they
 * arrive (gathered 128 KiB at a time), to a temporary file in <data>/tmp
 * while their SHA-256 is computed (OpenSSL EVP). Other parts are ignored.
 * More than --max-upload-bytes in that part ends the upload at the first
 * byte past the limit with 413 before the handler runs, and the temporary
 * file is removed; so is the file of an upload the client abandons. The
 * caller is authenticated before the body is read. */
typedef struct http_upload {
  int parts;               /* parts named "file" (only the first is kept) */
  const char *tmp_path;    /* NUL-terminated path of the first `file`
                              part's bytes (written and fsync'ed), "" when
                              it was empty or absent; the layer deletes
                              this name when the request completes, so a
                              handler that keeps the bytes links them under
                              another name first (svc/files.h) */
  uint64_t size;           /* bytes in that part */
  unsigned char sha256[32]; /* of those bytes */
  const char *disposition; /* that part's Content-Disposition value as
                              sent (for RFC 5987 filename*), or "" */
  const char *filename;    /* its filename="…" as libmicrohttpd read it,
                              or NULL */
} http_upload;

/* The upload of this request, or NULL on routes without HTTP_ROUTE_UPLOAD.
 * Valid until the request completes. */
const http_upload *http_upload_info(http_req *r);

/* ---- the server ---- */
typedef struct http_server http_server;

/* Starts listening on ctx->cfg->listen with the routes (terminated by an
 * entry with path NULL). On success *out is running and actual_port holds
 * the bound port. Returns BINK_OK or BINK_EUNAVAIL with err set. */
bink_rc http_server_start(struct binkd_ctx *ctx, const http_route *routes,
                          http_server **out, int *actual_port, bink_err *err);

/* Stops accepting, waits up to grace_seconds for requests in flight, then
 * closes every connection and frees the server. */
void http_server_stop(http_server *s, int grace_seconds);

#endif
