/* svc_internal.h: helpers shared by the svc_*.c files only. */
#ifndef BINK_SVC_INTERNAL_H
#define BINK_SVC_INTERNAL_H

#include <stddef.h>

#include "svc/svc.h"

/* Copies a parameter into a fixed buffer, truncating to cap - 1 bytes. */
void svc__copy(char *dst, size_t cap, bink_str s);

/* Sets *x->out (when wanted) to v, releasing v otherwise. BINK_EINTERNAL
 * when v is NULL (out of memory). */
static inline bink_rc svc__out(svc_ctx *x, json_t *v, bink_err *err) {
  if (!v)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if (x->out)
    *x->out = v;
  else
    json_decref(v);
  return BINK_OK;
}

/* Maps a storage failure to 503 with a generic message. */
static inline bink_rc svc__storage(bink_rc rc, bink_err *err) {
  return bink_fail(err, rc == BINK_EINTERNAL ? rc : BINK_EUNAVAIL,
                   "storage unavailable");
}

/* ---- events (svc_events.c) ---- */
#include "core/events.h"

/* Stores one event for `bot` if its allowed_events let it through, with
 * the next update_id, and notes the wake-up of the bot's long poll and
 * the webhook dispatcher. */
bink_rc svc__emit(store_conn *c, const bink_account *bot, bink_event_src *src,
                  int64_t group_id, int64_t dm_id, bink_err *err);

/* The events of a new message (events.md "Which group messages reach a
 * bot"): private_message to a bot peer, group_message to the group's bots
 * it is addressed to (all of them with privacy mode off); none for a bot's
 * own message. reply_sender: row key of the author of the message it
 * replies to, or 0. */
bink_rc svc__route_message(store_conn *c, const bink_message *m,
                           const bink_account *sender, const bink_group *g,
                           const bink_account *peer, int64_t reply_sender,
                           bink_err *err);

/* A member joined group g: stores the group's system message (sent by the
 * new member) and emits member_joined to every bot of the group, the new
 * one included. inviter: external id of who added them, or "". */
bink_rc svc__member_joined(store_conn *c, const bink_group *g,
                           const bink_account *member, const char *inviter,
                           int64_t now, bink_err *err);

/* ---- the people's feed (svc_feed.c) ----
 * Stores a feed row that the members of group_id, both sides of dm and/or
 * user_id will see, and wakes their live streams. data is stolen. */
bink_rc svc__tell(store_conn *c, int64_t group_id, const bink_dm *dm,
                  int64_t user_id, const char *event, json_t *data,
                  int64_t now, bink_err *err);

#endif
