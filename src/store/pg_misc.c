/*
 * pg_misc.c: the PostgreSQL side of the people's feed, files and the
 * sticker catalogue, and web sign-in sessions (store.h); the twin of
 * sqlite_feed.c, sqlite_files.c and sqlite_sessions.c.
 *
 * The feed is read in commit order: pg_feed_insert keeps a job's rows on
 * the writer's connection; the writer inserts the batch's rows at the end
 * of its transaction, numbered under the feed_counter lock (store_pg.c).
 * Readers walk seq and report it as the row's position; ids from the
 * sequence are not commit-ordered across nodes and are never shown.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/rules.h"
#include "log.h"
#include "store/pg_int.h"

/* ---------------------------------------------------------------------- */
/* The people's feed                                                       */

/* Walks the feed forward from `after` by commit position (unnumbered rows
 * are not committed yet); the membership tests use the members(account_id)
 * and dms(lo)/(hi) indexes. */
static const char SQL_FEED_READ[] =
    "SELECT seq, event, data FROM feed WHERE seq > $2 AND ("
    "user_id = $1 OR "
    "(group_id > 0 AND group_id IN "
    "(SELECT group_id FROM members WHERE account_id = $1)) OR "
    "(dm_id > 0 AND dm_id IN (SELECT id FROM dms WHERE lo = $1 "
    "UNION ALL SELECT id FROM dms WHERE hi = $1))) "
    "ORDER BY seq LIMIT $3";
static const char SQL_FEED_LAST[] = "SELECT coalesce(max(seq), 0) FROM feed";
static const char SQL_MEMBER_IDS[] =
    "SELECT account_id FROM members WHERE group_id = $1";

/* *id (when asked) is 0: the row's position is known only at commit. */
bink_rc pg_feed_insert(store_conn *c, int64_t group_id, int64_t dm_id,
                       int64_t user_id, const char *event, const json_t *data,
                       int64_t now, int64_t *id) {
  if (id)
    *id = 0; /* the position is known at commit only */
  if (!c->writer) {
    binkd_log(BINKD_LOG_ERROR, "database: a feed row outside a write job");
    return BINK_EUNAVAIL;
  }
  if (c->nfeed == c->cap_feed) {
    size_t cap = c->cap_feed ? 2 * c->cap_feed : 64;
    pg__feed_row *rows = realloc(c->feed, cap * sizeof *rows);
    if (!rows)
      return BINK_EUNAVAIL;
    c->feed = rows;
    c->cap_feed = cap;
  }
  pg__feed_row *row = &c->feed[c->nfeed];
  row->group_id = group_id;
  row->dm_id = dm_id;
  row->user_id = user_id;
  row->created_at = now;
  if (!data || !(row->event = strdup(event)))
    return BINK_EUNAVAIL;
  /* Not copied: the caller promises not to change it (store.h). */
  row->data = json_incref((json_t *)data);
  c->nfeed++;
  return BINK_OK;
}

