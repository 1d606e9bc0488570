/*
 * api.h: the endpoint handlers. Each translates HTTP parameters into an op
 * of svc/ and the op's result back into the envelope; none holds SQL or
 * domain rules. api_routes is the table the HTTP layer routes by.
 */
#ifndef BINK_API_H
#define BINK_API_H

#include "http/http.h"
#include "svc/svc.h"

extern const http_route api_routes[];

/* ---- shared by the api_*.c files ---- */

/* Returns from the handler when a parameter call fails. */
#define API_TRY(call)                                                         \
  do {                                                                        \
    bink_rc api__rc = (call);                                                 \
    if (api__rc != BINK_OK)                                                   \
      return api__rc;                                                         \
  } while (0)

/* Allocates a zeroed op of type T for this request, filling its svc_ctx
 * (the op's first member, `x`). Returns from the handler when memory runs
 * out. */
#define API_OP(T, var)                                                        \
  T *var = http_alloc(r, sizeof(T));                                          \
  if (!var)                                                                   \
    return http_fail(r, BINK_EINTERNAL, "out of memory");                     \
  api_ctx(r, &var->x)

void api_ctx(http_req *r, svc_ctx *x);

/* Continuation of a deferred op: replies with r->out. */
bink_rc api_reply_out(http_req *r);

/* Runs a read op on this thread's store connection and replies with its
 * result: fn(conn, op, err). */
bink_rc api_read(http_req *r, bink_rc (*fn)(store_conn *, void *, bink_err *),
                 void *op);

/* Shared handlers of endpoints that the Bot API and the App API both have. */
bink_rc api_sendmessage(http_req *r);
bink_rc api_deletemessage(http_req *r);
bink_rc api_mutemember(http_req *r);
bink_rc api_unmutemember(http_req *r);
bink_rc api_getgroup(http_req *r);

/* Handlers (api_bot.c, api_app.c). */
bink_rc api_bot_getme(http_req *r);
bink_rc api_bot_editmessage(http_req *r);
bink_rc api_bot_setcommands(http_req *r);
bink_rc api_bot_getcommands(http_req *r);

bink_rc api_app_register(http_req *r);
bink_rc api_app_me(http_req *r);
bink_rc api_app_getuser(http_req *r);
bink_rc api_app_createbot(http_req *r);
bink_rc api_app_mybots(http_req *r);
bink_rc api_app_updatebot(http_req *r);
bink_rc api_app_revoketoken(http_req *r);
bink_rc api_app_creategroup(http_req *r);
bink_rc api_app_addmember(http_req *r);
bink_rc api_app_joingroup(http_req *r);
bink_rc api_app_leavegroup(http_req *r);
bink_rc api_app_removemember(http_req *r);
bink_rc api_app_setadmin(http_req *r);
bink_rc api_app_members(http_req *r);
bink_rc api_app_editmessage(http_req *r);
bink_rc api_app_chats(http_req *r);
bink_rc api_app_history(http_req *r);
bink_rc api_app_commands(http_req *r);
bink_rc api_app_blockbot(http_req *r);
bink_rc api_healthz(http_req *r);
bink_rc api_metrics(http_req *r);

bink_rc api_bot_getupdates(http_req *r);
bink_rc api_bot_setwebhook(http_req *r);
bink_rc api_bot_deletewebhook(http_req *r);
bink_rc api_bot_getwebhookinfo(http_req *r);
bink_rc api_bot_answercallback(http_req *r);
bink_rc api_app_clickbutton(http_req *r);
bink_rc api_app_deliveries(http_req *r);
bink_rc api_app_redeliver(http_req *r);
bink_rc api_app_events(http_req *r);
bink_rc api_app_getevents(http_req *r);

#endif
