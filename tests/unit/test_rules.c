/*
 * test_rules.c: error records, limits and the field checks of rules.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rules.h"

#define LIT(s) (s), (sizeof(s) - 1)

#define USERNAME_RE "^[A-Za-z][A-Za-z0-9_]{2,31}$"

/* n copies of the UTF-8 sequence `unit` (malloc'ed, NUL-terminated). */
static char *repeat(const char *unit, size_t n)
{
  size_t ul = strlen(unit);
  char *s = malloc(ul * n + 1);

  assert_non_null(s);
  for(size_t i = 0; i < n; i++)
    memcpy(s + ul * i, unit, ul);
  s[ul * n] = '\0';
  return s;
}

static json_t *parse_json(const char *text)
{
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);

  if(!j)
    fail_msg("bad JSON in test: %s", jerr.text);
  return j;
}

/* Checks the keyboard in `text`; expects `msg` (NULL: success). */
static void expect_kb_l(const char *text, const bink_limits *l,
                        const char *msg)
{
  json_t *kb = parse_json(text);
  bink_err err = {BINK_OK, ""};
  bink_rc rc = bink_check_inline_keyboard(kb, l, &err);

  if(msg) {
    assert_int_equal(rc, BINK_EINVAL);
    assert_int_equal(err.code, BINK_EINVAL);
    assert_string_equal(err.msg, msg);
  }
  else {
    if(rc != BINK_OK)
      fail_msg("rejected: %s", err.msg);
  }
  json_decref(kb);
}

static void expect_kb(const char *text, const char *msg)
{
  bink_limits l;

  bink_limits_default(&l);
  expect_kb_l(text, &l, msg);
}

/* A keyboard of `rows` rows of `per_row` callback buttons, as JSON text. */
static char *kb_grid(size_t rows, size_t per_row)
{
  json_t *kb = json_array();
  char *text;

  for(size_t r = 0; r < rows; r++) {
    json_t *row = json_array();
    for(size_t c = 0; c < per_row; c++)
      json_array_append_new(row, json_pack("{s:s,s:s}", "text", "b",
                                           "callback_data", "d"));
    json_array_append_new(kb, row);
  }
  text = json_dumps(kb, JSON_COMPACT);
  json_decref(kb);
  assert_non_null(text);
  return text;
}

/* One keyboard of one button whose members are `members` (JSON text). */
static char *kb_one(const char *members)
{
  size_t n = strlen(members) + 8;
  char *text = malloc(n);

  assert_non_null(text);
  snprintf(text, n, "[[{%s}]]", members);
  return text;
}

/* ---- result.c ---- */

static void test_fail_formats(void **state)
{
  bink_err err = {BINK_OK, ""};

  (void)state;
  assert_int_equal(bink_fail(&err, BINK_ENOTFOUND, "group %s not found", "g"),
                   BINK_ENOTFOUND);
  assert_int_equal(err.code, BINK_ENOTFOUND);
  assert_string_equal(err.msg, "group g not found");
  assert_int_equal(bink_fail(NULL, BINK_ECONFLICT, "x"), BINK_ECONFLICT);
}

static void test_fail_truncates(void **state)
{
  bink_err err;
  char *big = repeat("a", 1000);
  char *wide;

  (void)state;
  bink_fail(&err, BINK_EINVAL, "%s", big);
  assert_int_equal(strlen(err.msg), BINK_ERR_MSG_MAX - 1);
  /* A cut through a multibyte character drops the whole character. */
  for(size_t pad = 0; pad < 4; pad++) {
    wide = repeat("\xF0\x9F\x91\x8D", 100);
    bink_fail(&err, BINK_EINVAL, "%.*s%s", (int)pad, "xxx", wide);
    assert_true(strlen(err.msg) >= BINK_ERR_MSG_MAX - 4);
    assert_true(bink_utf8_valid(err.msg, strlen(err.msg)));
    free(wide);
  }
  wide = repeat("\xC3\xA9", 200);
  bink_fail(&err, BINK_EINVAL, "%s", wide);
  assert_true(bink_utf8_valid(err.msg, strlen(err.msg)));
  assert_int_equal(strlen(err.msg), BINK_ERR_MSG_MAX - 2);
  free(wide);
  free(big);
}

