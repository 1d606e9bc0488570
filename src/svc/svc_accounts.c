/* svc_accounts.c: users, bots and their back office (app-api.md). */
#include <stdio.h>
#include <string.h>

#include "core/events.h"
#include "core/render.h"
#include "svc/svc_internal.h"

bink_rc svc_register_job(store_conn *c, void *arg, bink_err *err) {
  svc_register *op = arg;
  const bink_limits *l = op->x.limits;
  if (!op->is_bot && !op->open_registration)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "registration is closed on this server; ask an operator");
  bink_rc rc = op->is_bot
                   ? bink_check_bot_username("username", op->username.p,
                                             op->username.n, err)
                   : bink_check_username("username", op->username.p,
                                         op->username.n, err);
  if (rc == BINK_OK)
    rc = svc__text("display_name", op->display_name, 1, l->display_name_max,
                   true, err);
  if (rc == BINK_OK && op->description.p)
    rc = svc__text("description", op->description, 0, l->description_max,
                   false, err);
  if (rc != BINK_OK)
    return rc;

  bink_account a;
  memset(&a, 0, sizeof a);
  a.is_bot = op->is_bot;
  svc__copy(a.username, sizeof a.username, op->username);
  svc__copy(a.display_name, sizeof a.display_name, op->display_name);
  svc__copy(a.description, sizeof a.description, op->description);
  a.created_at = op->x.now;
  a.privacy_mode = true;
  a.can_join_groups = true;
  a.max_connections = 40;
  if (op->is_bot)
    a.owner_id = op->x.caller->id;
  char token[BINK_TOKEN_LEN + 1];
  unsigned char hash[BINK_SHA256_LEN];
  if (bink_token_new(token, op->is_bot) != BINK_OK)
    return bink_fail(err, BINK_EINTERNAL, "cannot make a token");
  bink_sha256(token, strlen(token), hash);
  rc = store_account_insert(c, &a, hash);
  if (rc == BINK_ECONFLICT)
    return bink_fail(err, rc, "username %s is taken", a.username);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  json_t *out =
      op->is_bot
          ? json_pack("{s:s, s:s, s:s, s:s}", "bot_id", a.ext_id, "username",
                      a.username, "display_name", a.display_name, "token",
                      token)
          : json_pack("{s:s, s:s, s:s, s:s}", "user_id", a.ext_id, "username",
                      a.username, "display_name", a.display_name, "token",
                      token);
  return svc__out(&op->x, out, err);
}

