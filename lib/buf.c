/* buf.c - the growable, capped byte buffer of libbink. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void bink__buf_init(bink__buf *b, size_t max) {
  memset(b, 0, sizeof *b);
  b->max = max;
}

bink_status bink__buf_append(bink__buf *b, const void *p, size_t n) {
  if (n > b->max || b->len > b->max - n) {
    b->overflow = 1;
    return BINK_E_PROTOCOL;
  }
  if (b->len + n + 1 > b->cap) {
    size_t want = b->cap ? b->cap : 256;
    while (want < b->len + n + 1)
      want = want > SIZE_MAX / 2 ? b->len + n + 1 : want * 2;
    if (want > b->max + 1)
      want = b->max + 1;
    char *d = realloc(b->data, want);
    if (!d)
      return BINK_E_NOMEM;
    b->data = d;
    b->cap = want;
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return BINK_OK;
}

void bink__buf_free(bink__buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->overflow = 0;
}
