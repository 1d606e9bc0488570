/* api.c - one function per Bot API endpoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* Builds the parameter object; NULL values are left out. */
static bink_status put_str(bink_client *c, json_t *o, const char *key, const char *v) {
  if (!v)
    return BINK_OK;
  json_t *s = json_string(v);
  if (!s)
    return bink__fail(c, BINK_E_INVALID, 0, "%s is not valid UTF-8", key);
  if (json_object_set_new(o, key, s) != 0)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  return BINK_OK;
}

static bink_status put_new(bink_client *c, json_t *o, const char *key, json_t *v) {
  if (!v || json_object_set_new(o, key, v) != 0)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  return BINK_OK;
}

static bink_status need(bink_client *c, const char *v, const char *name) {
  if (!v || !*v)
    return bink__fail(c, BINK_E_INVALID, 0, "%s is required", name);
  return BINK_OK;
}

static json_t *str_array(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    json_t *s = v[i] ? json_string(v[i]) : NULL;
    if (!s || json_array_append_new(a, s) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* An allowed_events list: NULL leaves the key out (the server keeps its
 * current filter); otherwise count non-NULL strings ([] = all events). */
static bink_status put_events(bink_client *c, json_t *o, const char *const *v, size_t n) {
  if (!v)
    return BINK_OK;
  for (size_t i = 0; i < n; i++)
    if (!v[i])
      return bink__fail(c, BINK_E_INVALID, 0, "allowed_events[%zu] is NULL", i);
  json_t *a = str_array(v, n);
  if (!a)
    return bink__fail(c, BINK_E_INVALID, 0, "allowed_events must be UTF-8 strings");
  return put_new(c, o, "allowed_events", a);
}

typedef bink_status (*converter)(json_t *, void *, char *, size_t);

/* Calls method and converts data with conv into out (when out is not NULL).
 * Consumes params. */
static bink_status run(bink_client *c, const char *method, json_t *params, const char *idem,
                       long extra_timeout, converter conv, void *out) {
  json_t *data = NULL;
  bink_status st = bink__call(c, method, params, idem, extra_timeout, out ? &data : NULL);
  json_decref(params);
  if (st != BINK_OK || !out)
    return st;
  char why[160] = "";
  st = conv(data, out, why, sizeof why);
  json_decref(data);
  if (st == BINK_E_PARSE)
    return bink__fail(c, BINK_E_PROTOCOL, 200, "%s: unexpected answer: %s", method, why);
  if (st == BINK_E_NOMEM)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  return st;
}

#define CONV(name, type)                                                          \
  static bink_status conv_##name(json_t *d, void *o, char *e, size_t n) {        \
    return bink__##name##_from_json(d, (type *)o, e, n);                          \
  }
CONV(bot, bink_bot)
CONV(group, bink_group)
CONV(message, bink_message)
CONV(file, bink_file)
CONV(commands, bink_command_list)
CONV(webhook_info, bink_webhook_info)
CONV(delete_result, bink_delete_result)

#define NEW_PARAMS(p)                                      \
  json_t *p = json_object();                               \
  if (!p)                                                  \
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory")

#define CHECK(x)            \
  do {                      \
    bink_status st_ = (x);  \
    if (st_ != BINK_OK) {   \
      json_decref(params);  \
      return st_;           \
    }                       \
  } while (0)

bink_status bink_getme(bink_client *c, bink_bot *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  return run(c, "getme", NULL, NULL, 0, conv_bot, out);
}

bink_status bink_getgroup(bink_client *c, const char *group_id, bink_group *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (need(c, group_id, "group_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "group_id", group_id));
  return run(c, "getgroup", params, NULL, 0, conv_group, out);
}

bink_status bink_send_message(bink_client *c, const bink_send_params *p, bink_message *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!p)
    return bink__fail(c, BINK_E_INVALID, 0, "parameters are required");
  if ((p->group_id != NULL) == (p->target_user_id != NULL))
    return bink__fail(c, BINK_E_INVALID, 0, "exactly one of group_id and target_user_id");
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "group_id", p->group_id));
  CHECK(put_str(c, params, "target_user_id", p->target_user_id));
  CHECK(put_str(c, params, "message_type", p->message_type ? p->message_type : "text"));
  CHECK(put_str(c, params, "content", p->content));
  CHECK(put_str(c, params, "file_id", p->file_id));
  CHECK(put_str(c, params, "reply_to_id", p->reply_to_id));
  CHECK(put_str(c, params, "quote_message_id", p->quote_message_id));
  if (p->keyboard) {
    json_t *kb = bink__keyboard_json(p->keyboard);
    CHECK(put_new(c, params, "extra", kb ? json_pack("{s:o}", "inline_keyboard", kb) : NULL));
  }
  return run(c, "sendmessage", params, p->idempotency_key, 0,
             conv_message, out);
}

