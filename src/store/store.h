/*
 * store.h: all persistent state of binkd behind one interface. No SQL lives
 * outside src/store/. The SQLite implementation (store_sqlite.c) is the
 * default; store_pg.c (PostgreSQL, for several nodes sharing one database)
 * is the other. store.c forwards each call to the backend (backend.h).
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

/* How a store is run; store_open(…, NULL, …) takes the defaults. */
typedef struct store_options {
  /* PostgreSQL: the writer connections of this node, each a thread that
   * commits queued jobs in batches (0: 2). SQLite always has one writer. */
  int pool;
} store_options;

/* Opens (creating if needed) the database named by `uri` ("sqlite:PATH" or
 * "postgresql://…", libpq's URI form), applies pending migrations and
 * starts the writer thread(s). A database written by a newer binkd is
 * refused with BINK_EUNAVAIL and a message. */
bink_rc store_open(const char *uri, const store_options *opt, store **out,
                   bink_err *err);

/* Drains the write queue, stops the writer and closes every connection. */
void store_close(store *s);

/* BINK_OK when the database answers a trivial query (for /healthz). */
bink_rc store_ping(store *s);

/* What the store holds in this process now, for GET /metrics. */
typedef struct store_stats {
  long write_queue; /* jobs submitted and not yet taken by a writer */
} store_stats;
void store_stats_get(store *s, store_stats *out);

/* ---- writes ---- */
typedef bink_rc (*store_job_fn)(store_conn *c, void *arg, bink_err *err);

