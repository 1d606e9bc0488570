/*
 * pg_chat.c: the PostgreSQL store's chat records (store.h): accounts and
 * bot commands, groups and members, private chats, messages, history, the
 * chat list, read marks, idempotency records and the bots of a group. Each
 * pg_* function behaves as its sqlite_* twin in store_sqlite.c; where one
 * statement can do the work of several there, it does (same results, fewer
 * round trips).
 *
 * Several nodes share the database, so get-or-create and counters are
 * written to be race-safe: private chats are created with ON CONFLICT DO
 * NOTHING, a membership and its group's member_count change in one
 * statement, an idempotency record is read under a transaction-level
 * advisory lock on (caller, key), and writers lock the message or private
 * chat they load to change (FOR NO KEY UPDATE) so that concurrent jobs
 * take turns on it as they do behind SQLite's single writer.
 */
#include "store/pg_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/rules.h"
#include "log.h"

/* ---------------------------------------------------------------------- */
/* Statements                                                              */

#define ACCOUNT_COLS                                                           \
  "id, tag, is_bot, username, display_name, description, created_at, "         \
  "owner_id, privacy_mode, can_join_groups, webhook_url, webhook_secret, "     \
  "max_connections"
#define ACCOUNT_NCOLS 13
#define GROUP_COLS                                                             \
  "id, tag, username, title, description, public, owner_id, member_count, "    \
  "created_at"
#define MESSAGE_COLS                                                           \
  "id, tag, group_id, dm_id, sender_id, target_id, group_ext, sender_ext, "    \
  "target_ext, type, content, file_ref, extra, attachment, reply_to, "         \
  "reply_to_ext, quote_id, quote_ext, quote, created_at, edited_at, deleted"
#define DM_COLS                                                                \
  "id, lo, hi, lo_wrote, hi_wrote, lo_blocked, hi_blocked, created_at"

static const char SQL_ACCOUNT_INSERT[] =
    "INSERT INTO accounts(tag, is_bot, username, username_lc, display_name, "
    "description, token_hash, created_at, owner_id, privacy_mode, "
    "can_join_groups, webhook_url, webhook_secret, max_connections) "
    "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
    "RETURNING id";
static const char SQL_ACCOUNT_GET[] =
    "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = $1";
/* $1 is already in lower case (chat__lower). */
static const char SQL_ACCOUNT_BY_USERNAME[] =
    "SELECT " ACCOUNT_COLS " FROM accounts WHERE username_lc = $1";
static const char SQL_ACCOUNT_BY_TOKEN[] =
    "SELECT " ACCOUNT_COLS ", token_hash FROM accounts WHERE token_hash = $1";
static const char SQL_ACCOUNT_UPDATE[] =
    "UPDATE accounts SET display_name = $2, description = $3, "
    "privacy_mode = $4, can_join_groups = $5, webhook_url = $6, "
    "webhook_secret = $7, max_connections = $8 WHERE id = $1";
static const char SQL_ACCOUNT_SET_TOKEN[] =
    "UPDATE accounts SET token_hash = $2 WHERE id = $1";
static const char SQL_BOTS_OF_OWNER[] =
    "SELECT " ACCOUNT_COLS " FROM accounts "
    "WHERE owner_id = $1 AND is_bot = 1 ORDER BY id";
static const char SQL_COMMANDS_GET[] =
    "SELECT commands FROM accounts WHERE id = $1";
static const char SQL_COMMANDS_SET[] =
    "UPDATE accounts SET commands = $2 WHERE id = $1";

static const char SQL_GROUP_INSERT[] =
    "INSERT INTO groups(tag, username, username_lc, title, description, "
    "public, owner_id, member_count, created_at) "
    "VALUES($1, $2, $3, $4, $5, $6, $7, 0, $8) RETURNING id";
static const char SQL_GROUP_GET[] =
    "SELECT " GROUP_COLS " FROM groups WHERE id = $1";
/* The group and one account's membership in it, in one round trip. */
static const char SQL_GROUP_MEMBER_GET[] =
    "SELECT g.id, g.tag, g.username, g.title, g.description, g.public, "
    "g.owner_id, g.member_count, g.created_at, m.role, m.muted_until, "
    "m.joined_at FROM groups g LEFT JOIN members m "
    "ON m.group_id = g.id AND m.account_id = $2 WHERE g.id = $1";
/* ---- The batch's group look-ups ----
 * Most write jobs start by looking up a group and the caller's membership
 * (sendmessage), and a batch most often holds one bot's burst of sends to
 * one group. So a writer keeps what its batch looked up, and a job whose
 * look-up is kept runs no statement of its own until its message goes in
 * with the batch's ("Messages kept for the batch's end"): no round trip,
 * no savepoint. Kept look-ups are forgotten when a statement that may
 * write groups or members runs (any but the neutral ones, pg__run), when a
 * job fails (its savepoint may undo what they saw) and when the batch
 * ends. Every job of a batch was queued before the batch began, so a
 * look-up made since then was made while each of them was waiting for its
 * answer, as a look-up of its own would be.
 * The look-up also draws the ids of the batch's messages, one per job from
 * the running one on (message ids; pg_message_insert): a job that posts
 * nothing leaves gaps, as a rolled-back insert always did. They are drawn
 * after every job of the batch was queued, so a message sent after another
 * one committed still gets a larger id. */
#define PG__LOOKS 4
typedef struct pg__look {
  int64_t account_id;
  bink_group g;
  bink_member m;
} pg__look;
static const char SQL_GROUP_MEMBER_GET_DRAW[] =
    "SELECT g.id, g.tag, g.username, g.title, g.description, g.public, "
    "g.owner_id, g.member_count, g.created_at, m.role, m.muted_until, "
    "m.joined_at, nextval('messages_id_seq') FROM groups g LEFT JOIN members "
    "m ON m.group_id = g.id AND m.account_id = $2 "
    "CROSS JOIN generate_series(1, $3) WHERE g.id = $1";
static const char SQL_GROUP_BY_USERNAME[] =
    "SELECT " GROUP_COLS " FROM groups WHERE username_lc = $1";
static const char SQL_MEMBER_GET[] =
    "SELECT role, muted_until, joined_at FROM members "
    "WHERE group_id = $1 AND account_id = $2";
/* The membership and the group's count move together; the result is the
 * number of rows inserted (0: already a member). */
static const char SQL_MEMBER_INSERT[] =
    "WITH ins AS (INSERT INTO members(group_id, account_id, role, "
    "muted_until, joined_at) VALUES($1, $2, $3, $4, $5) "
    "ON CONFLICT (group_id, account_id) DO NOTHING RETURNING group_id), "
    "cnt AS (UPDATE groups SET member_count = member_count + 1 "
    "WHERE id IN (SELECT group_id FROM ins)) "
    "SELECT count(*) FROM ins";
