/*
 * svc_files.c: uploads, media attachments, downloads and the sticker
 * catalogue (svc.h "files and stickers"), and the file store on disk with
 * libmagic sniffing (files.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <magic.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h" /* BINKD_PATH_MAX */
#include "log.h"
#include "svc/files.h"
#include "svc/svc_internal.h"

#define SVC__IDEMPOTENCY_AGE 86400  /* seconds (bot-api.md "Idempotency") */
#define FILES__STICKER_MAX (5 << 20) /* bytes of one imported sticker image */
#define FILES__SNIFF_BYTES (1 << 20) /* bytes libmagic looks at */

/* ---------------------------------------------------------------------- */
/* libmagic (one handle, serialised: handles are not thread-safe)          */

static pthread_mutex_t files__magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t files__magic;
static bool files__magic_failed;

/* Opens the handle on first use; call with the lock held. */
static bool files__magic_ready(void) {
  if (files__magic || files__magic_failed)
    return files__magic != NULL;
  magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
  if (!m || magic_load(m, NULL) != 0) {
    binkd_log(BINKD_LOG_ERROR, "libmagic: cannot load its database: %s",
              m ? magic_error(m) : "out of memory");
    if (m)
      magic_close(m);
    files__magic_failed = true;
    return false;
  }
  /* Sniff the head of a file only: libmagic 5.44 reads up to 7 MiB and
   * scans all of it for a text encoding; 1 MiB decides every type the
   * media rules care about. */
  size_t bytes_max = FILES__SNIFF_BYTES;
  magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
  files__magic = m;
  return true;
}

static bink_rc files__sniff(const char *path, const void *bytes, size_t n,
                            char mime[MEDIA_MIME_MAX]) {
  pthread_mutex_lock(&files__magic_lock);
  const char *t = NULL;
  if (files__magic_ready())
    t = path ? magic_file(files__magic, path)
             : magic_buffer(files__magic, bytes, n);
  if (t)
    media_mime_canon(t, strlen(t), mime, MEDIA_MIME_MAX);
  else if (files__magic)
    binkd_log(BINKD_LOG_ERROR, "libmagic: %s", magic_error(files__magic));
  pthread_mutex_unlock(&files__magic_lock);
  return t ? BINK_OK : BINK_EUNAVAIL;
}

bink_rc files_sniff_path(const char *path, char mime[MEDIA_MIME_MAX]) {
  return files__sniff(path, NULL, 0, mime);
}

bink_rc files_sniff_bytes(const void *bytes, size_t n,
                          char mime[MEDIA_MIME_MAX]) {
  return files__sniff(NULL, bytes, n, mime);
}

void files_shutdown(void) {
  pthread_mutex_lock(&files__magic_lock);
  if (files__magic)
    magic_close(files__magic);
  files__magic = NULL;
  pthread_mutex_unlock(&files__magic_lock);
}

/* ---------------------------------------------------------------------- */
/* Blobs on disk                                                           */

static bool files__mkdir(const char *path) {
  if (mkdir(path, 0700) == 0 || errno == EEXIST)
    return true;
  binkd_log(BINKD_LOG_ERROR, "cannot create %s: %s", path, strerror(errno));
  return false;
}

static void files__fsync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    if (fsync(fd) != 0)
      binkd_log(BINKD_LOG_WARN, "cannot fsync %s: %s", path, strerror(errno));
    close(fd);
  }
}

bool files_blob_path(const char *data_dir, const char *sha256, char *out,
                     size_t cap) {
  if (strlen(sha256) != 64)
    return false;
  int n = snprintf(out, cap, "%s/files/%.2s/%.2s/%s", data_dir, sha256,
                   sha256 + 2, sha256);
  return n > 0 && (size_t)n < cap;
}