typedef struct store_job {
  store_job_fn fn;                     /* runs on the writer thread */
  void (*done)(struct store_job *job); /* after commit (or failure) */
  void *arg;
  bink_rc rc;                          /* set before done() */
  bink_err err;
  unsigned events;                     /* outbox events it inserted (set by
                                          the store, for metrics) */
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
/* store_group_get_ext and store_member_get of account_id in that group, in
 * one look-up: ENOTFOUND when there is no such group; else OK, and m as
 * store_member_get leaves it (m->role == BINK_ROLE_NONE when not a
 * member). */
bink_rc store_group_member_get_ext(store_conn *c, const char *ext, size_t len,
                                   int64_t account_id, bink_group *g,
                                   bink_member *m);
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

/* ---- wake-ups ----
 * A write job notes what its commit should wake (a bot's long poll, a
 * clicker waiting for an answer, the webhook dispatcher); after the batch
 * commits, the hook set with store_set_commit_hook() receives every key
 * noted in it, on the writer thread. Keys of jobs that failed may be
 * included: a wake-up is a hint to look again, never data.
 * PostgreSQL: the keys also travel to every other node sharing the
 * database (NOTIFY at commit, LISTEN on a thread of each node), whose hook
 * then receives them on that thread. */
#define STORE_WAKE_BOT(id) ((UINT64_C(1) << 56) | (uint64_t)(id))
#define STORE_WAKE_CALLBACK(id) ((UINT64_C(2) << 56) | (uint64_t)(id))
#define STORE_WAKE_USER(id) ((UINT64_C(3) << 56) | (uint64_t)(id))
#define STORE_WAKE_ACCOUNT(id) ((UINT64_C(4) << 56) | (uint64_t)(id))
/* Everything may have changed (a node that lost its wake-up channel for a
 * while says so once it is back): wake every waiter to look again. */
#define STORE_WAKE_ALL (UINT64_C(5) << 56)
#define STORE_WAKE_KIND(key) ((key) >> 56)
#define STORE_WAKE_ID(key) ((int64_t)((key) & ((UINT64_C(1) << 56) - 1)))
void store_wake(store_conn *c, uint64_t key);
typedef void (*store_commit_hook)(void *arg, const uint64_t *keys, size_t n);
/* Sets the hook (before any write is submitted). */
void store_set_commit_hook(store *s, store_commit_hook fn, void *arg);

/* ---- events: the outbox (events.md) ---- */
/* The bot's next update_id (gapless: the counter moves in the same
 * transaction as the event it numbers). */
bink_rc store_event_next_id(store_conn *c, int64_t bot_id, int64_t *update_id);
bink_rc store_event_insert(store_conn *c, int64_t bot_id, int64_t update_id,
                           const char *chat_key, const char *event_type,
                           const char *body, int64_t now);
/* Sets the bot's allowed_events ("" = all, else a JSON array's text). */
bink_rc store_bot_set_allowed_events(store_conn *c, int64_t bot_id,
                                     const char *json_text);
/* The bot's allowed_events text ("" = all) into out[0..n). */
bink_rc store_bot_allowed_events(store_conn *c, int64_t bot_id, char *out,
                                 size_t n);
/* getupdates: pending events with update_id < before become confirmed. */
bink_rc store_events_confirm(store_conn *c, int64_t bot_id, int64_t before);
/* Pending events with update_id >= from, oldest first, at most limit, each
 * body parsed and appended to out_array. */
bink_rc store_events_pending(store_conn *c, int64_t bot_id, int64_t from,
                             int limit, json_t *out_array);
bink_rc store_events_pending_count(store_conn *c, int64_t bot_id, int64_t *n);
/* Pending events of every bot (GET /metrics). */
bink_rc store_events_pending_total(store_conn *c, int64_t *n);
/* drop_pending: pending events become dropped. */
bink_rc store_events_drop(store_conn *c, int64_t bot_id);
/* Pending events created before cutoff become dead; confirmed, delivered
 * and dropped ones created before cutoff are deleted. */
bink_rc store_events_expire(store_conn *c, int64_t cutoff);

/* One event due for webhook delivery, with its bot's webhook settings. */
typedef struct store_delivery {
  int64_t bot_id, update_id;
  char bot_ext[BINK_ID_MAX];
  char chat_key[32];
  char event_type[32];
  char *body; /* heap; the callback takes it over */
  int attempts;
  int64_t created_at;
  char url[BINK_URL_MAX];
  char secret[BINK_SECRET_MAX];
  int max_connections;
} store_delivery;
/* What the scan's callback does with one due delivery. */
typedef enum store_due_answer {
  STORE_DUE_SKIP, /* not now (the store frees d->body) */
  STORE_DUE_TAKE, /* sending it: the callback took d->body over */
  STORE_DUE_STOP  /* not now, and stop the scan (the store frees d->body) */
} store_due_answer;
/* For bots with a webhook URL: the oldest pending event of each chat whose
 * next attempt is due at now_ms, oldest due first, at most limit, each
 * offered to fn. Call it outside a read transaction.
 * Leases (several nodes, PostgreSQL): only heads nobody holds are offered
 * (a lease ends at lease_until, a time in ms; store_delivery_record ends it
 * too), each to one node at a time (FOR UPDATE SKIP LOCKED), and a TAKEn
 * head is leased to this node for lease_ms before the call returns; a node
 * that dies loses its leases when they expire. SQLite has one node and
 * ignores leases: its dispatcher's own in-flight set is enough. */
bink_rc store_deliveries_due(store_conn *c, int64_t now_ms, int64_t lease_ms,
                             int limit,
                             store_due_answer (*fn)(void *arg,
                                                    store_delivery *d),
                             void *arg);
/* Records an attempt's outcome: new state (0 pending for a retry, 1
 * delivered, 2 dead), the attempt count, the next attempt time (ms), and
 * the HTTP status (0 none), error text and latency of this attempt. Also
 * keeps the bot's webhook health (last success / error, 410 streak). */
typedef struct store_attempt {
  int64_t bot_id, update_id;
  int state;
  int attempts;
  int64_t next_at_ms;
  int http_status;
  const char *error;
  int latency_ms;
  int64_t now;
} store_attempt;
bink_rc store_delivery_record(store_conn *c, const store_attempt *a);
/* The webhook health of a bot (zeros when none). */
typedef struct store_webhook_state {
  int64_t last_error_at, last_success_at, gone_since;
  char last_error_msg[256];
} store_webhook_state;
bink_rc store_webhook_state_get(store_conn *c, int64_t bot_id,
                                store_webhook_state *out);
bink_rc store_webhook_gone_since(store_conn *c, int64_t bot_id, int64_t since);
/* The delivery log, newest first: update_id < before (0: from the newest),
 * state filter (-1 all, else as store_attempt.state; 5 = retrying, i.e.
 * pending with attempts > 0), each rendered by fn into out_array. */
typedef struct store_delivery_row {
  int64_t update_id;
  const char *event_type;
  int attempts;
  int state;
  int http_status;
  const char *error;
  int latency_ms;
  int64_t at;
} store_delivery_row;
bink_rc store_deliveries_list(store_conn *c, int64_t bot_id, int64_t before,
                              int state, int limit,
                              json_t *(*fn)(const store_delivery_row *),
                              json_t *out_array);
/* Queues an event again: pending, no attempts, due now. ENOTFOUND. */
bink_rc store_event_redeliver(store_conn *c, int64_t bot_id,
                              int64_t update_id);

/* ---- callback queries ---- */
typedef struct store_callback {
  int64_t id; /* row key */
  char ext_id[160];
  int64_t bot_id, clicker_id, message_id;
  char message_ext[BINK_ID_MAX];
  char data[80];
  int64_t created_at, answered_at;
  char *answer; /* heap JSON text or NULL; the caller frees */
} store_callback;
bink_rc store_callback_insert(store_conn *c, store_callback *cb);
bink_rc store_callback_get(store_conn *c, const char *ext_id,
                           store_callback *out);
bink_rc store_callback_answer(store_conn *c, int64_t id, const char *answer,
                              int64_t now);

/* ---- the people's feed (app-api.md "Live updates for people") ----
 * A row concerns a group (its members see it), a private chat (both sides)
 * and/or one user. data: the row's JSON object, stored as its compact text;
 * the caller keeps its reference (the store takes one of its own when it
 * writes the row later, as PostgreSQL does at the batch's end: data must
 * not change after the call). *id (when not NULL): the row's position, or
 * 0 when it is known at commit only. */
bink_rc store_feed_insert(store_conn *c, int64_t group_id, int64_t dm_id,
                          int64_t user_id, const char *event,
                          const json_t *data, int64_t now, int64_t *id);
/* Rows after `after` that user_id may see, oldest first, at most limit:
 * fn(arg, id, event, data) for each. */
bink_rc store_feed_read(store_conn *c, int64_t user_id, int64_t after,
                        int limit,
                        void (*fn)(void *arg, int64_t id, const char *event,
                                   const char *data),
                        void *arg);
/* The newest row's id (0 when none). */
bink_rc store_feed_last(store_conn *c, int64_t *id);
/* Every member of a group: fn(arg, account id). */
bink_rc store_group_member_ids(store_conn *c, int64_t group_id,
                               void (*fn)(void *arg, int64_t id), void *arg);
/* store_wake(c, STORE_WAKE_USER(id)) for every member of a group, in a
 * write job. The members may be looked up when the job's batch commits
 * rather than at once (PostgreSQL does, in the batch's last statement):
 * then members who joined or left later in the same batch are woken or
 * not, as they are members at commit; those who left are woken by their
 * own member_left row. */
bink_rc store_wake_group(store_conn *c, int64_t group_id);

/* Bots in a group, for event routing: fn(arg, bot) for each bot member. */
bink_rc store_group_bots(store_conn *c, int64_t group_id,
                         bink_rc (*fn)(void *arg, const bink_account *bot),
                         void *arg);

/* ---- files and stickers (sqlite_files.c; bot-api.md "uploadfile",
 * "getfile"; app-api.md "stickers") ----
 * A file record describes one upload; the bytes live on disk under the
 * record's sha256 (svc_files.c), never in the database. */
#include "core/media.h"

/* Inserts f (id, tag and ext_id are set on return). */
bink_rc store_file_insert(store_conn *c, bink_file *f);
/* By row key / by external id ("file_…"; ENOTFOUND for malformed ids and
 * tag mismatches). */
bink_rc store_file_get(store_conn *c, int64_t id, bink_file *out);
bink_rc store_file_get_ext(store_conn *c, const char *ext, size_t len,
                           bink_file *out);
/* BINK_OK when a live message whose file_id is `file_ext` lies in a chat
 * account_id can see (a group it is a member of, or a private chat it is
 * a side of); ENOTFOUND otherwise. */
bink_rc store_file_in_visible_message(store_conn *c, const char *file_ext,
                                      int64_t account_id);

/* Inserts a catalogue entry (id, tag, ext_id set on return). When
 * (set_name, name) exists: with replace, its emoji and image are updated
 * and *s gets its id; without, ECONFLICT and nothing changes. */
bink_rc store_sticker_put(store_conn *c, bink_sticker *s, bool replace);
/* BINK_OK when the catalogue has (set_name, name), else ENOTFOUND. */
bink_rc store_sticker_exists(store_conn *c, const char *set_name,
                             const char *name);
/* By external id ("sticker_…"), with the image's type, sha256 and size. */
bink_rc store_sticker_get_ext(store_conn *c, const char *ext, size_t len,
                              bink_sticker *out);
/* The catalogue ordered by set, then insertion; each entry rendered with
 * `render` and appended to out_array. */
bink_rc store_stickers_list(store_conn *c,
                            json_t *(*render)(const bink_sticker *, void *),
                            void *arg, json_t *out_array);

/* ---- web sign-in sessions (sqlite_sessions.c; docs/web.md) ----
 * A session maps the digest of a browser's cookie token
 * (core/session.h) to a user until expires_at (Unix seconds). */
bink_rc store_session_insert(store_conn *c, int64_t account_id,
                             const unsigned char hash[BINK_SHA256_LEN],
                             int64_t now, int64_t expires_at);
/* The account of a live session (expires_at > now): BINK_OK, or ENOTFOUND
 * for an unknown or expired digest. */
bink_rc store_session_account(store_conn *c,
                              const unsigned char hash[BINK_SHA256_LEN],
                              int64_t now, bink_account *out);
/* Ends a session (sign-out): BINK_OK, or ENOTFOUND when there is none.
 * Notes STORE_WAKE_ACCOUNT so caches of digests forget it at once. */
bink_rc store_session_delete(store_conn *c,
                             const unsigned char hash[BINK_SHA256_LEN]);
/* Deletes the sessions that expired at or before now. */
bink_rc store_sessions_expire(store_conn *c, int64_t now);

#endif