static const char SQL_MEMBER_DELETE[] =
    "WITH del AS (DELETE FROM members WHERE group_id = $1 AND account_id = $2 "
    "RETURNING group_id), "
    "cnt AS (UPDATE groups SET member_count = member_count - 1 "
    "WHERE id IN (SELECT group_id FROM del)) "
    "SELECT count(*) FROM del";
static const char SQL_MEMBER_SET_ROLE[] =
    "UPDATE members SET role = $3 WHERE group_id = $1 AND account_id = $2";
static const char SQL_MEMBER_SET_MUTE[] =
    "UPDATE members SET muted_until = $3 "
    "WHERE group_id = $1 AND account_id = $2";
static const char SQL_MEMBERS_LIST[] =
    "SELECT m.role, m.muted_until, m.joined_at, a.id, a.tag, a.is_bot, "
    "a.username, a.display_name, a.description, a.created_at, a.owner_id, "
    "a.privacy_mode, a.can_join_groups, a.webhook_url, a.webhook_secret, "
    "a.max_connections FROM members m JOIN accounts a ON a.id = m.account_id "
    "WHERE m.group_id = $1 ORDER BY (m.role = 2) DESC, m.joined_at, a.id";

static const char SQL_DM_GET[] =
    "SELECT " DM_COLS " FROM dms WHERE lo = $1 AND hi = $2";
/* What writers read before they update the chat (pg_dm_open): the row
 * lock makes concurrent read-modify-write jobs take turns, as the SQLite
 * store's single writer does, instead of one losing the other's flags. */
static const char SQL_DM_GET_LOCKED[] =
    "SELECT " DM_COLS " FROM dms WHERE lo = $1 AND hi = $2 "
    "FOR NO KEY UPDATE";
static const char SQL_DM_GET_ID[] = "SELECT " DM_COLS " FROM dms WHERE id = $1";
/* No row when another transaction created the chat first. */
static const char SQL_DM_INSERT[] =
    "INSERT INTO dms(lo, hi, created_at) VALUES($1, $2, $3) "
    "ON CONFLICT (lo, hi) DO NOTHING RETURNING " DM_COLS;
static const char SQL_DM_UPDATE[] =
    "UPDATE dms SET lo_wrote = $2, hi_wrote = $3, lo_blocked = $4, "
    "hi_blocked = $5 WHERE id = $1";

static const char SQL_MESSAGE_INSERT[] =
    "INSERT INTO messages(tag, group_id, dm_id, sender_id, target_id, "
    "group_ext, sender_ext, target_ext, type, content, file_ref, extra, "
    "attachment, reply_to, reply_to_ext, quote_id, quote_ext, quote, "
    "created_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
    "$13, $14, $15, $16, $17, $18, $19) RETURNING id";
static const char SQL_MESSAGE_GET[] =
    "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1";
/* Writers load a message to check it and then change it (delete, edit):
 * the lock makes a second writer wait and then see the first one's
 * commit (e.g. deleted = 1), as with one SQLite writer. */
static const char SQL_MESSAGE_GET_LOCKED[] =
    "SELECT " MESSAGE_COLS " FROM messages WHERE id = $1 FOR NO KEY UPDATE";
static const char SQL_MESSAGE_UPDATE[] =
    "UPDATE messages SET content = $2, extra = $3, edited_at = $4 "
    "WHERE id = $1";
/* Tombstones message $1 and returns the quote snapshots of it held by other
 * messages (whose content goes too: see chat__scrub_quotes). */
static const char SQL_MESSAGE_TOMBSTONE[] =
    "WITH t AS (UPDATE messages SET content = '', extra = NULL, "
    "attachment = NULL, quote = NULL, file_ref = '', deleted = 1, "
    "edited_at = $2 WHERE id = $1) "
    "SELECT id, quote FROM messages "
    "WHERE quote_id = $1 AND quote IS NOT NULL AND id <> $1";
/* $1: a JSON array of {"id": row key, "q": new quote text}. */
static const char SQL_QUOTES_SET[] =
    "UPDATE messages m SET quote = u.q "
    "FROM json_to_recordset($1::json) AS u(id bigint, q text) "
    "WHERE m.id = u.id";
static const char SQL_HISTORY_GROUP[] =
    "SELECT " MESSAGE_COLS " FROM messages "
    "WHERE group_id = $1 AND group_id <> 0 AND id < $2 "
    "ORDER BY id DESC LIMIT $3";
static const char SQL_HISTORY_DM[] =
    "SELECT " MESSAGE_COLS " FROM messages "
    "WHERE dm_id = $1 AND dm_id <> 0 AND id < $2 ORDER BY id DESC LIMIT $3";

/* The chat list: each chat with its unread count and last message (the
 * MESSAGE_COLS of l are NULL when the chat is empty). Columns: group 0..8,
 * unread 9, message 10..31. */
static const char SQL_CHATS_GROUPS[] =
    "SELECT g.id, g.tag, g.username, g.title, g.description, g.public, "
    "g.owner_id, g.member_count, g.created_at, "
    "(SELECT count(*) FROM messages u WHERE u.group_id = g.id "
    "AND u.group_id <> 0 AND u.id > m.last_read AND u.sender_id <> $1 AND u.deleted = 0), l.* "
    "FROM members m JOIN groups g ON g.id = m.group_id "
    "LEFT JOIN LATERAL (SELECT " MESSAGE_COLS " FROM messages "
    "WHERE group_id = g.id AND group_id <> 0 ORDER BY id DESC LIMIT 1) l "
    "ON true "
    "WHERE m.account_id = $1";
/* Columns: dm id 0, unread 1, peer 2..14 (NULL when the peer is gone),
 * message 15..36. */
static const char SQL_CHATS_DMS[] =
    "SELECT d.id, "
    "(SELECT count(*) FROM messages u WHERE u.dm_id = d.id "
    "AND u.dm_id <> 0 AND u.id > CASE WHEN d.lo = $1 THEN d.lo_read ELSE d.hi_read END "
    "AND u.sender_id <> $1 AND u.deleted = 0), p.*, l.* "
    "FROM dms d "
    "LEFT JOIN LATERAL (SELECT " ACCOUNT_COLS " FROM accounts "
    "WHERE id = CASE WHEN d.lo = $1 THEN d.hi ELSE d.lo END) p ON true "
    "LEFT JOIN LATERAL (SELECT " MESSAGE_COLS " FROM messages "
    "WHERE dm_id = d.id AND dm_id <> 0 ORDER BY id DESC LIMIT 1) l ON true "
    "WHERE d.lo = $1 OR d.hi = $1";
#define CHATS_GROUP_UNREAD 9
#define CHATS_GROUP_LAST 10
#define CHATS_DM_UNREAD 1
#define CHATS_DM_PEER 2
#define CHATS_DM_LAST (CHATS_DM_PEER + ACCOUNT_NCOLS)
static const char SQL_MARK_READ_GROUP[] =
    "UPDATE members SET last_read = GREATEST(last_read, $3) "
    "WHERE group_id = $1 AND account_id = $2";
