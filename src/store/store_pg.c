/*
 * store_pg.c: the PostgreSQL implementation of store.h, for one or several
 * binkd nodes sharing one database (docs/scaling.md).
 *
 * - Connections: one per writer thread (--db-pool of them), one read
 *   connection per thread that reads (store_reader), one for LISTEN. A lost
 *   connection is reopened by the next call that needs it; until then calls
 *   fail with BINK_EUNAVAIL (clients see 503).
 * - Statements are prepared per connection on first use (pg__run).
 * - Writes: jobs queue as in the SQLite store; each writer thread takes
 *   every queued job (up to a batch), runs them in ONE READ COMMITTED
 *   transaction, each under its own savepoint, and commits once. Before the
 *   commit it inserts the feed rows the batch wrote, numbered (feed.seq)
 *   under the feed_counter row lock, which is the batch's last lock so that
 *   it joins no lock cycle, and NOTIFYs the batch's wake-up keys, which
 *   PostgreSQL delivers to every node only if the transaction commits.
 * - Migrations: bink_schema.version, applied under an advisory lock so
 *   that nodes starting together apply each migration once.
 */
#include "store/pg_int.h"
#include "store/queue.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Jobs a batch takes at most. Each runs under a savepoint, a
 * subtransaction with an xid of its own once it writes; past 64 in one
 * transaction PostgreSQL's per-backend cache of them
 * (PGPROC_MAX_CACHED_SUBXIDS) overflows and every session's snapshots must
 * look in pg_subtrans until the transaction ends. Batches seen under load
 * hold 13-16 jobs. */
#define PG__BATCH_MAX 64
#define PG__WRITERS_DEFAULT 2
#define PG__WRITERS_MAX 64
#define PG__CHANNEL "bink_wake"
#define PG__NOTIFY_MAX 7000 /* bytes of keys per NOTIFY (limit is 8000) */
#define PG__MIGRATE_LOCK "7310436212345000001"

struct store {
  const store_backend *be; /* first: store.c dispatches on it */
  char uri[1024];
  char node[17];           /* this node's id (hex) */
  uint64_t generation;     /* tells this store's thread-local readers apart */
  store_queue queue;    /* the write jobs (queue.h) */
  pthread_mutex_t lock; /* guards readers */
  int nwriters;
  store_conn *writers[PG__WRITERS_MAX];
  pthread_t writer_threads[PG__WRITERS_MAX];
  int writers_started;
  store_conn *readers; /* every reader connection, for store_close */
  store_commit_hook hook;
  void *hook_arg;
  pthread_t listener;
  bool listener_started;
  atomic_bool listener_stop;
};

static atomic_uint_fast64_t pg__generations = 1;

static _Thread_local struct {
  uint64_t generation;
  store_conn *conn;
} pg__tl_reader;

/* ---------------------------------------------------------------------- */
/* Connections and statements                                              */

const char *pg__node(const store_conn *c) { return c->owner->node; }

/* Timeouts, so that a database (or a network) that stops answering costs
 * a request a bounded wait and a 503, never a hang, and so that a node that
 * stops (frozen, cut off) cannot hold other nodes' locks for long:
 * - connecting: connect_timeout; dead peers: TCP keepalives and
 *   tcp_user_timeout, on both sides;
 * - a statement: statement_timeout on the server; the client stops waiting
 *   a little after it, in case the server does not answer at all;
 * - a transaction left open by a node that stopped: the server ends it
 *   (idle_in_transaction_session_timeout) and its locks go with it.
 * Values given in the --db URI win over the connection parameters. */
#define PG__STATEMENT_TIMEOUT_MS 15000
#define PG__CLIENT_WAIT_MS (PG__STATEMENT_TIMEOUT_MS + 5000)
#define PG__PING_WAIT_MS 3000
static const char PG__SESSION_SETUP[] =
    "SET client_min_messages = warning; "
    "SET statement_timeout = 15000; "
    "SET idle_in_transaction_session_timeout = 10000; "
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
    "SET tcp_keepalives_count = 3";
/* Writers run the same few statements thousands of times a second, whose
 * best plan does not depend on their parameters (a row by key, rows from
 * json_to_recordset). Left to choose, PostgreSQL plans several of them
 * again at every run (their plan for the parameters at hand looks cheaper
 * than the generic one: it knows how many rows a JSON array or
 * generate_series holds); that planning was a tenth of the database's CPU
 * under sendmessage load. */
static const char PG__WRITER_SETUP[] =
    "SET plan_cache_mode = force_generic_plan";

/* A libpq message on one line (they end in newlines and may hold several). */
static const char *pg__oneline(const char *msg, char *buf, size_t n) {
  size_t j = 0;
  for (size_t i = 0; msg && msg[i] && j + 1 < n; i++) {
    char ch = msg[i] == '\n' || msg[i] == '\t' || msg[i] == '\r' ? ' ' : msg[i];
    if (ch == ' ' && (j == 0 || buf[j - 1] == ' '))
      continue;
    buf[j++] = ch;
  }
  while (j > 0 && buf[j - 1] == ' ')
    j--;
  buf[j] = '\0';
  return buf;
}

/* While the database cannot be reached every thread's attempt fails: log
 * the first failure, then at most one every PG__CONNECT_LOG_S. */
#define PG__CONNECT_LOG_S 30
static atomic_int_fast64_t pg__connect_logged;

