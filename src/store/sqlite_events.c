/*
 * sqlite_events.c: the outbox of bot events, their webhook delivery state,
 * and callback queries (store.h, "events" and "callback queries").
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_int.h"

static const char SQL_NEXT_ID[] =
    "UPDATE accounts SET update_seq = update_seq + 1 WHERE id = ?1 "
    "RETURNING update_seq";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO events(bot_id, update_id, chat_key, event_type, body, "
    "created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_ALLOWED_SET[] =
    "UPDATE accounts SET allowed_events = ?2 WHERE id = ?1";
static const char SQL_ALLOWED_GET[] =
    "SELECT allowed_events FROM accounts WHERE id = ?1";
static const char SQL_CONFIRM[] =
    "UPDATE events SET state = 3 WHERE bot_id = ?1 AND state = 0 "
    "AND update_id < ?2";
static const char SQL_PENDING[] =
    "SELECT body FROM events WHERE bot_id = ?1 AND state = 0 "
    "AND update_id >= ?2 ORDER BY update_id LIMIT ?3";
static const char SQL_PENDING_COUNT[] =
    "SELECT count(*) FROM events WHERE bot_id = ?1 AND state = 0";
static const char SQL_PENDING_TOTAL[] =
    "SELECT count(*) FROM events WHERE state = 0";
static const char SQL_DROP[] =
    "UPDATE events SET state = 4 WHERE bot_id = ?1 AND state = 0";
static const char SQL_EXPIRE_DEAD[] =
    "UPDATE events SET state = 2, error = CASE WHEN error = '' THEN "
    "'expired before delivery' ELSE error END WHERE state = 0 "
    "AND created_at < ?1";
static const char SQL_EXPIRE_DELETE[] =
    "DELETE FROM events WHERE state IN (1, 3, 4) AND created_at < ?1";
/* The due heads of chats (chat_heads, kept by the functions below), for
 * bots with a webhook: one row per chat, never the chats' backlogs. */
static const char SQL_DUE[] =
    "SELECT e.bot_id, e.update_id, e.chat_key, e.event_type, e.body, "
    "e.attempts, e.created_at, a.webhook_url, a.webhook_secret, "
    "a.max_connections, a.tag "
    "FROM chat_heads h INDEXED BY chat_heads_due "
    "JOIN accounts a ON a.id = h.bot_id "
    "JOIN events e ON e.bot_id = h.bot_id AND e.update_id = h.update_id "
    "WHERE h.next_at <= ?1 AND a.webhook_url <> '' AND e.state = 0 "
    "ORDER BY h.next_at, h.update_id LIMIT ?2";
/* Head upkeep: a new event becomes its chat's head if the chat had none;
 * after a chat's events change state, its head is looked up again. */
static const char SQL_HEAD_ADD[] =
    "INSERT OR IGNORE INTO chat_heads(bot_id, chat_key, update_id, next_at) "
    "VALUES(?1, ?2, ?3, 0)";
static const char SQL_HEAD_FIND[] =
    "SELECT update_id, next_at FROM events INDEXED BY events_chat "
    "WHERE bot_id = ?1 AND chat_key = ?2 AND state = 0 "
    "ORDER BY update_id LIMIT 1";
static const char SQL_HEAD_SET[] =
    "INSERT OR REPLACE INTO chat_heads(bot_id, chat_key, update_id, next_at) "
    "VALUES(?1, ?2, ?3, ?4)";
static const char SQL_HEAD_DEL[] =
    "DELETE FROM chat_heads WHERE bot_id = ?1 AND chat_key = ?2";
static const char SQL_EVENT_CHAT[] =
    "SELECT chat_key FROM events WHERE bot_id = ?1 AND update_id = ?2";
static const char SQL_HEADS_CLEAR_BOT[] =
    "DELETE FROM chat_heads WHERE bot_id = ?1";
static const char SQL_HEADS_FILL_BOT[] =
    "INSERT INTO chat_heads SELECT e.bot_id, e.chat_key, e.update_id, "
    "e.next_at FROM events e INDEXED BY events_chat "
    "WHERE e.bot_id = ?1 AND e.state = 0 AND e.update_id = "
    "(SELECT min(p.update_id) FROM events p INDEXED BY events_chat "
    "WHERE p.bot_id = e.bot_id AND p.chat_key = e.chat_key AND p.state = 0)";
