/*
 * store.h: all persistent state of binkd behind one interface. No SQL lives
 * outside src/store/. The SQLite implementation (store_sqlite.c) is the
 * default; a PostgreSQL one can follow behind the same declarations.
 *
 * Concurrency model
 * - Writes run on one writer thread. Callers hand it a store_job; the writer
 *   takes every job queued at that moment, runs them inside ONE transaction
 *   (BEGIN IMMEDIATE), each under its own savepoint so that a job that fails
 *   leaves no trace, and commits once for the batch (group commit). Only
 *   after that commit is each job's `done` callback called.
 * - Reads run on a connection owned by the calling thread (store_reader()),
 *   which sees every committed write.
 *
 * Results: every accessor returns BINK_OK, BINK_ENOTFOUND (no such row),
 * BINK_ECONFLICT (a unique key is taken) or BINK_EUNAVAIL (the database
 * failed; the details are logged, never returned to clients).
 */
#ifndef BINK_STORE_H
#define BINK_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"
#include "core/result.h"

typedef struct store store;
typedef struct store_conn store_conn;

/* Opens (creating if needed) the database named by `uri` ("sqlite:PATH"),
 * applies pending migrations and starts the writer thread. A database
 * written by a newer binkd is refused with BINK_EUNAVAIL and a message. */
bink_rc store_open(const char *uri, store **out, bink_err *err);

/* Drains the write queue, stops the writer and closes every connection. */
void store_close(store *s);

/* BINK_OK when the database answers a trivial query (for /healthz). */
bink_rc store_ping(store *s);

/* ---- writes ---- */
typedef bink_rc (*store_job_fn)(store_conn *c, void *arg, bink_err *err);

typedef struct store_job {
  store_job_fn fn;                     /* runs on the writer thread */
  void (*done)(struct store_job *job); /* after commit (or failure) */
  void *arg;
  bink_rc rc;                          /* set before done() */
  bink_err err;
  struct store_job *next;              /* the store's */
} store_job;

/* Queues a job; returns at once. job->done is called exactly once, on the
 * writer thread, after the batch holding the job has committed or failed.
 * The job must stay valid until then. BINK_EUNAVAIL when shutting down (then
 * done is not called). */
bink_rc store_submit(store *s, store_job *job);

/* Runs fn as a job and waits for its commit (for the command line and
 * start-up work, not for request handlers). */
bink_rc store_write(store *s, store_job_fn fn, void *arg, bink_err *err);

/* ---- reads ---- */

/* This thread's read connection (opened on first use, closed by
 * store_close()), or NULL when the database cannot be opened. */
store_conn *store_reader(store *s);

/* A read transaction, so that several reads see one snapshot. */
bink_rc store_read_begin(store_conn *c);
void store_read_end(store_conn *c);

/* ---- accounts (users and bots) ---- */
bink_rc store_account_insert(store_conn *c, bink_account *a,
                             const unsigned char token_hash[BINK_SHA256_LEN]);
bink_rc store_account_get(store_conn *c, int64_t id, bink_account *out);
/* By external id ("user_…" / "bot_…"): ENOTFOUND for malformed ids too. */
bink_rc store_account_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_account *out);
bink_rc store_account_by_username(store_conn *c, const char *username,
                                  size_t len, bink_account *out);
bink_rc store_account_by_token(store_conn *c,
                               const unsigned char hash[BINK_SHA256_LEN],
                               bink_account *out);
/* Writes display_name, description, privacy_mode, can_join_groups and the
 * webhook fields. */
bink_rc store_account_update(store_conn *c, const bink_account *a);
bink_rc store_account_set_token(store_conn *c, int64_t id,
                                const unsigned char hash[BINK_SHA256_LEN]);
/* The bots owned by owner_id, oldest first: a JSON array built by `render`
 * for each (the store does not know the wire format). */
bink_rc store_bots_of_owner(store_conn *c, int64_t owner_id,
                            json_t *(*render)(const bink_account *),
                            json_t *out_array);
/* A bot's command menu as JSON text (caller frees), "[]" when never set. */
bink_rc store_commands_get(store_conn *c, int64_t bot_id, char **json_text);
bink_rc store_commands_set(store_conn *c, int64_t bot_id, const char *json_text);

