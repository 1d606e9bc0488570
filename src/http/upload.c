/*
 * upload.c: streaming multipart/form-data uploads (see upload.h).
 */
#define _GNU_SOURCE /* memmem */
#include "http/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
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
#define UPLOAD__HEADERS_MAX 4096      /* one part's header block, bytes */
#define UPLOAD__FLUSH_EVERY (2u << 20) /* bytes between writeback starts */

struct http__upload {
  http_upload pub;
  struct MHD_PostProcessor *pp;
  int64_t limit;
  char dir[1024];
  char tmp_path[1100];
  int fd;                /* -1 when closed */
  uint64_t flushed;      /* bytes handed to writeback so far */
  EVP_MD_CTX *md;
  bink_rc failed;        /* first error, BINK_OK while going */
  bool too_large;        /* set by the iterator */
  bool io_error;         /* set by the iterator */
  char *filename;        /* from the post processor (heap) */

  /* the header tap */
  char delim[4 + UPLOAD__BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
  size_t dlen;
  size_t matched;        /* bytes of delim matched so far */
  bool in_headers;       /* collecting a header block */
  bool tap_done;         /* the close delimiter was seen */
  char headers[UPLOAD__HEADERS_MAX];
  size_t hlen;
  char disposition[1024];
};

/* ---------------------------------------------------------------------- */
/* The header tap                                                          */

/* A complete header block (CRs removed, lines separated by '\n'). */
static void upload__headers_done(http__upload *u) {
  const char *p = u->headers, *end = u->headers + u->hlen;
  static const char cd[] = "content-disposition:";
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    size_t ll = (size_t)(le - p);
    if (ll > sizeof cd - 1 && strncasecmp(p, cd, sizeof cd - 1) == 0) {
      const char *v = p + sizeof cd - 1;
      size_t vl = (size_t)(le - v);
      media_disposition d;
      media_disposition_parse(v, vl, &d);
      if (d.has_name && strcmp(d.name, "file") == 0) {
        u->pub.parts++;
        if (u->pub.parts == 1) {
          while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
          if (vl < sizeof u->disposition) {
            memcpy(u->disposition, v, vl);
            u->disposition[vl] = '\0';
          }
        }
      }
      return;
    }
    p = le + 1;
  }
}

/* Watches raw body bytes for "\r\n--boundary" and copies the header block
 * after each (up to the blank line). The first delimiter may start the
 * body without the CRLF: the tap starts as if one had just been read. */
static void upload__tap(http__upload *u, const char *d, size_t n) {
  size_t i = 0;
  while (i < n && !u->tap_done) {
    if (u->in_headers) {
      for (; i < n; i++) {
        char ch = d[i];
        if (ch == '\r')
          continue;
        if (u->hlen + 1 >= sizeof u->headers) { /* oversized: skip it */
          u->in_headers = false;
          break;
        }
        u->headers[u->hlen++] = ch;
        if (u->hlen == 2 && u->headers[0] == '-' && u->headers[1] == '-') {
          u->tap_done = true; /* the close delimiter */
          break;
        }
        if (u->hlen >= 2 && ch == '\n' && u->headers[u->hlen - 2] == '\n') {
          u->headers[u->hlen] = '\0';
          upload__headers_done(u);
          u->in_headers = false;
          i++;
          break;
        }
      }
      continue;
    }
    if (u->matched == 0) {
      /* Whole delimiters by memmem; one cut by the chunk's end is carried
       * over as a partial match of its longest prefix. */
      const char *hit = memmem(d + i, n - i, u->delim, u->dlen);
      if (hit) {
        i = (size_t)(hit - d) + u->dlen;
        u->in_headers = true;
        u->hlen = 0;
        continue;
      }
      size_t k = n - i < u->dlen - 1 ? n - i : u->dlen - 1;
      for (; k > 0; k--)
        if (memcmp(d + n - k, u->delim, k) == 0)
          break;
      u->matched = k;
      return;
    }
    if (d[i] == u->delim[u->matched]) {
      if (++u->matched == u->dlen) {
        u->matched = 0;
        u->in_headers = true;
        u->hlen = 0;
      }
    } else {
      u->matched = d[i] == '\r' ? 1 : 0; /* '\r' only opens a delimiter */
    }
    i++;
  }
}

/* ---------------------------------------------------------------------- */
/* The part data                                                           */