bink_rc files_blob_publish(const char *data_dir, const char *tmp_path,
                           const char *sha256) {
  char path[BINKD_PATH_MAX + 128], dir[BINKD_PATH_MAX + 64];
  if (!files_blob_path(data_dir, sha256, path, sizeof path))
    return BINK_EUNAVAIL;
  snprintf(dir, sizeof dir, "%s/files", data_dir);
  if (!files__mkdir(dir))
    return BINK_EUNAVAIL;
  snprintf(dir, sizeof dir, "%s/files/%.2s", data_dir, sha256);
  if (!files__mkdir(dir))
    return BINK_EUNAVAIL;
  snprintf(dir, sizeof dir, "%s/files/%.2s/%.2s", data_dir, sha256,
           sha256 + 2);
  if (!files__mkdir(dir))
    return BINK_EUNAVAIL;
  if (link(tmp_path, path) != 0) {
    if (errno == EEXIST)
      return BINK_OK; /* the same bytes are stored already */
    binkd_log(BINKD_LOG_ERROR, "cannot store %s: %s", path, strerror(errno));
    return BINK_EUNAVAIL;
  }
  files__fsync_dir(dir);
  return BINK_OK;
}

bink_rc files_blob_put(const char *data_dir, const void *bytes, size_t n,
                       char sha256[MEDIA_SHA256_HEX]) {
  unsigned char digest[BINK_SHA256_LEN];
  bink_sha256(bytes, n, digest);
  media_hex(digest, sha256);
  char path[BINKD_PATH_MAX + 128], tmp[BINKD_PATH_MAX + 64];
  struct stat sb;
  if (files_blob_path(data_dir, sha256, path, sizeof path) &&
      stat(path, &sb) == 0 && (uint64_t)sb.st_size == n)
    return BINK_OK;
  snprintf(tmp, sizeof tmp, "%s/tmp", data_dir);
  if (!files__mkdir(tmp))
    return BINK_EUNAVAIL;
  snprintf(tmp, sizeof tmp, "%s/tmp/blob-XXXXXX", data_dir);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    binkd_log(BINKD_LOG_ERROR, "cannot create %s: %s", tmp, strerror(errno));
    return BINK_EUNAVAIL;
  }
  const char *p = bytes;
  size_t left = n;
  bool ok = true;
  while (ok && left) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR)
      continue;
    ok = w > 0;
    if (ok)
      p += w, left -= (size_t)w;
  }
  ok = ok && fsync(fd) == 0;
  if (!ok)
    binkd_log(BINKD_LOG_ERROR, "cannot write %s: %s", tmp, strerror(errno));
  close(fd);
  bink_rc rc = ok ? files_blob_publish(data_dir, tmp, sha256) : BINK_EUNAVAIL;
  unlink(tmp);
  return rc;
}

#define FILES__TMP_STALE_S 7200 /* a temporary file untouched this long */

int files_prepare_dirs(const char *data_dir) {
  char path[BINKD_PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/files", data_dir);
  if (!files__mkdir(path))
    return -1;
  snprintf(path, sizeof path, "%s/tmp", data_dir);
  if (!files__mkdir(path))
    return -1;
  DIR *d = opendir(path);
  if (!d)
    return -1;
  /* Leftovers of a crash go, but only stale ones: several nodes may share
   * the data directory (docs/scaling.md), and a file another node writes
   * right now is fresh (an upload stalls for the connection timeout at
   * most, 3600 s at most). */
  struct dirent *e;
  int removed = 0;
  time_t stale = time(NULL) - FILES__TMP_STALE_S;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "upload-", 7) != 0 &&
        strncmp(e->d_name, "blob-", 5) != 0)
      continue;
    char f[BINKD_PATH_MAX + 320];
    snprintf(f, sizeof f, "%s/%s", path, e->d_name);
    struct stat st;
    if (stat(f, &st) == 0 && st.st_mtime < stale && unlink(f) == 0)
      removed++;
  }
  closedir(d);
  if (removed)
    binkd_log(BINKD_LOG_INFO, "removed %d unfinished upload(s) from %s",
              removed, path);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Uploads                                                                 */

