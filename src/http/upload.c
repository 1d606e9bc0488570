/*
 * upload.c: streaming multipart/form-data uploads (see upload.h).
 */
#define _GNU_SOURCE /* memmem */
#include "http/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/media.h"
#include "log.h"

#define UPLOAD__PP_BUFFER (64 * 1024) /* post processor buffer, bytes */
#define UPLOAD__BOUNDARY_MAX 70       /* RFC 2046 section 5.1.1 */
#define UPLOAD__BOUNDARY_MIN 2        /* libmicrohttpd 0.9.75 refuses 1 */
#define UPLOAD__LINE_MAX MEDIA_DISPOSITION_MAX /* one header line, bytes */
#define UPLOAD__FLUSH_EVERY (2u << 20) /* bytes between writeback starts */
#define UPLOAD__WBUF (64 * 1024)       /* file bytes gathered per write(2):
                                          held by a stalled upload too */

struct http__upload {
  http_upload pub;
  struct MHD_PostProcessor *pp;
  int64_t limit;
  char dir[1024];
  char tmp_path[1100];
  int fd;                /* -1 when closed */
  char *wbuf;            /* file bytes not written yet (UPLOAD__WBUF) */
  size_t wlen;
  uint64_t written;      /* bytes written to fd so far */
  uint64_t flushed;      /* bytes handed to writeback so far */
  EVP_MD_CTX *md;
  bink_rc failed;        /* first error, BINK_OK while going */
  bool too_large;        /* set by the iterator */
  bool io_error;         /* set by the iterator */
  bool mixed_up;         /* set by the iterator: the post processor's idea
                            of the parts disagrees with the tap's */
  char *filename;        /* from the post processor (heap) */

  /* the header tap */
  char delim[4 + UPLOAD__BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
  size_t dlen;
  size_t matched;        /* bytes of delim matched so far */
  bool in_headers;       /* reading a header block */
  bool tap_done;         /* the close delimiter was seen */
  bool skip_lf;          /* a CR ended the last line: a LF next is its */
  unsigned hline;        /* lines of the block ended so far (the first is
                            the rest of the delimiter line) */
  char line[UPLOAD__LINE_MAX + 1]; /* the header line being read */
  size_t llen;
  bool line_long;        /* it has more than UPLOAD__LINE_MAX bytes */
  bink_rc tap_rc;        /* what the tap found wrong, BINK_OK while fine */
  char tap_msg[200];

  /* The part whose header block the tap read last: what the post
   * processor hands over while it is fed up to the next delimiter belongs
   * to it (upload__feed_mhd). */
  long part;             /* its index, -1 before the first delimiter */
  bool part_is_file;     /* it is the (first) part named file */
  bool part_has_cd;      /* it had a Content-Disposition header */
  bool part_has_ct;      /* MHD has found its Content-Type */
  bool part_called;      /* the post processor has called for it */
  uint64_t part_off;     /* bytes of it the post processor handed over */
  char disposition[MEDIA_DISPOSITION_MAX + 1];
};

/* ---------------------------------------------------------------------- */
/* The header tap                                                          */

static void upload__tap_fail(http__upload *u, bink_rc rc, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));
static void upload__tap_fail(http__upload *u, bink_rc rc, const char *fmt,
                             ...) {
  if (u->tap_rc)
    return;
  u->tap_rc = rc;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(u->tap_msg, sizeof u->tap_msg, fmt, ap);
  va_end(ap);
}

/* Case-insensitive search for the NUL-terminated needle in h[0..n). */
static const char *upload__find_ci(const char *h, size_t n,
                                   const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (strncasecmp(h + i, needle, k) == 0)
      return h + i;
  return NULL;
}

