/*
 * rules.h: the domain rules of bink that need no I/O: UTF-8 and code-point
 * counting, identifiers, tokens, and the validation of every field whose
 * limits bot-api.md ("Text and limits") and app-api.md set.
 *
 * Every check returns BINK_OK or BINK_EINVAL with err->msg naming the field
 * exactly as the caller spelt it in `field` (for example "content",
 * "extra.inline_keyboard[1][0].text", "commands[3].command") and the rule,
 * in one sentence without a trailing period.
 * Lengths of text are in Unicode code points; of callback_data, url and
 * keys in bytes. Strings are (pointer, length) pairs and need not be
 * NUL-terminated unless said otherwise.
 */
#ifndef BINK_CORE_RULES_H
#define BINK_CORE_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

/* ---- limits (bot-api.md "Text and limits"; all configurable) ---- */
typedef struct bink_limits {
  int text_max;            /* text message content, code points: 4096 */
  int caption_max;         /* media caption, code points: 1024 */
  int kb_rows_max;         /* inline keyboard rows: 10 */
  int kb_row_buttons_max;  /* buttons in one row: 8 */
  int kb_buttons_max;      /* buttons in all: 100 */
  int button_text_max;     /* code points: 64 */
  int callback_data_max;   /* bytes: 64 */
  int button_url_max;      /* bytes: 2048 */
  int answer_text_max;     /* answercallback text, code points: 200 */
  int delete_ids_max;      /* message_ids in one delete: 100 */
  int commands_max;        /* entries in a command menu: 100 */
  int command_desc_max;    /* command description, code points: 256 */
  int64_t mute_min;        /* seconds: 30 (0 also allowed: until unmuted) */
  int64_t mute_max;        /* seconds: 31622400 (366 days) */
  int display_name_max;    /* code points: 64 */
  int title_max;           /* group title, code points: 128 */
  int description_max;     /* bot or group description, code points: 512 */
} bink_limits;

/* The defaults of bot-api.md. */
void bink_limits_default(bink_limits *l);

/* ---- UTF-8 ---- */

/* True when s[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms,
 * no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, and no NUL byte. */
bool bink_utf8_valid(const char *s, size_t len);

/* Number of code points in s[0..len), which must be valid UTF-8. */
size_t bink_utf8_count(const char *s, size_t len);

/* True when s[0..len) (valid UTF-8) is empty or holds only characters of
 * Unicode's White_Space property (U+0009..U+000D, U+0020, U+0085, U+00A0,
 * U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). */
bool bink_utf8_is_blank(const char *s, size_t len);

/* ---- identifiers ("Identifiers" in bot-api.md) ----
 * An external id is "<prefix>_<tag><n>": the prefix names the kind, <tag> is
 * BINK_ID_TAG_LEN characters of Crockford base32 (lower case) carrying 64+
 * random bits from a CSPRNG, <n> the row's integer key in base 36 (lower
 * case, no leading zeros, n >= 1). The tag makes ids unguessable; the key
 * keeps inserts append-only. */
typedef enum bink_id_kind {
  BINK_ID_USER = 0, /* "user" */
  BINK_ID_BOT,      /* "bot" */
  BINK_ID_GROUP,    /* "group" */
  BINK_ID_MSG,      /* "msg" */
  BINK_ID_FILE,     /* "file" */
  BINK_ID_STICKER,  /* "sticker" */
  BINK_ID__COUNT
} bink_id_kind;

#define BINK_ID_TAG_LEN 13
#define BINK_ID_MAX 48 /* bytes, including the NUL */

/* Fills tag[0..BINK_ID_TAG_LEN) and NUL-terminates it, from 64 random bits
 * of OpenSSL's RAND_bytes. Returns BINK_OK, or BINK_EINTERNAL when the
 * CSPRNG fails. */
bink_rc bink_id_new_tag(char tag[BINK_ID_TAG_LEN + 1]);

/* Writes "<prefix>_<tag><n>" into out (NUL-terminated). n >= 1. */
void bink_id_format(char out[BINK_ID_MAX], bink_id_kind kind, int64_t n,
                    const char *tag);

/* Parses an external id. On success sets *kind, *n and tag (NUL-terminated)
 * and returns true; false for anything malformed (wrong prefix, short tag,
 * characters outside the alphabets, n < 1 or overflowing int64). */