/* Connects c (again); false when the server cannot be reached (logged). */
static bool pg__connect(store_conn *c) {
  if (c->pg)
    PQfinish(c->pg);
  memset(c->keys, 0, sizeof c->keys);
  char app[40];
  snprintf(app, sizeof app, "binkd-%s", c->owner->node);
  /* Ours first: the URI's own parameters (dbname is expanded) win. */
  const char *const keys[] = {"connect_timeout", "keepalives",
                              "keepalives_idle", "keepalives_interval",
                              "keepalives_count", "tcp_user_timeout",
                              "application_name", "dbname", NULL};
  const char *const values[] = {"5", "1", "10", "5", "3", "20000", app,
                                c->owner->uri, NULL};
  c->pg = PQconnectdbParams(keys, values, 1);
  if (PQstatus(c->pg) != CONNECTION_OK) {
    int64_t now = (int64_t)time(NULL);
    int64_t last = atomic_load(&pg__connect_logged);
    if (now - last >= PG__CONNECT_LOG_S &&
        atomic_compare_exchange_strong(&pg__connect_logged, &last, now)) {
      /* The message names host and port, never the password. */
      char line[512];
      binkd_log(BINKD_LOG_ERROR,
                "database: cannot connect: %s (said once every %d s while "
                "it lasts)",
                pg__oneline(PQerrorMessage(c->pg), line, sizeof line),
                PG__CONNECT_LOG_S);
    }
    PQfinish(c->pg);
    c->pg = NULL;
    return false;
  }
  if (atomic_exchange(&pg__connect_logged, 0) != 0)
    binkd_log(BINKD_LOG_INFO, "database: connected again");
  PGresult *r = PQexec(c->pg, PG__SESSION_SETUP);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (ok && c->writer) {
    r = PQexec(c->pg, PG__WRITER_SETUP);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
  }
  if (!ok) {
    PQfinish(c->pg);
    c->pg = NULL;
  }
  return ok;
}

/* Waits for every result of what was sent on c, at most wait_ms in all,
 * and returns the last one (a failed command is the last: libpq skips the
 * rest). When the server does not answer in time the connection is
 * dropped (it cannot be trusted any more) and NULL returned. */
static PGresult *pg__wait(store_conn *c, int wait_ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  PGresult *last = NULL;
  for (;;) {
    if (!PQisBusy(c->pg)) {
      PGresult *r = PQgetResult(c->pg);
      if (!r)
        return last;
      PQclear(last);
      last = r;
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t spent = (int64_t)(t.tv_sec - t0.tv_sec) * 1000 +
                    (t.tv_nsec - t0.tv_nsec) / 1000000;
    if (spent >= wait_ms) {
      binkd_log(BINKD_LOG_ERROR, "database: no answer in %d ms; the "
                                 "connection is dropped", wait_ms);
      PQclear(last);
      PQfinish(c->pg);
      c->pg = NULL;
      memset(c->keys, 0, sizeof c->keys);
      return NULL;
    }
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (poll(&pfd, 1, (int)(wait_ms - spent)) < 0 && errno != EINTR)
      return last;
    if (!PQconsumeInput(c->pg)) {
      /* Broken: libpq has an error result for us, or nothing. */
      PGresult *r = PQgetResult(c->pg);
      if (r) {
        PQclear(last);
        last = r;
      }
      return last;
    }
  }
}

/* Drops c's connection (it cannot be trusted any more). */
static void pg__drop(store_conn *c) {
  PQfinish(c->pg);
  c->pg = NULL;
  memset(c->keys, 0, sizeof c->keys);
}

/* The next result of a pipeline sent on c at t0, waiting at most wait_ms
 * from t0: *out may be NULL (the end of one query's results). False when
 * the connection broke or the server did not answer in time. */
static bool pg__next(store_conn *c, const struct timespec *t0, int wait_ms,
                     PGresult **out) {
  *out = NULL;
  while (PQisBusy(c->pg)) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t spent = (int64_t)(t.tv_sec - t0->tv_sec) * 1000 +
                    (t.tv_nsec - t0->tv_nsec) / 1000000;
    if (spent >= wait_ms) {
      binkd_log(BINKD_LOG_ERROR, "database: no answer in %d ms; the "
                                 "connection is dropped", wait_ms);
      return false;
    }
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (poll(&pfd, 1, (int)(wait_ms - spent)) < 0 && errno != EINTR)
      return false;
    if (!PQconsumeInput(c->pg))
      return false;
  }
  *out = PQgetResult(c->pg);
  return true;
}

static bool pg__prepared(store_conn *c, const char *sql, char name[16]);
static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_RELEASE_JOB[] = "RELEASE job";
static const char SQL_SAVEPOINT_JOB[] = "SAVEPOINT job";

/* Sends the batch's BEGIN when it is pending, the running job's savepoint
 * (releasing the one before) and the prepared statement `name` as one
 * pipeline, which costs one round trip instead of two or three, and
 * returns the statement's result (NULL when there is none). *sp_ok: the
 * savepoint was set (so the transaction was begun). A connection that
 * breaks or stops answering on the way is dropped. */
static PGresult *pg__send_with_savepoint(store_conn *c, const char *name,
                                         int n, const char *const *params,
                                         bool *sp_ok) {
  *sp_ok = false;
  bool begin = c->begin_pending;
  /* commands ahead of the statement */
  int before = (begin ? 1 : 0) + (c->sp_set ? 2 : 1);
  /* Prepared like the others, so that the server parses them once. */
  char begin_name[16], release[16], savepoint[16];
  if ((begin && !pg__prepared(c, SQL_BEGIN, begin_name)) ||
      !pg__prepared(c, SQL_RELEASE_JOB, release) ||
      !pg__prepared(c, SQL_SAVEPOINT_JOB, savepoint))
    return NULL;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (!PQenterPipelineMode(c->pg))
    return NULL;
  bool sent = (!begin || PQsendQueryPrepared(c->pg, begin_name, 0, NULL,
                                             NULL, NULL, 0)) &&
              (!c->sp_set || PQsendQueryPrepared(c->pg, release, 0, NULL,
                                                 NULL, NULL, 0)) &&
              PQsendQueryPrepared(c->pg, savepoint, 0, NULL, NULL, NULL, 0) &&
              PQsendQueryPrepared(c->pg, name, n, params, NULL, NULL, 0) &&
              PQpipelineSync(c->pg);
  PGresult *stmt = NULL;
  bool sp = true, synced = false, begun = false;
  char line[512];
  /* Each command gives one result, then NULL; the Sync gives the last. */
  for (int seen = 0; sent && !synced;) {
    PGresult *r;
    if (!pg__next(c, &t0, c->wait_ms, &r)) {
      sent = false;
      break;
    }
    if (!r)
      continue;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      synced = true;
      PQclear(r);
    } else if (seen++ < before) {
      if (begin && seen == 1)
        begun = st == PGRES_COMMAND_OK;
      if (st != PGRES_COMMAND_OK) {
        /* With the batch's BEGIN, most often a connection a server restart
         * closed: pg__run sends it all again on a new one (and logs what
         * still fails), so this is no error yet. */
        if (sp)
          binkd_log(begin ? BINKD_LOG_INFO : BINKD_LOG_ERROR,
                    "database: job savepoint: %s",
                    pg__oneline(PQresultErrorMessage(r), line, sizeof line));
        sp = false;
      }
      PQclear(r);
    } else {
      PQclear(stmt);
      stmt = r;
    }
  }
  if (!sent || !PQexitPipelineMode(c->pg)) {
    PQclear(stmt);
    pg__drop(c);
    return NULL;
  }
  if (begun) {
    /* Open now, whatever came after (the batch ends it). */
    c->begin_pending = false;
    c->in_tx = true;
  }
  *sp_ok = sp;
  return stmt;
}

