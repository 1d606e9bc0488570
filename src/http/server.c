/*
 * server.c: binkd's HTTP transport on libmicrohttpd.
 *
 * One request goes through these phases (http__access):
 *   START   headers read: route, method, content type and size checked
 *   BODY    body chunks appended to a buffer capped at --max-body-bytes
 *   RUN     parameters parsed, caller authenticated, handler called
 *   WAIT    (deferred write) connection suspended until the commit
 *   RESUMED the handler's continuation builds the reply
 * The reply is queued once; the request's memory is released in
 * http__completed(), which also writes the access-log line.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/render.h"
#include "core/rules.h"
#include "ctx.h"
#include "http/authcache.h"
#include "http/ratelimit.h"
#include "http/session.h"
#include "http/upload.h"
#include "log.h"
#include "metrics.h"

#define HTTP__PATH_MAX 256
#define HTTP__UPLOAD_SLACK (1024 * 1024) /* multipart framing and ignored
                                            parts beyond --max-upload-bytes */
#define HTTP__DISCARD_MAX (64u * 1024 * 1024) /* then the connection closes */
/* libmicrohttpd's memory pool per connection (its default is 32 KiB). It
 * reads a request into the first half and, when the reply starts, zeroes
 * what the request left unused of that half (0.9.75, connection.c
 * connection_shrink_read_buffer): every connection that has answered, and
 * every idle event stream, keeps that half resident. 16 KiB makes an idle
 * stream ~8 KiB cheaper (docs/PERFORMANCE.md, "Memory per idle waiter");
 * request headers may then take up to ~15 KB (431 beyond), and an upload
 * arrives in ~8 KiB pieces, which upload.c gathers before writing them. */
#define HTTP__POOL_BYTES ((size_t)16 * 1024)

struct http_server {
  struct MHD_Daemon *daemon;
  const http_route *routes;
  binkd_ctx *ctx;
  atomic_int inflight;
  atomic_bool stopping;      /* new requests get 503 and never suspend */
  http_ratelimit *ratelimit; /* NULL: no limit */
};

typedef enum http__phase {
  PH_START = 0,
  PH_BODY,
  PH_RUN,
  PH_WAIT,
  PH_RESUMED,
  PH_DONE
} http__phase;

typedef enum http__body_kind {
  BODY_NONE = 0,
  BODY_JSON,
  BODY_FORM
} http__body_kind;

struct http__block {
  struct http__block *next;
  max_align_t align[];
};

struct http_req__private {
  http_server *server;
  struct MHD_Connection *conn;
  http__phase phase;
  struct timespec started;
  char method[16];
  bool bad_uri;              /* the raw path holds %00 */
  struct MHD_Response *raw;  /* http_reply_raw() */
  char *ready;               /* http_reply_serialised(): the body */
  size_t ready_len;
  unsigned raw_status;
  bool stream;               /* http_reply_stream(): shed the state once
                                the reply is queued */
  void **slot;               /* libmicrohttpd's pointer to the request
                                (*con_cls), to swap it then */
  int status;
  uint64_t bytes_out;

  /* body */
  http__body_kind body_kind;
  char *body;
  size_t body_len, body_cap;
  uint64_t discarded;
  bink_rc early_rc;          /* error found before the body was read */
  http__upload *upload;      /* HTTP_ROUTE_UPLOAD routes (upload.h) */
  bool upload_route;         /* the route is one of those */
  bool respond_now;          /* refused before its (large) body is read */
  uint64_t received;         /* body bytes of an upload route so far */

  /* parameters */
  json_t *params;
  bool form;
  json_t *owned;             /* values parsed from form strings */
  struct MHD_PostProcessor *pp;
  char *form_val;
  size_t form_len, form_cap;
  bool form_bad;             /* invalid UTF-8 or oversize key */

  struct http__block *blocks;

  /* Text buffers last: a new request zeroes only what comes before them
   * (http__uri_log) and empties these. */
  char path[HTTP__PATH_MAX]; /* lower case, for routing and the log */
  char raw_path[HTTP__PATH_MAX]; /* as sent */
  char form_key[128];
  char form_bad_key[128];
};

/* What libmicrohttpd keeps for a request (*con_cls): the whole request
 * while it is read and handled; for an event stream, once its reply is
 * queued (http_reply_stream), only what its access-log line needs, so
 * that the thousands of streams a server may hold open cost a few hundred
 * bytes each here instead of the request's several kilobytes (the
 * caller's account alone is ~5 KiB). Both begin with `kind`. */
enum { HTTP__SLOT_REQUEST = 1, HTTP__SLOT_STREAM };

struct http__reqmem {
  int kind; /* HTTP__SLOT_REQUEST */
  http_req req;
  struct http_req__private priv;
};

struct http__streamed {
  int kind; /* HTTP__SLOT_STREAM */
  struct timespec started;
  int status;
  int endpoint; /* metrics.h */
  uint64_t bytes_out;
  const char *request_id, *method, *path, *caller; /* in text */
  char text[];
};

static struct http__reqmem *http__reqmem_of(http_req *r) {
  return (struct http__reqmem *)((char *)r -
                                 offsetof(struct http__reqmem, req));
}

/* Each thread keeps the block of its last finished request for its next
 * one: a block is several KiB, beyond glibc's per-thread cache, and a
 * malloc and a free of it per request showed in profiles (_int_malloc,
 * _int_free, malloc_consolidate). Freed when the thread ends. */
static pthread_key_t http__spare_key;
static bool http__spare_ok;
static pthread_once_t http__spare_once = PTHREAD_ONCE_INIT;

static void http__spare_init(void) {
  http__spare_ok = pthread_key_create(&http__spare_key, free) == 0;
}

static struct http__reqmem *http__reqmem_new(void) {
  pthread_once(&http__spare_once, http__spare_init);
  struct http__reqmem *m =
      http__spare_ok ? pthread_getspecific(http__spare_key) : NULL;
  if (m && pthread_setspecific(http__spare_key, NULL) == 0)
    return m;
  return malloc(sizeof(struct http__reqmem));
}

static void http__reqmem_free(struct http__reqmem *m) {
  if (http__spare_ok && !pthread_getspecific(http__spare_key) &&
      pthread_setspecific(http__spare_key, m) == 0)
    return;
  free(m);
}

/* ---------------------------------------------------------------------- */
/* Small helpers for handlers                                              */