/* Loads a bot that the caller owns: 404 unknown, 403 someone else's. */
static bink_rc svc__owned_bot(store_conn *c, const svc_ctx *x, bink_str id,
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

/* A webhook secret: whsec_<base64 of 24..64 bytes> or 16..256 printable
 * ASCII used as they are (events.md "Signing key"): the signer's own rule,
 * so that a secret accepted here always signs. */
static bool svc__secret_valid(bink_str s) {
  char secret[BINK_SECRET_MAX];
  unsigned char key[256];
  size_t klen;
  if (s.n >= sizeof secret || memchr(s.p, 0, s.n))
    return false;
  memcpy(secret, s.p, s.n);
  secret[s.n] = '\0';
  return bink_webhook_key(secret, key, &klen);
}

bink_rc svc_update_bot_job(store_conn *c, void *arg, bink_err *err) {
  svc_update_bot *op = arg;
  const bink_limits *l = op->x.limits;
  bink_account bot;
  bink_rc rc = svc__owned_bot(c, &op->x, op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  if (op->display_name.p) {
    if ((rc = svc__text("display_name", op->display_name, 1,
                        l->display_name_max, true, err)) != BINK_OK)
      return rc;
    svc__copy(bot.display_name, sizeof bot.display_name, op->display_name);
  }
  if (op->description.p) {
    if ((rc = svc__text("description", op->description, 0,
                        l->description_max, false, err)) != BINK_OK)
      return rc;
    svc__copy(bot.description, sizeof bot.description, op->description);
  }
  if (op->webhook_url.p) {
    if (op->webhook_url.n &&
        (rc = bink_check_http_url("webhook_url", op->webhook_url.p,
                                  op->webhook_url.n, BINK_URL_MAX - 1,
                                  err)) != BINK_OK)
      return rc;
    svc__copy(bot.webhook_url, sizeof bot.webhook_url, op->webhook_url);
  }
  if (op->webhook_secret.p) {
    if (op->webhook_secret.n && !svc__secret_valid(op->webhook_secret))
      return bink_fail(err, BINK_EINVAL,
                       "webhook_secret must be whsec_<base64 of 24..64 bytes> "
                       "or 16..256 printable ASCII characters");
    svc__copy(bot.webhook_secret, sizeof bot.webhook_secret,
              op->webhook_secret);
  }
  if (op->has_privacy_mode)
    bot.privacy_mode = op->privacy_mode;
  if (op->has_max_connections) {
    if (op->max_connections < 1 || op->max_connections > 100)
      return bink_fail(err, BINK_EINVAL, "max_connections must be 1..100");
    bot.max_connections = (int)op->max_connections;
  }
  if ((rc = store_account_update(c, &bot)) != BINK_OK)
    return svc__storage(rc, err);
  return svc__out(&op->x, bink_render_owned_bot(&bot), err);
}

bink_rc svc_revoke_token_job(store_conn *c, void *arg, bink_err *err) {
  svc_bot_ref *op = arg;
  bink_account bot;
  bink_rc rc = svc__owned_bot(c, &op->x, op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  char token[BINK_TOKEN_LEN + 1];
  unsigned char hash[BINK_SHA256_LEN];
  if (bink_token_new(token, true) != BINK_OK)
    return bink_fail(err, BINK_EINTERNAL, "cannot make a token");
  bink_sha256(token, strlen(token), hash);
  if ((rc = store_account_set_token(c, bot.id, hash)) != BINK_OK)
    return svc__storage(rc, err);
  return svc__out(&op->x,
                  json_pack("{s:s, s:s}", "bot_id", bot.ext_id, "token", token),
                  err);
}

bink_rc svc_block_bot_job(store_conn *c, void *arg, bink_err *err) {
  svc_bot_ref *op = arg;
  bink_account bot;
  bink_rc rc = svc__load_account(c, "bot_id", op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  if (!bot.is_bot)
    return bink_fail(err, BINK_ENOTFOUND, "bot_id %s not found", bot.ext_id);
  bink_dm dm;
  if ((rc = store_dm_open(c, op->x.caller->id, bot.id, op->x.now, &dm)) !=
      BINK_OK)
    return svc__storage(rc, err);
  if (dm.lo == op->x.caller->id)
    dm.lo_blocked = op->flag;
  else
    dm.hi_blocked = op->flag;
  if ((rc = store_dm_update(c, &dm)) != BINK_OK)
    return svc__storage(rc, err);
  return svc__out(&op->x,
                  json_pack("{s:s, s:b}", "bot_id", bot.ext_id, "blocked",
                            op->flag),
                  err);
}

bink_rc svc_bot_commands(store_conn *c, svc_bot_ref *op, bink_err *err) {
  bink_account bot;
  bink_rc rc = svc__load_account(c, "bot_id", op->bot_id, &bot, err);
  if (rc != BINK_OK)
    return rc;
  if (!bot.is_bot)
    return bink_fail(err, BINK_ENOTFOUND, "bot_id %s not found", bot.ext_id);
  svc_ctx x = op->x;
  x.caller = &bot;
  return svc_get_commands(c, &x, err);
}

bink_rc svc_my_bots(store_conn *c, svc_ctx *x, bink_err *err) {
  json_t *bots = json_array();
  if (!bots)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  bink_rc rc = store_bots_of_owner(c, x->caller->id, bink_render_owned_bot,
                                   bots);
  if (rc != BINK_OK) {
    json_decref(bots);
    return svc__storage(rc, err);
  }
  return svc__out(x, json_pack("{s:o}", "bots", bots), err);
}

bink_rc svc_get_user(store_conn *c, svc_user_query *op, bink_err *err) {
  if (!op->user_id.p == !op->username.p)
    return bink_fail(err, BINK_EINVAL,
                     "exactly one of user_id and username is required");
  bink_account a;
  bink_rc rc;
  if (op->user_id.p) {
    rc = svc__load_account(c, "user_id", op->user_id, &a, err);
  } else {
    rc = store_account_by_username(c, op->username.p, op->username.n, &a);
    if (rc == BINK_ENOTFOUND)
      return bink_fail(err, rc, "username %s not found", op->username.p);
    if (rc != BINK_OK)
      return svc__storage(rc, err);
  }
  if (rc != BINK_OK)
    return rc;
  return svc__out(&op->x, bink_render_card(&a), err);
}

bink_rc svc_set_commands_job(store_conn *c, void *arg, bink_err *err) {
  svc_set_commands *op = arg;
  json_t *norm = NULL;
  bink_rc rc = bink_commands_normalize(op->commands, op->x.limits, &norm, err);
  if (rc != BINK_OK)
    return rc;
  char *text = json_dumps(norm, JSON_COMPACT);
  if (!text) {
    json_decref(norm);
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  }
  rc = store_commands_set(c, op->x.caller->id, text);
  free(text);
  if (rc != BINK_OK) {
    json_decref(norm);
    return svc__storage(rc, err);
  }
  return svc__out(&op->x, json_pack("{s:o}", "commands", norm), err);
}

bink_rc svc_get_commands(store_conn *c, svc_ctx *x, bink_err *err) {
  char *text = NULL;
  bink_rc rc = store_commands_get(c, x->caller->id, &text);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  json_t *cmds = json_loads(text, 0, NULL);
  free(text);
  if (!json_is_array(cmds)) {
    json_decref(cmds);
    cmds = json_array();
  }
  return svc__out(x, json_pack("{s:o}", "commands", cmds), err);
}
