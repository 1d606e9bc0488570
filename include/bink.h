/*
 * bink.h - libbink, the C SDK for the bink Bot API.
 *
 * libbink drives a bink server's Bot API (/bot/...) over HTTP (libcurl) and
 * reads its JSON (jansson). It offers one function per endpoint, typed
 * structs for the objects the server returns, an inline-keyboard builder,
 * file upload from a path or from memory, a long-polling loop helper, and
 * the parser and the Standard Webhooks signature check a webhook receiver
 * needs.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *
 *  - Status. Every fallible function returns a bink_status; BINK_OK (0) is
 *    success. Functions that take a client also record the details of a
 *    failure (the server's code and msg, or the transport's cause) in the
 *    client; read them with bink_last_error(). A successful call clears them.
 *
 *  - Strings. Input strings are NUL-terminated UTF-8 and are only read
 *    during the call (the library keeps no pointer to them). A NULL input
 *    string where one is optional means "leave the field out". Byte buffers
 *    that need not be text (request bodies, file contents) are passed as
 *    (pointer, length).
 *
 *  - Ownership of results. Result structs are provided by the caller
 *    (usually on the stack); the library fills them with strings it
 *    allocates, and the caller releases those with the matching
 *    bink_*_clear() function, which also resets the struct to zeros and
 *    may be called again. String fields of a filled struct are never NULL
 *    (an absent value is ""). Every call that fills a result struct (or a
 *    scalar out-parameter) first sets it to zeros WITHOUT freeing what it
 *    held, so the struct may be uninitialised on entry; in return, a struct
 *    that holds the result of an earlier call must be cleared with its
 *    bink_*_clear() before it is passed again, or its strings leak. On
 *    failure (any status but BINK_OK) the struct is left zeroed and owns
 *    nothing; clearing it is harmless. Passing NULL for a result pointer
 *    marked "may be NULL" discards the result; where a comment says
 *    "required", NULL is BINK_E_INVALID.
 *
 *  - Arguments. A NULL client is BINK_E_INVALID (nothing is recorded, as
 *    there is no client to record it in); so is a required argument that is
 *    NULL or "" (then the reason is in bink_last_error()).
 *
 *  - Units. Times are Unix seconds (int64_t), durations are seconds unless
 *    a name ends in _ms, sizes are bytes.
 *
 *  - Threads. There is no global state except libcurl's, which
 *    bink_global_init() sets up; call it once, before any other thread
 *    starts, and bink_global_cleanup() once at the end. A bink_client may be
 *    used from any thread but by one thread at a time; use one client per
 *    thread for parallel requests. Functions without a client
 *    (bink_event_parse, bink_webhook_verify, the keyboard builder on
 *    distinct keyboards) are safe to call concurrently.
 */
#ifndef BINK_H
#define BINK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define BINK_API __attribute__((visibility("default")))
#else
#define BINK_API
#endif

#define BINK_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------
 * Status codes and errors
 * ---------------------------------------------------------------------- */

typedef enum bink_status {
  BINK_OK = 0,
  BINK_E_API = 1,        /* the server answered with an error envelope:
                            bink_error.code and .msg are the server's */
  BINK_E_TRANSPORT = 2,  /* no usable HTTP exchange: refused connection,
                            DNS, timeout, reset; .msg names the cause */
  BINK_E_PROTOCOL = 3,   /* an answer that is not a bink envelope: not
                            JSON, truncated, wrong shape, too large */
  BINK_E_INVALID = 4,    /* a bad argument from the caller */
  BINK_E_NOMEM = 5,      /* out of memory */
  BINK_E_IO = 6,         /* a local file could not be read or written */
  BINK_E_CANCELLED = 7,  /* the cancel flag (bink_client_set_cancel) was set */
  BINK_E_PARSE = 8,      /* bink_event_parse: not an event object */
  BINK_E_HEADER = 9,     /* bink_webhook_verify: a header missing or malformed */
  BINK_E_TIMESTAMP = 10, /* bink_webhook_verify: timestamp outside tolerance */
  BINK_E_SIGNATURE = 11, /* bink_webhook_verify: no signature matches */
  BINK_E_SECRET = 12     /* bink_webhook_verify: the secret itself is unusable */
} bink_status;

