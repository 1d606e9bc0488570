#include "core/model.h"

#include <stdlib.h>
#include <string.h>

static const char *const model__type_names[BINK_MSG__COUNT] = {
    "text", "image", "video", "audio", "file", "sticker", "contact", "system"};

const char *bink_msg_type_name(bink_msg_type t) {
  return (unsigned)t < BINK_MSG__COUNT ? model__type_names[t] : "text";
}

int bink_msg_type_parse(const char *s) {
  for (int i = 0; i < BINK_MSG__COUNT; i++)
    if (strcmp(s, model__type_names[i]) == 0)
      return i;
  return -1;
}

void bink_message_clear(bink_message *m) {
  free(m->content);
  free(m->extra);
  free(m->attachment);
  free(m->quote);
  m->content = m->extra = m->attachment = m->quote = NULL;
}
