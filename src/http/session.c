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

/* The host part of "host[:port]" or "[v6]:port" into out (lower case). */
static void session__host_only(const char *hostport, char *out, size_t cap) {
  size_t n = strlen(hostport);
  if (hostport[0] == '[') {
    const char *end = strchr(hostport, ']');
    n = end ? (size_t)(end - hostport) + 1 : n;
  } else {
    const char *colon = strchr(hostport, ':');
    if (colon)
      n = (size_t)(colon - hostport);
  }
  if (n >= cap)
    n = cap - 1;
  for (size_t i = 0; i < n; i++)
    out[i] = (char)((hostport[i] >= 'A' && hostport[i] <= 'Z')
                        ? hostport[i] + 32
                        : hostport[i]);
  out[n] = '\0';
}

/* Pages may be served under a name that an attacker controls (DNS
 * rebinding): only loopback names and the server's own configured names
 * (--listen, --public-url) may carry the session. */
static bool session__host_allowed(http_req *r, const char *host) {
  char h[256], mine[256];
  session__host_only(host, h, sizeof h);
  if (strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 ||
      strcmp(h, "[::1]") == 0)
    return true;
  session__host_only(r->ctx->cfg->listen, mine, sizeof mine);
  if (mine[0] && strcmp(h, mine) == 0)
    return true;
  const char *pub = r->ctx->cfg->public_url;
  const char *p = strstr(pub, "://");
  if (p) {
    session__host_only(p + 3, mine, sizeof mine);
    char *slash = strchr(mine, '/');
    if (slash)
      *slash = '\0';
    if (mine[0] && strcmp(h, mine) == 0)
      return true;
  }
  return false;
}

bool http_session_same_origin(http_req *r) {
  const char *host = http_header(r, MHD_HTTP_HEADER_HOST);
  if (!host || !*host || !session__host_allowed(r, host))
    return false;
  const char *origin = http_header(r, "Origin");
  if (!origin)
    return true; /* not a browser's cross-origin request */
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
                     "own pages at its own address (see --public-url)");
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
