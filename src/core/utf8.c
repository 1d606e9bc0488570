/*
 * utf8.c: UTF-8 validation, code-point counting and blank detection
 * (RFC 3629, Unicode's White_Space property).
 */
#include "core/rules.h"

/* Decodes the code point at s[*i..len) and advances *i past it. Returns -1,
 * leaving *i alone, when the sequence there is ill-formed: a stray
 * continuation byte, an overlong form, a surrogate, a value above U+10FFFF
 * or a sequence cut short. NUL decodes as 0; callers decide about it. */
static int32_t utf8__decode(const unsigned char *s, size_t len, size_t *i)
{
  size_t at = *i;
  unsigned char b = s[at];
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  size_t n;
  int32_t cp;

  if(b < 0x80) {
    *i = at + 1;
    return b;
  }
  if(b >= 0xC2 && b <= 0xDF) {
    n = 2;
    cp = b & 0x1F;
  }
  else if(b >= 0xE0 && b <= 0xEF) {
    n = 3;
    cp = b & 0x0F;
    if(b == 0xE0)
      lo = 0xA0; /* overlong below U+0800 */
    else if(b == 0xED)
      hi = 0x9F; /* surrogates U+D800..U+DFFF */
  }
  else if(b >= 0xF0 && b <= 0xF4) {
    n = 4;
    cp = b & 0x07;
    if(b == 0xF0)
      lo = 0x90; /* overlong below U+10000 */
    else if(b == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  }
  else {
    return -1; /* continuation byte, C0, C1 or F5..FF */
  }
  if(len - at < n)
    return -1;
  if(s[at + 1] < lo || s[at + 1] > hi)
    return -1;
  cp = (cp << 6) | (s[at + 1] & 0x3F);
  for(size_t k = 2; k < n; k++) {
    if((s[at + k] & 0xC0) != 0x80)
      return -1;
    cp = (cp << 6) | (s[at + k] & 0x3F);
  }
  *i = at + n;
  return cp;
}

static bool utf8__is_space(int32_t cp)
{
  switch(cp) {
  case 0x0009: case 0x000A: case 0x000B: case 0x000C: case 0x000D:
  case 0x0020: case 0x0085: case 0x00A0: case 0x1680:
  case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
    return true;
  default:
    return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool bink_utf8_valid(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;

  while(i < len) {
    if(u[i] >= 0x01 && u[i] < 0x80) {
      i++;
      continue;
    }
    if(utf8__decode(u, len, &i) <= 0)
      return false; /* ill-formed, or NUL */
  }
  return true;
}

size_t bink_utf8_count(const char *s, size_t len)
{
  size_t n = 0;

  for(size_t i = 0; i < len; i++) {
    if(((unsigned char)s[i] & 0xC0) != 0x80)
      n++;
  }
  return n;
}

bool bink_utf8_is_blank(const char *s, size_t len)
{
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;

  while(i < len) {
    int32_t cp = utf8__decode(u, len, &i);
    if(cp < 0 || !utf8__is_space(cp))
      return false;
  }
  return true;
}
