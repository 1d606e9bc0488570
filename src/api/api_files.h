/*
 * api_files.h: the endpoints of files and stickers (api_files.c).
 *
 *   POST /bot/uploadfile, POST /app/uploadfile   multipart/form-data, part
 *        `file` (HTTP_ROUTE_UPLOAD): {"file_id","file_name","mime_type",
 *        "file_size","sha256"}
 *   POST /bot/getfile, POST /app/getfile          {file_id} -> metadata and
 *        download_url
 *   GET  /file/{file_id}                          the bytes, for a bot's or a
 *        user's bearer token (RFC 7232 ETag / If-None-Match, RFC 7233
 *        single byte ranges, RFC 6266 Content-Disposition)
 *   GET|POST /app/stickers                        the sticker catalogue
 */
#ifndef BINK_API_FILES_H
#define BINK_API_FILES_H

#include "http/http.h"

bink_rc api_uploadfile(http_req *r);
bink_rc api_getfile(http_req *r);
bink_rc api_file_download(http_req *r);
bink_rc api_app_stickers(http_req *r);

#endif
