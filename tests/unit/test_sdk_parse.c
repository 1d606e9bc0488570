/* libbink: the event parser, the response envelope, the keyboard builder
 * and the capped buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bink.h"
#include "internal.h"

static const char FULL_EVENT[] =
    "{\"event_type\":\"private_message\",\"update_id\":42,\"message_id\":\"msg_1\","
    "\"sender_id\":\"user_1\",\"sender_username\":\"john\",\"sender_display_name\":\"John "
    "Doe\",\"group_id\":\"\",\"group_username\":\"\",\"group_title\":\"\","
    "\"message_type\":\"text\",\"content\":\"\xe4\xbd\xa0\xe5\xa5\xbd\",\"timestamp\":"
    "1732636800,\"callback_id\":\"\",\"callback_data\":\"\",\"file_id\":\"\",\"file\":null,"
    "\"reply_to_id\":\"\",\"quote_message_id\":\"\",\"inviter_id\":\"\"}";

static bink_status parse(const char *s, bink_event *ev, char *err, size_t en) {
  return bink_event_parse(s, strlen(s), ev, err, en);
}

static void full_event(void **state) {
  (void)state;
  bink_event ev;
  char err[128];
  assert_int_equal(parse(FULL_EVENT, &ev, err, sizeof err), BINK_OK);
  assert_int_equal(ev.type, BINK_EVENT_PRIVATE_MESSAGE);
  assert_string_equal(ev.event_type, "private_message");
  assert_int_equal(ev.update_id, 42);
  assert_string_equal(ev.sender_display_name, "John Doe");
  assert_string_equal(ev.content, "\xe4\xbd\xa0\xe5\xa5\xbd");
  assert_int_equal(ev.timestamp, 1732636800);
  assert_int_equal(ev.has_file, 0);
  assert_string_equal(ev.inviter_id, "");
  assert_non_null(strstr(ev.json, "\"update_id\":42"));
  assert_null(strchr(ev.json, '\n'));
  bink_event_clear(&ev);
  assert_null(ev.json);
  bink_event_clear(&ev); /* twice is fine */
}

static void callback_and_file(void **state) {
  (void)state;
  bink_event ev;
  assert_int_equal(parse("{\"event_type\":\"callback_query\",\"callback_id\":\"cb_1_x\","
                         "\"callback_data\":\"confirm\",\"message_id\":\"msg_9\"}",
                         &ev, NULL, 0),
                   BINK_OK);
  assert_int_equal(ev.type, BINK_EVENT_CALLBACK_QUERY);
  assert_string_equal(ev.callback_data, "confirm");
  assert_string_equal(ev.sender_id, ""); /* missing keys read as empty */
  assert_int_equal(ev.update_id, 0);
  bink_event_clear(&ev);

  assert_int_equal(parse("{\"event_type\":\"group_message\",\"file_id\":\"file_1\",\"file\":"
                         "{\"file_name\":\"a.png\",\"mime_type\":\"image/png\",\"file_size\":"
                         "69}}",
                         &ev, NULL, 0),
                   BINK_OK);
  assert_int_equal(ev.has_file, 1);
  assert_string_equal(ev.file.file_name, "a.png");
  assert_int_equal(ev.file.file_size, 69);
  bink_event_clear(&ev);

  assert_int_equal(parse("{\"event_type\":\"member_joined\",\"inviter_id\":\"user_2\"}", &ev,
                         NULL, 0),
                   BINK_OK);
  assert_int_equal(ev.type, BINK_EVENT_MEMBER_JOINED);
  assert_string_equal(ev.inviter_id, "user_2");
  bink_event_clear(&ev);
}

static void unknown_event_type(void **state) {
  (void)state;
  bink_event ev;
  assert_int_equal(parse("{\"event_type\":\"message_reaction\",\"update_id\":7,\"emoji\":\"x\"}",
                         &ev, NULL, 0),
                   BINK_OK);
  assert_int_equal(ev.type, BINK_EVENT_UNKNOWN);
  assert_string_equal(ev.event_type, "message_reaction");
  assert_int_equal(ev.update_id, 7);
  assert_non_null(strstr(ev.json, "emoji"));
  bink_event_clear(&ev);
  assert_int_equal(bink_event_type_from_name(NULL), BINK_EVENT_UNKNOWN);
  assert_int_equal(bink_event_type_from_name("group_message"), BINK_EVENT_GROUP_MESSAGE);
}