static const char SQL_MARK_READ_DM[] =
    "UPDATE dms SET lo_read = CASE WHEN lo = $2 THEN GREATEST(lo_read, $3) "
    "ELSE lo_read END, hi_read = CASE WHEN hi = $2 THEN GREATEST(hi_read, $3) "
    "ELSE hi_read END WHERE id = $1";

/* Held until the transaction ends: a request with the same key on another
 * node waits here, then reads what the first one stored. */
static const char SQL_IDEM_LOCK[] =
    "SELECT pg_advisory_xact_lock("
    "hashtextextended($1::text || ':' || $2::text, 0))";
static const char SQL_IDEM_GET[] =
    "SELECT request_hash, response FROM idempotency "
    "WHERE caller_id = $1 AND key = $2 AND created_at > $3";
static const char SQL_IDEM_PUT[] =
    "INSERT INTO idempotency(caller_id, key, request_hash, response, "
    "created_at) VALUES($1, $2, $3, $4, $5) "
    "ON CONFLICT (caller_id, key) DO UPDATE SET "
    "request_hash = EXCLUDED.request_hash, response = EXCLUDED.response, "
    "created_at = EXCLUDED.created_at";

static const char SQL_GROUP_BOTS[] =
    "SELECT " ACCOUNT_COLS " FROM members m JOIN accounts a "
    "ON a.id = m.account_id WHERE m.group_id = $1 AND a.is_bot = 1 "
    "ORDER BY a.id";

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* ASCII lower case of s[0..len) into out[0..len], NUL-terminated: what
 * SQLite's lower() does, so that username_lc means the same in both
 * stores (PostgreSQL's lower() follows the locale). */
static void chat__lower(char *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    out[i] = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
  out[len] = '\0';
}

/* Runs a query of at most one row: the result (the caller clears it) with
 * *rc BINK_OK, or NULL with *rc BINK_ENOTFOUND (no row) or the failure. */
static PGresult *chat__row(store_conn *c, const char *sql, int n,
                           const char *const *params, bink_rc *rc) {
  PGresult *r = pg__run(c, sql, n, params, rc);
  if (r && PQntuples(r) == 0) {
    PQclear(r);
    *rc = BINK_ENOTFOUND;
    return NULL;
  }
  return r;
}

/* ---------------------------------------------------------------------- */
/* Accounts                                                                */

static void chat__load_account(const PGresult *r, int row, int base,
                               bink_account *a) {
  memset(a, 0, sizeof *a);
  a->id = pg__i64(r, row, base + 0);
  pg__copy(r, row, base + 1, a->tag, sizeof a->tag);
  a->is_bot = pg__i64(r, row, base + 2) != 0;
  pg__copy(r, row, base + 3, a->username, sizeof a->username);
  pg__copy(r, row, base + 4, a->display_name, sizeof a->display_name);
  pg__copy(r, row, base + 5, a->description, sizeof a->description);
  a->created_at = pg__i64(r, row, base + 6);
  a->owner_id = pg__i64(r, row, base + 7);
  a->privacy_mode = pg__i64(r, row, base + 8) != 0;
  a->can_join_groups = pg__i64(r, row, base + 9) != 0;
  pg__copy(r, row, base + 10, a->webhook_url, sizeof a->webhook_url);
  pg__copy(r, row, base + 11, a->webhook_secret, sizeof a->webhook_secret);
  a->max_connections = (int)pg__i64(r, row, base + 12);
  bink_id_format(a->ext_id, a->is_bot ? BINK_ID_BOT : BINK_ID_USER, a->id,
                 a->tag);
}

/* Runs a single-row account query into out. */
static bink_rc chat__account_row(store_conn *c, const char *sql, int n,
                                 const char *const *params, bink_account *out) {
  bink_rc rc;
  PGresult *r = chat__row(c, sql, n, params, &rc);
  if (!r)
    return rc;
  chat__load_account(r, 0, 0, out);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_account_insert(store_conn *c, bink_account *a,
                          const unsigned char token_hash[BINK_SHA256_LEN]) {
  if (bink_id_new_tag(a->tag) != BINK_OK)
    return BINK_EINTERNAL;
  char lc[sizeof a->username];
  chat__lower(lc, a->username, strnlen(a->username, sizeof lc - 1));
  char hash[2 * BINK_SHA256_LEN + 3];
  pg__num n[6];
  const char *p[] = {a->tag,
                     pg__i(&n[0], a->is_bot),
                     a->username,
                     lc,
                     a->display_name,
                     a->description,
                     pg__hex(hash, token_hash, BINK_SHA256_LEN),
                     pg__i(&n[1], a->created_at),
                     pg__i(&n[2], a->owner_id),
                     pg__i(&n[3], a->privacy_mode),
                     pg__i(&n[4], a->can_join_groups),
                     a->webhook_url,
                     a->webhook_secret,
                     pg__i(&n[5], a->max_connections)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_ACCOUNT_INSERT, 14, p, &rc);
  if (!r)
    return rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc;
  a->id = pg__i64(r, 0, 0);
  PQclear(r);
  bink_id_format(a->ext_id, a->is_bot ? BINK_ID_BOT : BINK_ID_USER, a->id,
                 a->tag);
  return BINK_OK;
}

bink_rc pg_account_get(store_conn *c, int64_t id, bink_account *out) {
  pg__num n;
  const char *p[] = {pg__i(&n, id)};
  return chat__account_row(c, SQL_ACCOUNT_GET, 1, p, out);
}

bink_rc pg_account_get_ext(store_conn *c, const char *ext, size_t len,
                           bink_account *out) {
  bink_id_kind kind;
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse(ext, len, &kind, &n, tag) ||
      (kind != BINK_ID_USER && kind != BINK_ID_BOT))
    return BINK_ENOTFOUND;
  bink_rc r = pg_account_get(c, n, out);
  if (r == BINK_OK &&
      (strcmp(out->tag, tag) != 0 || out->is_bot != (kind == BINK_ID_BOT)))
    r = BINK_ENOTFOUND;
  return r;
}

bink_rc pg_account_by_username(store_conn *c, const char *username, size_t len,
                               bink_account *out) {
  /* Stored names are UTF-8 without NUL, so nothing else can match (and
   * PostgreSQL would refuse such text instead of finding no row). */
  if (!bink_utf8_valid(username, len))
    return BINK_ENOTFOUND;
  char *lc = malloc(len + 1);
  if (!lc)
    return BINK_EUNAVAIL;
  chat__lower(lc, username, len);
  const char *p[] = {lc};
  bink_rc r = chat__account_row(c, SQL_ACCOUNT_BY_USERNAME, 1, p, out);
  free(lc);
  return r;
}

bink_rc pg_account_by_token(store_conn *c,
                            const unsigned char hash[BINK_SHA256_LEN],
                            bink_account *out) {
  char hex[2 * BINK_SHA256_LEN + 3];
  const char *p[] = {pg__hex(hex, hash, BINK_SHA256_LEN)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_ACCOUNT_BY_TOKEN, 1, p, &rc);
  if (!r)
    return rc;
  /* The index found the row; compare the digest in constant time too. */
  unsigned char stored[BINK_SHA256_LEN];
  rc = BINK_ENOTFOUND;
  if (pg__bytes(r, 0, ACCOUNT_NCOLS, stored, sizeof stored) &&
      bink_digest_equal(stored, hash)) {
    chat__load_account(r, 0, 0, out);
    rc = BINK_OK;
  }
  PQclear(r);
  return rc;
}

bink_rc pg_account_update(store_conn *c, const bink_account *a) {
  pg__num n[4];
  const char *p[] = {pg__i(&n[0], a->id),
                     a->display_name,
                     a->description,
                     pg__i(&n[1], a->privacy_mode),
                     pg__i(&n[2], a->can_join_groups),
                     a->webhook_url,
                     a->webhook_secret,
                     pg__i(&n[3], a->max_connections)};
  pg_wake(c, STORE_WAKE_ACCOUNT(a->id));
  return pg__cmd(c, SQL_ACCOUNT_UPDATE, 8, p, NULL);
}

bink_rc pg_account_set_token(store_conn *c, int64_t id,
                             const unsigned char hash[BINK_SHA256_LEN]) {
  pg__num n;
  char hex[2 * BINK_SHA256_LEN + 3];
  const char *p[] = {pg__i(&n, id), pg__hex(hex, hash, BINK_SHA256_LEN)};
  pg_wake(c, STORE_WAKE_ACCOUNT(id));
  return pg__cmd(c, SQL_ACCOUNT_SET_TOKEN, 2, p, NULL);
}

bink_rc pg_bots_of_owner(store_conn *c, int64_t owner_id,
                         json_t *(*render)(const bink_account *),
                         json_t *out_array) {
  pg__num n;
  const char *p[] = {pg__i(&n, owner_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_BOTS_OF_OWNER, 1, p, &rc);
  if (!r)
    return rc;
  bink_account a;
  for (int i = 0; i < PQntuples(r); i++) {
    chat__load_account(r, i, 0, &a);
    json_array_append_new(out_array, render(&a));
  }
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_commands_get(store_conn *c, int64_t bot_id, char **json_text) {
  *json_text = NULL;
  pg__num n;
  const char *p[] = {pg__i(&n, bot_id)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_COMMANDS_GET, 1, p, &rc);
  if (!r)
    return rc;
  *json_text = pg__dup(r, 0, 0, false);
  PQclear(r);
  return *json_text ? BINK_OK : BINK_EUNAVAIL;
}

bink_rc pg_commands_set(store_conn *c, int64_t bot_id, const char *json_text) {
  pg__num n;
  const char *p[] = {pg__i(&n, bot_id), json_text};
  return pg__cmd(c, SQL_COMMANDS_SET, 2, p, NULL);
}

/* ---------------------------------------------------------------------- */
/* Groups and members                                                      */

static void chat__load_group(const PGresult *r, int row, bink_group *g) {
  memset(g, 0, sizeof *g);
  g->id = pg__i64(r, row, 0);
  pg__copy(r, row, 1, g->tag, sizeof g->tag);
  pg__copy(r, row, 2, g->username, sizeof g->username);
  pg__copy(r, row, 3, g->title, sizeof g->title);
  pg__copy(r, row, 4, g->description, sizeof g->description);
  g->is_public = pg__i64(r, row, 5) != 0;
  g->owner_id = pg__i64(r, row, 6);
  g->member_count = pg__i64(r, row, 7);
  g->created_at = pg__i64(r, row, 8);
  bink_id_format(g->ext_id, BINK_ID_GROUP, g->id, g->tag);
}

static bink_rc chat__group_row(store_conn *c, const char *sql,
                               const char *param, bink_group *out) {
  const char *p[] = {param};
  bink_rc rc;
  PGresult *r = chat__row(c, sql, 1, p, &rc);
  if (!r)
    return rc;
  chat__load_group(r, 0, out);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_group_insert(store_conn *c, bink_group *g) {
  if (bink_id_new_tag(g->tag) != BINK_OK)
    return BINK_EINTERNAL;
  /* username_lc is NULL for groups without a username (UNIQUE allows many
   * NULLs). */
  char lc[sizeof g->username];
  chat__lower(lc, g->username, strnlen(g->username, sizeof lc - 1));
  pg__num n[3];
  const char *p[] = {g->tag,
                     g->username,
                     lc[0] ? lc : NULL,
                     g->title,
                     g->description,
                     pg__i(&n[0], g->is_public),
                     pg__i(&n[1], g->owner_id),
                     pg__i(&n[2], g->created_at)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_GROUP_INSERT, 8, p, &rc);
  if (!r)
    return rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc;
  g->id = pg__i64(r, 0, 0);
  PQclear(r);
  g->member_count = 0;
  bink_id_format(g->ext_id, BINK_ID_GROUP, g->id, g->tag);
  return BINK_OK;
}

bink_rc pg_group_get(store_conn *c, int64_t id, bink_group *out) {
  pg__num n;
  return chat__group_row(c, SQL_GROUP_GET, pg__i(&n, id), out);
}

bink_rc pg_group_get_ext(store_conn *c, const char *ext, size_t len,
                         bink_group *out) {
  int64_t n;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_GROUP, &n, tag))
    return BINK_ENOTFOUND;
  bink_rc r = pg_group_get(c, n, out);
  if (r == BINK_OK && strcmp(out->tag, tag) != 0)
    r = BINK_ENOTFOUND;
  return r;
}

void pg__looks_forget(store_conn *c) { c->nlooks = 0; }

void pg__ids_forget(store_conn *c) { c->nids = c->ids_used = 0; }

/* The kept look-up of group `id` by account_id, or NULL. */
static const pg__look *chat__look_find(const store_conn *c, int64_t id,
                                       int64_t account_id) {
  for (size_t i = 0; i < c->nlooks; i++)
    if (c->looks[i].g.id == id && c->looks[i].account_id == account_id)
      return &c->looks[i];
  return NULL;
}

/* Keeps a look-up for the rest of the batch (when there is room). */
static void chat__look_keep(store_conn *c, const bink_group *g,
                            const bink_member *m) {
  if (!c->looks && !(c->looks = malloc(PG__LOOKS * sizeof *c->looks)))
    return;
  if (c->nlooks == PG__LOOKS)
    return;
  pg__look *k = &c->looks[c->nlooks++];
  k->account_id = m->account_id;
  k->g = *g;
  k->m = *m;
}

/* Keeps the ids in column 12 of r's rows, ascending (writer). */
static void chat__ids_keep(store_conn *c, const PGresult *r) {
  int n = PQntuples(r);
  int64_t *ids = realloc(c->ids, (size_t)n * sizeof *ids);
  if (!ids)
    return; /* inserts then draw their own */
  c->ids = ids;
  c->nids = c->ids_used = 0;
  for (int i = 0; i < n; i++) {
    int64_t v = pg__i64(r, i, 12);
    size_t at = c->nids++;
    for (; at > 0 && ids[at - 1] > v; at--)
      ids[at] = ids[at - 1];
    ids[at] = v;
  }
}

bink_rc pg_group_member_get_ext(store_conn *c, const char *ext, size_t len,
                                int64_t account_id, bink_group *g,
                                bink_member *m) {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_GROUP, &id, tag))
    return BINK_ENOTFOUND;
  const pg__look *k = c->writer ? chat__look_find(c, id, account_id) : NULL;
  if (k) {
    *g = k->g;
    *m = k->m;
    return strcmp(g->tag, tag) == 0 ? BINK_OK : BINK_ENOTFOUND;
  }
  /* A writer draws ids when none are left: one per job to come. */
  size_t draw = 0;
  if (c->writer && c->ids_used == c->nids)
    draw = c->jobs_left ? c->jobs_left : 1;
  pg__num n[3];
  const char *p[] = {pg__i(&n[0], id), pg__i(&n[1], account_id),
                     pg__i(&n[2], (int64_t)draw)};
  bink_rc rc;
  c->neutral = c->writer;
  PGresult *r = chat__row(c, draw ? SQL_GROUP_MEMBER_GET_DRAW
                                  : SQL_GROUP_MEMBER_GET,
                          draw ? 3 : 2, p, &rc);
  if (!r)
    return rc;
  if (draw)
    chat__ids_keep(c, r);
  chat__load_group(r, 0, g);
  memset(m, 0, sizeof *m);
  m->group_id = g->id;
  m->account_id = account_id;
  m->role = BINK_ROLE_NONE;
  m->muted_until = -1;
  if (!pg__null(r, 0, 9)) {
    m->role = (bink_role)pg__i64(r, 0, 9);
    m->muted_until = pg__i64(r, 0, 10);
    m->joined_at = pg__i64(r, 0, 11);
  }
  PQclear(r);
  if (c->writer)
    chat__look_keep(c, g, m);
  return strcmp(g->tag, tag) == 0 ? BINK_OK : BINK_ENOTFOUND;
}

