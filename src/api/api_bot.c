/* api_bot.c: the Bot API endpoints only bots have (bot-api.md). */
#include <pthread.h>
#include <stdlib.h>

#include "api/api.h"
#include "core/render.h"

/* getme answers the same bytes to a bot until the bot changes, and a bot
 * that polls it (health checks, SDK start-up) asks again and again: each
 * request thread keeps its last answer, serialised, and sends it again
 * while bink_render_bot would give the same object. Freed with its
 * thread. */
typedef struct api__getme_memo {
  bink_account bot;
  char *body;
  size_t len;
} api__getme_memo;

static pthread_key_t api__getme_key;
static bool api__getme_key_ok;
static pthread_once_t api__getme_once = PTHREAD_ONCE_INIT;

static void api__getme_memo_free(void *arg) {
  api__getme_memo *m = arg;
  free(m->body);
  free(m);
}

static void api__getme_init(void) {
  api__getme_key_ok =
      pthread_key_create(&api__getme_key, api__getme_memo_free) == 0;
}

bink_rc api_bot_getme(http_req *r) {
  pthread_once(&api__getme_once, api__getme_init);
  api__getme_memo *m =
      api__getme_key_ok ? pthread_getspecific(api__getme_key) : NULL;
  if (m && m->body && bink_render_bot_same(&m->bot, &r->caller))
    return http_reply_serialised(r, m->body, m->len);
  json_t *data = bink_render_bot(&r->caller);
  if (!data)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  size_t len = 0;
  char *body = http_envelope_ok(data, &len);
  json_decref(data);
  if (!body)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  if (!m && api__getme_key_ok && (m = calloc(1, sizeof *m)) &&
      pthread_setspecific(api__getme_key, m) != 0) {
    free(m);
    m = NULL;
  }
  bink_rc rc = http_reply_serialised(r, body, len);
  if (m) {
    free(m->body);
    m->bot = r->caller;
    m->body = body;
    m->len = len;
  } else {
    free(body);
  }
  return rc;
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
