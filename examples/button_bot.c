/*
 * button_bot.c - a libbink example: a confirm/cancel dialogue over a webhook.
 *
 *   BINK_URL=http://127.0.0.1:8080 BINK_TOKEN=... \
 *     ./button_bot --port 8081 [--secret S] [--public-url URL]
 *
 * It serves http://127.0.0.1:PORT/webhook (libmicrohttpd), registers that
 * address (or --public-url) as the bot's webhook with the secret, and checks
 * every delivery's signature with bink_webhook_verify(). A message to the
 * bot is answered with two buttons, Confirm and Cancel; a click is answered
 * with answercallback and the message is edited to say what was chosen,
 * with an empty keyboard, so it cannot be clicked twice. On SIGINT/SIGTERM
 * it deletes the webhook and exits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bink.h>
#include <microhttpd.h>

#define MAX_BODY (1u << 20)

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

typedef struct bot {
  bink_client *c;     /* used only by the webhook thread */
  const char *secret; /* NULL: deliveries are not signed */
} bot;

/* ---- what the bot does ---- */

static void ask(bot *b, const bink_event *ev) {
  bink_keyboard *kb = bink_keyboard_new();
  if (!kb)
    return;
  bink_keyboard_button(kb, "Confirm", "confirm");
  bink_keyboard_button(kb, "Cancel", "cancel");
  bink_send_params p = {.content = "Please confirm your order.", .keyboard = kb};
  if (ev->type == BINK_EVENT_PRIVATE_MESSAGE)
    p.target_user_id = ev->sender_id;
  else
    p.group_id = ev->group_id;
  bink_message m;
  if (bink_send_message(b->c, &p, &m) == BINK_OK) {
    fprintf(stderr, "button_bot: asked in %s\n", m.message_id);
    bink_message_clear(&m);
  } else {
    fprintf(stderr, "button_bot: cannot ask: %s\n", bink_last_error(b->c)->msg);
  }
  bink_keyboard_free(kb);
}

static void on_click(bot *b, const bink_event *ev) {
  const char *answer;
  if (strcmp(ev->callback_data, "confirm") == 0)
    answer = "Confirmed";
  else if (strcmp(ev->callback_data, "cancel") == 0)
    answer = "Cancelled";
  else {
    bink_answer_callback(b->c, ev->callback_id, "Unknown choice", 1, NULL, NULL);
    return;
  }
  if (bink_answer_callback(b->c, ev->callback_id, answer, 0, NULL, NULL) != BINK_OK)
    fprintf(stderr, "button_bot: answercallback: %s\n", bink_last_error(b->c)->msg);
  /* the same text in the message, and no buttons any more */
  bink_keyboard *none = bink_keyboard_new();
  if (none && bink_edit_message(b->c, ev->message_id, answer, none, NULL) != BINK_OK)
    fprintf(stderr, "button_bot: editmessage: %s\n", bink_last_error(b->c)->msg);
  bink_keyboard_free(none);
  fprintf(stderr, "button_bot: %s %s\n", answer, ev->message_id);
}

static void handle(bot *b, const bink_event *ev) {
  switch (ev->type) {
  case BINK_EVENT_CALLBACK_QUERY: on_click(b, ev); break;
  case BINK_EVENT_PRIVATE_MESSAGE:
  case BINK_EVENT_GROUP_MESSAGE: ask(b, ev); break;
  default: break; /* member_joined, and types newer than this bot */
  }
}

/* ---- the webhook receiver ---- */

