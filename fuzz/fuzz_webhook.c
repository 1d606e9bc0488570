/* libFuzzer target: bink_webhook_verify() on arbitrary secrets, headers and
 * bodies, and the property that what bink_webhook_signature() signs
 * verifies. Input: secret \n id \n timestamp \n signature \n body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits off the next '\n'-terminated field as a NUL-terminated copy. */
static char *field(const uint8_t **p, size_t *left) {
  const uint8_t *nl = memchr(*p, '\n', *left);
  size_t n = nl ? (size_t)(nl - *p) : *left;
  char *s = malloc(n + 1);
  if (!s)
    abort();
  memcpy(s, *p, n);
  s[n] = '\0';
  *p += nl ? n + 1 : n;
  *left -= nl ? n + 1 : n;
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *p = data;
  size_t left = size;
  char *secret = field(&p, &left);
  char *id = field(&p, &left);
  char *ts = field(&p, &left);
  char *sig = field(&p, &left);
  const char *body = (const char *)p;
  const int64_t now = 1700000000;

  bink_status st = bink_webhook_verify(secret, id, ts, sig, body, left, now);
  if (st != BINK_OK && st != BINK_E_SECRET && st != BINK_E_HEADER && st != BINK_E_TIMESTAMP &&
      st != BINK_E_SIGNATURE && st != BINK_E_NOMEM)
    abort();

  /* sign-then-verify round trip with the same secret */
  char mine[64];
  if (*id && bink_webhook_signature(secret, id, now, body, left, mine, sizeof mine) == BINK_OK) {
    if (bink_webhook_verify(secret, id, "1700000000", mine, body, left, now) != BINK_OK)
      abort();
    /* any other body must fail */
    if (left > 0 &&
        bink_webhook_verify(secret, id, "1700000000", mine, body, left - 1, now) == BINK_OK)
      abort();
  }
  free(secret);
  free(id);
  free(ts);
  free(sig);
  return 0;
}