static void test_rc_text(void **state)
{
  (void)state;
  assert_string_equal(bink_rc_text(BINK_OK), "ok");
  assert_string_equal(bink_rc_text(BINK_AGAIN), "in progress");
  assert_string_equal(bink_rc_text(BINK_EINVAL), "bad request");
  assert_string_equal(bink_rc_text(BINK_EAUTH), "unauthorized");
  assert_string_equal(bink_rc_text(BINK_EFORBIDDEN), "forbidden");
  assert_string_equal(bink_rc_text(BINK_ENOTFOUND), "not found");
  assert_string_equal(bink_rc_text(BINK_EMETHOD), "method not allowed");
  assert_string_equal(bink_rc_text(BINK_ECONFLICT), "conflict");
  assert_string_equal(bink_rc_text(BINK_EGONE), "gone");
  assert_string_equal(bink_rc_text(BINK_ETOOLARGE), "payload too large");
  assert_string_equal(bink_rc_text(BINK_EMEDIATYPE), "unsupported media type");
  assert_string_equal(bink_rc_text(BINK_ERATE), "too many requests");
  assert_string_equal(bink_rc_text(BINK_EINTERNAL), "internal error");
  assert_string_equal(bink_rc_text(BINK_EUNAVAIL), "service unavailable");
  assert_non_null(bink_rc_text((bink_rc)418));
}

/* ---- limits ---- */

static void test_limits_default(void **state)
{
  bink_limits l;

  (void)state;
  memset(&l, 0xAB, sizeof(l));
  bink_limits_default(&l);
  assert_int_equal(l.text_max, 4096);
  assert_int_equal(l.caption_max, 1024);
  assert_int_equal(l.kb_rows_max, 10);
  assert_int_equal(l.kb_row_buttons_max, 8);
  assert_int_equal(l.kb_buttons_max, 100);
  assert_int_equal(l.button_text_max, 64);
  assert_int_equal(l.callback_data_max, 64);
  assert_int_equal(l.button_url_max, 2048);
  assert_int_equal(l.answer_text_max, 200);
  assert_int_equal(l.delete_ids_max, 100);
  assert_int_equal(l.commands_max, 100);
  assert_int_equal(l.command_desc_max, 256);
  assert_true(l.mute_min == 30);
  assert_true(l.mute_max == 31622400);
  assert_int_equal(l.display_name_max, 64);
  assert_int_equal(l.title_max, 128);
  assert_int_equal(l.description_max, 512);
}

/* ---- text ---- */

