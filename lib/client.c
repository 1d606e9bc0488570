/* client.c - the client handle, the HTTP exchange and the envelope. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define DEFAULT_TIMEOUT_S 60
#define DEFAULT_CONNECT_TIMEOUT_S 10
#define DEFAULT_MAX_RESPONSE ((size_t)64 << 20)
#define DEFAULT_MAX_RETRY_WAIT_S 60

const char *bink_status_str(bink_status s) {
  switch (s) {
  case BINK_OK: return "ok";
  case BINK_E_API: return "api error";
  case BINK_E_TRANSPORT: return "transport error";
  case BINK_E_PROTOCOL: return "protocol error";
  case BINK_E_INVALID: return "invalid argument";
  case BINK_E_NOMEM: return "out of memory";
  case BINK_E_IO: return "i/o error";
  case BINK_E_CANCELLED: return "cancelled";
  case BINK_E_PARSE: return "parse error";
  case BINK_E_HEADER: return "missing or malformed header";
  case BINK_E_TIMESTAMP: return "timestamp outside tolerance";
  case BINK_E_SIGNATURE: return "signature mismatch";
  case BINK_E_SECRET: return "unusable secret";
  }
  return "unknown status";
}

bink_status bink_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? BINK_OK : BINK_E_TRANSPORT;
}

void bink_global_cleanup(void) { curl_global_cleanup(); }

bink_status bink__fail(bink_client *c, bink_status st, int code, const char *fmt, ...) {
  if (!c)
    return st;
  c->err.status = st;
  c->err.code = code;
  c->err.retry_after = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
  va_end(ap);
  return st;
}

void bink__ok(bink_client *c) {
  memset(&c->err, 0, sizeof c->err);
}

const bink_error *bink_last_error(const bink_client *c) { return c ? &c->err : NULL; }

static int printable_token(const char *t) {
  if (!*t)
    return 0;
  for (const unsigned char *p = (const unsigned char *)t; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return 0;
  return 1;
}

bink_status bink_client_new(const bink_client_options *o, bink_client **out) {
  if (!out)
    return BINK_E_INVALID;
  *out = NULL;
  if (!o || !o->base_url || !*o->base_url || !o->token || !printable_token(o->token))
    return BINK_E_INVALID;
  bink_client *c = calloc(1, sizeof *c);
  if (!c)
    return BINK_E_NOMEM;
  size_t n = strlen(o->base_url);
  while (n > 0 && o->base_url[n - 1] == '/')
    n--;
  c->base_url = strndup(o->base_url, n);
  size_t an = strlen(o->token) + 32;
  c->auth_header = malloc(an);
  if (!c->base_url || !c->auth_header) {
    bink_client_free(c);
    return BINK_E_NOMEM;
  }
  snprintf(c->auth_header, an, "Authorization: Bearer %s", o->token);
  c->timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
  c->connect_timeout_s = o->connect_timeout_s > 0 ? o->connect_timeout_s
                                                  : DEFAULT_CONNECT_TIMEOUT_S;
  c->max_response = o->max_response_bytes ? o->max_response_bytes : DEFAULT_MAX_RESPONSE;
  c->retry_429 = o->retry_429 > 0 ? o->retry_429 : 0;
  c->max_retry_wait_s = o->max_retry_wait_s > 0 ? o->max_retry_wait_s
                                                : DEFAULT_MAX_RETRY_WAIT_S;
  c->curl = curl_easy_init();
  if (!c->curl) {
    bink_client_free(c);
    return BINK_E_TRANSPORT;
  }
  *out = c;
  return BINK_OK;
}

void bink_client_free(bink_client *c) {
  if (!c)
    return;
  if (c->curl)
    curl_easy_cleanup(c->curl);
  if (c->auth_header) {
    /* the token should not linger in freed memory */
    volatile char *p = c->auth_header;
    while (*p)
      *p++ = 0;
    free(c->auth_header);
  }
  free(c->base_url);
  free(c);
}

void bink_client_set_cancel(bink_client *c, const volatile sig_atomic_t *flag) {
  if (c)
    c->cancel = flag;
}

int bink__cancelled(const bink_client *c) { return c->cancel && *c->cancel; }