/* One header line of a part (without its line end), u->line[0..llen). */
static void upload__header_line(http__upload *u) {
  static const char cd[] = "content-disposition:";
  const char *l = u->line;
  size_t n = u->llen;
  bool is_cd = n >= sizeof cd - 1 && strncasecmp(l, cd, sizeof cd - 1) == 0;
  if (u->line_long) {
    if (is_cd)
      upload__tap_fail(u, BINK_EINVAL,
                       "the Content-Disposition header of a part is longer "
                       "than %d bytes",
                       UPLOAD__LINE_MAX);
    else
      upload__tap_fail(u, BINK_EINVAL,
                       "a header of a multipart part is longer than %d bytes",
                       UPLOAD__LINE_MAX);
    return;
  }
  if (is_cd) {
    if (u->part_has_cd) {
      upload__tap_fail(u, BINK_EINVAL,
                       "a multipart part has two Content-Disposition "
                       "headers");
      return;
    }
    u->part_has_cd = true;
    const char *v = l + sizeof cd - 1;
    size_t vl = n - (sizeof cd - 1);
    while (vl && (*v == ' ' || *v == '\t'))
      v++, vl--;
    media_disposition d;
    media_disposition_parse(v, vl, &d);
    if (d.has_name && strcmp(d.name, "file") == 0) {
      if (++u->pub.parts > 1) {
        upload__tap_fail(u, BINK_EINVAL,
                         "file must be sent once; the body has more than "
                         "one part named file");
        return;
      }
      u->part_is_file = true;
      memcpy(u->disposition, v, vl); /* vl < UPLOAD__LINE_MAX */
      u->disposition[vl] = '\0';
    }
  }
  /* A nested multipart body (RFC 7578 section 4.3 forbids it; RFC 2388
   * allowed multipart/mixed): libmicrohttpd would hand each inner part
   * over under the outer name. Its test finds "Content-type: " anywhere
   * in a line that is not the Content-Disposition, the first time only;
   * that test, and every proper Content-Type header, are checked. */
  static const char mhd_cd[] = "content-disposition: ";
  const char *ct = NULL;
  if (!u->part_has_ct && !(n >= sizeof mhd_cd - 1 &&
                           strncasecmp(l, mhd_cd, sizeof mhd_cd - 1) == 0) &&
      (ct = upload__find_ci(l, n, "content-type: ")) != NULL)
    u->part_has_ct = true;
  if (!ct && !is_cd && n > 13 && strncasecmp(l, "content-type:", 13) == 0)
    ct = l;
  if (!ct)
    return;
  const char *t = (const char *)memchr(ct, ':', n - (size_t)(ct - l)) + 1;
  const char *end = l + n;
  while (t < end && (*t == ' ' || *t == '\t'))
    t++;
  if ((size_t)(end - t) >= 10 && strncasecmp(t, "multipart/", 10) == 0) {
    int tl = 0;
    while (t + tl < end && tl < 40 && t[tl] != ';' && t[tl] != ' ')
      tl++;
    upload__tap_fail(u, BINK_EINVAL,
                     "a part of the body is itself multipart (%.*s); nested "
                     "multipart parts are not accepted: send the file as "
                     "one part named file",
                     tl, t);
  }
}

/* A line of the header block has ended. */
static void upload__line_end(http__upload *u) {
  unsigned idx = u->hline++;
  if (idx == 0) {
    /* the rest of the delimiter line (the close delimiter's "--" is found
     * as it arrives, by upload__tap) */
  } else if (u->llen == 0 && !u->line_long) {
    u->in_headers = false; /* the blank line: the part's data follow */
  } else {
    upload__header_line(u);
  }
  u->llen = 0;
  u->line_long = false;
}

/* The tap has seen the delimiter that opens the next part. */
static void upload__part_start(http__upload *u) {
  u->in_headers = true;
  u->hline = 0;
  u->llen = 0;
  u->line_long = false;
  u->skip_lf = false;
}

/* Watches raw body bytes d[0..n) for "\r\n--boundary" and reads the header
 * block after each, line by line (a line ends at CR, LF or CRLF, as for
 * the post processor). The first delimiter may start the body without the
 * CRLF: the tap starts as if one had just been read. Stops right after a
 * complete delimiter (*delim set) or at the end; returns the bytes
 * consumed. */