void *http_alloc(http_req *r, size_t n) {
  struct http__block *b = calloc(1, sizeof *b + n);
  if (!b)
    return NULL;
  b->next = r->priv->blocks;
  r->priv->blocks = b;
  return b->align;
}

bink_rc http_fail(http_req *r, bink_rc code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  bink_vfail(&r->err, code, fmt, ap); /* keeps a cut message UTF-8 */
  va_end(ap);
  return code;
}

bink_rc http_reply(http_req *r, json_t *data) {
  if (!data)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  json_decref(r->data);
  r->data = data;
  return BINK_OK;
}

void http_body_hash(http_req *r, unsigned char out[32]) {
  /* The parameters as one canonical JSON text (keys sorted), so that the
   * same request sent with its keys in another order, or as a form, is the
   * same request; and the path, because the same parameters sent to
   * another endpoint are another request. */
  char *params = r->priv->params
                     ? json_dumps(r->priv->params, JSON_COMPACT |
                                                       JSON_SORT_KEYS)
                     : NULL;
  size_t plen = strlen(r->priv->path), jlen = params ? strlen(params) : 0;
  char *buf = malloc(plen + 1 + jlen + 1);
  if (!buf) {
    free(params);
    memset(out, 0, 32);
    return;
  }
  memcpy(buf, r->priv->path, plen);
  buf[plen] = '\n';
  if (jlen)
    memcpy(buf + plen + 1, params, jlen);
  bink_sha256(buf, plen + 1 + jlen, out);
  free(buf);
  free(params);
}

/* ---------------------------------------------------------------------- */
/* Parameters                                                              */

static json_t *http__param(http_req *r, const char *name) {
  json_t *v = r->priv->params ? json_object_get(r->priv->params, name) : NULL;
  return json_is_null(v) ? NULL : v;
}

bool http_param_has(http_req *r, const char *name) {
  return http__param(r, name) != NULL;
}

bink_rc http_param_str(http_req *r, const char *name, bool required,
                       bink_str *out) {
  out->p = NULL;
  out->n = 0;
  json_t *v = http__param(r, name);
  if (!v)
    return required ? http_fail(r, BINK_EINVAL, "%s is required", name)
                    : BINK_OK;
  if (!json_is_string(v))
    return http_fail(r, BINK_EINVAL, "%s must be a string", name);
  out->p = json_string_value(v);
  out->n = json_string_length(v);
  return BINK_OK;
}

static bool http__parse_i64(const char *s, int64_t *out) {
  if (!*s)
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || isspace((unsigned char)*s))
    return false;
  *out = v;
  return true;
}

bink_rc http_param_int(http_req *r, const char *name, bool required,
                       bool *present, int64_t *out) {
  json_t *v = http__param(r, name);
  if (present)
    *present = v != NULL;
  if (!v)
    return required ? http_fail(r, BINK_EINVAL, "%s is required", name)
                    : BINK_OK;
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return BINK_OK;
  }
  if (r->priv->form && json_is_string(v) &&
      http__parse_i64(json_string_value(v), out))
    return BINK_OK;
  return http_fail(r, BINK_EINVAL, "%s must be an integer", name);
}

bink_rc http_param_bool(http_req *r, const char *name, bool required,
                        bool *present, bool *out) {
  json_t *v = http__param(r, name);
  if (present)
    *present = v != NULL;
  if (!v)
    return required ? http_fail(r, BINK_EINVAL, "%s is required", name)
                    : BINK_OK;
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return BINK_OK;
  }
  if (r->priv->form && json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
      *out = true;
      return BINK_OK;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
      *out = false;
      return BINK_OK;
    }
  }
  return http_fail(r, BINK_EINVAL, "%s must be a boolean", name);
}

bink_rc http_param_json(http_req *r, const char *name, json_type type,
                        bool required, const json_t **out) {
  *out = NULL;
  const char *what = type == JSON_OBJECT ? "an object" : "an array";
  json_t *v = http__param(r, name);
  if (!v)
    return required ? http_fail(r, BINK_EINVAL, "%s is required", name)
                    : BINK_OK;
  if (r->priv->form && json_is_string(v)) {
    json_error_t e;
    json_t *parsed = json_loadb(json_string_value(v), json_string_length(v),
                                JSON_DECODE_ANY, &e);
    if (!parsed)
      return http_fail(r, BINK_EINVAL, "%s must be %s encoded as JSON: %s",
                       name, what, e.text);
    if (!r->priv->owned)
      r->priv->owned = json_array();
    json_array_append_new(r->priv->owned, parsed);
    v = parsed;
  }
  if (json_typeof(v) != type)
    return http_fail(r, BINK_EINVAL, "%s must be %s", name, what);
  *out = v;
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* Body parsing                                                            */

static bool http__append(char **buf, size_t *len, size_t *cap, const char *d,
                         size_t n, size_t max) {
  if (*len + n > max)
    return false;
  if (*len + n > *cap) {
    size_t c = *cap ? *cap : 1024;
    while (c < *len + n)
      c *= 2;
    if (c > max)
      c = max;
    char *b = realloc(*buf, c);
    if (!b)
      return false;
    *buf = b;
    *cap = c;
  }
  memcpy(*buf + *len, d, n);
  *len += n;
  return true;
}

/* Stores the form value collected so far under its key. */
static void http__form_flush(struct http_req__private *p) {
  if (!p->form_key[0])
    return;
  const char *val = p->form_val ? p->form_val : "";
  if (!bink_utf8_valid(val, p->form_len)) {
    if (!p->form_bad)
      snprintf(p->form_bad_key, sizeof p->form_bad_key, "%s", p->form_key);
    p->form_bad = true;
  } else {
    json_object_set_new(p->params, p->form_key,
                        json_stringn_nocheck(val, p->form_len));
  }
  p->form_key[0] = '\0';
  p->form_len = 0;
}

static enum MHD_Result http__form_iter(void *cls, enum MHD_ValueKind kind,
                                       const char *key, const char *filename,
                                       const char *content_type,
                                       const char *transfer_encoding,
                                       const char *data, uint64_t off,
                                       size_t size) {
  struct http_req__private *p = cls;
  if (off == 0 || strcmp(key, p->form_key) != 0) {
    http__form_flush(p);
    size_t klen = strlen(key);
    if (klen >= sizeof p->form_key || !bink_utf8_valid(key, klen)) {
      p->form_bad = true;
      snprintf(p->form_bad_key, sizeof p->form_bad_key, "a parameter name");
      return MHD_YES;
    }
    memcpy(p->form_key, key, klen + 1);
  }
  if (size && !http__append(&p->form_val, &p->form_len, &p->form_cap, data,
                            size, SIZE_MAX / 2))
    return MHD_NO;
  return MHD_YES;
}

/* Query arguments become string parameters (the body's win). */
static enum MHD_Result http__query_iter(void *cls, enum MHD_ValueKind kind,
                                        const char *key, size_t key_size,
                                        const char *value, size_t value_size) {
  struct http_req__private *p = cls;
  if (!value)
    value = "", value_size = 0;
  if (!bink_utf8_valid(key, key_size) || !bink_utf8_valid(value, value_size)) {
    p->form_bad = true;
    snprintf(p->form_bad_key, sizeof p->form_bad_key, "the query string");
    return MHD_YES;
  }
  if (!json_object_get(p->params, key))
    json_object_set_new(p->params, key,
                        json_stringn_nocheck(value, value_size));
  return MHD_YES;
}

static bool http__is_token_name(const char *k) {
  return strcasecmp(k, "token") == 0 || strcasecmp(k, "access_token") == 0 ||
         strcasecmp(k, "bot_token") == 0;
}

static enum MHD_Result http__query_token_iter(void *cls,
                                              enum MHD_ValueKind kind,
                                              const char *key,
                                              const char *value) {
  bool *found = cls;
  if (http__is_token_name(key)) {
    *found = true;
    return MHD_NO;
  }
  return MHD_YES;
}

/* Strings may not hold NUL (bot-api.md "Request body"); jansson is asked to
 * accept \u0000 so that the error can name the field that holds it. */
static bool http__find_nul(json_t *v, char *path, size_t cap) {
  size_t used = strlen(path);
  if (json_is_string(v))
    return memchr(json_string_value(v), 0, json_string_length(v)) != NULL;
  if (json_is_array(v)) {
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
      snprintf(path + used, cap - used, "[%zu]", i);
      if (http__find_nul(item, path, cap))
        return true;
    }
  } else if (json_is_object(v)) {
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item) {
      snprintf(path + used, cap - used, "%s%s", used ? "." : "", k);
      if (http__find_nul(item, path, cap))
        return true;
    }
  }
  path[used] = '\0';
  return false;
}

