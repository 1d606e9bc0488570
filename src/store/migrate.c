/*
 * migrate.c: `binkd migrate --from sqlite:PATH --to postgresql://…`
 * (migrate.h): a single-node installation's SQLite file copied into an
 * empty PostgreSQL database in one transaction.
 *
 * The tables are the ones sqlite_master lists (the SQLite store's
 * migrations made them: accounts, groups, members, dms, messages,
 * idempotency, files, stickers, events, webhook_state, callbacks, feed,
 * sessions, chat_heads); pg_schema.c has each of them with the same column
 * names, plus columns with defaults that only several nodes need
 * (chat_heads.lease_*); feed.id is called feed.seq there
 * (mig__target_column). Rows travel with COPY … FROM STDIN in
 * text format, the columns always named, so the column order of the two
 * schemas does not matter.
 */
#include "store/migrate.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store/sqlite_int.h"
#include "store/store.h"

#define MIG__FLUSH 65536   /* bytes of COPY data sent at once */
#define MIG__TABLES 64     /* tables at most (the schema has 14) */
#define MIG__NAME_MAX 63   /* longest table name (PostgreSQL's limit) */

typedef struct mig__table {
  char name[MIG__NAME_MAX + 1];
  char *quoted;      /* PostgreSQL identifier (PQescapeIdentifier) */
  int64_t rows;      /* count(*) in the SQLite file */
  bool has_id;       /* the PostgreSQL table has a column "id" */
} mig__table;

typedef struct mig {
  sqlite3 *lite;
  const char *path;  /* the SQLite file */
  PGconn *pg;
  char where[512];   /* 'database "d" on host:port', never the URI */
  bink_err *err;
  mig__table tables[MIG__TABLES];
  int ntables;
  /* COPY data not yet sent */
  char *buf;
  size_t n, cap;
} mig;

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* The first line of a PostgreSQL error: the primary message of r, else
 * the connection's. */
static void mig__pg_msg(const mig *m, const PGresult *r, char *out,
                        size_t n) {
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!msg || !*msg)
    msg = PQerrorMessage(m->pg);
  size_t len = strcspn(msg, "\n");
  snprintf(out, n, "%.*s", (int)len, msg);
}

/* A PostgreSQL failure about `what`: sets *err, returns BINK_EUNAVAIL. */
static bink_rc mig__pg_fail(mig *m, const PGresult *r, const char *what) {
  char msg[200];
  mig__pg_msg(m, r, msg, sizeof msg);
  return bink_fail(m->err, BINK_EUNAVAIL, "PostgreSQL %s: %s: %s", m->where,
                   what, msg);
}

static bink_rc mig__lite_fail(mig *m, const char *what) {
  return bink_fail(m->err, BINK_EUNAVAIL, "SQLite %s: %s: %s", m->path, what,
                   sqlite3_errmsg(m->lite));
}

/* Runs a statement whose rows are not needed (no parameters). */
static bink_rc mig__exec(mig *m, const char *sql, const char *what) {
  PGresult *r = PQexec(m->pg, sql);
  ExecStatusType st = PQresultStatus(r);
  bink_rc rc = BINK_OK;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    rc = mig__pg_fail(m, r, what);
  PQclear(r);
  return rc;
}

/* A query with text parameters that returns one integer (NULL reads as
 * 0) into *out. */
static bink_rc mig__int(mig *m, const char *sql, int nparams,
                        const char *const *params, const char *what,
                        int64_t *out) {
  PGresult *r = PQexecParams(m->pg, sql, nparams, NULL, params, NULL, NULL, 0);
  bink_rc rc = BINK_OK;
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
      PQnfields(r) < 1)
    rc = mig__pg_fail(m, r, what);
  else
    *out = PQgetisnull(r, 0, 0) ? 0
                                : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return rc;
}

/* Table names come from sqlite_master: only plain identifiers are taken,
 * so that they need no quoting in SQLite's SQL. */
static bool mig__plain_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MIG__NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
    return false;
  return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* ---- the COPY text buffer ---- */

static bool mig__reserve(mig *m, size_t extra) {
  if (m->cap - m->n >= extra)
    return true;
  size_t cap = m->cap ? m->cap : 2 * MIG__FLUSH;
  while (cap - m->n < extra) {
    if (cap > SIZE_MAX / 2)
      return false;
    cap *= 2;
  }
  char *b = realloc(m->buf, cap);
  if (!b)
    return false;
  m->buf = b;
  m->cap = cap;
  return true;
}

