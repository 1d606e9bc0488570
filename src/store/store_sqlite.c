/*
 * store_sqlite.c: the SQLite implementation of store.h.
 *
 * WAL journal, synchronous=NORMAL, a busy timeout, prepared statements
 * cached per connection (one slot per statement of the STORE__SQL list),
 * versioned migrations in PRAGMA user_version, and a single writer thread
 * that commits queued jobs in batches (see store.h).
 */
#include "store/sqlite_int.h"

#include <malloc.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* ---------------------------------------------------------------------- */
/* Every statement, prepared once per connection on first use.             */

#define ACCOUNT_COLS                                                         \
  "id, tag, is_bot, username, display_name, description, created_at, "      \
  "owner_id, privacy_mode, can_join_groups, webhook_url, webhook_secret, "  \
  "max_connections"
#define GROUP_COLS                                                           \
  "id, tag, username, title, description, public, owner_id, member_count, " \
  "created_at"
#define MESSAGE_COLS                                                         \
  "id, tag, group_id, dm_id, sender_id, target_id, group_ext, sender_ext, " \
  "target_ext, type, content, file_ref, extra, attachment, reply_to, "      \
  "reply_to_ext, quote_id, quote_ext, quote, created_at, edited_at, deleted"
#define DM_COLS \
  "id, lo, hi, lo_wrote, hi_wrote, lo_blocked, hi_blocked, created_at"

#define STORE__SQL(X)                                                         \
  X(BEGIN_IMMEDIATE, "BEGIN IMMEDIATE")                                       \
  X(BEGIN_READ, "BEGIN")                                                      \
  X(COMMIT, "COMMIT")                                                         \
  X(ROLLBACK, "ROLLBACK")                                                     \
  X(SAVEPOINT, "SAVEPOINT job")                                               \
  X(RELEASE, "RELEASE job")                                                   \
  X(ROLLBACK_TO, "ROLLBACK TO job")                                           \
  X(PING, "SELECT 1")                                                         \
  X(ACCOUNT_INSERT,                                                           \
    "INSERT INTO accounts(tag, is_bot, username, username_lc, display_name, " \
    "description, token_hash, created_at, owner_id, privacy_mode, "           \
    "can_join_groups, webhook_url, webhook_secret, max_connections) "         \
    "VALUES(?1, ?2, ?3, lower(?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "   \
    "?13)")                                                                   \
  X(ACCOUNT_GET, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1")       \
  X(ACCOUNT_BY_USERNAME,                                                      \
    "SELECT " ACCOUNT_COLS " FROM accounts WHERE username_lc = lower(?1)")    \
  X(ACCOUNT_BY_TOKEN, "SELECT " ACCOUNT_COLS                                  \
                      ", token_hash FROM accounts WHERE token_hash = ?1")     \
  X(ACCOUNT_UPDATE,                                                           \
    "UPDATE accounts SET display_name = ?2, description = ?3, "               \
    "privacy_mode = ?4, can_join_groups = ?5, webhook_url = ?6, "             \
    "webhook_secret = ?7, max_connections = ?8 WHERE id = ?1")                \
  X(ACCOUNT_SET_TOKEN, "UPDATE accounts SET token_hash = ?2 WHERE id = ?1")   \
  X(BOTS_OF_OWNER, "SELECT " ACCOUNT_COLS " FROM accounts "                   \
                   "WHERE owner_id = ?1 AND is_bot = 1 ORDER BY id")          \
  X(COMMANDS_GET, "SELECT commands FROM accounts WHERE id = ?1")              \
  X(COMMANDS_SET, "UPDATE accounts SET commands = ?2 WHERE id = ?1")          \
  X(GROUP_INSERT,                                                             \
    "INSERT INTO groups(tag, username, username_lc, title, description, "     \
    "public, owner_id, member_count, created_at) "                            \
    "VALUES(?1, ?2, NULLIF(lower(?2), ''), ?3, ?4, ?5, ?6, 0, ?7)")           \
  X(GROUP_GET, "SELECT " GROUP_COLS " FROM groups WHERE id = ?1")             \
  X(GROUP_BY_USERNAME,                                                        \
    "SELECT " GROUP_COLS " FROM groups WHERE username_lc = lower(?1)")        \
  X(GROUP_COUNT_ADD,                                                          \
    "UPDATE groups SET member_count = member_count + ?2 WHERE id = ?1")       \
  X(MEMBER_GET, "SELECT role, muted_until, joined_at FROM members "           \
                "WHERE group_id = ?1 AND account_id = ?2")                    \
  X(MEMBER_INSERT,                                                            \
    "INSERT INTO members(group_id, account_id, role, muted_until, "           \
    "joined_at) VALUES(?1, ?2, ?3, ?4, ?5)")                                  \
  X(MEMBER_DELETE,                                                            \
    "DELETE FROM members WHERE group_id = ?1 AND account_id = ?2")            \
  X(MEMBER_SET_ROLE, "UPDATE members SET role = ?3 "                          \
                     "WHERE group_id = ?1 AND account_id = ?2")               \
  X(MEMBER_SET_MUTE, "UPDATE members SET muted_until = ?3 "                   \
                     "WHERE group_id = ?1 AND account_id = ?2")               \
  X(MEMBERS_LIST,                                                             \
    "SELECT m.role, m.muted_until, m.joined_at, a.id, a.tag, a.is_bot, "      \
    "a.username, a.display_name, a.description, a.created_at, a.owner_id, "   \
    "a.privacy_mode, a.can_join_groups, a.webhook_url, a.webhook_secret, "    \
    "a.max_connections FROM members m JOIN accounts a ON a.id = m.account_id "\
    "WHERE m.group_id = ?1 ORDER BY m.role = 2 DESC, m.joined_at, a.id")      \
  X(DM_GET, "SELECT " DM_COLS " FROM dms WHERE lo = ?1 AND hi = ?2")          \
  X(DM_GET_ID, "SELECT " DM_COLS " FROM dms WHERE id = ?1")                   \
  X(DM_INSERT, "INSERT INTO dms(lo, hi, created_at) VALUES(?1, ?2, ?3)")      \
  X(DM_UPDATE,                                                                \
    "UPDATE dms SET lo_wrote = ?2, hi_wrote = ?3, lo_blocked = ?4, "          \
    "hi_blocked = ?5 WHERE id = ?1")                                          \
  X(MESSAGE_INSERT,                                                           \
    "INSERT INTO messages(tag, group_id, dm_id, sender_id, target_id, "       \
    "group_ext, sender_ext, target_ext, type, content, file_ref, extra, "     \
    "attachment, reply_to, reply_to_ext, quote_id, quote_ext, quote, "        \
    "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "  \
    "?13, ?14, ?15, ?16, ?17, ?18, ?19)")                                     \
  X(MESSAGE_GET, "SELECT " MESSAGE_COLS " FROM messages WHERE id = ?1")       \
  X(MESSAGE_UPDATE, "UPDATE messages SET content = ?2, extra = ?3, "          \
                    "edited_at = ?4 WHERE id = ?1")                           \
  X(MESSAGE_TOMBSTONE,                                                        \
    "UPDATE messages SET content = '', extra = NULL, attachment = NULL, "     \
    "quote = NULL, file_ref = '', deleted = 1, edited_at = ?2 WHERE id = ?1") \
  X(HISTORY_GROUP, "SELECT " MESSAGE_COLS " FROM messages "                   \
                   "WHERE group_id = ?1 AND group_id <> 0 AND id < ?2 "       \
                   "ORDER BY id DESC "                                        \
                   "LIMIT ?3")                                                \
  X(HISTORY_DM, "SELECT " MESSAGE_COLS " FROM messages "                      \
                "WHERE dm_id = ?1 AND dm_id <> 0 AND id < ?2 "                \
                "ORDER BY id DESC LIMIT ?3")                                  \
  X(CHATS_GROUPS,                                                             \
    "SELECT g.id, g.tag, g.username, g.title, g.description, g.public, "      \
    "g.owner_id, g.member_count, g.created_at, m.last_read, "                 \
    "(SELECT max(id) FROM messages WHERE group_id = g.id AND group_id <> 0) " \
    "FROM members m JOIN groups g ON g.id = m.group_id "                      \
    "WHERE m.account_id = ?1")                                                \
  X(CHATS_DMS,                                                                \
    "SELECT id, CASE WHEN lo = ?1 THEN hi ELSE lo END, "                      \
    "CASE WHEN lo = ?1 THEN lo_read ELSE hi_read END, "                       \
    "(SELECT max(m.id) FROM messages m WHERE m.dm_id = dms.id "               \
    "AND m.dm_id <> 0) "                                                      \
    "FROM dms WHERE lo = ?1 OR hi = ?1")                                      \
  X(UNREAD_GROUP,                                                             \
    "SELECT count(*) FROM messages WHERE group_id = ?1 AND group_id <> 0 "    \
    "AND id > ?2 "                                                            \
    "AND sender_id <> ?3 AND deleted = 0")                                    \
  X(UNREAD_DM,                                                                \
    "SELECT count(*) FROM messages WHERE dm_id = ?1 AND dm_id <> 0 "          \
    "AND id > ?2 "                                                            \
    "AND sender_id <> ?3 AND deleted = 0")                                    \
  X(MARK_READ_GROUP,                                                          \
    "UPDATE members SET last_read = max(last_read, ?3) "                      \
    "WHERE group_id = ?1 AND account_id = ?2")                                \
  X(MARK_READ_DM,                                                             \
    "UPDATE dms SET lo_read = CASE WHEN lo = ?2 THEN max(lo_read, ?3) "       \
    "ELSE lo_read END, hi_read = CASE WHEN hi = ?2 THEN max(hi_read, ?3) "    \
    "ELSE hi_read END WHERE id = ?1")                                         \
  X(IDEM_GET, "SELECT request_hash, response FROM idempotency "               \
              "WHERE caller_id = ?1 AND key = ?2 AND created_at > ?3")        \
  X(IDEM_PUT, "INSERT OR REPLACE INTO idempotency(caller_id, key, "           \
              "request_hash, response, created_at) VALUES(?1, ?2, ?3, ?4, ?5)")

#define X(name, sql) static const char SQL_##name[] = sql;
STORE__SQL(X)
#undef X

/* ---------------------------------------------------------------------- */

static atomic_uint_fast64_t store__generations = 1;

static _Thread_local struct {
  uint64_t generation;
  store_conn *conn;
} store__tl_reader;

#define STORE__BATCH_MAX 1024

bink_rc store__fail(store_conn *c, const char *what) {
  binkd_log(BINKD_LOG_ERROR, "database: %s: %s", what, sqlite3_errmsg(c->db));
  return BINK_EUNAVAIL;
}

sqlite3_stmt *store__stmt(store_conn *c, const char *sql) {
  size_t h = ((uintptr_t)sql >> 4) % STORE__CACHE;
  for (size_t probes = 0; probes < STORE__CACHE; probes++) {
    if (c->keys[h] == sql)
      return c->stmts[h];
    if (c->keys[h] == NULL) {
      sqlite3_stmt *st = NULL;
      if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                             NULL) != SQLITE_OK) {
        binkd_log(BINKD_LOG_ERROR, "database: prepare '%.60s': %s", sql,
                  sqlite3_errmsg(c->db));
        return NULL;
      }
      c->keys[h] = sql;
      c->stmts[h] = st;
      return st;
    }
    h = (h + 1) % STORE__CACHE;
  }
  binkd_log(BINKD_LOG_ERROR, "database: statement cache full");
  return NULL;
}