/* A short English name of a status ("api error", "transport error", ...).
 * Returns a static string; never NULL. */
BINK_API const char *bink_status_str(bink_status s);

/* The details of the last failed call on a client. */
typedef struct bink_error {
  bink_status status; /* BINK_OK after a successful call */
  int code;           /* BINK_E_API: the envelope's code (= HTTP status);
                         otherwise the HTTP status if one was received, or 0 */
  char msg[512];      /* BINK_E_API: the server's msg, unchanged (truncated
                         to fit); otherwise a description of the cause */
  int64_t retry_after; /* code 429: data.retry_after in seconds, else 0 */
} bink_error;

/* ------------------------------------------------------------------------
 * Library set-up and the client
 * ---------------------------------------------------------------------- */

/* Initialises libcurl (curl_global_init). Call once before creating
 * clients, while the program has a single thread. Returns BINK_OK or
 * BINK_E_TRANSPORT when libcurl cannot be initialised. */
BINK_API bink_status bink_global_init(void);

/* Releases libcurl's global state; call once after every client is freed,
 * while the program has a single thread. */
BINK_API void bink_global_cleanup(void);

typedef struct bink_client bink_client;

typedef struct bink_client_options {
  const char *base_url;      /* required: "http://127.0.0.1:8080" (a trailing
                                "/" is ignored) */
  const char *token;         /* required: the bot token (never printed or
                                logged by the library) */
  long timeout_s;            /* whole-request timeout; 0 = 60 s. getupdates
                                adds its own long-poll timeout on top */
  long connect_timeout_s;    /* 0 = 10 s */
  size_t max_response_bytes; /* cap on a response body (and on downloads
                                into memory); 0 = 64 MiB. A larger answer
                                fails with BINK_E_PROTOCOL */
  int retry_429;             /* how many times a call answered 429 is
                                repeated after sleeping retry_after seconds;
                                0 = never (the 429 is returned) */
  long max_retry_wait_s;     /* longest sleep for one retry; a longer
                                retry_after returns the 429. 0 = 60 s */
} bink_client_options;

/* Creates a client: one libcurl easy handle, kept alive across calls.
 * opts and its strings are copied. On success *out owns a client to be
 * released with bink_client_free(). Returns BINK_E_INVALID (missing URL or
 * token, token with control characters), BINK_E_NOMEM or BINK_E_TRANSPORT
 * (libcurl refused to create a handle). */
BINK_API bink_status bink_client_new(const bink_client_options *opts, bink_client **out);

/* Frees a client and closes its connection. NULL is ignored. */
BINK_API void bink_client_free(bink_client *c);

/* Makes every later transfer of the client check *flag (typically set by a
 * signal handler) and abort with BINK_E_CANCELLED once it is non-zero,
 * even in the middle of a long poll. NULL removes the flag. The flag must
 * outlive its use by the client. */
BINK_API void bink_client_set_cancel(bink_client *c, const volatile sig_atomic_t *flag);

/* The details of the client's last failed call (status BINK_OK after a
 * success). The pointer stays valid until the client is freed; its content
 * changes with the next call. */
BINK_API const bink_error *bink_last_error(const bink_client *c);
/* (NULL when c is NULL.) */

/* ------------------------------------------------------------------------
 * Objects
 * ---------------------------------------------------------------------- */

/* File metadata: uploadfile's and getfile's answer, and the "file" object
 * of media messages and events (then file_id/sha256/download_url may be "").
 *
 * Each bink_*_clear() function below frees every string and array the
 * struct owns and sets it to zeros. A NULL pointer and a zeroed struct are
 * accepted (no-op), so clearing twice is harmless; clearing a struct that
 * was never zeroed or filled by the library is undefined. They cannot fail. */
typedef struct bink_file {
  char *file_id;
  char *file_name;
  char *mime_type;
  int64_t file_size;   /* bytes */
  char *sha256;        /* uploadfile only, hex */
  char *download_url;  /* getfile only */
} bink_file;
BINK_API void bink_file_clear(bink_file *f);

