/*
 * media.h: the rules of files, media messages and stickers that need no
 * I/O (bot-api.md "uploadfile", "sendmessage", "getfile"; server.md
 * "Storage: files"):
 *
 * - which sniffed MIME types fit which message type (image, video, audio,
 *   file), and the canonical spelling of the aliases libmagic reports;
 * - the file name of an upload: the parameters of a multipart part's
 *   Content-Disposition (RFC 7578 section 4.2, RFC 6266 section 4), with
 *   the RFC 5987 / RFC 8187 extended form `filename*=UTF-8''%E6%8B%9B.pdf`
 *   decoded and preferred, reduced to its last path component and to at
 *   most MEDIA_NAME_MAX bytes of UTF-8;
 * - the Content-Disposition of a download (RFC 6266 section 4.3 with an
 *   ASCII `filename` fallback and the RFC 5987 `filename*` form).
 *
 * Strings are (pointer, length) pairs unless said otherwise; outputs are
 * NUL-terminated into caller buffers of the stated capacity.
 */
#ifndef BINK_CORE_MEDIA_H
#define BINK_CORE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/rules.h"

#define MEDIA_NAME_MAX 255      /* bytes of a stored file name */
#define MEDIA_MIME_MAX 128      /* bytes of a MIME type, with the NUL */
#define MEDIA_SHA256_HEX 65     /* 64 hex digits + NUL */
#define MEDIA_SET_MAX 65        /* sticker set name: 1..64 bytes + NUL */
#define MEDIA_EMOJI_MAX 64      /* bytes of a sticker's emoji + NUL */
#define MEDIA_DISPOSITION_MAX 8192 /* bytes of a Content-Disposition value
                                       (and of a raw filename) we parse */

/* A stored upload: one record per upload (file_id), the bytes shared by
 * SHA-256 under <data>/files/ab/cd/<sha256>. owner_id 0: a file of the
 * server (a sticker image). */
typedef struct bink_file {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  char ext_id[BINK_ID_MAX];           /* "file_…" */
  int64_t owner_id;                   /* the uploading account's row key */
  char sha256[MEDIA_SHA256_HEX];      /* lower-case hex */
  int64_t size;                       /* bytes, >= 1 */
  char mime_type[MEDIA_MIME_MAX];     /* sniffed, canonical (media_mime_canon) */
  char file_name[MEDIA_NAME_MAX + 1]; /* UTF-8, no path, no controls */
  int64_t created_at;                 /* Unix seconds */
} bink_file;

/* An entry of the sticker catalogue; its image is the file record file_id.
 * Loads fill the image's mime_type, sha256 and size too. */
typedef struct bink_sticker {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  char ext_id[BINK_ID_MAX];        /* "sticker_…" */
  char set_name[MEDIA_SET_MAX];
  char name[MEDIA_NAME_MAX + 1];   /* the image's file name in its set */
  char emoji[MEDIA_EMOJI_MAX];
  int64_t file_id;                 /* row key of the image's file record */
  int64_t created_at;
  /* of the image (read only) */
  char mime_type[MEDIA_MIME_MAX];
  char sha256[MEDIA_SHA256_HEX];
  int64_t size;
} bink_sticker;

/* ---- MIME types ---- */

/* Writes the canonical form of the MIME type in[0..n) into out (cap bytes,
 * NUL-terminated): lower case, parameters (";…") and blanks dropped, and
 * the aliases libmagic reports mapped to their common names
 * (audio/x-wav -> audio/wav, audio/x-m4a -> audio/mp4, audio/x-flac ->
 * audio/flac, image/x-ms-bmp -> image/bmp, …). An empty or unusable input
 * gives "application/octet-stream". Returns out. */
char *media_mime_canon(const char *in, size_t n, char *out, size_t cap);

/* True when a file of canonical MIME type `mime` (NUL-terminated) may be
 * sent as a message of `type` (bot-api.md "sendmessage", Media):
 *   image: image/jpeg, image/png, image/gif, image/webp
 *   video: video/mp4, video/quicktime, video/webm
 *   audio: audio/mpeg, audio/wav, audio/mp4 (m4a), audio/ogg,
 *          application/ogg, audio/flac
 *   file:  anything
 * False for every other message type. */
bool media_type_fits(bink_msg_type type, const char *mime);

/* The list above for `type` as text ("image/jpeg, image/png, …"), for
 * error messages; "" for types that carry no file. */
const char *media_type_accepts(bink_msg_type type);

/* True for the types a sticker image may have: image/png, image/webp,
 * image/gif. */
bool media_sticker_type_ok(const char *mime);

