/* sqlite_sessions.c: the web sandbox's sign-in sessions (store.h). */
#include "core/rules.h"
#include "store/sqlite_int.h"

static const char SQL_SESSION_INSERT[] =
    "INSERT INTO sessions(token_hash, account_id, created_at, expires_at) "
    "VALUES(?1, ?2, ?3, ?4)";
static const char SQL_SESSION_GET[] =
    "SELECT account_id, token_hash FROM sessions "
    "WHERE token_hash = ?1 AND expires_at > ?2";
static const char SQL_SESSION_DELETE[] =
    "DELETE FROM sessions WHERE token_hash = ?1 RETURNING account_id";
static const char SQL_SESSIONS_EXPIRE[] =
    "DELETE FROM sessions WHERE expires_at <= ?1";

bink_rc sqlite_session_insert(store_conn *c, int64_t account_id,
                             const unsigned char hash[BINK_SHA256_LEN],
                             int64_t now, int64_t expires_at) {
  sqlite3_stmt *st = store__stmt(c, SQL_SESSION_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_blob(st, 1, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, account_id);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_bind_int64(st, 4, expires_at);
  return store__step_done(c, st);
}

bink_rc sqlite_session_account(store_conn *c,
                              const unsigned char hash[BINK_SHA256_LEN],
                              int64_t now, bink_account *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_SESSION_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_blob(st, 1, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_ENOTFOUND;
  int64_t account_id = 0;
  if (rc == SQLITE_ROW) {
    /* The index found the row; compare the digest in constant time too. */
    const void *stored = sqlite3_column_blob(st, 1);
    if (stored && sqlite3_column_bytes(st, 1) == BINK_SHA256_LEN &&
        bink_digest_equal(stored, hash)) {
      account_id = sqlite3_column_int64(st, 0);
      r = BINK_OK;
    }
  } else if (rc != SQLITE_DONE) {
    r = store__fail(c, "session");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (r != BINK_OK)
    return r;
  return sqlite_account_get(c, account_id, out);
}

bink_rc sqlite_session_delete(store_conn *c,
                             const unsigned char hash[BINK_SHA256_LEN]) {
  sqlite3_stmt *st = store__stmt(c, SQL_SESSION_DELETE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_blob(st, 1, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  bink_rc r = BINK_ENOTFOUND;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    sqlite_wake(c, STORE_WAKE_ACCOUNT(sqlite3_column_int64(st, 0)));
    r = BINK_OK;
  }
  if (rc != SQLITE_DONE)
    r = store__fail(c, "session");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_sessions_expire(store_conn *c, int64_t now) {
  sqlite3_stmt *st = store__stmt(c, SQL_SESSIONS_EXPIRE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, now);
  return store__step_done(c, st);
}
