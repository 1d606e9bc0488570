/* svc_events.c: producing bot events (the outbox), getupdates, webhook
 * settings, inline-button callbacks and the delivery log (events.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/render.h"
#include "svc/svc_internal.h"

bink_rc svc__emit(store_conn *c, const bink_account *bot, bink_event_src *src,
                  int64_t group_id, int64_t dm_id, bink_err *err) {
  char allowed[512];
  bink_rc rc = store_bot_allowed_events(c, bot->id, allowed, sizeof allowed);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  if (!bink_event_allowed(allowed, src->type))
    return BINK_OK;
  if ((rc = store_event_next_id(c, bot->id, &src->update_id)) != BINK_OK)
    return svc__storage(rc, err);
  json_t *ev = bink_event_build(src);
  char *body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
  json_decref(ev);
  if (!body)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  char chat[32];
  bink_event_chat_key(chat, group_id, dm_id);
  rc = store_event_insert(c, bot->id, src->update_id, chat,
                          bink_event_type_name(src->type), body,
                          src->timestamp);
  free(body);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_BOT(bot->id));
  return BINK_OK;
}

typedef struct svc__route {
  store_conn *c;
  const bink_message *m;
  const bink_account *sender;
  const bink_group *g;
  int64_t reply_sender;
  bink_err *err;
} svc__route;

static bink_rc svc__route_group_bot(void *arg, const bink_account *bot) {
  svc__route *rt = arg;
  const bink_message *m = rt->m;
  const char *text = m->content ? m->content : "";
  bool reaches = !bot->privacy_mode || rt->reply_sender == bot->id ||
                 bink_event_addressed(text, strlen(text), bot->username);
  if (!reaches)
    return BINK_OK;
  bink_event_src src = {.type = BINK_EV_GROUP_MESSAGE,
                        .message = m,
                        .sender = rt->sender,
                        .group = rt->g,
                        .timestamp = m->created_at};
  return svc__emit(rt->c, bot, &src, m->group_id, 0, rt->err);
}

bink_rc svc__route_message(store_conn *c, const bink_message *m,
                           const bink_account *sender, const bink_group *g,
                           const bink_account *peer, int64_t reply_sender,
                           bink_err *err) {
  if (sender->is_bot) /* no bot loops */
    return BINK_OK;
  if (!g) {
    if (!peer || !peer->is_bot)
      return BINK_OK;
    bink_event_src src = {.type = BINK_EV_PRIVATE_MESSAGE,
                          .message = m,
                          .sender = sender,
                          .timestamp = m->created_at};
    return svc__emit(c, peer, &src, 0, m->dm_id, err);
  }
  svc__route rt = {c, m, sender, g, reply_sender, err};
  bink_rc rc = store_group_bots(c, g->id, svc__route_group_bot, &rt);
  return rc == BINK_OK || err->code == rc ? rc : svc__storage(rc, err);
}

typedef struct svc__joined {
  store_conn *c;
  const bink_message *m;
  const bink_account *member;
  const bink_group *g;
  const char *inviter;
  bink_err *err;
} svc__joined;

static bink_rc svc__joined_bot(void *arg, const bink_account *bot) {
  svc__joined *j = arg;
  bink_event_src src = {.type = BINK_EV_MEMBER_JOINED,
                        .message = j->m,
                        .sender = j->member,
                        .group = j->g,
                        .inviter_id = j->inviter,
                        .timestamp = j->m->created_at};
  return svc__emit(j->c, bot, &src, j->g->id, 0, j->err);
}

bink_rc svc__member_joined(store_conn *c, const bink_group *g,
                           const bink_account *member, const char *inviter,
                           int64_t now, bink_err *err) {
  bink_message m;
  memset(&m, 0, sizeof m);
  m.group_id = g->id;
  snprintf(m.group_ext, sizeof m.group_ext, "%s", g->ext_id);
  m.sender_id = member->id;
  snprintf(m.sender_ext, sizeof m.sender_ext, "%s", member->ext_id);
  m.type = BINK_MSG_SYSTEM;
  m.content = (char *)"";
  m.created_at = now;
  bink_rc rc = store_message_insert(c, &m);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  svc__joined j = {c, &m, member, g, inviter ? inviter : "", err};
  rc = store_group_bots(c, g->id, svc__joined_bot, &j);
  if (rc != BINK_OK)
    return err->code == rc ? rc : svc__storage(rc, err);
  return svc__tell(c, g->id, NULL, member->id, "member_joined",
                   json_pack("{s:s, s:s, s:s, s:s}", "group_id", g->ext_id,
                             "user_id", member->ext_id, "inviter_id",
                             inviter ? inviter : "", "message_id", m.ext_id),
                   now, err);
}