static json_t *svc__render_upload(const bink_file *f) {
  return json_pack("{s:s, s:s, s:s, s:I, s:s}", "file_id", f->ext_id,
                   "file_name", f->file_name, "mime_type", f->mime_type,
                   "file_size", (json_int_t)f->size, "sha256", f->sha256);
}

bink_rc svc_upload_job(store_conn *c, void *arg, bink_err *err) {
  svc_upload *op = arg;
  const char *key = op->idempotency_key;
  if (key) {
    unsigned char seen[BINK_SHA256_LEN];
    char *response = NULL;
    bink_rc rc = store_idem_get(c, op->x.caller->id, key, op->x.now,
                                SVC__IDEMPOTENCY_AGE, seen, &response);
    if (rc == BINK_OK) {
      bool same = bink_digest_equal(seen, op->request_hash);
      json_t *first = same ? json_loads(response, 0, NULL) : NULL;
      free(response);
      if (!same)
        return bink_fail(err, BINK_ECONFLICT,
                         "Idempotency-Key was already used for another "
                         "request");
      return svc__out(&op->x, first, err);
    }
    if (rc != BINK_ENOTFOUND)
      return svc__storage(rc, err);
  }
  bink_file *f = &op->file;
  f->tag[0] = '\0';
  f->owner_id = op->x.caller->id;
  f->created_at = op->x.now;
  bink_rc rc = store_file_insert(c, f);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  json_t *result = svc__render_upload(f);
  if (!result)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if (key) {
    char *text = json_dumps(result, JSON_COMPACT);
    rc = text ? store_idem_put(c, op->x.caller->id, key, op->request_hash,
                               text, op->x.now)
              : BINK_EINTERNAL;
    free(text);
    if (rc != BINK_OK) {
      json_decref(result);
      return svc__storage(rc, err);
    }
  }
  return svc__out(&op->x, result, err);
}

/* ---------------------------------------------------------------------- */
/* Visibility and attachments                                              */

/* A file_… `who` may see: uploaded by it, or carried by a live message in
 * a chat it can see. 404 naming `field` otherwise. */
static bink_rc svc__visible_file(store_conn *c, const bink_account *who,
                                 const char *field, bink_str id, bink_file *f,
                                 bink_err *err) {
  bink_rc rc = store_file_get_ext(c, id.p, id.n, f);
  if (rc == BINK_OK && f->owner_id != who->id)
    rc = store_file_in_visible_message(c, f->ext_id, who->id);
  if (rc == BINK_ENOTFOUND)
    return bink_fail(err, rc, "%s %.*s not found", field, (int)id.n, id.p);
  return rc == BINK_OK ? rc : svc__storage(rc, err);
}

static bink_rc svc__sticker(store_conn *c, const char *field, bink_str id,
                            bink_sticker *s, bink_err *err) {
  bink_rc rc = store_sticker_get_ext(c, id.p, id.n, s);
  if (rc == BINK_ENOTFOUND)
    return bink_fail(err, rc, "%s %.*s not found in the sticker catalogue",
                     field, (int)id.n, id.p);
  return rc == BINK_OK ? rc : svc__storage(rc, err);
}

bink_rc svc__attachment(store_conn *c, const bink_account *who,
                        bink_msg_type type, bink_str file_id, char **json_text,
                        bink_err *err) {
  *json_text = NULL;
  json_t *att;
  bink_rc rc;
  if (type == BINK_MSG_STICKER) {
    bink_sticker s;
    if ((rc = svc__sticker(c, "file_id", file_id, &s, err)))
      return rc;
    att = json_pack("{s:s, s:s, s:s, s:s}", "sticker_id", s.ext_id,
                    "set_name", s.set_name, "emoji", s.emoji, "mime_type",
                    s.mime_type);
  } else {
    bink_file f;
    if ((rc = svc__visible_file(c, who, "file_id", file_id, &f, err)))
      return rc;
    if (!media_type_fits(type, f.mime_type))
      return bink_fail(err, BINK_EINVAL,
                       "file_id %s is %s, which does not fit message_type %s "
                       "(%s)",
                       f.ext_id, f.mime_type, bink_msg_type_name(type),
                       media_type_accepts(type));
    att = json_pack("{s:s, s:s, s:I}", "file_name", f.file_name, "mime_type",
                    f.mime_type, "file_size", (json_int_t)f.size);
  }
  *json_text = att ? json_dumps(att, JSON_COMPACT) : NULL;
  json_decref(att);
  return *json_text ? BINK_OK
                    : bink_fail(err, BINK_EINTERNAL, "out of memory");
}

