/*
 * svc.h: the platform's operations (use cases). Each takes its inputs in an
 * op struct, applies the rules of core/ and reads or writes through the
 * store interface; none knows HTTP.
 *
 * Write operations are store job functions (store_job_fn): the HTTP layer
 * hands them to the writer with http_defer(), so they run on the writer
 * thread inside a group commit and must not block. Their result is put in
 * `*out` (a new JSON reference the caller releases). Read operations run on
 * the caller's thread with store_reader().
 *
 * Every operation returns BINK_OK or an error code with err->msg naming the
 * offending field or id, as bot-api.md requires.
 */
#ifndef BINK_SVC_H
#define BINK_SVC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"
#include "core/rules.h"
#include "http/http.h" /* bink_str only */
#include "store/store.h"

/* What every operation knows: who calls, when, and with which limits. */
typedef struct svc_ctx {
  const bink_account *caller; /* NULL for register */
  int64_t now;                /* Unix seconds */
  const bink_limits *limits;
  json_t **out;               /* where the result goes (may be NULL) */
} svc_ctx;

/* ---- accounts (svc_accounts.c) ---- */
typedef struct svc_register {
  svc_ctx x;
  bink_str username, display_name, description;
  bool is_bot;          /* createbot: caller is the owner */
  bool open_registration;
} svc_register;
bink_rc svc_register_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_update_bot {
  svc_ctx x;
  bink_str bot_id, display_name, description, webhook_url, webhook_secret;
  bool has_privacy_mode, privacy_mode;
  bool has_max_connections;
  int64_t max_connections;
} svc_update_bot;
bink_rc svc_update_bot_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_bot_ref {
  svc_ctx x;
  bink_str bot_id;
  bool flag; /* blockbot: blocked */
} svc_bot_ref;
bink_rc svc_revoke_token_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_block_bot_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_bot_commands(store_conn *c, svc_bot_ref *op, bink_err *err);
bink_rc svc_my_bots(store_conn *c, svc_ctx *x, bink_err *err);

typedef struct svc_get_user {
  svc_ctx x;
  bink_str user_id, username;
} svc_user_query;
bink_rc svc_get_user(store_conn *c, svc_user_query *op, bink_err *err);

typedef struct svc_set_commands {
  svc_ctx x;
  const json_t *commands;
} svc_set_commands;
bink_rc svc_set_commands_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_get_commands(store_conn *c, svc_ctx *x, bink_err *err);

/* ---- groups (svc_groups.c) ---- */
typedef struct svc_create_group {
  svc_ctx x;
  bink_str title, username, description;
  bool is_public;
} svc_create_group;
bink_rc svc_create_group_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_group_op {
  svc_ctx x;
  bink_str group_id, group_username, user_id;
  bool flag;          /* setadmin: admin */
  int64_t duration;   /* mute */
} svc_group_op;
bink_rc svc_get_group(store_conn *c, svc_group_op *op, bink_err *err);
bink_rc svc_add_member_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_join_group_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_leave_group_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_remove_member_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_set_admin_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_members(store_conn *c, svc_group_op *op, bink_err *err);
bink_rc svc_mute_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_unmute_job(store_conn *c, void *op, bink_err *err);

/* ---- messages (svc_messages.c) ---- */
typedef struct svc_send {
  svc_ctx x;
  bink_str group_id, target_user_id, message_type, content, file_id,
      reply_to_id, quote_message_id;
  const json_t *extra;       /* bots only; validated by the op */
  const char *idempotency_key;
  unsigned char request_hash[BINK_SHA256_LEN];
  char tag[BINK_ID_TAG_LEN + 1]; /* the new message id's random part */
} svc_send;
/* What a send needs no storage for, done on the request's thread before
 * the job is queued: draws op->tag (OpenSSL's RAND_bytes takes a lock and
 * calls getpid() every time; the writer thread, where the job runs, is the
 * one stage every write goes through). Should that fail, op->tag stays
 * empty and the store draws it. */
void svc_send_prepare(svc_send *op);
bink_rc svc_send_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_edit {
  svc_ctx x;
  bink_str message_id, content;
  bool has_content;
  const json_t *extra;
} svc_edit;
bink_rc svc_edit_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_delete {
  svc_ctx x;
  bink_str message_id;
  const json_t *message_ids; /* batch form */
} svc_delete;
bink_rc svc_delete_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_history {
  svc_ctx x;
  bink_str group_id, peer_id, before;
  int64_t limit;
  int64_t read_group, read_dm, read_upto; /* out: what to mark read */
} svc_history_query;
bink_rc svc_history(store_conn *c, svc_history_query *op, bink_err *err);
bink_rc svc_chats(store_conn *c, svc_ctx *x, bink_err *err);

/* Marks a chat read (fire-and-forget after history). */
typedef struct svc_mark_read {
  int64_t account_id, group_id, dm_id, upto;
} svc_mark_read;
bink_rc svc_mark_read_job(store_conn *c, void *op, bink_err *err);

/* ---- events (svc_events.c; events.md) ---- */
typedef struct svc_updates {
  svc_ctx x;
  int64_t offset;                /* >= 0 */
  int64_t limit;                 /* 1..100 */
  const json_t *allowed_events;  /* NULL: keep the bot's setting */
} svc_updates;
/* Confirms events before offset and stores allowed_events (a write). */
bink_rc svc_updates_prepare_job(store_conn *c, void *op, bink_err *err);
/* Pending events from offset on: *out = [event, ...]. */
bink_rc svc_updates_read(store_conn *c, svc_updates *op, bink_err *err);

