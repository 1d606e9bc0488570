/* libFuzzer target: bink_event_parse() on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bink_event ev;
  char err[128];
  bink_status st = bink_event_parse((const char *)data, size, &ev, err, sizeof err);
  if (st == BINK_OK) {
    /* a parsed event has every string set and its JSON form re-parses */
    if (!ev.event_type || !ev.content || !ev.sender_id || !ev.json)
      abort();
    bink_event again;
    if (bink_event_parse(ev.json, strlen(ev.json), &again, NULL, 0) != BINK_OK)
      abort();
    if (again.type != ev.type || again.update_id != ev.update_id ||
        strcmp(again.content, ev.content) != 0)
      abort();
    bink_event_clear(&again);
  } else if (st != BINK_E_PARSE && st != BINK_E_NOMEM) {
    abort();
  }
  bink_event_clear(&ev);
  return 0;
}
