/*
 * events.h: what bots receive (events.md): the event object, the rule that
 * decides which group messages reach a bot, the allowed_events filter, and
 * the webhook delivery arithmetic (back-off, signing). No I/O.
 */
#ifndef BINK_CORE_EVENTS_H
#define BINK_CORE_EVENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

typedef enum bink_event_type {
  BINK_EV_PRIVATE_MESSAGE = 0,
  BINK_EV_GROUP_MESSAGE,
  BINK_EV_MEMBER_JOINED,
  BINK_EV_CALLBACK_QUERY,
  BINK_EV__COUNT
} bink_event_type;

/* "private_message", ...; parse returns -1 for an unknown name. */
const char *bink_event_type_name(bink_event_type t);
int bink_event_type_parse(const char *s, size_t len);

/* What an event is made of. Pointers are borrowed; group may be NULL in
 * private chats; callback fields only for callback_query. */
typedef struct bink_event_src {
  bink_event_type type;
  int64_t update_id;
  const bink_message *message; /* the message (or the system message) */
  const bink_account *sender;  /* the author, new member or clicker */
  const bink_group *group;
  const char *callback_id;     /* "" unless callback_query */
  const char *callback_data;
  const char *inviter_id;      /* member_joined: who added them, or "" */
  int64_t timestamp;           /* Unix seconds */
} bink_event_src;

/* The event object of events.md with every key present, in the seed's
 * order. New reference; NULL only when memory runs out. */
json_t *bink_event_build(const bink_event_src *src);

/* Whether a group message of `text` is addressed to the bot `username`
 * under privacy mode: a whole-word "@username" (ignoring case; word
 * characters are [A-Za-z0-9_]), or a command "/cmd" or "/cmd@username" at
 * the start of the text ("/cmd@otherbot" is not). Replies are checked by
 * the caller. */
bool bink_event_addressed(const char *text, size_t len, const char *username);

/* allowed_events: NULL or "" (all), else the JSON text of an array of
 * event type names. True when `type` passes. */
bool bink_event_allowed(const char *allowed_json, bink_event_type type);

/* The key that orders a bot's events: events of one chat are delivered in
 * update_id order. "g<group row key>" or "d<private chat row key>". */
void bink_event_chat_key(char out[32], int64_t group_id, int64_t dm_id);

/* Back-off before attempt n + 1 after n failed attempts (n >= 1), in
 * milliseconds: 1 s, 2 s, 4 s, ... capped at 60 s, with the jitter
 * `unit` in [0, 1) mapped to ±20 % (events.md "Retries"). */
int64_t bink_webhook_backoff_ms(int attempts, double unit);

/* The Standard Webhooks signing key of a webhook secret (events.md
 * "Signing key"): "whsec_<base64>" decodes to 24..64 bytes; any other
 * secret of 16..256 printable ASCII is used as its own bytes. Writes up
 * to 256 bytes into key and its length into *len; false for a secret that
 * fits neither form. */
bool bink_webhook_key(const char *secret, unsigned char key[256], size_t *len);

/* "v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>" into out
 * (Standard Webhooks). out needs 64 bytes. */
void bink_webhook_sign(const unsigned char *key, size_t key_len,
                       const char *msg_id, int64_t timestamp,
                       const char *body, size_t body_len, char out[64]);

#endif
