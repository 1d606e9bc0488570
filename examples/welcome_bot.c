/*
 * welcome_bot.c - a libbink example: greets people who join a group.
 *
 *   BINK_URL=http://127.0.0.1:8080 BINK_TOKEN=... ./welcome_bot
 *
 * Polls for member_joined events only. A newcomer is welcomed by display
 * name; when the bot itself is added, it introduces itself. SIGINT/SIGTERM
 * stop it cleanly.
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
  const bink_bot *me = user;
  if (ev->type != BINK_EVENT_MEMBER_JOINED)
    return 0;
  char text[512];
  if (strcmp(ev->sender_id, me->bot_id) == 0)
    snprintf(text, sizeof text, "Hello %s! I am %s and I will greet everyone who joins.",
             ev->group_title, me->display_name);
  else
    snprintf(text, sizeof text, "Welcome to %s, %s!", ev->group_title,
             ev->sender_display_name[0] ? ev->sender_display_name : ev->sender_username);
  if (bink_send_text(c, ev->group_id, text, NULL) == BINK_OK)
    fprintf(stderr, "welcome_bot: greeted %s in %s\n", ev->sender_id, ev->group_id);
  else
    fprintf(stderr, "welcome_bot: cannot greet %s: %s\n", ev->sender_id,
            bink_last_error(c)->msg);
  return 0;
}

int main(void) {
  const char *url = getenv("BINK_URL"), *token = getenv("BINK_TOKEN");
  if (!url || !token) {
    fprintf(stderr, "usage: BINK_URL=... BINK_TOKEN=... welcome_bot\n");
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
    bink_global_cleanup();
    return 2;
  }
  bink_client_set_cancel(c, &stop_flag);
  int rc = 0;
  bink_bot me;
  if (bink_getme(c, &me) != BINK_OK) {
    fprintf(stderr, "welcome_bot: getme failed: %s\n", bink_last_error(c)->msg);
    rc = 1;
  } else {
    fprintf(stderr, "welcome_bot: running as @%s\n", me.username);
    /* explicit, since the server remembers the list per bot */
    static const char *const only[] = {"member_joined"};
    bink_poll_options po = {.timeout_s = 25, .allowed_events = only, .allowed_event_count = 1,
                            .max_transport_retries = 5};
    bink_status st = bink_poll(c, &po, on_event, &me, NULL);
    if (st != BINK_OK && st != BINK_E_CANCELLED) {
      fprintf(stderr, "welcome_bot: stopped: %s\n", bink_last_error(c)->msg);
      rc = 1;
    }
    bink_bot_clear(&me);
  }
  bink_client_free(c);
  bink_global_cleanup();
  fprintf(stderr, "welcome_bot: bye\n");
  return rc;
}