bink_status bink__sleep(bink_client *c, long seconds) {
  for (long i = 0; i < seconds * 10; i++) {
    if (bink__cancelled(c))
      return bink__fail(c, BINK_E_CANCELLED, 0, "cancelled");
    struct timespec ts = {0, 100 * 1000 * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      if (bink__cancelled(c))
        return bink__fail(c, BINK_E_CANCELLED, 0, "cancelled");
    }
  }
  return bink__cancelled(c) ? bink__fail(c, BINK_E_CANCELLED, 0, "cancelled") : BINK_OK;
}

/* ---- the envelope ---- */

static void set_err(bink_error *e, bink_status st, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_err(bink_error *e, bink_status st, int code, const char *fmt, ...) {
  e->status = st;
  e->code = code;
  e->retry_after = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
}

bink_status bink__envelope_parse(const char *body, size_t len, long http_status, json_t **data,
                                 bink_error *err) {
  if (data)
    *data = NULL;
  json_error_t jerr;
  json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    set_err(err, BINK_E_PROTOCOL, (int)http_status,
            "HTTP %ld answer is not JSON (%s at byte %d)", http_status, jerr.text,
            jerr.position);
    return BINK_E_PROTOCOL;
  }
  json_t *code = json_object_get(root, "code");
  json_t *msg = json_object_get(root, "msg");
  if (!json_is_object(root) || !json_is_integer(code) || (msg && !json_is_string(msg))) {
    set_err(err, BINK_E_PROTOCOL, (int)http_status,
            "HTTP %ld answer is not an envelope {code, msg, data}", http_status);
    json_decref(root);
    return BINK_E_PROTOCOL;
  }
  json_int_t c = json_integer_value(code);
  json_t *d = json_object_get(root, "data");
  if (c != 200 || http_status < 200 || http_status > 299) {
    int ec = c != 200 ? (int)c : (int)http_status;
    set_err(err, BINK_E_API, ec, "%s", msg ? json_string_value(msg) : "");
    json_t *ra = json_object_get(d, "retry_after");
    if (json_is_integer(ra) && json_integer_value(ra) > 0)
      err->retry_after = json_integer_value(ra);
    json_decref(root);
    return BINK_E_API;
  }
  if (data)
    *data = json_incref(d ? d : json_null());
  json_decref(root);
  return BINK_OK;
}

/* ---- one HTTP exchange ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  bink__buf *b = ud;
  size_t n = size * nmemb;
  return bink__buf_append(b, ptr, n) == BINK_OK ? n : 0;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  const bink_client *c = ud;
  return bink__cancelled(c) ? 1 : 0;
}

/* Resets the handle to the options every request shares. */
static void prepare(bink_client *c, const char *url, long extra_timeout_s) {
  CURL *h = c->curl;
  curl_easy_reset(h); /* keeps the connection cache: the connection stays alive */
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s + extra_timeout_s);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_USERAGENT, "libbink/" BINK_VERSION_STRING);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  c->curl_err[0] = '\0';
  c->conn_lost = 0;
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
}

static bink_status transport_error(bink_client *c, CURLcode rc, const char *what) {
  if (rc == CURLE_ABORTED_BY_CALLBACK && bink__cancelled(c))
    return bink__fail(c, BINK_E_CANCELLED, 0, "cancelled");
  const char *cause = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);
  if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
      rc == CURLE_WEIRD_SERVER_REPLY) {
    long st = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &st);
    if (st == 0 && rc == CURLE_GOT_NOTHING)
      c->conn_lost = 1;
    if (st != 0 || rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_GOT_NOTHING)
      return bink__fail(c, BINK_E_PROTOCOL, (int)st, "%s: truncated or malformed answer: %s",
                        what, cause);
  }
  return bink__fail(c, BINK_E_TRANSPORT, 0, "%s: %s", what, cause);
}

/* Runs the prepared request and unwraps the envelope, retrying 429s when
 * the client allows it. body_setter re-arms the request body each try. */
typedef void (*body_setter)(bink_client *c, void *arg);