/* jansson refuses integers beyond int64 before any field is known; find
 * the key written just before the error position so the message can name
 * it. Returns false when the text around it is not `"key": number`. */
static bool http__key_before(const char *body, size_t pos, char *key,
                             size_t cap) {
  size_t i = pos;
  while (i > 0 && strchr("0123456789+-.eE", body[i - 1]))
    i--;
  while (i > 0 && isspace((unsigned char)body[i - 1]))
    i--;
  if (i == 0 || body[--i] != ':')
    return false;
  while (i > 0 && isspace((unsigned char)body[i - 1]))
    i--;
  if (i == 0 || body[--i] != '"')
    return false;
  size_t end = i;
  while (i > 0 && body[i - 1] != '"')
    i--;
  if (i == 0 || end - i >= cap)
    return false;
  memcpy(key, body + i, end - i);
  key[end - i] = '\0';
  return true;
}

static bink_rc http__parse_params(http_req *r) {
  struct http_req__private *p = r->priv;
  p->params = json_object();
  if (!p->params)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  if (p->body_kind == BODY_FORM && p->body_len) {
    /* A JSON object posted with curl's default form type is still JSON. */
    size_t i = 0;
    while (i < p->body_len && isspace((unsigned char)p->body[i]))
      i++;
    if (i < p->body_len && p->body[i] == '{')
      p->body_kind = BODY_JSON;
  }
  if (p->body_kind == BODY_JSON && p->body_len) {
    json_error_t e;
    json_t *obj =
        json_loadb(p->body, p->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    char key[64];
    if (!obj && json_error_code(&e) == json_error_numeric_overflow &&
        e.position > 0 && (size_t)e.position <= p->body_len &&
        http__key_before(p->body, (size_t)e.position, key, sizeof key))
      return http_fail(r, BINK_EINVAL, "%s is out of range (too big a number)",
                       key);
    if (!obj)
      return http_fail(r, BINK_EINVAL,
                       "the body is not valid JSON: %s at line %d column %d "
                       "(byte %d)",
                       e.text, e.line, e.column, e.position);
    if (!json_is_object(obj)) {
      json_decref(obj);
      return http_fail(r, BINK_EINVAL, "the body must be a JSON object");
    }
    json_decref(p->params);
    p->params = obj;
    char path[128] = "";
    if (http__find_nul(obj, path, sizeof path))
      return http_fail(r, BINK_EINVAL, "%s must not contain NUL characters",
                       path);
  } else if (p->body_kind == BODY_FORM && p->body_len) {
    p->form = true;
    p->pp = MHD_create_post_processor(p->conn, 16 * 1024, http__form_iter, p);
    if (!p->pp)
      return http_fail(r, BINK_EINVAL, "the form body cannot be parsed");
    if (MHD_post_process(p->pp, p->body, p->body_len) != MHD_YES)
      return http_fail(r, BINK_EINVAL, "the form body cannot be parsed");
    http__form_flush(p);
  }
  if (r->route->flags & (HTTP_ROUTE_GET | HTTP_ROUTE_GET_ONLY)) {
    if (p->body_kind == BODY_NONE || p->body_len == 0)
      p->form = true;
    MHD_get_connection_values_n(p->conn, MHD_GET_ARGUMENT_KIND,
                                http__query_iter, p);
  }
  if (p->form_bad)
    return http_fail(r, BINK_EINVAL, "%s is not valid UTF-8 (or holds NUL)",
                     p->form_bad_key);
  const char *key;
  json_t *v;
  json_object_foreach(p->params, key, v) {
    if (http__is_token_name(key))
      return http_fail(r, BINK_EAUTH,
                       "tokens are accepted only in the Authorization header");
  }
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* Authentication                                                          */

static bink_rc http__authenticate(http_req *r) {
  const char *who = r->route->auth == HTTP_AUTH_BOT ? "bot" : "user";
  const char *h = MHD_lookup_connection_value(r->priv->conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h && r->route->auth == HTTP_AUTH_USER) {
    /* The web sandbox's session cookie (session.h); never logged. */
    bink_rc src = http_session_authenticate(r);
    if (src != BINK_ENOTFOUND)
      return src;
  }
  if (!h)
    return http_fail(r, BINK_EAUTH, "missing %s token", who);
  while (*h == ' ' || *h == '\t')
    h++;
  if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
    return http_fail(r, BINK_EAUTH,
                     "the Authorization header must be 'Bearer <token>'");
  h += 6;
  while (*h == ' ' || *h == '\t')
    h++;
  size_t n = strlen(h);
  while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
    n--;
  if (n == 0)
    return http_fail(r, BINK_EAUTH, "missing %s token", who);
  unsigned char digest[BINK_SHA256_LEN];
  bink_sha256(h, n, digest);
  authcache *cache = r->ctx->auth_cache;
  bink_rc rc = BINK_OK;
  if (!cache || !authcache_get(cache, digest, &r->caller)) {
    uint64_t gen = cache ? authcache_generation(cache) : 0;
    store_conn *c = store_reader(r->ctx->st);
    if (!c)
      return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
    rc = store_account_by_token(c, digest, &r->caller);
    if (rc == BINK_EUNAVAIL)
      return http_fail(r, rc, "storage unavailable");
    if (rc == BINK_OK && cache)
      authcache_put(cache, digest, &r->caller, gen);
  }
  if (rc != BINK_OK || r->caller.is_bot != (r->route->auth == HTTP_AUTH_BOT))
    return http_fail(r, BINK_EAUTH, "invalid %s token", who);
  r->authenticated = true;
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* Replies                                                                 */

/* Frees what a request holds besides its own block (http__reqmem). */
static void http__release(http_req *r) {
  struct http_req__private *p = r->priv;
  if (p->pp)
    MHD_destroy_post_processor(p->pp);
  http__upload_free(p->upload); /* removes an abandoned upload's file */
  json_decref(p->params);
  json_decref(p->owned);
  json_decref(r->data);
  json_decref(r->out);
  if (p->raw)
    MHD_destroy_response(p->raw);
  free(p->ready);
  free(p->body);
  free(p->form_val);
  while (p->blocks) {
    struct http__block *next = p->blocks->next;
    free(p->blocks);
    p->blocks = next;
  }
}

/* The route's index in the table, for metrics (METRICS_NO_ENDPOINT when
 * the request matched none). */
static int http__endpoint(const http_server *s, const http_route *rt) {
  return rt ? (int)(rt - s->routes) : METRICS_NO_ENDPOINT;
}

/* A stream's reply is queued: libmicrohttpd will not call the handler for
 * this request again, so all that is left to do is its access-log line at
 * the end. Keeps that and frees the rest. Without memory for the small
 * record the request stays whole (more memory, same behaviour). */
static void http__become_stream(http_req *r) {
  struct http_req__private *p = r->priv;
  const char *id = r->request_id[0] ? r->request_id : "-";
  const char *caller = r->authenticated ? r->caller.ext_id : "-";
  size_t ni = strlen(id) + 1, nm = strlen(p->method) + 1,
         np = strlen(p->path) + 1, nc = strlen(caller) + 1;
  struct http__streamed *t = malloc(sizeof *t + ni + nm + np + nc);
  if (!t)
    return;
  t->kind = HTTP__SLOT_STREAM;
  t->started = p->started;
  t->status = p->status;
  t->endpoint = http__endpoint(p->server, r->route);
  t->bytes_out = p->bytes_out;
  char *w = t->text;
  t->request_id = memcpy(w, id, ni);
  t->method = memcpy(w += ni, p->method, nm);
  t->path = memcpy(w += nm, p->path, np);
  t->caller = memcpy(w += np, caller, nc);
  void **slot = p->slot;
  http__release(r);
  http__reqmem_free(http__reqmem_of(r));
  *slot = t;
}

/* An envelope serialised (compact) into a malloc'd block of its exact
 * size, *n its length; NULL when memory runs out. It is written on the
 * stack first and copied once: json_dumps() grows its buffer step by step,
 * then copies it once more and the length is measured again. */
static char *http__dump(const json_t *env, size_t *n) {
  char small[4096];
  char *text = bink_json_text(env, small, sizeof small, n);
  if (text != small)
    return text; /* its own block, or NULL */
  char *body = malloc(*n);
  if (body)
    memcpy(body, small, *n);
  return body;
}

char *http_envelope_ok(json_t *data, size_t *len) {
  json_t *env =
      json_pack("{s:i, s:s, s:O}", "code", 200, "msg", "ok", "data", data);
  char *body = http__dump(env, len);
  json_decref(env);
  return body;
}

bink_rc http_reply_serialised(http_req *r, const char *body, size_t len) {
  char *copy = malloc(len ? len : 1);
  if (!copy)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  memcpy(copy, body, len);
  free(r->priv->ready);
  r->priv->ready = copy;
  r->priv->ready_len = len;
  return BINK_OK;
}

static enum MHD_Result http__queue_envelope(http_req *r, int status,
                                            struct MHD_Response *resp);

/* Makes s[0..n) (NUL-terminated) valid UTF-8 for the JSON envelope and
 * the log: when `cut` (a length limit cut the text), a character cut short
 * at the end is dropped; then, if the text is still not UTF-8, every byte
 * from 0x80 up shows as '?'. Returns the new length. */
static size_t http__utf8_fix(char *s, size_t n, bool cut) {
  for (size_t k = 1; cut && k <= 3 && k <= n && !bink_utf8_valid(s, n); k++)
    if (bink_utf8_valid(s, n - k))
      s[n -= k] = '\0';
  if (!bink_utf8_valid(s, n))
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)s[i] >= 0x80)
        s[i] = '?';
  return n;
}

static enum MHD_Result http__respond(http_req *r, bink_rc rc) {
  struct http_req__private *p = r->priv;
  if (rc == BINK_OK && p->raw) {
    struct MHD_Response *raw = p->raw;
    p->raw = NULL;
    MHD_add_response_header(raw, "X-Request-Id", r->request_id);
    p->status = (int)p->raw_status;
    p->phase = PH_DONE;
    enum MHD_Result ret = MHD_queue_response(p->conn, p->raw_status, raw);
    MHD_destroy_response(raw);
    if (ret == MHD_YES && p->stream)
      http__become_stream(r); /* r is gone */
    return ret;
  }
  int status = rc == BINK_OK ? 200 : (int)rc;
  if (rc == BINK_OK && p->ready) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        p->ready_len, p->ready, MHD_RESPMEM_MUST_FREE);
    if (!resp)
      return MHD_NO; /* p->ready is freed with the request */
    p->bytes_out = p->ready_len;
    p->ready = NULL;
    return http__queue_envelope(r, status, resp);
  }
  const char *msg = "ok";
  if (rc != BINK_OK) {
    if (rc == BINK_EINTERNAL) {
      binkd_log(BINKD_LOG_ERROR, "request %s: %s", r->request_id,
                r->err.msg[0] ? r->err.msg : "internal error");
      snprintf(r->err.msg, sizeof r->err.msg,
               "internal error (request %s)", r->request_id);
    }
    /* a message may quote what the client sent (a file name, an id),
     * cut to the message's size */
    http__utf8_fix(r->err.msg, strlen(r->err.msg), true);
    msg = r->err.msg[0] ? r->err.msg : bink_rc_text(rc);
  }
  json_t *env = json_pack("{s:i, s:s, s:O?}", "code", status, "msg", msg,
                          "data", rc == BINK_OK ? r->data : NULL);
  if (rc != BINK_OK && r->data && env) /* error details where noted */
    json_object_set(env, "data", r->data);
  size_t n = 0;
  char *body = http__dump(env, &n);
  json_decref(env);
  struct MHD_Response *resp;
  if (body) {
    resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
    p->bytes_out = n;
  } else {
    static const char oom[] =
        "{\"code\":500,\"msg\":\"internal error\",\"data\":null}";
    status = 500;
    resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                           MHD_RESPMEM_PERSISTENT);
    p->bytes_out = sizeof oom - 1;
  }
  if (!resp)
    return MHD_NO;
  return http__queue_envelope(r, status, resp);
}