/* A text value, escaped for COPY's text format: backslash, newline,
 * carriage return and tab (the delimiter) get a backslash. */
static bool mig__put_text(mig *m, const unsigned char *p, size_t len) {
  if (len > SIZE_MAX / 2 - 8 || !mig__reserve(m, 2 * len + 8))
    return false;
  for (size_t i = 0; i < len; i++) {
    char ch = (char)p[i];
    const char *esc = NULL;
    switch (ch) {
    case '\\':
      esc = "\\\\";
      break;
    case '\n':
      esc = "\\n";
      break;
    case '\r':
      esc = "\\r";
      break;
    case '\t':
      esc = "\\t";
      break;
    default:
      m->buf[m->n++] = ch;
      continue;
    }
    m->buf[m->n++] = esc[0];
    m->buf[m->n++] = esc[1];
  }
  return true;
}

/* A bytea value in hex form ("\x0a1b…"), its backslash doubled for COPY. */
static bool mig__put_bytea(mig *m, const unsigned char *p, size_t len) {
  static const char digits[] = "0123456789abcdef";
  if (len > SIZE_MAX / 2 - 8 || !mig__reserve(m, 2 * len + 8))
    return false;
  memcpy(m->buf + m->n, "\\\\x", 3);
  m->n += 3;
  for (size_t i = 0; i < len; i++) {
    m->buf[m->n++] = digits[p[i] >> 4];
    m->buf[m->n++] = digits[p[i] & 15];
  }
  return true;
}

static bool mig__put_raw(mig *m, const char *s) {
  size_t len = strlen(s);
  if (!mig__reserve(m, len))
    return false;
  memcpy(m->buf + m->n, s, len);
  m->n += len;
  return true;
}

/* Column `col` of the current row of st; bytea: the target column's type. */
static bool mig__put_value(mig *m, sqlite3_stmt *st, int col, bool bytea) {
  int type = sqlite3_column_type(st, col);
  if (type == SQLITE_NULL)
    return mig__put_raw(m, "\\N");
  if (bytea) {
    const unsigned char *p = sqlite3_column_blob(st, col);
    size_t len = (size_t)sqlite3_column_bytes(st, col);
    return mig__put_bytea(m, p, len);
  }
  char num[40];
  switch (type) {
  case SQLITE_INTEGER:
    snprintf(num, sizeof num, "%" PRId64,
             (int64_t)sqlite3_column_int64(st, col));
    return mig__put_raw(m, num);
  case SQLITE_FLOAT:
    snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, col));
    return mig__put_raw(m, num);
  case SQLITE_BLOB: {
    const unsigned char *p = sqlite3_column_blob(st, col);
    return mig__put_text(m, p, (size_t)sqlite3_column_bytes(st, col));
  }
  default: {
    const unsigned char *p = sqlite3_column_text(st, col);
    return mig__put_text(m, p, (size_t)sqlite3_column_bytes(st, col));
  }
  }
}

/* Sends the buffered COPY data. */
static bool mig__flush(mig *m) {
  if (m->n == 0)
    return true;
  if (m->n > INT32_MAX || PQputCopyData(m->pg, m->buf, (int)m->n) != 1)
    return false;
  m->n = 0;
  return true;
}

/* ---------------------------------------------------------------------- */
/* The SQLite side                                                         */

