/* api_common.c: the route table and the handlers both APIs share. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/api_files.h"
#include "api/api_web.h"
#include "ctx.h"
#include "events/dispatcher.h"
#include "events/waiters.h"
#include "metrics.h"

const http_route api_routes[] = {
    /* Bot API (bot-api.md) */
    {"/bot/getme", api_bot_getme, HTTP_AUTH_BOT, HTTP_ROUTE_GET},
    {"/bot/getgroup", api_getgroup, HTTP_AUTH_BOT, HTTP_ROUTE_GET},
    {"/bot/sendmessage", api_sendmessage, HTTP_AUTH_BOT, 0},
    {"/bot/editmessage", api_bot_editmessage, HTTP_AUTH_BOT, 0},
    {"/bot/deletemessage", api_deletemessage, HTTP_AUTH_BOT, 0},
    {"/bot/botapisetcommands", api_bot_setcommands, HTTP_AUTH_BOT, 0},
    {"/bot/botapigetcommands", api_bot_getcommands, HTTP_AUTH_BOT,
     HTTP_ROUTE_GET},
    {"/bot/mutemember", api_mutemember, HTTP_AUTH_BOT, 0},
    {"/bot/unmutemember", api_unmutemember, HTTP_AUTH_BOT, 0},
    {"/bot/getupdates", api_bot_getupdates, HTTP_AUTH_BOT, HTTP_ROUTE_GET},
    {"/bot/setwebhook", api_bot_setwebhook, HTTP_AUTH_BOT, 0},
    {"/bot/deletewebhook", api_bot_deletewebhook, HTTP_AUTH_BOT, 0},
    {"/bot/getwebhookinfo", api_bot_getwebhookinfo, HTTP_AUTH_BOT,
     HTTP_ROUTE_GET},
    {"/bot/answercallback", api_bot_answercallback, HTTP_AUTH_BOT, 0},
    /* App API (app-api.md) */
    {"/app/register", api_app_register, HTTP_AUTH_NONE, 0},
    {"/app/me", api_app_me, HTTP_AUTH_USER, 0},
    {"/app/getuser", api_app_getuser, HTTP_AUTH_USER, 0},
    {"/app/createbot", api_app_createbot, HTTP_AUTH_USER, 0},
    {"/app/mybots", api_app_mybots, HTTP_AUTH_USER, 0},
    {"/app/updatebot", api_app_updatebot, HTTP_AUTH_USER, 0},
    {"/app/revoketoken", api_app_revoketoken, HTTP_AUTH_USER, 0},
    {"/app/creategroup", api_app_creategroup, HTTP_AUTH_USER, 0},
    {"/app/getgroup", api_getgroup, HTTP_AUTH_USER, 0},
    {"/app/addmember", api_app_addmember, HTTP_AUTH_USER, 0},
    {"/app/joingroup", api_app_joingroup, HTTP_AUTH_USER, 0},
    {"/app/leavegroup", api_app_leavegroup, HTTP_AUTH_USER, 0},
    {"/app/removemember", api_app_removemember, HTTP_AUTH_USER, 0},
    {"/app/setadmin", api_app_setadmin, HTTP_AUTH_USER, 0},
    {"/app/members", api_app_members, HTTP_AUTH_USER, 0},
    {"/app/mutemember", api_mutemember, HTTP_AUTH_USER, 0},
    {"/app/unmutemember", api_unmutemember, HTTP_AUTH_USER, 0},
    {"/app/sendmessage", api_sendmessage, HTTP_AUTH_USER, 0},
    {"/app/editmessage", api_app_editmessage, HTTP_AUTH_USER, 0},
    {"/app/deletemessage", api_deletemessage, HTTP_AUTH_USER, 0},
    {"/app/chats", api_app_chats, HTTP_AUTH_USER, 0},
    {"/app/history", api_app_history, HTTP_AUTH_USER, 0},
    {"/app/commands", api_app_commands, HTTP_AUTH_USER, 0},
    {"/app/blockbot", api_app_blockbot, HTTP_AUTH_USER, 0},
    {"/app/clickbutton", api_app_clickbutton, HTTP_AUTH_USER, 0},
    {"/app/deliveries", api_app_deliveries, HTTP_AUTH_USER, 0},
    {"/app/redeliver", api_app_redeliver, HTTP_AUTH_USER, 0},
    {"/app/events", api_app_events, HTTP_AUTH_USER, HTTP_ROUTE_GET_ONLY},
    {"/app/getevents", api_app_getevents, HTTP_AUTH_USER, 0},
    /* files and stickers (api_files.h) */
    {"/bot/uploadfile", api_uploadfile, HTTP_AUTH_BOT, HTTP_ROUTE_UPLOAD},
    {"/bot/getfile", api_getfile, HTTP_AUTH_BOT, HTTP_ROUTE_GET},
    {"/app/uploadfile", api_uploadfile, HTTP_AUTH_USER, HTTP_ROUTE_UPLOAD},
    {"/app/getfile", api_getfile, HTTP_AUTH_USER, HTTP_ROUTE_GET},
    {"/app/stickers", api_app_stickers, HTTP_AUTH_USER, HTTP_ROUTE_GET},
    {"/file/", api_file_download, HTTP_AUTH_NONE,
     HTTP_ROUTE_PREFIX | HTTP_ROUTE_GET_ONLY},
    /* the web sandbox (api_web.h) */
    {"/", api_web_index, HTTP_AUTH_NONE, HTTP_ROUTE_GET_ONLY},
    {"/web/", api_web_file, HTTP_AUTH_NONE,
     HTTP_ROUTE_PREFIX | HTTP_ROUTE_GET_ONLY},
    {"/app/login", api_app_login, HTTP_AUTH_NONE, 0},
    {"/app/logout", api_app_logout, HTTP_AUTH_NONE, 0},
    /* operations */
    {"/healthz", api_healthz, HTTP_AUTH_NONE, HTTP_ROUTE_GET_ONLY},
    {"/metrics", api_metrics, HTTP_AUTH_NONE, HTTP_ROUTE_GET_ONLY},
    {NULL, NULL, HTTP_AUTH_NONE, 0},
};