/* ---- groups and members ---- */
bink_rc store_group_insert(store_conn *c, bink_group *g);
bink_rc store_group_get(store_conn *c, int64_t id, bink_group *out);
bink_rc store_group_get_ext(store_conn *c, const char *ext, size_t len,
                            bink_group *out);
bink_rc store_group_by_username(store_conn *c, const char *username,
                                size_t len, bink_group *out);
/* ENOTFOUND (and out->role = BINK_ROLE_NONE) when not a member. */
bink_rc store_member_get(store_conn *c, int64_t group_id, int64_t account_id,
                         bink_member *out);
/* Inserts, or returns ECONFLICT when already a member. */
bink_rc store_member_insert(store_conn *c, const bink_member *m);
bink_rc store_member_delete(store_conn *c, int64_t group_id, int64_t account_id);
bink_rc store_member_set_role(store_conn *c, int64_t group_id,
                              int64_t account_id, bink_role role);
bink_rc store_member_set_mute(store_conn *c, int64_t group_id,
                              int64_t account_id, int64_t muted_until);
/* Members, owner first then by join time, each rendered by `render`. */
bink_rc store_members_list(store_conn *c, int64_t group_id,
                           json_t *(*render)(const bink_account *,
                                             const bink_member *),
                           json_t *out_array);

/* ---- private chats ---- */
/* The private chat of a and b (any order); ENOTFOUND when none yet. */
bink_rc store_dm_get(store_conn *c, int64_t a, int64_t b, bink_dm *out);
bink_rc store_dm_get_id(store_conn *c, int64_t id, bink_dm *out);
/* Gets or creates the private chat of a and b. */
bink_rc store_dm_open(store_conn *c, int64_t a, int64_t b, int64_t now,
                      bink_dm *out);
bink_rc store_dm_update(store_conn *c, const bink_dm *d);

/* ---- messages ---- */
/* Inserts m (id, tag and ext_id are set on return). */
bink_rc store_message_insert(store_conn *c, bink_message *m);
/* Loads a message (also deleted ones: check m->deleted). out is cleared
 * first; the caller bink_message_clear()s it. */
bink_rc store_message_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_message *out);
/* Writes content, extra and edited_at. */
bink_rc store_message_update(store_conn *c, const bink_message *m);
/* Turns the message into a tombstone: content, extra, attachment, quote
 * dropped; deleted set. */
bink_rc store_message_tombstone(store_conn *c, int64_t id, int64_t now);

/* History of a chat (group_id > 0, or dm_id > 0), newest first, at most
 * limit messages with row key < before (0: from the newest). Each message is
 * rendered with `render`; *more is true when older ones exist. */
bink_rc store_history(store_conn *c, int64_t group_id, int64_t dm_id,
                      int64_t before, int limit,
                      json_t *(*render)(const bink_message *),
                      json_t *out_array, bool *more);

/* The caller's chats: groups they are in and their private chats, each as
 * {"chat_type", "group_id" | "peer", "title", "last_message", "unread_count"}
 * built through the two callbacks, newest activity first. */
typedef struct store_chat_row {
  bool is_group;
  bink_group group;      /* when is_group */
  bink_account peer;     /* when !is_group */
  bink_message last;     /* last.id == 0 when the chat is empty */
  int64_t unread;
} store_chat_row;
bink_rc store_chats(store_conn *c, int64_t account_id,
                    json_t *(*render)(const store_chat_row *),
                    json_t *out_array);
/* Marks a chat read for the account up to message row key upto. */
bink_rc store_mark_read(store_conn *c, int64_t account_id, int64_t group_id,
                        int64_t dm_id, int64_t upto);

/* ---- idempotency ---- */
/* The stored response for (caller, key) younger than max_age seconds:
 * BINK_OK with *response (caller frees) and the request hash, ENOTFOUND. */
bink_rc store_idem_get(store_conn *c, int64_t caller_id, const char *key,
                       int64_t now, int64_t max_age,
                       unsigned char hash[BINK_SHA256_LEN], char **response);
bink_rc store_idem_put(store_conn *c, int64_t caller_id, const char *key,
                       const unsigned char hash[BINK_SHA256_LEN],
                       const char *response, int64_t now);

#endif