static bink_rc mig__open_sqlite(mig *m) {
  struct stat sb;
  if (stat(m->path, &sb) != 0)
    return bink_fail(m->err, errno == ENOENT ? BINK_ENOTFOUND : BINK_EUNAVAIL,
                     "cannot open the SQLite database %s: %s", m->path,
                     strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return bink_fail(m->err, BINK_EINVAL,
                     "the SQLite database %s is not a regular file", m->path);
  if (sqlite3_open_v2(m->path, &m->lite, SQLITE_OPEN_READONLY, NULL) !=
      SQLITE_OK)
    return mig__lite_fail(m, "cannot open");
  sqlite3_busy_timeout(m->lite, 5000);
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2(m->lite, "PRAGMA user_version", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (version < 0)
    return mig__lite_fail(m, "not a binkd database");
  if (version < store__migration_count)
    return bink_fail(m->err, BINK_ECONFLICT,
                     "the SQLite database %s has schema version %d but this "
                     "binkd writes version %d: start the current binkd on it "
                     "once (it upgrades the file), stop it, then migrate",
                     m->path, version, store__migration_count);
  if (version > store__migration_count)
    return bink_fail(m->err, BINK_ECONFLICT,
                     "the SQLite database %s has schema version %d, newer "
                     "than this binkd's (%d): migrate with the binkd that "
                     "wrote it",
                     m->path, version, store__migration_count);
  /* One read transaction: every table and count from one snapshot. */
  if (sqlite3_exec(m->lite, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return mig__lite_fail(m, "BEGIN");
  return BINK_OK;
}

/* The tables of the SQLite file, in the order they were created, with
 * their row counts. */
static bink_rc mig__list_tables(mig *m) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(m->lite,
                         "SELECT name FROM sqlite_master WHERE type = 'table' "
                         "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
                         "ORDER BY rowid",
                         -1, &st, NULL) != SQLITE_OK)
    return mig__lite_fail(m, "reading the tables");
  bink_rc rc = BINK_OK;
  int step = SQLITE_DONE;
  while (rc == BINK_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (!name || !mig__plain_name(name))
      rc = bink_fail(m->err, BINK_ECONFLICT,
                     "the SQLite database %s has an unexpected table '%.64s'",
                     m->path, name ? name : "");
    else if (m->ntables == MIG__TABLES)
      rc = bink_fail(m->err, BINK_ECONFLICT,
                     "the SQLite database %s has too many tables", m->path);
    else
      snprintf(m->tables[m->ntables++].name, MIG__NAME_MAX + 1, "%s", name);
  }
  if (rc == BINK_OK && step != SQLITE_DONE)
    rc = mig__lite_fail(m, "reading the tables");
  sqlite3_finalize(st);
  for (int i = 0; rc == BINK_OK && i < m->ntables; i++) {
    char sql[MIG__NAME_MAX + 32];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", m->tables[i].name);
    if (sqlite3_prepare_v2(m->lite, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
      rc = mig__lite_fail(m, m->tables[i].name);
    else
      m->tables[i].rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  if (rc == BINK_OK && m->ntables == 0)
    rc = bink_fail(m->err, BINK_ECONFLICT,
                   "the SQLite database %s has no tables", m->path);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* The PostgreSQL side                                                     */

static bink_rc mig__connect(mig *m, const char *uri) {
  m->pg = PQconnectdb(uri);
  if (!m->pg)
    return bink_fail(m->err, BINK_EUNAVAIL, "out of memory");
  if (PQstatus(m->pg) != CONNECTION_OK) {
    /* libpq's message names host and port, never the password. */
    char msg[200];
    mig__pg_msg(m, NULL, msg, sizeof msg);
    return bink_fail(m->err, BINK_EUNAVAIL,
                     "cannot connect to PostgreSQL: %s", msg);
  }
  const char *port = PQport(m->pg);
  snprintf(m->where, sizeof m->where, "database \"%s\" on %s%s%s",
           PQdb(m->pg), PQhost(m->pg), port && *port ? ":" : "",
           port ? port : "");
  if (PQsetClientEncoding(m->pg, "UTF8") != 0)
    return mig__pg_fail(m, NULL, "setting the client encoding");
  return mig__exec(m, "SET client_min_messages = warning", "set-up");
}

static const char SQL_COLUMNS[] =
    "SELECT a.attname, a.atttypid = 'bytea'::regtype "
    "FROM pg_catalog.pg_attribute a "
    "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 "
    "AND NOT a.attisdropped";

/* The target's columns of table t (name, "t" when bytea) into *out. */
static bink_rc mig__pg_columns(mig *m, const mig__table *t,
                               PGresult **out) {
  const char *params[] = {t->quoted};
  PGresult *r =
      PQexecParams(m->pg, SQL_COLUMNS, 1, NULL, params, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    bink_rc rc = mig__pg_fail(m, r, t->name);
    PQclear(r);
    return rc;
  }
  if (PQntuples(r) == 0) {
    PQclear(r);
    return bink_fail(m->err, BINK_ECONFLICT,
                     "PostgreSQL %s has no table %s", m->where, t->name);
  }
  *out = r;
  return BINK_OK;
}

/* Row of column `name` in a mig__pg_columns result, or -1. */
static int mig__find_column(const PGresult *cols, const char *name) {
  for (int i = 0; i < PQntuples(cols); i++)
    if (strcmp(PQgetvalue(cols, i, 0), name) == 0)
      return i;
  return -1;
}

/* Quotes the names, finds which tables have an id, locks every table
 * against other writers and checks that they are all empty. */
static bink_rc mig__prepare_target(mig *m) {
  for (int i = 0; i < m->ntables; i++) {
    mig__table *t = &m->tables[i];
    t->quoted = PQescapeIdentifier(m->pg, t->name, strlen(t->name));
    if (!t->quoted)
      return mig__pg_fail(m, NULL, t->name);
    PGresult *cols = NULL;
    bink_rc rc = mig__pg_columns(m, t, &cols);
    if (rc != BINK_OK)
      return rc;
    t->has_id = mig__find_column(cols, "id") >= 0;
    PQclear(cols);
  }
  /* EXCLUSIVE: a binkd node started on the target meanwhile can read but
   * not write until the copy commits. */
  for (int i = 0; i < m->ntables; i++) {
    char sql[2 * MIG__NAME_MAX + 64];
    snprintf(sql, sizeof sql, "LOCK TABLE %s IN EXCLUSIVE MODE",
             m->tables[i].quoted);
    bink_rc rc = mig__exec(m, sql, "locking the tables");
    if (rc != BINK_OK)
      return rc;
  }
  char busy[200] = "";
  size_t len = 0;
  for (int i = 0; i < m->ntables; i++) {
    char sql[2 * MIG__NAME_MAX + 64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1) x",
             m->tables[i].quoted);
    int64_t any = 0;
    bink_rc rc = mig__int(m, sql, 0, NULL, m->tables[i].name, &any);
    if (rc != BINK_OK)
      return rc;
    if (any && len + strlen(m->tables[i].name) + 3 < sizeof busy)
      len += (size_t)snprintf(busy + len, sizeof busy - len, "%s%s",
                              len ? ", " : "", m->tables[i].name);
  }
  if (len)
    return bink_fail(m->err, BINK_ECONFLICT,
                     "PostgreSQL %s is not empty (rows in %s): migrate only "
                     "into an empty database",
                     m->where, busy);
  return BINK_OK;
}

/* The target's name of SQLite column `name` of table t: the same, but for
 * feed.id, which is feed.seq in PostgreSQL (its position in commit order,
 * which SQLite's row ids are; pg_schema.c migration 3). */
static const char *mig__target_column(const mig__table *t, const char *name) {
  if (strcmp(t->name, "feed") == 0 && strcmp(name, "id") == 0)
    return "seq";
  return name;
}

/* COPY t(columns…) FROM STDIN for the columns of st, every name checked
 * against the target's columns; *bytea[i]: column i is bytea there. */
static bink_rc mig__copy_sql(mig *m, const mig__table *t, sqlite3_stmt *st,
                             bool *bytea, char **out) {
  PGresult *cols = NULL;
  bink_rc rc = mig__pg_columns(m, t, &cols);
  if (rc != BINK_OK)
    return rc;
  m->n = 0;
  bool ok = mig__put_raw(m, "COPY ") && mig__put_raw(m, t->quoted) &&
            mig__put_raw(m, "(");
  int ncols = sqlite3_column_count(st);
  for (int i = 0; ok && rc == BINK_OK && i < ncols; i++) {
    const char *name = sqlite3_column_name(st, i);
    if (name)
      name = mig__target_column(t, name);
    int at = name ? mig__find_column(cols, name) : -1;
    if (at < 0) {
      rc = bink_fail(m->err, BINK_ECONFLICT,
                     "PostgreSQL %s: table %s has no column %.64s", m->where,
                     t->name, name ? name : "?");
      break;
    }
    bytea[i] = strcmp(PQgetvalue(cols, at, 1), "t") == 0;
    char *q = PQescapeIdentifier(m->pg, name, strlen(name));
    ok = q && (i == 0 || mig__put_raw(m, ", ")) && mig__put_raw(m, q);
    PQfreemem(q);
  }
  PQclear(cols);
  if (rc != BINK_OK)
    return rc;
  ok = ok && mig__put_raw(m, ") FROM STDIN") && mig__reserve(m, 1);
  if (!ok)
    return bink_fail(m->err, BINK_EUNAVAIL, "out of memory");
  m->buf[m->n] = '\0';
  *out = strdup(m->buf);
  m->n = 0;
  return *out ? BINK_OK : bink_fail(m->err, BINK_EUNAVAIL, "out of memory");
}

/* Ends a COPY: sends its end (with `abort_msg` to make it fail) and reads
 * its outcome; *copied gets the rows PostgreSQL took. */
static bink_rc mig__copy_end(mig *m, const mig__table *t,
                             const char *abort_msg, int64_t *copied) {
  bink_rc rc = BINK_OK;
  if (PQputCopyEnd(m->pg, abort_msg) != 1)
    rc = mig__pg_fail(m, NULL, t->name);
  PGresult *r;
  while ((r = PQgetResult(m->pg)) != NULL) {
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
      *copied = strtoll(PQcmdTuples(r), NULL, 10);
    else if (rc == BINK_OK && !abort_msg)
      rc = mig__pg_fail(m, r, t->name);
    PQclear(r);
  }
  return rc;
}

/* Copies every row of table t. */
static bink_rc mig__copy_table(mig *m, const mig__table *t) {
  char sql[MIG__NAME_MAX + 32];
  snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", t->name);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(m->lite, sql, -1, &st, NULL) != SQLITE_OK)
    return mig__lite_fail(m, t->name);
  int ncols = sqlite3_column_count(st);
  bool *bytea = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *bytea);
  char *copy = NULL;
  bink_rc rc = bytea ? mig__copy_sql(m, t, st, bytea, &copy)
                     : bink_fail(m->err, BINK_EUNAVAIL, "out of memory");
  if (rc == BINK_OK) {
    PGresult *r = PQexec(m->pg, copy);
    if (PQresultStatus(r) != PGRES_COPY_IN)
      rc = mig__pg_fail(m, r, t->name);
    PQclear(r);
  }
  free(copy);
  if (rc != BINK_OK) {
    free(bytea);
    sqlite3_finalize(st);
    return rc;
  }
  /* In COPY mode from here: every way out goes through mig__copy_end. */
  const char *abort_msg = NULL;
  int64_t sent = 0, copied = -1;
  int step = SQLITE_DONE;
  m->n = 0;
  while (!abort_msg && (step = sqlite3_step(st)) == SQLITE_ROW) {
    bool ok = true;
    for (int i = 0; ok && i < ncols; i++)
      ok = (i == 0 || mig__put_raw(m, "\t")) &&
           mig__put_value(m, st, i, bytea[i]);
    ok = ok && mig__put_raw(m, "\n");
    if (!ok) {
      abort_msg = "out of memory";
      rc = bink_fail(m->err, BINK_EUNAVAIL, "%s: out of memory", t->name);
    } else if (m->n >= MIG__FLUSH && !mig__flush(m)) {
      abort_msg = "sending failed";
      rc = mig__pg_fail(m, NULL, t->name);
    }
    sent++;
  }
  if (!abort_msg && step != SQLITE_DONE) {
    abort_msg = "reading the SQLite database failed";
    rc = mig__lite_fail(m, t->name);
  }
  if (!abort_msg && !mig__flush(m)) {
    abort_msg = "sending failed";
    rc = mig__pg_fail(m, NULL, t->name);
  }
  m->n = 0;
  bink_rc end = mig__copy_end(m, t, abort_msg, &copied);
  if (rc == BINK_OK)
    rc = end;
  if (rc == BINK_OK && (sent != t->rows || copied != t->rows))
    rc = bink_fail(m->err, BINK_ECONFLICT,
                   "%s: %" PRId64 " rows in SQLite, %" PRId64
                   " read, %" PRId64 " copied",
                   t->name, t->rows, sent, copied);
  free(bytea);
  sqlite3_finalize(st);
  return rc;
}

/* feed.seq, feed_counter and the id sequences, as if every copied row had
 * been written by the PostgreSQL store. */
static bink_rc mig__fix_counters(mig *m) {
  bink_rc rc = BINK_OK;
  for (int i = 0; rc == BINK_OK && i < m->ntables; i++) {
    const mig__table *t = &m->tables[i];
    if (strcmp(t->name, "feed") == 0) {
      /* Feed rows are read in seq order, which SQLite's ids became
       * (mig__target_column): the next commit numbers on from the
       * largest. */
      rc = mig__exec(m,
                     "UPDATE feed_counter SET v = "
                     "(SELECT coalesce(max(seq), 0) FROM feed)",
                     "setting feed_counter");
    }
    if (rc != BINK_OK || !t->has_id)
      continue;
    /* setval(…, 1, false) on an empty table: the next id is 1. No-op when
     * id has no sequence (pg_get_serial_sequence gives NULL). */
    char sql[2 * MIG__NAME_MAX + 200];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence($1, 'id')::regclass, "
             "coalesce(max(id), 1), max(id) IS NOT NULL) FROM %s",
             t->quoted);
    const char *params[] = {t->quoted};
    int64_t v = 0;
    rc = mig__int(m, sql, 1, params, t->name, &v);
  }
  return rc;
}

/* Every table's row count in PostgreSQL against SQLite's. */
static bink_rc mig__verify(mig *m) {
  for (int i = 0; i < m->ntables; i++) {
    const mig__table *t = &m->tables[i];
    char sql[2 * MIG__NAME_MAX + 32];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t->quoted);
    int64_t n = -1;
    bink_rc rc = mig__int(m, sql, 0, NULL, t->name, &n);
    if (rc != BINK_OK)
      return rc;
    if (n != t->rows)
      return bink_fail(m->err, BINK_ECONFLICT,
                       "%s: %" PRId64 " rows in SQLite but %" PRId64
                       " in PostgreSQL; nothing was migrated",
                       t->name, t->rows, n);
  }
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */

static bool mig__is_pg_uri(const char *uri) {
  return strncmp(uri, "postgresql://", 13) == 0 ||
         strncmp(uri, "postgres://", 11) == 0;
}

static void mig__free(mig *m) {
  for (int i = 0; i < m->ntables; i++)
    PQfreemem(m->tables[i].quoted);
  if (m->pg)
    PQfinish(m->pg);
  if (m->lite) {
    sqlite3_exec(m->lite, "ROLLBACK", NULL, NULL, NULL); /* read-only */
    sqlite3_close(m->lite);
  }
  free(m->buf);
}

bink_rc store_migrate(const char *from_uri, const char *to_uri, FILE *report,
                      bink_err *err) {
  if (!from_uri || strncmp(from_uri, "sqlite:", 7) != 0 || !from_uri[7])
    return bink_fail(err, BINK_EINVAL, "--from must be sqlite:PATH");
  if (!to_uri || !mig__is_pg_uri(to_uri))
    return bink_fail(err, BINK_EINVAL,
                     "--to must be a postgresql:// URI");
  mig *m = calloc(1, sizeof *m);
  if (!m)
    return bink_fail(err, BINK_EUNAVAIL, "out of memory");
  m->err = err;
  m->path = from_uri + 7;
  bink_rc rc = mig__open_sqlite(m);
  if (rc == BINK_OK)
    rc = mig__list_tables(m);
  if (rc == BINK_OK) {
    /* The target's schema, made by the PostgreSQL store's own migrations. */
    store *st = NULL;
    rc = store_open(to_uri, NULL, &st, err);
    store_close(st);
  }
  if (rc == BINK_OK)
    rc = mig__connect(m, to_uri);
  if (rc == BINK_OK)
    rc = mig__exec(m, "BEGIN", "BEGIN");
  bool in_tx = rc == BINK_OK;
  if (rc == BINK_OK)
    rc = mig__prepare_target(m);
  for (int i = 0; rc == BINK_OK && i < m->ntables; i++)
    rc = mig__copy_table(m, &m->tables[i]);
  if (rc == BINK_OK)
    rc = mig__fix_counters(m);
  if (rc == BINK_OK)
    rc = mig__verify(m);
  if (rc == BINK_OK) {
    rc = mig__exec(m, "COMMIT", "COMMIT");
    in_tx = false;
  }
  if (in_tx) {
    PGresult *r = PQexec(m->pg, "ROLLBACK");
    PQclear(r);
  }
  if (rc == BINK_OK) {
    int64_t total = 0;
    for (int i = 0; i < m->ntables; i++) {
      total += m->tables[i].rows;
      if (report)
        fprintf(report, "%s %" PRId64 " rows\n", m->tables[i].name,
                m->tables[i].rows);
    }
    if (report)
      fflush(report);
    binkd_log(BINKD_LOG_INFO,
              "migrate: %d tables, %" PRId64 " rows from %s into PostgreSQL "
              "%s",
              m->ntables, total, m->path, m->where);
  }
  mig__free(m);
  free(m);
  return rc;
}
