/*
 * session.h: the web sandbox's session cookie on the transport side
 * (docs/web.md). A browser cannot put a token in an Authorization header
 * for an EventSource, an <img> or a <video>, so user routes (and GET
 * /file/) also accept the HttpOnly cookie `bink_session` set by POST
 * /app/login, but only when the request carries no Authorization header
 * (a header, right or wrong, always decides). The cookie's value is never
 * logged.
 */
#ifndef BINK_HTTP_SESSION_H
#define BINK_HTTP_SESSION_H

#include <stdbool.h>

#include "http/http.h"

/* The session cookie's value as sent, or NULL when there is none. */
const char *http_session_cookie(http_req *r);

/* True unless the request names another origin: the Host header must be a
 * loopback name or one of the server's own (--listen, --public-url), which
 * defeats DNS rebinding, and a browser's Origin header, when present, must
 * be http(s)://<the Host header>: a second line behind SameSite=Strict
 * against cross-site requests. */
bool http_session_same_origin(http_req *r);

/* Authenticates r by its session cookie: BINK_ENOTFOUND (nothing set)
 * when the request has no cookie, so the caller goes on with its own
 * rule; BINK_OK with r->caller and r->authenticated set; or an error with
 * r->err filled: 401 for an unknown, expired or malformed session, 403
 * for a cross-origin request, 503 when the database fails. Only users
 * have sessions. Uses ctx->auth_cache like bearer tokens (the digests
 * differ by construction: core/session.h). */
bink_rc http_session_authenticate(http_req *r);

#endif