/* ---------------------------------------------------------------------- */
/* Downloads and the catalogue                                             */

bink_rc svc_get_file(store_conn *c, svc_file_query *op, bink_err *err) {
  bink_str id = op->file_id;
  bink_id_kind kind;
  int64_t n;
  bink_rc rc;
  if (bink_id_parse(id.p, id.n, &kind, &n, NULL) && kind == BINK_ID_STICKER) {
    bink_sticker s;
    if ((rc = svc__sticker(c, "file_id", id, &s, err)))
      return rc;
    if ((rc = store_file_get(c, s.file_id, &op->file)) != BINK_OK)
      return svc__storage(rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc, err);
  } else if ((rc = svc__visible_file(c, op->x.caller, "file_id", id,
                                     &op->file, err))) {
    return rc;
  }
  return svc__out(&op->x,
                  json_pack("{s:s%, s:s, s:s, s:I, s:s++%}", "file_id", id.p,
                            id.n, "file_name", op->file.file_name,
                            "mime_type", op->file.mime_type, "file_size",
                            (json_int_t)op->file.size, "download_url",
                            op->base_url, "/file/", id.p, id.n),
                  err);
}

static json_t *svc__render_sticker(const bink_sticker *s, void *arg) {
  const char *base = arg;
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s++}", "sticker_id",
                   s->ext_id, "set_name", s->set_name, "emoji", s->emoji,
                   "mime_type", s->mime_type, "file_size", (json_int_t)s->size,
                   "download_url", base, "/file/", s->ext_id);
}

bink_rc svc_stickers(store_conn *c, svc_file_query *op, bink_err *err) {
  json_t *list = json_array();
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  bink_rc rc = store_stickers_list(c, svc__render_sticker,
                                   (void *)op->base_url, list);
  if (rc != BINK_OK) {
    json_decref(list);
    return svc__storage(rc, err);
  }
  return svc__out(&op->x, json_pack("{s:o}", "stickers", list), err);
}

/* ---------------------------------------------------------------------- */
/* Installing stickers                                                     */

typedef struct files__sticker_add {
  bink_sticker s;
  bink_file f;
  bool replace;
  bool added;
  bool refused;          /* replace: the entry exists with other bytes */
} files__sticker_add;

/* Adds one catalogue entry and its image's file record (owner 0). Without
 * replace, an entry that exists is left alone (and no record is made).
 * With replace, an entry that exists keeps its id and its image: the same
 * bytes again update only its emoji; other bytes are refused (a->refused),
 * because a sticker id sent in messages must always show the same image
 * (server.md "binkd stickers import"; docs/architecture.md "Uploads"). */
static bink_rc files__sticker_job(store_conn *c, void *arg, bink_err *err) {
  files__sticker_add *a = arg;
  a->added = false;
  a->refused = false;
  bink_rc rc = store_sticker_exists(c, a->s.set_name, a->s.name);
  if (rc != BINK_OK && rc != BINK_ENOTFOUND)
    return svc__storage(rc, err);
  if (rc == BINK_OK) {
    if (!a->replace)
      return BINK_OK;
    bink_sticker old = a->s; /* without replace: its id, nothing changes */
    rc = store_sticker_put(c, &old, false);
    if (rc != BINK_ECONFLICT)
      return svc__storage(rc == BINK_OK ? BINK_EUNAVAIL : rc, err);
    bink_sticker cur;
    rc = store_sticker_get_ext(c, old.ext_id, strlen(old.ext_id), &cur);
    if (rc != BINK_OK)
      return svc__storage(rc, err);
    snprintf(a->s.ext_id, sizeof a->s.ext_id, "%s", cur.ext_id);
    if (strcmp(cur.sha256, a->f.sha256) != 0) {
      a->refused = true;
      return BINK_OK;
    }
    a->s.file_id = cur.file_id; /* the same image: no new file record */
    rc = store_sticker_put(c, &a->s, true);
    if (rc != BINK_OK)
      return svc__storage(rc, err);
    a->added = true;
    return BINK_OK;
  }
  a->f.tag[0] = '\0';
  rc = store_file_insert(c, &a->f);
  if (rc == BINK_OK) {
    a->s.file_id = a->f.id;
    rc = store_sticker_put(c, &a->s, a->replace);
  }
  if (rc == BINK_ECONFLICT) /* another node added it since the check */
    return bink_fail(err, rc, "added meanwhile"); /* undoes the file too */
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  a->added = true;
  return BINK_OK;
}