static void upload__drop_file(http__upload *u) {
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

static enum MHD_Result upload__iter(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *filename,
                                    const char *content_type,
                                    const char *transfer_encoding,
                                    const char *data, uint64_t off,
                                    size_t size) {
  http__upload *u = cls;
  if (!key || strcmp(key, "file") != 0 || u->pub.parts > 1)
    return MHD_YES; /* other parts are ignored */
  if (filename && !u->filename)
    u->filename = strdup(filename);
  if (size == 0)
    return MHD_YES;
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
      !upload__write(u->fd, data, size)) {
    binkd_log(BINKD_LOG_ERROR, "cannot write %s: %s", u->tmp_path,
              strerror(errno));
    u->io_error = true;
    upload__drop_file(u);
    return MHD_NO;
  }
  u->pub.size += size;
  if (u->pub.size - u->flushed >= UPLOAD__FLUSH_EVERY) {
    /* Start writing back what has arrived so far, so that the fsync at
     * the end has little left to wait for (Linux; a hint, errors are
     * found by that fsync). */
    (void)sync_file_range(u->fd, (off_t)u->flushed,
                          (off_t)(u->pub.size - u->flushed),
                          SYNC_FILE_RANGE_WRITE);
    u->flushed = u->pub.size;
  }
  return MHD_YES;
}

/* ---------------------------------------------------------------------- */

/* The boundary parameter of a multipart Content-Type (quoted or not). */
static bool upload__boundary(const char *ct, char *out, size_t cap) {
  const char *p = ct;
  while ((p = strchr(p, ';')) != NULL) {
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, "boundary=", 9) != 0)
      continue;
    p += 9;
    size_t n;
    if (*p == '"') {
      p++;
      const char *q = strchr(p, '"');
      if (!q)
        return false;
      n = (size_t)(q - p);
    } else {
      n = strcspn(p, "; \t");
    }
    if (n == 0 || n > UPLOAD__BOUNDARY_MAX || n >= cap)
      return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
  }
  return false;
}

bink_rc http__upload_begin(struct MHD_Connection *conn,
                           const char *content_type, const char *tmp_dir,
                           int64_t limit, http__upload **out, bink_err *err) {
  *out = NULL;
  static const char mp[] = "multipart/form-data";
  char boundary[UPLOAD__BOUNDARY_MAX + 1];
  if (!content_type || strncasecmp(content_type, mp, sizeof mp - 1) != 0 ||
      (content_type[sizeof mp - 1] != ';' && content_type[sizeof mp - 1] != ' ' &&
       content_type[sizeof mp - 1] != '\0'))
    return bink_fail(err, BINK_EMEDIATYPE,
                     "unsupported content type; uploads take "
                     "multipart/form-data with a part named file");
  if (!upload__boundary(content_type, boundary, sizeof boundary))
    return bink_fail(err, BINK_EMEDIATYPE,
                     "multipart/form-data needs a boundary parameter of "
                     "1..70 characters");
  http__upload *u = calloc(1, sizeof *u);
  if (!u)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  u->fd = -1;
  u->limit = limit;
  u->pub.tmp_path = u->tmp_path;
  u->pub.disposition = u->disposition;
  snprintf(u->dir, sizeof u->dir, "%s", tmp_dir);
  u->dlen = (size_t)snprintf(u->delim, sizeof u->delim, "\r\n--%s", boundary);
  u->matched = 2; /* as if the body began after a CRLF */
  u->md = EVP_MD_CTX_new();
  u->pp = MHD_create_post_processor(conn, UPLOAD__PP_BUFFER, upload__iter, u);
  if (!u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1 || !u->pp) {
    http__upload_free(u);
    return bink_fail(err, BINK_EINTERNAL, "cannot start the upload");
  }
  *out = u;
  return BINK_OK;
}

bink_rc http__upload_feed(http__upload *u, const char *data, size_t n,
                          bink_err *err) {
  if (u->failed)
    return u->failed;
  upload__tap(u, data, n);
  if (u->pub.parts > 1) {
    upload__drop_file(u);
    return u->failed = bink_fail(err, BINK_EINVAL,
                                 "file must be sent once; the body has more "
                                 "than one part named file");
  }
  if (MHD_post_process(u->pp, data, n) == MHD_YES)
    return BINK_OK;
  upload__drop_file(u);
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
    if (fsync(u->fd) != 0) {
      binkd_log(BINKD_LOG_ERROR, "cannot fsync %s: %s", u->tmp_path,
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
  free(u);
}
