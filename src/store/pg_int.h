/*
 * pg_int.h: what the files of the PostgreSQL store share. Not for use
 * outside src/store/.
 *
 * Statements are prepared once per connection and cached by the address of
 * their SQL text, as in the SQLite store: a module keeps each statement in a
 * `static const char SQL_…[]` (placeholders $1, $2, …) and runs it with
 * pg__run() / pg__cmd(). Parameters and results travel as text; integers
 * are formatted with pg__i(), byte strings (bytea) with pg__hex().
 *
 * Schema (pg_schema.c): the SQLite store's tables and columns with the same
 * names and meanings (integers as bigint/int, flags as int 0/1, blobs as
 * bytea), plus what several nodes need:
 *   chat_heads.lease_until (ms) and lease_node: a claimed delivery;
 *   feed.seq, the feed's key instead of SQLite's id: the commit-ordered
 *   position of a feed row (rows are inserted at the end of their batch's
 *   transaction, under the feed_counter row lock; see store_pg.c).
 */
#ifndef BINK_STORE_PG_INT_H
#define BINK_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/backend.h"

#define PG__CACHE 256 /* statements one connection can hold */

typedef struct pg__feed_row {
  int64_t group_id, dm_id, user_id, created_at;
  char *event;         /* heap */
  struct json_t *data; /* a reference of the row's own */
} pg__feed_row;

struct store_conn {
  const store_backend *be; /* first: store.c dispatches on it */
  store *owner;
  PGconn *pg;              /* NULL while disconnected */
  bool writer;             /* a writer's connection (store_wake records) */
  int wait_ms;             /* longest wait for an answer (store_pg.c) */
  const char *keys[PG__CACHE]; /* SQL text addresses of prepared statements */
  /* wake-ups noted by the running batch (writer connections only) */
  uint64_t *wake;
  size_t nwake, cap_wake;
  /* groups whose members the running batch wakes (store_wake_group): their
   * members are looked up by the batch's feed statement, at its end */
  int64_t *wake_groups;
  size_t nwake_groups, cap_wake_groups;
  /* Feed rows the running batch wrote (writer connections): kept here and
   * inserted at the batch's end, numbered under the feed_counter lock, so
   * that feed.seq follows commit order (pg_feed_insert, store_pg.c). */
  struct pg__feed_row *feed;
  size_t nfeed, cap_feed;
  /* A transaction is open (BEGIN ran); tx_lost: its connection broke, so
   * every statement fails until COMMIT / ROLLBACK ends it (a reconnect in
   * its middle would run the rest outside it). Kept by pg__run. */
  bool in_tx, tx_lost;
  /* A writer's batch transaction is still to be begun: its BEGIN goes in
   * the pipeline of the first job's first statement (store_pg.c), or on its
   * own before any other statement. */
  bool begin_pending;
  /* Write jobs run under the savepoint "job" (store_pg.c), which is set in
   * the same round trip as the job's first statement, as a pipeline:
   * sp_pending: the running job's is still to be set; sp_set: one is set
   * in the transaction (released before the next); sp_failed: setting the
   * running job's failed (the transaction cannot go on). Kept by pg__run
   * and the writer. */
  bool sp_pending, sp_set, sp_failed;
  /* A statement of the running job was cancelled to break a lock cycle
   * with another transaction (SQLSTATE 40P01, 40001): the writer runs the
   * job again after its batch (store_pg.c). Set by pg__run. */
  bool lock_cycle;
  unsigned job_events; /* outbox rows the running job inserted (writer) */
  /* Messages kept for the batch's end (pg_chat.c, "Messages kept for the
   * batch's end"; writer connections): the rows as JSON objects; the first
   * msg_flushed of them are inserted already, msg_flushed_at_sp when the
   * running job's savepoint was set. neutral: the statement about to run
   * reads no messages and writes no groups or members, so kept rows may
   * wait and the batch's look-ups stay valid (one statement; pg__run). */
  struct json_t *msg_rows;
  size_t msg_flushed, msg_flushed_at_sp;
  bool neutral;
  /* The batch's look-ups and message ids (pg_chat.c, "The batch's group
   * look-ups"; writer connections): groups and memberships read since the
   * batch began, forgotten by pg__looks_forget; ids[ids_used..nids) drawn
   * from messages_id_seq for its messages. jobs_left: jobs of the running
   * batch from the running one on (set by the writer). */
  struct pg__look *looks;
  size_t nlooks;
  int64_t *ids;
  size_t nids, ids_used;
  size_t jobs_left;
  struct store_conn *next; /* in owner's list */
};