/* Queues an envelope reply with its headers (X-Request-Id, Allow for 405,
 * Retry-After for 429, Connection: close where the body was left unread
 * or for 503). */
static enum MHD_Result http__queue_envelope(http_req *r, int status,
                                            struct MHD_Response *resp) {
  struct http_req__private *p = r->priv;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "application/json; charset=utf-8");
  MHD_add_response_header(resp, "X-Request-Id", r->request_id);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == 405) {
    bool get = r->route && (r->route->flags & HTTP_ROUTE_GET);
    bool get_only = r->route && (r->route->flags & HTTP_ROUTE_GET_ONLY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                            get_only ? "GET, HEAD"
                            : get    ? "GET, HEAD, POST"
                                     : "POST");
  }
  if (status == 503 || p->respond_now) /* respond_now: body left unread */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  if (status == 429 && r->retry_after > 0) {
    char ra[24];
    snprintf(ra, sizeof ra, "%d", r->retry_after);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  p->status = status;
  p->phase = PH_DONE;
  enum MHD_Result ret = MHD_queue_response(p->conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* ---------------------------------------------------------------------- */
/* Deferred writes                                                         */

static void http__job_done(store_job *job) {
  http_req *r = (http_req *)((char *)job - offsetof(http_req, job));
  r->priv->phase = PH_RESUMED;
  MHD_resume_connection(r->priv->conn);
}

bink_rc http_defer(http_req *r, store_job_fn fn, void *arg,
                   http_handler cont) {
  r->job.fn = fn;
  r->job.arg = arg;
  r->job.done = http__job_done;
  r->cont = cont;
  r->priv->phase = PH_WAIT;
  MHD_suspend_connection(r->priv->conn);
  if (store_submit(r->ctx->st, &r->job) != BINK_OK) {
    r->job.rc = BINK_EUNAVAIL;
    http__job_done(&r->job);
  }
  return BINK_AGAIN;
}

bink_rc http_suspend(http_req *r, http_handler cont) {
  r->cont = cont;
  r->job.rc = BINK_OK;
  r->priv->phase = PH_WAIT;
  MHD_suspend_connection(r->priv->conn);
  return BINK_AGAIN;
}

void http_resume(http_req *r) {
  r->priv->phase = PH_RESUMED;
  MHD_resume_connection(r->priv->conn);
}

bink_rc http_reply_raw(http_req *r, unsigned status,
                       struct MHD_Response *resp) {
  if (!resp)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  if (r->priv->raw)
    MHD_destroy_response(r->priv->raw);
  r->priv->raw = resp;
  r->priv->raw_status = status;
  r->priv->stream = false;
  return BINK_OK;
}

bink_rc http_reply_stream(http_req *r, unsigned status,
                          struct MHD_Response *resp) {
  bink_rc rc = http_reply_raw(r, status, resp);
  if (rc == BINK_OK)
    r->priv->stream = true;
  return rc;
}

const char *http_header(http_req *r, const char *name) {
  return MHD_lookup_connection_value(r->priv->conn, MHD_HEADER_KIND, name);
}

const char *http_path(http_req *r) { return r->priv->raw_path; }

struct MHD_Connection *http_connection(http_req *r) { return r->priv->conn; }

const http_upload *http_upload_info(http_req *r) {
  return http__upload_public(r->priv->upload);
}

/* ---------------------------------------------------------------------- */
/* Request phases                                                          */

static const http_route *http__route(http_server *s, const char *path) {
  for (const http_route *rt = s->routes; rt->path; rt++) {
    if (rt->flags & HTTP_ROUTE_PREFIX) {
      size_t n = strlen(rt->path);
      if (strncmp(rt->path, path, n) == 0 && path[n] != '\0')
        return rt;
    } else if (strcmp(rt->path, path) == 0) {
      return rt;
    }
  }
  return NULL;
}

static void http__request_id(http_req *r) {
  const char *in = MHD_lookup_connection_value(r->priv->conn, MHD_HEADER_KIND,
                                               "X-Request-Id");
  if (in) {
    size_t n = strlen(in), i = 0;
    while (i < n && (isalnum((unsigned char)in[i]) || strchr("._-", in[i])))
      i++;
    if (n >= 1 && n < sizeof r->request_id && i == n) {
      memcpy(r->request_id, in, n + 1);
      return;
    }
  }
  /* A random prefix per thread and a counter: unique without asking the
   * CSPRNG on every request. */
  static _Thread_local uint32_t prefix;
  static _Thread_local uint32_t counter;
  static const char hex[] = "0123456789abcdef";
  if (!prefix && RAND_bytes((unsigned char *)&prefix, sizeof prefix) != 1)
    prefix = (uint32_t)time(NULL);
  uint64_t v = (uint64_t)prefix << 32 | ++counter;
  for (int i = 15; i >= 0; i--, v >>= 4)
    r->request_id[i] = hex[v & 15];
  r->request_id[16] = '\0';
}

/* An upload route's start (HTTP_ROUTE_UPLOAD): first the caller (401
 * before anything else), then the announced length against
 * --max-upload-bytes plus the multipart framing (413), then the content
 * type (multipart/form-data only: 415), so that nothing is written to disk
 * for a request that will be refused. A refused request whose announced
 * body is beyond that cap is answered at once, before any of it is read.
 * The JSON body cap does not apply; the body is never buffered (upload.h)
 * and never longer than the cap (http__access). */
static bink_rc http__begin_upload(http_req *r, unsigned long long len) {
  struct http_req__private *p = r->priv;
  const binkd_config *cfg = r->ctx->cfg;
  unsigned long long cap =
      (unsigned long long)cfg->max_upload_bytes + HTTP__UPLOAD_SLACK;
  p->upload_route = true;
  bink_rc rc = BINK_OK;
  if (r->route->auth != HTTP_AUTH_NONE)
    rc = http__authenticate(r);
  if (rc == BINK_OK && len > cap)
    rc = http_fail(r, BINK_ETOOLARGE, "file is larger than %lld bytes "
                   "(--max-upload-bytes)", (long long)cfg->max_upload_bytes);
  if (rc != BINK_OK) {
    p->respond_now = len > cap;
    return rc;
  }
  char dir[BINKD_PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/tmp", cfg->data);
  const char *ct = MHD_lookup_connection_value(p->conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_TYPE);
  return http__upload_begin(p->conn, ct, dir, cfg->max_upload_bytes,
                            &p->upload, &r->err);
}

static enum MHD_Result http__count_te(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
  (void)kind;
  (void)value;
  if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
    (*(int *)cls)++;
  return MHD_YES;
}

/* Headers are in: decide what the request is and whether it may go on. */
static bink_rc http__begin(http_req *r, const char *url, const char *method) {
  struct http_req__private *p = r->priv;
  struct MHD_Connection *conn = p->conn;
  snprintf(p->method, sizeof p->method, "%s", method);
  size_t n = strlen(url);
  if (n >= sizeof p->path)
    n = sizeof p->path - 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)url[i];
    /* control bytes, and spaces that would forge access-log fields */
    p->path[i] = ch <= 0x20 || ch == 0x7f ? '?' : (char)tolower(ch);
  }
  p->path[n] = '\0';
  /* The path goes into error messages and the log (never cut short unless
   * the length limit did: "/getme%c3" must not become "/getme"). */
  n = http__utf8_fix(p->path, n, strlen(url) >= sizeof p->path);
  memcpy(p->raw_path, url, n);
  p->raw_path[n] = '\0';
  http__request_id(r);

  /* The body's framing first: libmicrohttpd reads a body only when
   * Transfer-Encoding is exactly "chunked" (any case) and would wait
   * forever for the end of any other, and both headers at once are a
   * request-smuggling vector. Either way answer at once, whatever else is
   * wrong with the request, and close (RFC 9112 6.3). */
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  const char *te = MHD_lookup_connection_value(
      conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
  if (te) {
    int n_te = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http__count_te, &n_te);
    p->respond_now = cl || n_te > 1 || strcasecmp(te, "chunked") != 0;
    if (cl)
      return http_fail(r, BINK_EINVAL, "send either Content-Length or "
                                        "Transfer-Encoding, not both");
    if (p->respond_now)
      return http_fail(r, BINK_EINVAL,
                       "Transfer-Encoding must be chunked (no other coding)");
  }

  /* Read after this request was counted in `inflight` (http__uri_log):
   * once the stop sees no request in flight, every later one sees this. */
  if (atomic_load(&p->server->stopping))
    return http_fail(r, BINK_EUNAVAIL, "the server is shutting down");
  if (p->bad_uri)
    return http_fail(r, BINK_EINVAL, "the path must not contain %%00");
  r->route = http__route(p->server, p->path);
  if (!r->route || strlen(url) >= sizeof p->path)
    return http_fail(r, BINK_ENOTFOUND, "no such endpoint: %s", p->path);
  bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  bool is_post = strcmp(method, "POST") == 0;
  unsigned f = r->route->flags;
  if (!((is_post && !(f & HTTP_ROUTE_GET_ONLY)) ||
        (is_get && (f & (HTTP_ROUTE_GET | HTTP_ROUTE_GET_ONLY)))))
    return http_fail(r, BINK_EMETHOD, "method %s is not allowed on %s",
                     p->method, p->path);

  bool token_in_query = false;
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND,
                            http__query_token_iter, &token_in_query);
  if (token_in_query)
    return http_fail(r, BINK_EAUTH,
                     "tokens are accepted only in the Authorization header");

  unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
  bool has_body = len > 0 || te != NULL;
  if (f & HTTP_ROUTE_UPLOAD)
    return http__begin_upload(r, len);
  if (len > (unsigned long long)r->ctx->cfg->max_body_bytes)
    return http_fail(r, BINK_ETOOLARGE, "the body is larger than %lld bytes",
                     (long long)r->ctx->cfg->max_body_bytes);
  const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct) {
    size_t tn = strcspn(ct, "; \t");
    char params[128];
    size_t pn = 0;
    for (const char *q = ct + tn; *q && pn + 1 < sizeof params; q++)
      params[pn++] = (char)tolower((unsigned char)*q);
    params[pn] = '\0';
    const char *cs = strstr(params, "charset=");
    if (cs) {
      cs += 8;
      if (*cs == '"')
        cs++;
      if (strncasecmp(cs, "utf-8", 5) != 0 && strncasecmp(cs, "utf8", 4) != 0)
        return http_fail(r, BINK_EMEDIATYPE,
                         "unsupported charset; bodies must be UTF-8");
    }
    if (tn == 16 && strncasecmp(ct, "application/json", 16) == 0)
      p->body_kind = BODY_JSON;
    else if (tn == 33 &&
             strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0)
      p->body_kind = BODY_FORM;
    else if (has_body)
      return http_fail(r, BINK_EMEDIATYPE,
                       "unsupported content type; send application/json or "
                       "application/x-www-form-urlencoded");
  } else if (has_body) {
    p->body_kind = BODY_JSON;
  }
  if (len > 0) {
    p->body = malloc((size_t)len);
    if (!p->body)
      return http_fail(r, BINK_EINTERNAL, "out of memory");
    p->body_cap = (size_t)len;
  }
  return BINK_OK;
}

