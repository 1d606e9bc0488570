/* api_events.c: getupdates, webhook settings, buttons and the delivery log
 * (bot-api.md, app-api.md, events.md). */
#include <string.h>

#include "api/api.h"
#include "ctx.h"
#include "events/target.h"
#include "events/waiters.h"

/* Reads `fn` on this thread's connection into r->out (no reply yet). */
static bink_rc api__look(http_req *r,
                         bink_rc (*fn)(store_conn *, void *, bink_err *),
                         void *op) {
  json_decref(r->out);
  r->out = NULL;
  store_conn *c = store_reader(r->ctx->st);
  if (!c || store_read_begin(c) != BINK_OK)
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  bink_rc rc = fn(c, op, &r->err);
  store_read_end(c);
  return rc;
}

/* ---- getupdates: a long poll parked in the waiters until an event of the
 * bot commits or the timeout passes ---- */

typedef struct api__poll {
  svc_updates op;
  ev_waiter wt;
  double deadline;
  bool parked; /* waited at least once: a failing look waits on */
} api__poll;

static bink_rc api__poll_read(store_conn *c, void *op, bink_err *err) {
  return svc_updates_read(c, op, err);
}

static bink_rc api__poll_look(http_req *r) {
  api__poll *p = r->state;
  if (p->wt.reason == EV_WAKE_SUPERSEDED)
    return http_fail(r, BINK_ECONFLICT,
                     "superseded by a newer getupdates call of this bot");
  uint64_t key = STORE_WAKE_BOT(r->caller.id);
  for (;;) {
    uint64_t gen = ev_waiters_generation(r->ctx->waiters, key);
    bink_rc rc = api__look(r, api__poll_read, &p->op);
    if (rc != BINK_OK && rc != BINK_EUNAVAIL)
      return rc;
    switch (ev_poll_after_look(&p->wt, &p->parked, p->deadline,
                               rc == BINK_OK, json_array_size(r->out) > 0)) {
    case EV_POLL_FAIL:
      return rc;
    case EV_POLL_ANSWER:
      return api_reply_out(r);
    case EV_POLL_PARK:
      break;
    }
    r->err.code = BINK_OK; /* a failed look waits on */
    r->err.msg[0] = '\0';
    p->wt.key = key;
    p->wt.exclusive = true;
    p->wt.req = r;
    rc = ev_waiters_park(r->ctx->waiters, &p->wt, gen, api__poll_look);
    if (rc == BINK_AGAIN)
      return rc;
    if (rc == BINK_EUNAVAIL) /* shutting down: end the poll cleanly */
      return api_reply_out(r);
  }
}

bink_rc api_bot_getupdates(http_req *r) {
  api__poll *p = http_alloc(r, sizeof *p);
  if (!p)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, &p->op.x);
  r->state = p;
  if (r->caller.webhook_url[0])
    return http_fail(r, BINK_ECONFLICT,
                     "a webhook is set for this bot; call deletewebhook to "
                     "use getupdates");
  bool has;
  int64_t timeout = 0;
  API_TRY(http_param_int(r, "offset", false, NULL, &p->op.offset));
  API_TRY(http_param_int(r, "limit", false, &has, &p->op.limit));
  if (!has)
    p->op.limit = 100;
  API_TRY(http_param_int(r, "timeout", false, NULL, &timeout));
  API_TRY(http_param_json(r, "allowed_events", JSON_ARRAY, false,
                          &p->op.allowed_events));
  if (p->op.offset < 0)
    return http_fail(r, BINK_EINVAL, "offset must be 0 or more");
  if (p->op.limit < 1 || p->op.limit > 100)
    return http_fail(r, BINK_EINVAL, "limit must be 1..100");
  if (timeout < 0 || timeout > 50)
    return http_fail(r, BINK_EINVAL, "timeout must be 0..50 seconds");
  p->deadline = ev_now() + (double)timeout;
  /* One poll per bot: an older one still waiting ends with 409. */
  ev_waiters_kick(r->ctx->waiters, STORE_WAKE_BOT(r->caller.id));
  if (p->op.offset > 0 || p->op.allowed_events)
    return http_defer(r, svc_updates_prepare_job, &p->op, api__poll_look);
  return api__poll_look(r);
}

/* ---- webhook settings ---- */