/* The store's node identity: a random hex string made at open, written
 * into leases and wake-up notifications. */
const char *pg__node(const store_conn *c);

/* Runs `sql` (prepared on first use on c) with n text parameters (a NULL
 * element is SQL NULL). Returns the result, which the caller PQclear()s,
 * when the statement succeeded; else NULL with *rc set: BINK_ECONFLICT for
 * a unique or exclusion violation (SQLSTATE 23505, 23P01), BINK_EUNAVAIL for
 * anything else (logged; a lost connection is reopened on the next call). */
PGresult *pg__run(store_conn *c, const char *sql, int n,
                  const char *const *params, bink_rc *rc);

/* pg__run for statements whose rows are not needed: BINK_OK, ECONFLICT or
 * EUNAVAIL; *changed (when not NULL) gets the number of rows affected. */
bink_rc pg__cmd(store_conn *c, const char *sql, int n,
                const char *const *params, int64_t *changed);

/* Forgets the batch's group look-ups (pg_chat.c): a statement that may
 * write groups or members ran, a job failed or the batch ended. */
void pg__looks_forget(store_conn *c);
/* Forgets the message ids drawn ahead (the batch ended; unused ones are
 * gaps, as a rolled-back insert leaves). */
void pg__ids_forget(store_conn *c);

/* INSERT of kept messages from a JSON array of row objects in parameter p
 * ("$1"; pg_chat.c, "Messages kept for the batch's end"); a field left out
 * stands for its column's default (0, '' or NULL). */
#define PG__MESSAGES_ADD(p)                                                    \
  "INSERT INTO messages(id, tag, group_id, dm_id, sender_id, target_id, "      \
  "group_ext, sender_ext, target_ext, type, content, file_ref, extra, "        \
  "attachment, reply_to, reply_to_ext, quote_id, quote_ext, quote, "           \
  "created_at) SELECT i, t, coalesce(g, 0), coalesce(d, 0), s, "                \
  "coalesce(tg, 0), coalesce(ge, ''), se, coalesce(te, ''), ty, c, "           \
  "coalesce(f, ''), x, a, coalesce(r, 0), coalesce(re, ''), coalesce(q, 0), "  \
  "coalesce(qe, ''), qs, ca FROM json_to_recordset(" p "::json) AS (i bigint, " \
  "t text, g bigint, d bigint, s bigint, tg bigint, ge text, se text, "        \
  "te text, ty int, c text, f text, x text, a text, r bigint, re text, "       \
  "q bigint, qe text, qs text, ca bigint)"
/* The kept messages not inserted yet as such an array's text (malloc'd;
 * "[]" when none), or NULL when memory runs out. */
char *pg__messages_text(const store_conn *c);
/* Inserts the kept messages not inserted yet, in one statement (pg_chat.c):
 * true when done or none were waiting. */
bool pg__messages_flush(store_conn *c);
/* Forgets the kept messages after the first `keep` (a job that failed). */
void pg__messages_truncate(store_conn *c, size_t keep);
/* How many messages are kept. */
size_t pg__messages_kept(const store_conn *c);

/* Text of an integer parameter, formatted into buf. */
typedef struct pg__num {
  char b[24];
} pg__num;
const char *pg__i(pg__num *buf, int64_t v);

/* A bytea parameter in PostgreSQL's hex form ("\x0a1b…") into out, which
 * holds 2 * n + 3 bytes. */
const char *pg__hex(char *out, const unsigned char *p, size_t n);

/* Result columns. NULL reads as 0 / "" ; pg__dup gives NULL for NULL when
 * null_ok (else ""), and NULL when memory runs out; the caller frees. */
int64_t pg__i64(const PGresult *r, int row, int col);
void pg__copy(const PGresult *r, int row, int col, char *out, size_t n);
char *pg__dup(const PGresult *r, int row, int col, bool null_ok);
bool pg__null(const PGresult *r, int row, int col);
/* A bytea column (hex form) decoded into out[0..n); false unless it holds
 * exactly n bytes. */
bool pg__bytes(const PGresult *r, int row, int col, unsigned char *out,
               size_t n);

/* The migrations (pg_schema.c): element i brings the schema from version
 * i to i + 1. */
extern const char *const pg__migrations[];
extern const int pg__migration_count;

#endif