bink_rc store__exec(store_conn *c, const char *sql) {
  sqlite3_stmt *st = store__stmt(c, sql);
  if (!st)
    return BINK_EUNAVAIL;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? BINK_OK : store__fail(c, sql);
}

bink_rc store__step_done(store_conn *c, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc == SQLITE_DONE)
    return BINK_OK;
  if (rc == SQLITE_CONSTRAINT)
    return BINK_ECONFLICT;
  return store__fail(c, "step");
}

void store__copy_col(sqlite3_stmt *st, int col, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, col);
  size_t len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
  if (len >= n)
    len = n - 1;
  if (len)
    memcpy(out, t, len);
  out[len] = '\0';
}

char *store__dup_col(sqlite3_stmt *st, int col, bool null_ok) {
  if (sqlite3_column_type(st, col) == SQLITE_NULL && null_ok)
    return NULL;
  const unsigned char *t = sqlite3_column_text(st, col);
  size_t len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
  char *s = malloc(len + 1);
  if (!s)
    return NULL;
  if (len)
    memcpy(s, t, len);
  s[len] = '\0';
  return s;
}

void store__bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* ---------------------------------------------------------------------- */
/* Connections                                                             */

static store_conn *store__conn_open(store *s, bink_err *err) {
  store_conn *c = calloc(1, sizeof *c);
  if (!c) {
    bink_fail(err, BINK_EUNAVAIL, "out of memory");
    return NULL;
  }
  c->be = &store__sqlite;
  c->owner = s;
  int rc = sqlite3_open_v2(s->path, &c->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    bink_fail(err, BINK_EUNAVAIL, "cannot open database %s: %s", s->path,
              c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sqlite3_close(c->db);
    free(c);
    return NULL;
  }
  sqlite3_busy_timeout(c->db, 5000);
  char *msg = NULL;
  rc = sqlite3_exec(c->db,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-2000;",
                    NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    bink_fail(err, BINK_EUNAVAIL, "cannot set up database %s: %s", s->path,
              msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    sqlite3_close(c->db);
    free(c);
    return NULL;
  }
  return c;
}

static void store__conn_close(store_conn *c) {
  if (!c)
    return;
  for (int i = 0; i < STORE__CACHE; i++)
    sqlite3_finalize(c->stmts[i]);
  sqlite3_close(c->db);
  free(c);
}

static bink_rc store__migrate(store_conn *c, bink_err *err) {
  sqlite3_stmt *st;
  int version = 0;
  if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW)
      version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  if (version > store__migration_count)
    return bink_fail(err, BINK_EUNAVAIL,
                     "database schema version %d is newer than this binkd "
                     "understands (%d); use a newer binkd",
                     version, store__migration_count);
  for (int v = version; v < store__migration_count; v++) {
    char *msg = NULL;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", v + 1);
    int rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(c->db, store__migrations[v], NULL, NULL, &msg);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(c->db, pragma, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
      bink_fail(err, BINK_EUNAVAIL, "migration %d failed: %s", v + 1,
                msg ? msg : sqlite3_errstr(rc));
      sqlite3_free(msg);
      sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
      return BINK_EUNAVAIL;
    }
    binkd_log(BINKD_LOG_INFO, "database: applied migration %d", v + 1);
  }
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* WAL checkpoints                                                         */

/* SQLite's own auto-checkpoint runs in the commit that takes the WAL past
 * 1000 pages: in the writer thread, between a batch's COMMIT and its
 * answers, copying ~4 MB into the database file and fsyncing both files.
 * Under load that stalled every queued write for 7-17 ms about eight
 * times a second (docs/PERFORMANCE.md, "sendmessage p99"). Instead the
 * writer's WAL hook only wakes a checkpointer thread, which runs PASSIVE
 * checkpoints on a connection of its own while the writer goes on.
 *
 * A PASSIVE checkpoint never blocks the writer, but while the writer keeps
 * appending it never copies the very end of the WAL either, and SQLite
 * starts the WAL from its beginning again only when a write transaction
 * begins with all of it copied. So past STORE__WAL_MAX_PAGES the WAL is
 * closed off by the writer itself, between two batches (after the first
 * one's answers are out), with a PASSIVE checkpoint of what is left: the
 * frames appended since the checkpointer's latest pass began. Right after
 * a pass that is little (a pass takes 5-10 ms under load, during which the
 * writer appends a few hundred pages), so the checkpointer marks the
 * moment (`tail_ready`) and the writer waits for it; copying the whole
 * WAL's last 1000 pages in the commit instead took 15-17 ms. Should the
 * checkpointer fall behind, the writer checkpoints in the commit once the
 * WAL reaches twice the bound. */
#define STORE__CKPT_PAGES 1000    /* SQLite's wal_autocheckpoint default */
#define STORE__WAL_MAX_PAGES 8000 /* ~32 MiB of WAL with 4 KiB pages */

struct store__ckpt {
  pthread_t thread;
  store_conn *conn;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool pending, stopping;
  atomic_int copied;      /* WAL frames when the last pass was asked for */
  atomic_bool tail_ready; /* a pass over a full WAL has just ended */
};

/* The writer connection's WAL hook: after each commit, `pages` is the
 * number of frames in the WAL. */
static int store__wal_hook(void *arg, sqlite3 *db, const char *name,
                           int pages) {
  store *s = arg;
  struct store__ckpt *k = s->ckpt;
  if (!k || pages >= 2 * STORE__WAL_MAX_PAGES) {
    if (pages >= (k ? 2 * STORE__WAL_MAX_PAGES : STORE__CKPT_PAGES))
      sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                NULL);
    return SQLITE_OK;
  }
  int copied = atomic_load_explicit(&k->copied, memory_order_relaxed);
  if (copied > pages) /* the WAL was rewound */
    copied = 0;
  if (pages - copied < STORE__CKPT_PAGES)
    return SQLITE_OK;
  /* The pass will copy at least this much: no new request until the WAL
   * has grown as much again. */
  atomic_store_explicit(&k->copied, pages, memory_order_relaxed);
  pthread_mutex_lock(&k->lock);
  k->pending = true;
  pthread_cond_signal(&k->cv);
  pthread_mutex_unlock(&k->lock);
  return SQLITE_OK;
}

/* Between two batches: closes the WAL off once the checkpointer has just
 * copied most of a full one (see above). */
static void store__wal_close_off(store *s) {
  struct store__ckpt *k = s->ckpt;
  if (k && atomic_exchange_explicit(&k->tail_ready, false,
                                    memory_order_relaxed))
    sqlite3_wal_checkpoint_v2(s->writer->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                              NULL, NULL);
}

/* A PASSIVE pass that stops short of the WAL's end writes pages into the
 * database file without syncing it: SQLite syncs once, in the checkpoint
 * that reaches the end, which is the writer's close-off. Left alone, that
 * sync flushed the whole WAL's worth of pages (4-5 ms, the larger part of
 * the close-off); syncing after each pass, here, leaves it the tail's.
 * Only the timing changes: SQLite still syncs before it counts a WAL as
 * copied. */
static void store__ckpt_sync_db(store_conn *c) {
  sqlite3_file *f = NULL;
  if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) ==
          SQLITE_OK &&
      f && f->pMethods && f->pMethods->xSync)
    f->pMethods->xSync(f, SQLITE_SYNC_NORMAL | SQLITE_SYNC_DATAONLY);
}

