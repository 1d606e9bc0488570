/*
 * media.c: MIME type rules, upload file names and download dispositions
 * (see media.h for the standards each follows).
 */
#include "core/media.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------------- */
/* MIME types                                                              */

static const char *const media__aliases[][2] = {
    {"audio/x-wav", "audio/wav"},       {"audio/wave", "audio/wav"},
    {"audio/vnd.wave", "audio/wav"},    {"audio/x-m4a", "audio/mp4"},
    {"audio/m4a", "audio/mp4"},         {"audio/x-flac", "audio/flac"},
    {"audio/x-mpeg", "audio/mpeg"},     {"audio/mp3", "audio/mpeg"},
    {"audio/x-ogg", "audio/ogg"},       {"image/jpg", "image/jpeg"},
    {"image/pjpeg", "image/jpeg"},      {"image/x-ms-bmp", "image/bmp"},
    {"image/x-webp", "image/webp"},     {"video/x-quicktime", "video/quicktime"},
    {"video/x-webm", "video/webm"},     {"audio/x-hx-aac-adts", "audio/aac"},
};

static const char *const media__image[] = {"image/jpeg", "image/png",
                                           "image/gif", "image/webp", NULL};
static const char *const media__video[] = {"video/mp4", "video/quicktime",
                                           "video/webm", NULL};
static const char *const media__audio[] = {"audio/mpeg", "audio/wav",
                                           "audio/mp4",  "audio/ogg",
                                           "application/ogg", "audio/flac",
                                           NULL};

char *media_mime_canon(const char *in, size_t n, char *out, size_t cap) {
  static const char fallback[] = "application/octet-stream";
  size_t i = 0, o = 0;
  while (i < n && (in[i] == ' ' || in[i] == '\t'))
    i++;
  while (i < n && in[i] != ';' && in[i] != ' ' && in[i] != '\t' &&
         o + 1 < cap) {
    unsigned char ch = (unsigned char)in[i++];
    if (ch < 0x21 || ch > 0x7e) {
      o = 0;
      break;
    }
    out[o++] = (char)tolower(ch);
  }
  if (cap)
    out[o < cap ? o : cap - 1] = '\0';
  if (o == 0 || !memchr(out, '/', o)) {
    snprintf(out, cap, "%s", fallback);
    return out;
  }
  for (size_t a = 0; a < sizeof media__aliases / sizeof media__aliases[0];
       a++)
    if (strcmp(out, media__aliases[a][0]) == 0) {
      snprintf(out, cap, "%s", media__aliases[a][1]);
      break;
    }
  return out;
}

static bool media__in(const char *const *list, const char *mime) {
  for (; *list; list++)
    if (strcmp(*list, mime) == 0)
      return true;
  return false;
}

bool media_type_fits(bink_msg_type type, const char *mime) {
  switch (type) {
  case BINK_MSG_IMAGE:
    return media__in(media__image, mime);
  case BINK_MSG_VIDEO:
    return media__in(media__video, mime);
  case BINK_MSG_AUDIO:
    return media__in(media__audio, mime);
  case BINK_MSG_FILE:
    return mime && *mime;
  default:
    return false;
  }
}

const char *media_type_accepts(bink_msg_type type) {
  switch (type) {
  case BINK_MSG_IMAGE:
    return "image/jpeg, image/png, image/gif, image/webp";
  case BINK_MSG_VIDEO:
    return "video/mp4, video/quicktime, video/webm";
  case BINK_MSG_AUDIO:
    return "audio/mpeg, audio/wav, audio/mp4, audio/ogg, audio/flac";
  case BINK_MSG_FILE:
    return "any type";
  default:
    return "";
  }
}

bool media_sticker_type_ok(const char *mime) {
  return strcmp(mime, "image/png") == 0 || strcmp(mime, "image/webp") == 0 ||
         strcmp(mime, "image/gif") == 0;
}

bool media_inline_ok(const char *mime) {
  return media__in(media__image, mime) || media__in(media__video, mime) ||
         media__in(media__audio, mime);
}

