/* api_files.c: uploads, getfile, downloads and stickers (api_files.h). */
#include "api/api_files.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "core/media.h"
#include "ctx.h"
#include "http/session.h"
#include "log.h"
#include "svc/files.h"

/* The public base URL for download_url (ctx.h). */
static const char *api__base(http_req *r) {
  const char *b = r->ctx->public_base;
  return b ? b : r->ctx->cfg->public_url;
}

/* ---------------------------------------------------------------------- */
/* POST /bot/uploadfile, /app/uploadfile                                   */

bink_rc api_uploadfile(http_req *r) {
  const http_upload *up = http_upload_info(r);
  if (!up)
    return http_fail(r, BINK_EINTERNAL, "upload route without an upload");
  if (up->parts == 0)
    return http_fail(r, BINK_EINVAL,
                     "file is required: send the bytes as a "
                     "multipart/form-data part named file");
  if (up->parts > 1)
    return http_fail(r, BINK_EINVAL,
                     "file must be sent once; the body has %d parts named "
                     "file",
                     up->parts);
  if (up->size == 0 || !up->tmp_path[0])
    return http_fail(r, BINK_EINVAL,
                     "file is empty; an upload holds 1 to %lld bytes",
                     (long long)r->ctx->cfg->max_upload_bytes);
  API_OP(svc_upload, op);
  bink_file *f = &op->file;

  /* The name: filename* (RFC 5987) before filename (RFC 7578 4.2), only
   * its last path component (media.h). */
  media_disposition d;
  const char *name = NULL;
  size_t name_len = 0;
  media_disposition_parse(up->disposition, strlen(up->disposition), &d);
  if (d.has_filename) {
    name = d.filename;
    name_len = d.filename_len;
  } else if (up->filename) {
    name = up->filename;
    name_len = strlen(up->filename);
  }
  media_filename_clean(name ? name : "", name_len, f->file_name);

  if (files_sniff_path(up->tmp_path, f->mime_type) != BINK_OK)
    return http_fail(r, BINK_EUNAVAIL,
                     "storage unavailable: the upload cannot be examined");
  media_hex(up->sha256, f->sha256);
  f->size = (int64_t)up->size;
  if (files_blob_publish(r->ctx->cfg->data, up->tmp_path, f->sha256) !=
      BINK_OK)
    return http_fail(r, BINK_EUNAVAIL,
                     "storage unavailable: the upload cannot be stored");

  if (r->idempotency_key) {
    if (!bink_idempotency_key_valid(r->idempotency_key,
                                    strlen(r->idempotency_key)))
      return http_fail(r, BINK_EINVAL,
                       "Idempotency-Key must be 1..128 printable ASCII "
                       "characters");
    op->idempotency_key = r->idempotency_key;
    /* The same bytes under the same name to the same endpoint are the
     * same request. */
    char buf[64 + 1 + MEDIA_SHA256_HEX + 1 + MEDIA_NAME_MAX + 1];
    int n = snprintf(buf, sizeof buf, "%s\n%s\n%s", r->route->path,
                     f->sha256, f->file_name);
    bink_sha256(buf, n > 0 ? (size_t)n : 0, op->request_hash);
  }
  return http_defer(r, svc_upload_job, op, api_reply_out);
}

/* ---------------------------------------------------------------------- */
/* POST /bot/getfile, /app/getfile; GET /app/stickers                      */

static bink_rc api__get_file(store_conn *c, void *op, bink_err *err) {
  return svc_get_file(c, op, err);
}

bink_rc api_getfile(http_req *r) {
  API_OP(svc_file_query, op);
  API_TRY(http_param_str(r, "file_id", true, &op->file_id));
  op->base_url = api__base(r);
  return api_read(r, api__get_file, op);
}

static bink_rc api__stickers(store_conn *c, void *op, bink_err *err) {
  return svc_stickers(c, op, err);
}

bink_rc api_app_stickers(http_req *r) {
  API_OP(svc_file_query, op);
  op->base_url = api__base(r);
  return api_read(r, api__stickers, op);
}

