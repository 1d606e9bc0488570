/*
 * pg_events.c: the PostgreSQL side of the outbox of bot events, their
 * webhook delivery state, and callback queries (store.h, "events" and
 * "callback queries"); the twin of sqlite_events.c.
 *
 * Several nodes write the same tables at once (READ COMMITTED), so:
 * - update_ids stay gapless per bot because pg_event_next_id bumps the
 *   bot's accounts row, whose lock is held to commit: a bot's event inserts
 *   are serialised;
 * - chat_heads (the oldest pending event of each (bot, chat)) are kept by
 *   functions that first lock the same accounts row (events__lock_bot), so
 *   that a head is never recomputed while an event of that bot another
 *   transaction inserted is still uncommitted (and invisible);
 * - pg_deliveries_due leases the heads it hands out (lease_until,
 *   lease_node), claiming them with FOR UPDATE SKIP LOCKED so that two
 *   nodes never take the same head; every head upsert ends its lease.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/pg_int.h"

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_NEXT_ID[] =
    "UPDATE accounts SET update_seq = update_seq + 1 WHERE id = $1 "
    "RETURNING update_seq";
/* Serialises head upkeep with pg_event_next_id for the same bot. */
static const char SQL_LOCK_BOT[] =
    "SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE";
static const char SQL_EVENT_INSERT[] =
    "INSERT INTO events(bot_id, update_id, chat_key, event_type, body, "
    "created_at) VALUES($1, $2, $3, $4, $5, $6)";
static const char SQL_ALLOWED_SET[] =
    "UPDATE accounts SET allowed_events = $2 WHERE id = $1";
static const char SQL_ALLOWED_GET[] =
    "SELECT allowed_events FROM accounts WHERE id = $1";
/* Whether a confirm would change anything (so that a poll with nothing to
 * confirm takes no lock). */
static const char SQL_CONFIRM_ANY[] =
    "SELECT 1 FROM events WHERE bot_id = $1 AND state = 0 "
    "AND update_id < $2 LIMIT 1";
static const char SQL_CONFIRM[] =
    "UPDATE events SET state = 3 WHERE bot_id = $1 AND state = 0 "
    "AND update_id < $2";
static const char SQL_PENDING[] =
    "SELECT body FROM events WHERE bot_id = $1 AND state = 0 "
    "AND update_id >= $2 ORDER BY update_id LIMIT $3";
static const char SQL_PENDING_COUNT[] =
    "SELECT count(*) FROM events WHERE bot_id = $1 AND state = 0";
static const char SQL_PENDING_TOTAL[] =
    "SELECT count(*) FROM events WHERE state = 0";
static const char SQL_DROP[] =
    "UPDATE events SET state = 4 WHERE bot_id = $1 AND state = 0";
/* The bots with pending events created before $1, locked in id order. */
static const char SQL_EXPIRE_LOCK[] =
    "SELECT id FROM accounts WHERE id IN (SELECT bot_id FROM events "
    "WHERE state = 0 AND created_at < $1) ORDER BY id FOR UPDATE";
static const char SQL_EXPIRE_DEAD[] =
    "UPDATE events SET state = 2, error = CASE WHEN error = '' THEN "
    "'expired before delivery' ELSE error END WHERE bot_id = $1 "
    "AND state = 0 AND created_at < $2";
static const char SQL_EXPIRE_DELETE[] =
    "DELETE FROM events WHERE state IN (1, 3, 4) AND created_at < $1";
/* The due heads of chats whose lease is free, for bots with a webhook: one
 * row per chat, never the chats' backlogs. Heads another node is claiming
 * right now are skipped. */
static const char SQL_DUE[] =
    "SELECT e.bot_id, e.update_id, e.chat_key, e.event_type, e.body, "
    "e.attempts, e.created_at, a.webhook_url, a.webhook_secret, "
    "a.max_connections, a.tag "
    "FROM chat_heads h "
    "JOIN accounts a ON a.id = h.bot_id "
    "JOIN events e ON e.bot_id = h.bot_id AND e.update_id = h.update_id "
    "WHERE h.next_at <= $1 AND h.lease_until <= $1 AND a.webhook_url <> '' "
    "AND e.state = 0 "
    "ORDER BY h.next_at, h.update_id LIMIT $2 "
    "FOR UPDATE OF h SKIP LOCKED";
