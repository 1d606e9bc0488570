/* keyboard.c - the inline-keyboard builder. */
#include <stdlib.h>

#include "internal.h"

struct bink_keyboard {
  json_t *rows;   /* array of arrays of buttons */
  json_t *row;    /* the row buttons go to; borrowed from rows; NULL = start one */
  size_t count;
};

bink_keyboard *bink_keyboard_new(void) {
  bink_keyboard *kb = calloc(1, sizeof *kb);
  if (!kb)
    return NULL;
  kb->rows = json_array();
  if (!kb->rows) {
    free(kb);
    return NULL;
  }
  return kb;
}

void bink_keyboard_free(bink_keyboard *kb) {
  if (!kb)
    return;
  json_decref(kb->rows);
  free(kb);
}

static bink_status add(bink_keyboard *kb, const char *text, const char *key, const char *value) {
  if (!kb || !text || !value)
    return BINK_E_INVALID;
  if (!kb->row) {
    json_t *row = json_array();
    if (!row || json_array_append_new(kb->rows, row) != 0)
      return BINK_E_NOMEM;
    kb->row = row;
  }
  json_t *b = json_pack("{s:s, s:s}", "text", text, key, value);
  if (!b)
    return BINK_E_INVALID; /* not UTF-8, or out of memory */
  if (json_array_append_new(kb->row, b) != 0)
    return BINK_E_NOMEM;
  kb->count++;
  return BINK_OK;
}

bink_status bink_keyboard_button(bink_keyboard *kb, const char *text, const char *data) {
  return add(kb, text, "callback_data", data);
}

bink_status bink_keyboard_url_button(bink_keyboard *kb, const char *text, const char *url) {
  return add(kb, text, "url", url);
}

bink_status bink_keyboard_row(bink_keyboard *kb) {
  if (!kb)
    return BINK_E_INVALID;
  if (kb->row && json_array_size(kb->row) > 0)
    kb->row = NULL;
  return BINK_OK;
}

size_t bink_keyboard_count(const bink_keyboard *kb) { return kb ? kb->count : 0; }

json_t *bink__keyboard_json(const bink_keyboard *kb) {
  json_t *out = json_array();
  if (!out)
    return NULL;
  size_t i;
  json_t *row;
  json_array_foreach(kb->rows, i, row) {
    if (json_array_size(row) == 0)
      continue;
    if (json_array_append_new(out, json_deep_copy(row)) != 0) {
      json_decref(out);
      return NULL;
    }
  }
  return out;
}
