/*
 * session.h: the web sandbox's sign-in sessions (docs/web.md), the rules
 * without I/O.
 *
 * A session token is "s1." followed by 43 characters of base64url of 32
 * random bytes (the shape of a user token with another letter). The browser
 * holds it in the HttpOnly cookie `bink_session`; the database holds only
 * its digest, which is SHA-256 over a domain tag and the token, so that a
 * session digest never equals a token digest: a session token offered as a
 * Bearer token, or a user token offered as the cookie, is refused, even by
 * the in-memory cache that maps digests to accounts.
 */
#ifndef BINK_CORE_SESSION_H
#define BINK_CORE_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/result.h"
#include "core/rules.h"

#define BINK_SESSION_COOKIE "bink_session"
#define BINK_SESSION_TTL (30 * 24 * 3600) /* seconds a session lives */

/* Makes a new session token into out (NUL-terminated). BINK_OK, or
 * BINK_EINTERNAL when the CSPRNG fails. */
bink_rc bink_session_token_new(char out[BINK_TOKEN_LEN + 1]);

/* True when t[0..n) has the shape of a session token (cheap check before
 * any lookup). */
bool bink_session_token_shape(const char *t, size_t n);

/* The stored digest of a session token t[0..n). */
void bink_session_digest(const char *t, size_t n,
                         unsigned char out[BINK_SHA256_LEN]);

#endif