/* Stores the image bytes and the entry. Returns BINK_OK (a->added tells
 * whether anything was new) or an error (logged). */
static bink_rc files__add_sticker(store *st, const char *data_dir,
                                  files__sticker_add *a, const void *bytes,
                                  size_t n) {
  bink_rc rc = files_blob_put(data_dir, bytes, n, a->f.sha256);
  if (rc != BINK_OK)
    return rc;
  a->f.owner_id = 0;
  a->f.size = (int64_t)n;
  a->f.created_at = a->s.created_at = (int64_t)time(NULL);
  snprintf(a->f.mime_type, sizeof a->f.mime_type, "%s", a->s.mime_type);
  snprintf(a->f.file_name, sizeof a->f.file_name, "%s", a->s.name);
  bink_err err = {0};
  rc = store_write(st, files__sticker_job, a, &err);
  if (rc == BINK_ECONFLICT) /* nodes starting together: one adds it */
    return BINK_OK;
  if (rc != BINK_OK)
    binkd_log(BINKD_LOG_ERROR, "sticker %s/%s: %s", a->s.set_name, a->s.name,
              err.msg);
  return rc;
}

bink_rc files_install_default_stickers(store *st, const char *data_dir) {
  int added = 0;
  for (const files_default_sticker *d = files_default_stickers; d->name;
       d++) {
    files__sticker_add a;
    memset(&a, 0, sizeof a);
    snprintf(a.s.set_name, sizeof a.s.set_name, "%s", FILES_DEFAULT_SET);
    snprintf(a.s.name, sizeof a.s.name, "%s", d->name);
    snprintf(a.s.emoji, sizeof a.s.emoji, "%s", d->emoji);
    snprintf(a.s.mime_type, sizeof a.s.mime_type, "image/png");
    /* Cheap check first: later starts write nothing at all. */
    store_conn *rc_conn = store_reader(st);
    if (rc_conn && store_sticker_exists(rc_conn, a.s.set_name, a.s.name) ==
                       BINK_OK)
      continue;
    bink_rc rc = files__add_sticker(st, data_dir, &a, d->png, d->size);
    if (rc != BINK_OK)
      return rc;
    added += a.added;
  }
  if (added)
    binkd_log(BINKD_LOG_INFO, "installed %d stickers of the default set '%s'",
              added, FILES_DEFAULT_SET);
  return BINK_OK;
}

/* Reads a whole small file (at most max bytes) into a heap buffer. */
static char *files__slurp(const char *path, size_t max, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *buf = malloc(max + 1);
  size_t got = buf ? fread(buf, 1, max + 1, f) : 0;
  bool bad = !buf || ferror(f) || got > max;
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  *n = got;
  return buf;
}