/* ---------------------------------------------------------------------- */
/* getupdates                                                              */

/* allowed_events: an array of known event type names; its JSON text. */
static bink_rc svc__allowed_text(const json_t *list, char **out,
                                 bink_err *err) {
  *out = NULL;
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (!json_is_string(v) ||
        bink_event_type_parse(json_string_value(v), json_string_length(v)) < 0)
      return bink_fail(err, BINK_EINVAL,
                       "allowed_events[%zu] must be one of private_message, "
                       "group_message, member_joined, callback_query",
                       i);
  }
  *out = json_array_size(list) ? json_dumps(list, JSON_COMPACT) : strdup("");
  return *out ? BINK_OK : bink_fail(err, BINK_EINTERNAL, "out of memory");
}

bink_rc svc_updates_prepare_job(store_conn *c, void *arg, bink_err *err) {
  svc_updates *op = arg;
  bink_rc rc;
  if (op->allowed_events) {
    char *text;
    if ((rc = svc__allowed_text(op->allowed_events, &text, err)) != BINK_OK)
      return rc;
    rc = store_bot_set_allowed_events(c, op->x.caller->id, text);
    free(text);
    if (rc != BINK_OK)
      return svc__storage(rc, err);
  }
  if (op->offset > 0 &&
      (rc = store_events_confirm(c, op->x.caller->id, op->offset)) != BINK_OK)
    return svc__storage(rc, err);
  return BINK_OK;
}

bink_rc svc_updates_read(store_conn *c, svc_updates *op, bink_err *err) {
  /* Looked up again each time: a webhook set while a poll waits ends it. */
  bink_account bot;
  bink_rc got = store_account_get(c, op->x.caller->id, &bot);
  if (got != BINK_OK)
    return svc__storage(got, err);
  if (bot.webhook_url[0])
    return bink_fail(err, BINK_ECONFLICT,
                     "a webhook is set for this bot; call deletewebhook to "
                     "use getupdates");
  json_t *list = json_array();
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  bink_rc rc = store_events_pending(c, op->x.caller->id, op->offset,
                                    (int)op->limit, list);
  if (rc != BINK_OK) {
    json_decref(list);
    return svc__storage(rc, err);
  }
  return svc__out(&op->x, list, err);
}

/* ---------------------------------------------------------------------- */
/* Webhook settings                                                        */

bink_rc svc_set_webhook_job(store_conn *c, void *arg, bink_err *err) {
  svc_webhook *op = arg;
  bink_account bot = *op->x.caller;
  bink_rc rc;
  if (op->url.n && (rc = bink_check_http_url("url", op->url.p, op->url.n,
                                             BINK_URL_MAX - 1, err)))
    return rc;
  if (op->secret.p && op->secret.n) {
    unsigned char key[256];
    size_t klen;
    char secret[BINK_SECRET_MAX];
    svc__copy(secret, sizeof secret, op->secret);
    if (op->secret.n >= sizeof secret || !bink_webhook_key(secret, key, &klen))
      return bink_fail(err, BINK_EINVAL,
                       "secret must be whsec_<base64 of 24..64 bytes> or "
                       "16..256 printable ASCII characters");
  }
  if (op->has_max_connections &&
      (op->max_connections < 1 || op->max_connections > 100))
    return bink_fail(err, BINK_EINVAL, "max_connections must be 1..100");
  char *allowed = NULL;
  if (op->allowed_events &&
      (rc = svc__allowed_text(op->allowed_events, &allowed, err)) != BINK_OK)
    return rc;
  svc__copy(bot.webhook_url, sizeof bot.webhook_url, op->url);
  if (op->secret.p)
    svc__copy(bot.webhook_secret, sizeof bot.webhook_secret, op->secret);
  if (op->has_max_connections)
    bot.max_connections = (int)op->max_connections;
  rc = store_account_update(c, &bot);
  if (rc == BINK_OK && allowed)
    rc = store_bot_set_allowed_events(c, bot.id, allowed);
  if (rc == BINK_OK && op->drop_pending)
    rc = store_events_drop(c, bot.id);
  if (rc == BINK_OK)
    rc = store_webhook_gone_since(c, bot.id, 0);
  free(allowed);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_BOT(bot.id));
  return svc__out(&op->x,
                  json_pack("{s:s, s:b, s:i}", "url", bot.webhook_url,
                            "has_secret", bot.webhook_secret[0] != '\0',
                            "max_connections", bot.max_connections),
                  err);
}

