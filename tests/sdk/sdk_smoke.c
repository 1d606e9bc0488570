/*
 * sdk_smoke.c - drives libbink's typed calls against a real binkd (run by
 * tests/api/test_sdk_typed.py). Environment: BINK_URL, BINK_TOKEN (a bot
 * that is an admin of GROUP), GROUP, MEMBER (a plain member's user id).
 * Prints "ok STEP" per step; on failure "FAIL STEP: why" and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bink.h"

static bink_client *c;

#define CHECK(step, cond)                                                            \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      const bink_error *e_ = bink_last_error(c);                                     \
      printf("FAIL %s: %s (status %d, code %d, msg %s)\n", step, #cond, e_->status,  \
             e_->code, e_->msg);                                                     \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)
#define OK(step) printf("ok %s\n", step)

static int first_only(bink_client *cl, const bink_event *ev, void *user) {
  (void)cl;
  *(int64_t *)user = ev->update_id;
  return 1; /* stop after the first */
}

int main(void) {
  const char *group = getenv("GROUP"), *member = getenv("MEMBER");
  bink_client_options o = {.base_url = getenv("BINK_URL"), .token = getenv("BINK_TOKEN")};
  if (!group || !member || bink_global_init() != BINK_OK || bink_client_new(&o, &c) != BINK_OK)
    return 2;

  bink_bot me;
  CHECK("getme", bink_getme(c, &me) == BINK_OK);
  CHECK("getme", strncmp(me.bot_id, "bot_", 4) == 0 && me.username[0] && me.created_at > 0);
  OK("getme");

  bink_group g;
  CHECK("getgroup", bink_getgroup(c, group, &g) == BINK_OK);
  CHECK("getgroup", strcmp(g.group_id, group) == 0 && strcmp(g.bot_role, "admin") == 0 &&
                        g.member_count >= 3);
  bink_group_clear(&g);
  CHECK("getgroup 404", bink_getgroup(c, "group_0000000000000000", &g) == BINK_E_API &&
                            bink_last_error(c)->code == 404 && g.group_id == NULL);
  OK("getgroup");

  bink_keyboard *kb = bink_keyboard_new();
  bink_keyboard_button(kb, "A", "a");
  bink_send_params sp = {.group_id = group, .content = "typed", .keyboard = kb,
                         .idempotency_key = NULL};
  bink_message m;
  CHECK("send", bink_send_message(c, &sp, &m) == BINK_OK);
  CHECK("send", strcmp(m.content, "typed") == 0 && m.button_count == 1 &&
                    strcmp(m.sender_id, me.bot_id) == 0 && m.timestamp > 0 && m.edited_at == 0);
  bink_keyboard_free(kb);
  bink_message e;
  bink_keyboard *none = bink_keyboard_new();
  CHECK("edit", bink_edit_message(c, m.message_id, "edited", none, &e) == BINK_OK);
  CHECK("edit", strcmp(e.content, "edited") == 0 && e.button_count == 0 && e.edited_at > 0);
  bink_keyboard_free(none);
  bink_message_clear(&e);
  OK("send and edit");

  bink_file f;
  CHECK("upload_mem", bink_upload_mem(c, "hello.txt", "hello world\n", 12, &f) == BINK_OK);
  CHECK("upload_mem", strncmp(f.file_id, "file_", 5) == 0 && f.file_size == 12 &&
                          strcmp(f.file_name, "hello.txt") == 0 && strlen(f.sha256) == 64);
  bink_file info;
  CHECK("getfile", bink_getfile(c, f.file_id, &info) == BINK_OK);
  CHECK("getfile", strcmp(info.file_name, "hello.txt") == 0 && info.file_size == 12 &&
                       info.download_url[0]);
  bink_file_clear(&info);
  char *bytes = NULL;
  size_t len = 0;
  CHECK("download_mem", bink_download_mem(c, f.file_id, &bytes, &len) == BINK_OK);
  CHECK("download_mem", len == 12 && memcmp(bytes, "hello world\n", 12) == 0);
  free(bytes);
  CHECK("download 404", bink_download_mem(c, "file_0000000000000000", &bytes, &len) ==
                            BINK_E_API && bink_last_error(c)->code == 404 && bytes == NULL);
  bink_send_params fp = {.group_id = group, .message_type = "file", .file_id = f.file_id,
                         .content = "a file"};
  bink_message fm;
  CHECK("send file", bink_send_message(c, &fp, &fm) == BINK_OK);
  CHECK("send file", fm.has_file && strcmp(fm.file.file_name, "hello.txt") == 0);
  bink_file_clear(&f);
  OK("files");

  const char *ids[] = {m.message_id, fm.message_id, "msg_0000000000000000"};
  bink_delete_result dr;
  CHECK("delete batch", bink_delete_messages(c, ids, 3, &dr) == BINK_OK);
  CHECK("delete batch", dr.deleted_count == 2 && dr.failed_count == 1 &&
                            dr.failed[0].code == 404 &&
                            strcmp(dr.failed[0].message_id, "msg_0000000000000000") == 0);
  bink_delete_result_clear(&dr);
  CHECK("delete one", bink_delete_message(c, m.message_id) == BINK_E_API);
  bink_message_clear(&m);
  bink_message_clear(&fm);
  OK("delete");

  bink_command cmds[] = {{"start", "Start"}, {"help", "Help"}};
  CHECK("setcommands", bink_set_commands(c, cmds, 2) == BINK_OK);
  bink_command_list cl;
  CHECK("getcommands", bink_get_commands(c, &cl) == BINK_OK);
  CHECK("getcommands", cl.count == 2 && strcmp(cl.items[1].command, "help") == 0);
  bink_command_list_clear(&cl);
  OK("commands");

  int64_t until = 0;
  CHECK("mute", bink_mute_member(c, group, member, 60, &until) == BINK_OK && until > 0);
  int was = 0;
  CHECK("unmute", bink_unmute_member(c, group, member, &was) == BINK_OK && was == 1);
  OK("mute");

  const char *only[] = {"private_message", "callback_query"};
  bink_webhook_params wp = {.url = "http://127.0.0.1:9/hook", .secret = "0123456789abcdefXYZ",
                            .max_connections = 5, .allowed_events = only,
                            .allowed_event_count = 2};
  CHECK("setwebhook", bink_set_webhook(c, &wp) == BINK_OK);
  bink_webhook_info wi;
  CHECK("getwebhookinfo", bink_get_webhook_info(c, &wi) == BINK_OK);
  CHECK("getwebhookinfo", strcmp(wi.url, wp.url) == 0 && wi.has_secret &&
                              wi.max_connections == 5 && wi.allowed_event_count == 2);
  bink_webhook_info_clear(&wi);
  bink_event_list l;
  CHECK("getupdates 409", bink_get_updates(c, 0, 0, 0, NULL, 0, &l) == BINK_E_API &&
                              bink_last_error(c)->code == 409);
  CHECK("deletewebhook", bink_delete_webhook(c, 0) == BINK_OK);
  OK("webhook");

  CHECK("getupdates", bink_get_updates(c, 0, 100, 0, NULL, 0, &l) == BINK_OK && l.count >= 1);
  CHECK("getupdates", l.items[0].type == BINK_EVENT_MEMBER_JOINED && l.items[0].update_id >= 1);
  bink_event_list_clear(&l);
  int64_t seen = 0, next = 0;
  bink_poll_options po = {.timeout_s = 1};
  CHECK("poll", bink_poll(c, &po, first_only, &seen, &next) == BINK_OK && seen >= 1 &&
                    next == seen + 1);
  OK("updates");

  char *json = NULL;
  CHECK("call", bink_call(c, "getme", NULL, &json) == BINK_OK && strstr(json, me.bot_id));
  free(json);
  CHECK("call", bink_call(c, "nosuchmethod", "{}", &json) == BINK_E_API &&
                    bink_last_error(c)->code == 404 && json == NULL);
  OK("call");

  bink_bot_clear(&me);
  bink_client_free(c);
  bink_global_cleanup();
  printf("done\n");
  return 0;
}
