/* webhook.c - Standard Webhooks signatures (events.md, "Signing key"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "internal.h"

#define WHSEC "whsec_"

bink_status bink__webhook_key(const char *secret, unsigned char *key, size_t *len) {
  if (!secret)
    return BINK_E_SECRET;
  size_t n = strlen(secret);
  if (n > 6 && strncmp(secret, WHSEC, 6) == 0) {
    const char *b64 = secret + 6;
    size_t bn = n - 6;
    /* 24..64 bytes are 32..88 base64 characters, padded to a multiple of 4 */
    if (bn % 4 != 0 || bn < 32 || bn > 88)
      return BINK_E_SECRET;
    for (size_t i = 0; i < bn; i++) {
      char ch = b64[i];
      int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '+' || ch == '/' || (ch == '=' && i >= bn - 2);
      if (!ok || (i == bn - 2 && ch == '=' && b64[bn - 1] != '='))
        return BINK_E_SECRET;
    }
    unsigned char buf[96];
    int got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)bn);
    if (got < 0)
      return BINK_E_SECRET;
    if (b64[bn - 1] == '=')
      got--;
    if (b64[bn - 2] == '=')
      got--;
    if (got < 24 || got > 64)
      return BINK_E_SECRET;
    memcpy(key, buf, (size_t)got);
    *len = (size_t)got;
    OPENSSL_cleanse(buf, sizeof buf);
    return BINK_OK;
  }
  if (n < 16 || n > 256)
    return BINK_E_SECRET;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)secret[i] < 0x20 || (unsigned char)secret[i] > 0x7e)
      return BINK_E_SECRET;
  memcpy(key, secret, n);
  *len = n;
  return BINK_OK;
}

/* base64(HMAC-SHA256(key, id "." ts "." body)) into out[45]. */
static bink_status sign(const unsigned char *key, size_t key_len, const char *id, size_t id_len,
                        const char *ts, size_t ts_len, const char *body, size_t body_len,
                        char out[45]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  bink_status st = BINK_E_NOMEM;
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
  if (!mc)
    goto done;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                         OSSL_PARAM_construct_end()};
  size_t got = 0;
  if (EVP_MAC_init(mc, key, key_len, params) != 1 ||
      EVP_MAC_update(mc, (const unsigned char *)id, id_len) != 1 ||
      EVP_MAC_update(mc, (const unsigned char *)".", 1) != 1 ||
      EVP_MAC_update(mc, (const unsigned char *)ts, ts_len) != 1 ||
      EVP_MAC_update(mc, (const unsigned char *)".", 1) != 1 ||
      (body_len && EVP_MAC_update(mc, (const unsigned char *)body, body_len) != 1) ||
      EVP_MAC_final(mc, mac, &got, sizeof mac) != 1 || got != 32)
    goto done;
  mac_len = (unsigned int)got;
  EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len); /* 44 chars + NUL */
  st = BINK_OK;
done:
  EVP_MAC_CTX_free(mc);
  EVP_MAC_free(m);
  OPENSSL_cleanse(mac, sizeof mac);
  return st;
}

bink_status bink_webhook_signature(const char *secret, const char *webhook_id,
                                   int64_t timestamp, const char *body, size_t len, char *out,
                                   size_t out_size) {
  if (!webhook_id || (!body && len) || !out || out_size < 48)
    return BINK_E_INVALID;
  unsigned char key[256];
  size_t key_len = 0;
  bink_status st = bink__webhook_key(secret, key, &key_len);
  if (st != BINK_OK)
    return st;
  char ts[24];
  int tn = snprintf(ts, sizeof ts, "%lld", (long long)timestamp);
  char mac[45];
  st = sign(key, key_len, webhook_id, strlen(webhook_id), ts, (size_t)tn, body, len, mac);
  OPENSSL_cleanse(key, sizeof key);
  if (st == BINK_OK)
    snprintf(out, out_size, "v1,%s", mac);
  return st;
}

/* A timestamp header: 1..18 decimal digits (so that the value cannot
 * overflow int64_t). */
static int parse_ts(const char *s, int64_t *out) {
  size_t n = strlen(s);
  if (n == 0 || n > 18)
    return 0;
  int64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

bink_status bink_webhook_verify(const char *secret, const char *webhook_id,
                                const char *webhook_timestamp, const char *webhook_signature,
                                const char *body, size_t len, int64_t now) {
  if (!body && len)
    return BINK_E_INVALID;
  unsigned char key[256];
  size_t key_len = 0;
  bink_status st = bink__webhook_key(secret, key, &key_len);
  if (st != BINK_OK)
    return st;
  int64_t ts = 0;
  if (!webhook_id || !*webhook_id || !webhook_timestamp || !parse_ts(webhook_timestamp, &ts) ||
      !webhook_signature || !*webhook_signature) {
    OPENSSL_cleanse(key, sizeof key);
    return BINK_E_HEADER;
  }
  if (now == 0)
    now = (int64_t)time(NULL);
  if (ts > now + BINK_WEBHOOK_TOLERANCE_S || ts < now - BINK_WEBHOOK_TOLERANCE_S) {
    OPENSSL_cleanse(key, sizeof key);
    return BINK_E_TIMESTAMP;
  }
  char want[45];
  st = sign(key, key_len, webhook_id, strlen(webhook_id), webhook_timestamp,
            strlen(webhook_timestamp), body, len, want);
  OPENSSL_cleanse(key, sizeof key);
  if (st != BINK_OK)
    return st;
  /* "v1,<sig> v1,<sig2> v1a,<other>": any v1 entry may match */
  int matched = 0;
  const char *p = webhook_signature;
  while (*p) {
    while (*p == ' ')
      p++;
    const char *end = p;
    while (*end && *end != ' ')
      end++;
    size_t n = (size_t)(end - p);
    if (n == 3 + 44 && memcmp(p, "v1,", 3) == 0 && CRYPTO_memcmp(p + 3, want, 44) == 0)
      matched = 1; /* keep scanning: the time spent does not depend on the match */
    p = end;
  }
  return matched ? BINK_OK : BINK_E_SIGNATURE;
}