bink_rc svc_delete_webhook_job(store_conn *c, void *arg, bink_err *err) {
  svc_webhook *op = arg;
  bink_account bot = *op->x.caller;
  bot.webhook_url[0] = '\0';
  bink_rc rc = store_account_update(c, &bot);
  if (rc == BINK_OK && op->drop_pending)
    rc = store_events_drop(c, bot.id);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_BOT(bot.id));
  return svc__out(&op->x, json_pack("{s:b}", "deleted", 1), err);
}

bink_rc svc_webhook_info(store_conn *c, svc_ctx *x, bink_err *err) {
  const bink_account *bot = x->caller;
  /* The caller was loaded at authentication; read the settings again so a
   * change made a moment ago shows. */
  bink_account now;
  store_webhook_state ws;
  char allowed[512];
  int64_t pending = 0;
  bink_rc rc = store_account_get(c, bot->id, &now);
  if (rc == BINK_OK)
    rc = store_webhook_state_get(c, bot->id, &ws);
  if (rc == BINK_OK)
    rc = store_bot_allowed_events(c, bot->id, allowed, sizeof allowed);
  if (rc == BINK_OK)
    rc = store_events_pending_count(c, bot->id, &pending);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  json_t *list = allowed[0] ? json_loads(allowed, 0, NULL) : NULL;
  if (!list)
    list = json_array();
  return svc__out(
      x,
      json_pack("{s:s, s:b, s:i, s:o, s:I, s:I, s:s, s:I}", "url",
                now.webhook_url, "has_secret", now.webhook_secret[0] != '\0',
                "max_connections", now.max_connections, "allowed_events", list,
                "pending_count", (json_int_t)pending, "last_error_at",
                (json_int_t)ws.last_error_at, "last_error_msg",
                ws.last_error_msg, "last_success_at",
                (json_int_t)ws.last_success_at),
      err);
}

/* ---------------------------------------------------------------------- */
/* Inline buttons                                                          */

/* True when the message's keyboard has a button with this callback_data. */
static bool svc__has_button(const bink_message *m, bink_str data) {
  json_t *extra = m->extra ? json_loads(m->extra, 0, NULL) : NULL;
  json_t *kb = json_object_get(extra, "inline_keyboard");
  bool found = false;
  size_t i, j;
  json_t *row, *b;
  json_array_foreach(kb, i, row) {
    json_array_foreach(row, j, b) {
      json_t *d = json_object_get(b, "callback_data");
      if (json_is_string(d) && json_string_length(d) == data.n &&
          memcmp(json_string_value(d), data.p, data.n) == 0)
        found = true;
    }
  }
  json_decref(extra);
  return found;
}

bink_rc svc_click_job(store_conn *c, void *arg, bink_err *err) {
  svc_click *op = arg;
  const bink_account *me = op->x.caller;
  bink_message m;
  bink_rc rc = store_message_get_ext(c, op->message_id.p, op->message_id.n, &m);
  if (rc == BINK_ENOTFOUND || (rc == BINK_OK && m.deleted)) {
    if (rc == BINK_OK)
      bink_message_clear(&m);
    return bink_fail(err, BINK_ENOTFOUND, "message_id %s not found",
                     op->message_id.p);
  }
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  bink_group g;
  bink_member member;
  bink_dm dm;
  bink_account bot;
  bool sees;
  if (m.group_id) {
    rc = store_member_get(c, m.group_id, me->id, &member);
    sees = rc == BINK_OK;
  } else {
    rc = store_dm_get_id(c, m.dm_id, &dm);
    sees = rc == BINK_OK && (dm.lo == me->id || dm.hi == me->id);
  }
  if (rc != BINK_OK && rc != BINK_ENOTFOUND) {
    rc = svc__storage(rc, err);
    goto done;
  }
  if (!sees) {
    rc = bink_fail(err, BINK_EFORBIDDEN, "you cannot see message %s", m.ext_id);
    goto done;
  }
  if (!svc__has_button(&m, op->callback_data)) {
    rc = bink_fail(err, BINK_ENOTFOUND,
                   "message %s has no button with this callback_data",
                   m.ext_id);
    goto done;
  }
  if ((rc = store_account_get(c, m.sender_id, &bot)) != BINK_OK ||
      (m.group_id && (rc = store_group_get(c, m.group_id, &g)) != BINK_OK)) {
    rc = svc__storage(rc, err);
    goto done;
  }
  char tag[BINK_ID_TAG_LEN + 1];
  if (bink_id_new_tag(tag) != BINK_OK) {
    rc = bink_fail(err, BINK_EINTERNAL, "cannot make an id");
    goto done;
  }
  store_callback cb;
  memset(&cb, 0, sizeof cb);
  snprintf(cb.ext_id, sizeof cb.ext_id, "cb_%s_%s", me->ext_id, tag);
  cb.bot_id = bot.id;
  cb.clicker_id = me->id;
  cb.message_id = m.id;
  snprintf(cb.message_ext, sizeof cb.message_ext, "%s", m.ext_id);
  svc__copy(cb.data, sizeof cb.data, op->callback_data);
  cb.created_at = op->x.now;
  if ((rc = store_callback_insert(c, &cb)) != BINK_OK) {
    rc = svc__storage(rc, err);
    goto done;
  }
  bink_event_src src = {.type = BINK_EV_CALLBACK_QUERY,
                        .message = &m,
                        .sender = me,
                        .group = m.group_id ? &g : NULL,
                        .callback_id = cb.ext_id,
                        .callback_data = cb.data,
                        .timestamp = op->x.now};
  if ((rc = svc__emit(c, &bot, &src, m.group_id, m.dm_id, err)) != BINK_OK)
    goto done;
  op->callback_row = cb.id;
  snprintf(op->callback_id, sizeof op->callback_id, "%s", cb.ext_id);
  rc = svc__out(&op->x,
                json_pack("{s:s, s:n}", "callback_id", cb.ext_id, "answer"),
                err);
done:
  bink_message_clear(&m);
  return rc;
}