/* A message (sendmessage, editmessage). */
typedef struct bink_message {
  char *message_id;
  char *chat_type;        /* "group" or "private" */
  char *group_id;         /* "" in private chats */
  char *target_user_id;   /* "" in groups */
  char *sender_id;
  char *message_type;     /* text|image|video|audio|file|sticker|contact|system */
  char *content;
  char *file_id;
  int has_file;           /* 1 when "file" is an object, then .file is filled */
  bink_file file;
  char *reply_to_id;
  char *quote_message_id;
  size_t button_count;    /* buttons in extra.inline_keyboard */
  int64_t timestamp;
  int64_t edited_at;      /* 0 when never edited */
  char *json;             /* the whole message object as compact JSON */
} bink_message;
BINK_API void bink_message_clear(bink_message *m);

typedef enum bink_event_type {
  BINK_EVENT_UNKNOWN = 0, /* an event_type this library does not know */
  BINK_EVENT_PRIVATE_MESSAGE,
  BINK_EVENT_GROUP_MESSAGE,
  BINK_EVENT_MEMBER_JOINED,
  BINK_EVENT_CALLBACK_QUERY
} bink_event_type;

/* An event (getupdates, or a webhook body through bink_event_parse). */
typedef struct bink_event {
  bink_event_type type;   /* BINK_EVENT_UNKNOWN for a type not listed above;
                             event_type then holds the server's name */
  char *event_type;
  int64_t update_id;
  char *message_id;
  char *sender_id;
  char *sender_username;
  char *sender_display_name;
  char *group_id;
  char *group_username;
  char *group_title;
  char *message_type;
  char *content;
  int64_t timestamp;
  char *callback_id;
  char *callback_data;
  char *file_id;
  int has_file;
  bink_file file;
  char *reply_to_id;
  char *quote_message_id;
  char *inviter_id;
  char *json;             /* the whole event as compact JSON (one line) */
} bink_event;
BINK_API void bink_event_clear(bink_event *e);

/* A list of events (getupdates). */
typedef struct bink_event_list {
  bink_event *items;
  size_t count;
} bink_event_list;
BINK_API void bink_event_list_clear(bink_event_list *l);

/* The bot itself (getme). */
typedef struct bink_bot {
  char *bot_id;
  char *username;
  char *display_name;
  char *description;
  int privacy_mode;     /* 0 or 1 */
  int can_join_groups;  /* 0 or 1 */
  int64_t created_at;
} bink_bot;
BINK_API void bink_bot_clear(bink_bot *b);

/* A group as a bot sees it (getgroup). */
typedef struct bink_group {
  char *group_id;
  char *username;
  char *title;
  char *description;
  int64_t member_count;
  int64_t created_at;
  char *bot_role;       /* "member" or "admin" */
} bink_group;
BINK_API void bink_group_clear(bink_group *g);

/* One entry of the command menu. As input, both strings are borrowed. */
typedef struct bink_command {
  char *command;        /* without the leading "/" */
  char *description;
} bink_command;

typedef struct bink_command_list {
  bink_command *items;
  size_t count;
} bink_command_list;
BINK_API void bink_command_list_clear(bink_command_list *l);

/* getwebhookinfo. */
typedef struct bink_webhook_info {
  char *url;             /* "" when no webhook is set */
  int has_secret;
  int64_t max_connections;
  char **allowed_events; /* allowed_event_count strings */
  size_t allowed_event_count;
  int64_t pending_count;
  int64_t last_error_at;
  char *last_error_msg;
  int64_t last_success_at;
} bink_webhook_info;
BINK_API void bink_webhook_info_clear(bink_webhook_info *w);

/* The answer of a batch delete. */
typedef struct bink_delete_failure {
  char *message_id;
  int code;
  char *msg;
} bink_delete_failure;

typedef struct bink_delete_result {
  char **deleted;
  size_t deleted_count;
  bink_delete_failure *failed;
  size_t failed_count;
} bink_delete_result;
BINK_API void bink_delete_result_clear(bink_delete_result *r);