static size_t upload__tap(http__upload *u, const char *d, size_t n,
                          bool *delim) {
  size_t i = 0;
  *delim = false;
  while (i < n && !u->tap_done && !u->tap_rc) {
    if (u->in_headers) {
      for (; i < n && u->in_headers && !u->tap_rc; i++) {
        char ch = d[i];
        if (u->skip_lf) {
          u->skip_lf = false;
          if (ch == '\n')
            continue;
        }
        if (ch == '\r' || ch == '\n') {
          u->skip_lf = ch == '\r';
          upload__line_end(u);
          continue;
        }
        if (u->llen < UPLOAD__LINE_MAX)
          u->line[u->llen++] = ch;
        else
          u->line_long = true;
        if (u->hline == 0 && u->llen == 2 && u->line[0] == '-' &&
            u->line[1] == '-') {
          u->tap_done = true; /* "--" after the boundary: the close one */
          u->in_headers = false;
          return i + 1;
        }
      }
      continue;
    }
    if (u->matched == 0) {
      /* Whole delimiters by memmem; one cut by the chunk's end is carried
       * over as a partial match of its longest prefix. */
      const char *hit = memmem(d + i, n - i, u->delim, u->dlen);
      if (hit) {
        *delim = true;
        return (size_t)(hit - d) + u->dlen;
      }
      size_t k = n - i < u->dlen - 1 ? n - i : u->dlen - 1;
      for (; k > 0; k--)
        if (memcmp(d + n - k, u->delim, k) == 0)
          break;
      u->matched = k;
      return n;
    }
    if (d[i] == u->delim[u->matched]) {
      if (++u->matched == u->dlen) {
        u->matched = 0;
        *delim = true;
        return i + 1;
      }
    } else {
      u->matched = d[i] == '\r' ? 1 : 0; /* '\r' only opens a delimiter */
    }
    i++;
  }
  return u->tap_rc ? i : n;
}

/* ---------------------------------------------------------------------- */
/* The part data                                                           */

static void upload__drop_file(http__upload *u) {
  u->wlen = 0;
  if (u->fd >= 0) {
    close(u->fd);
    u->fd = -1;
  }
  if (u->tmp_path[0]) {
    if (unlink(u->tmp_path) != 0 && errno != ENOENT)
      binkd_log(BINKD_LOG_WARN, "cannot remove %s: %s", u->tmp_path,
                strerror(errno));
    u->tmp_path[0] = '\0';
  }
}

static bool upload__open(http__upload *u) {
  if (mkdir(u->dir, 0700) != 0 && errno != EEXIST) {
    binkd_log(BINKD_LOG_ERROR, "cannot create %s: %s", u->dir,
              strerror(errno));
    return false;
  }
  if (!u->wbuf && !(u->wbuf = malloc(UPLOAD__WBUF))) {
    binkd_log(BINKD_LOG_ERROR, "out of memory for an upload's buffer");
    return false;
  }
  snprintf(u->tmp_path, sizeof u->tmp_path, "%s/upload-XXXXXX", u->dir);
  u->fd = mkstemp(u->tmp_path);
  if (u->fd < 0) {
    binkd_log(BINKD_LOG_ERROR, "cannot create a file in %s: %s", u->dir,
              strerror(errno));
    u->tmp_path[0] = '\0';
    return false;
  }
  return true;
}

static bool upload__write(int fd, const char *data, size_t n) {
  while (n) {
    ssize_t w = write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    data += w;
    n -= (size_t)w;
  }
  return true;
}

/* n more bytes are in the file. */
static void upload__written(http__upload *u, size_t n) {
  u->written += n;
  if (u->written - u->flushed >= UPLOAD__FLUSH_EVERY) {
    /* Start writing back what has arrived so far, so that the fsync at
     * the end has little left to wait for (Linux; a hint, errors are
     * found by that fsync). */
    (void)sync_file_range(u->fd, (off_t)u->flushed,
                          (off_t)(u->written - u->flushed),
                          SYNC_FILE_RANGE_WRITE);
    u->flushed = u->written;
  }
}

/* Writes the gathered bytes out. */
static bool upload__flush(http__upload *u) {
  if (u->wlen && !upload__write(u->fd, u->wbuf, u->wlen))
    return false;
  upload__written(u, u->wlen);
  u->wlen = 0;
  return true;
}

/* Appends bytes of the file part. libmicrohttpd hands the body over in
 * pieces of about half its per-connection pool (~8 KiB with server.c's
 * HTTP__POOL_BYTES); they are gathered so that the fixed cost of a
 * write(2) comes once per UPLOAD__WBUF bytes, not once per piece. */
static bool upload__store(http__upload *u, const char *data, size_t n) {
  if (u->wlen + n > UPLOAD__WBUF && !upload__flush(u))
    return false;
  if (n >= UPLOAD__WBUF) {
    if (!upload__write(u->fd, data, n))
      return false;
    upload__written(u, n);
    return true;
  }
  memcpy(u->wbuf + u->wlen, data, n);
  u->wlen += n;
  return true;
}