static void *store__ckpt_main(void *arg) {
  struct store__ckpt *k = arg;
  pthread_mutex_lock(&k->lock);
  for (;;) {
    while (!k->pending && !k->stopping)
      pthread_cond_wait(&k->cv, &k->lock);
    if (k->stopping)
      break;
    k->pending = false;
    pthread_mutex_unlock(&k->lock);
    int frames = 0;
    if (sqlite3_wal_checkpoint_v2(k->conn->db, NULL,
                                  SQLITE_CHECKPOINT_PASSIVE, &frames,
                                  NULL) == SQLITE_OK) {
      store__ckpt_sync_db(k->conn);
      if (frames >= STORE__WAL_MAX_PAGES)
        atomic_store_explicit(&k->tail_ready, true, memory_order_relaxed);
    }
    pthread_mutex_lock(&k->lock);
  }
  pthread_mutex_unlock(&k->lock);
  return NULL;
}

/* Starts the checkpointer; without it (no memory, no thread) the writer
 * checkpoints as SQLite would (the hook above). */
static void store__ckpt_start(store *s) {
  sqlite3_wal_autocheckpoint(s->writer->db, 0);
  sqlite3_wal_hook(s->writer->db, store__wal_hook, s);
  struct store__ckpt *k = calloc(1, sizeof *k);
  bink_err err;
  if (!k || !(k->conn = store__conn_open(s, &err))) {
    free(k);
    return;
  }
  sqlite3_wal_autocheckpoint(k->conn->db, 0);
  pthread_mutex_init(&k->lock, NULL);
  pthread_cond_init(&k->cv, NULL);
  atomic_init(&k->copied, 0);
  atomic_init(&k->tail_ready, false);
  if (pthread_create(&k->thread, NULL, store__ckpt_main, k) != 0) {
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->cv);
    store__conn_close(k->conn);
    free(k);
    return;
  }
  s->ckpt = k;
}

/* After the writer has stopped. */
static void store__ckpt_stop(store *s) {
  struct store__ckpt *k = s->ckpt;
  if (!k)
    return;
  pthread_mutex_lock(&k->lock);
  k->stopping = true;
  pthread_cond_signal(&k->cv);
  pthread_mutex_unlock(&k->lock);
  pthread_join(k->thread, NULL);
  pthread_mutex_destroy(&k->lock);
  pthread_cond_destroy(&k->cv);
  store__conn_close(k->conn);
  free(k);
  s->ckpt = NULL;
}

/* ---------------------------------------------------------------------- */
/* The writer                                                              */

