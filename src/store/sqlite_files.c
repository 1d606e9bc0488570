/*
 * sqlite_files.c: the SQLite side of files and the sticker catalogue
 * (store.h, "files and stickers"; schema version 2 in sqlite_schema.c).
 */
#include <string.h>

#include "store/sqlite_int.h"

#define FILE_COLS \
  "id, tag, owner_id, sha256, size, mime_type, file_name, created_at"

static const char SQL_FILE_INSERT[] =
    "INSERT INTO files(tag, owner_id, sha256, size, mime_type, file_name, "
    "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_FILE_GET[] =
    "SELECT " FILE_COLS " FROM files WHERE id = ?1";
/* Group members see their groups' messages; sides see their private
 * chats' (the same rule as svc_messages.c's svc__visible). */
static const char SQL_FILE_IN_VISIBLE[] =
    "SELECT 1 FROM messages m WHERE m.file_ref = ?1 AND m.deleted = 0 AND ("
    " (m.group_id > 0 AND EXISTS (SELECT 1 FROM members b"
    "   WHERE b.group_id = m.group_id AND b.account_id = ?2)) OR"
    " (m.dm_id > 0 AND EXISTS (SELECT 1 FROM dms d"
    "   WHERE d.id = m.dm_id AND (d.lo = ?2 OR d.hi = ?2)))) LIMIT 1";
static const char SQL_STICKER_INSERT[] =
    "INSERT INTO stickers(tag, set_name, name, emoji, file_id, created_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_STICKER_FIND[] =
    "SELECT id, tag FROM stickers WHERE set_name = ?1 AND name = ?2";
static const char SQL_STICKER_UPDATE[] =
    "UPDATE stickers SET emoji = ?2, file_id = ?3 WHERE id = ?1";
#define STICKER_COLS                                                         \
  "s.id, s.tag, s.set_name, s.name, s.emoji, s.file_id, s.created_at, "     \
  "f.mime_type, f.sha256, f.size"
static const char SQL_STICKER_GET[] =
    "SELECT " STICKER_COLS " FROM stickers s JOIN files f ON f.id = s.file_id"
    " WHERE s.id = ?1";
static const char SQL_STICKER_LIST[] =
    "SELECT " STICKER_COLS " FROM stickers s JOIN files f ON f.id = s.file_id"
    " ORDER BY s.set_name, s.id";

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

bink_rc sqlite_file_insert(store_conn *c, bink_file *f) {
  if (f->tag[0] == '\0' && bink_id_new_tag(f->tag) != BINK_OK)
    return BINK_EINTERNAL;
  sqlite3_stmt *st = store__stmt(c, SQL_FILE_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, f->tag, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, f->owner_id);
  sqlite3_bind_text(st, 3, f->sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, f->size);
  sqlite3_bind_text(st, 5, f->mime_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, f->file_name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, f->created_at);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK) {
    f->id = sqlite3_last_insert_rowid(c->db);
    bink_id_format(f->ext_id, BINK_ID_FILE, f->id, f->tag);
  }
  return r;
}

static void store__file_cols(sqlite3_stmt *st, bink_file *f) {
  f->id = sqlite3_column_int64(st, 0);
  store__copy_col(st, 1, f->tag, sizeof f->tag);
  f->owner_id = sqlite3_column_int64(st, 2);
  store__copy_col(st, 3, f->sha256, sizeof f->sha256);
  f->size = sqlite3_column_int64(st, 4);
  store__copy_col(st, 5, f->mime_type, sizeof f->mime_type);
  store__copy_col(st, 6, f->file_name, sizeof f->file_name);
  f->created_at = sqlite3_column_int64(st, 7);
  bink_id_format(f->ext_id, BINK_ID_FILE, f->id, f->tag);
}

bink_rc sqlite_file_get(store_conn *c, int64_t id, bink_file *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store__stmt(c, SQL_FILE_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW)
    store__file_cols(st, out);
  else
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "file");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_file_get_ext(store_conn *c, const char *ext, size_t len,
                           bink_file *out) {
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_FILE, &n, tag))
    return BINK_ENOTFOUND;
  bink_rc r = sqlite_file_get(c, n, out);
  if (r == BINK_OK && strcmp(out->tag, tag) != 0)
    r = BINK_ENOTFOUND;
  return r;
}

