/*
 * sessions.h: signing in to the web sandbox and out again (docs/web.md).
 * Store jobs (store_job_fn) run on the writer thread like every write op.
 */
#ifndef BINK_SVC_SESSIONS_H
#define BINK_SVC_SESSIONS_H

#include "core/session.h"
#include "svc/svc.h"

/* POST /app/login {username}: the user of that name (a bot's name is
 * refused with 403), registered first with display_name = username when
 * there is none and open_registration allows it (else 403). A new session
 * is stored (expired ones are swept) and its token left in `token`, to be
 * set as the cookie; *x.out gets the profile (render.h) plus "created":
 * true when the user was registered just now. x.caller is NULL. */
typedef struct svc_login {
  svc_ctx x;
  bink_str username;
  bool open_registration;
  char token[BINK_TOKEN_LEN + 1];
} svc_login;
bink_rc svc_login_job(store_conn *c, void *op, bink_err *err);

/* POST /app/logout: ends the session whose cookie token is `token` (an
 * unknown one is not an error). x.out may be NULL. */
typedef struct svc_logout {
  svc_ctx x;
  unsigned char digest[BINK_SHA256_LEN];
} svc_logout;
bink_rc svc_logout_job(store_conn *c, void *op, bink_err *err);

#endif
