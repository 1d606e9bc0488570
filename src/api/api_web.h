/*
 * api_web.h: the web sandbox (docs/web.md, server.md "The web sandbox").
 *
 *   GET  /                 the page (web/index.html)
 *   GET  /web/<file>       its static files (the web/ directory), compiled by
 *                          cmake/web_embed.cmake: Content-Type by extension,
 *                          an ETag from the file's SHA-256 (If-None-Match
 *                          gives 304), Cache-Control: no-cache, and a strict
 *                          Content-Security-Policy
 *   POST /app/login        {username} -> the profile; sets the HttpOnly,
 *                          SameSite=Strict cookie bink_session (sandbox
 *                          mode: a new name registers, unless
 *                          --no-open-registration)
 *   POST /app/logout       ends the cookie's session and clears it
 */
#ifndef BINK_API_WEB_H
#define BINK_API_WEB_H

#include <stddef.h>

#include "http/http.h"

/* One embedded file; the generated table ends with name == NULL. */
typedef struct api_web_asset {
  const char *name;           /* file name under web/, e.g. "app.js" */
  const unsigned char *data;
  size_t len;
  const char *etag;           /* quoted, from the SHA-256 of the bytes */
} api_web_asset;

/* The generated table (build/gen/web_assets.c). */
extern const api_web_asset api_web_assets[];

/* The Content-Type of a file name by its extension
 * ("application/octet-stream" when unknown). */
const char *api_web_content_type(const char *name);

bink_rc api_web_index(http_req *r);
bink_rc api_web_file(http_req *r);
bink_rc api_app_login(http_req *r);
bink_rc api_app_logout(http_req *r);

#endif