/* 429 with data {"retry_after"} and a Retry-After header when the caller
 * has used up its requests (--rate-limit). */
static bink_rc http__rate_limit(http_req *r) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int wait = http_ratelimit_take(r->priv->server->ratelimit, r->caller.id,
                                 (double)now.tv_sec + now.tv_nsec / 1e9);
  if (wait == 0)
    return BINK_OK;
  r->retry_after = wait;
  r->data = json_pack("{s:i}", "retry_after", wait);
  return http_fail(r, BINK_ERATE, "too many requests; retry after %d s", wait);
}

static bink_rc http__run(http_req *r) {
  bink_rc rc = http__parse_params(r);
  if (rc == BINK_OK && r->route->auth != HTTP_AUTH_NONE)
    rc = http__authenticate(r);
  if (rc == BINK_OK && r->authenticated && r->priv->server->ratelimit)
    rc = http__rate_limit(r);
  if (rc == BINK_OK) {
    r->idempotency_key = MHD_lookup_connection_value(
        r->priv->conn, MHD_HEADER_KIND, "Idempotency-Key");
    rc = r->route->handler(r);
  }
  return rc;
}

/* An upload route's body has passed --max-upload-bytes plus the slack:
 * only a body without Content-Length (chunked) gets here, the announced
 * ones are checked first. libmicrohttpd 0.9.75 cannot send a reply before
 * the whole request has been read (MHD_queue_response fails while the
 * body is being received), so the connection is closed now, without one,
 * rather than reading on; the temporary file goes at once. A body that
 * ends within the slack after its file passed the limit still gets its
 * 413 (docs/architecture.md "Uploads"). */
