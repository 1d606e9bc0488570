/* sqlite_feed.c: the people's feed (store.h). */
#include <stdlib.h>

#include "core/render.h"
#include "store/sqlite_int.h"

static const char SQL_FEED_INSERT[] =
    "INSERT INTO feed(group_id, dm_id, user_id, event, data, created_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
/* Walks the feed forward from `after` by row key; the membership tests use
 * the members(account_id) and dms(lo)/(hi) indexes. */
static const char SQL_FEED_READ[] =
    "SELECT id, event, data FROM feed WHERE id > ?2 AND ("
    "user_id = ?1 OR "
    "(group_id > 0 AND group_id IN "
    "(SELECT group_id FROM members WHERE account_id = ?1)) OR "
    "(dm_id > 0 AND dm_id IN (SELECT id FROM dms WHERE lo = ?1 "
    "UNION ALL SELECT id FROM dms WHERE hi = ?1))) "
    "ORDER BY id LIMIT ?3";
static const char SQL_FEED_LAST[] = "SELECT max(id) FROM feed";
static const char SQL_MEMBER_IDS[] =
    "SELECT account_id FROM members WHERE group_id = ?1";

bink_rc sqlite_feed_insert(store_conn *c, int64_t group_id, int64_t dm_id,
                          int64_t user_id, const char *event,
                          const json_t *value, int64_t now, int64_t *id) {
  sqlite3_stmt *st = store__stmt(c, SQL_FEED_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  /* Serialised into a buffer on the stack when it fits (this runs in the
   * writer thread, inside the batch's transaction: json_dumps() would grow
   * a buffer step by step and copy it once more). */
  char small[2048];
  size_t n = 0;
  char *data = bink_json_text(value, small, sizeof small, &n);
  if (!data)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, dm_id);
  sqlite3_bind_int64(st, 3, user_id);
  sqlite3_bind_text(st, 4, event, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, data, (int)n, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now);
  bink_rc rc = store__step_done(c, st);
  if (data != small)
    free(data);
  if (rc == BINK_OK && id)
    *id = sqlite3_last_insert_rowid(c->db);
  return rc;
}

bink_rc sqlite_feed_read(store_conn *c, int64_t user_id, int64_t after,
                        int limit,
                        void (*fn)(void *arg, int64_t id, const char *event,
                                   const char *data),
                        void *arg) {
  sqlite3_stmt *st = store__stmt(c, SQL_FEED_READ);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, user_id);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int(st, 3, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    fn(arg, sqlite3_column_int64(st, 0),
       (const char *)sqlite3_column_text(st, 1),
       (const char *)sqlite3_column_text(st, 2));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? BINK_OK : store__fail(c, "feed");
}

bink_rc sqlite_feed_last(store_conn *c, int64_t *id) {
  sqlite3_stmt *st = store__stmt(c, SQL_FEED_LAST);
  if (!st)
    return BINK_EUNAVAIL;
  int rc = sqlite3_step(st);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? BINK_OK : store__fail(c, "feed");
}

bink_rc sqlite_group_member_ids(store_conn *c, int64_t group_id,
                               void (*fn)(void *arg, int64_t id), void *arg) {
  sqlite3_stmt *st = store__stmt(c, SQL_MEMBER_IDS);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    fn(arg, sqlite3_column_int64(st, 0));
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? BINK_OK : store__fail(c, "members");
}
