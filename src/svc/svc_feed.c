/* svc_feed.c: what people's clients are told (app-api.md "Live updates for
 * people"): one feed row per chat event, and wake-ups for the streams of
 * everyone who may see it. */
#include "svc/svc_internal.h"

bink_rc svc__tell(store_conn *c, int64_t group_id, const bink_dm *dm,
                  int64_t user_id, const char *event, json_t *data,
                  int64_t now, bink_err *err) {
  if (!data)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  bink_rc rc = store_feed_insert(c, group_id, dm ? dm->id : 0, user_id, event,
                                 data, now, NULL);
  json_decref(data);
  if (rc == BINK_OK && group_id)
    rc = store_wake_group(c, group_id);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  if (dm) {
    store_wake(c, STORE_WAKE_USER(dm->lo));
    store_wake(c, STORE_WAKE_USER(dm->hi));
  }
  if (user_id)
    store_wake(c, STORE_WAKE_USER(user_id));
  return BINK_OK;
}