bink_rc pg_group_by_username(store_conn *c, const char *username, size_t len,
                             bink_group *out) {
  /* As pg_account_by_username. */
  if (!bink_utf8_valid(username, len))
    return BINK_ENOTFOUND;
  char *lc = malloc(len + 1);
  if (!lc)
    return BINK_EUNAVAIL;
  chat__lower(lc, username, len);
  bink_rc r = chat__group_row(c, SQL_GROUP_BY_USERNAME, lc, out);
  free(lc);
  return r;
}

bink_rc pg_member_get(store_conn *c, int64_t group_id, int64_t account_id,
                      bink_member *out) {
  memset(out, 0, sizeof *out);
  out->group_id = group_id;
  out->account_id = account_id;
  out->role = BINK_ROLE_NONE;
  out->muted_until = -1;
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], group_id), pg__i(&n[1], account_id)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_MEMBER_GET, 2, p, &rc);
  if (!r)
    return rc;
  out->role = (bink_role)pg__i64(r, 0, 0);
  out->muted_until = pg__i64(r, 0, 1);
  out->joined_at = pg__i64(r, 0, 2);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_member_insert(store_conn *c, const bink_member *m) {
  pg__num n[5];
  const char *p[] = {pg__i(&n[0], m->group_id), pg__i(&n[1], m->account_id),
                     pg__i(&n[2], (int64_t)m->role),
                     pg__i(&n[3], m->muted_until), pg__i(&n[4], m->joined_at)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_MEMBER_INSERT, 5, p, &rc);
  if (!r)
    return rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc;
  /* ON CONFLICT DO NOTHING reports an existing membership without
   * aborting the transaction, as a failed INSERT would. */
  rc = pg__i64(r, 0, 0) > 0 ? BINK_OK : BINK_ECONFLICT;
  PQclear(r);
  return rc;
}

