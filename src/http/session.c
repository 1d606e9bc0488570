/* session.c: cookie authentication for the web sandbox (session.h). */
#include "http/session.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/session.h"
#include "ctx.h"
#include "http/authcache.h"

const char *http_session_cookie(http_req *r) {
  return MHD_lookup_connection_value(http_connection(r), MHD_COOKIE_KIND,
                                     BINK_SESSION_COOKIE);
}

bool http_session_same_origin(http_req *r) {
  const char *origin = http_header(r, "Origin");
  if (!origin)
    return true; /* not a browser's cross-origin request */
  const char *host = http_header(r, MHD_HTTP_HEADER_HOST);
  if (!host || !*host)
    return false;
  const char *rest = NULL;
  if (strncasecmp(origin, "http://", 7) == 0)
    rest = origin + 7;
  else if (strncasecmp(origin, "https://", 8) == 0)
    rest = origin + 8;
  return rest && strcasecmp(rest, host) == 0;
}

bink_rc http_session_authenticate(http_req *r) {
  const char *v = http_session_cookie(r);
  if (!v)
    return BINK_ENOTFOUND;
  if (!http_session_same_origin(r))
    return http_fail(r, BINK_EFORBIDDEN,
                     "the session cookie is accepted only from this server's "
                     "own pages (Origin does not match Host)");
  size_t n = strlen(v);
  if (!bink_session_token_shape(v, n))
    return http_fail(r, BINK_EAUTH,
                     "invalid session; sign in again (POST /app/login)");
  unsigned char digest[BINK_SHA256_LEN];
  bink_session_digest(v, n, digest);
  authcache *cache = r->ctx->auth_cache;
  if (!cache || !authcache_get(cache, digest, &r->caller)) {
    uint64_t gen = cache ? authcache_generation(cache) : 0;
    store_conn *c = store_reader(r->ctx->st);
    if (!c)
      return http_fail(r, BINK_EUNAVAIL, "storage unavailable");
    bink_rc rc =
        store_session_account(c, digest, (int64_t)time(NULL), &r->caller);
    if (rc == BINK_EUNAVAIL)
      return http_fail(r, rc, "storage unavailable");
    if (rc != BINK_OK || r->caller.is_bot) {
      memset(&r->caller, 0, sizeof r->caller);
      return http_fail(r, BINK_EAUTH,
                       "your session has ended; sign in again "
                       "(POST /app/login)");
    }
    if (cache)
      authcache_put(cache, digest, &r->caller, gen);
  }
  r->authenticated = true;
  return BINK_OK;
}
