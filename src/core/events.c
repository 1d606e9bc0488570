#include "core/events.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const events__names[BINK_EV__COUNT] = {
    "private_message", "group_message", "member_joined", "callback_query"};

const char *bink_event_type_name(bink_event_type t) {
  return (unsigned)t < BINK_EV__COUNT ? events__names[t] : "";
}

int bink_event_type_parse(const char *s, size_t len) {
  for (int i = 0; i < BINK_EV__COUNT; i++)
    if (strlen(events__names[i]) == len && memcmp(s, events__names[i], len) == 0)
      return i;
  return -1;
}

json_t *bink_event_build(const bink_event_src *src) {
  const bink_message *m = src->message;
  const bink_group *g = src->group;
  bool cb = src->type == BINK_EV_CALLBACK_QUERY;
  bool joined = src->type == BINK_EV_MEMBER_JOINED;
  const char *type = cb ? "callback" : joined ? "system"
                                               : bink_msg_type_name(m->type);
  const char *content = cb ? src->callback_data
                        : joined ? ""
                                 : (m->content ? m->content : "");
  json_t *file = json_null();
  bool has_file = !cb && !joined && m->attachment &&
                  m->type >= BINK_MSG_IMAGE && m->type <= BINK_MSG_FILE;
  if (has_file) {
    json_t *f = json_loads(m->attachment, 0, NULL);
    if (f)
      file = f;
  }
  return json_pack(
      "{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s,"
      " s:s, s:o, s:s, s:s, s:s}",
      "event_type", bink_event_type_name(src->type), "update_id",
      (json_int_t)src->update_id, "message_id", m ? m->ext_id : "",
      "sender_id", src->sender->ext_id, "sender_username",
      src->sender->username, "sender_display_name", src->sender->display_name,
      "group_id", g ? g->ext_id : "", "group_username", g ? g->username : "",
      "group_title", g ? g->title : "", "message_type", type, "content",
      content, "timestamp", (json_int_t)src->timestamp, "callback_id",
      cb ? src->callback_id : "", "callback_data",
      cb ? src->callback_data : "", "file_id",
      (!cb && !joined && m) ? m->file_ref : "", "file", file, "reply_to_id",
      (!cb && !joined && m) ? m->reply_to_ext : "", "quote_message_id",
      (!cb && !joined && m) ? m->quote_ext : "", "inviter_id",
      joined && src->inviter_id ? src->inviter_id : "");
}

static bool events__word(char c) {
  return isalnum((unsigned char)c) || c == '_';
}

bool bink_event_addressed(const char *text, size_t len, const char *username) {
  size_t ulen = strlen(username);
  if (len > 1 && text[0] == '/' && events__word(text[1])) {
    size_t i = 1;
    while (i < len && events__word(text[i]))
      i++;
    if (i == len || text[i] != '@')
      return true; /* "/cmd" reaches every bot */
    size_t start = ++i;
    while (i < len && events__word(text[i]))
      i++;
    return i - start == ulen && strncasecmp(text + start, username, ulen) == 0;
  }
  for (size_t i = 0; i + 1 + ulen <= len; i++) {
    if (text[i] != '@' || (i > 0 && events__word(text[i - 1])))
      continue;
    if (strncasecmp(text + i + 1, username, ulen) != 0)
      continue;
    size_t end = i + 1 + ulen;
    if (end == len || !events__word(text[end]))
      return true;
  }
  return false;
}

bool bink_event_allowed(const char *allowed_json, bink_event_type type) {
  if (!allowed_json || !*allowed_json)
    return true;
  json_t *list = json_loads(allowed_json, 0, NULL);
  if (!json_is_array(list)) {
    json_decref(list);
    return true;
  }
  bool ok = json_array_size(list) == 0;
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (json_is_string(v) &&
        strcmp(json_string_value(v), bink_event_type_name(type)) == 0)
      ok = true;
  }
  json_decref(list);
  return ok;
}

void bink_event_chat_key(char out[32], int64_t group_id, int64_t dm_id) {
  if (group_id > 0)
    snprintf(out, 32, "g%lld", (long long)group_id);
  else
    snprintf(out, 32, "d%lld", (long long)dm_id);
}

int64_t bink_webhook_backoff_ms(int attempts, double unit) {
  int64_t base = 1000;
  for (int i = 1; i < attempts && base < 60000; i++)
    base *= 2;
  if (base > 60000)
    base = 60000;
  double jitter = 0.8 + 0.4 * unit; /* ±20 % */
  return (int64_t)((double)base * jitter);
}

bool bink_webhook_key(const char *secret, unsigned char key[256],
                      size_t *len) {
  size_t n = strlen(secret);
  if (n > 6 && strncmp(secret, "whsec_", 6) == 0) {
    const char *b64 = secret + 6;
    size_t bn = n - 6;
    if (bn % 4 != 0 || bn > 88)
      return false;
    unsigned char buf[96];
    int out = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)bn);
    if (out < 0)
      return false;
    /* EVP_DecodeBlock counts padding bytes as data: take them off. */
    if (bn >= 1 && b64[bn - 1] == '=')
      out--;
    if (bn >= 2 && b64[bn - 2] == '=')
      out--;
    if (out < 24 || out > 64)
      return false;
    memcpy(key, buf, (size_t)out);
    *len = (size_t)out;
    return true;
  }
  if (n < 16 || n > 256)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)secret[i] < 0x20 || (unsigned char)secret[i] > 0x7e)
      return false;
  memcpy(key, secret, n);
  *len = n;
  return true;
}

void bink_webhook_sign(const unsigned char *key, size_t key_len,
                       const char *msg_id, int64_t timestamp,
                       const char *body, size_t body_len, char out[64]) {
  char head[160];
  int hn = snprintf(head, sizeof head, "%s.%lld.", msg_id, (long long)timestamp);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
      OSSL_PARAM_construct_end()};
  size_t got = 0;
  if (ctx && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
      EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hn) == 1 &&
      EVP_MAC_update(ctx, (const unsigned char *)body, body_len) == 1 &&
      EVP_MAC_final(ctx, mac, &got, sizeof mac) == 1)
    mac_len = (unsigned int)got;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(hmac);
  memcpy(out, "v1,", 3);
  EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)mac_len);
}