static enum MHD_Result http__upload_cut(http_req *r) {
  struct http_req__private *p = r->priv;
  if (p->early_rc == BINK_OK)
    p->early_rc = http_fail(r, BINK_ETOOLARGE,
                            "the body is larger than %lld bytes "
                            "(--max-upload-bytes plus %d for the form)",
                            (long long)r->ctx->cfg->max_upload_bytes,
                            HTTP__UPLOAD_SLACK);
  binkd_log(BINKD_LOG_INFO,
            "request %s: %s: closing the connection after %llu bytes of "
            "body (limit %lld + %d): %s",
            r->request_id, p->path, (unsigned long long)p->received,
            (long long)r->ctx->cfg->max_upload_bytes, HTTP__UPLOAD_SLACK,
            r->err.msg);
  http__upload_free(p->upload);
  p->upload = NULL;
  return MHD_NO;
}

static enum MHD_Result http__access(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **con_cls) {
  struct http__reqmem *m = *con_cls;
  if (!m || m->kind != HTTP__SLOT_REQUEST)
    return MHD_NO; /* no state, or a stream's reply is already out */
  http_req *r = &m->req;
  struct http_req__private *p = r->priv;
  p->conn = conn;
  p->slot = con_cls;

  switch (p->phase) {
  case PH_START:
    p->phase = PH_BODY;
    p->early_rc = http__begin(r, url, method);
    if (p->early_rc == BINK_ETOOLARGE || p->respond_now)
      return http__respond(r, p->early_rc); /* before reading any of it */
    return MHD_YES;

  case PH_BODY:
    if (*upload_data_size) {
      size_t n = *upload_data_size;
      *upload_data_size = 0;
      if (p->upload_route &&
          (p->received += n) > (uint64_t)r->ctx->cfg->max_upload_bytes +
                                   HTTP__UPLOAD_SLACK)
        return http__upload_cut(r);
      if (p->early_rc != BINK_OK) { /* read to the end, then answered */
        p->discarded += n;
        return p->upload_route || p->discarded <= HTTP__DISCARD_MAX ? MHD_YES
                                                                    : MHD_NO;
      }
      if (p->upload) { /* streamed to a temporary file, never buffered */
        p->early_rc = http__upload_feed(p->upload, upload_data, n, &r->err);
        return http__upload_peer_gone(p->conn) ? MHD_NO : MHD_YES;
      }
      if (!http__append(&p->body, &p->body_len, &p->body_cap, upload_data, n,
                        (size_t)r->ctx->cfg->max_body_bytes)) {
        p->early_rc = http_fail(r, BINK_ETOOLARGE,
                                "the body is larger than %lld bytes",
                                (long long)r->ctx->cfg->max_body_bytes);
        p->discarded += n;
      }
      return MHD_YES;
    }
    p->phase = PH_RUN;
    if (p->upload && p->early_rc == BINK_OK)
      p->early_rc = http__upload_finish(p->upload, &r->err);
    if (p->early_rc != BINK_OK)
      return http__respond(r, p->early_rc);
    {
      bink_rc rc = http__run(r);
      if (rc == BINK_AGAIN)
        return MHD_YES;
      return http__respond(r, rc);
    }

  case PH_RESUMED:
    if (r->job.rc != BINK_OK) {
      r->err = r->job.err;
      if (!r->err.msg[0] && r->job.rc == BINK_EUNAVAIL)
        snprintf(r->err.msg, sizeof r->err.msg, "storage unavailable");
      return http__respond(r, r->job.rc);
    }
    {
      bink_rc rc = r->cont(r);
      if (rc == BINK_AGAIN)
        return MHD_YES;
      return http__respond(r, rc);
    }

  case PH_WAIT:
    return MHD_YES; /* spurious call while suspended */

  default:
    return MHD_NO;
  }
}

