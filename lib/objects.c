/* objects.c - the server's JSON objects as typed structs, and their release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Field readers: a missing or null key reads as "" / 0; a value of another
 * JSON type is BINK_E_PARSE naming the key. */

static bink_status bad(char *err, size_t n, const char *key, const char *want) {
  if (err && n)
    snprintf(err, n, "%s must be %s", key, want);
  return BINK_E_PARSE;
}

static bink_status get_str(json_t *o, const char *key, char **out, char *err, size_t n) {
  json_t *v = json_object_get(o, key);
  const char *s = "";
  size_t len = 0;
  if (v && !json_is_null(v)) {
    if (!json_is_string(v))
      return bad(err, n, key, "a string");
    s = json_string_value(v);
    len = json_string_length(v);
  }
  char *copy = malloc(len + 1);
  if (!copy)
    return BINK_E_NOMEM;
  memcpy(copy, s, len);
  copy[len] = '\0';
  free(*out);
  *out = copy;
  return BINK_OK;
}

static bink_status get_int(json_t *o, const char *key, int64_t *out, char *err, size_t n) {
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (!v || json_is_null(v))
    return BINK_OK;
  if (!json_is_integer(v))
    return bad(err, n, key, "an integer");
  *out = (int64_t)json_integer_value(v);
  return BINK_OK;
}

static bink_status get_bool(json_t *o, const char *key, int *out, char *err, size_t n) {
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (!v || json_is_null(v))
    return BINK_OK;
  if (!json_is_boolean(v))
    return bad(err, n, key, "a boolean");
  *out = json_is_true(v) ? 1 : 0;
  return BINK_OK;
}

static bink_status dump(json_t *o, char **out) {
  *out = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
  return *out ? BINK_OK : BINK_E_NOMEM;
}

static bink_status need_object(json_t *o, const char *what, char *err, size_t n) {
  return json_is_object(o) ? BINK_OK : bad(err, n, what, "a JSON object");
}

#define TRY(x)            \
  do {                    \
    st = (x);             \
    if (st != BINK_OK)    \
      goto fail;          \
  } while (0)

#define S(obj, key, field) TRY(get_str(obj, key, &(field), err, en))
#define I(obj, key, field) TRY(get_int(obj, key, &(field), err, en))
#define B(obj, key, field) TRY(get_bool(obj, key, &(field), err, en))

/* ---- file ---- */

void bink_file_clear(bink_file *f) {
  if (!f)
    return;
  free(f->file_id);
  free(f->file_name);
  free(f->mime_type);
  free(f->sha256);
  free(f->download_url);
  memset(f, 0, sizeof *f);
}

bink_status bink__file_from_json(json_t *o, bink_file *f, char *err, size_t en) {
  bink_status st;
  memset(f, 0, sizeof *f);
  TRY(need_object(o, "file", err, en));
  S(o, "file_id", f->file_id);
  S(o, "file_name", f->file_name);
  S(o, "mime_type", f->mime_type);
  I(o, "file_size", f->file_size);
  S(o, "sha256", f->sha256);
  S(o, "download_url", f->download_url);
  return BINK_OK;
fail:
  bink_file_clear(f);
  return st;
}

/* "file": null or an object */
static bink_status get_file(json_t *o, int *has, bink_file *f, char *err, size_t en) {
  json_t *v = json_object_get(o, "file");
  *has = 0;
  if (!v || json_is_null(v))
    return BINK_OK;
  if (!json_is_object(v))
    return bad(err, en, "file", "an object or null");
  bink_status st = bink__file_from_json(v, f, err, en);
  if (st == BINK_OK)
    *has = 1;
  return st;
}

/* ---- message ---- */

void bink_message_clear(bink_message *m) {
  if (!m)
    return;
  free(m->message_id);
  free(m->chat_type);
  free(m->group_id);
  free(m->target_user_id);
  free(m->sender_id);
  free(m->message_type);
  free(m->content);
  free(m->file_id);
  bink_file_clear(&m->file);
  free(m->reply_to_id);
  free(m->quote_message_id);
  free(m->json);
  memset(m, 0, sizeof *m);
}