static bink_status exchange(bink_client *c, const char *method, long extra_timeout_s,
                            struct curl_slist *headers, body_setter set_body, void *arg,
                            json_t **data) {
  char url[1024];
  if ((size_t)snprintf(url, sizeof url, "%s/bot/%s", c->base_url, method) >= sizeof url)
    return bink__fail(c, BINK_E_INVALID, 0, "URL too long");
  for (int attempt = 0;; attempt++) {
    bink__buf body;
    bink__buf_init(&body, c->max_response);
    prepare(c, url, extra_timeout_s);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &body);
    set_body(c, arg);
    CURLcode rc = curl_easy_perform(c->curl);
    if (rc != CURLE_OK) {
      bink_status st;
      if (body.overflow)
        st = bink__fail(c, BINK_E_PROTOCOL, 0, "%s: answer larger than %zu bytes", method,
                        c->max_response);
      else
        st = transport_error(c, rc, method);
      bink__buf_free(&body);
      return st;
    }
    long http = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
    bink_error e;
    memset(&e, 0, sizeof e);
    bink_status st = bink__envelope_parse(body.data, body.len, http, data, &e);
    bink__buf_free(&body);
    if (st == BINK_OK) {
      bink__ok(c);
      return BINK_OK;
    }
    c->err = e;
    if (st == BINK_E_API && e.code == 429 && attempt < c->retry_429 && e.retry_after > 0 &&
        e.retry_after <= c->max_retry_wait_s) {
      bink_status sl = bink__sleep(c, (long)e.retry_after);
      if (sl != BINK_OK)
        return sl;
      continue;
    }
    return st;
  }
}

struct json_body {
  const char *text;
};

static void set_json_body(bink_client *c, void *arg) {
  struct json_body *jb = arg;
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, jb->text);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(jb->text));
}

static struct curl_slist *base_headers(bink_client *c, const char *content_type,
                                       const char *idempotency_key) {
  struct curl_slist *h = NULL, *t;
  char line[200];
  if (!(t = curl_slist_append(h, c->auth_header)))
    goto oom;
  h = t;
  if (content_type) {
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    if (!(t = curl_slist_append(h, line)))
      goto oom;
    h = t;
  }
  if (!(t = curl_slist_append(h, "Expect:")))
    goto oom;
  h = t;
  if (idempotency_key) {
    snprintf(line, sizeof line, "Idempotency-Key: %s", idempotency_key);
    if (!(t = curl_slist_append(h, line)))
      goto oom;
    h = t;
  }
  return h;
oom:
  curl_slist_free_all(h);
  return NULL;
}

static int valid_method(const char *m) {
  if (!m || !*m || strlen(m) > 64)
    return 0;
  for (const char *p = m; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_'))
      return 0;
  return 1;
}

static int valid_idempotency_key(const char *k) {
  size_t n = strlen(k);
  if (n < 1 || n > 128)
    return 0;
  for (const char *p = k; *p; p++)
    if (*p < 0x21 || *p > 0x7e)
      return 0;
  return 1;
}

bink_status bink__call(bink_client *c, const char *method, json_t *params,
                       const char *idempotency_key, long extra_timeout_s, json_t **data) {
  if (data)
    *data = NULL;
  if (!c)
    return BINK_E_INVALID;
  if (!valid_method(method))
    return bink__fail(c, BINK_E_INVALID, 0, "invalid method name");
  if (idempotency_key && !valid_idempotency_key(idempotency_key))
    return bink__fail(c, BINK_E_INVALID, 0, "idempotency key must be 1..128 printable ASCII");
  char *text = params ? json_dumps(params, JSON_COMPACT) : strdup("{}");
  if (!text)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  struct curl_slist *h = base_headers(c, "application/json; charset=utf-8", idempotency_key);
  if (!h) {
    free(text);
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  }
  struct json_body jb = {text};
  bink_status st = exchange(c, method, extra_timeout_s, h, set_json_body, &jb, data);
  curl_slist_free_all(h);
  free(text);
  return st;
}

static void set_mime_body(bink_client *c, void *arg) {
  curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, (curl_mime *)arg);
}

