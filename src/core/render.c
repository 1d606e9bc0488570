#include "core/render.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *bink_role_name(bink_role r) {
  switch (r) {
  case BINK_ROLE_MEMBER:
    return "member";
  case BINK_ROLE_ADMIN:
    return "admin";
  case BINK_ROLE_OWNER:
    return "owner";
  default:
    return "";
  }
}

/* Parses stored JSON text; a NULL or unparsable text gives `fallback`. */
static json_t *render__stored(const char *text, json_t *fallback) {
  if (text) {
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    if (v) {
      json_decref(fallback);
      return v;
    }
  }
  return fallback;
}

json_t *bink_render_message(const bink_message *m) {
  const char *chat_type = m->group_id > 0 ? "group" : "private";
  if (m->deleted)
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:I}",
                     "message_id", m->ext_id, "chat_type", chat_type,
                     "group_id", m->group_ext, "target_user_id", m->target_ext,
                     "sender_id", m->sender_ext, "message_type",
                     bink_msg_type_name(m->type), "timestamp",
                     (json_int_t)m->created_at, "deleted", 1, "deleted_at",
                     (json_int_t)m->edited_at);
  json_t *extra = render__stored(m->extra, json_pack("{s:[]}", "inline_keyboard"));
  json_t *file = json_null(), *sticker = json_null(), *contact = json_null();
  json_t *attachment = render__stored(m->attachment, json_null());
  if (m->type == BINK_MSG_STICKER)
    sticker = attachment;
  else if (m->type == BINK_MSG_CONTACT)
    contact = attachment;
  else if (m->type != BINK_MSG_TEXT && m->type != BINK_MSG_SYSTEM)
    file = attachment;
  else
    json_decref(attachment);
  return json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s,"
      " s:o, s:I, s:I}",
      "message_id", m->ext_id, "chat_type", chat_type, "group_id", m->group_ext,
      "target_user_id", m->target_ext, "sender_id", m->sender_ext,
      "message_type", bink_msg_type_name(m->type), "content",
      m->content ? m->content : "", "file_id", m->file_ref, "file", file,
      "sticker", sticker, "contact", contact, "extra", extra, "reply_to_id",
      m->reply_to_ext, "quote_message_id", m->quote_ext, "quote",
      render__stored(m->quote, json_null()), "timestamp",
      (json_int_t)m->created_at, "edited_at", (json_int_t)m->edited_at);
}

json_t *bink_render_card(const bink_account *a) {
  return json_pack("{s:s, s:s, s:s, s:b}", "user_id", a->ext_id, "username",
                   a->username, "display_name", a->display_name, "is_bot",
                   a->is_bot);
}

json_t *bink_render_profile(const bink_account *a) {
  return json_pack("{s:s, s:s, s:s, s:b, s:I}", "user_id", a->ext_id,
                   "username", a->username, "display_name", a->display_name,
                   "is_bot", a->is_bot, "created_at", (json_int_t)a->created_at);
}

json_t *bink_render_bot(const bink_account *b) {
  return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I}", "bot_id", b->ext_id,
                   "username", b->username, "display_name", b->display_name,
                   "description", b->description, "privacy_mode",
                   b->privacy_mode, "can_join_groups", b->can_join_groups,
                   "created_at", (json_int_t)b->created_at);
}

char *bink_json_text(const json_t *v, char *small, size_t cap, size_t *n) {
  *n = v ? json_dumpb(v, small, cap, JSON_COMPACT) : 0;
  if (*n == 0)
    return NULL;
  if (*n < cap) {
    small[*n] = '\0';
    return small;
  }
  char *text = malloc(*n + 1);
  if (text && json_dumpb(v, text, *n, JSON_COMPACT) != *n) {
    free(text);
    return NULL;
  }
  if (text)
    text[*n] = '\0';
  return text;
}

bool bink_render_bot_same(const bink_account *a, const bink_account *b) {
  return a->id == b->id && a->privacy_mode == b->privacy_mode &&
         a->can_join_groups == b->can_join_groups &&
         a->created_at == b->created_at && strcmp(a->ext_id, b->ext_id) == 0 &&
         strcmp(a->username, b->username) == 0 &&
         strcmp(a->display_name, b->display_name) == 0 &&
         strcmp(a->description, b->description) == 0;
}

json_t *bink_render_owned_bot(const bink_account *b) {
  json_t *o = bink_render_bot(b);
  if (o)
    json_object_update_new(
        o, json_pack("{s:s, s:b, s:i}", "webhook_url", b->webhook_url,
                     "has_webhook_secret", b->webhook_secret[0] != '\0',
                     "max_connections", b->max_connections));
  return o;
}

json_t *bink_render_group_for_bot(const bink_group *g, bink_role role) {
  return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "group_id",
                   g->ext_id, "username", g->username, "title", g->title,
                   "description", g->description, "member_count",
                   (json_int_t)g->member_count, "created_at",
                   (json_int_t)g->created_at, "bot_role",
                   role >= BINK_ROLE_ADMIN ? "admin" : "member");
}

json_t *bink_render_group_for_user(const bink_group *g, bink_role role) {
  return json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "group_id",
                   g->ext_id, "username", g->username, "title", g->title,
                   "description", g->description, "public", g->is_public,
                   "member_count", (json_int_t)g->member_count, "created_at",
                   (json_int_t)g->created_at, "role", bink_role_name(role));
}

json_t *bink_render_member(const bink_account *a, const bink_member *m) {
  json_t *o = bink_render_card(a);
  /* muted_until as in mutemember: 0 = until unmuted; "muted" tells it
   * apart from not muted (an elapsed mute shows as not muted too). */
  bool muted = m->muted_until == 0 || m->muted_until > (int64_t)time(NULL);
  if (o)
    json_object_update_new(
        o, json_pack("{s:s, s:b, s:I, s:I}", "role", bink_role_name(m->role),
                     "muted", muted, "muted_until",
                     (json_int_t)(muted ? m->muted_until : 0), "joined_at",
                     (json_int_t)m->joined_at));
  return o;
}