static void bad_events(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",
      "{",
      "{\"event_type\":\"private_message\"",      /* truncated */
      "[]",
      "42",
      "null",
      "{}",                                       /* no event_type */
      "{\"event_type\":\"\"}",
      "{\"event_type\":7}",
      "{\"event_type\":\"private_message\",\"update_id\":\"42\"}",
      "{\"event_type\":\"private_message\",\"content\":5}",
      "{\"event_type\":\"private_message\",\"file\":\"x\"}",
      "{\"event_type\":\"private_message\",\"file\":{\"file_size\":\"big\"}}",
      "{\"event_type\":\"private_message\",\"update_id\":1.5}",
      "{\"event_type\":\"a\",\"event_type\":\"b\"}", /* duplicate key */
      "\xff\xfe",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    bink_event ev;
    char err[128] = "unset";
    assert_int_equal(parse(bad[i], &ev, err, sizeof err), BINK_E_PARSE);
    assert_true(err[0] != '\0' && strcmp(err, "unset") != 0);
    assert_null(ev.json);
    assert_null(ev.event_type);
    bink_event_clear(&ev);
  }
  /* a NUL inside the body: jansson refuses it */
  bink_event ev;
  assert_int_equal(bink_event_parse("{\"event_type\":\"x\"}\0{}", 20, &ev, NULL, 0),
                   BINK_E_PARSE);
  assert_int_equal(bink_event_parse(NULL, 3, &ev, NULL, 0), BINK_E_INVALID);
  assert_int_equal(bink_event_parse("{}", 2, NULL, NULL, 0), BINK_E_INVALID);
}

static void envelope(void **state) {
  (void)state;
  bink_error e;
  json_t *data = NULL;
  const char *ok = "{\"code\":200,\"msg\":\"ok\",\"data\":{\"a\":1}}";
  memset(&e, 0, sizeof e);
  assert_int_equal(bink__envelope_parse(ok, strlen(ok), 200, &data, &e), BINK_OK);
  assert_int_equal(json_integer_value(json_object_get(data, "a")), 1);
  json_decref(data);

  const char *err404 = "{\"code\":404,\"msg\":\"group_id group_x not found\",\"data\":null}";
  assert_int_equal(bink__envelope_parse(err404, strlen(err404), 404, &data, &e), BINK_E_API);
  assert_null(data);
  assert_int_equal(e.code, 404);
  assert_string_equal(e.msg, "group_id group_x not found"); /* unchanged */

  const char *e429 = "{\"code\":429,\"msg\":\"slow down\",\"data\":{\"retry_after\":3}}";
  assert_int_equal(bink__envelope_parse(e429, strlen(e429), 429, &data, &e), BINK_E_API);
  assert_int_equal(e.code, 429);
  assert_int_equal(e.retry_after, 3);

  static const char *const garbage[] = {"", "<html>502</html>", "{\"code\":200,\"msg\":\"ok\"",
                                        "[1,2]", "{\"msg\":\"ok\"}", "{\"code\":\"200\"}",
                                        "{\"code\":200,\"msg\":3}"};
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    assert_int_equal(bink__envelope_parse(garbage[i], strlen(garbage[i]), 200, &data, &e),
                     BINK_E_PROTOCOL);
    assert_null(data);
    assert_int_equal(e.status, BINK_E_PROTOCOL);
  }
  /* a 200 envelope under an error status is an error too */
  assert_int_equal(bink__envelope_parse(ok, strlen(ok), 500, &data, &e), BINK_E_API);
  assert_int_equal(e.code, 500);
}