/* Leases the heads taken: $3 and $4 are arrays of bot_id and update_id
 * (update_id is unique per bot, so it names the head). */
static const char SQL_LEASE[] =
    "UPDATE chat_heads h SET lease_until = $1, lease_node = $2 "
    "FROM unnest($3::bigint[], $4::bigint[]) AS t(bot_id, update_id) "
    "WHERE h.bot_id = t.bot_id AND h.update_id = t.update_id";
/* Head upkeep: a new event becomes its chat's head if the chat had none. */
static const char SQL_HEAD_ADD[] =
    "INSERT INTO chat_heads(bot_id, chat_key, update_id, next_at) "
    "VALUES($1, $2, $3, 0) ON CONFLICT (bot_id, chat_key) DO NOTHING";
/* After a chat's events changed state its head is looked up again: set
 * (ending any lease) or deleted when the chat has no pending event. */
static const char SQL_HEAD_REFRESH[] =
    "WITH h AS (SELECT update_id, next_at FROM events "
    "WHERE bot_id = $1 AND chat_key = $2 AND state = 0 "
    "ORDER BY update_id LIMIT 1), "
    "gone AS (DELETE FROM chat_heads WHERE bot_id = $1 AND chat_key = $2 "
    "AND NOT EXISTS (SELECT 1 FROM h)) "
    "INSERT INTO chat_heads(bot_id, chat_key, update_id, next_at) "
    "SELECT $1, $2, update_id, next_at FROM h "
    "ON CONFLICT (bot_id, chat_key) DO UPDATE SET "
    "update_id = excluded.update_id, next_at = excluded.next_at, "
    "lease_until = 0, lease_node = ''";
/* Rebuilding one bot's heads: the heads that are no longer their chat's
 * oldest pending event (or whose time changed) go, then the chats without
 * a head get one. A head that is still right keeps its lease. */
static const char SQL_HEADS_PRUNE_BOT[] =
    "DELETE FROM chat_heads h WHERE h.bot_id = $1 AND NOT EXISTS ("
    "SELECT 1 FROM events e WHERE e.bot_id = h.bot_id "
    "AND e.update_id = h.update_id AND e.chat_key = h.chat_key "
    "AND e.state = 0 AND e.next_at = h.next_at AND NOT EXISTS ("
    "SELECT 1 FROM events p WHERE p.bot_id = h.bot_id "
    "AND p.chat_key = h.chat_key AND p.state = 0 "
    "AND p.update_id < h.update_id))";
static const char SQL_HEADS_FILL_BOT[] =
    "INSERT INTO chat_heads(bot_id, chat_key, update_id, next_at) "
    "SELECT DISTINCT ON (chat_key) bot_id, chat_key, update_id, next_at "
    "FROM events WHERE bot_id = $1 AND state = 0 "
    "ORDER BY chat_key, update_id "
    "ON CONFLICT (bot_id, chat_key) DO NOTHING";
/* An attempt's outcome. Only a pending event changes state: one dropped
 * or confirmed while its attempt was on the way stays so. */
static const char SQL_RECORD[] =
    "UPDATE events SET state = CASE WHEN state = 0 THEN $3 ELSE state END, "
    "attempts = $4, next_at = $5, "
    "http_status = $6, error = $7, latency_ms = $8, last_at = $9 "
    "WHERE bot_id = $1 AND update_id = $2 RETURNING chat_key";
/* The outcome of an attempt whose lease was lost, for an event dropped,
 * confirmed or dead meanwhile: the log's columns only (a delivered event
 * keeps the successful attempt's). */
static const char SQL_RECORD_SETTLED[] =
    "UPDATE events SET attempts = GREATEST(attempts, $3), http_status = $4, "
    "error = $5, latency_ms = $6, last_at = $7 "
    "WHERE bot_id = $1 AND update_id = $2 AND state NOT IN (0, 1)";
/* Whether this node ($3) still holds the lease on the event's chat. */
static const char SQL_LEASE_HELD[] =
    "SELECT 1 FROM chat_heads WHERE bot_id = $1 AND update_id = $2 "
    "AND lease_node = $3";
static const char SQL_HEALTH_OK[] =
    "INSERT INTO webhook_state(bot_id, last_success_at) VALUES($1, $2) "
    "ON CONFLICT (bot_id) DO UPDATE SET last_success_at = $2, "
    "gone_since = 0";