static const char SQL_HEADS_CLEAR[] = "DELETE FROM chat_heads";
static const char SQL_HEADS_FILL[] =
    "INSERT INTO chat_heads SELECT e.bot_id, e.chat_key, e.update_id, "
    "e.next_at FROM events e WHERE e.state = 0 AND e.update_id = "
    "(SELECT min(p.update_id) FROM events p INDEXED BY events_chat "
    "WHERE p.bot_id = e.bot_id AND p.chat_key = e.chat_key AND p.state = 0)";
/* An attempt's outcome. Only a pending event changes state: one dropped
 * or confirmed while its attempt was on the way stays so. */
static const char SQL_RECORD[] =
    "UPDATE events SET state = CASE WHEN state = 0 THEN ?3 ELSE state END, "
    "attempts = ?4, next_at = ?5, "
    "http_status = ?6, error = ?7, latency_ms = ?8, last_at = ?9 "
    "WHERE bot_id = ?1 AND update_id = ?2";
static const char SQL_HEALTH_OK[] =
    "INSERT INTO webhook_state(bot_id, last_success_at) VALUES(?1, ?2) "
    "ON CONFLICT(bot_id) DO UPDATE SET last_success_at = ?2, gone_since = 0";
static const char SQL_HEALTH_ERR[] =
    "INSERT INTO webhook_state(bot_id, last_error_at, last_error_msg) "
    "VALUES(?1, ?2, ?3) ON CONFLICT(bot_id) DO UPDATE SET "
    "last_error_at = ?2, last_error_msg = ?3";
static const char SQL_HEALTH_GET[] =
    "SELECT last_error_at, last_error_msg, last_success_at, gone_since "
    "FROM webhook_state WHERE bot_id = ?1";
static const char SQL_GONE[] =
    "INSERT INTO webhook_state(bot_id, gone_since) VALUES(?1, ?2) "
    "ON CONFLICT(bot_id) DO UPDATE SET gone_since = ?2";
static const char SQL_LOG[] =
    "SELECT update_id, event_type, attempts, state, http_status, error, "
    "latency_ms, CASE WHEN last_at > 0 THEN last_at ELSE created_at END "
    "FROM events WHERE bot_id = ?1 AND update_id < ?2 "
    "AND (?3 < 0 OR (?3 = 5 AND state = 0 AND attempts > 0) "
    "OR (?3 = 0 AND state = 0 AND attempts = 0) OR (?3 NOT IN (0, 5) AND "
    "state = ?3)) ORDER BY update_id DESC LIMIT ?4";
static const char SQL_REDELIVER[] =
    "UPDATE events SET state = 0, attempts = 0, next_at = 0, error = '' "
    "WHERE bot_id = ?1 AND update_id = ?2";
static const char SQL_CB_INSERT[] =
    "INSERT INTO callbacks(ext_id, bot_id, clicker_id, message_id, "
    "message_ext, data, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_CB_GET[] =
    "SELECT id, ext_id, bot_id, clicker_id, message_id, message_ext, data, "
    "created_at, answered_at, answer FROM callbacks WHERE ext_id = ?1";
static const char SQL_CB_ANSWER[] =
    "UPDATE callbacks SET answered_at = ?2, answer = ?3 WHERE id = ?1 "
    "AND answered_at = 0";

/* Finishes a statement and maps SQLITE_DONE / ROW to BINK_OK. */
static bink_rc events__done(store_conn *c, sqlite3_stmt *st, int rc) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? BINK_OK
                                               : store__fail(c, "events");
}

bink_rc sqlite_event_next_id(store_conn *c, int64_t bot_id,
                            int64_t *update_id) {
  sqlite3_stmt *st = store__stmt(c, SQL_NEXT_ID);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *update_id = sqlite3_column_int64(st, 0);
  /* RETURNING runs the update at the first step; finish it. */
  while (rc == SQLITE_ROW)
    rc = sqlite3_step(st);
  return events__done(c, st, rc);
}

