/*
 * rules.c: the limits of bot-api.md ("Text and limits") and app-api.md,
 * and the checks of single fields against them.
 */
#include "core/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define RULES_PATH_MAX 96 /* "extra.inline_keyboard[i][j].callback_data" */
#define RULES_COMMAND_MAX 32

#define RULES_USERNAME_RE "^[A-Za-z][A-Za-z0-9_]{2,31}$"
#define RULES_COMMAND_RE "^[a-z0-9_]{1,32}$"
#define RULES_URL_RULE "must be an absolute http or https URL"

void bink_limits_default(bink_limits *l)
{
  l->text_max = 4096;
  l->caption_max = 1024;
  l->kb_rows_max = 10;
  l->kb_row_buttons_max = 8;
  l->kb_buttons_max = 100;
  l->button_text_max = 64;
  l->callback_data_max = 64;
  l->button_url_max = 2048;
  l->answer_text_max = 200;
  l->delete_ids_max = 100;
  l->commands_max = 100;
  l->command_desc_max = 256;
  l->mute_min = 30;
  l->mute_max = 31622400;
  l->display_name_max = 64;
  l->title_max = 128;
  l->description_max = 512;
}

/* A configured limit as a size; a negative one allows nothing. */
static size_t rules__cap(int limit)
{
  return limit < 0 ? 0 : (size_t)limit;
}