/* Called first for every request: creates its state. */
static void *http__uri_log(void *cls, const char *uri,
                           struct MHD_Connection *conn) {
  http_server *s = cls;
  /* Zero what must start empty, not the large buffers (a request is
   * several kilobytes; zeroing it all showed in profiles). */
  struct http__reqmem *m = http__reqmem_new();
  if (!m)
    return NULL;
  m->kind = HTTP__SLOT_REQUEST;
  http_req *r = &m->req;
  memset(r, 0, offsetof(http_req, caller));
  r->caller.id = 0;
  r->caller.is_bot = false;
  r->caller.ext_id[0] = '\0';
  r->priv = &m->priv;
  memset(r->priv, 0, offsetof(struct http_req__private, path));
  r->priv->path[0] = r->priv->raw_path[0] = '\0';
  r->priv->form_key[0] = r->priv->form_bad_key[0] = '\0';
  r->priv->server = s;
  r->priv->conn = conn;
  r->ctx = s->ctx;
  clock_gettime(CLOCK_MONOTONIC, &r->priv->started);
  size_t plen = strcspn(uri, "?");
  for (size_t i = 0; i + 2 < plen; i++)
    if (uri[i] == '%' && uri[i + 1] == '0' && uri[i + 2] == '0')
      r->priv->bad_uri = true;
  atomic_fetch_add(&s->inflight, 1);
  return m;
}