bool bink_id_parse(const char *s, size_t len, bink_id_kind *kind, int64_t *n,
                   char tag[BINK_ID_TAG_LEN + 1]);

/* bink_id_parse for an id of one kind: false also for another kind (the
 * stores answer BINK_ENOTFOUND then). */
bool bink_id_parse_as(const char *s, size_t len, bink_id_kind want,
                      int64_t *n, char tag[BINK_ID_TAG_LEN + 1]);

/* The prefix of a kind without the underscore ("user", "bot", ...). */
const char *bink_id_prefix(bink_id_kind kind);

/* ---- tokens ("Authentication" in bot-api.md) ----
 * A token is "<u|b>1." followed by 43 characters of base64url (no padding)
 * of 32 random bytes: 'u' for users, 'b' for bots. Only its SHA-256 is
 * stored. */
#define BINK_TOKEN_LEN 46 /* characters, without the NUL */
#define BINK_SHA256_LEN 32

/* Makes a new token into out (NUL-terminated) for a user (is_bot false) or
 * a bot. Returns BINK_OK or BINK_EINTERNAL when the CSPRNG fails. */
bink_rc bink_token_new(char out[BINK_TOKEN_LEN + 1], bool is_bot);

/* SHA-256 of data[0..len) into out (OpenSSL libcrypto). */
void bink_sha256(const void *data, size_t len,
                 unsigned char out[BINK_SHA256_LEN]);

/* Constant-time comparison of two SHA-256 digests (CRYPTO_memcmp). */
bool bink_digest_equal(const unsigned char a[BINK_SHA256_LEN],
                       const unsigned char b[BINK_SHA256_LEN]);

/* ---- field checks ---- */

/* A string field of min..max code points. With blank_is_empty, a value of
 * only white space counts as empty (so it fails when min >= 1).
 * Message: "<field> must be <min>..<max> characters" (or "must not be empty"). */
bink_rc bink_check_text(const char *field, const char *s, size_t len, int min,
                        int max, bool blank_is_empty, bink_err *err);

/* A username of a user or a group: ^[A-Za-z][A-Za-z0-9_]{2,31}$. */
bink_rc bink_check_username(const char *field, const char *s, size_t len,
                            bink_err *err);

/* A bot's username: the user rule, and it ends in "bot" ignoring case. */
bink_rc bink_check_bot_username(const char *field, const char *s, size_t len,
                                bink_err *err);

/* An absolute http or https URL of at most max_bytes bytes with a host,
 * parsed with libcurl's URL API (curl_url), no spaces or control bytes. */
bink_rc bink_check_http_url(const char *field, const char *s, size_t len,
                            size_t max_bytes, bink_err *err);

/* The value of extra.inline_keyboard: an array (<= kb_rows_max) of
 * non-empty arrays (<= kb_row_buttons_max each, <= kb_buttons_max in all)
 * of objects {"text": 1..64 code points, and exactly one of
 * "callback_data": 1..64 bytes or "url": absolute http(s) <= 2048 bytes}.
 * `[]` is valid (no keyboard). Errors name the path, for example
 * "extra.inline_keyboard[1][0].callback_data must be 1..64 bytes". */
bink_rc bink_check_inline_keyboard(const json_t *kb, const bink_limits *l,
                                   bink_err *err);

/* The commands of botapisetcommands: an array (<= commands_max) of objects
 * {"command": one leading '/' stripped, then ^[a-z0-9_]{1,32}$,
 * "description": 1..256 code points}, no command twice. On success *out is a
 * new array of {"command","description"} with the '/' stripped (caller
 * json_decref()s it). On error *out is NULL and the message names the entry,
 * for example "commands[3].command duplicates commands[0]". */
bink_rc bink_commands_normalize(const json_t *in, const bink_limits *l,
                                json_t **out, bink_err *err);

/* A mute duration in seconds: 0 (until unmuted) or mute_min..mute_max. */
bink_rc bink_check_mute_duration(int64_t seconds, const bink_limits *l,
                                 bink_err *err);

/* An Idempotency-Key header value: 1..128 printable ASCII (0x20..0x7E),
 * not starting or ending with a space. */
bool bink_idempotency_key_valid(const char *s, size_t len);

#endif