/* ---------------------------------------------------------------------- */
/* GET /file/{file_id}                                                     */

/* A bot's or a user's bearer token (the route is HTTP_AUTH_NONE because
 * both kinds are welcome), or, without an Authorization header, the web
 * sandbox's session cookie (http/session.h: <img> and <video> send no
 * headers). */
static bink_rc api__any_caller(http_req *r) {
  const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h) {
    bink_rc rc = http_session_authenticate(r);
    if (rc != BINK_ENOTFOUND)
      return rc;
  }
  if (!h)
    return http_fail(r, BINK_EAUTH, "missing bot or user token");
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
    return http_fail(r, BINK_EAUTH, "missing bot or user token");
  unsigned char digest[BINK_SHA256_LEN];
  bink_sha256(h, n, digest);
  store_conn *c = store_reader(r->ctx->st);
  if (!c)
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  bink_rc rc = store_account_by_token(c, digest, &r->caller);
  if (rc == BINK_EUNAVAIL)
    return http_fail(r, rc, "storage unavailable");
  if (rc != BINK_OK)
    return http_fail(r, BINK_EAUTH, "invalid bot or user token");
  r->authenticated = true;
  return BINK_OK;
}

/* If-None-Match (RFC 7232 section 3.2): "*" or a list of entity tags,
 * compared weakly. etag is the quoted tag. */
static bool api__etag_match(const char *header, const char *etag) {
  size_t el = strlen(etag);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return true;
    if (strncmp(p, "W/", 2) == 0)
      p += 2;
    size_t n = strcspn(p, ",");
    size_t t = n;
    while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
      t--;
    if (t == el && memcmp(p, etag, el) == 0)
      return true;
    p += n;
  }
  return false;
}

static bool api__digits(const char *s, const char *end, uint64_t *out) {
  if (s == end)
    return false;
  uint64_t v = 0;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* One byte range of a Range header (RFC 7233 section 2.1) against a
 * representation of `size` bytes: 1 with [*start, *start + *len), -1 when
 * unsatisfiable (416), 0 when the header is to be ignored (another unit,
 * several ranges, or invalid syntax: the whole file is sent). */
static int api__range(const char *h, uint64_t size, uint64_t *start,
                      uint64_t *len) {
  while (*h == ' ' || *h == '\t')
    h++;
  if (strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
    return 0;
  h += 6;
  size_t n = strlen(h);
  while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
    n--;
  const char *end = h + n, *dash = memchr(h, '-', n);
  if (!dash)
    return 0;
  uint64_t a, b;
  if (dash == h) { /* suffix: the last b bytes */
    if (!api__digits(dash + 1, end, &b))
      return 0;
    if (b == 0)
      return -1;
    *start = b >= size ? 0 : size - b;
    *len = size - *start;
    return 1;
  }
  if (!api__digits(h, dash, &a))
    return 0;
  if (dash + 1 == end) {
    b = size ? size - 1 : 0;
  } else if (!api__digits(dash + 1, end, &b) || b < a) {
    return 0;
  }
  if (a >= size)
    return -1;
  if (b >= size)
    b = size - 1;
  *start = a;
  *len = b - a + 1;
  return 1;
}

static void api__file_headers(struct MHD_Response *resp, const char *etag) {
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                          "private, max-age=86400");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

/* A 304 has no body and must not say Content-Length: 0 (RFC 9110 sections
 * 8.6 and 15.4.5). libmicrohttpd 0.9.75 sends Content-Length for every
 * response of known size, 0 included (MHD_create_response_empty is 0.9.76);
 * a response of unknown size marked MHD_RF_HTTP_1_0_COMPATIBLE_STRICT is
 * sent with neither Content-Length nor chunked framing, and no body for a
 * 304, at the price of closing the connection after it. */
static ssize_t api__no_body(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)cls;
  (void)pos;
  (void)buf;
  (void)max;
  return MHD_CONTENT_READER_END_OF_STREAM;
}

static struct MHD_Response *api__not_modified(const char *etag) {
  struct MHD_Response *nm = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, 64, api__no_body, NULL, NULL);
  if (!nm)
    return NULL;
  if (MHD_set_response_options(nm, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT,
                               MHD_RO_END) != MHD_YES) {
    MHD_destroy_response(nm);
    return NULL;
  }
  api__file_headers(nm, etag);
  return nm;
}