static void keyboard(void **state) {
  (void)state;
  bink_keyboard *kb = bink_keyboard_new();
  assert_non_null(kb);
  json_t *j = bink__keyboard_json(kb);
  assert_int_equal(json_array_size(j), 0); /* empty: removes a keyboard */
  json_decref(j);
  assert_int_equal(bink_keyboard_row(kb), BINK_OK); /* no empty rows are sent */
  assert_int_equal(bink_keyboard_button(kb, "Yes", "yes"), BINK_OK);
  assert_int_equal(bink_keyboard_button(kb, "No", "no"), BINK_OK);
  assert_int_equal(bink_keyboard_row(kb), BINK_OK);
  assert_int_equal(bink_keyboard_row(kb), BINK_OK);
  assert_int_equal(bink_keyboard_url_button(kb, "Site", "https://example.com/?a=b"), BINK_OK);
  assert_int_equal(bink_keyboard_button(kb, NULL, "x"), BINK_E_INVALID);
  assert_int_equal(bink_keyboard_button(kb, "bad \xff", "x"), BINK_E_INVALID);
  assert_int_equal(bink_keyboard_button(NULL, "a", "b"), BINK_E_INVALID);
  assert_int_equal(bink_keyboard_count(kb), 3);
  j = bink__keyboard_json(kb);
  char *s = json_dumps(j, JSON_COMPACT);
  assert_string_equal(s, "[[{\"text\":\"Yes\",\"callback_data\":\"yes\"},{\"text\":\"No\","
                         "\"callback_data\":\"no\"}],[{\"text\":\"Site\",\"url\":"
                         "\"https://example.com/?a=b\"}]]");
  free(s);
  json_decref(j);
  bink_keyboard_free(kb);
  bink_keyboard_free(NULL);
}

static void buffer_cap(void **state) {
  (void)state;
  bink__buf b;
  bink__buf_init(&b, 10);
  assert_int_equal(bink__buf_append(&b, "hello", 5), BINK_OK);
  assert_int_equal(bink__buf_append(&b, "world", 5), BINK_OK);
  assert_string_equal(b.data, "helloworld");
  assert_int_equal(bink__buf_append(&b, "!", 1), BINK_E_PROTOCOL);
  assert_true(b.overflow);
  assert_int_equal(b.len, 10);
  assert_int_equal(bink__buf_append(&b, "x", SIZE_MAX), BINK_E_PROTOCOL);
  bink__buf_free(&b);
}

static void client_arguments(void **state) {
  (void)state;
  bink_client *c = (bink_client *)1;
  bink_client_options o = {.base_url = "http://127.0.0.1:1/", .token = "a b"};
  assert_int_equal(bink_client_new(&o, &c), BINK_E_INVALID);
  assert_null(c);
  o.token = "";
  assert_int_equal(bink_client_new(&o, &c), BINK_E_INVALID);
  o.token = "b1.token";
  o.base_url = NULL;
  assert_int_equal(bink_client_new(&o, &c), BINK_E_INVALID);
  o.base_url = "http://127.0.0.1:1/";
  assert_int_equal(bink_client_new(&o, &c), BINK_OK);
  /* arguments are checked before anything is sent */
  assert_int_equal(bink_send_text(c, NULL, "x", NULL), BINK_E_INVALID);
  assert_int_equal(bink_edit_message(c, "msg_1", NULL, NULL, NULL), BINK_E_INVALID);
  assert_int_equal(bink_call(c, "getme", "[1]", NULL), BINK_E_INVALID);
  assert_int_equal(bink_call(c, "../app/me", NULL, NULL), BINK_E_INVALID);
  bink_file f;
  assert_int_equal(bink_upload_path(c, "/nonexistent/dir/photo.png", &f), BINK_E_IO);
  assert_non_null(strstr(bink_last_error(c)->msg, "/nonexistent/dir/photo.png"));
  assert_non_null(strstr(bink_last_error(c)->msg, "No such file"));
  assert_int_equal(bink_upload_path(c, "/", &f), BINK_E_IO);
  /* nothing listens on port 1: a transport error naming the cause */
  assert_int_equal(bink_getme(c, NULL), BINK_E_TRANSPORT);
  assert_int_equal(bink_last_error(c)->status, BINK_E_TRANSPORT);
  assert_true(strlen(bink_last_error(c)->msg) > 0);
  bink_client_free(c);
  assert_string_equal(bink_status_str(BINK_OK), "ok");
}

int main(void) {
  assert_int_equal(bink_global_init(), BINK_OK);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(full_event), cmocka_unit_test(callback_and_file),
      cmocka_unit_test(unknown_event_type), cmocka_unit_test(bad_events),
      cmocka_unit_test(envelope),   cmocka_unit_test(keyboard),
      cmocka_unit_test(buffer_cap), cmocka_unit_test(client_arguments),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  bink_global_cleanup();
  return rc;
}