bink_rc pg_feed_read(store_conn *c, int64_t user_id, int64_t after, int limit,
                     void (*fn)(void *arg, int64_t id, const char *event,
                                const char *data),
                     void *arg) {
  pg__num nu, na, nl;
  const char *p[3] = {pg__i(&nu, user_id), pg__i(&na, after),
                      pg__i(&nl, limit)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_FEED_READ, 3, p, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n; i++)
    fn(arg, pg__i64(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_feed_last(store_conn *c, int64_t *id) {
  *id = 0;
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_FEED_LAST, 0, NULL, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    *id = pg__i64(r, 0, 0);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_group_member_ids(store_conn *c, int64_t group_id,
                            void (*fn)(void *arg, int64_t id), void *arg) {
  pg__num ng;
  const char *p[1] = {pg__i(&ng, group_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_MEMBER_IDS, 1, p, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n; i++)
    fn(arg, pg__i64(r, i, 0));
  PQclear(r);
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

#define FILE_COLS                                                              \
  "id, tag, owner_id, sha256, size, mime_type, file_name, created_at"

static const char SQL_FILE_INSERT[] =
    "INSERT INTO files(tag, owner_id, sha256, size, mime_type, file_name, "
    "created_at) VALUES($1, $2, $3, $4, $5, $6, $7) RETURNING id";
static const char SQL_FILE_GET[] =
    "SELECT " FILE_COLS " FROM files WHERE id = $1";
/* Group members see their groups' messages; sides see their private
 * chats' (the same rule as svc_messages.c's svc__visible). */
static const char SQL_FILE_IN_VISIBLE[] =
    "SELECT 1 FROM messages m WHERE m.file_ref = $1 AND m.deleted = 0 AND ("
    " (m.group_id > 0 AND EXISTS (SELECT 1 FROM members b"
    "   WHERE b.group_id = m.group_id AND b.account_id = $2)) OR"
    " (m.dm_id > 0 AND EXISTS (SELECT 1 FROM dms d"
    "   WHERE d.id = m.dm_id AND (d.lo = $2 OR d.hi = $2)))) LIMIT 1";

bink_rc pg_file_insert(store_conn *c, bink_file *f) {
  if (f->tag[0] == '\0' && bink_id_new_tag(f->tag) != BINK_OK)
    return BINK_EINTERNAL;
  pg__num no, ns, nc;
  const char *p[7] = {f->tag,
                      pg__i(&no, f->owner_id),
                      f->sha256,
                      pg__i(&ns, f->size),
                      f->mime_type,
                      f->file_name,
                      pg__i(&nc, f->created_at)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_FILE_INSERT, 7, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0) {
    f->id = pg__i64(r, 0, 0);
    bink_id_format(f->ext_id, BINK_ID_FILE, f->id, f->tag);
  }
  PQclear(r);
  return BINK_OK;
}

static void pg__file_cols(const PGresult *r, bink_file *f) {
  f->id = pg__i64(r, 0, 0);
  pg__copy(r, 0, 1, f->tag, sizeof f->tag);
  f->owner_id = pg__i64(r, 0, 2);
  pg__copy(r, 0, 3, f->sha256, sizeof f->sha256);
  f->size = pg__i64(r, 0, 4);
  pg__copy(r, 0, 5, f->mime_type, sizeof f->mime_type);
  pg__copy(r, 0, 6, f->file_name, sizeof f->file_name);
  f->created_at = pg__i64(r, 0, 7);
  bink_id_format(f->ext_id, BINK_ID_FILE, f->id, f->tag);
}

bink_rc pg_file_get(store_conn *c, int64_t id, bink_file *out) {
  memset(out, 0, sizeof *out);
  pg__num ni;
  const char *p[1] = {pg__i(&ni, id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_FILE_GET, 1, p, &rc);
  if (!r)
    return rc;
  rc = BINK_ENOTFOUND;
  if (PQntuples(r) > 0) {
    pg__file_cols(r, out);
    rc = BINK_OK;
  }
  PQclear(r);
  return rc;
}

bink_rc pg_file_get_ext(store_conn *c, const char *ext, size_t len,
                        bink_file *out) {
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_FILE, &n, tag))
    return BINK_ENOTFOUND;
  bink_rc rc = pg_file_get(c, n, out);
  if (rc == BINK_OK && strcmp(out->tag, tag) != 0)
    rc = BINK_ENOTFOUND;
  return rc;
}

bink_rc pg_file_in_visible_message(store_conn *c, const char *file_ext,
                                   int64_t account_id) {
  pg__num na;
  const char *p[2] = {file_ext, pg__i(&na, account_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_FILE_IN_VISIBLE, 2, p, &rc);
  if (!r)
    return rc;
  rc = PQntuples(r) > 0 ? BINK_OK : BINK_ENOTFOUND;
  PQclear(r);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Stickers                                                                */

#define STICKER_COLS                                                           \
  "s.id, s.tag, s.set_name, s.name, s.emoji, s.file_id, s.created_at, "        \
  "f.mime_type, f.sha256, f.size"

static const char SQL_STICKER_FIND[] =
    "SELECT id, tag FROM stickers WHERE set_name = $1 AND name = $2";
/* With replace: an entry already there (perhaps inserted by another node
 * a moment ago) gets the new emoji and image and keeps its id and tag. */
static const char SQL_STICKER_UPSERT[] =
    "INSERT INTO stickers(tag, set_name, name, emoji, file_id, created_at) "
    "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (set_name, name) "
    "DO UPDATE SET emoji = excluded.emoji, file_id = excluded.file_id "
    "RETURNING id, tag";
/* Without: nothing changes; no row comes back when the entry exists. */
static const char SQL_STICKER_INSERT[] =
    "INSERT INTO stickers(tag, set_name, name, emoji, file_id, created_at) "
    "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT (set_name, name) "
    "DO NOTHING RETURNING id, tag";
static const char SQL_STICKER_GET[] =
    "SELECT " STICKER_COLS " FROM stickers s JOIN files f ON f.id = s.file_id"
    " WHERE s.id = $1";
static const char SQL_STICKER_LIST[] =
    "SELECT " STICKER_COLS " FROM stickers s JOIN files f ON f.id = s.file_id"
    " ORDER BY s.set_name, s.id";

/* Takes id and tag from row 0 of r into s and formats its ext_id. */
static void pg__sticker_ids(const PGresult *r, bink_sticker *s) {
  s->id = pg__i64(r, 0, 0);
  pg__copy(r, 0, 1, s->tag, sizeof s->tag);
  bink_id_format(s->ext_id, BINK_ID_STICKER, s->id, s->tag);
}

/* One statement whatever another node does meanwhile: the insert either
 * creates the entry or meets the existing one (then, without replace,
 * *s gets that one's id and ECONFLICT is returned, as in the SQLite
 * store). */
bink_rc pg_sticker_put(store_conn *c, bink_sticker *s, bool replace) {
  if (bink_id_new_tag(s->tag) != BINK_OK)
    return BINK_EINTERNAL;
  pg__num nf, nc;
  const char *p[6] = {s->tag,
                      s->set_name,
                      s->name,
                      s->emoji,
                      pg__i(&nf, s->file_id),
                      pg__i(&nc, s->created_at)};
  bink_rc rc;
  PGresult *r =
      pg__run(c, replace ? SQL_STICKER_UPSERT : SQL_STICKER_INSERT, 6, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0) {
    pg__sticker_ids(r, s);
    PQclear(r);
    return BINK_OK;
  }
  PQclear(r);
  /* Not inserted: the entry exists (and, committed, is visible now). */
  const char *q[2] = {s->set_name, s->name};
  if (!(r = pg__run(c, SQL_STICKER_FIND, 2, q, &rc)))
    return rc;
  if (PQntuples(r) > 0)
    pg__sticker_ids(r, s);
  else
    s->tag[0] = '\0';
  PQclear(r);
  return BINK_ECONFLICT;
}

bink_rc pg_sticker_exists(store_conn *c, const char *set_name,
                          const char *name) {
  const char *p[2] = {set_name, name};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_STICKER_FIND, 2, p, &rc);
  if (!r)
    return rc;
  rc = PQntuples(r) > 0 ? BINK_OK : BINK_ENOTFOUND;
  PQclear(r);
  return rc;
}

static void pg__sticker_cols(const PGresult *r, int row, bink_sticker *s) {
  s->id = pg__i64(r, row, 0);
  pg__copy(r, row, 1, s->tag, sizeof s->tag);
  pg__copy(r, row, 2, s->set_name, sizeof s->set_name);
  pg__copy(r, row, 3, s->name, sizeof s->name);
  pg__copy(r, row, 4, s->emoji, sizeof s->emoji);
  s->file_id = pg__i64(r, row, 5);
  s->created_at = pg__i64(r, row, 6);
  pg__copy(r, row, 7, s->mime_type, sizeof s->mime_type);
  pg__copy(r, row, 8, s->sha256, sizeof s->sha256);
  s->size = pg__i64(r, row, 9);
  bink_id_format(s->ext_id, BINK_ID_STICKER, s->id, s->tag);
}

bink_rc pg_sticker_get_ext(store_conn *c, const char *ext, size_t len,
                           bink_sticker *out) {
  memset(out, 0, sizeof *out);
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_STICKER, &n, tag))
    return BINK_ENOTFOUND;
  pg__num ni;
  const char *p[1] = {pg__i(&ni, n)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_STICKER_GET, 1, p, &rc);
  if (!r)
    return rc;
  rc = BINK_ENOTFOUND;
  if (PQntuples(r) > 0) {
    pg__sticker_cols(r, 0, out);
    if (strcmp(out->tag, tag) == 0)
      rc = BINK_OK;
  }
  PQclear(r);
  return rc;
}

bink_rc pg_stickers_list(store_conn *c,
                         json_t *(*render)(const bink_sticker *, void *),
                         void *arg, json_t *out_array) {
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_STICKER_LIST, 0, NULL, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n && rc == BINK_OK; i++) {
    bink_sticker s;
    memset(&s, 0, sizeof s);
    pg__sticker_cols(r, i, &s);
    json_t *v = render(&s, arg);
    if (!v || json_array_append_new(out_array, v) != 0)
      rc = BINK_EINTERNAL;
  }
  PQclear(r);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Web sign-in sessions                                                    */

static const char SQL_SESSION_INSERT[] =
    "INSERT INTO sessions(token_hash, account_id, created_at, expires_at) "
    "VALUES($1, $2, $3, $4)";
static const char SQL_SESSION_GET[] =
    "SELECT account_id, token_hash FROM sessions "
    "WHERE token_hash = $1 AND expires_at > $2";
static const char SQL_SESSION_DELETE[] =
    "DELETE FROM sessions WHERE token_hash = $1 RETURNING account_id";
static const char SQL_SESSIONS_EXPIRE[] =
    "DELETE FROM sessions WHERE expires_at <= $1";

bink_rc pg_session_insert(store_conn *c, int64_t account_id,
                          const unsigned char hash[BINK_SHA256_LEN],
                          int64_t now, int64_t expires_at) {
  char hex[2 * BINK_SHA256_LEN + 3];
  pg__num na, nn, ne;
  const char *p[4] = {pg__hex(hex, hash, BINK_SHA256_LEN),
                      pg__i(&na, account_id), pg__i(&nn, now),
                      pg__i(&ne, expires_at)};
  return pg__cmd(c, SQL_SESSION_INSERT, 4, p, NULL);
}

bink_rc pg_session_account(store_conn *c,
                           const unsigned char hash[BINK_SHA256_LEN],
                           int64_t now, bink_account *out) {
  char hex[2 * BINK_SHA256_LEN + 3];
  pg__num nn;
  const char *p[2] = {pg__hex(hex, hash, BINK_SHA256_LEN), pg__i(&nn, now)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_SESSION_GET, 2, p, &rc);
  if (!r)
    return rc;
  rc = BINK_ENOTFOUND;
  int64_t account_id = 0;
  unsigned char stored[BINK_SHA256_LEN];
  /* The index found the row; compare the digest in constant time too. */
  if (PQntuples(r) > 0 && pg__bytes(r, 0, 1, stored, sizeof stored) &&
      bink_digest_equal(stored, hash)) {
    account_id = pg__i64(r, 0, 0);
    rc = BINK_OK;
  }
  PQclear(r);
  if (rc != BINK_OK)
    return rc;
  return pg_account_get(c, account_id, out);
}

bink_rc pg_session_delete(store_conn *c,
                          const unsigned char hash[BINK_SHA256_LEN]) {
  char hex[2 * BINK_SHA256_LEN + 3];
  const char *p[1] = {pg__hex(hex, hash, BINK_SHA256_LEN)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_SESSION_DELETE, 1, p, &rc);
  if (!r)
    return rc;
  int n = PQntuples(r);
  for (int i = 0; i < n; i++)
    pg_wake(c, STORE_WAKE_ACCOUNT(pg__i64(r, i, 0)));
  PQclear(r);
  return n > 0 ? BINK_OK : BINK_ENOTFOUND;
}

bink_rc pg_sessions_expire(store_conn *c, int64_t now) {
  pg__num nn;
  const char *p[1] = {pg__i(&nn, now)};
  return pg__cmd(c, SQL_SESSIONS_EXPIRE, 1, p, NULL);
}