static void store__run_batch(store *s, store_job *batch) {
  store_conn *c = s->writer;
  bool in_tx = store__exec(c, SQL_BEGIN_IMMEDIATE) == BINK_OK;
  store_job *first_in_tx = batch;
  for (store_job *j = batch; j; j = j->next) {
    if (!in_tx) {
      j->rc = bink_fail(&j->err, BINK_EUNAVAIL, "storage unavailable");
      continue;
    }
    j->err.code = BINK_OK;
    j->err.msg[0] = '\0';
    if (store__exec(c, SQL_SAVEPOINT) != BINK_OK) {
      j->rc = bink_fail(&j->err, BINK_EUNAVAIL, "storage unavailable");
      continue;
    }
    c->job_events = 0;
    j->rc = j->fn(c, j->arg, &j->err);
    j->events = c->job_events;
    if (j->rc != BINK_OK) /* its rollback may bring members back */
      s->nwoken_group = 0;
    if (!sqlite3_get_autocommit(c->db)) { /* else the savepoint is gone */
      if (j->rc != BINK_OK)
        store__exec(c, SQL_ROLLBACK_TO);
      store__exec(c, SQL_RELEASE);
    }
    if (sqlite3_get_autocommit(c->db)) {
      /* SQLite rolled the whole transaction back (I/O error, full disk):
       * every job of it so far is lost. Fail them and start again. */
      for (store_job *k = first_in_tx; k != j->next; k = k->next)
        if (k->rc == BINK_OK)
          k->rc = bink_fail(&k->err, BINK_EUNAVAIL, "storage unavailable");
      in_tx = store__exec(c, SQL_BEGIN_IMMEDIATE) == BINK_OK;
      first_in_tx = j->next;
    }
  }
  if (in_tx && store__exec(c, SQL_COMMIT) != BINK_OK) {
    store__exec(c, SQL_ROLLBACK);
    for (store_job *k = first_in_tx; k; k = k->next)
      if (k->rc == BINK_OK)
        k->rc = bink_fail(&k->err, BINK_EUNAVAIL, "storage unavailable");
  }
  if (s->nwake && s->hook)
    s->hook(s->hook_arg, s->wake, s->nwake);
  s->nwake = 0;
  s->nwoken_group = 0;
  store_queue_finish(batch);
}

/* After this long without writes the writer gives memory back: its page
 * cache, and the heap's free pages (glibc keeps them otherwise). */
#define STORE__IDLE_RELEASE_S 5

static void *store__writer_main(void *arg) {
  store *s = arg;
  bool dirty = false; /* wrote since the last release */
  for (;;) {
    bool idle;
    store_job *batch = store_queue_take(&s->queue, STORE__BATCH_MAX,
                                        dirty ? STORE__IDLE_RELEASE_S : 0,
                                        &idle);
    if (idle) {
      /* A quiet moment: fold the WAL back while nobody waits. */
      sqlite3_wal_checkpoint_v2(s->writer->db, NULL,
                                SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
      sqlite3_db_release_memory(s->writer->db);
      malloc_trim(0);
      dirty = false;
      continue;
    }
    if (!batch)
      break;
    dirty = true;
    store__run_batch(s, batch);
    store__wal_close_off(s);
  }
  return NULL;
}

void sqlite_wake(store_conn *c, uint64_t key) {
  store *s = c->owner;
  if (c != s->writer)
    return;
  for (size_t i = 0; i < s->nwake; i++)
    if (s->wake[i] == key)
      return;
  if (s->nwake == s->cap_wake) {
    size_t cap = s->cap_wake ? 2 * s->cap_wake : 64;
    uint64_t *w = realloc(s->wake, cap * sizeof *w);
    if (!w)
      return; /* a lost hint: waiters still time out and look again */
    s->wake = w;
    s->cap_wake = cap;
  }
  s->wake[s->nwake++] = key;
}

void sqlite_set_commit_hook(store *s, store_commit_hook fn, void *arg) {
  s->hook = fn;
  s->hook_arg = arg;
}

bink_rc sqlite_submit(store *s, store_job *job) {
  return store_queue_submit(&s->queue, job);
}

bink_rc sqlite_write(store *s, store_job_fn fn, void *arg, bink_err *err) {
  return store_queue_write(&s->queue, fn, arg, err);
}

/* ---------------------------------------------------------------------- */

bink_rc sqlite_open(const char *uri, const store_options *opt, store **out,
                    bink_err *err) {
  (void)opt; /* one writer, always */
  *out = NULL;
  if (strncmp(uri, "sqlite:", 7) != 0)
    return bink_fail(err, BINK_EUNAVAIL, "not a sqlite: database");
  if (!uri[7]) /* SQLite would open a private, temporary database */
    return bink_fail(err, BINK_EUNAVAIL,
                     "--db sqlite: needs a file name (sqlite:PATH)");
  store *s = calloc(1, sizeof *s);
  if (!s)
    return bink_fail(err, BINK_EUNAVAIL, "out of memory");
  if (snprintf(s->path, sizeof s->path, "%s", uri + 7) >=
      (int)sizeof s->path) {
    free(s);
    return bink_fail(err, BINK_EUNAVAIL, "database path too long");
  }
  s->be = &store__sqlite;
  s->generation = atomic_fetch_add(&store__generations, 1);
  store_queue_init(&s->queue);
  pthread_mutex_init(&s->lock, NULL);
  s->writer = store__conn_open(s, err);
  if (!s->writer || store__migrate(s->writer, err) != BINK_OK) {
    sqlite_close(s);
    return BINK_EUNAVAIL;
  }
  store__ckpt_start(s);
  if (pthread_create(&s->writer_thread, NULL, store__writer_main, s) != 0) {
    sqlite_close(s);
    return bink_fail(err, BINK_EUNAVAIL, "cannot start the writer thread");
  }
  s->writer_started = true;
  *out = s;
  return BINK_OK;
}

void sqlite_close(store *s) {
  if (!s)
    return;
  store_queue_stop(&s->queue);
  if (s->writer_started)
    pthread_join(s->writer_thread, NULL);
  store__ckpt_stop(s);
  while (s->readers) {
    store_conn *next = s->readers->next;
    store__conn_close(s->readers);
    s->readers = next;
  }
  if (s->writer) {
    /* A clean close checkpoints the WAL into the main file. */
    store__conn_close(s->writer);
  }
  pthread_mutex_destroy(&s->lock);
  store_queue_destroy(&s->queue);
  free(s->wake);
  free(s);
}

store_conn *sqlite_reader(store *s) {
  if (store__tl_reader.generation == s->generation && store__tl_reader.conn)
    return store__tl_reader.conn;
  bink_err err;
  store_conn *c = store__conn_open(s, &err);
  if (!c) {
    binkd_log(BINKD_LOG_ERROR, "%s", err.msg);
    return NULL;
  }
  pthread_mutex_lock(&s->lock);
  c->next = s->readers;
  s->readers = c;
  pthread_mutex_unlock(&s->lock);
  store__tl_reader.generation = s->generation;
  store__tl_reader.conn = c;
  return c;
}

bink_rc sqlite_read_begin(store_conn *c) { return store__exec(c, SQL_BEGIN_READ); }

void sqlite_read_end(store_conn *c) { store__exec(c, SQL_COMMIT); }

void sqlite_stats_get(store *s, store_stats *out) {
  out->write_queue = store_queue_depth(&s->queue);
}

bink_rc sqlite_ping(store *s) {
  store_conn *c = sqlite_reader(s);
  if (!c)
    return BINK_EUNAVAIL;
  sqlite3_stmt *st = store__stmt(c, SQL_PING);
  if (!st)
    return BINK_EUNAVAIL;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? BINK_OK : BINK_EUNAVAIL;
}

/* ---------------------------------------------------------------------- */
/* Accounts                                                                */

static void store__load_account(sqlite3_stmt *st, int base, bink_account *a) {
  memset(a, 0, sizeof *a);
  a->id = sqlite3_column_int64(st, base + 0);
  store__copy_col(st, base + 1, a->tag, sizeof a->tag);
  a->is_bot = sqlite3_column_int(st, base + 2) != 0;
  store__copy_col(st, base + 3, a->username, sizeof a->username);
  store__copy_col(st, base + 4, a->display_name, sizeof a->display_name);
  store__copy_col(st, base + 5, a->description, sizeof a->description);
  a->created_at = sqlite3_column_int64(st, base + 6);
  a->owner_id = sqlite3_column_int64(st, base + 7);
  a->privacy_mode = sqlite3_column_int(st, base + 8) != 0;
  a->can_join_groups = sqlite3_column_int(st, base + 9) != 0;
  store__copy_col(st, base + 10, a->webhook_url, sizeof a->webhook_url);
  store__copy_col(st, base + 11, a->webhook_secret, sizeof a->webhook_secret);
  a->max_connections = sqlite3_column_int(st, base + 12);
  bink_id_format(a->ext_id, a->is_bot ? BINK_ID_BOT : BINK_ID_USER, a->id,
                 a->tag);
}

/* Runs a bound single-row account query. */
static bink_rc store__account_row(store_conn *c, sqlite3_stmt *st,
                                  bink_account *out) {
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW)
    store__load_account(st, 0, out);
  else if (rc == SQLITE_DONE)
    r = BINK_ENOTFOUND;
  else
    r = store__fail(c, "account");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_account_insert(store_conn *c, bink_account *a,
                             const unsigned char token_hash[BINK_SHA256_LEN]) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  if (bink_id_new_tag(a->tag) != BINK_OK)
    return BINK_EINTERNAL;
  sqlite3_bind_text(st, 1, a->tag, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, a->is_bot);
  sqlite3_bind_text(st, 3, a->username, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, a->display_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, a->description, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 6, token_hash, BINK_SHA256_LEN, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, a->created_at);
  sqlite3_bind_int64(st, 8, a->owner_id);
  sqlite3_bind_int(st, 9, a->privacy_mode);
  sqlite3_bind_int(st, 10, a->can_join_groups);
  sqlite3_bind_text(st, 11, a->webhook_url, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 12, a->webhook_secret, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 13, a->max_connections);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK) {
    a->id = sqlite3_last_insert_rowid(c->db);
    bink_id_format(a->ext_id, a->is_bot ? BINK_ID_BOT : BINK_ID_USER, a->id,
                   a->tag);
  }
  return r;
}