static const char SQL_HEALTH_ERR[] =
    "INSERT INTO webhook_state(bot_id, last_error_at, last_error_msg) "
    "VALUES($1, $2, $3) ON CONFLICT (bot_id) DO UPDATE SET "
    "last_error_at = $2, last_error_msg = $3";
static const char SQL_HEALTH_GET[] =
    "SELECT last_error_at, last_error_msg, last_success_at, gone_since "
    "FROM webhook_state WHERE bot_id = $1";
static const char SQL_GONE[] =
    "INSERT INTO webhook_state(bot_id, gone_since) VALUES($1, $2) "
    "ON CONFLICT (bot_id) DO UPDATE SET gone_since = $2";
static const char SQL_LOG[] =
    "SELECT update_id, event_type, attempts, state, http_status, error, "
    "latency_ms, CASE WHEN last_at > 0 THEN last_at ELSE created_at END "
    "FROM events WHERE bot_id = $1 AND update_id < $2 "
    "AND ($3::int < 0 OR ($3::int = 5 AND state = 0 AND attempts > 0) "
    "OR ($3::int = 0 AND state = 0 AND attempts = 0) "
    "OR ($3::int NOT IN (0, 5) AND state = $3::int)) "
    "ORDER BY update_id DESC LIMIT $4";
static const char SQL_REDELIVER[] =
    "UPDATE events SET state = 0, attempts = 0, next_at = 0, error = '' "
    "WHERE bot_id = $1 AND update_id = $2 RETURNING chat_key";
static const char SQL_CB_INSERT[] =
    "INSERT INTO callbacks(ext_id, bot_id, clicker_id, message_id, "
    "message_ext, data, created_at) VALUES($1, $2, $3, $4, $5, $6, $7) "
    "RETURNING id";
static const char SQL_CB_GET[] =
    "SELECT id, ext_id, bot_id, clicker_id, message_id, message_ext, data, "
    "created_at, answered_at, answer FROM callbacks WHERE ext_id = $1";
static const char SQL_CB_ANSWER[] =
    "UPDATE callbacks SET answered_at = $2, answer = $3 WHERE id = $1 "
    "AND answered_at = 0";

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* Runs a statement whose only parameters are two integers (b unused when
 * n is 1); *changed as pg__cmd's. */
static bink_rc events__cmd2(store_conn *c, const char *sql, int n, int64_t a,
                            int64_t b, int64_t *changed) {
  pg__num na, nb;
  const char *p[2] = {pg__i(&na, a), pg__i(&nb, b)};
  return pg__cmd(c, sql, n, p, changed);
}

/* Locks the bot's accounts row until commit (see the file's comment). */
static bink_rc events__lock_bot(store_conn *c, int64_t bot_id) {
  return events__cmd2(c, SQL_LOCK_BOT, 1, bot_id, 0, NULL);
}

/* Looks the head of one chat up again after its events changed state. */
static bink_rc events__head_refresh(store_conn *c, int64_t bot_id,
                                    const char *chat_key) {
  pg__num nb;
  const char *p[2] = {pg__i(&nb, bot_id), chat_key};
  return pg__cmd(c, SQL_HEAD_REFRESH, 2, p, NULL);
}

/* Rebuilds the heads of one bot, whose row the caller has locked. */
static bink_rc events__heads_rebuild(store_conn *c, int64_t bot_id) {
  bink_rc rc = events__cmd2(c, SQL_HEADS_PRUNE_BOT, 1, bot_id, 0, NULL);
  if (rc == BINK_OK)
    rc = events__cmd2(c, SQL_HEADS_FILL_BOT, 1, bot_id, 0, NULL);
  return rc;
}

/* Runs an UPDATE … RETURNING chat_key on one event and refreshes that
 * chat's head: BINK_OK, ENOTFOUND when no event matched. */
static bink_rc events__update_refresh(store_conn *c, const char *sql, int n,
                                      const char *const *params,
                                      int64_t bot_id) {
  bink_rc rc;
  PGresult *r = pg__run(c, sql, n, params, &rc);
  if (!r)
    return rc;
  char chat[32] = "";
  bool found = PQntuples(r) > 0;
  if (found)
    pg__copy(r, 0, 0, chat, sizeof chat);
  PQclear(r);
  return found ? events__head_refresh(c, bot_id, chat) : BINK_ENOTFOUND;
}