/* ---------------------------------------------------------------------- */
/* File names of uploads                                                   */

static int media__hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* RFC 5987 attr-char: ALPHA / DIGIT / "!" "#" "$" "&" "+" "-" "." "^" "_"
 * "`" "|" "~". */
static bool media__attr_char(unsigned char c) {
  return isalnum(c) || (c && strchr("!#$&+-.^_`|~", c) != NULL);
}

bool media_ext_value_decode(const char *s, size_t n, char *out, size_t cap,
                            size_t *outlen) {
  size_t o = 0;
  *outlen = 0;
  if (cap)
    out[0] = '\0';
  const char *q1 = memchr(s, '\'', n);
  if (!q1)
    return false;
  const char *q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - s));
  if (!q2)
    return false;
  size_t cl = (size_t)(q1 - s);
  bool utf8 = cl == 5 && strncasecmp(s, "UTF-8", 5) == 0;
  bool latin1 = cl == 10 && strncasecmp(s, "ISO-8859-1", 10) == 0;
  if (!utf8 && !latin1)
    return false;
  for (size_t i = (size_t)(q2 + 1 - s); i < n; i++) {
    unsigned char b;
    if (s[i] == '%') {
      int hi = i + 2 < n ? media__hexval(s[i + 1]) : -1;
      int lo = i + 2 < n ? media__hexval(s[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return false;
      b = (unsigned char)(hi << 4 | lo);
      i += 2;
    } else if (media__attr_char((unsigned char)s[i])) {
      b = (unsigned char)s[i];
    } else {
      return false;
    }
    if (latin1 && b >= 0x80) { /* U+0080..U+00FF as two UTF-8 bytes */
      if (o + 3 > cap)
        return false;
      out[o++] = (char)(0xC0 | (b >> 6));
      out[o++] = (char)(0x80 | (b & 0x3F));
      continue;
    }
    if (o + 2 > cap)
      return false;
    out[o++] = (char)b;
  }
  out[o] = '\0';
  if (!bink_utf8_valid(out, o)) {
    out[0] = '\0';
    return false;
  }
  *outlen = o;
  return true;
}

static const char *media__skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
    p++;
  return p;
}