void api_ctx(http_req *r, svc_ctx *x) {
  x->caller = &r->caller;
  x->now = (int64_t)time(NULL);
  x->limits = &r->ctx->limits;
  x->out = &r->out;
}

bink_rc api_reply_out(http_req *r) {
  json_t *v = r->out;
  r->out = NULL;
  return http_reply(r, v);
}

bink_rc api_read(http_req *r, bink_rc (*fn)(store_conn *, void *, bink_err *),
                 void *op) {
  store_conn *c = store_reader(r->ctx->st);
  if (!c)
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  if (store_read_begin(c) != BINK_OK)
    return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
  bink_rc rc = fn(c, op, &r->err);
  store_read_end(c);
  return rc == BINK_OK ? api_reply_out(r) : rc;
}

bink_rc api_sendmessage(http_req *r) {
  API_OP(svc_send, op);
  API_TRY(http_param_str(r, "group_id", false, &op->group_id));
  API_TRY(http_param_str(r, "target_user_id", false, &op->target_user_id));
  API_TRY(http_param_str(r, "message_type", true, &op->message_type));
  API_TRY(http_param_str(r, "content", false, &op->content));
  API_TRY(http_param_str(r, "file_id", false, &op->file_id));
  API_TRY(http_param_str(r, "reply_to_id", false, &op->reply_to_id));
  API_TRY(http_param_str(r, "quote_message_id", false,
                         &op->quote_message_id));
  if (r->caller.is_bot)
    API_TRY(http_param_json(r, "extra", JSON_OBJECT, false, &op->extra));
  /* Events carry "" for what does not apply ("group_id": "" in private
   * chats); a bot that copies those fields back means "absent". */
  bink_str *optional[] = {&op->group_id, &op->target_user_id, &op->file_id,
                          &op->reply_to_id, &op->quote_message_id};
  for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
    if (optional[i]->p && optional[i]->n == 0)
      optional[i]->p = NULL;
  if (r->idempotency_key) {
    if (!bink_idempotency_key_valid(r->idempotency_key,
                                    strlen(r->idempotency_key)))
      return http_fail(r, BINK_EINVAL,
                       "Idempotency-Key must be 1..128 printable ASCII "
                       "characters");
    op->idempotency_key = r->idempotency_key;
    http_body_hash(r, op->request_hash);
  }
  svc_send_prepare(op);
  return http_defer(r, svc_send_job, op, api_reply_out);
}

bink_rc api_deletemessage(http_req *r) {
  API_OP(svc_delete, op);
  API_TRY(http_param_str(r, "message_id", false, &op->message_id));
  API_TRY(http_param_json(r, "message_ids", JSON_ARRAY, false,
                          &op->message_ids));
  return http_defer(r, svc_delete_job, op, api_reply_out);
}

static bink_rc api__group_user(http_req *r, svc_group_op *op) {
  API_TRY(http_param_str(r, "group_id", true, &op->group_id));
  return http_param_str(r, "user_id", true, &op->user_id);
}

bink_rc api_mutemember(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(api__group_user(r, op));
  API_TRY(http_param_int(r, "duration", false, NULL, &op->duration));
  return http_defer(r, svc_mute_job, op, api_reply_out);
}

bink_rc api_unmutemember(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(api__group_user(r, op));
  return http_defer(r, svc_unmute_job, op, api_reply_out);
}

static bink_rc api__get_group(store_conn *c, void *op, bink_err *err) {
  return svc_get_group(c, op, err);
}

bink_rc api_getgroup(http_req *r) {
  API_OP(svc_group_op, op);
  API_TRY(http_param_str(r, "group_id", true, &op->group_id));
  return api_read(r, api__get_group, op);
}

bink_rc api_healthz(http_req *r) {
  if (store_ping(r->ctx->st) != BINK_OK)
    return http_fail(r, BINK_EUNAVAIL, "the database does not answer");
  return http_reply(r, json_pack("{s:s}", "status", "ok"));
}

/* GET /metrics (server.md): this node's counters, and gauges read now. The
 * outbox's depth is the dispatcher thread's latest count (it costs ~1 ms per
 * 1 000 pending rows, too much for a request's thread); the database's
 * answer to a trivial query gives bink_database_up. */
bink_rc api_metrics(http_req *r) {
  binkd_ctx *ctx = r->ctx;
  metrics_gauges g = {0};
  store_stats st = {0};
  store_stats_get(ctx->st, &st);
  g.write_queue = st.write_queue;
  g.outbox_pending = ev_dispatcher_outbox_pending(ctx->dispatcher);
  g.database_up = store_ping(ctx->st) == BINK_OK;
  g.deliveries_running = ev_dispatcher_running(ctx->dispatcher);
  g.waits_parked = (int64_t)ev_waiters_parked_requests(ctx->waiters);
  size_t len = 0;
  char *text = metrics_render(&g, &len);
  if (!text)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          METRICS_CONTENT_TYPE);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  return http_reply_raw(r, MHD_HTTP_OK, resp);
}