bink_rc sqlite_file_in_visible_message(store_conn *c, const char *file_ext,
                                      int64_t account_id) {
  sqlite3_stmt *st = store__stmt(c, SQL_FILE_IN_VISIBLE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, file_ext, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, account_id);
  int rc = sqlite3_step(st);
  bink_rc r = rc == SQLITE_ROW    ? BINK_OK
              : rc == SQLITE_DONE ? BINK_ENOTFOUND
                                  : store__fail(c, "file visibility");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

/* ---------------------------------------------------------------------- */
/* Stickers                                                                */

bink_rc sqlite_sticker_put(store_conn *c, bink_sticker *s, bool replace) {
  sqlite3_stmt *st = store__stmt(c, SQL_STICKER_FIND);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, s->set_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t found = 0;
  if (rc == SQLITE_ROW) {
    found = sqlite3_column_int64(st, 0);
    store__copy_col(st, 1, s->tag, sizeof s->tag);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store__fail(c, "sticker");
  if (found) {
    s->id = found;
    bink_id_format(s->ext_id, BINK_ID_STICKER, s->id, s->tag);
    if (!replace)
      return BINK_ECONFLICT;
    if (!(st = store__stmt(c, SQL_STICKER_UPDATE)))
      return BINK_EUNAVAIL;
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_text(st, 2, s->emoji, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, s->file_id);
    return store__step_done(c, st);
  }
  if (bink_id_new_tag(s->tag) != BINK_OK)
    return BINK_EINTERNAL;
  if (!(st = store__stmt(c, SQL_STICKER_INSERT)))
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, s->tag, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, s->set_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, s->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, s->emoji, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, s->file_id);
  sqlite3_bind_int64(st, 6, s->created_at);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK) {
    s->id = sqlite3_last_insert_rowid(c->db);
    bink_id_format(s->ext_id, BINK_ID_STICKER, s->id, s->tag);
  }
  return r;
}

bink_rc sqlite_sticker_exists(store_conn *c, const char *set_name,
                             const char *name) {
  sqlite3_stmt *st = store__stmt(c, SQL_STICKER_FIND);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, set_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  bink_rc r = rc == SQLITE_ROW    ? BINK_OK
              : rc == SQLITE_DONE ? BINK_ENOTFOUND
                                  : store__fail(c, "sticker");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

static void store__sticker_cols(sqlite3_stmt *st, bink_sticker *s) {
  s->id = sqlite3_column_int64(st, 0);
  store__copy_col(st, 1, s->tag, sizeof s->tag);
  store__copy_col(st, 2, s->set_name, sizeof s->set_name);
  store__copy_col(st, 3, s->name, sizeof s->name);
  store__copy_col(st, 4, s->emoji, sizeof s->emoji);
  s->file_id = sqlite3_column_int64(st, 5);
  s->created_at = sqlite3_column_int64(st, 6);
  store__copy_col(st, 7, s->mime_type, sizeof s->mime_type);
  store__copy_col(st, 8, s->sha256, sizeof s->sha256);
  s->size = sqlite3_column_int64(st, 9);
  bink_id_format(s->ext_id, BINK_ID_STICKER, s->id, s->tag);
}

bink_rc sqlite_sticker_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_sticker *out) {
  memset(out, 0, sizeof *out);
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_STICKER, &n, tag))
    return BINK_ENOTFOUND;
  sqlite3_stmt *st = store__stmt(c, SQL_STICKER_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, n);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    store__sticker_cols(st, out);
    if (strcmp(out->tag, tag) != 0)
      r = BINK_ENOTFOUND;
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "sticker");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_stickers_list(store_conn *c,
                            json_t *(*render)(const bink_sticker *, void *),
                            void *arg, json_t *out_array) {
  sqlite3_stmt *st = store__stmt(c, SQL_STICKER_LIST);
  if (!st)
    return BINK_EUNAVAIL;
  bink_rc r = BINK_OK;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    bink_sticker s;
    memset(&s, 0, sizeof s);
    store__sticker_cols(st, &s);
    json_t *v = render(&s, arg);
    if (!v || json_array_append_new(out_array, v) != 0) {
      r = BINK_EINTERNAL;
      break;
    }
  }
  if (r == BINK_OK && rc != SQLITE_DONE)
    r = store__fail(c, "stickers");
  sqlite3_reset(st);
  return r;
}