bink_rc pg_member_delete(store_conn *c, int64_t group_id, int64_t account_id) {
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], group_id), pg__i(&n[1], account_id)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_MEMBER_DELETE, 2, p, &rc);
  if (!r)
    return rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc;
  rc = pg__i64(r, 0, 0) > 0 ? BINK_OK : BINK_ENOTFOUND;
  PQclear(r);
  return rc;
}

static bink_rc chat__member_update(store_conn *c, const char *sql,
                                   int64_t group_id, int64_t account_id,
                                   int64_t value) {
  pg__num n[3];
  const char *p[] = {pg__i(&n[0], group_id), pg__i(&n[1], account_id),
                     pg__i(&n[2], value)};
  int64_t changed = 0;
  bink_rc rc = pg__cmd(c, sql, 3, p, &changed);
  if (rc == BINK_OK && changed == 0)
    rc = BINK_ENOTFOUND;
  return rc;
}

bink_rc pg_member_set_role(store_conn *c, int64_t group_id, int64_t account_id,
                           bink_role role) {
  return chat__member_update(c, SQL_MEMBER_SET_ROLE, group_id, account_id,
                             (int64_t)role);
}

bink_rc pg_member_set_mute(store_conn *c, int64_t group_id, int64_t account_id,
                           int64_t muted_until) {
  return chat__member_update(c, SQL_MEMBER_SET_MUTE, group_id, account_id,
                             muted_until);
}

bink_rc pg_members_list(store_conn *c, int64_t group_id,
                        json_t *(*render)(const bink_account *,
                                          const bink_member *),
                        json_t *out_array) {
  pg__num n;
  const char *p[] = {pg__i(&n, group_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_MEMBERS_LIST, 1, p, &rc);
  if (!r)
    return rc;
  bink_account a;
  bink_member m;
  for (int i = 0; i < PQntuples(r); i++) {
    memset(&m, 0, sizeof m);
    m.group_id = group_id;
    m.role = (bink_role)pg__i64(r, i, 0);
    m.muted_until = pg__i64(r, i, 1);
    m.joined_at = pg__i64(r, i, 2);
    chat__load_account(r, i, 3, &a);
    m.account_id = a.id;
    json_array_append_new(out_array, render(&a, &m));
  }
  PQclear(r);
  return BINK_OK;
}

/* ---------------------------------------------------------------------- */
/* Private chats                                                           */

static void chat__load_dm(const PGresult *r, int row, bink_dm *out) {
  out->id = pg__i64(r, row, 0);
  out->lo = pg__i64(r, row, 1);
  out->hi = pg__i64(r, row, 2);
  out->lo_wrote = pg__i64(r, row, 3) != 0;
  out->hi_wrote = pg__i64(r, row, 4) != 0;
  out->lo_blocked = pg__i64(r, row, 5) != 0;
  out->hi_blocked = pg__i64(r, row, 6) != 0;
  out->created_at = pg__i64(r, row, 7);
}

static bink_rc chat__dm_row(store_conn *c, const char *sql, int n,
                            const char *const *params, bink_dm *out) {
  bink_rc rc;
  PGresult *r = chat__row(c, sql, n, params, &rc);
  if (!r)
    return rc;
  chat__load_dm(r, 0, out);
  PQclear(r);
  return BINK_OK;
}

/* The chat of a and b through sql (SQL_DM_GET or SQL_DM_GET_LOCKED). */
static bink_rc chat__dm_pair(store_conn *c, const char *sql, int64_t a,
                             int64_t b, bink_dm *out) {
  memset(out, 0, sizeof *out);
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], a < b ? a : b), pg__i(&n[1], a < b ? b : a)};
  return chat__dm_row(c, sql, 2, p, out);
}