bink_rc sqlite_account_get(store_conn *c, int64_t id, bink_account *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  return store__account_row(c, st, out);
}

bink_rc sqlite_account_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_account *out) {
  bink_id_kind kind;
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse(ext, len, &kind, &n, tag) ||
      (kind != BINK_ID_USER && kind != BINK_ID_BOT))
    return BINK_ENOTFOUND;
  bink_rc r = sqlite_account_get(c, n, out);
  if (r == BINK_OK && (strcmp(out->tag, tag) != 0 ||
                       out->is_bot != (kind == BINK_ID_BOT)))
    r = BINK_ENOTFOUND;
  return r;
}

bink_rc sqlite_account_by_username(store_conn *c, const char *username,
                                  size_t len, bink_account *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_BY_USERNAME);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, username, (int)len, SQLITE_STATIC);
  return store__account_row(c, st, out);
}

bink_rc sqlite_account_by_token(store_conn *c,
                               const unsigned char hash[BINK_SHA256_LEN],
                               bink_account *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_BY_TOKEN);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_blob(st, 1, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_ENOTFOUND;
  if (rc == SQLITE_ROW) {
    /* The index found the row; compare the digest in constant time too. */
    const void *stored = sqlite3_column_blob(st, 13);
    if (stored && sqlite3_column_bytes(st, 13) == BINK_SHA256_LEN &&
        bink_digest_equal(stored, hash)) {
      store__load_account(st, 0, out);
      r = BINK_OK;
    }
  } else if (rc != SQLITE_DONE) {
    r = store__fail(c, "token");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_account_update(store_conn *c, const bink_account *a) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_UPDATE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a->id);
  sqlite3_bind_text(st, 2, a->display_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, a->description, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, a->privacy_mode);
  sqlite3_bind_int(st, 5, a->can_join_groups);
  sqlite3_bind_text(st, 6, a->webhook_url, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, a->webhook_secret, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 8, a->max_connections);
  sqlite_wake(c, STORE_WAKE_ACCOUNT(a->id));
  return store__step_done(c, st);
}

bink_rc sqlite_account_set_token(store_conn *c, int64_t id,
                                const unsigned char hash[BINK_SHA256_LEN]) {
  sqlite3_stmt *st = store__stmt(c, SQL_ACCOUNT_SET_TOKEN);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_blob(st, 2, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  sqlite_wake(c, STORE_WAKE_ACCOUNT(id));
  return store__step_done(c, st);
}

bink_rc sqlite_bots_of_owner(store_conn *c, int64_t owner_id,
                            json_t *(*render)(const bink_account *),
                            json_t *out_array) {
  sqlite3_stmt *st = store__stmt(c, SQL_BOTS_OF_OWNER);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, owner_id);
  bink_account a;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store__load_account(st, 0, &a);
    json_array_append_new(out_array, render(&a));
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? BINK_OK : store__fail(c, "bots");
}

