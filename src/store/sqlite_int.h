/*
 * sqlite_int.h: what the files of the SQLite store share. Not for use
 * outside src/store/.
 *
 * Statements are prepared once per connection and cached by the address of
 * their SQL text: a module keeps each statement in a `static const char
 * SQL_…[]` and calls store__stmt(c, SQL_…) whenever it runs it.
 */
#ifndef BINK_STORE_SQLITE_INT_H
#define BINK_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/backend.h"
#include "store/queue.h"

#define STORE__CACHE 512 /* statements one connection can hold */

struct store_conn {
  const store_backend *be; /* first: store.c dispatches on it */
  sqlite3 *db;
  store *owner;
  const char *keys[STORE__CACHE];      /* SQL text addresses */
  sqlite3_stmt *stmts[STORE__CACHE];
  unsigned job_events; /* outbox rows the running job inserted (writer) */
  struct store_conn *next; /* in owner's list of readers */
};

struct store {
  const store_backend *be; /* first: store.c dispatches on it */
  char path[1024];
  uint64_t generation; /* tells this store's thread-local readers apart */
  store_conn *writer;
  pthread_t writer_thread;
  bool writer_started;
  store_queue queue;   /* the write jobs (queue.h) */
  pthread_mutex_t lock; /* guards readers */
  store_conn *readers;
  /* wake-ups noted by the jobs of the running batch (writer thread only) */
  uint64_t *wake;
  size_t nwake, cap_wake;
  /* groups whose members are already among `wake` (sqlite_wake_group) */
  int64_t woken_group[8];
  size_t nwoken_group;
  store_commit_hook hook;
  void *hook_arg;
  struct store__ckpt *ckpt; /* the checkpointer (store_sqlite.c) */
};

/* The migrations (sqlite_schema.c). */
extern const char *const store__migrations[];
extern const int store__migration_count;

/* The cached prepared statement of `sql` (whose address is its key), or
 * NULL when it cannot be prepared (logged). */
sqlite3_stmt *store__stmt(store_conn *c, const char *sql);

/* Runs a statement that returns no rows and takes no bindings. */
bink_rc store__exec(store_conn *c, const char *sql);

/* Steps a bound statement to its end, resets it: BINK_OK, BINK_ECONFLICT
 * for a constraint, BINK_EUNAVAIL otherwise (logged). */
bink_rc store__step_done(store_conn *c, sqlite3_stmt *st);

/* Logs the connection's last error about `what`; returns BINK_EUNAVAIL. */
bink_rc store__fail(store_conn *c, const char *what);

/* Copies a text column into out[0..n) (truncating, NUL-terminated). */
void store__copy_col(sqlite3_stmt *st, int col, char *out, size_t n);

/* A heap copy of a text column (caller frees); NULL for SQL NULL when
 * null_ok, or when memory runs out. */
char *store__dup_col(sqlite3_stmt *st, int col, bool null_ok);

/* Binds s as static text, or NULL when s is NULL. */
void store__bind_text(sqlite3_stmt *st, int i, const char *s);

#endif
