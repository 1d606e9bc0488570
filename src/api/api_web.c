/* api_web.c: the web sandbox's page, its files and its sign-in (api_web.h). */
#include "api/api_web.h"

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "ctx.h"
#include "http/session.h"
#include "svc/sessions.h"

/* Scripts, styles and everything else from this server only: no inline
 * script or style, no eval, no plugins, no framing. Pictures and media may
 * also be blob: (previews of a file being sent) and data: (tiny icons). */
#define WEB__CSP                                                              \
  "default-src 'self'; script-src 'self'; style-src 'self'; "                 \
  "img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; "  \
  "font-src 'self'; object-src 'none'; base-uri 'none'; "                     \
  "form-action 'self'; frame-ancestors 'none'"

const char *api_web_content_type(const char *name) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  const char *dot = strrchr(name, '.');
  if (dot)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcasecmp(dot, types[i].ext) == 0)
        return types[i].type;
  return "application/octet-stream";
}

static const api_web_asset *api_web__find(const char *name) {
  for (const api_web_asset *a = api_web_assets; a->name; a++)
    if (strcmp(a->name, name) == 0)
      return a;
  return NULL;
}

/* If-None-Match holds etag (or "*"): weak comparison, RFC 7232 3.2. */
static bool api_web__not_modified(http_req *r, const char *etag) {
  const char *inm = http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (!inm)
    return false;
  size_t el = strlen(etag);
  for (const char *p = inm; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return true;
    if (strncmp(p, "W/", 2) == 0)
      p += 2;
    size_t n = strcspn(p, ",");
    size_t t = n;
    while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
      t--;
    if (t == el && memcmp(p, etag, el) == 0)
      return true;
    p += n;
  }
  return false;
}

static void api_web__headers(struct MHD_Response *resp,
                             const api_web_asset *a) {
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
  /* Always revalidated (a 304 costs little), so a new binkd never serves
   * a page with the scripts of the old one. */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "Content-Security-Policy", WEB__CSP);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static bink_rc api_web__serve(http_req *r, const char *name) {
  const api_web_asset *a = api_web__find(name);
  if (!a)
    return http_fail(r, BINK_ENOTFOUND, "no such file: /web/%.100s", name);
  if (api_web__not_modified(r, a->etag)) {
    struct MHD_Response *nm =
        MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (nm)
      api_web__headers(nm, a);
    return http_reply_raw(r, MHD_HTTP_NOT_MODIFIED, nm);
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
  if (!resp)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          api_web_content_type(a->name));
  api_web__headers(resp, a);
  return http_reply_raw(r, MHD_HTTP_OK, resp);
}

bink_rc api_web_index(http_req *r) { return api_web__serve(r, "index.html"); }

bink_rc api_web_file(http_req *r) {
  static const char prefix[] = "/web/";
  const char *path = http_path(r);
  const char *name = strlen(path) >= sizeof prefix - 1
                         ? path + sizeof prefix - 1
                         : "";
  return api_web__serve(r, name);
}

/* ---------------------------------------------------------------------- */
/* Sign-in                                                                 */

/* The envelope of a 200 reply with a Set-Cookie header (http_reply cannot
 * add headers). Steals data. */
static bink_rc api_web__reply_cookie(http_req *r, json_t *data,
                                     const char *cookie) {
  json_t *env = data ? json_pack("{s:i, s:s, s:o}", "code", 200, "msg", "ok",
                                 "data", data)
                     : NULL;
  char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
  json_decref(env);
  if (!body)
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      strlen(body), body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return http_fail(r, BINK_EINTERNAL, "out of memory");
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "application/json; charset=utf-8");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
  return http_reply_raw(r, MHD_HTTP_OK, resp);
}

/* "; Secure" when the server is reached over HTTPS (--public-url). */
static const char *api_web__secure(http_req *r) {
  return strncasecmp(r->ctx->cfg->public_url, "https://", 8) == 0
             ? "; Secure"
             : "";
}

static bink_rc api_web__login_done(http_req *r) {
  svc_login *op = r->state;
  char cookie[BINK_TOKEN_LEN + 160];
  snprintf(cookie, sizeof cookie,
           BINK_SESSION_COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; "
                               "SameSite=Strict%s",
           op->token, BINK_SESSION_TTL, api_web__secure(r));
  OPENSSL_cleanse(op->token, sizeof op->token);
  json_t *data = r->out;
  r->out = NULL;
  bink_rc rc = api_web__reply_cookie(r, data, cookie);
  OPENSSL_cleanse(cookie, sizeof cookie);
  return rc;
}

bink_rc api_app_login(http_req *r) {
  if (!http_session_same_origin(r))
    return http_fail(r, BINK_EFORBIDDEN,
                     "sign in from this server's own page (Origin does not "
                     "match Host)");
  API_OP(svc_login, op);
  op->x.caller = NULL;
  API_TRY(http_param_str(r, "username", true, &op->username));
  op->open_registration = r->ctx->cfg->open_registration;
  r->state = op;
  return http_defer(r, svc_login_job, op, api_web__login_done);
}

static bink_rc api_web__logout_done(http_req *r) {
  char cookie[160];
  snprintf(cookie, sizeof cookie,
           BINK_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
                               "SameSite=Strict%s",
           api_web__secure(r));
  json_t *data = r->out ? r->out : json_pack("{s:b}", "signed_out", 1);
  r->out = NULL;
  return api_web__reply_cookie(r, data, cookie);
}

bink_rc api_app_logout(http_req *r) {
  if (!http_session_same_origin(r))
    return http_fail(r, BINK_EFORBIDDEN,
                     "sign out from this server's own page (Origin does not "
                     "match Host)");
  const char *v = http_session_cookie(r);
  size_t n = v ? strlen(v) : 0;
  if (!v || !bink_session_token_shape(v, n))
    return api_web__logout_done(r); /* nothing to end; clear it anyway */
  API_OP(svc_logout, op);
  op->x.caller = NULL;
  bink_session_digest(v, n, op->digest);
  return http_defer(r, svc_logout_job, op, api_web__logout_done);
}