bink_rc sqlite_commands_get(store_conn *c, int64_t bot_id, char **json_text) {
  *json_text = NULL;
  sqlite3_stmt *st = store__stmt(c, SQL_COMMANDS_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    *json_text = store__dup_col(st, 0, false);
    if (!*json_text)
      r = BINK_EUNAVAIL;
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "commands");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_commands_set(store_conn *c, int64_t bot_id,
                           const char *json_text) {
  sqlite3_stmt *st = store__stmt(c, SQL_COMMANDS_SET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_text(st, 2, json_text, -1, SQLITE_STATIC);
  return store__step_done(c, st);
}

/* ---------------------------------------------------------------------- */
/* Groups and members                                                      */

static void store__load_group(sqlite3_stmt *st, bink_group *g) {
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(st, 0);
  store__copy_col(st, 1, g->tag, sizeof g->tag);
  store__copy_col(st, 2, g->username, sizeof g->username);
  store__copy_col(st, 3, g->title, sizeof g->title);
  store__copy_col(st, 4, g->description, sizeof g->description);
  g->is_public = sqlite3_column_int(st, 5) != 0;
  g->owner_id = sqlite3_column_int64(st, 6);
  g->member_count = sqlite3_column_int64(st, 7);
  g->created_at = sqlite3_column_int64(st, 8);
  bink_id_format(g->ext_id, BINK_ID_GROUP, g->id, g->tag);
}

static bink_rc store__group_row(store_conn *c, sqlite3_stmt *st,
                                bink_group *out) {
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW)
    store__load_group(st, out);
  else
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "group");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_group_insert(store_conn *c, bink_group *g) {
  sqlite3_stmt *st = store__stmt(c, SQL_GROUP_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  if (bink_id_new_tag(g->tag) != BINK_OK)
    return BINK_EINTERNAL;
  sqlite3_bind_text(st, 1, g->tag, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, g->username, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, g->title, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, g->description, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 5, g->is_public);
  sqlite3_bind_int64(st, 6, g->owner_id);
  sqlite3_bind_int64(st, 7, g->created_at);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK) {
    g->id = sqlite3_last_insert_rowid(c->db);
    g->member_count = 0;
    bink_id_format(g->ext_id, BINK_ID_GROUP, g->id, g->tag);
  }
  return r;
}

bink_rc sqlite_group_get(store_conn *c, int64_t id, bink_group *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_GROUP_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  return store__group_row(c, st, out);
}

bink_rc sqlite_group_get_ext(store_conn *c, const char *ext, size_t len,
                            bink_group *out) {
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_GROUP, &n, tag))
    return BINK_ENOTFOUND;
  bink_rc r = sqlite_group_get(c, n, out);
  if (r == BINK_OK && strcmp(out->tag, tag) != 0)
    r = BINK_ENOTFOUND;
  return r;
}

bink_rc sqlite_group_by_username(store_conn *c, const char *username,
                                size_t len, bink_group *out) {
  sqlite3_stmt *st = store__stmt(c, SQL_GROUP_BY_USERNAME);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, username, (int)len, SQLITE_STATIC);
  return store__group_row(c, st, out);
}

bink_rc sqlite_member_get(store_conn *c, int64_t group_id, int64_t account_id,
                         bink_member *out) {
  memset(out, 0, sizeof *out);
  out->group_id = group_id;
  out->account_id = account_id;
  out->role = BINK_ROLE_NONE;
  out->muted_until = -1;
  sqlite3_stmt *st = store__stmt(c, SQL_MEMBER_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, account_id);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    out->role = (bink_role)sqlite3_column_int(st, 0);
    out->muted_until = sqlite3_column_int64(st, 1);
    out->joined_at = sqlite3_column_int64(st, 2);
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "member");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

static bink_rc store__count_add(store_conn *c, int64_t group_id, int delta) {
  sqlite3_stmt *st = store__stmt(c, SQL_GROUP_COUNT_ADD);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int(st, 2, delta);
  return store__step_done(c, st);
}

bink_rc sqlite_member_insert(store_conn *c, const bink_member *m) {
  sqlite3_stmt *st = store__stmt(c, SQL_MEMBER_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, m->group_id);
  sqlite3_bind_int64(st, 2, m->account_id);
  sqlite3_bind_int(st, 3, (int)m->role);
  sqlite3_bind_int64(st, 4, m->muted_until);
  sqlite3_bind_int64(st, 5, m->joined_at);
  bink_rc r = store__step_done(c, st);
  c->owner->nwoken_group = 0; /* sqlite_wake_group must look again */
  return r == BINK_OK ? store__count_add(c, m->group_id, 1) : r;
}

bink_rc sqlite_member_delete(store_conn *c, int64_t group_id,
                            int64_t account_id) {
  sqlite3_stmt *st = store__stmt(c, SQL_MEMBER_DELETE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, account_id);
  bink_rc r = store__step_done(c, st);
  if (r != BINK_OK)
    return r;
  if (sqlite3_changes(c->db) == 0)
    return BINK_ENOTFOUND;
  return store__count_add(c, group_id, -1);
}

static bink_rc store__member_update(store_conn *c, const char *sql,
                                    int64_t group_id, int64_t account_id,
                                    int64_t value) {
  sqlite3_stmt *st = store__stmt(c, sql);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  sqlite3_bind_int64(st, 2, account_id);
  sqlite3_bind_int64(st, 3, value);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK && sqlite3_changes(c->db) == 0)
    r = BINK_ENOTFOUND;
  return r;
}

bink_rc sqlite_member_set_role(store_conn *c, int64_t group_id,
                              int64_t account_id, bink_role role) {
  return store__member_update(c, SQL_MEMBER_SET_ROLE, group_id, account_id,
                              (int64_t)role);
}

bink_rc sqlite_member_set_mute(store_conn *c, int64_t group_id,
                              int64_t account_id, int64_t muted_until) {
  return store__member_update(c, SQL_MEMBER_SET_MUTE, group_id, account_id,
                              muted_until);
}

bink_rc sqlite_members_list(store_conn *c, int64_t group_id,
                           json_t *(*render)(const bink_account *,
                                             const bink_member *),
                           json_t *out_array) {
  sqlite3_stmt *st = store__stmt(c, SQL_MEMBERS_LIST);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  int rc;
  bink_account a;
  bink_member m;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&m, 0, sizeof m);
    m.group_id = group_id;
    m.role = (bink_role)sqlite3_column_int(st, 0);
    m.muted_until = sqlite3_column_int64(st, 1);
    m.joined_at = sqlite3_column_int64(st, 2);
    store__load_account(st, 3, &a);
    m.account_id = a.id;
    json_array_append_new(out_array, render(&a, &m));
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? BINK_OK : store__fail(c, "members");
}

/* ---------------------------------------------------------------------- */
/* Private chats                                                           */

static bink_rc store__dm_row(store_conn *c, sqlite3_stmt *st, bink_dm *out) {
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    out->id = sqlite3_column_int64(st, 0);
    out->lo = sqlite3_column_int64(st, 1);
    out->hi = sqlite3_column_int64(st, 2);
    out->lo_wrote = sqlite3_column_int(st, 3) != 0;
    out->hi_wrote = sqlite3_column_int(st, 4) != 0;
    out->lo_blocked = sqlite3_column_int(st, 5) != 0;
    out->hi_blocked = sqlite3_column_int(st, 6) != 0;
    out->created_at = sqlite3_column_int64(st, 7);
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "dm");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_dm_get(store_conn *c, int64_t a, int64_t b, bink_dm *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store__stmt(c, SQL_DM_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a < b ? a : b);
  sqlite3_bind_int64(st, 2, a < b ? b : a);
  return store__dm_row(c, st, out);
}

bink_rc sqlite_dm_get_id(store_conn *c, int64_t id, bink_dm *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store__stmt(c, SQL_DM_GET_ID);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  return store__dm_row(c, st, out);
}