static void test_text_lengths(void **state)
{
  bink_err err;
  char *s;

  (void)state;
  s = repeat("a", 4096);
  assert_int_equal(bink_check_text("content", s, 4096, 1, 4096, true, &err),
                   BINK_OK);
  free(s);
  s = repeat("a", 4097);
  assert_int_equal(bink_check_text("content", s, 4097, 1, 4096, true, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "content must be 1..4096 characters");
  free(s);

  /* 4096 emoji are 16384 bytes but 4096 characters. */
  s = repeat("\xF0\x9F\x91\x8D", 4096);
  assert_int_equal(
      bink_check_text("content", s, strlen(s), 1, 4096, true, &err), BINK_OK);
  free(s);
  s = repeat("\xF0\x9F\x91\x8D", 4097);
  assert_int_equal(
      bink_check_text("content", s, strlen(s), 1, 4096, true, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "content must be 1..4096 characters");
  free(s);

  /* A ZWJ sequence counts each code point: 5 here. */
  assert_int_equal(
      bink_check_text("text", LIT("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"
                                  "\xE2\x80\x8D\xF0\x9F\x91\xA7"),
                      1, 4, false, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "text must be 1..4 characters");
  assert_int_equal(
      bink_check_text("text", LIT("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"
                                  "\xE2\x80\x8D\xF0\x9F\x91\xA7"),
                      1, 5, false, &err),
      BINK_OK);

  assert_int_equal(bink_check_text("name", LIT("ab"), 3, 10, false, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "name must be 3..10 characters");
}

static void test_text_empty_and_blank(void **state)
{
  bink_err err;

  (void)state;
  assert_int_equal(bink_check_text("content", LIT(""), 1, 4096, true, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "content must not be empty");
  assert_int_equal(bink_check_text("content", NULL, 0, 1, 4096, false, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "content must not be empty");
  assert_int_equal(
      bink_check_text("content", LIT(" \t\n"), 1, 4096, true, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "content must not be empty");
  assert_int_equal(
      bink_check_text("content", LIT("\xE3\x80\x80"), 1, 4096, true, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "content must not be empty");
  assert_int_equal(
      bink_check_text("content", LIT("\xC2\xA0 "), 1, 4096, true, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "content must not be empty");
  /* Without blank_is_empty white space is content. */
  assert_int_equal(
      bink_check_text("content", LIT("\xE3\x80\x80"), 1, 4096, false, &err),
      BINK_OK);
  assert_int_equal(bink_check_text("content", LIT(" x "), 1, 4096, true, &err),
                   BINK_OK);
  /* An optional field may be empty or blank. */
  assert_int_equal(bink_check_text("caption", LIT(""), 0, 1024, true, &err),
                   BINK_OK);
  assert_int_equal(bink_check_text("caption", LIT("  "), 0, 1024, true, &err),
                   BINK_OK);
}

static void test_text_bad_utf8(void **state)
{
  bink_err err;

  (void)state;
  assert_int_equal(
      bink_check_text("content", LIT("a\xC0\x80"), 1, 4096, true, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg,
                      "content must be valid UTF-8 without NUL characters");
  assert_int_equal(bink_check_text("content", LIT("a\0b"), 1, 4096, true, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg,
                      "content must be valid UTF-8 without NUL characters");
}

/* ---- usernames ---- */

static void test_username(void **state)
{
  static const char *const good[] = {
    "abc", "Alice", "a_1", "z9_", "A23456789012345678901234567890_x",
  };
  static const char *const bad[] = {
    "", "ab", "1abc", "_abc", "ab-c", "ab c", "abc!", "\xC3\xA9t\xC3\xA9",
    "A234567890123456789012345678901_x", /* 33 */
  };
  bink_err err;

  (void)state;
  for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if(bink_check_username("username", good[i], strlen(good[i]), &err))
      fail_msg("rejected \"%s\": %s", good[i], err.msg);
  }
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&err, 0, sizeof(err));
    if(bink_check_username("username", bad[i], strlen(bad[i]), &err) !=
       BINK_EINVAL)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_string_equal(err.msg, "username must match " USERNAME_RE);
  }
  assert_int_equal(bink_check_username("group_username", LIT("abc\0"), &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "group_username must match " USERNAME_RE);
}

static void test_bot_username(void **state)
{
  bink_err err;

  (void)state;
  assert_int_equal(bink_check_bot_username("username", LIT("demo_bot"), &err),
                   BINK_OK);
  assert_int_equal(bink_check_bot_username("username", LIT("Demo_BOT"), &err),
                   BINK_OK);
  assert_int_equal(bink_check_bot_username("username", LIT("PriceBot"), &err),
                   BINK_OK);
  assert_int_equal(bink_check_bot_username("username", LIT("bot"), &err),
                   BINK_OK);
  assert_int_equal(bink_check_bot_username("username", LIT("demo"), &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "username must end in \"bot\"");
  assert_int_equal(bink_check_bot_username("username", LIT("botdemo"), &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "username must end in \"bot\"");
  assert_int_equal(bink_check_bot_username("username", LIT("1bot"), &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "username must match " USERNAME_RE);
  assert_int_equal(bink_check_bot_username("username", LIT("ot"), &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "username must match " USERNAME_RE);
}

/* ---- URLs ---- */

static void test_url_good(void **state)
{
  static const char *const good[] = {
    "http://example.com",
    "https://example.com/",
    "HTTPS://Example.COM/path?q=1&r=%20#frag",
    "http://127.0.0.1:8080/hook",
    "http://[::1]:9000/x",
    "https://user:pw@example.com/",
    "https://xn--tt-bja.fr/",
    "https://\xC3\xA9t\xC3\xA9.fr/p\xC3\xA9",
  };
  bink_err err;

  (void)state;
  for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    if(bink_check_http_url("url", good[i], strlen(good[i]), 2048, &err))
      fail_msg("rejected \"%s\": %s", good[i], err.msg);
  }
}

static void test_url_bad(void **state)
{
  static const char *const bad[] = {
    "",
    "example.com",
    "/relative/path",
    "//example.com/x",
    "ftp://example.com/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "mailto:a@example.com",
    "tg://resolve?domain=x",
    "http://",
    "https://",
    "http:/example.com",
    "http:example.com",
    "http:///example.com",
    "http://:80/",
    "http://@/",
    "http://example.com:99999/",
    "http://exa\xC0\x80mple.com/",
  };
  bink_err err;

  (void)state;
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&err, 0, sizeof(err));
    if(bink_check_http_url("url", bad[i], strlen(bad[i]), 2048, &err) !=
       BINK_EINVAL)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_memory_equal(err.msg, "url must ", 9);
  }
  assert_int_equal(
      bink_check_http_url("url", LIT("ftp://example.com/"), 2048, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg, "url must be an absolute http or https URL");
}

static void test_url_bytes(void **state)
{
  static const char *const bad[] = {
    " http://example.com",
    "http://example.com ",
    "http://example.com/a b",
    "http://example.com/\t",
    "http://example.com/\r\nX-Evil: 1",
    "http://example.com/\x7F",
    "http://example.com/\x01",
  };
  bink_err err;

  (void)state;
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if(bink_check_http_url("webhook_url", bad[i], strlen(bad[i]), 2048, &err) !=
       BINK_EINVAL)
      fail_msg("accepted \"%s\"", bad[i]);
    assert_string_equal(
        err.msg, "webhook_url must not contain spaces or control characters");
  }
  assert_int_equal(
      bink_check_http_url("url", LIT("http://example.com/\0x"), 2048, &err),
      BINK_EINVAL);
  assert_string_equal(err.msg,
                      "url must not contain spaces or control characters");
}

static void test_url_length(void **state)
{
  const char head[] = "https://example.com/";
  char *s = repeat("a", 2049);
  bink_err err;

  (void)state;
  memcpy(s, head, sizeof(head) - 1);
  assert_int_equal(bink_check_http_url("url", s, 2048, 2048, &err), BINK_OK);
  assert_int_equal(bink_check_http_url("url", s, 2049, 2048, &err),
                   BINK_EINVAL);
  assert_string_equal(err.msg, "url must be at most 2048 bytes");
  free(s);
}

/* ---- inline keyboards ---- */

static void test_kb_seed_example(void **state)
{
  (void)state;
  expect_kb("[]", NULL);
  /* The seed's example: 确认 / 取消, then 查看. */
  expect_kb("[[{\"text\":\"\xE7\xA1\xAE\xE8\xAE\xA4\","
            "\"callback_data\":\"confirm\"},"
            "{\"text\":\"\xE5\x8F\x96\xE6\xB6\x88\","
            "\"callback_data\":\"cancel\"}],"
            "[{\"text\":\"\xE6\x9F\xA5\xE7\x9C\x8B\","
            "\"callback_data\":\"detail\"}]]",
            NULL);
  expect_kb("[[{\"text\":\"Docs\",\"url\":\"https://example.com/docs\"}]]",
            NULL);
  /* Unknown members are ignored, null counts as absent. */
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\",\"url\":null,"
            "\"extra\":1}]]",
            NULL);
}

static void test_kb_shape(void **state)
{
  char *kb;

  (void)state;
  expect_kb("{}", "extra.inline_keyboard must be an array of arrays");
  expect_kb("\"x\"", "extra.inline_keyboard must be an array of arrays");
  expect_kb("[{\"text\":\"a\",\"callback_data\":\"x\"}]",
            "extra.inline_keyboard[0] must be an array");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\"}],[]]",
            "extra.inline_keyboard[1] must not be empty");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\"}],[\"b\"]]",
            "extra.inline_keyboard[1][0] must be an object");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\"},[]]]",
            "extra.inline_keyboard[0][1] must be an object");

  kb = kb_grid(10, 1);
  expect_kb(kb, NULL);
  free(kb);
  kb = kb_grid(11, 1);
  expect_kb(kb, "extra.inline_keyboard must have at most 10 rows");
  free(kb);
  kb = kb_grid(1, 8);
  expect_kb(kb, NULL);
  free(kb);
  kb = kb_grid(10, 8);
  expect_kb(kb, NULL);
  free(kb);
  kb = kb_grid(1, 9);
  expect_kb(kb, "extra.inline_keyboard[0] must have at most 8 buttons");
  free(kb);
}

static void test_kb_total(void **state)
{
  bink_limits l;
  json_t *kb;
  char *text;

  (void)state;
  /* 10 x 8 = 80 cannot reach 100 with the default limits: allow 20 rows. */
  bink_limits_default(&l);
  l.kb_rows_max = 20;
  text = kb_grid(20, 5);
  expect_kb_l(text, &l, NULL);

  /* One more button in the last row: 101 in all. */
  kb = parse_json(text);
  free(text);
  json_array_append_new(json_array_get(kb, 19),
                        json_pack("{s:s,s:s}", "text", "a", "callback_data",
                                  "x"));
  text = json_dumps(kb, JSON_COMPACT);
  json_decref(kb);
  expect_kb_l(text, &l, "extra.inline_keyboard must have at most 100 buttons");
  free(text);
}

static void test_kb_text(void **state)
{
  char *t64 = repeat("\xF0\x9F\x91\x8D", 64);
  char *t65 = repeat("\xF0\x9F\x91\x8D", 65);
  char members[512];
  char *kb;

  (void)state;
  snprintf(members, sizeof(members), "\"text\":\"%s\",\"callback_data\":\"x\"",
           t64);
  kb = kb_one(members);
  expect_kb(kb, NULL);
  free(kb);
  snprintf(members, sizeof(members), "\"text\":\"%s\",\"callback_data\":\"x\"",
           t65);
  kb = kb_one(members);
  expect_kb(kb, "extra.inline_keyboard[0][0].text must be 1..64 characters");
  free(kb);
  expect_kb("[[{\"text\":\"\",\"callback_data\":\"x\"}]]",
            "extra.inline_keyboard[0][0].text must not be empty");
  expect_kb("[[{\"callback_data\":\"x\"}]]",
            "extra.inline_keyboard[0][0].text is required");
  expect_kb("[[{\"text\":7,\"callback_data\":\"x\"}]]",
            "extra.inline_keyboard[0][0].text must be a string");
  free(t64);
  free(t65);
}

static void test_kb_callback_data(void **state)
{
  char *d64 = repeat("d", 64);
  char *d65 = repeat("d", 65);
  char *e32 = repeat("\xC3\xA9", 32); /* 32 characters, 64 bytes */
  char *e33 = repeat("\xC3\xA9", 33); /* 33 characters, 66 bytes */
  char members[512];
  char *kb;

  (void)state;
  snprintf(members, sizeof(members), "\"text\":\"a\",\"callback_data\":\"%s\"",
           d64);
  kb = kb_one(members);
  expect_kb(kb, NULL);
  free(kb);
  snprintf(members, sizeof(members), "\"text\":\"a\",\"callback_data\":\"%s\"",
           e32);
  kb = kb_one(members);
  expect_kb(kb, NULL);
  free(kb);

  snprintf(members, sizeof(members),
           "\"text\":\"a\",\"callback_data\":\"x\"}],"
           "[{\"text\":\"b\",\"callback_data\":\"%s\"",
           d65);
  kb = kb_one(members);
  expect_kb(kb,
            "extra.inline_keyboard[1][0].callback_data must be 1..64 bytes");
  free(kb);
  snprintf(members, sizeof(members), "\"text\":\"a\",\"callback_data\":\"%s\"",
           e33);
  kb = kb_one(members);
  expect_kb(kb,
            "extra.inline_keyboard[0][0].callback_data must be 1..64 bytes");
  free(kb);
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"\"}]]",
            "extra.inline_keyboard[0][0].callback_data must be 1..64 bytes");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":5}]]",
            "extra.inline_keyboard[0][0].callback_data must be a string");
  free(d64);
  free(d65);
  free(e32);
  free(e33);
}

static void test_kb_url(void **state)
{
  char *u = repeat("a", 2049);
  char *members = malloc(2200);
  char *kb;

  (void)state;
  memcpy(u, "https://example.com/", 20);
  u[2048] = '\0';
  snprintf(members, 2200, "\"text\":\"a\",\"url\":\"%s\"", u);
  kb = kb_one(members);
  expect_kb(kb, NULL);
  free(kb);
  u[2048] = 'a';
  snprintf(members, 2200, "\"text\":\"a\",\"url\":\"%s\"", u);
  kb = kb_one(members);
  expect_kb(kb, "extra.inline_keyboard[0][0].url must be at most 2048 bytes");
  free(kb);
  expect_kb("[[{\"text\":\"a\",\"url\":\"ftp://example.com\"}]]",
            "extra.inline_keyboard[0][0].url must be an absolute http or "
            "https URL");
  expect_kb("[[{\"text\":\"a\",\"url\":\"\"}]]",
            "extra.inline_keyboard[0][0].url must be an absolute http or "
            "https URL");
  expect_kb("[[{\"text\":\"a\",\"url\":[]}]]",
            "extra.inline_keyboard[0][0].url must be a string");
  free(members);
  free(u);
}

static void test_kb_either_or(void **state)
{
  (void)state;
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\","
            "\"url\":\"https://example.com\"}]]",
            "extra.inline_keyboard[0][0] must have exactly one of "
            "callback_data and url");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":\"x\"},{\"text\":\"b\"}]]",
            "extra.inline_keyboard[0][1] must have exactly one of "
            "callback_data and url");
  expect_kb("[[{\"text\":\"a\",\"callback_data\":null,\"url\":null}]]",
            "extra.inline_keyboard[0][0] must have exactly one of "
            "callback_data and url");
}

/* ---- commands ---- */

/* Normalizes `text`; expects `msg` (NULL: success, then returns the result
 * as compact JSON text to free). */
static char *expect_cmds_l(const char *text, const bink_limits *l,
                           const char *msg)
{
  json_t *in = parse_json(text);
  json_t *out = (json_t *)1;
  bink_err err = {BINK_OK, ""};
  bink_rc rc = bink_commands_normalize(in, l, &out, &err);
  char *res = NULL;

  json_decref(in);
  if(msg) {
    assert_int_equal(rc, BINK_EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, msg);
    return NULL;
  }
  if(rc != BINK_OK)
    fail_msg("rejected: %s", err.msg);
  assert_non_null(out);
  res = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(out);
  return res;
}

static char *expect_cmds(const char *text, const char *msg)
{
  bink_limits l;

  bink_limits_default(&l);
  return expect_cmds_l(text, &l, msg);
}

/* `n` commands c0, c1, ... with description `desc`, as JSON text. */
static char *cmds_n(size_t n, const char *desc)
{
  json_t *a = json_array();
  char name[32];
  char *text;

  for(size_t i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "c%zu", i);
    json_array_append_new(a, json_pack("{s:s,s:s}", "command", name,
                                       "description", desc));
  }
  text = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  return text;
}

static void test_commands_normalize(void **state)
{
  char *res;

  (void)state;
  res = expect_cmds("[{\"command\":\"/start\",\"description\":\"Start\"},"
                    "{\"command\":\"help\",\"description\":\"Help\","
                    "\"extra\":true},"
                    "{\"command\":\"a_1\",\"description\":\"\xE6\x9F\xA5\"}]",
                    NULL);
  assert_string_equal(
      res, "[{\"command\":\"start\",\"description\":\"Start\"},"
           "{\"command\":\"help\",\"description\":\"Help\"},"
           "{\"command\":\"a_1\",\"description\":\"\xE6\x9F\xA5\"}]");
  free(res);
  res = expect_cmds("[]", NULL);
  assert_string_equal(res, "[]");
  free(res);
}

static void test_commands_names(void **state)
{
  char *c32 = repeat("c", 32);
  char *c33 = repeat("c", 33);
  char text[256];
  char *res;

  (void)state;
  expect_cmds("[{\"command\":\"//x\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"/\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"ok\",\"description\":\"d\"},"
              "{\"command\":\"Start\",\"description\":\"d\"}]",
              "commands[1].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"st art\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"st-art\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");
  expect_cmds("[{\"command\":\"x/\",\"description\":\"d\"}]",
              "commands[0].command must match ^[a-z0-9_]{1,32}$");

  snprintf(text, sizeof(text), "[{\"command\":\"%s\",\"description\":\"d\"}]",
           c32);
  res = expect_cmds(text, NULL);
  free(res);
  snprintf(text, sizeof(text), "[{\"command\":\"/%s\",\"description\":\"d\"}]",
           c32);
  res = expect_cmds(text, NULL);
  free(res);
  snprintf(text, sizeof(text), "[{\"command\":\"%s\",\"description\":\"d\"}]",
           c33);
  expect_cmds(text, "commands[0].command must match ^[a-z0-9_]{1,32}$");

  expect_cmds("[{\"description\":\"d\"}]", "commands[0].command is required");
  expect_cmds("[{\"command\":1,\"description\":\"d\"}]",
              "commands[0].command must be a string");
  free(c32);
  free(c33);
}

static void test_commands_duplicates(void **state)
{
  (void)state;
  expect_cmds("[{\"command\":\"start\",\"description\":\"a\"},"
              "{\"command\":\"help\",\"description\":\"b\"},"
              "{\"command\":\"x\",\"description\":\"c\"},"
              "{\"command\":\"/start\",\"description\":\"d\"}]",
              "commands[3].command duplicates commands[0]");
  expect_cmds("[{\"command\":\"a\",\"description\":\"a\"},"
              "{\"command\":\"help\",\"description\":\"b\"},"
              "{\"command\":\"help\",\"description\":\"c\"}]",
              "commands[2].command duplicates commands[1]");
}

static void test_commands_count(void **state)
{
  char *text;
  char *res;

  (void)state;
  text = cmds_n(100, "d");
  res = expect_cmds(text, NULL);
  free(res);
  free(text);
  text = cmds_n(101, "d");
  expect_cmds(text, "commands must have at most 100 entries");
  free(text);
}

static void test_commands_descriptions(void **state)
{
  char *d256 = repeat("\xE4\xBD\xA0", 256);
  char *d257 = repeat("\xE4\xBD\xA0", 257);
  char *text;
  char *res;

  (void)state;
  text = cmds_n(1, d256);
  res = expect_cmds(text, NULL);
  free(res);
  free(text);
  text = cmds_n(2, d257);
  expect_cmds(text, "commands[0].description must be 1..256 characters");
  free(text);
  expect_cmds("[{\"command\":\"a\",\"description\":\"\"}]",
              "commands[0].description must not be empty");
  expect_cmds("[{\"command\":\"a\"}]", "commands[0].description is required");
  expect_cmds("[{\"command\":\"a\",\"description\":null}]",
              "commands[0].description must be a string");
  free(d256);
  free(d257);
}

static void test_commands_shape(void **state)
{
  (void)state;
  expect_cmds("{}", "commands must be an array");
  expect_cmds("\"start\"", "commands must be an array");
  expect_cmds("[\"start\"]", "commands[0] must be an object");
}

/* ---- mute, idempotency ---- */

static void test_mute_duration(void **state)
{
  bink_limits l;
  bink_err err;

  (void)state;
  bink_limits_default(&l);
  assert_int_equal(bink_check_mute_duration(0, &l, &err), BINK_OK);
  assert_int_equal(bink_check_mute_duration(30, &l, &err), BINK_OK);
  assert_int_equal(bink_check_mute_duration(31, &l, &err), BINK_OK);
  assert_int_equal(bink_check_mute_duration(31622400, &l, &err), BINK_OK);
  assert_int_equal(bink_check_mute_duration(29, &l, &err), BINK_EINVAL);
  assert_string_equal(err.msg, "duration must be 0 or 30..31622400 seconds");
  assert_int_equal(bink_check_mute_duration(1, &l, &err), BINK_EINVAL);
  assert_int_equal(bink_check_mute_duration(31622401, &l, &err), BINK_EINVAL);
  assert_string_equal(err.msg, "duration must be 0 or 30..31622400 seconds");
  assert_int_equal(bink_check_mute_duration(-1, &l, &err), BINK_EINVAL);
  assert_int_equal(bink_check_mute_duration(INT64_MIN, &l, &err), BINK_EINVAL);
  assert_int_equal(bink_check_mute_duration(INT64_MAX, &l, &err), BINK_EINVAL);
  assert_int_equal(bink_check_mute_duration(29, &l, NULL), BINK_EINVAL);
}

static void test_idempotency_key(void **state)
{
  char *k128 = repeat("k", 128);
  char *k129 = repeat("k", 129);

  (void)state;
  assert_true(bink_idempotency_key_valid(LIT("a")));
  assert_true(
      bink_idempotency_key_valid(LIT("3f0c2a1e-9b7d-4c1a-8e22-0f5d1b6c9a10")));
  assert_true(
      bink_idempotency_key_valid(LIT("!~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}")));
  assert_true(bink_idempotency_key_valid(k128, 128));
  assert_false(bink_idempotency_key_valid(k129, 129));
  assert_false(bink_idempotency_key_valid(LIT("")));
  assert_true(bink_idempotency_key_valid(LIT("a b")));
  assert_false(bink_idempotency_key_valid(LIT(" ab")));
  assert_false(bink_idempotency_key_valid(LIT("ab\t")));
  assert_false(bink_idempotency_key_valid(LIT("ab\x7F")));
  assert_false(bink_idempotency_key_valid(LIT("ab\0c")));
  assert_false(bink_idempotency_key_valid(LIT("\xC3\xA9")));
  free(k128);
  free(k129);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fail_formats),
    cmocka_unit_test(test_fail_truncates),
    cmocka_unit_test(test_rc_text),
    cmocka_unit_test(test_limits_default),
    cmocka_unit_test(test_text_lengths),
    cmocka_unit_test(test_text_empty_and_blank),
    cmocka_unit_test(test_text_bad_utf8),
    cmocka_unit_test(test_username),
    cmocka_unit_test(test_bot_username),
    cmocka_unit_test(test_url_good),
    cmocka_unit_test(test_url_bad),
    cmocka_unit_test(test_url_bytes),
    cmocka_unit_test(test_url_length),
    cmocka_unit_test(test_kb_seed_example),
    cmocka_unit_test(test_kb_shape),
    cmocka_unit_test(test_kb_total),
    cmocka_unit_test(test_kb_text),
    cmocka_unit_test(test_kb_callback_data),
    cmocka_unit_test(test_kb_url),
    cmocka_unit_test(test_kb_either_or),
    cmocka_unit_test(test_commands_normalize),
    cmocka_unit_test(test_commands_names),
    cmocka_unit_test(test_commands_duplicates),
    cmocka_unit_test(test_commands_count),
    cmocka_unit_test(test_commands_descriptions),
    cmocka_unit_test(test_commands_shape),
    cmocka_unit_test(test_mute_duration),
    cmocka_unit_test(test_idempotency_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