static double http__ms_since(const struct timespec *started) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - started->tv_sec) * 1e3 +
         (double)(now.tv_nsec - started->tv_nsec) / 1e6;
}

static void http__completed(void *cls, struct MHD_Connection *conn,
                            void **con_cls,
                            enum MHD_RequestTerminationCode toe) {
  http_server *s = cls;
  int *kind = *con_cls;
  if (!kind)
    return;
  if (*kind == HTTP__SLOT_STREAM) {
    struct http__streamed *t = *con_cls;
    int status = t->status ? t->status : 499;
    double ms = http__ms_since(&t->started);
    metrics_request(t->endpoint, status, ms / 1e3);
    binkd_log_access(t->request_id, t->method, t->path, status, ms,
                     t->bytes_out, t->caller);
    free(t);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
    return;
  }
  struct http__reqmem *m = *con_cls;
  http_req *r = &m->req;
  struct http_req__private *p = r->priv;
  if (p->method[0]) {
    int status = p->status ? p->status : 499;
    double ms = http__ms_since(&p->started);
    metrics_request(http__endpoint(s, r->route), status, ms / 1e3);
    binkd_log_access(r->request_id[0] ? r->request_id : "-", p->method,
                     p->path, status, ms, p->bytes_out,
                     r->authenticated ? r->caller.ext_id : "-");
  }
  http__release(r);
  http__reqmem_free(m);
  *con_cls = NULL;
  atomic_fetch_sub(&s->inflight, 1);
}

/* ---------------------------------------------------------------------- */

static bink_rc http__resolve(const char *listen, struct sockaddr_storage *ss,
                             socklen_t *sslen, bool *ipv6, bink_err *err) {
  char host[256];
  const char *colon = strrchr(listen, ':');
  if (!colon)
    return bink_fail(err, BINK_EUNAVAIL, "--listen %s has no port", listen);
  size_t hn = (size_t)(colon - listen);
  const char *h = listen;
  if (hn >= 2 && listen[0] == '[' && listen[hn - 1] == ']')
    h++, hn -= 2;
  if (hn >= sizeof host)
    return bink_fail(err, BINK_EUNAVAIL, "--listen host is too long");
  memcpy(host, h, hn);
  host[hn] = '\0';
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int gai = getaddrinfo(hn ? host : NULL, colon + 1, &hints, &res);
  if (gai != 0 || !res)
    return bink_fail(err, BINK_EUNAVAIL, "cannot resolve --listen %s: %s",
                     listen, gai_strerror(gai));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *sslen = res->ai_addrlen;
  *ipv6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);
  return BINK_OK;
}

static void http__mhd_log(void *cls, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  binkd_log(BINKD_LOG_DEBUG, "libmicrohttpd: %s", msg);
}

bink_rc http_server_start(binkd_ctx *ctx, const http_route *routes,
                          http_server **out, int *actual_port,
                          bink_err *err) {
  *out = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  bool ipv6 = false;
  bink_rc rc = http__resolve(ctx->cfg->listen, &ss, &sslen, &ipv6, err);
  if (rc != BINK_OK)
    return rc;
  http_server *s = calloc(1, sizeof *s);
  if (!s)
    return bink_fail(err, BINK_EUNAVAIL, "out of memory");
  s->routes = routes;
  s->ctx = ctx;
  for (int i = 0; routes[i].path; i++)
    metrics_endpoint_name(i, routes[i].path);
  s->ratelimit = http_ratelimit_new(ctx->cfg->rate_limit);
  atomic_init(&s->inflight, 0);
  atomic_init(&s->stopping, false);
  unsigned threads = ctx->cfg->threads > 0 ? (unsigned)ctx->cfg->threads : 0;
  if (!threads) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cores > 0 ? (unsigned)cores : 1;
  }
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  uint16_t port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                             : ((struct sockaddr_in *)&ss)->sin_port);
  s->daemon = MHD_start_daemon(
      flags, port, NULL, NULL, http__access, s,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP__POOL_BYTES,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ctx->cfg->connection_timeout,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)ctx->cfg->connection_limit,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_URI_LOG_CALLBACK, http__uri_log, s,
      MHD_OPTION_NOTIFY_COMPLETED, http__completed, s,
      MHD_OPTION_EXTERNAL_LOGGER, http__mhd_log, NULL,
      MHD_OPTION_END);
  if (!s->daemon) {
    http_ratelimit_free(s->ratelimit);
    free(s);
    return bink_fail(err, BINK_EUNAVAIL,
                     "cannot listen on %s (address in use or not allowed)",
                     ctx->cfg->listen);
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  *actual_port = info ? (int)info->port : (int)port;
  *out = s;
  return BINK_OK;
}

void http_server_stop(http_server *s, int grace_seconds) {
  if (!s)
    return;
  /* No MHD_quiesce_daemon() here: with epoll worker threads it races the
   * workers' own removal of the listen socket and libmicrohttpd 0.9.75
   * aborts ("Failed to remove listen FD from epoll set"). The listen
   * socket stays open during the grace period instead and every request
   * that arrives meanwhile is answered 503 because `stopping` is set. */
  atomic_store(&s->stopping, true);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (atomic_load(&s->inflight) > 0) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= grace_seconds)
      break;
    struct timespec tick = {0, 10 * 1000 * 1000};
    nanosleep(&tick, NULL);
  }
  MHD_stop_daemon(s->daemon);
  http_ratelimit_free(s->ratelimit);
  free(s);
}