/* ------------------------------------------------------------------------
 * Inline keyboards
 * ---------------------------------------------------------------------- */

typedef struct bink_keyboard bink_keyboard;

/* A new, empty keyboard (no rows). Sent as-is it removes a message's
 * keyboard (editmessage). Returns NULL when out of memory. Free with
 * bink_keyboard_free(). The builder checks nothing the server checks
 * (limits are the server's), only that strings are present. A keyboard
 * passed to a call is only read during it and stays the caller's. */
BINK_API bink_keyboard *bink_keyboard_new(void);

/* Frees a keyboard and every string copied into it. NULL is ignored. */
BINK_API void bink_keyboard_free(bink_keyboard *kb);

/* Adds a callback button to the current row (a first row is started when
 * there is none). text and callback_data are copied. Returns BINK_OK,
 * BINK_E_INVALID (NULL kb or string) or BINK_E_NOMEM. */
BINK_API bink_status bink_keyboard_button(bink_keyboard *kb, const char *text,
                                          const char *callback_data);

/* Adds a URL button to the current row; as bink_keyboard_button. */
BINK_API bink_status bink_keyboard_url_button(bink_keyboard *kb, const char *text,
                                              const char *url);

/* Starts a new row; the next button goes there. An empty row is never
 * sent. Returns BINK_OK, BINK_E_INVALID or BINK_E_NOMEM. */
BINK_API bink_status bink_keyboard_row(bink_keyboard *kb);

/* Number of buttons added so far, over all rows (0 for NULL). */
BINK_API size_t bink_keyboard_count(const bink_keyboard *kb);

/* ------------------------------------------------------------------------
 * Bot API calls. Each returns BINK_OK, BINK_E_API (server error; code/msg
 * in bink_last_error), BINK_E_TRANSPORT, BINK_E_PROTOCOL, BINK_E_INVALID,
 * BINK_E_NOMEM or BINK_E_CANCELLED, plus what its comment adds.
 * ---------------------------------------------------------------------- */

/* getme: the bot's own profile. Fills *out (may be NULL; zeroed first,
 * clear it with bink_bot_clear()). */
BINK_API bink_status bink_getme(bink_client *c, bink_bot *out);

/* getgroup: group_id (required) as the bot sees it. Fills *out (may be
 * NULL; clear it with bink_group_clear()). */
BINK_API bink_status bink_getgroup(bink_client *c, const char *group_id, bink_group *out);

/* What sendmessage sends. Exactly one of group_id and target_user_id. All
 * pointers are borrowed for the duration of the call; NULL leaves a field
 * out. A string that is not valid UTF-8, or an idempotency_key that is not
 * 1..128 printable ASCII characters, is BINK_E_INVALID. */
typedef struct bink_send_params {
  const char *group_id;
  const char *target_user_id;
  const char *message_type;      /* NULL = "text" */
  const char *content;           /* text, or a caption; NULL = none */
  const char *file_id;           /* media, sticker or contact */
  const bink_keyboard *keyboard; /* NULL = none (borrowed) */
  const char *reply_to_id;
  const char *quote_message_id;
  const char *idempotency_key;   /* sent as Idempotency-Key; NULL = none */
} bink_send_params;

/* sendmessage: p is required. Fills *out (may be NULL; clear it with
 * bink_message_clear()) with the stored message. */
BINK_API bink_status bink_send_message(bink_client *c, const bink_send_params *p,
                                       bink_message *out);

/* Convenience: bink_send_message() of a text message (text required) to a
 * group (group_id required); *out may be NULL, as there. */
BINK_API bink_status bink_send_text(bink_client *c, const char *group_id, const char *text,
                                    bink_message *out);

/* editmessage: message_id required; content NULL keeps the content;
 * keyboard (borrowed) NULL keeps the keyboard, an empty keyboard removes
 * it. At least one must be given (BINK_E_INVALID otherwise). Fills *out
 * (may be NULL; clear it with bink_message_clear()). */
BINK_API bink_status bink_edit_message(bink_client *c, const char *message_id,
                                       const char *content, const bink_keyboard *keyboard,
                                       bink_message *out);

