/* session.c: session tokens and their digests (session.h). */
#include "core/session.h"

#include <string.h>

#define SESSION__TAG "bink-session-v1\n"

bink_rc bink_session_token_new(char out[BINK_TOKEN_LEN + 1]) {
  bink_rc rc = bink_token_new(out, false);
  if (rc == BINK_OK)
    out[0] = 's';
  return rc;
}

bool bink_session_token_shape(const char *t, size_t n) {
  if (n != BINK_TOKEN_LEN || strncmp(t, "s1.", 3) != 0)
    return false;
  for (size_t i = 3; i < n; i++) {
    char ch = t[i];
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
      return false;
  }
  return true;
}

void bink_session_digest(const char *t, size_t n,
                         unsigned char out[BINK_SHA256_LEN]) {
  char buf[sizeof SESSION__TAG - 1 + BINK_TOKEN_LEN];
  size_t tag = sizeof SESSION__TAG - 1;
  if (n > BINK_TOKEN_LEN)
    n = BINK_TOKEN_LEN; /* longer ones never match: the shape check fails */
  memcpy(buf, SESSION__TAG, tag);
  memcpy(buf + tag, t, n);
  bink_sha256(buf, tag + n, out);
}