/* True when a download of this type may be shown inline by a browser (the
 * media types above; never HTML, SVG or scripts). */
bool media_inline_ok(const char *mime);

/* ---- file names of uploads ---- */

/* RFC 5987 section 3.2 (RFC 8187 section 3.2) ext-value:
 *   charset "'" [ language ] "'" value-chars
 * with charset UTF-8 or ISO-8859-1 (case-insensitive; Latin-1 is converted
 * to UTF-8) and value-chars percent-encoded octets and attr-chars. Decodes
 * s[0..n) into out (cap bytes, NUL-terminated, *outlen bytes without it).
 * Returns false (out = "") on a syntax error, another charset, a result
 * that is not valid UTF-8 or holds NUL, or one that does not fit. */
bool media_ext_value_decode(const char *s, size_t n, char *out, size_t cap,
                            size_t *outlen);

/* The parameters of a Content-Disposition field value (RFC 6266 section
 * 4.1 grammar, also used by RFC 7578 section 4.2 for form parts):
 *   disposition-type *( ";" param ), param = token "=" ( token | quoted )
 * Parameter names are case-insensitive (NAME=, Filename=) and values may
 * be tokens or quoted strings (RFC 7578 section 4.2, RFC 2183). In quoted
 * strings a backslash escapes only '"' and '\' (so Windows paths sent
 * unescaped survive). A filename of up to MEDIA_DISPOSITION_MAX bytes is
 * kept whole, for media_filename_clean to cut. */
typedef struct media_disposition {
  bool has_name;
  char name[128];                    /* name="…" (the form field) */
  bool has_filename;                 /* filename or filename* usable */
  char filename[MEDIA_DISPOSITION_MAX + 1]; /* raw, before
                                               media_filename_clean */
  size_t filename_len;
  bool from_ext;                     /* filename came from filename* */
} media_disposition;

/* Parses v[0..n) into *out (cleared first). filename* (RFC 5987) wins over
 * filename when it decodes; a filename that is not valid UTF-8 is left
 * out (has_filename false). Returns false when v has no disposition type
 * or a parameter is malformed (out holds what was parsed before). */
bool media_disposition_parse(const char *v, size_t n, media_disposition *out);

/* The stored name of an uploaded file from the client's name s[0..n)
 * (valid UTF-8 or not): the last path component (after '/' or '\'),
 * control characters (U+0000..U+001F, U+007F, U+0080..U+009F) and the
 * invisible bidirectional controls that can disguise an extension
 * ("photo<U+202E>gpj.exe" shown as "photoexe.jpg": U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) replaced by '_', at most
 * MEDIA_NAME_MAX bytes cut at a code point boundary keeping an extension of
 * up to 16 bytes; "" , ".", ".." or invalid UTF-8 give "file". out must
 * hold MEDIA_NAME_MAX + 1 bytes. Returns the length written. */
size_t media_filename_clean(const char *s, size_t n,
                            char out[MEDIA_NAME_MAX + 1]);

/* ---- downloads ---- */

/* The Content-Disposition value for a download of `name` (NUL-terminated
 * UTF-8) per RFC 6266 section 4.3 / appendix D:
 *   <type>; filename="<ASCII fallback>"; filename*=UTF-8''<pct-encoded>
 * where type is "inline" or "attachment", the fallback replaces every
 * non-ASCII code point, '"', '\\', '%' and control by '_', and filename*
 * (which keeps the real name) is sent whenever the fallback differs from
 * the name; bidirectional controls (see media_filename_clean) become '_'
 * in both. Returns false when out (cap bytes) is too small;
 * 4 * 255 * 3 + 64 always suffices for a stored name. */
bool media_content_disposition(const char *name, bool inline_ok, char *out,
                               size_t cap);

/* Lower-case hex of a SHA-256 digest into out (65 bytes). */
void media_hex(const unsigned char digest[BINK_SHA256_LEN],
               char out[MEDIA_SHA256_HEX]);

/* True when s is a sticker set name: 1..64 of [A-Za-z0-9_]. */
bool media_set_name_valid(const char *s, size_t n);

/* The emoji of a sticker image from its file name (server.md "binkd
 * stickers import"): the stem (name without extension) when it is all
 * non-ASCII ("😀.png"), else the part after its last '_' or '-' when that
 * part is ("smile_😀.png"). Writes it into out (NUL-terminated) and
 * returns true; false (out = "") when the name holds no emoji part. */
bool media_emoji_from_name(const char *name, size_t n,
                           char out[MEDIA_EMOJI_MAX]);

#endif