/* Looks the head of one chat up again after its events changed state. */
static bink_rc events__head_refresh(store_conn *c, int64_t bot_id,
                                    const char *chat_key) {
  sqlite3_stmt *st = store__stmt(c, SQL_HEAD_FIND);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_text(st, 2, chat_key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  int64_t head = 0, next_at = 0;
  if (rc == SQLITE_ROW) {
    head = sqlite3_column_int64(st, 0);
    next_at = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return store__fail(c, "chat head");
  st = store__stmt(c, head ? SQL_HEAD_SET : SQL_HEAD_DEL);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_text(st, 2, chat_key, -1, SQLITE_TRANSIENT);
  if (head) {
    sqlite3_bind_int64(st, 3, head);
    sqlite3_bind_int64(st, 4, next_at);
  }
  return store__step_done(c, st);
}

/* The head of the chat of one event, looked up again. */
static bink_rc events__head_refresh_of(store_conn *c, int64_t bot_id,
                                       int64_t update_id) {
  sqlite3_stmt *st = store__stmt(c, SQL_EVENT_CHAT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_int64(st, 2, update_id);
  char chat[32] = "";
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    store__copy_col(st, 0, chat, sizeof chat);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? BINK_OK : store__fail(c, "event chat");
  return events__head_refresh(c, bot_id, chat);
}

/* Rebuilds the heads of one bot (bot_id > 0) or of all bots. */
static bink_rc events__heads_rebuild(store_conn *c, int64_t bot_id) {
  sqlite3_stmt *st =
      store__stmt(c, bot_id > 0 ? SQL_HEADS_CLEAR_BOT : SQL_HEADS_CLEAR);
  if (!st)
    return BINK_EUNAVAIL;
  if (bot_id > 0)
    sqlite3_bind_int64(st, 1, bot_id);
  bink_rc rc = store__step_done(c, st);
  if (rc != BINK_OK)
    return rc;
  if (!(st = store__stmt(c, bot_id > 0 ? SQL_HEADS_FILL_BOT : SQL_HEADS_FILL)))
    return BINK_EUNAVAIL;
  if (bot_id > 0)
    sqlite3_bind_int64(st, 1, bot_id);
  return store__step_done(c, st);
}

bink_rc sqlite_event_insert(store_conn *c, int64_t bot_id, int64_t update_id,
                           const char *chat_key, const char *event_type,
                           const char *body, int64_t now) {
  sqlite3_stmt *st = store__stmt(c, SQL_EVENT_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_int64(st, 2, update_id);
  sqlite3_bind_text(st, 3, chat_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, event_type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now);
  bink_rc rc = store__step_done(c, st);
  if (rc != BINK_OK || !(st = store__stmt(c, SQL_HEAD_ADD)))
    return rc != BINK_OK ? rc : BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_text(st, 2, chat_key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, update_id);
  if ((rc = store__step_done(c, st)) == BINK_OK)
    c->job_events++;
  return rc;
}

bink_rc sqlite_bot_set_allowed_events(store_conn *c, int64_t bot_id,
                                     const char *json_text) {
  sqlite3_stmt *st = store__stmt(c, SQL_ALLOWED_SET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_text(st, 2, json_text, -1, SQLITE_STATIC);
  return store__step_done(c, st);
}

bink_rc sqlite_bot_allowed_events(store_conn *c, int64_t bot_id, char *out,
                                 size_t n) {
  out[0] = '\0';
  sqlite3_stmt *st = store__stmt(c, SQL_ALLOWED_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    store__copy_col(st, 0, out, n);
  return events__done(c, st, rc);
}

static bink_rc events__by_bot(store_conn *c, const char *sql, int64_t bot_id,
                              int64_t arg, bool two) {
  sqlite3_stmt *st = store__stmt(c, sql);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  if (two)
    sqlite3_bind_int64(st, 2, arg);
  return store__step_done(c, st);
}

bink_rc sqlite_events_confirm(store_conn *c, int64_t bot_id, int64_t before) {
  bink_rc rc = events__by_bot(c, SQL_CONFIRM, bot_id, before, true);
  if (rc == BINK_OK && sqlite3_changes(c->db) > 0)
    rc = events__heads_rebuild(c, bot_id);
  return rc;
}

bink_rc sqlite_events_drop(store_conn *c, int64_t bot_id) {
  bink_rc rc = events__by_bot(c, SQL_DROP, bot_id, 0, false);
  return rc == BINK_OK ? events__heads_rebuild(c, bot_id) : rc;
}

bink_rc sqlite_events_pending(store_conn *c, int64_t bot_id, int64_t from,
                             int limit, json_t *out_array) {
  sqlite3_stmt *st = store__stmt(c, SQL_PENDING);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_int64(st, 2, from);
  sqlite3_bind_int(st, 3, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *body = (const char *)sqlite3_column_text(st, 0);
    json_t *ev = body ? json_loads(body, 0, NULL) : NULL;
    if (ev)
      json_array_append_new(out_array, ev);
  }
  return events__done(c, st, rc);
}

bink_rc sqlite_events_pending_count(store_conn *c, int64_t bot_id,
                                   int64_t *n) {
  sqlite3_stmt *st = store__stmt(c, SQL_PENDING_COUNT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  return events__done(c, st, rc);
}

bink_rc sqlite_events_pending_total(store_conn *c, int64_t *n) {
  sqlite3_stmt *st = store__stmt(c, SQL_PENDING_TOTAL);
  if (!st)
    return BINK_EUNAVAIL;
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  return events__done(c, st, rc);
}

bink_rc sqlite_events_expire(store_conn *c, int64_t cutoff) {
  sqlite3_stmt *st = store__stmt(c, SQL_EXPIRE_DEAD);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, cutoff);
  bink_rc rc = store__step_done(c, st);
  if (rc != BINK_OK)
    return rc;
  bool expired = sqlite3_changes(c->db) > 0;
  if (!(st = store__stmt(c, SQL_EXPIRE_DELETE)))
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, cutoff);
  rc = store__step_done(c, st);
  return rc == BINK_OK && expired ? events__heads_rebuild(c, 0) : rc;
}

bink_rc sqlite_deliveries_due(store_conn *c, int64_t now_ms, int64_t lease_ms,
                              int limit,
                              store_due_answer (*fn)(void *arg,
                                                     store_delivery *d),
                              void *arg) {
  (void)lease_ms; /* one node: no leases (store.h) */
  sqlite3_stmt *st = store__stmt(c, SQL_DUE);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, now_ms);
  sqlite3_bind_int(st, 2, limit);
  int rc;
  store_delivery d;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&d, 0, sizeof d);
    d.bot_id = sqlite3_column_int64(st, 0);
    d.update_id = sqlite3_column_int64(st, 1);
    store__copy_col(st, 2, d.chat_key, sizeof d.chat_key);
    store__copy_col(st, 3, d.event_type, sizeof d.event_type);
    d.body = store__dup_col(st, 4, false);
    d.attempts = sqlite3_column_int(st, 5);
    d.created_at = sqlite3_column_int64(st, 6);
    store__copy_col(st, 7, d.url, sizeof d.url);
    store__copy_col(st, 8, d.secret, sizeof d.secret);
    d.max_connections = sqlite3_column_int(st, 9);
    char tag[BINK_ID_TAG_LEN + 1];
    store__copy_col(st, 10, tag, sizeof tag);
    bink_id_format(d.bot_ext, BINK_ID_BOT, d.bot_id, tag);
    if (!d.body)
      continue;
    store_due_answer ans = fn(arg, &d);
    if (ans != STORE_DUE_TAKE)
      free(d.body);
    if (ans == STORE_DUE_STOP)
      break;
  }
  return events__done(c, st, rc == SQLITE_ROW ? SQLITE_DONE : rc);
}

bink_rc sqlite_delivery_record(store_conn *c, const store_attempt *a) {
  sqlite3_stmt *st = store__stmt(c, SQL_RECORD);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a->bot_id);
  sqlite3_bind_int64(st, 2, a->update_id);
  sqlite3_bind_int(st, 3, a->state);
  sqlite3_bind_int(st, 4, a->attempts);
  sqlite3_bind_int64(st, 5, a->next_at_ms);
  sqlite3_bind_int(st, 6, a->http_status);
  sqlite3_bind_text(st, 7, a->error ? a->error : "", -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 8, a->latency_ms);
  sqlite3_bind_int64(st, 9, a->now);
  bink_rc rc = store__step_done(c, st);
  if (rc == BINK_OK) /* settled: the next event leads; a retry: new time */
    rc = events__head_refresh_of(c, a->bot_id, a->update_id);
  if (rc != BINK_OK)
    return rc;
  bool ok = a->state == 1;
  if (!(st = store__stmt(c, ok ? SQL_HEALTH_OK : SQL_HEALTH_ERR)))
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, a->bot_id);
  sqlite3_bind_int64(st, 2, a->now);
  if (!ok)
    sqlite3_bind_text(st, 3, a->error ? a->error : "", -1, SQLITE_STATIC);
  return store__step_done(c, st);
}