typedef struct body {
  char *data;
  size_t len;
  int too_big;
} body;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  enum MHD_Result ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state) {
  (void)version;
  bot *b = cls;
  body *bd = *state;
  if (!bd) {
    if (!(bd = calloc(1, sizeof *bd)))
      return MHD_NO;
    *state = bd;
    return MHD_YES;
  }
  if (strcmp(method, "POST") != 0 || strcmp(url, "/webhook") != 0)
    return reply(conn, MHD_HTTP_NOT_FOUND, "not found\n");
  if (*upload_size) {
    if (bd->len + *upload_size > MAX_BODY) {
      bd->too_big = 1;
    } else if (!bd->too_big) {
      char *d = realloc(bd->data, bd->len + *upload_size + 1);
      if (!d)
        return MHD_NO;
      memcpy(d + bd->len, upload_data, *upload_size);
      bd->data = d;
      bd->len += *upload_size;
      d[bd->len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (bd->too_big)
    return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
  if (b->secret) {
    bink_status st = bink_webhook_verify(
        b->secret, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id"),
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-timestamp"),
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-signature"),
        bd->data ? bd->data : "", bd->len, 0);
    if (st != BINK_OK) {
      fprintf(stderr, "button_bot: refused a delivery: %s\n", bink_status_str(st));
      return reply(conn, MHD_HTTP_UNAUTHORIZED, "bad signature\n");
    }
  }
  bink_event ev;
  char why[128];
  if (bink_event_parse(bd->data, bd->len, &ev, why, sizeof why) != BINK_OK) {
    fprintf(stderr, "button_bot: not an event: %s\n", why);
    return reply(conn, MHD_HTTP_BAD_REQUEST, "not an event\n");
  }
  handle(b, &ev);
  bink_event_clear(&ev);
  return reply(conn, MHD_HTTP_OK, "OK");
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode why) {
  (void)cls;
  (void)conn;
  (void)why;
  body *bd = *state;
  if (bd) {
    free(bd->data);
    free(bd);
    *state = NULL;
  }
}

/* ---- set-up ---- */

static bink_client *client(const char *url, const char *token) {
  bink_client_options o = {.base_url = url, .token = token, .retry_429 = 3};
  bink_client *c = NULL;
  return bink_client_new(&o, &c) == BINK_OK ? c : NULL;
}

int main(int argc, char **argv) {
  const char *url = getenv("BINK_URL"), *token = getenv("BINK_TOKEN");
  const char *secret = getenv("BINK_WEBHOOK_SECRET"), *public_url = NULL;
  long port = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
      port = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc)
      secret = argv[++i];
    else if (strcmp(argv[i], "--public-url") == 0 && i + 1 < argc)
      public_url = argv[++i];
    else
      port = -2;
  }
  if (!url || !token || port < 0 || port > 65535) {
    fprintf(stderr, "usage: BINK_URL=... BINK_TOKEN=... button_bot --port N "
                    "[--secret S] [--public-url URL]\n");
    return 2;
  }
  if (secret && !*secret)
    secret = NULL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (bink_global_init() != BINK_OK)
    return 1;
  /* Two clients: a client is used by one thread at a time, and the
   * webhook thread may get a delivery while main() is still setting up. */
  bot b = {.c = client(url, token), .secret = secret};
  bink_client *admin = client(url, token);
  int rc = 1;
  struct MHD_Daemon *d = NULL;
  if (!b.c || !admin) {
    fprintf(stderr, "button_bot: bad URL or token\n");
    rc = 2;
    goto out;
  }
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, on_request,
                       &b, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                       MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "button_bot: cannot listen on port %ld\n", port);
    goto out;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned bound = info ? info->port : (unsigned)port;
  char hook[512];
  if (public_url)
    snprintf(hook, sizeof hook, "%s", public_url);
  else
    snprintf(hook, sizeof hook, "http://127.0.0.1:%u/webhook", bound);
  fprintf(stderr, "button_bot: listening on http://127.0.0.1:%u\n", bound);
  /* allowed_events is remembered by the server: name what this bot needs
   * rather than inherit a filter another program left on the token */
  static const char *const wanted[] = {"private_message", "group_message", "callback_query"};
  bink_webhook_params wp = {.url = hook, .secret = secret, .allowed_events = wanted,
                            .allowed_event_count = 3};
  if (bink_set_webhook(admin, &wp) != BINK_OK) {
    const bink_error *e = bink_last_error(admin);
    fprintf(stderr, "button_bot: setwebhook failed: %d %s\n", e->code, e->msg);
    goto out;
  }
  fprintf(stderr, "button_bot: webhook set to %s\n", hook);
  while (!stop_flag) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  rc = 0;
  if (bink_delete_webhook(admin, 0) != BINK_OK)
    fprintf(stderr, "button_bot: deletewebhook failed: %s\n", bink_last_error(admin)->msg);
out:
  if (d)
    MHD_stop_daemon(d);
  bink_client_free(b.c);
  bink_client_free(admin);
  bink_global_cleanup();
  fprintf(stderr, "button_bot: bye\n");
  return rc;
}