bink_rc svc_click_result(store_conn *c, svc_click *op, bink_err *err) {
  store_callback cb;
  bink_rc rc = store_callback_get(c, op->callback_id, &cb);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  json_t *answer = cb.answer ? json_loads(cb.answer, 0, NULL) : NULL;
  free(cb.answer);
  return svc__out(&op->x,
                  json_pack("{s:s, s:o}", "callback_id", cb.ext_id, "answer",
                            answer ? answer : json_null()),
                  err);
}

bink_rc svc_answer_job(store_conn *c, void *arg, bink_err *err) {
  svc_answer *op = arg;
  const bink_limits *l = op->x.limits;
  bink_rc rc;
  if (op->text.p && (rc = svc__text("text", op->text, 0, l->answer_text_max,
                                    false, err)))
    return rc;
  if (op->url.p && op->url.n &&
      (rc = bink_check_http_url("url", op->url.p, op->url.n, 2048, err)))
    return rc;
  store_callback cb;
  char id[160];
  svc__copy(id, sizeof id, op->callback_id);
  rc = store_callback_get(c, id, &cb);
  if (rc == BINK_OK && cb.bot_id != op->x.caller->id)
    rc = BINK_ENOTFOUND; /* another bot's click is not this bot's to see */
  if (rc == BINK_ENOTFOUND) {
    if (cb.answer)
      free(cb.answer);
    return bink_fail(err, rc, "callback_id %s not found", id);
  }
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  free(cb.answer);
  if (cb.answered_at)
    return bink_fail(err, BINK_ECONFLICT, "callback_id %s was already answered",
                     id);
  if (op->x.now - cb.created_at > op->ttl)
    return bink_fail(err, BINK_EGONE,
                     "callback_id %s expired: answer within %lld s of the "
                     "click",
                     id, (long long)op->ttl);
  json_t *answer = json_pack("{s:s%, s:b, s:s%}", "text",
                             op->text.p ? op->text.p : "", op->text.n,
                             "show_alert", op->show_alert, "url",
                             op->url.p ? op->url.p : "", op->url.n);
  char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
  json_decref(answer);
  if (!text)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  rc = store_callback_answer(c, cb.id, text, op->x.now);
  free(text);
  if (rc == BINK_ECONFLICT)
    return bink_fail(err, rc, "callback_id %s was already answered", id);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_CALLBACK(cb.id));
  rc = svc__tell(c, 0, NULL, cb.clicker_id, "callback_answer",
                 json_pack("{s:s, s:s, s:s%, s:b, s:s%}", "callback_id", id,
                           "message_id", cb.message_ext, "text",
                           op->text.p ? op->text.p : "", op->text.n,
                           "show_alert", op->show_alert, "url",
                           op->url.p ? op->url.p : "", op->url.n),
                 op->x.now, err);
  if (rc != BINK_OK)
    return rc;
  return svc__out(&op->x,
                  json_pack("{s:s, s:I}", "callback_id", id, "answered_at",
                            (json_int_t)op->x.now),
                  err);
}

/* ---------------------------------------------------------------------- */
/* The delivery log                                                        */

static const char *svc__delivery_status(int state, int attempts) {
  switch (state) {
  case 0:
    return attempts ? "retrying" : "pending";
  case 1:
  case 3:
    return "delivered";
  default:
    return "dead";
  }
}