bink_rc sqlite_webhook_state_get(store_conn *c, int64_t bot_id,
                                store_webhook_state *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store__stmt(c, SQL_HEALTH_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->last_error_at = sqlite3_column_int64(st, 0);
    store__copy_col(st, 1, out->last_error_msg, sizeof out->last_error_msg);
    out->last_success_at = sqlite3_column_int64(st, 2);
    out->gone_since = sqlite3_column_int64(st, 3);
  }
  return events__done(c, st, rc);
}

bink_rc sqlite_webhook_gone_since(store_conn *c, int64_t bot_id,
                                 int64_t since) {
  return events__by_bot(c, SQL_GONE, bot_id, since, true);
}

bink_rc sqlite_deliveries_list(store_conn *c, int64_t bot_id, int64_t before,
                              int state, int limit,
                              json_t *(*fn)(const store_delivery_row *),
                              json_t *out_array) {
  sqlite3_stmt *st = store__stmt(c, SQL_LOG);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, bot_id);
  sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
  sqlite3_bind_int(st, 3, state);
  sqlite3_bind_int(st, 4, limit);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    store_delivery_row row = {
        .update_id = sqlite3_column_int64(st, 0),
        .event_type = (const char *)sqlite3_column_text(st, 1),
        .attempts = sqlite3_column_int(st, 2),
        .state = sqlite3_column_int(st, 3),
        .http_status = sqlite3_column_int(st, 4),
        .error = (const char *)sqlite3_column_text(st, 5),
        .latency_ms = sqlite3_column_int(st, 6),
        .at = sqlite3_column_int64(st, 7)};
    json_array_append_new(out_array, fn(&row));
  }
  return events__done(c, st, rc);
}