/* c connected, reconnecting a connection that broke while idle. */
static bool pg__ready(store_conn *c) {
  if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
    return true;
  return pg__connect(c);
}

static store_conn *pg__conn_new(store *s, bool writer) {
  store_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->be = &store__pg;
  c->owner = s;
  c->writer = writer;
  c->wait_ms = PG__CLIENT_WAIT_MS;
  return c;
}

/* Drops the feed rows kept after the first `keep` (a job that failed). */
static void pg__feed_truncate(store_conn *c, size_t keep) {
  while (c->nfeed > keep) {
    c->nfeed--;
    free(c->feed[c->nfeed].event);
    json_decref(c->feed[c->nfeed].data);
  }
}

static void pg__conn_free(store_conn *c) {
  if (!c)
    return;
  pg__feed_truncate(c, 0);
  json_decref(c->msg_rows);
  free(c->feed);
  free(c->looks);
  free(c->ids);
  if (c->pg)
    PQfinish(c->pg);
  free(c->wake);
  free(c->wake_groups);
  free(c);
}

/* The name of sql's prepared statement on c ("s<slot>"), preparing it on
 * first use; false when it cannot be prepared. */
static bool pg__prepared(store_conn *c, const char *sql, char name[16]) {
  size_t h = ((uintptr_t)sql >> 4) % PG__CACHE;
  for (size_t probes = 0; probes < PG__CACHE; probes++) {
    snprintf(name, 16, "s%zu", h);
    if (c->keys[h] == sql)
      return true;
    if (c->keys[h] == NULL) {
      PGresult *r = PQsendPrepare(c->pg, name, sql, 0, NULL)
                        ? pg__wait(c, c->wait_ms)
                        : NULL;
      bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      char line[512];
      if (!ok)
        binkd_log(BINKD_LOG_ERROR, "database: prepare '%.60s': %s", sql,
                  pg__oneline(r ? PQresultErrorMessage(r)
                                : c->pg ? PQerrorMessage(c->pg) : "no answer",
                              line, sizeof line));
      PQclear(r);
      if (ok)
        c->keys[h] = sql;
      return ok;
    }
    h = (h + 1) % PG__CACHE;
  }
  binkd_log(BINKD_LOG_ERROR, "database: statement cache full");
  return false;
}

/* What a statement does to the transaction: 1 opens it, -1 ends it (also
 * "…; COMMIT", pg__notify_commit). */
static int pg__tx_effect(const char *sql) {
  if (strncmp(sql, "BEGIN", 5) == 0)
    return 1;
  size_t n = strlen(sql);
  if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0 ||
      (n > 8 && strcmp(sql + n - 8, "; COMMIT") == 0))
    return -1;
  return 0;
}

/* Before a statement: false when it must fail without being sent. */
static bool pg__before(store_conn *c, const char *sql) {
  int fx = pg__tx_effect(sql);
  if (c->tx_lost) {
    if (fx == 0)
      return false;
    c->in_tx = c->tx_lost = false; /* the lost transaction ends here */
    if (fx < 0)
      return false;
  }
  if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
    return true;
  if (c->in_tx) {
    /* Inside a transaction a lost connection cannot be replaced: the
     * transaction is gone with it. */
    c->tx_lost = fx >= 0;
    c->in_tx = false;
    return false;
  }
  return pg__connect(c);
}

/* After a statement ran (ok: it succeeded). */
static void pg__after(store_conn *c, const char *sql, bool ok) {
  int fx = pg__tx_effect(sql);
  if (fx > 0 && ok)
    c->in_tx = true;
  else if (fx < 0)
    c->in_tx = false;
  if (c->in_tx && PQstatus(c->pg) != CONNECTION_OK)
    c->tx_lost = true;
}

/* After a failed statement: true when it may be sent again on a fresh
 * connection. That is when the connection was found dead (a server restart
 * closes idle connections, which libpq notices only on their next use)
 * and no transaction was open before the statement, so nothing else is
 * lost with it. */
static bool pg__retry(store_conn *c, bool was_in_tx) {
  if (was_in_tx || !c->pg || PQstatus(c->pg) == CONNECTION_OK)
    return false;
  c->in_tx = c->tx_lost = false;
  return pg__connect(c);
}

static bool pg__simple(store_conn *c, const char *sql);

/* The batch's BEGIN when it cannot go in a job's pipeline (pg__run_batch):
 * on its own, before the statement that needs it. */
static bool pg__begin_now(store_conn *c) {
  c->begin_pending = false;
  return pg__simple(c, "BEGIN");
}