bink_status bink__call_mime(bink_client *c, const char *method, curl_mime *mime,
                            json_t **data) {
  if (data)
    *data = NULL;
  struct curl_slist *h = base_headers(c, NULL, NULL);
  if (!h)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  bink_status st = exchange(c, method, 0, h, set_mime_body, mime, data);
  curl_slist_free_all(h);
  return st;
}

bink_status bink_call(bink_client *c, const char *method, const char *params_json,
                      char **data_json) {
  if (data_json)
    *data_json = NULL;
  if (!c)
    return BINK_E_INVALID;
  json_t *params = NULL;
  if (params_json && *params_json) {
    json_error_t jerr;
    params = json_loads(params_json, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!params)
      return bink__fail(c, BINK_E_INVALID, 0, "parameters are not JSON: %s at byte %d",
                        jerr.text, jerr.position);
    if (!json_is_object(params)) {
      const char *kind = json_is_array(params)    ? "an array"
                         : json_is_string(params) ? "a string"
                         : json_is_number(params) ? "a number"
                         : json_is_boolean(params) ? "a boolean"
                                                   : "null";
      json_decref(params);
      return bink__fail(c, BINK_E_INVALID, 0, "parameters must be a JSON object, not %s", kind);
    }
  }
  json_t *data = NULL;
  bink_status st = bink__call(c, method, params, NULL, 0, &data);
  json_decref(params);
  if (st == BINK_OK && data_json) {
    *data_json = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!*data_json)
      st = bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  }
  json_decref(data);
  return st;
}

/* ---- downloads: GET /file/{id} ---- */

struct download {
  bink_client *c;
  FILE *fp;          /* to a file, or */
  bink__buf *mem;    /* to memory */
  bink__buf errbody; /* the body of a non-2xx answer */
  int io_error;
};

static size_t on_download(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct download *d = ud;
  size_t n = size * nmemb;
  long st = 0;
  curl_easy_getinfo(d->c->curl, CURLINFO_RESPONSE_CODE, &st);
  if (st < 200 || st > 299)
    return bink__buf_append(&d->errbody, ptr, n) == BINK_OK ? n : 0;
  if (d->fp) {
    if (fwrite(ptr, 1, n, d->fp) != n) {
      d->io_error = errno ? errno : EIO;
      return 0;
    }
    return n;
  }
  return bink__buf_append(d->mem, ptr, n) == BINK_OK ? n : 0;
}

static bink_status download(bink_client *c, const char *file_id, struct download *d) {
  if (!file_id || !*file_id)
    return bink__fail(c, BINK_E_INVALID, 0, "file_id is required");
  char *esc = curl_easy_escape(c->curl, file_id, 0);
  if (!esc)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  char url[1024];
  int un = snprintf(url, sizeof url, "%s/file/%s", c->base_url, esc);
  curl_free(esc);
  if (un < 0 || (size_t)un >= sizeof url)
    return bink__fail(c, BINK_E_INVALID, 0, "URL too long");
  struct curl_slist *h = base_headers(c, NULL, NULL);
  if (!h)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  bink__buf_init(&d->errbody, 1 << 16);
  d->c = c;
  prepare(c, url, 0);
  curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_download);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, d);
  CURLcode rc = curl_easy_perform(c->curl);
  curl_slist_free_all(h);
  long http = 0;
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
  bink_status st;
  if (d->io_error)
    st = bink__fail(c, BINK_E_IO, 0, "cannot write the download: %s", strerror(d->io_error));
  else if (d->mem && d->mem->overflow)
    st = bink__fail(c, BINK_E_PROTOCOL, 0, "file larger than %zu bytes", c->max_response);
  else if (rc != CURLE_OK && !(http >= 300 && d->errbody.overflow))
    st = transport_error(c, rc, "download");
  else if (http < 200 || http > 299) {
    bink_error e;
    memset(&e, 0, sizeof e);
    st = bink__envelope_parse(d->errbody.data, d->errbody.len, http, NULL, &e);
    if (st == BINK_E_PROTOCOL) /* a bare status: report it as the API's answer */
      set_err(&e, BINK_E_API, (int)http, "HTTP %ld", http);
    c->err = e;
    st = c->err.status;
  } else {
    bink__ok(c);
    st = BINK_OK;
  }
  bink__buf_free(&d->errbody);
  return st;
}

