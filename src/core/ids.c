/*
 * ids.c: external identifiers, tokens and digests ("Identifiers" and
 * "Authentication" in bot-api.md).
 */
#include "core/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <openssl/rand.h>

static const char *const ids__prefixes[BINK_ID__COUNT] = {
  "user", "bot", "group", "msg", "file", "sticker"
};

/* Crockford's base32 in lower case: no i, l, o or u. */
static const char ids__crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static const char ids__base36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static const char ids__base64url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Bytes of randomness in a token. */
#define IDS_TOKEN_BYTES 32

static bool ids__is_crockford(char c)
{
  return c != '\0' && strchr(ids__crockford, c) != NULL;
}

/* Value of a base-36 digit [0-9a-z], or -1. */
static int ids__base36_value(char c)
{
  if(c >= '0' && c <= '9')
    return c - '0';
  if(c >= 'a' && c <= 'z')
    return c - 'a' + 10;
  return -1;
}

/* Encodes src[0..len) as base64url without padding into out, which must
 * hold (len * 4 + 2) / 3 + 1 bytes; NUL-terminates it. */
static void ids__base64url_encode(char *out, const unsigned char *src,
                                  size_t len)
{
  size_t i = 0;
  char *o = out;

  for(; i + 3 <= len; i += 3) {
    unsigned long v = ((unsigned long)src[i] << 16) |
                      ((unsigned long)src[i + 1] << 8) | src[i + 2];
    *o++ = ids__base64url[(v >> 18) & 63];
    *o++ = ids__base64url[(v >> 12) & 63];
    *o++ = ids__base64url[(v >> 6) & 63];
    *o++ = ids__base64url[v & 63];
  }
  if(len - i == 1) {
    unsigned long v = (unsigned long)src[i] << 16;
    *o++ = ids__base64url[(v >> 18) & 63];
    *o++ = ids__base64url[(v >> 12) & 63];
  }
  else if(len - i == 2) {
    unsigned long v = ((unsigned long)src[i] << 16) |
                      ((unsigned long)src[i + 1] << 8);
    *o++ = ids__base64url[(v >> 18) & 63];
    *o++ = ids__base64url[(v >> 12) & 63];
    *o++ = ids__base64url[(v >> 6) & 63];
  }
  *o = '\0';
}

const char *bink_id_prefix(bink_id_kind kind)
{
  if((int)kind < 0 || kind >= BINK_ID__COUNT)
    return "";
  return ids__prefixes[kind];
}

bink_rc bink_id_new_tag(char tag[BINK_ID_TAG_LEN + 1])
{
  unsigned char raw[8];
  uint64_t v = 0;

  if(RAND_bytes(raw, (int)sizeof(raw)) != 1) {
    tag[0] = '\0';
    return BINK_EINTERNAL;
  }
  for(size_t i = 0; i < sizeof(raw); i++)
    v = (v << 8) | raw[i];
  /* 13 digits of 5 bits hold 65 bits: the first digit carries only 4. */
  for(int i = 0; i < BINK_ID_TAG_LEN; i++)
    tag[i] = ids__crockford[(v >> (5 * (BINK_ID_TAG_LEN - 1 - i))) & 31];
  tag[BINK_ID_TAG_LEN] = '\0';
  OPENSSL_cleanse(raw, sizeof(raw));
  return BINK_OK;
}

void bink_id_format(char out[BINK_ID_MAX], bink_id_kind kind, int64_t n,
                    const char *tag)
{
  char digits[16]; /* INT64_MAX is 13 base-36 digits */
  size_t nd = 0;
  uint64_t v;

  /* A broken precondition yields "", which no parser accepts. */
  out[0] = '\0';
  if((int)kind < 0 || kind >= BINK_ID__COUNT || n < 1 || !tag ||
     strlen(tag) != BINK_ID_TAG_LEN)
    return;
  for(v = (uint64_t)n; v; v /= 36)
    digits[nd++] = ids__base36[v % 36];
  out = out + snprintf(out, BINK_ID_MAX, "%s_%s", ids__prefixes[kind], tag);
  while(nd)
    *out++ = digits[--nd];
  *out = '\0';
}