static size_t count_buttons(json_t *extra) {
  json_t *kb = json_object_get(extra, "inline_keyboard");
  size_t n = 0, i;
  json_t *row;
  json_array_foreach(kb, i, row) {
    if (json_is_array(row))
      n += json_array_size(row);
  }
  return n;
}

bink_status bink__message_from_json(json_t *o, bink_message *m, char *err, size_t en) {
  bink_status st;
  memset(m, 0, sizeof *m);
  TRY(need_object(o, "message", err, en));
  S(o, "message_id", m->message_id);
  S(o, "chat_type", m->chat_type);
  S(o, "group_id", m->group_id);
  S(o, "target_user_id", m->target_user_id);
  S(o, "sender_id", m->sender_id);
  S(o, "message_type", m->message_type);
  S(o, "content", m->content);
  S(o, "file_id", m->file_id);
  TRY(get_file(o, &m->has_file, &m->file, err, en));
  S(o, "reply_to_id", m->reply_to_id);
  S(o, "quote_message_id", m->quote_message_id);
  I(o, "timestamp", m->timestamp);
  I(o, "edited_at", m->edited_at);
  m->button_count = count_buttons(json_object_get(o, "extra"));
  TRY(dump(o, &m->json));
  return BINK_OK;
fail:
  bink_message_clear(m);
  return st;
}

/* ---- event ---- */

static const struct {
  const char *name;
  bink_event_type type;
} event_names[] = {
    {"private_message", BINK_EVENT_PRIVATE_MESSAGE},
    {"group_message", BINK_EVENT_GROUP_MESSAGE},
    {"member_joined", BINK_EVENT_MEMBER_JOINED},
    {"callback_query", BINK_EVENT_CALLBACK_QUERY},
};

bink_event_type bink_event_type_from_name(const char *name) {
  if (!name)
    return BINK_EVENT_UNKNOWN;
  for (size_t i = 0; i < sizeof event_names / sizeof event_names[0]; i++)
    if (strcmp(event_names[i].name, name) == 0)
      return event_names[i].type;
  return BINK_EVENT_UNKNOWN;
}

void bink_event_clear(bink_event *e) {
  if (!e)
    return;
  free(e->event_type);
  free(e->message_id);
  free(e->sender_id);
  free(e->sender_username);
  free(e->sender_display_name);
  free(e->group_id);
  free(e->group_username);
  free(e->group_title);
  free(e->message_type);
  free(e->content);
  free(e->callback_id);
  free(e->callback_data);
  free(e->file_id);
  bink_file_clear(&e->file);
  free(e->reply_to_id);
  free(e->quote_message_id);
  free(e->inviter_id);
  free(e->json);
  memset(e, 0, sizeof *e);
}

bink_status bink__event_from_json(json_t *o, bink_event *e, char *err, size_t en) {
  bink_status st;
  memset(e, 0, sizeof *e);
  TRY(need_object(o, "event", err, en));
  json_t *t = json_object_get(o, "event_type");
  if (!json_is_string(t) || json_string_length(t) == 0) {
    st = bad(err, en, "event_type", "a non-empty string");
    goto fail;
  }
  S(o, "event_type", e->event_type);
  e->type = bink_event_type_from_name(e->event_type);
  I(o, "update_id", e->update_id);
  S(o, "message_id", e->message_id);
  S(o, "sender_id", e->sender_id);
  S(o, "sender_username", e->sender_username);
  S(o, "sender_display_name", e->sender_display_name);
  S(o, "group_id", e->group_id);
  S(o, "group_username", e->group_username);
  S(o, "group_title", e->group_title);
  S(o, "message_type", e->message_type);
  S(o, "content", e->content);
  I(o, "timestamp", e->timestamp);
  S(o, "callback_id", e->callback_id);
  S(o, "callback_data", e->callback_data);
  S(o, "file_id", e->file_id);
  TRY(get_file(o, &e->has_file, &e->file, err, en));
  S(o, "reply_to_id", e->reply_to_id);
  S(o, "quote_message_id", e->quote_message_id);
  S(o, "inviter_id", e->inviter_id);
  TRY(dump(o, &e->json));
  return BINK_OK;
fail:
  bink_event_clear(e);
  return st;
}