static bool rules__is_alpha(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool rules__is_digit(char c)
{
  return c >= '0' && c <= '9';
}

bink_rc bink_check_text(const char *field, const char *s, size_t len, int min,
                        int max, bool blank_is_empty, bink_err *err)
{
  size_t n;

  if(!bink_utf8_valid(s, len))
    return bink_fail(err, BINK_EINVAL,
                     "%s must be valid UTF-8 without NUL characters", field);
  if(min >= 1 &&
     (len == 0 || (blank_is_empty && bink_utf8_is_blank(s, len))))
    return bink_fail(err, BINK_EINVAL, "%s must not be empty", field);
  n = bink_utf8_count(s, len);
  if(n < rules__cap(min) || n > rules__cap(max))
    return bink_fail(err, BINK_EINVAL, "%s must be %d..%d characters", field,
                     min, max);
  return BINK_OK;
}

bink_rc bink_check_username(const char *field, const char *s, size_t len,
                            bink_err *err)
{
  bool ok = len >= 3 && len <= 32 && rules__is_alpha(s[0]);

  for(size_t i = 1; ok && i < len; i++)
    ok = rules__is_alpha(s[i]) || rules__is_digit(s[i]) || s[i] == '_';
  if(!ok)
    return bink_fail(err, BINK_EINVAL, "%s must match %s", field,
                     RULES_USERNAME_RE);
  return BINK_OK;
}

bink_rc bink_check_bot_username(const char *field, const char *s, size_t len,
                                bink_err *err)
{
  bink_rc rc = bink_check_username(field, s, len, err);

  if(rc != BINK_OK)
    return rc;
  if(strncasecmp(s + len - 3, "bot", 3) != 0)
    return bink_fail(err, BINK_EINVAL, "%s must end in \"bot\"", field);
  return BINK_OK;
}

/* Length of the "http://" or "https://" that s starts with (any case), or
 * 0. libcurl alone would also take "http:/host" and "http:///host". */
static size_t rules__http_prefix(const char *s, size_t len)
{
  if(len >= 7 && !strncasecmp(s, "http://", 7))
    return 7;
  if(len >= 8 && !strncasecmp(s, "https://", 8))
    return 8;
  return 0;
}

bink_rc bink_check_http_url(const char *field, const char *s, size_t len,
                            size_t max_bytes, bink_err *err)
{
  size_t prefix;
  char *copy;
  CURLU *u;
  char *scheme = NULL;
  char *host = NULL;
  bool oom;
  bool ok;

  if(len > max_bytes)
    return bink_fail(err, BINK_EINVAL, "%s must be at most %zu bytes", field,
                     max_bytes);
  for(size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if(c <= 0x20 || c == 0x7F)
      return bink_fail(err, BINK_EINVAL,
                       "%s must not contain spaces or control characters",
                       field);
  }
  if(!bink_utf8_valid(s, len))
    return bink_fail(err, BINK_EINVAL, "%s must be valid UTF-8", field);
  prefix = rules__http_prefix(s, len);
  if(!prefix || prefix == len || s[prefix] == '/')
    return bink_fail(err, BINK_EINVAL, "%s " RULES_URL_RULE, field);

  copy = malloc(len + 1);
  if(!copy)
    return bink_fail(err, BINK_EINTERNAL, "%s could not be checked", field);
  memcpy(copy, s, len);
  copy[len] = '\0';

  u = curl_url();
  oom = !u;
  /* Without CURLU_NON_SUPPORT_SCHEME, schemes libcurl lacks fail here. */
  ok = u && curl_url_set(u, CURLUPART_URL, copy, 0) == CURLUE_OK &&
       curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
       curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
       (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https")) &&
       host[0] != '\0';
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  free(copy);
  if(oom)
    return bink_fail(err, BINK_EINTERNAL, "%s could not be checked", field);
  if(!ok)
    return bink_fail(err, BINK_EINVAL, "%s " RULES_URL_RULE, field);
  return BINK_OK;
}

/* A member of a button object; JSON null counts as absent. */
static const json_t *rules__member(const json_t *obj, const char *key)
{
  const json_t *v = json_object_get(obj, key);

  return json_is_null(v) ? NULL : v;
}

static bink_rc rules__check_button(const json_t *btn, size_t r, size_t c,
                                   const bink_limits *l, bink_err *err)
{
  char path[RULES_PATH_MAX];
  const json_t *text;
  const json_t *data;
  const json_t *url;
  bink_rc rc;

  if(!json_is_object(btn))
    return bink_fail(err, BINK_EINVAL,
                     "extra.inline_keyboard[%zu][%zu] must be an object", r, c);

  text = rules__member(btn, "text");
  snprintf(path, sizeof(path), "extra.inline_keyboard[%zu][%zu].text", r, c);
  if(!text)
    return bink_fail(err, BINK_EINVAL, "%s is required", path);
  if(!json_is_string(text))
    return bink_fail(err, BINK_EINVAL, "%s must be a string", path);
  rc = bink_check_text(path, json_string_value(text), json_string_length(text),
                       1, l->button_text_max, true, err);
  if(rc != BINK_OK)
    return rc;

  data = rules__member(btn, "callback_data");
  url = rules__member(btn, "url");
  if(!data == !url)
    return bink_fail(err, BINK_EINVAL,
                     "extra.inline_keyboard[%zu][%zu] must have exactly one of "
                     "callback_data and url", r, c);

  if(data) {
    size_t len;
    snprintf(path, sizeof(path),
             "extra.inline_keyboard[%zu][%zu].callback_data", r, c);
    if(!json_is_string(data))
      return bink_fail(err, BINK_EINVAL, "%s must be a string", path);
    len = json_string_length(data);
    if(!bink_utf8_valid(json_string_value(data), len))
      return bink_fail(err, BINK_EINVAL,
                       "%s must be valid UTF-8 without NUL characters", path);
    if(len < 1 || len > rules__cap(l->callback_data_max))
      return bink_fail(err, BINK_EINVAL, "%s must be 1..%d bytes", path,
                       l->callback_data_max);
    return BINK_OK;
  }

  snprintf(path, sizeof(path), "extra.inline_keyboard[%zu][%zu].url", r, c);
  if(!json_is_string(url))
    return bink_fail(err, BINK_EINVAL, "%s must be a string", path);
  return bink_check_http_url(path, json_string_value(url),
                             json_string_length(url),
                             rules__cap(l->button_url_max), err);
}

bink_rc bink_check_inline_keyboard(const json_t *kb, const bink_limits *l,
                                   bink_err *err)
{
  size_t rows;
  size_t total = 0;

  if(!json_is_array(kb))
    return bink_fail(err, BINK_EINVAL,
                     "extra.inline_keyboard must be an array of arrays");
  rows = json_array_size(kb);
  if(rows > rules__cap(l->kb_rows_max))
    return bink_fail(err, BINK_EINVAL,
                     "extra.inline_keyboard must have at most %d rows",
                     l->kb_rows_max);

  for(size_t r = 0; r < rows; r++) {
    const json_t *row = json_array_get(kb, r);
    size_t n;

    if(!json_is_array(row))
      return bink_fail(err, BINK_EINVAL,
                       "extra.inline_keyboard[%zu] must be an array", r);
    n = json_array_size(row);
    if(n == 0)
      return bink_fail(err, BINK_EINVAL,
                       "extra.inline_keyboard[%zu] must not be empty", r);
    if(n > rules__cap(l->kb_row_buttons_max))
      return bink_fail(err, BINK_EINVAL, "extra.inline_keyboard[%zu] must "
                       "have at most %d buttons", r, l->kb_row_buttons_max);
    total += n;
    if(total > rules__cap(l->kb_buttons_max))
      return bink_fail(err, BINK_EINVAL,
                       "extra.inline_keyboard must have at most %d buttons",
                       l->kb_buttons_max);
    for(size_t c = 0; c < n; c++) {
      bink_rc rc = rules__check_button(json_array_get(row, c), r, c, l, err);
      if(rc != BINK_OK)
        return rc;
    }
  }
  return BINK_OK;
}

/* Checks commands[i].command; on success points *name and *len at it without
 * its leading '/'. */
static bink_rc rules__check_command(const json_t *cmd, size_t i,
                                    const char **name, size_t *len,
                                    bink_err *err)
{
  const char *s;
  size_t n;
  bool ok;

  if(!cmd)
    return bink_fail(err, BINK_EINVAL, "commands[%zu].command is required", i);
  if(!json_is_string(cmd))
    return bink_fail(err, BINK_EINVAL, "commands[%zu].command must be a string",
                     i);
  s = json_string_value(cmd);
  n = json_string_length(cmd);
  if(n && s[0] == '/') {
    s++;
    n--;
  }
  ok = n >= 1 && n <= RULES_COMMAND_MAX;
  for(size_t k = 0; ok && k < n; k++)
    ok = (s[k] >= 'a' && s[k] <= 'z') || rules__is_digit(s[k]) || s[k] == '_';
  if(!ok)
    return bink_fail(err, BINK_EINVAL, "commands[%zu].command must match %s", i,
                     RULES_COMMAND_RE);
  *name = s;
  *len = n;
  return BINK_OK;
}

bink_rc bink_commands_normalize(const json_t *in, const bink_limits *l,
                                json_t **out, bink_err *err)
{
  size_t count;
  json_t *res;
  bink_rc rc = BINK_OK;

  *out = NULL;
  if(!json_is_array(in))
    return bink_fail(err, BINK_EINVAL, "commands must be an array");
  count = json_array_size(in);
  if(count > rules__cap(l->commands_max))
    return bink_fail(err, BINK_EINVAL,
                     "commands must have at most %d entries", l->commands_max);

  res = json_array();
  if(!res)
    return bink_fail(err, BINK_EINTERNAL, "commands could not be stored");

  for(size_t i = 0; i < count && rc == BINK_OK; i++) {
    const json_t *entry = json_array_get(in, i);
    const json_t *desc;
    const char *name = NULL;
    size_t name_len = 0;
    char path[RULES_PATH_MAX];
    json_t *item;

    if(!json_is_object(entry)) {
      rc = bink_fail(err, BINK_EINVAL, "commands[%zu] must be an object", i);
      break;
    }
    rc = rules__check_command(json_object_get(entry, "command"), i, &name,
                              &name_len, err);
    if(rc != BINK_OK)
      break;
    for(size_t j = 0; j < i; j++) {
      const char *prev = json_string_value(
          json_object_get(json_array_get(res, j), "command"));
      if(strlen(prev) == name_len && !memcmp(prev, name, name_len)) {
        rc = bink_fail(err, BINK_EINVAL,
                       "commands[%zu].command duplicates commands[%zu]", i, j);
        break;
      }
    }
    if(rc != BINK_OK)
      break;

    desc = json_object_get(entry, "description");
    snprintf(path, sizeof(path), "commands[%zu].description", i);
    if(!desc) {
      rc = bink_fail(err, BINK_EINVAL, "%s is required", path);
      break;
    }
    if(!json_is_string(desc)) {
      rc = bink_fail(err, BINK_EINVAL, "%s must be a string", path);
      break;
    }
    rc = bink_check_text(path, json_string_value(desc),
                         json_string_length(desc), 1, l->command_desc_max,
                         true, err);
    if(rc != BINK_OK)
      break;

    item = json_object();
    if(!item ||
       json_object_set_new(item, "command", json_stringn(name, name_len)) ||
       json_object_set_new(item, "description",
                           json_stringn(json_string_value(desc),
                                        json_string_length(desc)))) {
      json_decref(item);
      rc = bink_fail(err, BINK_EINTERNAL, "commands could not be stored");
      break;
    }
    if(json_array_append_new(res, item)) { /* item is released either way */
      rc = bink_fail(err, BINK_EINTERNAL, "commands could not be stored");
      break;
    }
  }

  if(rc != BINK_OK) {
    json_decref(res);
    return rc;
  }
  *out = res;
  return BINK_OK;
}

bink_rc bink_check_mute_duration(int64_t seconds, const bink_limits *l,
                                 bink_err *err)
{
  if(seconds == 0 || (seconds >= l->mute_min && seconds <= l->mute_max))
    return BINK_OK;
  return bink_fail(err, BINK_EINVAL,
                   "duration must be 0 or %lld..%lld seconds",
                   (long long)l->mute_min, (long long)l->mute_max);
}

bool bink_idempotency_key_valid(const char *s, size_t len)
{
  /* HTTP trims white space around header values: refuse it there. */
  if(len < 1 || len > 128 || s[0] == ' ' || s[len - 1] == ' ')
    return false;
  for(size_t i = 0; i < len; i++) {
    if(s[i] < 0x20 || s[i] > 0x7E)
      return false;
  }
  return true;
}
