/*
 * sqlite_schema.c: the SQLite schema as numbered migrations. Element i
 * brings PRAGMA user_version from i to i + 1; append, never edit.
 */
#include "store/sqlite_int.h"

/* ---------------------------------------------------------------------- */
/* Schema migrations: element i brings user_version from i to i + 1.       */

const char *const store__migrations[] = {
    /* 1: accounts, groups, members, private chats, messages, idempotency */
    "CREATE TABLE accounts("
    " id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL,"
    " is_bot INTEGER NOT NULL,"
    " username TEXT NOT NULL,"
    " username_lc TEXT NOT NULL UNIQUE,"
    " display_name TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " token_hash BLOB NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " owner_id INTEGER NOT NULL DEFAULT 0,"
    " privacy_mode INTEGER NOT NULL DEFAULT 1,"
    " can_join_groups INTEGER NOT NULL DEFAULT 1,"
    " webhook_url TEXT NOT NULL DEFAULT '',"
    " webhook_secret TEXT NOT NULL DEFAULT '',"
    " max_connections INTEGER NOT NULL DEFAULT 40,"
    " commands TEXT NOT NULL DEFAULT '[]');"
    "CREATE INDEX accounts_owner ON accounts(owner_id);"
    "CREATE TABLE groups("
    " id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL,"
    " username TEXT NOT NULL DEFAULT '',"
    " username_lc TEXT UNIQUE,"
    " title TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '',"
    " public INTEGER NOT NULL DEFAULT 0,"
    " owner_id INTEGER NOT NULL,"
    " member_count INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE members("
    " group_id INTEGER NOT NULL,"
    " account_id INTEGER NOT NULL,"
    " role INTEGER NOT NULL,"
    " muted_until INTEGER NOT NULL DEFAULT -1,"
    " joined_at INTEGER NOT NULL,"
    " last_read INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(group_id, account_id)) WITHOUT ROWID;"
    "CREATE INDEX members_account ON members(account_id);"
    "CREATE TABLE dms("
    " id INTEGER PRIMARY KEY,"
    " lo INTEGER NOT NULL,"
    " hi INTEGER NOT NULL,"
    " lo_wrote INTEGER NOT NULL DEFAULT 0,"
    " hi_wrote INTEGER NOT NULL DEFAULT 0,"
    " lo_blocked INTEGER NOT NULL DEFAULT 0,"
    " hi_blocked INTEGER NOT NULL DEFAULT 0,"
    " lo_read INTEGER NOT NULL DEFAULT 0,"
    " hi_read INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE(lo, hi));"
    "CREATE INDEX dms_hi ON dms(hi);"
    "CREATE TABLE messages("
    " id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL,"
    " group_id INTEGER NOT NULL DEFAULT 0,"
    " dm_id INTEGER NOT NULL DEFAULT 0,"
    " sender_id INTEGER NOT NULL,"
    " target_id INTEGER NOT NULL DEFAULT 0,"
    " group_ext TEXT NOT NULL DEFAULT '',"
    " sender_ext TEXT NOT NULL,"
    " target_ext TEXT NOT NULL DEFAULT '',"
    " type INTEGER NOT NULL,"
    " content TEXT NOT NULL,"
    " file_ref TEXT NOT NULL DEFAULT '',"
    " extra TEXT,"
    " attachment TEXT,"
    " reply_to INTEGER NOT NULL DEFAULT 0,"
    " reply_to_ext TEXT NOT NULL DEFAULT '',"
    " quote_id INTEGER NOT NULL DEFAULT 0,"
    " quote_ext TEXT NOT NULL DEFAULT '',"
    " quote TEXT,"
    " created_at INTEGER NOT NULL,"
    " edited_at INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX messages_group ON messages(group_id, id);"
    "CREATE INDEX messages_dm ON messages(dm_id, id);"
    "CREATE TABLE idempotency("
    " caller_id INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " request_hash BLOB NOT NULL,"
    " response TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY(caller_id, key)) WITHOUT ROWID;",
    /* 2: files (one record per upload; blobs by SHA-256 on disk), the
     * sticker catalogue, and messages found by the file they carry (for the
     * download visibility rule). */
    "CREATE TABLE files("
    " id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL,"
    " owner_id INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mime_type TEXT NOT NULL,"
    " file_name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX files_sha256 ON files(sha256);"
    "CREATE TABLE stickers("
    " id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL,"
    " set_name TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " emoji TEXT NOT NULL,"
    " file_id INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE(set_name, name));"
    "CREATE INDEX messages_file ON messages(file_ref) WHERE file_ref <> '';",
    /* 3: the outbox of bot events with their webhook delivery state, the
     * per-bot update_id counter and event filter, webhook health, and
     * callback queries of inline buttons. */
    "ALTER TABLE accounts ADD COLUMN update_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE accounts ADD COLUMN allowed_events TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE events("
    " bot_id INTEGER NOT NULL,"
    " update_id INTEGER NOT NULL,"
    " chat_key TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0," /* 0 pending 1 delivered 2 dead
                                           3 confirmed 4 dropped */
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL DEFAULT 0," /* ms */
    " http_status INTEGER NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '',"
    " latency_ms INTEGER NOT NULL DEFAULT 0,"
    " last_at INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(bot_id, update_id)) WITHOUT ROWID;"
    "CREATE INDEX events_due ON events(next_at) WHERE state = 0;"
    "CREATE INDEX events_chat ON events(bot_id, chat_key, update_id) "
    "WHERE state = 0;"
    "CREATE TABLE webhook_state("
    " bot_id INTEGER PRIMARY KEY,"
    " last_error_at INTEGER NOT NULL DEFAULT 0,"
    " last_error_msg TEXT NOT NULL DEFAULT '',"
    " last_success_at INTEGER NOT NULL DEFAULT 0,"
    " gone_since INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE callbacks("
    " id INTEGER PRIMARY KEY,"
    " ext_id TEXT NOT NULL UNIQUE,"
    " bot_id INTEGER NOT NULL,"
    " clicker_id INTEGER NOT NULL,"
    " message_id INTEGER NOT NULL,"
    " message_ext TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " answered_at INTEGER NOT NULL DEFAULT 0,"
    " answer TEXT);",
    /* 4: what people's clients are told (app-api.md "Live updates"): one
     * row per chat event, read per user through their memberships, never
     * one row per member. */
    "CREATE TABLE feed("
    " id INTEGER PRIMARY KEY,"
    " group_id INTEGER NOT NULL DEFAULT 0,"
    " dm_id INTEGER NOT NULL DEFAULT 0,"
    " user_id INTEGER NOT NULL DEFAULT 0,"
    " event TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " created_at INTEGER NOT NULL);",
    /* 5: the web sandbox's sign-in sessions (docs/web.md): only the
     * digest of the cookie's token is kept (core/session.h). */
    "CREATE TABLE sessions("
    " id INTEGER PRIMARY KEY,"
    " token_hash BLOB NOT NULL UNIQUE,"
    " account_id INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL);"
    "CREATE INDEX sessions_account ON sessions(account_id);"
    "CREATE INDEX sessions_expires ON sessions(expires_at);",
    /* 6: the webhook dispatcher starts from the bots that have a webhook,
     * so that the pending events of polling bots cost it nothing. */
    "CREATE INDEX accounts_webhook ON accounts(id) WHERE webhook_url <> '';",
    /* 7: the head of each chat's pending events (its oldest), so that the
     * dispatcher reads one row per chat instead of every pending event. */
    "CREATE TABLE chat_heads("
    " bot_id INTEGER NOT NULL,"
    " chat_key TEXT NOT NULL,"
    " update_id INTEGER NOT NULL,"
    " next_at INTEGER NOT NULL,"
    " PRIMARY KEY(bot_id, chat_key)) WITHOUT ROWID;"
    "CREATE INDEX chat_heads_due ON chat_heads(next_at);"
    "INSERT INTO chat_heads SELECT e.bot_id, e.chat_key, e.update_id, "
    "e.next_at FROM events e WHERE e.state = 0 AND e.update_id = "
    "(SELECT min(p.update_id) FROM events p WHERE p.bot_id = e.bot_id "
    "AND p.chat_key = e.chat_key AND p.state = 0);",
    /* 8: a group message has dm_id 0 and a private one group_id 0; the
     * chat indexes held those zeros too, so that every message went into
     * both, and into the middle of the other one (keys (0, id) sort before
     * every real chat's). Now each index holds its own chats only; the
     * queries that use them say "<> 0" so that the planner may. */
    "DROP INDEX messages_group;"
    "CREATE INDEX messages_group ON messages(group_id, id) WHERE group_id <> 0;"
    "DROP INDEX messages_dm;"
    "CREATE INDEX messages_dm ON messages(dm_id, id) WHERE dm_id <> 0;",
};
const int store__migration_count =
    (int)(sizeof store__migrations / sizeof store__migrations[0]);

