/*
 * upload.h: streaming multipart/form-data uploads for server.c (routes
 * with HTTP_ROUTE_UPLOAD). Internal to src/http/.
 *
 * The body is split by libmicrohttpd's post processor (RFC 7578; no parser
 * of our own). The bytes of the part named `file` go to a temporary file
 * (mkstemp in the given directory; written 64 KiB at a time, so that the
 * small pieces libmicrohttpd reads do not each cost a write) while
 * OpenSSL's EVP computes their SHA-256; at most `limit` bytes are
 * accepted. The post processor reads part headers only in part (a quoted,
 * lower-case name="…", no filename*), so a small tap watches the raw
 * stream for the header block that follows each boundary delimiter
 * ("\r\n--" boundary, RFC 2046 section 5.1.1), reads each header line (up
 * to 8 KiB; a longer one is refused, never skipped) and decides which part
 * is `file`; the part data themselves are only ever read from the post
 * processor, which is fed one delimiter at a time so that its parts are
 * the tap's (see http__upload_feed in upload.c). Refused: a second `file`
 * part, a nested multipart part, a post processor call that does not
 * continue the file part (MHD_PostDataIterator offsets).
 */
#ifndef BINK_HTTP_UPLOAD_H
#define BINK_HTTP_UPLOAD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"
#include "http/http.h"

typedef struct http__upload http__upload;

/* Starts an upload for a request whose Content-Type is `content_type`
 * (NULL when absent; type and parameter names are case-insensitive, any
 * parameters may follow the boundary). Returns BINK_OK with *out set;
 * BINK_EMEDIATYPE when the type is not multipart/form-data or has no
 * boundary; BINK_EINVAL when the header is malformed or the boundary is
 * not 2..70 RFC 2046 characters (libmicrohttpd 0.9.75 takes no 1-character
 * boundary); BINK_EINTERNAL when memory runs out. err gets the message.
 * May rewrite the connection's Content-Type value into the form the post
 * processor reads (upload.c). Nothing is created on disk yet. */
bink_rc http__upload_begin(struct MHD_Connection *conn,
                           const char *content_type, const char *tmp_dir,
                           int64_t limit, http__upload **out, bink_err *err);

/* Feeds body bytes. BINK_OK; BINK_ETOOLARGE as soon as the `file` part
 * passes the limit (its temporary file is removed at once); BINK_EINVAL for
 * a malformed body, a second `file` part, a nested multipart part or a
 * part header longer than 8 KiB; BINK_EUNAVAIL when the
 * temporary file cannot be written (logged). After an error the upload
 * takes no more bytes. */
bink_rc http__upload_feed(http__upload *u, const char *data, size_t n,
                          bink_err *err);

/* The body has ended: checks that the multipart body was complete,
 * finishes the digest, fsyncs and closes the temporary file. BINK_OK, or
 * BINK_EINVAL / BINK_EUNAVAIL with err set. */
bink_rc http__upload_finish(http__upload *u, bink_err *err);

/* True when the client has closed the connection (an EOF or a reset is
 * waiting on the socket). libmicrohttpd 0.9.75's epoll mode treats a short
 * read as "drained" and can miss a FIN that arrived with the last bytes;
 * an abandoned upload would then stay open (and its temporary file on
 * disk) until the server stops. Looking after each chunk ends it at once. */
bool http__upload_peer_gone(struct MHD_Connection *conn);

/* What the handler sees (valid until http__upload_free). */
const http_upload *http__upload_public(const http__upload *u);

/* Closes and removes the temporary file if it still exists, frees u.
 * NULL is allowed. */
void http__upload_free(http__upload *u);

#endif