bink_rc sqlite_dm_open(store_conn *c, int64_t a, int64_t b, int64_t now,
                      bink_dm *out) {
  bink_rc r = sqlite_dm_get(c, a, b, out);
  if (r != BINK_ENOTFOUND)
    return r;
  sqlite3_stmt *st = store__stmt(c, SQL_DM_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a < b ? a : b);
  sqlite3_bind_int64(st, 2, a < b ? b : a);
  sqlite3_bind_int64(st, 3, now);
  r = store__step_done(c, st);
  if (r != BINK_OK)
    return r;
  return sqlite_dm_get(c, a, b, out);
}

bink_rc sqlite_dm_update(store_conn *c, const bink_dm *d) {
  sqlite3_stmt *st = store__stmt(c, SQL_DM_UPDATE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, d->id);
  sqlite3_bind_int(st, 2, d->lo_wrote);
  sqlite3_bind_int(st, 3, d->hi_wrote);
  sqlite3_bind_int(st, 4, d->lo_blocked);
  sqlite3_bind_int(st, 5, d->hi_blocked);
  return store__step_done(c, st);
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

static bool store__load_message(sqlite3_stmt *st, bink_message *m) {
  memset(m, 0, sizeof *m);
  m->id = sqlite3_column_int64(st, 0);
  store__copy_col(st, 1, m->tag, sizeof m->tag);
  m->group_id = sqlite3_column_int64(st, 2);
  m->dm_id = sqlite3_column_int64(st, 3);
  m->sender_id = sqlite3_column_int64(st, 4);
  m->target_id = sqlite3_column_int64(st, 5);
  store__copy_col(st, 6, m->group_ext, sizeof m->group_ext);
  store__copy_col(st, 7, m->sender_ext, sizeof m->sender_ext);
  store__copy_col(st, 8, m->target_ext, sizeof m->target_ext);
  m->type = (bink_msg_type)sqlite3_column_int(st, 9);
  m->content = store__dup_col(st, 10, false);
  store__copy_col(st, 11, m->file_ref, sizeof m->file_ref);
  m->extra = store__dup_col(st, 12, true);
  m->attachment = store__dup_col(st, 13, true);
  m->reply_to = sqlite3_column_int64(st, 14);
  store__copy_col(st, 15, m->reply_to_ext, sizeof m->reply_to_ext);
  m->quote_id = sqlite3_column_int64(st, 16);
  store__copy_col(st, 17, m->quote_ext, sizeof m->quote_ext);
  m->quote = store__dup_col(st, 18, true);
  m->created_at = sqlite3_column_int64(st, 19);
  m->edited_at = sqlite3_column_int64(st, 20);
  m->deleted = sqlite3_column_int(st, 21) != 0;
  bink_id_format(m->ext_id, BINK_ID_MSG, m->id, m->tag);
  return m->content != NULL;
}

bink_rc sqlite_message_insert(store_conn *c, bink_message *m) {
  sqlite3_stmt *st = store__stmt(c, SQL_MESSAGE_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  if (m->tag[0] == '\0' && bink_id_new_tag(m->tag) != BINK_OK)
    return BINK_EINTERNAL;
  sqlite3_bind_text(st, 1, m->tag, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, m->group_id);
  sqlite3_bind_int64(st, 3, m->dm_id);
  sqlite3_bind_int64(st, 4, m->sender_id);
  sqlite3_bind_int64(st, 5, m->target_id);
  sqlite3_bind_text(st, 6, m->group_ext, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, m->sender_ext, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, m->target_ext, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 9, (int)m->type);
  sqlite3_bind_text(st, 10, m->content ? m->content : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 11, m->file_ref, -1, SQLITE_STATIC);
  store__bind_text(st, 12, m->extra);
  store__bind_text(st, 13, m->attachment);
  sqlite3_bind_int64(st, 14, m->reply_to);
  sqlite3_bind_text(st, 15, m->reply_to_ext, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 16, m->quote_id);
  sqlite3_bind_text(st, 17, m->quote_ext, -1, SQLITE_STATIC);
  store__bind_text(st, 18, m->quote);
  sqlite3_bind_int64(st, 19, m->created_at);
  bink_rc r = store__step_done(c, st);
  if (r == BINK_OK) {
    m->id = sqlite3_last_insert_rowid(c->db);
    bink_id_format(m->ext_id, BINK_ID_MSG, m->id, m->tag);
  }
  return r;
}

bink_rc sqlite_message_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_message *out) {
  memset(out, 0, sizeof *out);
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_MSG, &n, tag))
    return BINK_ENOTFOUND;
  sqlite3_stmt *st = store__stmt(c, SQL_MESSAGE_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, n);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    if (!store__load_message(st, out))
      r = BINK_EUNAVAIL;
    else if (strcmp(out->tag, tag) != 0)
      r = BINK_ENOTFOUND;
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "message");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (r != BINK_OK)
    bink_message_clear(out);
  return r;
}

bink_rc sqlite_message_update(store_conn *c, const bink_message *m) {
  sqlite3_stmt *st = store__stmt(c, SQL_MESSAGE_UPDATE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, m->id);
  sqlite3_bind_text(st, 2, m->content ? m->content : "", -1, SQLITE_STATIC);
  store__bind_text(st, 3, m->extra);
  sqlite3_bind_int64(st, 4, m->edited_at);
  return store__step_done(c, st);
}

/* Quotes are snapshots: a deleted message's text goes from them too. */
static const char SQL_QUOTES_SCRUB[] =
    "UPDATE messages SET quote = json_set(quote, '$.content', '') "
    "WHERE quote_id = ?1 AND quote IS NOT NULL";

bink_rc sqlite_message_tombstone(store_conn *c, int64_t id, int64_t now) {
  sqlite3_stmt *st = store__stmt(c, SQL_MESSAGE_TOMBSTONE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now);
  bink_rc rc = store__step_done(c, st);
  if (rc != BINK_OK || !(st = store__stmt(c, SQL_QUOTES_SCRUB)))
    return rc != BINK_OK ? rc : BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  return store__step_done(c, st);
}