/* RFC 7230 tchar. */
static bool media__tchar(unsigned char c) {
  return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool media_disposition_parse(const char *v, size_t n, media_disposition *out) {
  memset(out, 0, sizeof *out);
  const char *p = v, *end = v + n;
  p = media__skip_ws(p, end);
  const char *t = p;
  while (p < end && media__tchar((unsigned char)*p))
    p++;
  if (p == t)
    return false;
  bool have_plain = false, have_ext = false;
  char plain[sizeof out->filename];
  size_t plain_len = 0;
  for (;;) {
    p = media__skip_ws(p, end);
    if (p == end)
      break;
    if (*p != ';')
      return false;
    p = media__skip_ws(p + 1, end);
    if (p == end)
      break; /* a trailing ';' is tolerated */
    const char *k = p;
    while (p < end && media__tchar((unsigned char)*p) && *p != '*')
      p++;
    bool star = p < end && *p == '*';
    size_t klen = (size_t)(p - k);
    if (star)
      p++;
    p = media__skip_ws(p, end);
    if (klen == 0 || p == end || *p != '=')
      return false;
    p = media__skip_ws(p + 1, end);
    char val[sizeof out->filename];
    size_t vl = 0;
    bool too_long = false;
    if (p < end && *p == '"') {
      p++;
      while (p < end && *p != '"') {
        char ch = *p++;
        if (ch == '\\' && p < end && (*p == '"' || *p == '\\'))
          ch = *p++;
        if (vl + 1 < sizeof val)
          val[vl++] = ch;
        else
          too_long = true;
      }
      if (p == end)
        return false; /* no closing quote */
      p++;
    } else {
      while (p < end && *p != ';' && *p != ' ' && *p != '\t') {
        if (vl + 1 < sizeof val)
          val[vl++] = *p;
        else
          too_long = true;
        p++;
      }
    }
    val[vl] = '\0';
    if (klen == 4 && !star && strncasecmp(k, "name", 4) == 0 &&
        !out->has_name) {
      if (vl < sizeof out->name) {
        memcpy(out->name, val, vl + 1);
        out->has_name = true;
      }
    } else if (klen == 8 && strncasecmp(k, "filename", 8) == 0 && !too_long) {
      if (star && !have_ext) {
        size_t dl;
        if (media_ext_value_decode(val, vl, out->filename,
                                   sizeof out->filename, &dl)) {
          have_ext = true;
          out->filename_len = dl;
        }
      } else if (!star && !have_plain && bink_utf8_valid(val, vl)) {
        memcpy(plain, val, vl + 1);
        plain_len = vl;
        have_plain = true;
      }
    }
  }
  if (have_ext) {
    out->has_filename = out->from_ext = true;
  } else if (have_plain) {
    memcpy(out->filename, plain, plain_len + 1);
    out->filename_len = plain_len;
    out->has_filename = true;
  }
  return true;
}

/* Length of the UTF-8 sequence starting with byte b (1 for ASCII and for
 * bytes that cannot start one). */
static size_t media__seq_len(unsigned char b) {
  return b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
}

/* True when the code point s[0..l) (one UTF-8 sequence) must not appear
 * in a stored or sent file name: C0 and C1 controls, DEL, and the
 * bidirectional controls that reorder what a user sees (ALM U+061C,
 * LRM/RLM U+200E/U+200F, embeddings and overrides U+202A..U+202E,
 * isolates U+2066..U+2069). */
static bool media__unsafe_cp(const unsigned char *s, size_t l) {
  if (l == 1)
    return s[0] < 0x20 || s[0] == 0x7f;
  if (l == 2)
    return (s[0] == 0xC2 && s[1] <= 0x9F) || /* U+0080..U+009F */
           (s[0] == 0xD8 && s[1] == 0x9C);   /* U+061C */
  if (l == 3 && s[0] == 0xE2 && s[1] == 0x80)
    return s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xAA && s[2] <= 0xAE);
  if (l == 3 && s[0] == 0xE2 && s[1] == 0x81)
    return s[2] >= 0xA6 && s[2] <= 0xA9;
  return false;
}

/* Appends s[0..n) (valid UTF-8) to out at *o, each unsafe code point as
 * '_'. */
static void media__copy_safe(const char *s, size_t n, char *out, size_t *o) {
  for (size_t i = 0; i < n;) {
    size_t l = media__seq_len((unsigned char)s[i]);
    if (l > n - i)
      l = n - i;
    if (media__unsafe_cp((const unsigned char *)s + i, l)) {
      out[(*o)++] = '_';
    } else {
      memcpy(out + *o, s + i, l);
      *o += l;
    }
    i += l;
  }
}

/* Largest k <= limit such that s[0..k) ends at a code point boundary. */
static size_t media__cut(const char *s, size_t n, size_t limit) {
  if (n <= limit)
    return n;
  size_t k = limit;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
    k--;
  return k;
}

size_t media_filename_clean(const char *s, size_t n,
                            char out[MEDIA_NAME_MAX + 1]) {
  static const char fallback[] = "file";
  size_t start = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == '/' || s[i] == '\\')
      start = i + 1;
  s += start;
  n -= start;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  while (n && (s[0] == ' ' || s[0] == '\t'))
    s++, n--;
  if (n == 0 || (n == 1 && s[0] == '.') ||
      (n == 2 && s[0] == '.' && s[1] == '.') || memchr(s, '\0', n) ||
      !bink_utf8_valid(s, n)) {
    memcpy(out, fallback, sizeof fallback);
    return sizeof fallback - 1;
  }
  /* Keep an extension of up to 16 bytes when the name must be cut. */
  size_t keep_ext = 0;
  if (n > MEDIA_NAME_MAX) {
    const char *dot = NULL;
    for (size_t i = n; i > 0 && n - i < 17; i--)
      if (s[i - 1] == '.') {
        dot = s + i - 1;
        break;
      }
    if (dot && dot > s)
      keep_ext = (size_t)(s + n - dot);
  }
  size_t stem = media__cut(s, n - keep_ext, MEDIA_NAME_MAX - keep_ext);
  size_t o = 0; /* replacing only ever shortens: o <= MEDIA_NAME_MAX */
  media__copy_safe(s, stem, out, &o);
  media__copy_safe(s + n - keep_ext, keep_ext, out, &o);
  out[o] = '\0';
  return o;
}