PGresult *pg__run(store_conn *c, const char *sql, int n,
                  const char *const *params, bink_rc *rc) {
  *rc = BINK_EUNAVAIL;
  PGresult *r = NULL;
  /* Kept messages go in first, and the batch's look-ups are forgotten,
   * unless the statement is neutral (pg_chat.c, "Messages kept for the
   * batch's end", "The batch's group look-ups"). */
  bool neutral = c->neutral;
  c->neutral = false;
  if (!neutral) {
    pg__looks_forget(c);
    if (!pg__messages_flush(c))
      return NULL;
  }
  if (c->begin_pending && !c->sp_pending && !pg__begin_now(c))
    return NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool was_in_tx = c->in_tx;
    if (!pg__before(c, sql))
      return NULL;
    char name[16];
    if (!pg__prepared(c, sql, name)) {
      pg__after(c, sql, false);
      if (pg__retry(c, was_in_tx))
        continue;
      return NULL;
    }
    if (c->sp_pending) {
      /* The job's first statement: its savepoint goes with it. */
      bool sp_ok;
      c->sp_pending = false;
      r = pg__send_with_savepoint(c, name, n, params, &sp_ok);
      c->sp_set = c->sp_set || sp_ok;
      c->sp_failed = !sp_ok;
      c->msg_flushed_at_sp = c->msg_flushed;
      if (!r && attempt == 0 && c->begin_pending && !c->pg) {
        /* The connection was found dead by the batch's first round trip
         * (a server restart closes idle connections, which libpq notices
         * on their next use): nothing was begun, so all of it may go
         * again on a fresh one, as pg__retry does for other statements. */
        c->sp_pending = true;
        c->sp_set = c->sp_failed = false;
        if (pg__connect(c))
          continue;
        return NULL;
      }
    } else {
      r = PQsendQueryPrepared(c->pg, name, n, params, NULL, NULL, 0)
              ? pg__wait(c, c->wait_ms)
              : NULL;
    }
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    pg__after(c, sql, ok);
    if (ok) {
      *rc = BINK_OK;
      return r;
    }
    if (attempt == 0 && pg__retry(c, was_in_tx)) {
      PQclear(r);
      r = NULL;
      continue;
    }
    break;
  }
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (state && (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)) {
    *rc = BINK_ECONFLICT;
  } else if (state &&
             (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)) {
    c->lock_cycle = true;
    binkd_log(BINKD_LOG_INFO, "database: lock cycle with another writer "
                              "broken; the job runs again");
  } else {
    char line[512];
    binkd_log(BINKD_LOG_ERROR, "database: '%.60s': %s", sql,
              pg__oneline(r ? PQresultErrorMessage(r)
                            : (c->pg ? PQerrorMessage(c->pg) : "not connected"),
                          line, sizeof line));
  }
  PQclear(r);
  return NULL;
}

bink_rc pg__cmd(store_conn *c, const char *sql, int n,
                const char *const *params, int64_t *changed) {
  bink_rc rc;
  PGresult *r = pg__run(c, sql, n, params, &rc);
  if (changed)
    *changed = r ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
  PQclear(r);
  return rc;
}

const char *pg__i(pg__num *buf, int64_t v) {
  snprintf(buf->b, sizeof buf->b, "%" PRId64, v);
  return buf->b;
}

const char *pg__hex(char *out, const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  out[0] = '\\';
  out[1] = 'x';
  for (size_t i = 0; i < n; i++) {
    out[2 + 2 * i] = digits[p[i] >> 4];
    out[3 + 2 * i] = digits[p[i] & 15];
  }
  out[2 + 2 * n] = '\0';
  return out;
}

int64_t pg__i64(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col))
    return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void pg__copy(const PGresult *r, int row, int col, char *out, size_t n) {
  const char *v = PQgetvalue(r, row, col);
  size_t len = v ? (size_t)PQgetlength(r, row, col) : 0;
  if (len >= n)
    len = n - 1;
  if (len)
    memcpy(out, v, len);
  out[len] = '\0';
}

char *pg__dup(const PGresult *r, int row, int col, bool null_ok) {
  if (PQgetisnull(r, row, col) && null_ok)
    return NULL;
  const char *v = PQgetvalue(r, row, col);
  size_t len = v ? (size_t)PQgetlength(r, row, col) : 0;
  char *s = malloc(len + 1);
  if (!s)
    return NULL;
  if (len)
    memcpy(s, v, len);
  s[len] = '\0';
  return s;
}

bool pg__null(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}