static enum MHD_Result upload__iter(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *filename,
                                    const char *content_type,
                                    const char *transfer_encoding,
                                    const char *data, uint64_t off,
                                    size_t size) {
  http__upload *u = cls;
  (void)kind;
  (void)content_type;
  (void)transfer_encoding;
  /* What the post processor hands over belongs to the part the tap read
   * last (upload__feed). Its own view must agree: each part starts at
   * offset 0 and goes on where the last call ended (MHD_PostDataIterator),
   * under one name and file name. A call that does not continue the file
   * part is another part (a nested one, or one the tap did not see): it
   * is never appended; the upload fails. MHD reads a name only when it is
   * quoted and in lower case (name="file"); the tap reads every form. */
  bool mhd_file = key && strcmp(key, "file") == 0;
  if (u->part < 0 || (mhd_file && !u->part_is_file)) {
    u->mixed_up = true;
    return MHD_NO;
  }
  if (!u->part_is_file)
    return MHD_YES; /* other parts are ignored */
  if ((key && !mhd_file) || off != u->part_off ||
      (filename && u->filename && strcmp(filename, u->filename) != 0) ||
      (filename && !u->filename && u->part_called)) {
    u->mixed_up = true;
    upload__drop_file(u);
    return MHD_NO;
  }
  u->part_called = true;
  if (filename && !u->filename && !(u->filename = strdup(filename))) {
    u->io_error = true;
    upload__drop_file(u);
    return MHD_NO;
  }
  if (size == 0)
    return MHD_YES;
  u->part_off += size;
  if ((uint64_t)u->limit - u->pub.size < size) {
    u->too_large = true; /* the first byte past the limit: stop here */
    upload__drop_file(u);
    return MHD_NO;
  }
  if (u->fd < 0 && (u->tmp_path[0] || !upload__open(u))) {
    u->io_error = true;
    return MHD_NO;
  }
  if (EVP_DigestUpdate(u->md, data, size) != 1 ||
      !upload__store(u, data, size)) {
    binkd_log(BINKD_LOG_ERROR, "cannot write %s: %s", u->tmp_path,
              strerror(errno));
    u->io_error = true;
    upload__drop_file(u);
    return MHD_NO;
  }
  u->pub.size += size;
  return MHD_YES;
}

/* ---------------------------------------------------------------------- */

/* RFC 2046 section 5.1.1 bchars. */
static bool upload__bchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || (c && strchr("'()+_,-./:=? ", c) != NULL);
}

/* Reads a multipart/form-data Content-Type (RFC 9110 section 8.3.1:
 * type and parameter names are case-insensitive, values tokens or quoted
 * strings, in any order) and writes its boundary into out. */
static bink_rc upload__content_type(const char *ct, char *out, size_t cap,
                                    bink_err *err) {
  static const char mp[] = "multipart/form-data";
  const char *p = ct ? ct : "";
  while (*p == ' ' || *p == '\t')
    p++;
  size_t tn = strcspn(p, "; \t");
  if (tn != sizeof mp - 1 || strncasecmp(p, mp, tn) != 0)
    return bink_fail(err, BINK_EMEDIATYPE,
                     "unsupported content type; uploads take "
                     "multipart/form-data with a part named file");
  p += tn;
  bool found = false;
  size_t bn = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      break;
    if (*p != ';')
      return bink_fail(err, BINK_EINVAL, "the Content-Type header is "
                                         "malformed (parameters)");
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      break; /* a trailing ';' */
    size_t kn = strcspn(p, "=; \t");
    const char *k = p;
    p += kn;
    if (kn == 0 || *p != '=')
      return bink_fail(err, BINK_EINVAL, "the Content-Type header is "
                                         "malformed (parameters)");
    p++;
    bool is_b = kn == 8 && strncasecmp(k, "boundary", 8) == 0 && !found;
    char val[UPLOAD__BOUNDARY_MAX + 2];
    size_t vn = 0;
    bool over = false;
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
          p++;
        if (vn < sizeof val - 1)
          val[vn++] = *p;
        else
          over = true;
      }
      if (*p != '"')
        return bink_fail(err, BINK_EINVAL, "the Content-Type header is "
                                           "malformed (an unclosed quote)");
      p++;
    } else {
      for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
        if (vn < sizeof val - 1)
          val[vn++] = *p;
        else
          over = true;
      }
    }
    if (!is_b)
      continue;
    found = true;
    bool ok = !over && vn >= 1 && vn <= UPLOAD__BOUNDARY_MAX &&
              vn < cap && val[vn - 1] != ' ';
    for (size_t i = 0; ok && i < vn; i++)
      ok = upload__bchar((unsigned char)val[i]);
    if (!ok)
      return bink_fail(err, BINK_EINVAL,
                       "the boundary parameter must be 1 to 70 of A-Z a-z "
                       "0-9 '()+_,-./:=? and space, not ending in a space "
                       "(RFC 2046)");
    memcpy(out, val, vn);
    out[vn] = '\0';
    bn = vn;
  }
  if (!found)
    return bink_fail(err, BINK_EMEDIATYPE,
                     "multipart/form-data needs a boundary parameter of "
                     "1..70 characters");
  if (bn < UPLOAD__BOUNDARY_MIN)
    return bink_fail(err, BINK_EINVAL,
                     "boundary=%s is too short: the multipart parser "
                     "(libmicrohttpd) needs a boundary of %d to %d "
                     "characters",
                     out, UPLOAD__BOUNDARY_MIN, UPLOAD__BOUNDARY_MAX);
  return BINK_OK;
}