/* ---------------------------------------------------------------------- */
/* The outbox                                                              */

bink_rc pg_event_next_id(store_conn *c, int64_t bot_id, int64_t *update_id) {
  pg__num nb;
  const char *p[1] = {pg__i(&nb, bot_id)};
  bink_rc rc;
  c->neutral = true; /* kept messages may wait (pg_chat.c) */
  PGresult *r = pg__run(c, SQL_NEXT_ID, 1, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    *update_id = pg__i64(r, 0, 0);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_event_insert(store_conn *c, int64_t bot_id, int64_t update_id,
                        const char *chat_key, const char *event_type,
                        const char *body, int64_t now) {
  pg__num nb, nu, nn;
  const char *p[6] = {
      pg__i(&nb, bot_id), pg__i(&nu, update_id), chat_key, event_type, body,
      pg__i(&nn, now)};
  c->neutral = true; /* kept messages may wait (pg_chat.c) */
  bink_rc rc = pg__cmd(c, SQL_EVENT_INSERT, 6, p, NULL);
  if (rc != BINK_OK)
    return rc;
  const char *h[3] = {p[0], chat_key, p[1]};
  c->neutral = true;
  if ((rc = pg__cmd(c, SQL_HEAD_ADD, 3, h, NULL)) == BINK_OK)
    c->job_events++;
  return rc;
}

bink_rc pg_bot_set_allowed_events(store_conn *c, int64_t bot_id,
                                  const char *json_text) {
  pg__num nb;
  const char *p[2] = {pg__i(&nb, bot_id), json_text};
  return pg__cmd(c, SQL_ALLOWED_SET, 2, p, NULL);
}

bink_rc pg_bot_allowed_events(store_conn *c, int64_t bot_id, char *out,
                              size_t n) {
  out[0] = '\0';
  pg__num nb;
  const char *p[1] = {pg__i(&nb, bot_id)};
  bink_rc rc;
  c->neutral = true; /* kept messages may wait (pg_chat.c) */
  PGresult *r = pg__run(c, SQL_ALLOWED_GET, 1, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    pg__copy(r, 0, 0, out, n);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_events_confirm(store_conn *c, int64_t bot_id, int64_t before) {
  pg__num nb, nf;
  const char *p[2] = {pg__i(&nb, bot_id), pg__i(&nf, before)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_CONFIRM_ANY, 2, p, &rc);
  if (!r)
    return rc;
  bool any = PQntuples(r) > 0;
  PQclear(r);
  if (!any)
    return BINK_OK;
  int64_t changed = 0;
  if ((rc = events__lock_bot(c, bot_id)) != BINK_OK ||
      (rc = pg__cmd(c, SQL_CONFIRM, 2, p, &changed)) != BINK_OK)
    return rc;
  return changed > 0 ? events__heads_rebuild(c, bot_id) : BINK_OK;
}

bink_rc pg_events_drop(store_conn *c, int64_t bot_id) {
  bink_rc rc = events__lock_bot(c, bot_id);
  if (rc == BINK_OK)
    rc = events__cmd2(c, SQL_DROP, 1, bot_id, 0, NULL);
  return rc == BINK_OK ? events__heads_rebuild(c, bot_id) : rc;
}

bink_rc pg_events_pending(store_conn *c, int64_t bot_id, int64_t from,
                          int limit, json_t *out_array) {
  pg__num nb, nf, nl;
  const char *p[3] = {pg__i(&nb, bot_id), pg__i(&nf, from), pg__i(&nl, limit)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_PENDING, 3, p, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n; i++) {
    json_t *ev = json_loads(PQgetvalue(r, i, 0), 0, NULL);
    if (ev)
      json_array_append_new(out_array, ev);
  }
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_events_pending_count(store_conn *c, int64_t bot_id, int64_t *n) {
  *n = 0;
  pg__num nb;
  const char *p[1] = {pg__i(&nb, bot_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_PENDING_COUNT, 1, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    *n = pg__i64(r, 0, 0);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_events_pending_total(store_conn *c, int64_t *n) {
  *n = 0;
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_PENDING_TOTAL, 0, NULL, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    *n = pg__i64(r, 0, 0);
  PQclear(r);
  return BINK_OK;
}

/* Each bot with events to expire is locked (all at once, in id order),
 * then its events die and its heads are rebuilt. */
bink_rc pg_events_expire(store_conn *c, int64_t cutoff) {
  pg__num nc;
  const char *p[1] = {pg__i(&nc, cutoff)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_EXPIRE_LOCK, 1, p, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n && rc == BINK_OK; i++) {
    int64_t bot_id = pg__i64(r, i, 0), changed = 0;
    rc = events__cmd2(c, SQL_EXPIRE_DEAD, 2, bot_id, cutoff, &changed);
    if (rc == BINK_OK && changed > 0)
      rc = events__heads_rebuild(c, bot_id);
  }
  PQclear(r);
  return rc == BINK_OK ? pg__cmd(c, SQL_EXPIRE_DELETE, 1, p, NULL) : rc;
}

/* ---------------------------------------------------------------------- */
/* Webhook delivery                                                        */

/* Appends v to the array literal being built in buf[0..cap) ("{1,2" so
 * far; the caller closes it). */
static void events__array_add(char *buf, size_t cap, size_t *len, int64_t v) {
  int k = snprintf(buf + *len, cap - *len, "%s%lld", *len > 1 ? "," : "",
                   (long long)v);
  if (k > 0 && (size_t)k < cap - *len)
    *len += (size_t)k;
}

/* The scan of pg_deliveries_due, inside its transaction: offers the due
 * heads to fn and leases those it takes. */
static bink_rc
events__due_scan(store_conn *c, int64_t now_ms, int64_t lease_ms, int limit,
                 store_due_answer (*fn)(void *arg, store_delivery *d),
                 void *arg) {
  pg__num nn, nl;
  const char *p[2] = {pg__i(&nn, now_ms), pg__i(&nl, limit)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_DUE, 2, p, &rc);
  if (!r)
    return rc;
  int rows = PQntuples(r);
  /* Room for every row's id: up to 20 characters and a comma each. */
  size_t cap = (size_t)rows * 22 + 3, nbots = 1, nups = 1;
  char *bots = malloc(cap), *ups = malloc(cap);
  if (!bots || !ups) {
    free(bots);
    free(ups);
    PQclear(r);
    return BINK_EUNAVAIL;
  }
  bots[0] = ups[0] = '{';
  store_delivery d;
  for (int i = 0; i < rows; i++) {
    memset(&d, 0, sizeof d);
    d.bot_id = pg__i64(r, i, 0);
    d.update_id = pg__i64(r, i, 1);
    pg__copy(r, i, 2, d.chat_key, sizeof d.chat_key);
    pg__copy(r, i, 3, d.event_type, sizeof d.event_type);
    d.body = pg__dup(r, i, 4, false);
    d.attempts = (int)pg__i64(r, i, 5);
    d.created_at = pg__i64(r, i, 6);
    pg__copy(r, i, 7, d.url, sizeof d.url);
    pg__copy(r, i, 8, d.secret, sizeof d.secret);
    d.max_connections = (int)pg__i64(r, i, 9);
    char tag[BINK_ID_TAG_LEN + 1];
    pg__copy(r, i, 10, tag, sizeof tag);
    bink_id_format(d.bot_ext, BINK_ID_BOT, d.bot_id, tag);
    if (!d.body)
      continue;
    int64_t bot_id = d.bot_id, update_id = d.update_id;
    store_due_answer ans = fn(arg, &d);
    if (ans == STORE_DUE_TAKE) {
      events__array_add(bots, cap, &nbots, bot_id);
      events__array_add(ups, cap, &nups, update_id);
    } else {
      free(d.body);
    }
    if (ans == STORE_DUE_STOP)
      break;
  }
  PQclear(r);
  rc = BINK_OK;
  if (nbots > 1) {
    bots[nbots] = ups[nups] = '}';
    bots[nbots + 1] = ups[nups + 1] = '\0';
    pg__num nu;
    const char *q[4] = {pg__i(&nu, now_ms + lease_ms), pg__node(c), bots, ups};
    rc = pg__cmd(c, SQL_LEASE, 4, q, NULL);
  }
  free(bots);
  free(ups);
  return rc;
}

/* Runs on a reader outside any transaction: claims the due heads in a
 * transaction of its own, so that the row locks of FOR UPDATE SKIP LOCKED
 * keep other nodes off them until the leases are written (and committed).
 * A lease ends with the record of the attempt (pg_delivery_record), or
 * when it runs out. */
bink_rc pg_deliveries_due(store_conn *c, int64_t now_ms, int64_t lease_ms,
                          int limit,
                          store_due_answer (*fn)(void *arg, store_delivery *d),
                          void *arg) {
  PGTransactionStatusType ts =
      c->pg ? PQtransactionStatus(c->pg) : PQTRANS_IDLE;
  if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR || ts == PQTRANS_ACTIVE) {
    binkd_log(BINKD_LOG_ERROR,
              "database: deliveries_due called inside a transaction");
    return BINK_EUNAVAIL;
  }
  if (pg__cmd(c, SQL_BEGIN, 0, NULL, NULL) != BINK_OK)
    return BINK_EUNAVAIL;
  if (events__due_scan(c, now_ms, lease_ms, limit, fn, arg) == BINK_OK &&
      pg__cmd(c, SQL_COMMIT, 0, NULL, NULL) == BINK_OK)
    return BINK_OK;
  pg__cmd(c, SQL_ROLLBACK, 0, NULL, NULL);
  return BINK_EUNAVAIL;
}

bink_rc pg_delivery_record(store_conn *c, const store_attempt *a) {
  bink_rc rc = events__lock_bot(c, a->bot_id);
  if (rc != BINK_OK)
    return rc;
  /* Fencing: only the node that still holds the chat's lease records. A
   * node that stalled past its lease (frozen, cut off) finds another node
   * took the event over; its late outcome would undo that node's record
   * (and send the event again, out of order), so it is dropped. */
  pg__num fb, fu;
  const char *f[3] = {pg__i(&fb, a->bot_id), pg__i(&fu, a->update_id),
                      pg__node(c)};
  PGresult *held = pg__run(c, SQL_LEASE_HELD, 3, f, &rc);
  if (!held)
    return rc;
  bool ours = PQntuples(held) > 0;
  PQclear(held);
  if (!ours) {
    /* Settled meanwhile (dropped, confirmed, dead): the log keeps this
     * attempt's outcome, nothing else changes. Delivered by another node,
     * or still pending with another node: this outcome is forgotten. */
    pg__num nb, nu, na, nh, nl, nt;
    const char *q[7] = {pg__i(&nb, a->bot_id),    pg__i(&nu, a->update_id),
                        pg__i(&na, a->attempts),  pg__i(&nh, a->http_status),
                        a->error ? a->error : "", pg__i(&nl, a->latency_ms),
                        pg__i(&nt, a->now)};
    int64_t changed = 0;
    rc = pg__cmd(c, SQL_RECORD_SETTLED, 7, q, &changed);
    if (rc == BINK_OK && changed == 0)
      binkd_log(BINKD_LOG_WARN,
                "webhook: bot %lld update %lld: the lease ran out before the "
                "outcome of attempt %d; another node took the event over",
                (long long)a->bot_id, (long long)a->update_id, a->attempts);
    return rc;
  }
  pg__num nb, nu, ns, na, nn, nh, nl, nt;
  const char *p[9] = {pg__i(&nb, a->bot_id),     pg__i(&nu, a->update_id),
                      pg__i(&ns, a->state),      pg__i(&na, a->attempts),
                      pg__i(&nn, a->next_at_ms), pg__i(&nh, a->http_status),
                      a->error ? a->error : "",  pg__i(&nl, a->latency_ms),
                      pg__i(&nt, a->now)};
  /* settled: the next event leads; a retry: new time; either way the
   * lease ends */
  rc = events__update_refresh(c, SQL_RECORD, 9, p, a->bot_id);
  if (rc == BINK_ENOTFOUND)
    rc = BINK_OK;
  if (rc != BINK_OK)
    return rc;
  bool ok = a->state == 1;
  const char *h[3] = {p[0], p[8], p[6]};
  return pg__cmd(c, ok ? SQL_HEALTH_OK : SQL_HEALTH_ERR, ok ? 2 : 3, h, NULL);
}

bink_rc pg_webhook_state_get(store_conn *c, int64_t bot_id,
                             store_webhook_state *out) {
  memset(out, 0, sizeof *out);
  pg__num nb;
  const char *p[1] = {pg__i(&nb, bot_id)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_HEALTH_GET, 1, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0) {
    out->last_error_at = pg__i64(r, 0, 0);
    pg__copy(r, 0, 1, out->last_error_msg, sizeof out->last_error_msg);
    out->last_success_at = pg__i64(r, 0, 2);
    out->gone_since = pg__i64(r, 0, 3);
  }
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_webhook_gone_since(store_conn *c, int64_t bot_id, int64_t since) {
  return events__cmd2(c, SQL_GONE, 2, bot_id, since, NULL);
}

bink_rc pg_deliveries_list(store_conn *c, int64_t bot_id, int64_t before,
                           int state, int limit,
                           json_t *(*fn)(const store_delivery_row *),
                           json_t *out_array) {
  pg__num nb, nf, ns, nl;
  const char *p[4] = {pg__i(&nb, bot_id),
                      pg__i(&nf, before > 0 ? before : INT64_MAX),
                      pg__i(&ns, state), pg__i(&nl, limit)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_LOG, 4, p, &rc);
  if (!r)
    return rc;
  for (int i = 0, n = PQntuples(r); i < n; i++) {
    store_delivery_row row = {.update_id = pg__i64(r, i, 0),
                              .event_type = PQgetvalue(r, i, 1),
                              .attempts = (int)pg__i64(r, i, 2),
                              .state = (int)pg__i64(r, i, 3),
                              .http_status = (int)pg__i64(r, i, 4),
                              .error = PQgetvalue(r, i, 5),
                              .latency_ms = (int)pg__i64(r, i, 6),
                              .at = pg__i64(r, i, 7)};
    json_array_append_new(out_array, fn(&row));
  }
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_event_redeliver(store_conn *c, int64_t bot_id, int64_t update_id) {
  bink_rc rc = events__lock_bot(c, bot_id);
  if (rc != BINK_OK)
    return rc;
  pg__num nb, nu;
  const char *p[2] = {pg__i(&nb, bot_id), pg__i(&nu, update_id)};
  return events__update_refresh(c, SQL_REDELIVER, 2, p, bot_id);
}

/* ---------------------------------------------------------------------- */
/* Callback queries                                                        */

bink_rc pg_callback_insert(store_conn *c, store_callback *cb) {
  pg__num nb, nk, nm, nt;
  const char *p[7] = {cb->ext_id,
                      pg__i(&nb, cb->bot_id),
                      pg__i(&nk, cb->clicker_id),
                      pg__i(&nm, cb->message_id),
                      cb->message_ext,
                      cb->data,
                      pg__i(&nt, cb->created_at)};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_CB_INSERT, 7, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) > 0)
    cb->id = pg__i64(r, 0, 0);
  PQclear(r);
  return BINK_OK;
}

bink_rc pg_callback_get(store_conn *c, const char *ext_id,
                        store_callback *out) {
  memset(out, 0, sizeof *out);
  const char *p[1] = {ext_id};
  bink_rc rc;
  PGresult *r = pg__run(c, SQL_CB_GET, 1, p, &rc);
  if (!r)
    return rc;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return BINK_ENOTFOUND;
  }
  out->id = pg__i64(r, 0, 0);
  pg__copy(r, 0, 1, out->ext_id, sizeof out->ext_id);
  out->bot_id = pg__i64(r, 0, 2);
  out->clicker_id = pg__i64(r, 0, 3);
  out->message_id = pg__i64(r, 0, 4);
  pg__copy(r, 0, 5, out->message_ext, sizeof out->message_ext);
  pg__copy(r, 0, 6, out->data, sizeof out->data);
  out->created_at = pg__i64(r, 0, 7);
  out->answered_at = pg__i64(r, 0, 8);
  out->answer = pg__dup(r, 0, 9, true);
  PQclear(r);
  return BINK_OK;
}

/* Two nodes answering at once: one wins, the other gets ECONFLICT. */
bink_rc pg_callback_answer(store_conn *c, int64_t id, const char *answer,
                           int64_t now) {
  pg__num ni, nn;
  const char *p[3] = {pg__i(&ni, id), pg__i(&nn, now), answer};
  int64_t changed = 0;
  bink_rc rc = pg__cmd(c, SQL_CB_ANSWER, 3, p, &changed);
  if (rc == BINK_OK && changed == 0)
    rc = BINK_ECONFLICT;
  return rc;
}