static int pg__nibble(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

bool pg__bytes(const PGresult *r, int row, int col, unsigned char *out,
               size_t n) {
  const char *v = PQgetvalue(r, row, col);
  size_t len = (size_t)PQgetlength(r, row, col);
  if (PQgetisnull(r, row, col) || len != 2 + 2 * n || v[0] != '\\' ||
      v[1] != 'x')
    return false;
  for (size_t i = 0; i < n; i++) {
    int hi = pg__nibble(v[2 + 2 * i]), lo = pg__nibble(v[3 + 2 * i]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return true;
}

/* Runs a statement without parameters outside the statement cache (BEGIN,
 * COMMIT, SAVEPOINT …): true when it succeeded. */
static bool pg__simple(store_conn *c, const char *sql) {
  if (c->begin_pending) {
    if (strncmp(sql, "ROLLBACK", 8) == 0) {
      c->begin_pending = false; /* nothing was begun: nothing to undo */
      return true;
    }
    if (!pg__begin_now(c))
      return false;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    bool was_in_tx = c->in_tx;
    if (!pg__before(c, sql))
      return false;
    PGresult *r = PQsendQuery(c->pg, sql) ? pg__wait(c, c->wait_ms) : NULL;
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
              PQresultStatus(r) == PGRES_TUPLES_OK;
    pg__after(c, sql, ok);
    char line[512];
    if (!ok && c->pg && PQstatus(c->pg) == CONNECTION_OK)
      binkd_log(BINKD_LOG_ERROR, "database: %.60s: %s", sql,
                pg__oneline(PQresultErrorMessage(r), line, sizeof line));
    PQclear(r);
    if (ok || attempt > 0 || !pg__retry(c, was_in_tx))
      return ok;
  }
  return false;
}

/* ---------------------------------------------------------------------- */
/* Migrations                                                              */

static bink_rc pg__migrate(store_conn *c, bink_err *err) {
  if (!pg__simple(c, "SELECT pg_advisory_lock(" PG__MIGRATE_LOCK ")"))
    return bink_fail(err, BINK_EUNAVAIL, "database: cannot lock the schema");
  bink_rc rc = BINK_OK;
  int version = 0;
  PGresult *r = NULL;
  if (!pg__simple(c, "CREATE TABLE IF NOT EXISTS bink_schema("
                     "version int NOT NULL)")) {
    rc = bink_fail(err, BINK_EUNAVAIL, "database: cannot create bink_schema");
    goto out;
  }
  r = PQexec(c->pg, "SELECT max(version) FROM bink_schema");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    rc = bink_fail(err, BINK_EUNAVAIL, "database: cannot read the schema "
                                       "version");
    goto out;
  }
  version = (int)pg__i64(r, 0, 0);
  if (version > pg__migration_count) {
    rc = bink_fail(err, BINK_EUNAVAIL,
                   "database schema version %d is newer than this binkd "
                   "understands (%d); use a newer binkd",
                   version, pg__migration_count);
    goto out;
  }
  for (int v = version; v < pg__migration_count; v++) {
    char set[96];
    snprintf(set, sizeof set,
             "DELETE FROM bink_schema; INSERT INTO bink_schema VALUES(%d)",
             v + 1);
    if (!pg__simple(c, "BEGIN") || !pg__simple(c, pg__migrations[v]) ||
        !pg__simple(c, set) || !pg__simple(c, "COMMIT")) {
      pg__simple(c, "ROLLBACK");
      rc = bink_fail(err, BINK_EUNAVAIL, "migration %d failed (see the log)",
                     v + 1);
      goto out;
    }
    binkd_log(BINKD_LOG_INFO, "database: applied migration %d", v + 1);
  }
out:
  PQclear(r);
  pg__simple(c, "SELECT pg_advisory_unlock(" PG__MIGRATE_LOCK ")");
  return rc;
}

/* ---------------------------------------------------------------------- */
/* The writers                                                             */

/* The batch's feed rows ($1: a JSON array of objects g, d, u, e, x, c:
 * group_id, dm_id, user_id, event, data, created_at; json_to_recordset
 * parses each once) with the kept messages not inserted yet ($3; one
 * statement, one round trip), numbered after every row committed before: the
 * counter's row lock, taken last in the batch and held to its commit,
 * orders the batches that write feed rows. x is the row's data as a JSON
 * value, not a string holding one, read as text: json_to_recordset gives
 * an object's text as it came, with no escaping to add and take off again
 * and no third parse (as a json column would: 83 against 114 us for 15
 * rows of a message's JSON in psql). */
static const char SQL_FEED_ADD[] =
    "WITH m AS (" PG__MESSAGES_ADD("$3") "), "
    "n AS (UPDATE feed_counter SET v = v + $2 RETURNING v - $2 AS base) "
    "INSERT INTO feed(seq, group_id, dm_id, user_id, event, data, created_at) "
    "SELECT n.base + t.ord, t.g, t.d, t.u, t.e, t.x, t.c FROM n, ROWS "
    "FROM (json_to_recordset($1::json) AS (g bigint, d bigint, u bigint, "
    "e text, x text, c bigint)) WITH ORDINALITY AS t(g, d, u, e, x, c, ord)";
/* The same, and the members of the groups in $4 (an array) to wake. */
static const char SQL_FEED_ADD_WAKE[] =
    "WITH m AS (" PG__MESSAGES_ADD("$3") "), "
    "n AS (UPDATE feed_counter SET v = v + $2 RETURNING v - $2 AS base), "
    "f AS (INSERT INTO feed(seq, group_id, dm_id, user_id, event, data, "
    "created_at) "
    "SELECT n.base + t.ord, t.g, t.d, t.u, t.e, t.x, t.c FROM n, ROWS "
    "FROM (json_to_recordset($1::json) AS (g bigint, d bigint, u bigint, "
    "e text, x text, c bigint)) WITH ORDINALITY AS t(g, d, u, e, x, c, ord)) "
    "SELECT DISTINCT account_id FROM members WHERE group_id = ANY($4::bigint[])";
static const char SQL_WAKE_GROUPS[] =
    "SELECT DISTINCT account_id FROM members WHERE group_id = ANY($1::bigint[])";
static const char SQL_NOTIFY[] = "SELECT pg_notify('" PG__CHANNEL "', $1)";

/* NOTIFYs the batch's keys as "<node> <hex key> <hex key> …" texts and
 * commits. The last text (most often the only one) goes with the COMMIT
 * in one round trip, as a literal: it holds hex digits and spaces only. */
static bool pg__notify_commit(store_conn *c) {
  char text[PG__NOTIFY_MAX + 64];
  char sql[sizeof text + 64];
  size_t i = 0;
  while (i < c->nwake) {
    int len = snprintf(text, sizeof text, "%s", c->owner->node);
    for (; i < c->nwake && len < PG__NOTIFY_MAX; i++)
      len += snprintf(text + len, sizeof text - (size_t)len, " %" PRIx64,
                      c->wake[i]);
    if (i == c->nwake) {
      snprintf(sql, sizeof sql, "SELECT pg_notify('" PG__CHANNEL "', '%s'); "
                                "COMMIT", text);
      return pg__simple(c, sql);
    }
    const char *params[] = {text};
    if (pg__cmd(c, SQL_NOTIFY, 1, params, NULL) != BINK_OK)
      return false;
  }
  return pg__simple(c, "COMMIT");
}

/* The groups of store_wake_group as an array literal ("{1,2}"); NULL when
 * there are none or memory runs out (the wake-ups are then lost: hints). */
static char *pg__wake_groups_text(store_conn *c) {
  if (!c->nwake_groups)
    return NULL;
  size_t cap = c->nwake_groups * 21 + 3, len = 1;
  char *t = malloc(cap);
  if (!t)
    return NULL;
  t[0] = '{';
  for (size_t i = 0; i < c->nwake_groups; i++)
    len += (size_t)snprintf(t + len, cap - len, "%s%" PRId64, i ? "," : "",
                            c->wake_groups[i]);
  snprintf(t + len, cap - len, "}");
  return t;
}

/* The members the batch's feed statement found (store_wake_group). */
static void pg__wake_members(store_conn *c, const PGresult *r) {
  for (int i = 0; i < PQntuples(r); i++)
    pg_wake(c, STORE_WAKE_USER(pg__i64(r, i, 0)));
}

/* Inserts the batch's feed rows (pg_int.h) and looks up the members of the
 * groups to wake, in one statement: true when done. */
static bool pg__feed_flush(store_conn *c) {
  char *groups = pg__wake_groups_text(c);
  c->nwake_groups = 0;
  if (!c->nfeed) {
    bink_rc rc = BINK_OK;
    if (groups) {
      const char *params[] = {groups};
      PGresult *r = pg__run(c, SQL_WAKE_GROUPS, 1, params, &rc);
      if (r)
        pg__wake_members(c, r);
      PQclear(r);
    }
    free(groups);
    return rc == BINK_OK;
  }
  json_t *rows = json_array();
  for (size_t i = 0; rows && i < c->nfeed; i++) {
    const pg__feed_row *f = &c->feed[i];
    if (json_array_append_new(
            rows, json_pack("{s:I, s:I, s:I, s:s, s:O, s:I}", "g",
                            (json_int_t)f->group_id, "d", (json_int_t)f->dm_id,
                            "u", (json_int_t)f->user_id, "e", f->event, "x",
                            f->data, "c", (json_int_t)f->created_at)) != 0) {
      json_decref(rows);
      rows = NULL;
    }
  }
  char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
  json_decref(rows);
  /* The kept messages not inserted yet go in with the feed rows. */
  size_t kept = pg__messages_kept(c);
  char *messages = pg__messages_text(c);
  pg__num n;
  const char *params[] = {text, pg__i(&n, (int64_t)c->nfeed), messages,
                          groups};
  bool ok = false;
  if (text && messages) {
    bink_rc rc;
    c->neutral = true; /* it inserts them itself */
    PGresult *r = pg__run(c, groups ? SQL_FEED_ADD_WAKE : SQL_FEED_ADD,
                          groups ? 4 : 3, params, &rc);
    if (r && groups)
      pg__wake_members(c, r);
    ok = r != NULL;
    PQclear(r);
  }
  if (ok)
    c->msg_flushed = kept;
  free(text);
  free(messages);
  free(groups);
  return ok;
}

/* Forgets what a batch kept on its writer connection, once it ended. */
static void pg__batch_reset(store_conn *c) {
  pg__feed_truncate(c, 0);
  pg__messages_truncate(c, 0);
  pg__looks_forget(c);
  pg__ids_forget(c);
  c->nwake = 0;
  c->nwake_groups = 0;
  c->begin_pending = false;
}

static void pg__fail_jobs(store_job *from, store_job *to) {
  for (store_job *k = from; k != to; k = k->next)
    if (k->rc == BINK_OK)
      k->rc = bink_fail(&k->err, BINK_EUNAVAIL, "storage unavailable");
}

/* How often a job cancelled to break a lock cycle runs again. */
#define PG__CYCLE_RETRIES 3

/* Runs a batch in one transaction (see the top of this file). round: how
 * many times these jobs were cancelled by lock cycles before. */
static void pg__run_batch(store *s, store_conn *c, store_job *batch,
                          int round) {
  store_job *again = NULL, **again_tail = &again;
  size_t njobs = 0;
  for (store_job *k = batch; k; k = k->next)
    njobs++;
  /* The batch's state starts empty: pg__batch_reset ended the last one. */
  assert(c->nwake == 0 && c->nfeed == 0 && pg__messages_kept(c) == 0);
  /* Each job runs under the savepoint "job", which pg__run sets (releasing
   * the one before) in the round trip of the job's first statement; a
   * failed job is rolled back to it. COMMIT releases the last. The BEGIN
   * goes with the first of those round trips. */
  bool in_tx = pg__ready(c);
  c->begin_pending = in_tx; /* sent with the first statement (pg__run) */
  c->sp_set = false;
  for (store_job **link = &batch, *j; (j = *link);) {
    j->rc = BINK_OK;
    j->err.code = BINK_OK;
    j->err.msg[0] = '\0';
    c->lock_cycle = false;
    if (!in_tx) {
      j->rc = bink_fail(&j->err, BINK_EUNAVAIL, "storage unavailable");
      link = &j->next;
      continue;
    }
    size_t feed_mark = c->nfeed, msg_mark = pg__messages_kept(c);
    c->msg_flushed_at_sp = c->msg_flushed;
    c->job_events = 0;
    c->sp_pending = true;
    c->sp_failed = false;
    c->jobs_left = njobs--;
    j->rc = j->fn(c, j->arg, &j->err);
    j->events = c->job_events;
    /* No statement ran: no savepoint of its own, nothing to undo. */
    bool ran = !c->sp_pending;
    c->sp_pending = false;
    if (j->rc != BINK_OK) {
      pg__feed_truncate(c, feed_mark); /* undone with the job */
      pg__looks_forget(c);
    }
    PGTransactionStatusType ts =
        c->tx_lost || !c->pg || c->sp_failed ? PQTRANS_UNKNOWN
                                             : PQtransactionStatus(c->pg);
    if (ts == PQTRANS_IDLE && c->begin_pending)
      ts = PQTRANS_INTRANS; /* not begun yet: nothing was lost */
    if (j->rc == BINK_OK && ts == PQTRANS_INERROR)
      j->rc = bink_fail(&j->err, BINK_EUNAVAIL, "storage unavailable");
    if (!ran && ts == PQTRANS_INERROR)
      ts = PQTRANS_UNKNOWN; /* failed before its savepoint: cannot undo */
    if ((ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) &&
        j->rc != BINK_OK && ran && !pg__simple(c, "ROLLBACK TO job"))
      ts = PQTRANS_UNKNOWN;
    if (j->rc != BINK_OK) {
      /* Its own kept messages are forgotten; those of earlier jobs that
       * went in under its savepoint were rolled back with it. */
      if (ran && c->msg_flushed > c->msg_flushed_at_sp)
        c->msg_flushed = c->msg_flushed_at_sp;
      pg__messages_truncate(c, msg_mark);
    }
    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) {
      /* The connection or the transaction is gone: every job of the batch
       * so far is lost with it. */
      pg__fail_jobs(batch, j->next);
      in_tx = false;
    } else if (j->rc != BINK_OK && c->lock_cycle &&
               round < PG__CYCLE_RETRIES) {
      /* Rolled back to its savepoint, so it left nothing: out of this
       * batch, to run again once the batch's locks are released. */
      *link = j->next;
      j->next = NULL;
      *again_tail = j;
      again_tail = &j->next;
      continue;
    }
    link = &j->next;
  }
  if (in_tx && c->begin_pending && !c->nfeed && !c->nwake_groups &&
      !c->nwake && c->msg_flushed == pg__messages_kept(c)) {
    c->begin_pending = false; /* no job ran a statement: nothing to commit */
  } else if (in_tx) {
    bool ok = (c->nfeed || pg__messages_flush(c)) && pg__feed_flush(c) &&
              pg__notify_commit(c);
    if (!ok) {
      /* A failed COMMIT may still have committed (the connection broke
       * after the server did): callers are told it failed, and
       * Idempotency-Key makes their retry safe. */
      pg__simple(c, "ROLLBACK");
      pg__fail_jobs(batch, NULL);
    }
  } else if (c->in_tx || c->tx_lost) {
    pg__simple(c, "ROLLBACK");
  }
  if (c->nwake && s->hook)
    s->hook(s->hook_arg, c->wake, c->nwake);
  pg__batch_reset(c);
  store_queue_finish(batch);
  if (again)
    pg__run_batch(s, c, again, round + 1);
}

static void *pg__writer_main(void *arg) {
  store_conn *c = arg;
  store_job *batch;
  while ((batch = store_queue_take(&c->owner->queue, PG__BATCH_MAX, 0, NULL)))
    pg__run_batch(c->owner, c, batch, 0);
  return NULL;
}

void pg_wake(store_conn *c, uint64_t key) {
  if (!c->writer)
    return;
  for (size_t i = 0; i < c->nwake; i++)
    if (c->wake[i] == key)
      return;
  if (c->nwake == c->cap_wake) {
    size_t cap = c->cap_wake ? 2 * c->cap_wake : 64;
    uint64_t *w = realloc(c->wake, cap * sizeof *w);
    if (!w)
      return; /* a lost hint: waiters still time out and look again */
    c->wake = w;
    c->cap_wake = cap;
  }
  c->wake[c->nwake++] = key;
}

bink_rc pg_wake_group(store_conn *c, int64_t group_id) {
  if (!c->writer)
    return BINK_OK;
  for (size_t i = 0; i < c->nwake_groups; i++)
    if (c->wake_groups[i] == group_id)
      return BINK_OK;
  if (c->nwake_groups == c->cap_wake_groups) {
    size_t cap = c->cap_wake_groups ? 2 * c->cap_wake_groups : 16;
    int64_t *g = realloc(c->wake_groups, cap * sizeof *g);
    if (!g)
      return BINK_OK; /* a lost hint, as in pg_wake */
    c->wake_groups = g;
    c->cap_wake_groups = cap;
  }
  c->wake_groups[c->nwake_groups++] = group_id;
  return BINK_OK;
}

bink_rc pg_submit(store *s, store_job *job) {
  return store_queue_submit(&s->queue, job);
}

bink_rc pg_write(store *s, store_job_fn fn, void *arg, bink_err *err) {
  return store_queue_write(&s->queue, fn, arg, err);
}

/* ---------------------------------------------------------------------- */
/* Wake-ups from other nodes                                               */

/* Hands a notification's keys to the hook, unless this node sent it (its
 * writer called the hook already). */
static void pg__deliver(store *s, const char *payload) {
  size_t nlen = strlen(s->node);
  if (strncmp(payload, s->node, nlen) == 0 && payload[nlen] == ' ')
    return;
  uint64_t keys[PG__NOTIFY_MAX / 2];
  size_t n = 0;
  const char *p = strchr(payload, ' ');
  while (p && *p && n < sizeof keys / sizeof keys[0]) {
    char *end;
    errno = 0;
    unsigned long long k = strtoull(p + 1, &end, 16);
    if (end == p + 1 || errno)
      break;
    keys[n++] = (uint64_t)k;
    p = end;
  }
  if (n && s->hook)
    s->hook(s->hook_arg, keys, n);
}

static void *pg__listener_main(void *arg) {
  store *s = arg;
  store_conn *c = pg__conn_new(s, false);
  if (!c)
    return NULL;
  bool listening = false;
  struct timespec pause = {0, 250 * 1000 * 1000};
  while (!atomic_load(&s->listener_stop)) {
    if (!listening) {
      if (!pg__ready(c) || !pg__simple(c, "LISTEN " PG__CHANNEL)) {
        nanosleep(&pause, NULL);
        continue;
      }
      listening = true;
      /* Whatever was notified while we were away is lost: everyone looks
       * again (the tables are the truth; wake-ups are hints). */
      uint64_t all = STORE_WAKE_ALL;
      if (s->hook)
        s->hook(s->hook_arg, &all, 1);
    }
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    int pr = poll(&pfd, 1, 250);
    if (pr < 0 && errno != EINTR) {
      listening = false;
      continue;
    }
    if (pr > 0 && !PQconsumeInput(c->pg)) {
      binkd_log(BINKD_LOG_WARN, "database: wake-up channel lost: %s",
                PQerrorMessage(c->pg));
      listening = false;
      continue;
    }
    PGnotify *note;
    while ((note = PQnotifies(c->pg))) {
      pg__deliver(s, note->extra);
      PQfreemem(note);
    }
    if (PQstatus(c->pg) != CONNECTION_OK)
      listening = false;
  }
  pg__conn_free(c);
  return NULL;
}

void pg_set_commit_hook(store *s, store_commit_hook fn, void *arg) {
  s->hook = fn;
  s->hook_arg = arg;
  if (!s->listener_started && fn) {
    atomic_store(&s->listener_stop, false);
    s->listener_started =
        pthread_create(&s->listener, NULL, pg__listener_main, s) == 0;
    if (!s->listener_started)
      binkd_log(BINKD_LOG_ERROR, "database: cannot start the wake-up "
                                 "listener; other nodes' writes wake nobody "
                                 "here");
  }
}

/* ---------------------------------------------------------------------- */

bink_rc pg_open(const char *uri, const store_options *opt, store **out,
                bink_err *err) {
  *out = NULL;
  store *s = calloc(1, sizeof *s);
  if (!s)
    return bink_fail(err, BINK_EUNAVAIL, "out of memory");
  s->be = &store__pg;
  if (snprintf(s->uri, sizeof s->uri, "%s", uri) >= (int)sizeof s->uri) {
    free(s);
    return bink_fail(err, BINK_EUNAVAIL, "database URI too long");
  }
  unsigned char id[8];
  if (RAND_bytes(id, sizeof id) != 1) {
    free(s);
    return bink_fail(err, BINK_EUNAVAIL, "no randomness for the node id");
  }
  for (size_t i = 0; i < sizeof id; i++)
    snprintf(s->node + 2 * i, 3, "%02x", id[i]);
  s->generation = atomic_fetch_add(&pg__generations, 1);
  store_queue_init(&s->queue);
  pthread_mutex_init(&s->lock, NULL);
  s->nwriters = opt->pool > 0 ? opt->pool : PG__WRITERS_DEFAULT;
  if (s->nwriters > PG__WRITERS_MAX)
    s->nwriters = PG__WRITERS_MAX;
  for (int i = 0; i < s->nwriters; i++) {
    if (!(s->writers[i] = pg__conn_new(s, true))) {
      pg_close(s);
      return bink_fail(err, BINK_EUNAVAIL, "out of memory");
    }
  }
  if (!pg__connect(s->writers[0])) {
    pg_close(s);
    return bink_fail(err, BINK_EUNAVAIL,
                     "cannot connect to the PostgreSQL database (see the "
                     "log)");
  }
  if (pg__migrate(s->writers[0], err) != BINK_OK) {
    pg_close(s);
    return BINK_EUNAVAIL;
  }
  for (int i = 0; i < s->nwriters; i++) {
    if (pthread_create(&s->writer_threads[i], NULL, pg__writer_main,
                       s->writers[i]) != 0) {
      pg_close(s);
      return bink_fail(err, BINK_EUNAVAIL, "cannot start the writer threads");
    }
    s->writers_started++;
  }
  binkd_log(BINKD_LOG_INFO, "database: PostgreSQL, node %s, %d writer "
                            "connection(s)", s->node, s->nwriters);
  *out = s;
  return BINK_OK;
}

void pg_close(store *s) {
  if (!s)
    return;
  if (s->listener_started) {
    atomic_store(&s->listener_stop, true);
    pthread_join(s->listener, NULL);
  }
  store_queue_stop(&s->queue);
  for (int i = 0; i < s->writers_started; i++)
    pthread_join(s->writer_threads[i], NULL);
  for (int i = 0; i < s->nwriters; i++)
    pg__conn_free(s->writers[i]);
  while (s->readers) {
    store_conn *next = s->readers->next;
    pg__conn_free(s->readers);
    s->readers = next;
  }
  pthread_mutex_destroy(&s->lock);
  store_queue_destroy(&s->queue);
  free(s);
}

store_conn *pg_reader(store *s) {
  if (pg__tl_reader.generation == s->generation && pg__tl_reader.conn)
    return pg__tl_reader.conn;
  store_conn *c = pg__conn_new(s, false);
  if (!c)
    return NULL;
  /* Connected now if possible; else on first use (pg__run). */
  pg__connect(c);
  pthread_mutex_lock(&s->lock);
  c->next = s->readers;
  s->readers = c;
  pthread_mutex_unlock(&s->lock);
  pg__tl_reader.generation = s->generation;
  pg__tl_reader.conn = c;
  return c;
}

bink_rc pg_read_begin(store_conn *c) {
  return pg__simple(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
             ? BINK_OK
             : BINK_EUNAVAIL;
}

void pg_read_end(store_conn *c) {
  if (c->in_tx || c->tx_lost)
    pg__simple(c, "COMMIT");
}

static const char SQL_PING[] = "SELECT 1";

void pg_stats_get(store *s, store_stats *out) {
  out->write_queue = store_queue_depth(&s->queue);
}

bink_rc pg_ping(store *s) {
  store_conn *c = pg_reader(s);
  if (!c)
    return BINK_EUNAVAIL;
  /* /healthz answers soon, whatever the database does. */
  c->wait_ms = PG__PING_WAIT_MS;
  bink_rc rc = pg__cmd(c, SQL_PING, 0, NULL, NULL);
  c->wait_ms = PG__CLIENT_WAIT_MS;
  return rc;
}
