/* api_app.c: the App API, the people's side (app-api.md). */
#include <stdlib.h>

#include "api/api.h"
#include "core/render.h"
#include "ctx.h"
#include "events/target.h"
#include "log.h"

bink_rc api_app_register(http_req *r) {
  API_OP(svc_register, op);
  API_TRY(http_param_str(r, "username", true, &op->username));
  API_TRY(http_param_str(r, "display_name", true, &op->display_name));
  op->x.caller = NULL;
  op->open_registration = r->ctx->cfg->open_registration;
  return http_defer(r, svc_register_job, op, api_reply_out);
}

bink_rc api_app_me(http_req *r) {
  return http_reply(r, bink_render_profile(&r->caller));
}

static bink_rc api__get_user(store_conn *c, void *op, bink_err *err) {
  return svc_get_user(c, op, err);
}

bink_rc api_app_getuser(http_req *r) {
  API_OP(svc_user_query, op);
  API_TRY(http_param_str(r, "user_id", false, &op->user_id));
  API_TRY(http_param_str(r, "username", false, &op->username));
  return api_read(r, api__get_user, op);
}

bink_rc api_app_createbot(http_req *r) {
  API_OP(svc_register, op);
  API_TRY(http_param_str(r, "username", true, &op->username));
  API_TRY(http_param_str(r, "display_name", true, &op->display_name));
  API_TRY(http_param_str(r, "description", false, &op->description));
  op->is_bot = true;
  return http_defer(r, svc_register_job, op, api_reply_out);
}

static bink_rc api__my_bots(store_conn *c, void *op, bink_err *err) {
  return svc_my_bots(c, op, err);
}

bink_rc api_app_mybots(http_req *r) {
  svc_ctx *x = http_alloc(r, sizeof *x);
  if (!x)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, x);
  return api_read(r, api__my_bots, x);
}

bink_rc api_app_updatebot(http_req *r) {
  API_OP(svc_update_bot, op);
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  API_TRY(http_param_str(r, "display_name", false, &op->display_name));
  API_TRY(http_param_str(r, "description", false, &op->description));
  API_TRY(http_param_str(r, "webhook_url", false, &op->webhook_url));
  API_TRY(http_param_str(r, "webhook_secret", false, &op->webhook_secret));
  API_TRY(http_param_bool(r, "privacy_mode", false, &op->has_privacy_mode,
                          &op->privacy_mode));
  API_TRY(http_param_int(r, "max_connections", false,
                         &op->has_max_connections, &op->max_connections));
  if (op->webhook_url.p && op->webhook_url.n)
    API_TRY(ev_webhook_target_check("webhook_url", op->webhook_url.p,
                                    r->ctx->cfg->allow_private_webhooks,
                                    &r->err));
  return http_defer(r, svc_update_bot_job, op, api_reply_out);
}

bink_rc api_app_revoketoken(http_req *r) {
  API_OP(svc_bot_ref, op);
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  return http_defer(r, svc_revoke_token_job, op, api_reply_out);
}

bink_rc api_app_creategroup(http_req *r) {
  API_OP(svc_create_group, op);
  API_TRY(http_param_str(r, "title", true, &op->title));
  API_TRY(http_param_str(r, "username", false, &op->username));
  API_TRY(http_param_str(r, "description", false, &op->description));
  API_TRY(http_param_bool(r, "public", false, NULL, &op->is_public));
  return http_defer(r, svc_create_group_job, op, api_reply_out);
}

static bink_rc api__group_user(http_req *r, svc_group_op *op) {
  API_TRY(http_param_str(r, "group_id", true, &op->group_id));
  return http_param_str(r, "user_id", true, &op->user_id);
}

bink_rc api_app_addmember(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(api__group_user(r, op));
  return http_defer(r, svc_add_member_job, op, api_reply_out);
}

bink_rc api_app_joingroup(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(http_param_str(r, "group_id", false, &op->group_id));
  API_TRY(http_param_str(r, "group_username", false, &op->group_username));
  return http_defer(r, svc_join_group_job, op, api_reply_out);
}

bink_rc api_app_leavegroup(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(http_param_str(r, "group_id", true, &op->group_id));
  return http_defer(r, svc_leave_group_job, op, api_reply_out);
}

bink_rc api_app_removemember(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(api__group_user(r, op));
  return http_defer(r, svc_remove_member_job, op, api_reply_out);
}

bink_rc api_app_setadmin(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(api__group_user(r, op));
  API_TRY(http_param_bool(r, "admin", true, NULL, &op->flag));
  return http_defer(r, svc_set_admin_job, op, api_reply_out);
}

static bink_rc api__members(store_conn *c, void *op, bink_err *err) {
  return svc_members(c, op, err);
}

bink_rc api_app_members(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(http_param_str(r, "group_id", true, &op->group_id));
  return api_read(r, api__members, op);
}

bink_rc api_app_editmessage(http_req *r) {
  API_OP(svc_edit, op);
  API_TRY(http_param_str(r, "message_id", true, &op->message_id));
  API_TRY(http_param_str(r, "content", true, &op->content));
  op->has_content = true;
  return http_defer(r, svc_edit_job, op, api_reply_out);
}

static bink_rc api__chats(store_conn *c, void *op, bink_err *err) {
  return svc_chats(c, op, err);
}

bink_rc api_app_chats(http_req *r) {
  svc_ctx *x = http_alloc(r, sizeof *x);
  if (!x)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, x);
  return api_read(r, api__chats, x);
}

static void api__mark_read_done(store_job *job) {
  if (job->rc != BINK_OK)
    binkd_log(BINKD_LOG_WARN, "marking a chat read failed: %s", job->err.msg);
  free(job->arg);
  free(job);
}

static bink_rc api__history(store_conn *c, void *op, bink_err *err) {
  return svc_history(c, op, err);
}

bink_rc api_app_history(http_req *r) {
  API_OP(svc_history_query, op);
  bool has_limit;
  API_TRY(http_param_str(r, "group_id", false, &op->group_id));
  API_TRY(http_param_str(r, "peer_id", false, &op->peer_id));
  API_TRY(http_param_str(r, "before", false, &op->before));
  API_TRY(http_param_int(r, "limit", false, &has_limit, &op->limit));
  if (!has_limit)
    op->limit = 50;
  bink_rc rc = api_read(r, api__history, op);
  if (rc == BINK_OK && op->read_upto > 0) {
    /* Reading the newest page marks the chat read; nobody waits for it. */
    store_job *job = calloc(1, sizeof *job);
    svc_mark_read *mr = calloc(1, sizeof *mr);
    if (job && mr) {
      *mr = (svc_mark_read){.account_id = r->caller.id,
                            .group_id = op->read_group,
                            .dm_id = op->read_dm,
                            .upto = op->read_upto};
      job->fn = svc_mark_read_job;
      job->arg = mr;
      job->done = api__mark_read_done;
      if (store_submit(r->ctx->st, job) == BINK_OK)
        return rc;
    }
    free(job);
    free(mr);
  }
  return rc;
}

static bink_rc api__commands(store_conn *c, void *op, bink_err *err) {
  return svc_bot_commands(c, op, err);
}

bink_rc api_app_commands(http_req *r) {
  API_OP(svc_bot_ref, op);
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  return api_read(r, api__commands, op);
}

bink_rc api_app_blockbot(http_req *r) {
  API_OP(svc_bot_ref, op);
  API_TRY(http_param_str(r, "bot_id", true, &op->bot_id));
  API_TRY(http_param_bool(r, "blocked", true, NULL, &op->flag));
  return http_defer(r, svc_block_bot_job, op, api_reply_out);
}