bink_status bink_send_text(bink_client *c, const char *group_id, const char *text,
                           bink_message *out) {
  bink_send_params p;
  memset(&p, 0, sizeof p);
  p.group_id = group_id;
  p.content = text;
  return bink_send_message(c, &p, out);
}

bink_status bink_edit_message(bink_client *c, const char *message_id, const char *content,
                              const bink_keyboard *keyboard, bink_message *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (need(c, message_id, "message_id") != BINK_OK)
    return BINK_E_INVALID;
  if (!content && !keyboard)
    return bink__fail(c, BINK_E_INVALID, 0, "content or keyboard is required");
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "message_id", message_id));
  CHECK(put_str(c, params, "content", content));
  if (keyboard) {
    json_t *kb = bink__keyboard_json(keyboard);
    CHECK(put_new(c, params, "extra", kb ? json_pack("{s:o}", "inline_keyboard", kb) : NULL));
  }
  return run(c, "editmessage", params, NULL, 0, conv_message, out);
}

bink_status bink_delete_message(bink_client *c, const char *message_id) {
  if (!c)
    return BINK_E_INVALID;
  if (need(c, message_id, "message_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "message_id", message_id));
  return run(c, "deletemessage", params, NULL, 0, NULL, NULL);
}

bink_status bink_delete_messages(bink_client *c, const char *const *ids, size_t count,
                                 bink_delete_result *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!ids || count == 0)
    return bink__fail(c, BINK_E_INVALID, 0, "message_ids is required");
  NEW_PARAMS(params);
  json_t *arr = str_array(ids, count);
  if (!arr) {
    json_decref(params);
    return bink__fail(c, BINK_E_INVALID, 0, "message_ids must be UTF-8 strings");
  }
  CHECK(put_new(c, params, "message_ids", arr));
  return run(c, "deletemessage", params, NULL, 0, conv_delete_result,
             out);
}

static bink_status answered_at_conv(json_t *d, void *out, char *err, size_t en) {
  json_t *v = json_object_get(d, "answered_at");
  if (!json_is_integer(v)) {
    snprintf(err, en, "answered_at must be an integer");
    return BINK_E_PARSE;
  }
  *(int64_t *)out = (int64_t)json_integer_value(v);
  return BINK_OK;
}

bink_status bink_answer_callback(bink_client *c, const char *callback_id, const char *text,
                                 int show_alert, const char *url, int64_t *answered_at) {
  if (answered_at)
    *answered_at = 0;
  if (!c)
    return BINK_E_INVALID;
  if (need(c, callback_id, "callback_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "callback_id", callback_id));
  CHECK(put_str(c, params, "text", text));
  CHECK(put_new(c, params, "show_alert", json_boolean(show_alert)));
  CHECK(put_str(c, params, "url", url));
  return run(c, "answercallback", params, NULL, 0, answered_at_conv, answered_at);
}

bink_status bink_set_commands(bink_client *c, const bink_command *cmds, size_t count) {
  if (!c)
    return BINK_E_INVALID;
  if (count && !cmds)
    return bink__fail(c, BINK_E_INVALID, 0, "commands is required");
  NEW_PARAMS(params);
  json_t *arr = json_array();
  CHECK(put_new(c, params, "commands", arr));
  for (size_t i = 0; i < count; i++) {
    if (!cmds[i].command || !cmds[i].description) {
      json_decref(params);
      return bink__fail(c, BINK_E_INVALID, 0, "commands[%zu] lacks command or description", i);
    }
    json_t *o = json_pack("{s:s, s:s}", "command", cmds[i].command, "description",
                          cmds[i].description);
    if (!o || json_array_append_new(arr, o) != 0) {
      json_decref(params);
      return bink__fail(c, BINK_E_INVALID, 0, "commands[%zu] is not valid UTF-8", i);
    }
  }
  return run(c, "botapisetcommands", params, NULL, 0, NULL, NULL);
}

bink_status bink_get_commands(bink_client *c, bink_command_list *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!out)
    return bink__fail(c, BINK_E_INVALID, 0, "out is required");
  return run(c, "botapigetcommands", NULL, NULL, 0, conv_commands, out);
}

static bink_status muted_until_conv(json_t *d, void *out, char *err, size_t en) {
  json_t *v = json_object_get(d, "muted_until");
  if (!json_is_integer(v)) {
    snprintf(err, en, "muted_until must be an integer");
    return BINK_E_PARSE;
  }
  *(int64_t *)out = (int64_t)json_integer_value(v);
  return BINK_OK;
}

static bink_status was_muted_conv(json_t *d, void *out, char *err, size_t en) {
  json_t *v = json_object_get(d, "was_muted");
  if (!json_is_boolean(v)) {
    snprintf(err, en, "was_muted must be a boolean");
    return BINK_E_PARSE;
  }
  *(int *)out = json_is_true(v) ? 1 : 0;
  return BINK_OK;
}

bink_status bink_mute_member(bink_client *c, const char *group_id, const char *user_id,
                             int64_t duration_s, int64_t *muted_until) {
  if (muted_until)
    *muted_until = 0;
  if (!c)
    return BINK_E_INVALID;
  if (need(c, group_id, "group_id") != BINK_OK || need(c, user_id, "user_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "group_id", group_id));
  CHECK(put_str(c, params, "user_id", user_id));
  CHECK(put_new(c, params, "duration", json_integer((json_int_t)duration_s)));
  return run(c, "mutemember", params, NULL, 0, muted_until_conv, muted_until);
}

bink_status bink_unmute_member(bink_client *c, const char *group_id, const char *user_id,
                               int *was_muted) {
  if (was_muted)
    *was_muted = 0;
  if (!c)
    return BINK_E_INVALID;
  if (need(c, group_id, "group_id") != BINK_OK || need(c, user_id, "user_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "group_id", group_id));
  CHECK(put_str(c, params, "user_id", user_id));
  return run(c, "unmutemember", params, NULL, 0, was_muted_conv, was_muted);
}

/* ---- files ---- */

static bink_status upload(bink_client *c, curl_mime *mime, bink_file *out) {
  json_t *data = NULL;
  bink_status st = bink__call_mime(c, "uploadfile", mime, out ? &data : NULL);
  curl_mime_free(mime);
  if (st != BINK_OK || !out)
    return st;
  char why[160] = "";
  st = bink__file_from_json(data, out, why, sizeof why);
  json_decref(data);
  if (st == BINK_E_PARSE)
    return bink__fail(c, BINK_E_PROTOCOL, 200, "uploadfile: unexpected answer: %s", why);
  if (st == BINK_E_NOMEM)
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  return st;
}

bink_status bink_upload_path(bink_client *c, const char *path, bink_file *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (need(c, path, "path") != BINK_OK)
    return BINK_E_INVALID;
  struct stat sb;
  if (stat(path, &sb) != 0)
    return bink__fail(c, BINK_E_IO, 0, "cannot open %s: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode))
    return bink__fail(c, BINK_E_IO, 0, "cannot upload %s: not a regular file", path);
  FILE *probe = fopen(path, "rb");
  if (!probe)
    return bink__fail(c, BINK_E_IO, 0, "cannot open %s: %s", path, strerror(errno));
  fclose(probe);
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  curl_mime *mime = curl_mime_init(c->curl);
  curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
  if (!part || curl_mime_name(part, "file") != CURLE_OK ||
      curl_mime_filedata(part, path) != CURLE_OK ||
      curl_mime_filename(part, *name ? name : "file") != CURLE_OK) {
    curl_mime_free(mime);
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  }
  return upload(c, mime, out);
}

bink_status bink_upload_mem(bink_client *c, const char *file_name, const void *data, size_t len,
                            bink_file *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!data && len)
    return bink__fail(c, BINK_E_INVALID, 0, "data is NULL");
  curl_mime *mime = curl_mime_init(c->curl);
  curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
  if (!part || curl_mime_name(part, "file") != CURLE_OK ||
      curl_mime_data(part, len ? data : "", len) != CURLE_OK ||
      curl_mime_filename(part, file_name && *file_name ? file_name : "file") != CURLE_OK ||
      curl_mime_type(part, "application/octet-stream") != CURLE_OK) {
    curl_mime_free(mime);
    return bink__fail(c, BINK_E_NOMEM, 0, "out of memory");
  }
  return upload(c, mime, out);
}

bink_status bink_getfile(bink_client *c, const char *file_id, bink_file *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (need(c, file_id, "file_id") != BINK_OK)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "file_id", file_id));
  return run(c, "getfile", params, NULL, 0, conv_file, out);
}

/* ---- webhooks and updates ---- */

bink_status bink_set_webhook(bink_client *c, const bink_webhook_params *p) {
  if (!c)
    return BINK_E_INVALID;
  if (!p || !p->url)
    return bink__fail(c, BINK_E_INVALID, 0, "url is required");
  NEW_PARAMS(params);
  CHECK(put_str(c, params, "url", p->url));
  CHECK(put_str(c, params, "secret", p->secret));
  if (p->max_connections > 0)
    CHECK(put_new(c, params, "max_connections", json_integer(p->max_connections)));
  CHECK(put_events(c, params, p->allowed_events, p->allowed_event_count));
  if (p->drop_pending)
    CHECK(put_new(c, params, "drop_pending", json_true()));
  return run(c, "setwebhook", params, NULL, 0, NULL, NULL);
}

bink_status bink_get_webhook_info(bink_client *c, bink_webhook_info *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!out)
    return bink__fail(c, BINK_E_INVALID, 0, "out is required");
  return run(c, "getwebhookinfo", NULL, NULL, 0, conv_webhook_info, out);
}

bink_status bink_delete_webhook(bink_client *c, int drop_pending) {
  if (!c)
    return BINK_E_INVALID;
  NEW_PARAMS(params);
  if (drop_pending)
    CHECK(put_new(c, params, "drop_pending", json_true()));
  return run(c, "deletewebhook", params, NULL, 0, NULL, NULL);
}

static bink_status events_conv(json_t *d, void *outp, char *err, size_t en) {
  bink_event_list *out = outp;
  if (!json_is_array(d)) {
    snprintf(err, en, "data must be an array of events");
    return BINK_E_PARSE;
  }
  size_t n = json_array_size(d);
  if (n == 0)
    return BINK_OK;
  out->items = calloc(n, sizeof *out->items);
  if (!out->items)
    return BINK_E_NOMEM;
  for (size_t i = 0; i < n; i++) {
    bink_status st = bink__event_from_json(json_array_get(d, i), &out->items[i], err, en);
    if (st != BINK_OK) {
      bink_event_list_clear(out);
      return st;
    }
    out->count = i + 1;
  }
  return BINK_OK;
}

bink_status bink_get_updates(bink_client *c, int64_t offset, int limit, int timeout_s,
                             const char *const *allowed_events, size_t allowed_event_count,
                             bink_event_list *out) {
  if (out)
    memset(out, 0, sizeof *out);
  if (!c)
    return BINK_E_INVALID;
  if (!out)
    return bink__fail(c, BINK_E_INVALID, 0, "out is required");
  if (timeout_s < 0 || limit < 0)
    return bink__fail(c, BINK_E_INVALID, 0, "timeout and limit must not be negative");
  NEW_PARAMS(params);
  if (offset)
    CHECK(put_new(c, params, "offset", json_integer((json_int_t)offset)));
  if (limit)
    CHECK(put_new(c, params, "limit", json_integer(limit)));
  CHECK(put_new(c, params, "timeout", json_integer(timeout_s)));
  CHECK(put_events(c, params, allowed_events, allowed_event_count));
  return run(c, "getupdates", params, NULL, timeout_s, events_conv, out);
}