bink_rc pg_dm_get(store_conn *c, int64_t a, int64_t b, bink_dm *out) {
  return chat__dm_pair(c, SQL_DM_GET, a, b, out);
}

bink_rc pg_dm_get_id(store_conn *c, int64_t id, bink_dm *out) {
  memset(out, 0, sizeof *out);
  pg__num n;
  const char *p[] = {pg__i(&n, id)};
  return chat__dm_row(c, SQL_DM_GET_ID, 1, p, out);
}

bink_rc pg_dm_open(store_conn *c, int64_t a, int64_t b, int64_t now,
                   bink_dm *out) {
  /* The caller may update the chat next (store_dm_update): a writer locks
   * it. Usually it exists: one statement. */
  const char *get = c->writer ? SQL_DM_GET_LOCKED : SQL_DM_GET;
  bink_rc r = chat__dm_pair(c, get, a, b, out);
  if (r != BINK_ENOTFOUND)
    return r;
  pg__num n[3];
  const char *p[] = {pg__i(&n[0], a < b ? a : b), pg__i(&n[1], a < b ? b : a),
                     pg__i(&n[2], now)};
  r = chat__dm_row(c, SQL_DM_INSERT, 3, p, out);
  /* No row: another transaction created it and has committed (the INSERT
   * waited for it); this new statement sees it. */
  return r == BINK_ENOTFOUND ? chat__dm_pair(c, get, a, b, out) : r;
}

bink_rc pg_dm_update(store_conn *c, const bink_dm *d) {
  pg__num n[5];
  const char *p[] = {pg__i(&n[0], d->id), pg__i(&n[1], d->lo_wrote),
                     pg__i(&n[2], d->hi_wrote), pg__i(&n[3], d->lo_blocked),
                     pg__i(&n[4], d->hi_blocked)};
  return pg__cmd(c, SQL_DM_UPDATE, 5, p, NULL);
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

/* Loads MESSAGE_COLS from column base on; false when memory ran out (the
 * caller still bink_message_clear()s m). */
static bool chat__load_message(const PGresult *r, int row, int base,
                               bink_message *m) {
  memset(m, 0, sizeof *m);
  m->id = pg__i64(r, row, base + 0);
  pg__copy(r, row, base + 1, m->tag, sizeof m->tag);
  m->group_id = pg__i64(r, row, base + 2);
  m->dm_id = pg__i64(r, row, base + 3);
  m->sender_id = pg__i64(r, row, base + 4);
  m->target_id = pg__i64(r, row, base + 5);
  pg__copy(r, row, base + 6, m->group_ext, sizeof m->group_ext);
  pg__copy(r, row, base + 7, m->sender_ext, sizeof m->sender_ext);
  pg__copy(r, row, base + 8, m->target_ext, sizeof m->target_ext);
  m->type = (bink_msg_type)pg__i64(r, row, base + 9);
  m->content = pg__dup(r, row, base + 10, false);
  pg__copy(r, row, base + 11, m->file_ref, sizeof m->file_ref);
  m->extra = pg__dup(r, row, base + 12, true);
  m->attachment = pg__dup(r, row, base + 13, true);
  m->reply_to = pg__i64(r, row, base + 14);
  pg__copy(r, row, base + 15, m->reply_to_ext, sizeof m->reply_to_ext);
  m->quote_id = pg__i64(r, row, base + 16);
  pg__copy(r, row, base + 17, m->quote_ext, sizeof m->quote_ext);
  m->quote = pg__dup(r, row, base + 18, true);
  m->created_at = pg__i64(r, row, base + 19);
  m->edited_at = pg__i64(r, row, base + 20);
  m->deleted = pg__i64(r, row, base + 21) != 0;
  bink_id_format(m->ext_id, BINK_ID_MSG, m->id, m->tag);
  return m->content != NULL;
}

/* ---- Messages kept for the batch's end ----
 * A message whose id was drawn ahead ("The batch's group look-ups") is not
 * inserted at once: its row is kept on the writer connection, and the kept
 * rows go in one INSERT when the batch ends, or before any statement that
 * is not neutral (pg__run), whichever comes first. The neutral ones are the
 * group look-up and those that route a message to the group's bots (the
 * bots, their allowed events, their update_id counters, events and chat
 * heads): they read no messages and write no groups or members. A bot's
 * sendmessage job then takes at most one round trip (its savepoint and the
 * look-up; none when the batch looked the group up already), and its
 * savepoint covers no write (no subtransaction id). A job that fails
 * forgets its rows; rows inserted under its savepoint are inserted again
 * later (store_pg.c). */
static const char SQL_MESSAGES_ADD[] = PG__MESSAGES_ADD("$1");

/* A kept message's row for PG__MESSAGES_ADD: the fields that hold their
 * column's default (0, "", NULL: most of them for a message to a group)
 * are left out, which halves what is printed here and parsed there. */
static json_t *chat__message_row(const bink_message *m) {
  json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:i, s:s, s:I}", "i",
                        (json_int_t)m->id, "t", m->tag, "s",
                        (json_int_t)m->sender_id, "se", m->sender_ext, "ty",
                        (int)m->type, "c", m->content ? m->content : "",
                        "ca", (json_int_t)m->created_at);
  const struct {
    const char *key;
    int64_t v;
  } nums[] = {{"g", m->group_id}, {"d", m->dm_id},    {"tg", m->target_id},
              {"r", m->reply_to}, {"q", m->quote_id}};
  /* nullable: the column is NULL by default, else '' */
  const struct {
    const char *key, *v;
    bool nullable;
  } texts[] = {{"ge", m->group_ext, false},   {"te", m->target_ext, false},
               {"f", m->file_ref, false},     {"x", m->extra, true},
               {"a", m->attachment, true},    {"re", m->reply_to_ext, false},
               {"qe", m->quote_ext, false},   {"qs", m->quote, true}};
  for (size_t i = 0; o && i < sizeof nums / sizeof nums[0]; i++)
    if (nums[i].v && json_object_set_new(o, nums[i].key,
                                         json_integer(nums[i].v)) != 0) {
      json_decref(o);
      o = NULL;
    }
  for (size_t i = 0; o && i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i].v && (texts[i].nullable || texts[i].v[0]) &&
        json_object_set_new(o, texts[i].key, json_string(texts[i].v)) != 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

size_t pg__messages_kept(const store_conn *c) {
  return c->msg_rows ? json_array_size(c->msg_rows) : 0;
}