/* libmicrohttpd's post processor reads the boundary from the request's
 * Content-Type itself, and only as the lower-case "boundary=" followed by
 * everything up to the end of the value: BOUNDARY=x, or a parameter after
 * the boundary ("; charset=utf-8"), would leave it without one or with the
 * wrong one. When it would not read `boundary`, the value is rewritten as
 * "multipart/form-data;boundary=<boundary>": libmicrohttpd keeps received
 * header values NUL-terminated in the connection's own (writable) buffer
 * for the whole request, and the rewrite is never longer than what it
 * replaces ("multipart/form-data", ';', "boundary=" and the value are all
 * in the original). */
static bool upload__normalize_ct(struct MHD_Connection *conn,
                                 const char *boundary) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_CONTENT_TYPE);
  static const char mp[] = "multipart/form-data";
  if (!v || strlen(v) < sizeof mp - 1)
    return false;
  size_t bn = strlen(boundary);
  const char *b = strstr(v + sizeof mp - 1, "boundary=");
  if (b) {
    b += 9;
    size_t rn = strlen(b);
    if ((rn == bn && memcmp(b, boundary, bn) == 0) ||
        (rn == bn + 2 && b[0] == '"' && b[rn - 1] == '"' &&
         memcmp(b + 1, boundary, bn) == 0))
      return true; /* as libmicrohttpd will read it */
  }
  static const char canon[] = "multipart/form-data;boundary=";
  size_t need = sizeof canon - 1 + bn;
  if (need > strlen(v))
    return false;
  char *w = (char *)(uintptr_t)v;
  memcpy(w, canon, sizeof canon - 1);
  memcpy(w + sizeof canon - 1, boundary, bn);
  w[need] = '\0';
  return true;
}

bink_rc http__upload_begin(struct MHD_Connection *conn,
                           const char *content_type, const char *tmp_dir,
                           int64_t limit, http__upload **out, bink_err *err) {
  *out = NULL;
  char boundary[UPLOAD__BOUNDARY_MAX + 1];
  bink_rc rc = upload__content_type(content_type, boundary, sizeof boundary,
                                    err);
  if (rc != BINK_OK)
    return rc;
  if (!upload__normalize_ct(conn, boundary))
    return bink_fail(err, BINK_EINVAL, "the Content-Type header is "
                                       "malformed");
  http__upload *u = calloc(1, sizeof *u);
  if (!u)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  u->fd = -1;
  u->limit = limit;
  u->part = -1;
  u->pub.tmp_path = u->tmp_path;
  u->pub.disposition = u->disposition;
  snprintf(u->dir, sizeof u->dir, "%s", tmp_dir);
  u->dlen = (size_t)snprintf(u->delim, sizeof u->delim, "\r\n--%s", boundary);
  u->matched = 2; /* as if the body began after a CRLF */
  u->md = EVP_MD_CTX_new();
  u->pp = MHD_create_post_processor(conn, UPLOAD__PP_BUFFER, upload__iter, u);
  if (!u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
    http__upload_free(u);
    return bink_fail(err, BINK_EINTERNAL, "cannot start the upload");
  }
  if (!u->pp) { /* what the checks above let through, it still refused */
    http__upload_free(u);
    return bink_fail(err, BINK_EINVAL,
                     "the multipart/form-data Content-Type cannot be "
                     "parsed (boundary)");
  }
  *out = u;
  return BINK_OK;
}