/* ---------------------------------------------------------------------- */
/* Downloads                                                               */

bool media_content_disposition(const char *name, bool inline_ok, char *out,
                               size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(name), o = 0;
  int w = snprintf(out, cap, "%s; filename=\"",
                   inline_ok ? "inline" : "attachment");
  if (w < 0 || (size_t)w >= cap)
    return false;
  o = (size_t)w;
  /* The quoted ASCII fallback (RFC 6266 appendix D); `same` while it
   * spells the name exactly. */
  bool same = true;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)name[i];
    size_t l = media__seq_len(c);
    if (l > n - i)
      l = n - i;
    char rep = (l > 1 || c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
                c == '%')
                   ? '_'
                   : (char)c;
    if (rep != (char)c)
      same = false;
    if (o + 2 >= cap)
      return false;
    out[o++] = rep;
    i += l;
  }
  out[o++] = '"';
  if (!same) { /* the real name (RFC 5987 / RFC 8187 ext-value) */
    static const char ext[] = "; filename*=UTF-8''";
    if (o + sizeof ext >= cap)
      return false;
    memcpy(out + o, ext, sizeof ext - 1);
    o += sizeof ext - 1;
    for (size_t i = 0; i < n;) {
      size_t l = media__seq_len((unsigned char)name[i]);
      if (l > n - i)
        l = n - i;
      bool unsafe = media__unsafe_cp((const unsigned char *)name + i, l);
      for (size_t j = 0; j < (unsafe ? 1 : l); j++) {
        unsigned char c = unsafe ? (unsigned char)'_'
                                 : (unsigned char)name[i + j];
        if (o + 4 >= cap)
          return false;
        if (media__attr_char(c)) {
          out[o++] = (char)c;
        } else {
          out[o++] = '%';
          out[o++] = hex[c >> 4];
          out[o++] = hex[c & 15];
        }
      }
      i += l;
    }
  }
  if (o >= cap)
    return false;
  out[o] = '\0';
  return true;
}

void media_hex(const unsigned char digest[BINK_SHA256_LEN],
               char out[MEDIA_SHA256_HEX]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < BINK_SHA256_LEN; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[2 * BINK_SHA256_LEN] = '\0';
}

bool media_set_name_valid(const char *s, size_t n) {
  if (n < 1 || n > MEDIA_SET_MAX - 1)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_')
      return false;
  return true;
}

/* True when s[0..n) is non-empty valid UTF-8 without ASCII characters. */
static bool media__all_non_ascii(const char *s, size_t n) {
  if (n == 0 || !bink_utf8_valid(s, n))
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x80)
      return false;
  return true;
}

bool media_emoji_from_name(const char *name, size_t n,
                           char out[MEDIA_EMOJI_MAX]) {
  out[0] = '\0';
  size_t stem = n;
  for (size_t i = n; i > 0; i--)
    if (name[i - 1] == '.') {
      stem = i - 1;
      break;
    }
  size_t from = 0;
  if (!media__all_non_ascii(name, stem)) {
    for (size_t i = stem; i > 0; i--)
      if (name[i - 1] == '_' || name[i - 1] == '-') {
        from = i;
        break;
      }
    if (from == 0 || !media__all_non_ascii(name + from, stem - from))
      return false;
  }
  size_t len = stem - from;
  if (len >= MEDIA_EMOJI_MAX)
    return false;
  memcpy(out, name + from, len);
  out[len] = '\0';
  return true;
}