bink_rc sqlite_event_redeliver(store_conn *c, int64_t bot_id,
                              int64_t update_id) {
  bink_rc rc = events__by_bot(c, SQL_REDELIVER, bot_id, update_id, true);
  if (rc == BINK_OK && sqlite3_changes(c->db) == 0)
    rc = BINK_ENOTFOUND;
  if (rc == BINK_OK)
    rc = events__head_refresh_of(c, bot_id, update_id);
  return rc;
}

bink_rc sqlite_callback_insert(store_conn *c, store_callback *cb) {
  sqlite3_stmt *st = store__stmt(c, SQL_CB_INSERT);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, cb->ext_id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, cb->bot_id);
  sqlite3_bind_int64(st, 3, cb->clicker_id);
  sqlite3_bind_int64(st, 4, cb->message_id);
  sqlite3_bind_text(st, 5, cb->message_ext, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, cb->data, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, cb->created_at);
  bink_rc rc = store__step_done(c, st);
  if (rc == BINK_OK)
    cb->id = sqlite3_last_insert_rowid(c->db);
  return rc;
}

bink_rc sqlite_callback_get(store_conn *c, const char *ext_id,
                           store_callback *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = store__stmt(c, SQL_CB_GET);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_text(st, 1, ext_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  bink_rc r = BINK_OK;
  if (rc == SQLITE_ROW) {
    out->id = sqlite3_column_int64(st, 0);
    store__copy_col(st, 1, out->ext_id, sizeof out->ext_id);
    out->bot_id = sqlite3_column_int64(st, 2);
    out->clicker_id = sqlite3_column_int64(st, 3);
    out->message_id = sqlite3_column_int64(st, 4);
    store__copy_col(st, 5, out->message_ext, sizeof out->message_ext);
    store__copy_col(st, 6, out->data, sizeof out->data);
    out->created_at = sqlite3_column_int64(st, 7);
    out->answered_at = sqlite3_column_int64(st, 8);
    out->answer = store__dup_col(st, 9, true);
  } else {
    r = rc == SQLITE_DONE ? BINK_ENOTFOUND : store__fail(c, "callback");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return r;
}

bink_rc sqlite_callback_answer(store_conn *c, int64_t id, const char *answer,
                              int64_t now) {
  sqlite3_stmt *st = store__stmt(c, SQL_CB_ANSWER);
  if (!st)
    return BINK_EUNAVAIL;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_text(st, 3, answer, -1, SQLITE_STATIC);
  bink_rc rc = store__step_done(c, st);
  if (rc == BINK_OK && sqlite3_changes(c->db) == 0)
    rc = BINK_ECONFLICT;
  return rc;
}