bink_rc sqlite_history(store_conn *c, int64_t group_id, int64_t dm_id,
                      int64_t before, int limit,
                      json_t *(*render)(const bink_message *),
                      json_t *out_array, bool *more) {
  *more = false;
  if (group_id <= 0 && dm_id <= 0)
    return BINK_ENOTFOUND;
  if (limit < 1 || limit > 1000)
    limit = limit < 1 ? 1 : 1000;
  sqlite3_stmt *st =
      store__stmt(c, group_id > 0 ? SQL_HISTORY_GROUP : SQL_HISTORY_DM);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id > 0 ? group_id : dm_id);
  sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
  sqlite3_bind_int(st, 3, limit + 1);
  int rc, n = 0;
  bink_message m;
  bink_rc r = BINK_OK;
  *more = false;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n++ == limit) {
      *more = true;
      break;
    }
    if (!store__load_message(st, &m)) {
      bink_message_clear(&m);
      r = BINK_EUNAVAIL;
      break;
    }
    json_array_append_new(out_array, render(&m));
    bink_message_clear(&m);
  }
  if (r == BINK_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
    r = store__fail(c, "history");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

/* Loads message row `id` into out (cleared first); out->id stays 0 if none. */
static bink_rc store__message_by_id(store_conn *c, int64_t id,
                                    bink_message *out) {
  memset(out, 0, sizeof *out);
  if (id <= 0)
    return BINK_OK;
  sqlite3_stmt *st = store__stmt(c, SQL_MESSAGE_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW && !store__load_message(st, out))
    r = BINK_EUNAVAIL;
  else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    r = store__fail(c, "message");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

static bink_rc store__count(store_conn *c, const char *sql, int64_t a,
                            int64_t b, int64_t cc, int64_t *out) {
  sqlite3_stmt *st = store__stmt(c, sql);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  sqlite3_bind_int64(st, 3, cc);
  int rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_ROW ? BINK_OK : store__fail(c, "count");
}

static int store__chat_cmp(const void *pa, const void *pb) {
  const store_chat_row *a = pa, *b = pb;
  int64_t ka = a->last.id ? a->last.id : 0, kb = b->last.id ? b->last.id : 0;
  return ka < kb ? 1 : ka > kb ? -1 : 0;
}

bink_rc sqlite_chats(store_conn *c, int64_t account_id,
                    json_t *(*render)(const store_chat_row *),
                    json_t *out_array) {
  size_t n = 0, cap = 16;
  store_chat_row *rows = calloc(cap, sizeof *rows);
  if (!rows)
    return BINK_EUNAVAIL;
  bink_rc r = BINK_OK;
  /* Pass 1: groups; pass 2: private chats. Each row is completed with its
   * last message and unread count after the cursor is done. */
  int64_t *read_marks = NULL;
  for (int pass = 0; pass < 2 && r == BINK_OK; pass++) {
    sqlite3_stmt *st = store__stmt(c, pass == 0 ? SQL_CHATS_GROUPS : SQL_CHATS_DMS);
    if (!st) {
      r = BINK_EUNAVAIL;
      break;
    }
    sqlite3_bind_int64(st, 1, account_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (n == cap) {
        store_chat_row *bigger = realloc(rows, 2 * cap * sizeof *rows);
        int64_t *marks = realloc(read_marks, 2 * cap * sizeof *marks);
        if (marks)
          read_marks = marks;
        if (!bigger || !marks) {
          if (bigger)
            rows = bigger;
          r = BINK_EUNAVAIL;
          break;
        }
        rows = bigger;
        memset(rows + cap, 0, cap * sizeof *rows);
        cap *= 2;
      }
      if (!read_marks && !(read_marks = calloc(cap, sizeof *read_marks))) {
        r = BINK_EUNAVAIL;
        break;
      }
      store_chat_row *row = &rows[n];
      memset(row, 0, sizeof *row);
      if (pass == 0) {
        row->is_group = true;
        store__load_group(st, &row->group);
        read_marks[n] = sqlite3_column_int64(st, 9);
        row->last.id = sqlite3_column_int64(st, 10);
      } else {
        row->group.id = sqlite3_column_int64(st, 0); /* dm id, see below */
        row->peer.id = sqlite3_column_int64(st, 1);
        read_marks[n] = sqlite3_column_int64(st, 2);
        row->last.id = sqlite3_column_int64(st, 3);
      }
      n++;
    }
    if (r == BINK_OK && rc != SQLITE_DONE)
      r = store__fail(c, "chats");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
  }
  for (size_t i = 0; i < n && r == BINK_OK; i++) {
    store_chat_row *row = &rows[i];
    int64_t last = row->last.id, chat = row->group.id;
    if (!row->is_group) {
      int64_t peer = row->peer.id;
      r = sqlite_account_get(c, peer, &row->peer);
      if (r != BINK_OK)
        break;
    }
    r = store__message_by_id(c, last, &row->last);
    if (r == BINK_OK)
      r = store__count(c, row->is_group ? SQL_UNREAD_GROUP : SQL_UNREAD_DM, chat,
                       read_marks[i], account_id, &row->unread);
    if (!row->is_group)
      row->group.id = 0;
  }
  if (r == BINK_OK) {
    qsort(rows, n, sizeof *rows, store__chat_cmp);
    for (size_t i = 0; i < n; i++)
      json_array_append_new(out_array, render(&rows[i]));
  }
  for (size_t i = 0; i < n; i++)
    bink_message_clear(&rows[i].last);
  free(rows);
  free(read_marks);
  return r;
}

bink_rc sqlite_mark_read(store_conn *c, int64_t account_id, int64_t group_id,
                        int64_t dm_id, int64_t upto) {
  sqlite3_stmt *st =
      store__stmt(c, group_id > 0 ? SQL_MARK_READ_GROUP : SQL_MARK_READ_DM);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id > 0 ? group_id : dm_id);
  sqlite3_bind_int64(st, 2, account_id);
  sqlite3_bind_int64(st, 3, upto);
  return store__step_done(c, st);
}

/* ---------------------------------------------------------------------- */
/* Idempotency                                                             */

bink_rc sqlite_idem_get(store_conn *c, int64_t caller_id, const char *key,
                       int64_t now, int64_t max_age,
                       unsigned char hash[BINK_SHA256_LEN], char **response) {
  *response = NULL;
  sqlite3_stmt *st = store__stmt(c, SQL_IDEM_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, caller_id);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now - max_age);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_ENOTFOUND;
  if (rc == SQLITE_ROW) {
    const void *h = sqlite3_column_blob(st, 0);
    if (h && sqlite3_column_bytes(st, 0) == BINK_SHA256_LEN)
      memcpy(hash, h, BINK_SHA256_LEN);
    *response = store__dup_col(st, 1, false);
    r = *response ? BINK_OK : BINK_EUNAVAIL;
  } else if (rc != SQLITE_DONE) {
    r = store__fail(c, "idempotency");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_idem_put(store_conn *c, int64_t caller_id, const char *key,
                       const unsigned char hash[BINK_SHA256_LEN],
                       const char *response, int64_t now) {
  sqlite3_stmt *st = store__stmt(c, SQL_IDEM_PUT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, caller_id);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 3, hash, BINK_SHA256_LEN, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, response, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  return store__step_done(c, st);
}

/* ---------------------------------------------------------------------- */
/* Event routing                                                           */

static const char SQL_GROUP_BOTS[] =
    "SELECT " ACCOUNT_COLS " FROM members m JOIN accounts a "
    "ON a.id = m.account_id WHERE m.group_id = ?1 AND a.is_bot = 1 "
    "ORDER BY a.id";

bink_rc sqlite_group_bots(store_conn *c, int64_t group_id,
                         bink_rc (*fn)(void *arg, const bink_account *bot),
                         void *arg) {
  sqlite3_stmt *st = store__stmt(c, SQL_GROUP_BOTS);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, group_id);
  /* Collect first: fn writes (events) through this same connection. */
  size_t n = 0, cap = 0;
  bink_account *bots = NULL;
  int rc;
  bink_rc r = BINK_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 4;
      bink_account *b = realloc(bots, ncap * sizeof *b);
      if (!b) {
        r = BINK_EINTERNAL;
        break;
      }
      bots = b;
      cap = ncap;
    }
    store__load_account(st, 0, &bots[n++]);
  }
  if (r == BINK_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
    r = store__fail(c, "group bots");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  for (size_t i = 0; i < n && r == BINK_OK; i++)
    r = fn(arg, &bots[i]);
  free(bots);
  return r;
}