/* deletemessage, single form: message_id required; the server's error is
 * returned as is (BINK_E_API). */
BINK_API bink_status bink_delete_message(bink_client *c, const char *message_id);

/* deletemessage, batch form (ids: count strings, 1..100; ids NULL or count
 * 0 is BINK_E_INVALID). *out (may be NULL; clear it with
 * bink_delete_result_clear()) lists what was deleted and what failed, and
 * why; BINK_OK even when some ids failed. */
BINK_API bink_status bink_delete_messages(bink_client *c, const char *const *ids, size_t count,
                                          bink_delete_result *out);

/* answercallback: callback_id required; text and url may be NULL;
 * show_alert 0 or 1. Fills *answered_at (may be NULL; 0 on failure) with
 * the server's time of the answer, Unix seconds. */
BINK_API bink_status bink_answer_callback(bink_client *c, const char *callback_id,
                                          const char *text, int show_alert, const char *url,
                                          int64_t *answered_at);

/* botapisetcommands: replaces the menu with count entries of cmds
 * (borrowed; 0 entries clears it, cmds may then be NULL). An entry with a
 * NULL or non-UTF-8 string is BINK_E_INVALID. */
BINK_API bink_status bink_set_commands(bink_client *c, const bink_command *cmds, size_t count);

/* botapigetcommands: fills *out (required, BINK_E_INVALID when NULL; clear
 * it with bink_command_list_clear()). An empty menu is count 0. */
BINK_API bink_status bink_get_commands(bink_client *c, bink_command_list *out);

/* mutemember: group_id and user_id required; duration_s in seconds, 0 =
 * until unmuted. *muted_until (may be NULL; 0 on failure): the end time,
 * Unix seconds, 0 for "until unmuted". */
BINK_API bink_status bink_mute_member(bink_client *c, const char *group_id, const char *user_id,
                                      int64_t duration_s, int64_t *muted_until);

/* unmutemember: group_id and user_id required. *was_muted (may be NULL; 0
 * on failure) is 1 when the member was muted. */
BINK_API bink_status bink_unmute_member(bink_client *c, const char *group_id,
                                        const char *user_id, int *was_muted);

/* uploadfile from a file on disk (path required). The name sent is the
 * path's last component. Returns BINK_E_IO (with the OS's reason in the
 * last error) when the path cannot be opened or is not a regular file;
 * fills *out (may be NULL; clear it with bink_file_clear()). The file is
 * streamed, not loaded into memory. */
BINK_API bink_status bink_upload_path(bink_client *c, const char *path, bink_file *out);

/* uploadfile from memory: len bytes at data (NULL only when len is 0),
 * sent under file_name (NULL = "file"). The buffer is only read during the
 * call. Fills *out (may be NULL; clear it with bink_file_clear()). */
BINK_API bink_status bink_upload_mem(bink_client *c, const char *file_name, const void *data,
                                     size_t len, bink_file *out);

/* getfile: file_id required. Fills *out (may be NULL; clear it with
 * bink_file_clear()) with the metadata and download_url. */
BINK_API bink_status bink_getfile(bink_client *c, const char *file_id, bink_file *out);

/* Downloads GET /file/{file_id} to path (both required). The bytes go to a
 * new temporary file in path's directory ("<path>.<random>.part"), which is
 * renamed over path only when the whole download succeeded; on any failure
 * the temporary file is removed and an existing file at path is left
 * untouched. An existing path keeps its permissions (a new one gets 0666
 * minus the umask); a symbolic link is followed (the file it names is
 * replaced); a path that is not a regular file (/dev/null, a FIFO) is
 * written to directly. BINK_E_IO when the directory or path cannot be
 * written; a non-2xx answer is BINK_E_API with the server's code and msg. */
BINK_API bink_status bink_download_to_path(bink_client *c, const char *file_id,
                                           const char *path);

/* Downloads GET /file/{file_id} into memory. data and len are required
 * (BINK_E_INVALID when NULL). On success *data (malloc'd, NUL-terminated
 * for convenience, the caller free()s it) holds *len bytes; on failure
 * *data is NULL and *len 0 (nothing to free). Larger than
 * max_response_bytes: BINK_E_PROTOCOL. */