bink_status bink_event_parse(const char *body, size_t len, bink_event *out, char *err,
                             size_t err_size) {
  if (err && err_size)
    err[0] = '\0';
  if (!out)
    return BINK_E_INVALID;
  memset(out, 0, sizeof *out);
  if (!body && len)
    return BINK_E_INVALID;
  json_error_t jerr;
  json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    if (err && err_size)
      snprintf(err, err_size, "not JSON: %s at byte %d", jerr.text, jerr.position);
    return BINK_E_PARSE;
  }
  bink_status st = bink__event_from_json(root, out, err, err_size);
  json_decref(root);
  return st;
}

void bink_event_list_clear(bink_event_list *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->count; i++)
    bink_event_clear(&l->items[i]);
  free(l->items);
  memset(l, 0, sizeof *l);
}

/* ---- bot, group ---- */

void bink_bot_clear(bink_bot *b) {
  if (!b)
    return;
  free(b->bot_id);
  free(b->username);
  free(b->display_name);
  free(b->description);
  memset(b, 0, sizeof *b);
}

bink_status bink__bot_from_json(json_t *o, bink_bot *b, char *err, size_t en) {
  bink_status st;
  memset(b, 0, sizeof *b);
  TRY(need_object(o, "bot", err, en));
  S(o, "bot_id", b->bot_id);
  S(o, "username", b->username);
  S(o, "display_name", b->display_name);
  S(o, "description", b->description);
  B(o, "privacy_mode", b->privacy_mode);
  B(o, "can_join_groups", b->can_join_groups);
  I(o, "created_at", b->created_at);
  return BINK_OK;
fail:
  bink_bot_clear(b);
  return st;
}

void bink_group_clear(bink_group *g) {
  if (!g)
    return;
  free(g->group_id);
  free(g->username);
  free(g->title);
  free(g->description);
  free(g->bot_role);
  memset(g, 0, sizeof *g);
}

bink_status bink__group_from_json(json_t *o, bink_group *g, char *err, size_t en) {
  bink_status st;
  memset(g, 0, sizeof *g);
  TRY(need_object(o, "group", err, en));
  S(o, "group_id", g->group_id);
  S(o, "username", g->username);
  S(o, "title", g->title);
  S(o, "description", g->description);
  I(o, "member_count", g->member_count);
  I(o, "created_at", g->created_at);
  S(o, "bot_role", g->bot_role);
  return BINK_OK;
fail:
  bink_group_clear(g);
  return st;
}

/* ---- commands ---- */

void bink_command_list_clear(bink_command_list *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->count; i++) {
    free(l->items[i].command);
    free(l->items[i].description);
  }
  free(l->items);
  memset(l, 0, sizeof *l);
}

bink_status bink__commands_from_json(json_t *o, bink_command_list *l, char *err, size_t en) {
  bink_status st;
  memset(l, 0, sizeof *l);
  TRY(need_object(o, "data", err, en));
  json_t *arr = json_object_get(o, "commands");
  if (!json_is_array(arr)) {
    st = bad(err, en, "commands", "an array");
    goto fail;
  }
  size_t n = json_array_size(arr);
  if (n) {
    l->items = calloc(n, sizeof *l->items);
    if (!l->items) {
      st = BINK_E_NOMEM;
      goto fail;
    }
  }
  for (size_t i = 0; i < n; i++) {
    json_t *c = json_array_get(arr, i);
    TRY(need_object(c, "command entry", err, en));
    l->count = i + 1;
    S(c, "command", l->items[i].command);
    S(c, "description", l->items[i].description);
  }
  return BINK_OK;
fail:
  bink_command_list_clear(l);
  return st;
}

/* ---- webhook info ---- */

