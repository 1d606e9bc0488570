/*
 * model.h: the records of the chat platform as the domain sees them.
 * Integer keys (`id`) are the store's; external ids ("user_…", "msg_…") are
 * what clients see (core/rules.h, "identifiers").
 *
 * Ownership: fixed-size fields live inside the struct; the few unbounded
 * fields (message content, extra, quote) are heap strings owned by the
 * struct and released with the matching *_clear() function.
 */
#ifndef BINK_CORE_MODEL_H
#define BINK_CORE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rules.h"

#define BINK_USERNAME_MAX 33      /* 32 bytes + NUL */
#define BINK_NAME_MAX 257         /* 64 code points of up to 4 bytes + NUL */
#define BINK_TITLE_MAX 513        /* 128 code points + NUL */
#define BINK_DESC_MAX 2049        /* 512 code points + NUL */
#define BINK_URL_MAX 2049
#define BINK_SECRET_MAX 257

/* A user or a bot: they share one namespace of usernames and both can be
 * members of groups and senders of messages. */
typedef struct bink_account {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  bool is_bot;
  char ext_id[BINK_ID_MAX];
  char username[BINK_USERNAME_MAX];
  char display_name[BINK_NAME_MAX];
  char description[BINK_DESC_MAX];
  int64_t created_at;  /* Unix seconds */
  /* bots only */
  int64_t owner_id;
  bool privacy_mode;
  bool can_join_groups;
  char webhook_url[BINK_URL_MAX];
  char webhook_secret[BINK_SECRET_MAX];
  int max_connections;
} bink_account;

typedef enum bink_role {
  BINK_ROLE_NONE = -1, /* not a member */
  BINK_ROLE_MEMBER = 0,
  BINK_ROLE_ADMIN = 1,
  BINK_ROLE_OWNER = 2
} bink_role;

typedef struct bink_group {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  char ext_id[BINK_ID_MAX];
  char username[BINK_USERNAME_MAX]; /* "" when none */
  char title[BINK_TITLE_MAX];
  char description[BINK_DESC_MAX];
  bool is_public;
  int64_t owner_id;
  int64_t member_count;
  int64_t created_at;
} bink_group;

typedef struct bink_member {
  int64_t group_id;
  int64_t account_id;
  bink_role role;
  int64_t muted_until; /* -1 not muted; 0 until unmuted; else Unix seconds */
  int64_t joined_at;
} bink_member;

typedef enum bink_msg_type {
  BINK_MSG_TEXT = 0,
  BINK_MSG_IMAGE,
  BINK_MSG_VIDEO,
  BINK_MSG_AUDIO,
  BINK_MSG_FILE,
  BINK_MSG_STICKER,
  BINK_MSG_CONTACT,
  BINK_MSG_SYSTEM,
  BINK_MSG__COUNT
} bink_msg_type;

/* Name of a type as on the wire ("text", ...); parse returns -1 if unknown. */
const char *bink_msg_type_name(bink_msg_type t);
int bink_msg_type_parse(const char *s);

/* A message. Chat: group_id > 0 for a group, else dm_id > 0 for a private
 * chat. The ext_* fields are the external ids rendered to clients. */
typedef struct bink_message {
  int64_t id;
  char tag[BINK_ID_TAG_LEN + 1];
  char ext_id[BINK_ID_MAX];
  int64_t group_id;
  int64_t dm_id;
  int64_t sender_id;
  int64_t target_id;            /* private chats: the recipient */
  char group_ext[BINK_ID_MAX];  /* "" in private chats */
  char sender_ext[BINK_ID_MAX];
  char target_ext[BINK_ID_MAX]; /* "" in groups */
  bink_msg_type type;
  char *content;                /* heap, never NULL once loaded */
  char file_ref[BINK_ID_MAX];   /* file_…, sticker_…, user_…/bot_… or "" */
  char *extra;                  /* heap JSON text of "extra", or NULL */
  char *attachment;             /* heap JSON text of file/sticker/contact, or NULL */
  int64_t reply_to;             /* row key, 0 none */
  char reply_to_ext[BINK_ID_MAX];
  int64_t quote_id;
  char quote_ext[BINK_ID_MAX];
  char *quote;                  /* heap JSON text of the quote snapshot, or NULL */
  int64_t created_at;           /* Unix seconds */
  int64_t edited_at;            /* 0 never */
  bool deleted;
} bink_message;

/* Frees the heap fields and zeroes them; the struct itself is the caller's. */
void bink_message_clear(bink_message *m);

/* A private chat between two accounts (lo < hi by row key). The flags are
 * per side: wrote = has sent at least one message here; blocked = has
 * blocked the other side (app-api.md "blockbot"). */
typedef struct bink_dm {
  int64_t id;
  int64_t lo, hi;
  bool lo_wrote, hi_wrote;
  bool lo_blocked, hi_blocked;
  int64_t created_at;
} bink_dm;

#endif