bool bink_id_parse(const char *s, size_t len, bink_id_kind *kind, int64_t *n,
                   char tag[BINK_ID_TAG_LEN + 1])
{
  const char *us;
  const char *p;
  const char *end;
  size_t plen;
  int k;
  int64_t v = 0;

  if(!s || len >= BINK_ID_MAX)
    return false;
  us = memchr(s, '_', len);
  if(!us)
    return false;
  plen = (size_t)(us - s);
  for(k = 0; k < BINK_ID__COUNT; k++) {
    if(strlen(ids__prefixes[k]) == plen && !memcmp(ids__prefixes[k], s, plen))
      break;
  }
  if(k == BINK_ID__COUNT)
    return false;

  p = us + 1;
  end = s + len;
  /* The tag, then at least one digit of n. */
  if((size_t)(end - p) < BINK_ID_TAG_LEN + 1)
    return false;
  for(int i = 0; i < BINK_ID_TAG_LEN; i++) {
    if(!ids__is_crockford(p[i]))
      return false;
  }
  if(p[BINK_ID_TAG_LEN] == '0')
    return false; /* leading zero, or n = 0 */
  for(const char *d = p + BINK_ID_TAG_LEN; d < end; d++) {
    int dv = ids__base36_value(*d);
    if(dv < 0 || v > (INT64_MAX - dv) / 36)
      return false;
    v = v * 36 + dv;
  }

  if(kind)
    *kind = (bink_id_kind)k;
  if(n)
    *n = v;
  if(tag) {
    memcpy(tag, p, BINK_ID_TAG_LEN);
    tag[BINK_ID_TAG_LEN] = '\0';
  }
  return true;
}

bink_rc bink_token_new(char out[BINK_TOKEN_LEN + 1], bool is_bot)
{
  unsigned char raw[IDS_TOKEN_BYTES];
  char b64[(IDS_TOKEN_BYTES * 4 + 2) / 3 + 1];

  if(RAND_bytes(raw, (int)sizeof(raw)) != 1) {
    out[0] = '\0';
    return BINK_EINTERNAL;
  }
  ids__base64url_encode(b64, raw, sizeof(raw));
  snprintf(out, BINK_TOKEN_LEN + 1, "%c1.%s", is_bot ? 'b' : 'u', b64);
  OPENSSL_cleanse(raw, sizeof(raw));
  OPENSSL_cleanse(b64, sizeof(b64));
  return BINK_OK;
}

/* OpenSSL 3 looks the implementation of EVP_sha256() up again on every
 * use (under a lock); fetch it once per process instead. And one digest
 * context per thread, reused: EVP_Digest() allocates a context and the
 * provider's state on every call and takes a reference on the shared
 * EVP_MD, an atomic the request threads contend for (every request's
 * token is hashed). Two threads hashing tokens: ~300 ns a digest with
 * EVP_Digest, ~110 with a reused context. Freed when its thread ends. */
static EVP_MD *ids__sha256_md;
static pthread_once_t ids__sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t ids__ctx_key;
static bool ids__ctx_key_ok;

static void ids__ctx_free(void *ctx)
{
  EVP_MD_CTX_free(ctx);
}

static void ids__sha256_fetch(void)
{
  ids__sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  ids__ctx_key_ok = pthread_key_create(&ids__ctx_key, ids__ctx_free) == 0;
}

static EVP_MD_CTX *ids__sha256_ctx(void)
{
  if(!ids__sha256_md || !ids__ctx_key_ok)
    return NULL;
  EVP_MD_CTX *ctx = pthread_getspecific(ids__ctx_key);
  if(!ctx && (ctx = EVP_MD_CTX_new()) &&
     pthread_setspecific(ids__ctx_key, ctx) != 0) {
    EVP_MD_CTX_free(ctx);
    ctx = NULL;
  }
  return ctx;
}

void bink_sha256(const void *data, size_t len,
                 unsigned char out[BINK_SHA256_LEN])
{
  unsigned int outlen = 0;

  pthread_once(&ids__sha256_once, ids__sha256_fetch);
  EVP_MD_CTX *ctx = ids__sha256_ctx();
  if(ctx) {
    if(EVP_DigestInit_ex2(ctx, ids__sha256_md, NULL) == 1 &&
       EVP_DigestUpdate(ctx, data, len) == 1 &&
       EVP_DigestFinal_ex(ctx, out, &outlen) == 1 &&
       outlen == BINK_SHA256_LEN)
      return;
  } else if(EVP_Digest(data, len, out, &outlen,
                       ids__sha256_md ? ids__sha256_md : EVP_sha256(),
                       NULL) == 1 &&
            outlen == BINK_SHA256_LEN) {
    return;
  }
  /* Only a broken libcrypto gets here. A random digest never matches a
   * stored one, so a lookup fails closed; without randomness, give up. */
  if(RAND_bytes(out, BINK_SHA256_LEN) != 1)
    abort();
}

bool bink_digest_equal(const unsigned char a[BINK_SHA256_LEN],
                       const unsigned char b[BINK_SHA256_LEN])
{
  return CRYPTO_memcmp(a, b, BINK_SHA256_LEN) == 0;
}

bool bink_id_parse_as(const char *s, size_t len, bink_id_kind want,
                      int64_t *n, char tag[BINK_ID_TAG_LEN + 1])
{
  bink_id_kind kind;
  return bink_id_parse(s, len, &kind, n, tag) && kind == want;
}