static bink_rc api__set_webhook(http_req *r, bool deleting) {
  API_OP(svc_webhook, op);
  bool has_drop;
  API_TRY(http_param_bool(r, "drop_pending", false, &has_drop,
                          &op->drop_pending));
  if (!deleting) {
    API_TRY(http_param_str(r, "url", true, &op->url));
    API_TRY(http_param_str(r, "secret", false, &op->secret));
    API_TRY(http_param_int(r, "max_connections", false,
                           &op->has_max_connections, &op->max_connections));
    API_TRY(http_param_json(r, "allowed_events", JSON_ARRAY, false,
                            &op->allowed_events));
  }
  if (deleting || op->url.n == 0)
    return http_defer(r, svc_delete_webhook_job, op, api_reply_out);
  API_TRY(ev_webhook_target_check("url", op->url.p,
                                  r->ctx->cfg->allow_private_webhooks,
                                  &r->err));
  return http_defer(r, svc_set_webhook_job, op, api_reply_out);
}

bink_rc api_bot_setwebhook(http_req *r) { return api__set_webhook(r, false); }

bink_rc api_bot_deletewebhook(http_req *r) {
  return api__set_webhook(r, true);
}

static bink_rc api__webhook_info(store_conn *c, void *x, bink_err *err) {
  return svc_webhook_info(c, x, err);
}

bink_rc api_bot_getwebhookinfo(http_req *r) {
  svc_ctx *x = http_alloc(r, sizeof *x);
  if (!x)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, x);
  return api_read(r, api__webhook_info, x);
}

/* ---- buttons ---- */

bink_rc api_bot_answercallback(http_req *r) {
  API_OP(svc_answer, op);
  API_TRY(http_param_str(r, "callback_id", true, &op->callback_id));
  API_TRY(http_param_str(r, "text", false, &op->text));
  API_TRY(http_param_bool(r, "show_alert", false, NULL, &op->show_alert));
  API_TRY(http_param_str(r, "url", false, &op->url));
  op->ttl = r->ctx->cfg->callback_ttl;
  return http_defer(r, svc_answer_job, op, api_reply_out);
}

typedef struct api__click {
  svc_click op;
  ev_waiter wt;
  double deadline;
} api__click;

static bink_rc api__click_read(store_conn *c, void *op, bink_err *err) {
  return svc_click_result(c, op, err);
}

static bink_rc api__click_look(http_req *r) {
  api__click *p = r->state;
  uint64_t key = STORE_WAKE_CALLBACK(p->op.callback_row);
  for (;;) {
    uint64_t gen = ev_waiters_generation(r->ctx->waiters, key);
    bink_rc rc = api__look(r, api__click_read, &p->op);
    if (rc != BINK_OK)
      return rc;
    json_t *answer = json_object_get(r->out, "answer");
    if (!json_is_null(answer) || ev_now() >= p->deadline ||
        p->wt.reason == EV_WAKE_SHUTDOWN)
      return api_reply_out(r);
    p->wt.key = key;
    p->wt.deadline = p->deadline;
    p->wt.exclusive = false;
    p->wt.req = r;
    rc = ev_waiters_park(r->ctx->waiters, &p->wt, gen, api__click_look);
    if (rc == BINK_AGAIN)
      return rc;
    if (rc == BINK_EUNAVAIL)
      return api_reply_out(r);
  }
}

/* After the click committed: answer at once, or wait for the bot. */
static bink_rc api__clicked(http_req *r) {
  api__click *p = r->state;
  if (ev_now() >= p->deadline)
    return api_reply_out(r);
  return api__click_look(r);
}

bink_rc api_app_clickbutton(http_req *r) {
  api__click *p = http_alloc(r, sizeof *p);
  if (!p)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, &p->op.x);
  r->state = p;
  int64_t wait = 0;
  API_TRY(http_param_str(r, "message_id", true, &p->op.message_id));
  API_TRY(http_param_str(r, "callback_data", true, &p->op.callback_data));
  API_TRY(http_param_int(r, "wait", false, NULL, &wait));
  if (wait < 0 || wait > 30)
    return http_fail(r, BINK_EINVAL, "wait must be 0..30 seconds");
  p->deadline = ev_now() + (double)wait;
  return http_defer(r, svc_click_job, &p->op, api__clicked);
}

/* ---- the delivery log ---- */

static bink_rc api__deliveries(store_conn *c, void *op, bink_err *err) {
  return svc_deliveries(c, op, err);
}

bink_rc api_app_deliveries(http_req *r) {
  API_OP(svc_delivery_query, op);
  bool has;
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  API_TRY(http_param_str(r, "status", false, &op->status));
  API_TRY(http_param_int(r, "limit", false, &has, &op->limit));
  if (!has)
    op->limit = 50;
  API_TRY(http_param_int(r, "before", false, NULL, &op->before));
  return api_read(r, api__deliveries, op);
}

bink_rc api_app_redeliver(http_req *r) {
  API_OP(svc_delivery_query, op);
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  API_TRY(http_param_int(r, "update_id", true, NULL, &op->update_id));
  return http_defer(r, svc_redeliver_job, op, api_reply_out);
}