int files_import_stickers(store *st, const char *data_dir, const char *dir,
                          const char *set, FILE *out) {
  char set_name[MEDIA_SET_MAX];
  if (!set) {
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
      dl--;
    size_t b = dl;
    while (b > 0 && dir[b - 1] != '/')
      b--;
    if (dl - b >= sizeof set_name) {
      fprintf(stderr, "binkd stickers import: give the set a name with "
                      "--set NAME (1..64 of A-Z a-z 0-9 _)\n");
      return -1;
    }
    memcpy(set_name, dir + b, dl - b);
    set_name[dl - b] = '\0';
  } else {
    snprintf(set_name, sizeof set_name, "%s", set);
  }
  if (!media_set_name_valid(set_name, strlen(set_name)) ||
      (set && strlen(set) >= sizeof set_name)) {
    fprintf(stderr,
            "binkd stickers import: set name '%s' must be 1..64 of A-Z a-z "
            "0-9 _ (use --set NAME)\n",
            set ? set : set_name);
    return -1;
  }
  struct dirent **names = NULL;
  int count = scandir(dir, &names, NULL, alphasort);
  if (count < 0) {
    fprintf(stderr, "binkd stickers import: cannot read %s: %s\n", dir,
            strerror(errno));
    return -1;
  }
  char path[BINKD_PATH_MAX + 320];
  snprintf(path, sizeof path, "%s/manifest.json", dir);
  json_t *manifest = json_load_file(path, 0, NULL);
  int imported = 0, status = 0;
  bool refused = false;
  for (int i = 0; i < count; i++) {
    const char *name = names[i]->d_name;
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (name[0] == '.' || strcmp(name, "manifest.json") == 0 ||
        stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || status != 0)
      continue;
    files__sticker_add a;
    memset(&a, 0, sizeof a);
    a.replace = true;
    snprintf(a.s.set_name, sizeof a.s.set_name, "%s", set_name);
    size_t nl = strlen(name);
    if (nl > MEDIA_NAME_MAX || !bink_utf8_valid(name, nl)) {
      fprintf(stderr, "skipped %s: the name is not UTF-8 of at most %d "
                      "bytes\n", name, MEDIA_NAME_MAX);
      continue;
    }
    memcpy(a.s.name, name, nl + 1);
    json_t *m = manifest ? json_object_get(manifest, name) : NULL;
    if (json_is_object(m))
      m = json_object_get(m, "emoji");
    if (json_is_string(m) && json_string_length(m) > 0 &&
        json_string_length(m) < sizeof a.s.emoji)
      memcpy(a.s.emoji, json_string_value(m), json_string_length(m) + 1);
    else if (!media_emoji_from_name(name, nl, a.s.emoji)) {
      fprintf(stderr, "skipped %s: no emoji (name it like smile_\xF0\x9F\x98"
                      "\x80.png or list it in manifest.json)\n", name);
      continue;
    }
    size_t n = 0;
    char *bytes = files__slurp(path, FILES__STICKER_MAX, &n);
    if (!bytes || n == 0) {
      fprintf(stderr, "skipped %s: unreadable, empty or larger than %d "
                      "bytes\n", name, FILES__STICKER_MAX);
      free(bytes);
      continue;
    }
    if (files_sniff_bytes(bytes, n, a.s.mime_type) != BINK_OK) {
      free(bytes);
      status = -1;
      continue;
    }
    if (!media_sticker_type_ok(a.s.mime_type)) {
      fprintf(stderr, "skipped %s: it is %s; stickers are PNG, WebP or "
                      "GIF\n", name, a.s.mime_type);
      free(bytes);
      continue;
    }
    bink_rc rc = files__add_sticker(st, data_dir, &a, bytes, n);
    free(bytes);
    if (rc != BINK_OK) {
      status = -1;
      continue;
    }
    if (a.refused) {
      fprintf(stderr, "refused %s: set %s already has a different image "
                      "named so (%s); a sticker's image never changes, so "
                      "give the new image another file name\n",
              name, set_name, a.s.ext_id);
      refused = true;
      continue;
    }
    imported++;
    if (out)
      fprintf(out, "%s\t%s\t%s\t%s\n", a.s.ext_id, set_name, a.s.emoji, name);
  }
  for (int i = 0; i < count; i++)
    free(names[i]);
  free(names);
  json_decref(manifest);
  return status == 0 && !refused ? imported : -1;
}