/* The tap has passed a delimiter and the post processor has been fed up
 * to it: what it hands over from now on is the next part's. */
static void upload__next_part(http__upload *u) {
  u->part++;
  u->part_is_file = false;
  u->part_has_cd = false;
  u->part_has_ct = false;
  u->part_called = false;
  u->part_off = 0;
  upload__part_start(u);
}

bink_rc http__upload_feed(http__upload *u, const char *data, size_t n,
                          bink_err *err) {
  if (u->failed)
    return u->failed;
  /* The bytes go to the tap first, then, up to the end of each delimiter
   * at a time, to the post processor: when it has read a delimiter it has
   * handed over all of the part before it (the delimiter is whole in its
   * buffer), and it cannot hand over any of the part after it before it
   * has read that part's headers, which the tap has then read too. So the
   * tap's part is the one the post processor speaks of, and the bytes of
   * a part the tap refuses (a second file, a nested multipart body, a
   * header too long to read) never reach it. */
  while (n > 0) {
    bool delim = false;
    size_t k = upload__tap(u, data, n, &delim);
    if (u->tap_rc) {
      upload__drop_file(u);
      return u->failed = bink_fail(err, u->tap_rc, "%s", u->tap_msg);
    }
    if (k && MHD_post_process(u->pp, data, k) != MHD_YES)
      break;
    if (delim)
      upload__next_part(u);
    data += k;
    n -= k;
  }
  if (n == 0)
    return BINK_OK;
  upload__drop_file(u);
  if (u->mixed_up)
    return u->failed = bink_fail(err, BINK_EINVAL,
                                 "the multipart/form-data body is malformed "
                                 "(its parts cannot be told apart)");
  if (u->too_large)
    return u->failed = bink_fail(err, BINK_ETOOLARGE,
                                 "file is larger than %lld bytes "
                                 "(--max-upload-bytes)",
                                 (long long)u->limit);
  if (u->io_error)
    return u->failed = bink_fail(err, BINK_EUNAVAIL,
                                 "storage unavailable: cannot store the "
                                 "upload");
  return u->failed = bink_fail(err, BINK_EINVAL,
                               "the multipart/form-data body is malformed");
}

bink_rc http__upload_finish(http__upload *u, bink_err *err) {
  if (u->failed)
    return u->failed;
  struct MHD_PostProcessor *pp = u->pp;
  u->pp = NULL;
  bool complete = MHD_destroy_post_processor(pp) == MHD_YES;
  if (!complete || (u->pub.parts == 0 && u->pub.size > 0)) {
    upload__drop_file(u);
    return u->failed = bink_fail(err, BINK_EINVAL,
                                 "the multipart/form-data body is malformed "
                                 "or incomplete");
  }
  u->pub.filename = u->filename;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(u->md, u->pub.sha256, &len) != 1) {
    upload__drop_file(u);
    return u->failed = bink_fail(err, BINK_EINTERNAL, "digest failed");
  }
  if (u->fd >= 0) {
    if (!upload__flush(u) || fsync(u->fd) != 0) {
      binkd_log(BINKD_LOG_ERROR, "cannot write or fsync %s: %s", u->tmp_path,
                strerror(errno));
      upload__drop_file(u);
      return u->failed = bink_fail(err, BINK_EUNAVAIL,
                                   "storage unavailable: cannot store the "
                                   "upload");
    }
    close(u->fd);
    u->fd = -1;
  }
  return BINK_OK;
}

bool http__upload_peer_gone(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (!ci)
    return false;
  char c;
  ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR);
}

const http_upload *http__upload_public(const http__upload *u) {
  return u ? &u->pub : NULL;
}

void http__upload_free(http__upload *u) {
  if (!u)
    return;
  upload__drop_file(u);
  if (u->pp)
    MHD_destroy_post_processor(u->pp);
  EVP_MD_CTX_free(u->md);
  free(u->filename);
  free(u->wbuf);
  free(u);
}
