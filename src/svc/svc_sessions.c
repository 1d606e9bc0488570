/* svc_sessions.c: web sign-in and sign-out (sessions.h). */
#include <string.h>

#include "core/render.h"
#include "svc/sessions.h"
#include "svc/svc_internal.h"

bink_rc svc_login_job(store_conn *c, void *arg, bink_err *err) {
  svc_login *op = arg;
  op->token[0] = '\0';
  bink_rc rc = bink_check_username("username", op->username.p,
                                   op->username.n, err);
  if (rc != BINK_OK)
    return rc;
  bink_account a;
  bool created = false;
  rc = store_account_by_username(c, op->username.p, op->username.n, &a);
  if (rc == BINK_ENOTFOUND) {
    /* Sandbox mode: a new name registers, as /app/register would. */
    svc_register reg;
    memset(&reg, 0, sizeof reg);
    reg.x = op->x;
    reg.x.out = NULL; /* the user token is never shown here */
    reg.username = op->username;
    reg.display_name = op->username;
    reg.open_registration = op->open_registration;
    if ((rc = svc_register_job(c, &reg, err)) != BINK_OK)
      return rc;
    rc = store_account_by_username(c, op->username.p, op->username.n, &a);
    created = true;
  }
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  if (a.is_bot)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "%s is a bot; bots cannot sign in to the web sandbox",
                     a.username);

  if ((rc = store_sessions_expire(c, op->x.now)) != BINK_OK)
    return svc__storage(rc, err);
  unsigned char digest[BINK_SHA256_LEN];
  if (bink_session_token_new(op->token) != BINK_OK)
    return bink_fail(err, BINK_EINTERNAL, "cannot make a session token");
  bink_session_digest(op->token, strlen(op->token), digest);
  rc = store_session_insert(c, a.id, digest, op->x.now,
                            op->x.now + BINK_SESSION_TTL);
  if (rc != BINK_OK) {
    op->token[0] = '\0';
    return svc__storage(rc, err);
  }
  json_t *out = bink_render_profile(&a);
  if (out)
    json_object_set_new(out, "created", json_boolean(created));
  return svc__out(&op->x, out, err);
}

bink_rc svc_logout_job(store_conn *c, void *arg, bink_err *err) {
  svc_logout *op = arg;
  /* Whose session it is (sign-out carries only the cookie), so that their
   * streams opened with it look again at once and end (api_live.c). */
  bink_account who;
  bool known =
      store_session_account(c, op->digest, op->x.now, &who) == BINK_OK;
  bink_rc rc = store_session_delete(c, op->digest);
  if (rc != BINK_OK && rc != BINK_ENOTFOUND)
    return svc__storage(rc, err);
  if (known)
    store_wake(c, STORE_WAKE_USER(who.id));
  return svc__out(&op->x, json_pack("{s:b}", "signed_out", 1), err);
}