void pg__messages_truncate(store_conn *c, size_t keep) {
  if (keep == 0 && c->msg_rows)
    json_array_clear(c->msg_rows);
  while (pg__messages_kept(c) > keep)
    json_array_remove(c->msg_rows, json_array_size(c->msg_rows) - 1);
  if (c->msg_flushed > keep)
    c->msg_flushed = keep;
  if (c->msg_flushed_at_sp > keep)
    c->msg_flushed_at_sp = keep;
}

char *pg__messages_text(const store_conn *c) {
  size_t n = pg__messages_kept(c);
  json_t *rows = json_array();
  for (size_t i = c->msg_flushed; rows && i < n; i++)
    if (json_array_append(rows, json_array_get(c->msg_rows, i)) != 0) {
      json_decref(rows);
      rows = NULL;
    }
  char *text = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
  json_decref(rows);
  return text;
}

bool pg__messages_flush(store_conn *c) {
  size_t n = pg__messages_kept(c);
  if (c->msg_flushed >= n)
    return true;
  char *text = pg__messages_text(c);
  if (!text)
    return false;
  /* Not a job's first statement: it runs before the savepoint, if any. */
  bool sp_pending = c->sp_pending;
  c->sp_pending = false;
  c->neutral = true;
  const char *params[] = {text};
  bool ok = pg__cmd(c, SQL_MESSAGES_ADD, 1, params, NULL) == BINK_OK;
  c->sp_pending = sp_pending;
  free(text);
  if (ok)
    c->msg_flushed = n;
  return ok;
}

bink_rc pg_message_insert(store_conn *c, bink_message *m) {
  if (m->tag[0] == '\0' && bink_id_new_tag(m->tag) != BINK_OK)
    return BINK_EINTERNAL;
  if (c->writer && c->ids_used < c->nids) {
    m->id = c->ids[c->ids_used++];
    if (!c->msg_rows && !(c->msg_rows = json_array()))
      return BINK_EINTERNAL;
    json_t *row = chat__message_row(m);
    if (!row || json_array_append_new(c->msg_rows, row) != 0)
      return BINK_EINTERNAL; /* append_new took row, even on failure */
    bink_id_format(m->ext_id, BINK_ID_MSG, m->id, m->tag);
    return BINK_OK;
  }
  pg__num n[9];
  const char *p[] = {m->tag,
                     pg__i(&n[0], m->group_id),
                     pg__i(&n[1], m->dm_id),
                     pg__i(&n[2], m->sender_id),
                     pg__i(&n[3], m->target_id),
                     m->group_ext,
                     m->sender_ext,
                     m->target_ext,
                     pg__i(&n[4], (int64_t)m->type),
                     m->content ? m->content : "",
                     m->file_ref,
                     m->extra,
                     m->attachment,
                     pg__i(&n[5], m->reply_to),
                     m->reply_to_ext,
                     pg__i(&n[6], m->quote_id),
                     m->quote_ext,
                     m->quote,
                     pg__i(&n[7], m->created_at)};
  bink_rc rc;
  PGresult *r = chat__row(c, SQL_MESSAGE_INSERT, 19, p, &rc);
  if (!r)
    return rc == BINK_ENOTFOUND ? BINK_EUNAVAIL : rc;
  m->id = pg__i64(r, 0, 0);
  PQclear(r);
  bink_id_format(m->ext_id, BINK_ID_MSG, m->id, m->tag);
  return BINK_OK;
}

bink_rc pg_message_get_ext(store_conn *c, const char *ext, size_t len,
                           bink_message *out) {
  memset(out, 0, sizeof *out);
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  if (!bink_id_parse_as(ext, len, BINK_ID_MSG, &id, tag))
    return BINK_ENOTFOUND;
  pg__num n;
  const char *p[] = {pg__i(&n, id)};
  bink_rc rc;
  PGresult *r = chat__row(
      c, c->writer ? SQL_MESSAGE_GET_LOCKED : SQL_MESSAGE_GET, 1, p, &rc);
  if (!r)
    return rc;
  if (!chat__load_message(r, 0, 0, out))
    rc = BINK_EUNAVAIL;
  else if (strcmp(out->tag, tag) != 0)
    rc = BINK_ENOTFOUND;
  PQclear(r);
  if (rc != BINK_OK)
    bink_message_clear(out);
  return rc;
}

bink_rc pg_message_update(store_conn *c, const bink_message *m) {
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], m->id), m->content ? m->content : "",
                     m->extra, pg__i(&n[1], m->edited_at)};
  return pg__cmd(c, SQL_MESSAGE_UPDATE, 4, p, NULL);
}

/* Quotes are snapshots: a deleted message's text goes from them too. The
 * SQLite store does this with json_set(quote, '$.content', ''), which
 * keeps the keys in place; jansson (order-preserving, compact, as the
 * snapshot was written) does the same here, where jsonb_set would reorder
 * them. r holds (id, quote) rows. */
static bink_rc chat__scrub_quotes(store_conn *c, const PGresult *r) {
  json_t *rows = json_array();
  if (!rows)
    return BINK_EUNAVAIL;
  bink_rc rc = BINK_OK;
  for (int i = 0; i < PQntuples(r) && rc == BINK_OK; i++) {
    json_t *q = json_loads(PQgetvalue(r, i, 1), JSON_DECODE_ANY, NULL);
    if (!q) {
      /* json_set fails on malformed JSON: so does the tombstone. */
      binkd_log(BINKD_LOG_ERROR, "database: message %s: malformed quote",
                PQgetvalue(r, i, 0));
      rc = BINK_EUNAVAIL;
      break;
    }
    /* json_set leaves anything but an object as it is. */
    bool object = json_is_object(q);
    char *text = NULL;
    if (object && json_object_set_new(q, "content", json_string("")) == 0)
      text = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    if (!object)
      continue;
    json_t *row = text ? json_pack("{s:I, s:s}", "id",
                                   (json_int_t)pg__i64(r, i, 0), "q", text)
                       : NULL;
    free(text);
    if (!row || json_array_append_new(rows, row) != 0)
      rc = BINK_EUNAVAIL;
  }
  char *arg = NULL;
  if (rc == BINK_OK && json_array_size(rows) > 0 &&
      !(arg = json_dumps(rows, JSON_COMPACT)))
    rc = BINK_EUNAVAIL;
  json_decref(rows);
  if (!arg)
    return rc;
  const char *p[] = {arg};
  rc = pg__cmd(c, SQL_QUOTES_SET, 1, p, NULL);
  free(arg);
  return rc;
}

bink_rc pg_message_tombstone(store_conn *c, int64_t id, int64_t now) {
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], id), pg__i(&n[1], now)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_MESSAGE_TOMBSTONE, 2, p, &rc);
  if (!r)
    return rc;
  rc = PQntuples(r) ? chat__scrub_quotes(c, r) : BINK_OK;
  PQclear(r);
  return rc;
}