static json_t *svc__render_delivery(const store_delivery_row *d) {
  return json_pack("{s:I, s:s, s:i, s:s, s:i, s:s, s:i, s:I}", "update_id",
                   (json_int_t)d->update_id, "event_type",
                   d->event_type ? d->event_type : "", "attempt", d->attempts,
                   "status", svc__delivery_status(d->state, d->attempts),
                   "http_status", d->http_status, "error",
                   d->error ? d->error : "", "latency_ms", d->latency_ms, "at",
                   (json_int_t)d->at);
}

/* A bot the caller owns: 404 unknown, 403 someone else's. */
static bink_rc svc__own_bot(store_conn *c, const svc_ctx *x, bink_str id,
                            bink_account *bot, bink_err *err) {
  bink_rc rc = svc__load_account(c, "bot_id", id, bot, err);
  if (rc != BINK_OK)
    return rc;
  if (!bot->is_bot)
    return bink_fail(err, BINK_ENOTFOUND, "bot_id %s not found", bot->ext_id);
  if (bot->owner_id != x->caller->id)
    return bink_fail(err, BINK_EFORBIDDEN, "you do not own bot %s",
                     bot->ext_id);
  return BINK_OK;
}

bink_rc svc_deliveries(store_conn *c, svc_delivery_query *op, bink_err *err) {
  bink_account bot;
  bink_rc rc = svc__own_bot(c, &op->x, op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  if (op->limit < 1 || op->limit > 100)
    return bink_fail(err, BINK_EINVAL, "limit must be 1..100");
  int state = -1;
  if (op->status.p && op->status.n) {
    static const char *const names[] = {"pending", "delivered", "dead",
                                        "retrying"};
    static const int states[] = {0, 1, 2, 5};
    for (int i = 0; i < 4; i++)
      if (strcmp(op->status.p, names[i]) == 0)
        state = states[i];
    if (state < 0)
      return bink_fail(err, BINK_EINVAL,
                       "status must be pending, delivered, retrying or dead");
  }
  json_t *list = json_array();
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  rc = store_deliveries_list(c, bot.id, op->before, state, (int)op->limit,
                             svc__render_delivery, list);
  if (rc != BINK_OK) {
    json_decref(list);
    return svc__storage(rc, err);
  }
  return svc__out(&op->x, json_pack("{s:o}", "deliveries", list), err);
}

bink_rc svc_redeliver_job(store_conn *c, void *arg, bink_err *err) {
  svc_delivery_query *op = arg;
  bink_account bot;
  bink_rc rc = svc__own_bot(c, &op->x, op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  rc = store_event_redeliver(c, bot.id, op->update_id);
  if (rc == BINK_ENOTFOUND)
    return bink_fail(err, rc, "update_id %lld not found",
                     (long long)op->update_id);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_BOT(bot.id));
  return svc__out(&op->x,
                  json_pack("{s:s, s:I, s:s}", "bot_id", bot.ext_id,
                            "update_id", (json_int_t)op->update_id, "status",
                            "pending"),
                  err);
}

/* ---------------------------------------------------------------------- */
/* Webhook attempts                                                        */

#define SVC__GONE_LIMIT (23 * 3600) /* seconds of 410 before removal */

bink_rc svc_attempt_record_job(store_conn *c, void *arg, bink_err *err) {
  svc_attempt *op = arg;
  store_attempt *a = &op->a;
  a->error = op->error;
  bink_rc rc = BINK_OK;
  if (a->http_status == 410) {
    store_webhook_state ws;
    if ((rc = store_webhook_state_get(c, a->bot_id, &ws)) != BINK_OK)
      return svc__storage(rc, err);
    if (!ws.gone_since) {
      rc = store_webhook_gone_since(c, a->bot_id, a->now);
    } else if (a->now - ws.gone_since >= SVC__GONE_LIMIT) {
      bink_account bot;
      if ((rc = store_account_get(c, a->bot_id, &bot)) == BINK_OK) {
        bot.webhook_url[0] = '\0';
        rc = store_account_update(c, &bot);
      }
      snprintf(op->error, sizeof op->error,
               "the webhook was removed: the receiver answered 410 Gone for "
               "23 hours");
    }
  }
  if (rc == BINK_OK)
    rc = store_delivery_record(c, a);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  store_wake(c, STORE_WAKE_BOT(a->bot_id));
  return BINK_OK;
}

bink_rc svc_events_expire_job(store_conn *c, void *arg, bink_err *err) {
  const int64_t *cutoff = arg;
  bink_rc rc = store_events_expire(c, *cutoff);
  return rc == BINK_OK ? rc : svc__storage(rc, err);
}