typedef struct svc_webhook {
  svc_ctx x;
  bink_str url, secret;
  bool has_max_connections;
  int64_t max_connections;
  const json_t *allowed_events;
  bool drop_pending;
} svc_webhook;
/* setwebhook (the URL's host is checked by the caller first): "" url
 * deletes. */
bink_rc svc_set_webhook_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_delete_webhook_job(store_conn *c, void *op, bink_err *err);
bink_rc svc_webhook_info(store_conn *c, svc_ctx *x, bink_err *err);

typedef struct svc_click {
  svc_ctx x;
  bink_str message_id, callback_data;
  int64_t callback_row;          /* out: the callback query's row key */
  char callback_id[160];         /* out */
} svc_click;
bink_rc svc_click_job(store_conn *c, void *op, bink_err *err);
/* {"callback_id", "answer": {...} | null} for a click made before. */
bink_rc svc_click_result(store_conn *c, svc_click *op, bink_err *err);

typedef struct svc_answer {
  svc_ctx x;
  bink_str callback_id, text, url;
  bool show_alert;
  int64_t ttl;                   /* seconds a click may be answered */
} svc_answer;
bink_rc svc_answer_job(store_conn *c, void *op, bink_err *err);

typedef struct svc_deliveries {
  svc_ctx x;
  bink_str bot_id, status;
  int64_t limit, before, update_id;
} svc_delivery_query;
bink_rc svc_deliveries(store_conn *c, svc_delivery_query *op, bink_err *err);
bink_rc svc_redeliver_job(store_conn *c, void *op, bink_err *err);

/* The outcome of one webhook attempt (the dispatcher's), recorded with the
 * rules of events.md: a receiver answering 410 Gone for 23 h loses its
 * webhook. */
typedef struct svc_attempt {
  store_attempt a;
  char error[256];
} svc_attempt;
bink_rc svc_attempt_record_job(store_conn *c, void *op, bink_err *err);
/* Dead-letters pending events older than `cutoff` (Unix seconds) and
 * forgets settled ones. op is an int64_t *. */
bink_rc svc_events_expire_job(store_conn *c, void *op, bink_err *err);

/* ---- shared checks (svc_common.c) ---- */
/* Loads a group by external id: ENOTFOUND "group_id … not found". */
bink_rc svc__load_group(store_conn *c, const char *field, bink_str id,
                        bink_group *g, bink_err *err);
/* Loads the caller's membership: EFORBIDDEN when not a member. */
bink_rc svc__require_member(store_conn *c, const bink_group *g,
                            const bink_account *who, bink_member *m,
                            bink_err *err);
/* Both of the above in one store look-up, with the same failures. */
bink_rc svc__load_group_member(store_conn *c, const char *field, bink_str id,
                               const bink_account *who, bink_group *g,
                               bink_member *m, bink_err *err);
/* Loads an account by external id: ENOTFOUND "<field> … not found". */
bink_rc svc__load_account(store_conn *c, const char *field, bink_str id,
                          bink_account *a, bink_err *err);
/* True when a member is muted at `now`. */
bool svc__is_muted(const bink_member *m, int64_t now);
/* Text fields: validate a string parameter (UTF-8 checked by the layer). */
bink_rc svc__text(const char *field, bink_str s, int min, int max,
                  bool blank_is_empty, bink_err *err);

/* ---- files and stickers (svc_files.c; bot-api.md "uploadfile",
 * "getfile", "sendmessage" Media/Sticker; app-api.md "stickers") ---- */
#include "core/media.h"

/* Records an upload whose blob is already on disk: op->file holds
 * owner_id, sha256, size, mime_type, file_name. With an Idempotency-Key a
 * repeat returns the first response. *out = {"file_id", "file_name",
 * "mime_type", "file_size", "sha256"}. */
typedef struct svc_upload {
  svc_ctx x;
  bink_file file;
  const char *idempotency_key;
  unsigned char request_hash[BINK_SHA256_LEN];
} svc_upload;
bink_rc svc_upload_job(store_conn *c, void *op, bink_err *err);

/* The attachment JSON text (heap, caller frees) of a message of `type`
 * (image, video, audio, file: a file_… visible to `who` whose type fits,
 * {"file_name","mime_type","file_size"}; sticker: a sticker_… of the
 * catalogue, {"sticker_id","set_name","emoji","mime_type"}). 404 naming
 * file_id when unknown or not visible, 400 naming the actual type when it
 * does not fit. */
bink_rc svc__attachment(store_conn *c, const bink_account *who,
                        bink_msg_type type, bink_str file_id, char **json_text,
                        bink_err *err);

/* getfile / GET /file/{id}: a file_… visible to the caller (uploaded by
 * it, or in a message it can see) or any sticker_…. op->file receives the
 * record (for a sticker, its image's); *out = {"file_id", "file_name",
 * "mime_type", "file_size", "download_url"} with download_url =
 * base_url + "/file/" + file_id. */
typedef struct svc_file_query {
  svc_ctx x;
  bink_str file_id;
  const char *base_url;   /* no trailing '/' */
  bink_file file;         /* out */
} svc_file_query;
bink_rc svc_get_file(store_conn *c, svc_file_query *op, bink_err *err);

/* GET /app/stickers: *out = {"stickers": [{"sticker_id", "set_name",
 * "emoji", "mime_type", "file_size", "download_url"}, ...]}. */
bink_rc svc_stickers(store_conn *c, svc_file_query *op, bink_err *err);

#endif
