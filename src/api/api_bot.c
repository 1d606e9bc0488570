/* api_bot.c: the Bot API endpoints only bots have (bot-api.md). */
#include "api/api.h"
#include "core/render.h"

bink_rc api_bot_getme(http_req *r) {
  return http_reply(r, bink_render_bot(&r->caller));
}

bink_rc api_bot_editmessage(http_req *r) {
  API_OP(svc_edit, op);
  API_TRY(http_param_str(r, "message_id", true, &op->message_id));
  API_TRY(http_param_str(r, "content", false, &op->content));
  op->has_content = op->content.p != NULL;
  API_TRY(http_param_json(r, "extra", JSON_OBJECT, false, &op->extra));
  return http_defer(r, svc_edit_job, op, api_reply_out);
}

bink_rc api_bot_setcommands(http_req *r) {
  API_OP(svc_set_commands, op);
  API_TRY(http_param_json(r, "commands", JSON_ARRAY, true, &op->commands));
  return http_defer(r, svc_set_commands_job, op, api_reply_out);
}

static bink_rc api__get_commands(store_conn *c, void *op, bink_err *err) {
  return svc_get_commands(c, op, err);
}

bink_rc api_bot_getcommands(http_req *r) {
  svc_ctx *x = http_alloc(r, sizeof *x);
  if (!x)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  api_ctx(r, x);
  return api_read(r, api__get_commands, x);
}