BINK_API bink_status bink_download_mem(bink_client *c, const char *file_id, char **data,
                                       size_t *len);

/* allowed_events (setwebhook, getupdates, bink_poll): the server remembers
 * ONE list per bot, set by whichever of setwebhook and getupdates last sent
 * one, and applies it to both delivery paths when events are produced.
 *  - allowed_events NULL: the key is not sent; the server KEEPS its current
 *    list (which another program on the same token may have set).
 *  - allowed_events non-NULL with allowed_event_count 0: [] is sent, which
 *    the server stores as "all event types".
 *  - otherwise: allowed_event_count names (private_message, group_message,
 *    member_joined, callback_query); a NULL entry or one that is not UTF-8
 *    is BINK_E_INVALID, an unknown name the server's 400.
 * A program that depends on certain events should pass its list. */

/* What setwebhook sends; all pointers are borrowed for the call. */
typedef struct bink_webhook_params {
  const char *url;                    /* required; "" deletes the webhook */
  const char *secret;                 /* NULL = none */
  int max_connections;                /* 0 = the server's default */
  const char *const *allowed_events;  /* see above: NULL = keep the
                                         server's list, count 0 = all */
  size_t allowed_event_count;
  int drop_pending;                   /* 1 = forget pending events */
} bink_webhook_params;

/* setwebhook: p and p->url are required (BINK_E_INVALID otherwise); the
 * server checks the URL and the secret (BINK_E_API 400). */
BINK_API bink_status bink_set_webhook(bink_client *c, const bink_webhook_params *p);

/* getwebhookinfo: fills *out (required, BINK_E_INVALID when NULL; clear it
 * with bink_webhook_info_clear()). allowed_event_count 0 means all types. */
BINK_API bink_status bink_get_webhook_info(bink_client *c, bink_webhook_info *out);

/* deletewebhook: drop_pending 1 also forgets the pending events, 0 keeps
 * them for getupdates. */
BINK_API bink_status bink_delete_webhook(bink_client *c, int drop_pending);

/* getupdates: events from offset on (0 = from the oldest kept); offset =
 * last update_id + 1 confirms the ones before. limit 0 = server default
 * (100); timeout_s 0..50 seconds is the long-poll wait (negative limit or
 * timeout_s: BINK_E_INVALID); allowed_events as described above setwebhook
 * (NULL keeps the server's list, count 0 = all). Fills *out (required,
 * BINK_E_INVALID when NULL; clear it with bink_event_list_clear()). A 409
 * means a webhook is set or another getupdates took over. */
BINK_API bink_status bink_get_updates(bink_client *c, int64_t offset, int limit, int timeout_s,
                                      const char *const *allowed_events,
                                      size_t allowed_event_count, bink_event_list *out);

/* Any Bot API method (method: [A-Za-z0-9_], 1..64 characters) with a JSON
 * object as parameters (params_json NULL or "" = {}). On success
 * *data_json (may be NULL) receives the envelope's data as compact JSON,
 * malloc'd (the caller free()s it); "null" when data is null. On failure
 * *data_json is NULL. BINK_E_INVALID when method is bad or params_json is
 * not JSON or not an object (the last error says which). */
BINK_API bink_status bink_call(bink_client *c, const char *method, const char *params_json,
                               char **data_json);

/* ------------------------------------------------------------------------
 * Long polling
 * ---------------------------------------------------------------------- */

/* Called once per event, in update_id order. Return 0 to go on, anything
 * else to stop the loop (the event counts as handled and is confirmed). The
 * event is valid only during the call. */
typedef int (*bink_event_fn)(bink_client *c, const bink_event *ev, void *user);