bink_rc api_file_download(http_req *r) {
  API_TRY(api__any_caller(r));
  const char *path = http_path(r);
  static const char prefix[] = "/file/";
  const char *id = strlen(path) >= sizeof prefix - 1 ? path + sizeof prefix - 1
                                                     : "";
  API_OP(svc_file_query, op);
  op->file_id.p = id;
  op->file_id.n = strlen(id);
  op->base_url = api__base(r);
  store_conn *c = store_reader(r->ctx->st);
  if (!c || store_read_begin(c) != BINK_OK)
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  bink_rc rc = svc_get_file(c, op, &r->err);
  store_read_end(c);
  json_decref(r->out); /* the metadata; the bytes are the reply */
  r->out = NULL;
  if (rc != BINK_OK)
    return rc;
  const bink_file *f = &op->file;

  char etag[MEDIA_SHA256_HEX + 2];
  snprintf(etag, sizeof etag, "\"%s\"", f->sha256);
  const char *inm = http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (inm && api__etag_match(inm, etag))
    return http_reply_raw(r, MHD_HTTP_NOT_MODIFIED, api__not_modified(etag));

  char blob[BINKD_PATH_MAX + 128];
  int fd = -1;
  struct stat sb;
  if (files_blob_path(r->ctx->cfg->data, f->sha256, blob, sizeof blob))
    fd = open(blob, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &sb) != 0) {
    binkd_log(BINKD_LOG_ERROR, "file %s: blob %s: %s", f->ext_id,
              f->sha256, strerror(errno));
    if (fd >= 0)
      close(fd);
    return http_fail(r, BINK_EUNAVAIL,
                     "storage unavailable: the file's bytes are missing");
  }
  uint64_t size = (uint64_t)sb.st_size, start = 0, len = size;
  unsigned status = MHD_HTTP_OK;
  const char *range = http_header(r, MHD_HTTP_HEADER_RANGE);
  const char *if_range = http_header(r, MHD_HTTP_HEADER_IF_RANGE);
  if (range && if_range && strcmp(if_range, etag) != 0)
    range = NULL; /* RFC 7233 section 3.2: changed, send it whole */
  int k = range ? api__range(range, size, &start, &len) : 0;
  char cr[96];
  if (k < 0) {
    close(fd);
    char msg[128];
    snprintf(msg, sizeof msg, "Range %.40s is beyond the end of the file "
             "(%llu bytes)", range, (unsigned long long)size);
    json_t *env = json_pack("{s:i, s:s, s:n}", "code", 416, "msg", msg,
                            "data");
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
      return http_fail(r, BINK_EINTERNAL, "out of memory");
    struct MHD_Response *bad = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!bad) {
      free(body);
      return http_fail(r, BINK_EINTERNAL, "out of memory");
    }
    snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
    MHD_add_response_header(bad, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    MHD_add_response_header(bad, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    api__file_headers(bad, etag);
    return http_reply_raw(r, MHD_HTTP_RANGE_NOT_SATISFIABLE, bad);
  }
  if (k > 0) {
    status = MHD_HTTP_PARTIAL_CONTENT;
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu",
             (unsigned long long)start, (unsigned long long)(start + len - 1),
             (unsigned long long)size);
  }
  /* Streamed from the file by libmicrohttpd (sendfile where it can); it
   * closes fd when the response is destroyed. */
  struct MHD_Response *resp =
      MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)start);
  if (!resp) {
    close(fd);
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  }
  char disp[4 * MEDIA_NAME_MAX * 3 + 64];
  if (media_content_disposition(f->file_name, media_inline_ok(f->mime_type),
                                disp, sizeof disp))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->mime_type);
  if (k > 0)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
  api__file_headers(resp, etag);
  return http_reply_raw(r, status, resp);
}
