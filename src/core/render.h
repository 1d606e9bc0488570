/*
 * render.h: the wire form (JSON) of the records in core/model.h, exactly as
 * bot-api.md and app-api.md spell the fields. Every function returns a new
 * reference (the caller json_decref()s it, or hands it to a container with
 * a *_new function), or NULL only when memory runs out.
 */
#ifndef BINK_CORE_RENDER_H
#define BINK_CORE_RENDER_H

#include <jansson.h>

#include "core/model.h"

/* The message object of bot-api.md; a deleted message is a tombstone:
 * {"message_id","chat_type","group_id","target_user_id","sender_id",
 *  "message_type","timestamp","deleted": true,"deleted_at"} without content. */
json_t *bink_render_message(const bink_message *m);

/* The public card: {"user_id","username","display_name","is_bot"}. */
json_t *bink_render_card(const bink_account *a);

/* A user's own profile (app-api.md "me"). */
json_t *bink_render_profile(const bink_account *a);

/* getme: {"bot_id","username","display_name","description","privacy_mode",
 * "can_join_groups","created_at"}. */
json_t *bink_render_bot(const bink_account *bot);

/* v serialised compactly (jansson), NUL-terminated, its length in *n: in
 * small[0..cap) when it fits, else in a malloc'd block. Returns small, the
 * block (the caller frees it when it is not small), or NULL (v NULL or
 * memory out). Spares json_dumps()'s step-by-step growing and extra copy
 * on hot paths. */
char *bink_json_text(const json_t *v, char *small, size_t cap, size_t *n);
/* True when bink_render_bot gives a and b the same object (it compares
 * exactly the fields that function reads: keep the two together). */
bool bink_render_bot_same(const bink_account *a, const bink_account *b);

/* A bot as its owner sees it (mybots, updatebot): the getme fields plus
 * "webhook_url", "has_webhook_secret", "max_connections"; never the token
 * or the secret. */
json_t *bink_render_owned_bot(const bink_account *bot);

/* A group as a member bot sees it (bot-api.md getgroup): never the owner,
 * the admins or the member list. */
json_t *bink_render_group_for_bot(const bink_group *g, bink_role role);

/* A group as a person sees it (app-api.md getgroup): profile and "role". */
json_t *bink_render_group_for_user(const bink_group *g, bink_role role);

/* One entry of app-api.md members: the card, "role", "muted_until",
 * "joined_at". */
json_t *bink_render_member(const bink_account *a, const bink_member *m);

/* "member", "admin", "owner" or "" for BINK_ROLE_NONE. */
const char *bink_role_name(bink_role r);

#endif
