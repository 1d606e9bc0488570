/*
 * echo_bot.c - a libbink example: echoes text back, by long polling.
 *
 *   BINK_URL=http://127.0.0.1:8080 BINK_TOKEN=... ./echo_bot
 *
 * A private message is answered privately with the same text; a group
 * message addressed to the bot (@mention, /command or a reply) is answered
 * in the group as a reply. Stops cleanly on SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bink.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static int on_event(bink_client *c, const bink_event *ev, void *user) {
  (void)user;
  if (ev->type != BINK_EVENT_PRIVATE_MESSAGE && ev->type != BINK_EVENT_GROUP_MESSAGE)
    return 0; /* keep going */
  bink_send_params p;
  memset(&p, 0, sizeof p);
  if (ev->type == BINK_EVENT_PRIVATE_MESSAGE) {
    p.target_user_id = ev->sender_id;
  } else {
    p.group_id = ev->group_id;
    p.reply_to_id = ev->message_id;
  }
  char other[64];
  if (strcmp(ev->message_type, "text") == 0) {
    p.content = ev->content;
  } else {
    snprintf(other, sizeof other, "(%s)", ev->message_type);
    p.content = other;
  }
  bink_message sent;
  if (bink_send_message(c, &p, &sent) == BINK_OK) {
    fprintf(stderr, "echo_bot: echoed %s as %s\n", ev->message_id, sent.message_id);
    bink_message_clear(&sent);
  } else {
    const bink_error *e = bink_last_error(c);
    fprintf(stderr, "echo_bot: cannot echo %s: %d %s\n", ev->message_id, e->code, e->msg);
  }
  return 0;
}

int main(void) {
  const char *url = getenv("BINK_URL"), *token = getenv("BINK_TOKEN");
  if (!url || !token) {
    fprintf(stderr, "usage: BINK_URL=... BINK_TOKEN=... echo_bot\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (bink_global_init() != BINK_OK)
    return 1;
  bink_client_options o = {.base_url = url, .token = token, .retry_429 = 3};
  bink_client *c = NULL;
  if (bink_client_new(&o, &c) != BINK_OK) {
    fprintf(stderr, "echo_bot: bad URL or token\n");
    bink_global_cleanup();
    return 2;
  }
  bink_client_set_cancel(c, &stop_flag);

  int rc = 0;
  bink_bot me;
  if (bink_getme(c, &me) != BINK_OK) {
    fprintf(stderr, "echo_bot: getme failed: %s\n", bink_last_error(c)->msg);
    rc = 1;
  } else {
    fprintf(stderr, "echo_bot: running as @%s\n", me.username);
    bink_bot_clear(&me);
    /* The server remembers allowed_events per bot (from the last getupdates
     * or setwebhook): name the types this bot needs, so that a filter left
     * by another program on the same token does not silence it. */
    static const char *const wanted[] = {"private_message", "group_message"};
    bink_poll_options po = {.timeout_s = 25, .allowed_events = wanted,
                            .allowed_event_count = 2, .max_transport_retries = 5};
    bink_status st = bink_poll(c, &po, on_event, NULL, NULL);
    if (st != BINK_OK && st != BINK_E_CANCELLED) {
      const bink_error *e = bink_last_error(c);
      fprintf(stderr, "echo_bot: stopped: %s: %d %s\n", bink_status_str(st), e->code, e->msg);
      rc = 1;
    }
  }
  bink_client_free(c);
  bink_global_cleanup();
  fprintf(stderr, "echo_bot: bye\n");
  return rc;
}