bink_rc pg_history(store_conn *c, int64_t group_id, int64_t dm_id,
                   int64_t before, int limit,
                   json_t *(*render)(const bink_message *), json_t *out_array,
                   bool *more) {
  *more = false;
  if (group_id <= 0 && dm_id <= 0)
    return BINK_ENOTFOUND;
  if (limit < 1 || limit > 1000)
    limit = limit < 1 ? 1 : 1000;
  pg__num n[3];
  const char *p[] = {pg__i(&n[0], group_id > 0 ? group_id : dm_id),
                     pg__i(&n[1], before > 0 ? before : INT64_MAX),
                     pg__i(&n[2], limit + 1)};
  bink_rc rc;
  PGresult *r =
      pg__run(c, group_id > 0 ? SQL_HISTORY_GROUP : SQL_HISTORY_DM, 3, p, &rc);
  if (!r)
    return rc;
  int rows = PQntuples(r);
  bink_message m;
  for (int i = 0; i < rows && i < limit && rc == BINK_OK; i++) {
    if (chat__load_message(r, i, 0, &m))
      json_array_append_new(out_array, render(&m));
    else
      rc = BINK_EUNAVAIL;
    bink_message_clear(&m);
  }
  PQclear(r);
  *more = rc == BINK_OK && rows > limit;
  return rc;
}

static int chat__cmp(const void *pa, const void *pb) {
  const store_chat_row *a = pa, *b = pb;
  int64_t ka = a->last.id, kb = b->last.id;
  return ka < kb ? 1 : ka > kb ? -1 : 0;
}

bink_rc pg_chats(store_conn *c, int64_t account_id,
                 json_t *(*render)(const store_chat_row *), json_t *out_array) {
  pg__num num;
  const char *p[] = {pg__i(&num, account_id)};
  bink_rc rc;
  PGresult *groups = pg__run(c, SQL_CHATS_GROUPS, 1, p, &rc);
  if (!groups)
    return rc;
  PGresult *dms = pg__run(c, SQL_CHATS_DMS, 1, p, &rc);
  if (!dms) {
    PQclear(groups);
    return rc;
  }
  int ng = PQntuples(groups), nd = PQntuples(dms);
  size_t n = 0;
  store_chat_row *rows = calloc((size_t)ng + (size_t)nd + 1, sizeof *rows);
  if (!rows)
    rc = BINK_EUNAVAIL;
  for (int i = 0; i < ng && rc == BINK_OK; i++) {
    store_chat_row *row = &rows[n++];
    row->is_group = true;
    chat__load_group(groups, i, &row->group);
    row->unread = pg__i64(groups, i, CHATS_GROUP_UNREAD);
    if (!pg__null(groups, i, CHATS_GROUP_LAST) &&
        !chat__load_message(groups, i, CHATS_GROUP_LAST, &row->last))
      rc = BINK_EUNAVAIL;
  }
  for (int i = 0; i < nd && rc == BINK_OK; i++) {
    if (pg__null(dms, i, CHATS_DM_PEER)) {
      rc = BINK_ENOTFOUND; /* as the SQLite store's account lookup */
      break;
    }
    store_chat_row *row = &rows[n++];
    chat__load_account(dms, i, CHATS_DM_PEER, &row->peer);
    row->unread = pg__i64(dms, i, CHATS_DM_UNREAD);
    if (!pg__null(dms, i, CHATS_DM_LAST) &&
        !chat__load_message(dms, i, CHATS_DM_LAST, &row->last))
      rc = BINK_EUNAVAIL;
  }
  PQclear(groups);
  PQclear(dms);
  if (rc == BINK_OK) {
    qsort(rows, n, sizeof *rows, chat__cmp);
    for (size_t i = 0; i < n; i++)
      json_array_append_new(out_array, render(&rows[i]));
  }
  for (size_t i = 0; i < n; i++)
    bink_message_clear(&rows[i].last);
  free(rows);
  return rc;
}

bink_rc pg_mark_read(store_conn *c, int64_t account_id, int64_t group_id,
                     int64_t dm_id, int64_t upto) {
  pg__num n[3];
  const char *p[] = {pg__i(&n[0], group_id > 0 ? group_id : dm_id),
                     pg__i(&n[1], account_id), pg__i(&n[2], upto)};
  return pg__cmd(c, group_id > 0 ? SQL_MARK_READ_GROUP : SQL_MARK_READ_DM, 3, p,
                 NULL);
}

/* ---------------------------------------------------------------------- */
/* Idempotency                                                             */

bink_rc pg_idem_get(store_conn *c, int64_t caller_id, const char *key,
                    int64_t now, int64_t max_age,
                    unsigned char hash[BINK_SHA256_LEN], char **response) {
  *response = NULL;
  pg__num n[2];
  const char *p[] = {pg__i(&n[0], caller_id), key, pg__i(&n[1], now - max_age)};
  /* The lock first, then the read in a statement of its own: its snapshot
   * is taken after the wait, so it sees what the holder committed. */
  bink_rc rc = pg__cmd(c, SQL_IDEM_LOCK, 2, p, NULL);
  if (rc != BINK_OK)
    return rc;
  PGresult *r = chat__row(c, SQL_IDEM_GET, 3, p, &rc);
  if (!r)
    return rc;
  unsigned char stored[BINK_SHA256_LEN];
  if (pg__bytes(r, 0, 0, stored, sizeof stored))
    memcpy(hash, stored, sizeof stored);
  *response = pg__dup(r, 0, 1, false);
  PQclear(r);
  return *response ? BINK_OK : BINK_EUNAVAIL;
}

bink_rc pg_idem_put(store_conn *c, int64_t caller_id, const char *key,
                    const unsigned char hash[BINK_SHA256_LEN],
                    const char *response, int64_t now) {
  pg__num n[2];
  char hex[2 * BINK_SHA256_LEN + 3];
  const char *p[] = {pg__i(&n[0], caller_id), key,
                     pg__hex(hex, hash, BINK_SHA256_LEN), response,
                     pg__i(&n[1], now)};
  return pg__cmd(c, SQL_IDEM_PUT, 5, p, NULL);
}

/* ---------------------------------------------------------------------- */
/* Event routing                                                           */

bink_rc pg_group_bots(store_conn *c, int64_t group_id,
                      bink_rc (*fn)(void *arg, const bink_account *bot),
                      void *arg) {
  pg__num n;
  const char *p[] = {pg__i(&n, group_id)};
  bink_rc rc;
  c->neutral = true; /* kept messages may wait (see above) */
  PGresult *r = pg__run(c, SQL_GROUP_BOTS, 1, p, &rc);
  if (!r)
    return rc;
  /* The result is the client's own copy: fn may write (events) through
   * this same connection meanwhile. */
  bink_account bot;
  for (int i = 0; i < PQntuples(r) && rc == BINK_OK; i++) {
    chat__load_account(r, i, 0, &bot);
    rc = fn(arg, &bot);
  }
  PQclear(r);
  return rc;
}