typedef struct bink_poll_options {
  int timeout_s;                      /* long-poll wait per call, seconds;
                                         0 = 30 */
  int limit;                          /* 0 = 100 */
  const char *const *allowed_events;  /* sent with every getupdates; see
                                         above setwebhook: NULL = keep the
                                         server's list, count 0 = all */
  size_t allowed_event_count;
  int64_t offset;                     /* where to start; 0 = oldest kept */
  int max_transport_retries;          /* consecutive retryable failures
                                         tolerated (with back-off 1, 2, 4 ..
                                         30 s, or the server's retry_after
                                         up to 30 s): transport errors, a
                                         connection closed without an
                                         answer, and 502/503/504 (503 is a
                                         server shutting down for a
                                         restart); 0 = return on the
                                         first; INT_MAX = retry forever.
                                         A success resets the count */
} bink_poll_options;

/* Runs getupdates in a loop and calls fn for each event until fn returns
 * non-zero (BINK_OK), the cancel flag is set (BINK_E_CANCELLED, also during
 * a back-off sleep) or a call fails beyond max_transport_retries (its
 * status; see bink_last_error). c and fn are required; opts may be NULL
 * (all defaults, no retries); user is passed to fn unchanged.
 * *next_offset (may be NULL; written on every return) receives the offset
 * to resume from (events before it were handled and are confirmed to the
 * server on a best-effort basis). A 409 (another poll took over, or a
 * webhook is set) ends the loop with BINK_E_API. */
BINK_API bink_status bink_poll(bink_client *c, const bink_poll_options *opts, bink_event_fn fn,
                               void *user, int64_t *next_offset);

/* ------------------------------------------------------------------------
 * Webhooks: parsing and Standard Webhooks verification (no client needed)
 * ---------------------------------------------------------------------- */

/* Parses len bytes of an event object (a webhook body, or one element of
 * getupdates' data). Keys the event lacks read as "" or 0; a key of the
 * wrong JSON type, a body that is not a JSON object, or one without a
 * string event_type is BINK_E_PARSE. An event_type this version does not
 * know is parsed and flagged with type == BINK_EVENT_UNKNOWN (BINK_OK).
 * err (may be NULL) receives the reason of a BINK_E_PARSE. On success the
 * caller clears *out with bink_event_clear(). BINK_E_NOMEM possible. */
BINK_API bink_status bink_event_parse(const char *body, size_t len, bink_event *out,
                                      char *err, size_t err_size);

/* The event_type's enum; BINK_EVENT_UNKNOWN for others and NULL. */
BINK_API bink_event_type bink_event_type_from_name(const char *name);

/* How far webhook-timestamp may be from the receiver's clock. */
#define BINK_WEBHOOK_TOLERANCE_S 300

/* Checks a webhook delivery the Standard Webhooks way: the key is the
 * base64-decoded part of a "whsec_..." secret (24..64 bytes) or the bytes
 * of any other secret (16..256 printable ASCII characters); the signed
 * content is "<webhook_id>.<webhook_timestamp>.<body>"; webhook_signature
 * holds one or more space-separated "v1,<base64 HMAC-SHA256>" entries, one
 * of which must match (compared in constant time); webhook_timestamp must
 * be within BINK_WEBHOOK_TOLERANCE_S of now (Unix seconds; 0 = the current
 * time). Header values are the raw values (NULL when the header is absent).
 * Returns BINK_OK, BINK_E_SECRET (unusable secret), BINK_E_HEADER (a header
 * missing or malformed), BINK_E_TIMESTAMP, BINK_E_SIGNATURE, BINK_E_NOMEM.
 * Reads body[0..len) only. */
BINK_API bink_status bink_webhook_verify(const char *secret, const char *webhook_id,
                                         const char *webhook_timestamp,
                                         const char *webhook_signature, const char *body,
                                         size_t len, int64_t now);

/* Computes the signature header value "v1,<base64>" for the given id,
 * timestamp and body with the secret rule above, into out (out_size >= 64
 * bytes suffices). Returns BINK_OK, BINK_E_SECRET, BINK_E_INVALID (NULL
 * arguments, out too small) or BINK_E_NOMEM. For tests and senders. */
BINK_API bink_status bink_webhook_signature(const char *secret, const char *webhook_id,
                                            int64_t timestamp, const char *body, size_t len,
                                            char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif /* BINK_H */