/* Opens a new temporary file next to target (same directory, so that the
 * final rename is atomic): "<target>.<random>.part", created with O_EXCL and
 * mode 0666 minus the umask, or with the mode of the existing target. */
static FILE *open_temp(const char *target, const struct stat *existing, char **tmp_out) {
  *tmp_out = NULL;
  size_t n = strlen(target) + 32;
  char *tmp = malloc(n);
  if (!tmp) {
    errno = ENOMEM;
    return NULL;
  }
  unsigned seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 8) ^ (unsigned)(uintptr_t)tmp;
  for (int attempt = 0; attempt < 100; attempt++) {
    seed = seed * 1103515245u + 12345u;
    snprintf(tmp, n, "%s.%08x.part", target, seed);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      if (errno == EEXIST)
        continue;
      break;
    }
    if (existing)
      (void)fchmod(fd, existing->st_mode & 07777);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
      int e = errno;
      close(fd);
      unlink(tmp);
      errno = e;
      break;
    }
    *tmp_out = tmp;
    return fp;
  }
  int e = errno;
  free(tmp);
  errno = e;
  return NULL;
}

bink_status bink_download_to_path(bink_client *c, const char *file_id, const char *path) {
  if (!c)
    return BINK_E_INVALID;
  if (!path || !*path)
    return bink__fail(c, BINK_E_INVALID, 0, "path is required");
  if (!file_id || !*file_id)
    return bink__fail(c, BINK_E_INVALID, 0, "file_id is required");
  /* a symbolic link is followed: the file it names is replaced, the link kept */
  char *resolved = NULL;
  struct stat lsb;
  if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))
    resolved = realpath(path, NULL);
  const char *target = resolved ? resolved : path;
  struct stat sb;
  int exists = stat(target, &sb) == 0;
  struct download d;
  memset(&d, 0, sizeof d);
  bink_status st;
  if (exists && !S_ISREG(sb.st_mode)) {
    /* a device or a FIFO (/dev/null, a pipe): written to directly */
    FILE *fp = fopen(target, "wb");
    if (!fp) {
      st = bink__fail(c, BINK_E_IO, 0, "cannot open %s: %s", path, strerror(errno));
    } else {
      d.fp = fp;
      st = download(c, file_id, &d);
      if (fclose(fp) != 0 && st == BINK_OK)
        st = bink__fail(c, BINK_E_IO, 0, "cannot write %s: %s", path, strerror(errno));
    }
    free(resolved);
    return st;
  }
  char *tmp = NULL;
  FILE *fp = open_temp(target, exists ? &sb : NULL, &tmp);
  if (!fp) {
    st = bink__fail(c, BINK_E_IO, 0, "cannot open %s: %s", path, strerror(errno));
    free(resolved);
    return st;
  }
  d.fp = fp;
  st = download(c, file_id, &d);
  if (fclose(fp) != 0 && st == BINK_OK)
    st = bink__fail(c, BINK_E_IO, 0, "cannot write %s: %s", path, strerror(errno));
  if (st == BINK_OK && rename(tmp, target) != 0)
    st = bink__fail(c, BINK_E_IO, 0, "cannot replace %s: %s", path, strerror(errno));
  if (st != BINK_OK)
    unlink(tmp);
  free(tmp);
  free(resolved);
  return st;
}

bink_status bink_download_mem(bink_client *c, const char *file_id, char **data, size_t *len) {
  if (data)
    *data = NULL;
  if (len)
    *len = 0;
  if (!c)
    return BINK_E_INVALID;
  if (!data || !len)
    return bink__fail(c, BINK_E_INVALID, 0, "data and len are required");
  bink__buf mem;
  bink__buf_init(&mem, c->max_response);
  struct download d;
  memset(&d, 0, sizeof d);
  d.mem = &mem;
  bink_status st = download(c, file_id, &d);
  if (st == BINK_OK) {
    if (!mem.data && bink__buf_append(&mem, "", 0) != BINK_OK) {
      bink__buf_free(&mem);
      return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
    }
    *data = mem.data;
    *len = mem.len;
  } else {
    bink__buf_free(&mem);
  }
  return st;
}