void bink_webhook_info_clear(bink_webhook_info *w) {
  if (!w)
    return;
  free(w->url);
  for (size_t i = 0; i < w->allowed_event_count; i++)
    free(w->allowed_events[i]);
  free(w->allowed_events);
  free(w->last_error_msg);
  memset(w, 0, sizeof *w);
}

static bink_status get_str_array(json_t *o, const char *key, char ***out, size_t *count,
                                 char *err, size_t en) {
  json_t *arr = json_object_get(o, key);
  *out = NULL;
  *count = 0;
  if (!arr || json_is_null(arr))
    return BINK_OK;
  if (!json_is_array(arr))
    return bad(err, en, key, "an array of strings");
  size_t n = json_array_size(arr);
  if (!n)
    return BINK_OK;
  char **v = calloc(n, sizeof *v);
  if (!v)
    return BINK_E_NOMEM;
  *out = v;
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(arr, i);
    if (!json_is_string(s))
      return bad(err, en, key, "an array of strings");
    v[i] = strdup(json_string_value(s));
    if (!v[i])
      return BINK_E_NOMEM;
    *count = i + 1;
  }
  return BINK_OK;
}

bink_status bink__webhook_info_from_json(json_t *o, bink_webhook_info *w, char *err,
                                         size_t en) {
  bink_status st;
  memset(w, 0, sizeof *w);
  TRY(need_object(o, "data", err, en));
  S(o, "url", w->url);
  B(o, "has_secret", w->has_secret);
  I(o, "max_connections", w->max_connections);
  TRY(get_str_array(o, "allowed_events", &w->allowed_events, &w->allowed_event_count, err,
                    en));
  I(o, "pending_count", w->pending_count);
  I(o, "last_error_at", w->last_error_at);
  S(o, "last_error_msg", w->last_error_msg);
  I(o, "last_success_at", w->last_success_at);
  return BINK_OK;
fail:
  /* a partly filled array: free the entries that were set */
  if (w->allowed_events && !w->allowed_event_count) {
    free(w->allowed_events);
    w->allowed_events = NULL;
  }
  bink_webhook_info_clear(w);
  return st;
}

/* ---- batch delete ---- */

void bink_delete_result_clear(bink_delete_result *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->deleted_count; i++)
    free(r->deleted[i]);
  free(r->deleted);
  for (size_t i = 0; i < r->failed_count; i++) {
    free(r->failed[i].message_id);
    free(r->failed[i].msg);
  }
  free(r->failed);
  memset(r, 0, sizeof *r);
}

bink_status bink__delete_result_from_json(json_t *o, bink_delete_result *r, char *err,
                                          size_t en) {
  bink_status st;
  memset(r, 0, sizeof *r);
  TRY(need_object(o, "data", err, en));
  TRY(get_str_array(o, "deleted", &r->deleted, &r->deleted_count, err, en));
  json_t *failed = json_object_get(o, "failed");
  if (failed && !json_is_null(failed)) {
    if (!json_is_array(failed)) {
      st = bad(err, en, "failed", "an array");
      goto fail;
    }
    size_t n = json_array_size(failed);
    if (n) {
      r->failed = calloc(n, sizeof *r->failed);
      if (!r->failed) {
        st = BINK_E_NOMEM;
        goto fail;
      }
    }
    for (size_t i = 0; i < n; i++) {
      json_t *f = json_array_get(failed, i);
      TRY(need_object(f, "failed entry", err, en));
      r->failed_count = i + 1;
      int64_t code = 0;
      S(f, "message_id", r->failed[i].message_id);
      I(f, "code", code);
      r->failed[i].code = (int)code;
      S(f, "msg", r->failed[i].msg);
    }
  }
  return BINK_OK;
fail:
  if (r->deleted && !r->deleted_count) {
    free(r->deleted);
    r->deleted = NULL;
  }
  if (r->failed && !r->failed_count) {
    free(r->failed);
    r->failed = NULL;
  }
  bink_delete_result_clear(r);
  return st;
}
