/*
 * test_ids.c: external identifiers, tokens and digests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rules.h"

#define TAG "0123456789abc" /* 13 characters of the alphabet */

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static bool parse(const char *s, bink_id_kind *kind, int64_t *n, char *tag)
{
  return bink_id_parse(s, strlen(s), kind, n, tag);
}

static void test_prefixes(void **state)
{
  (void)state;
  assert_string_equal(bink_id_prefix(BINK_ID_USER), "user");
  assert_string_equal(bink_id_prefix(BINK_ID_BOT), "bot");
  assert_string_equal(bink_id_prefix(BINK_ID_GROUP), "group");
  assert_string_equal(bink_id_prefix(BINK_ID_MSG), "msg");
  assert_string_equal(bink_id_prefix(BINK_ID_FILE), "file");
  assert_string_equal(bink_id_prefix(BINK_ID_STICKER), "sticker");
  assert_string_equal(bink_id_prefix(BINK_ID__COUNT), "");
}

static void test_new_tag(void **state)
{
  char a[BINK_ID_TAG_LEN + 1];
  char b[BINK_ID_TAG_LEN + 1];

  (void)state;
  assert_int_equal(bink_id_new_tag(a), BINK_OK);
  assert_int_equal(bink_id_new_tag(b), BINK_OK);
  assert_int_equal(strlen(a), BINK_ID_TAG_LEN);
  assert_int_equal(strspn(a, crockford), BINK_ID_TAG_LEN);
  assert_int_equal(strspn(b, crockford), BINK_ID_TAG_LEN);
  assert_string_not_equal(a, b);
  /* 64 bits in 13 digits of 5 bits: the first digit holds only 4. */
  assert_true(strchr("0123456789abcdef", a[0]) != NULL);
}

static void test_format(void **state)
{
  char out[BINK_ID_MAX];

  (void)state;
  bink_id_format(out, BINK_ID_USER, 1, TAG);
  assert_string_equal(out, "user_" TAG "1");
  bink_id_format(out, BINK_ID_MSG, 36, TAG);
  assert_string_equal(out, "msg_" TAG "10");
  bink_id_format(out, BINK_ID_GROUP, 35, TAG);
  assert_string_equal(out, "group_" TAG "z");
  bink_id_format(out, BINK_ID_STICKER, INT64_MAX, TAG);
  assert_string_equal(out, "sticker_" TAG "1y2p0ij32e8e7");
  assert_true(strlen(out) < BINK_ID_MAX);
  /* Broken preconditions give "", which never parses. */
  bink_id_format(out, BINK_ID_USER, 0, TAG);
  assert_string_equal(out, "");
  bink_id_format(out, BINK_ID_USER, 1, "short");
  assert_string_equal(out, "");
}

static void test_round_trip(void **state)
{
  const int64_t ns[] = {1, 2, 35, 36, 1295, 1296, 123456789,
                        INT64_C(4294967296), INT64_MAX - 1, INT64_MAX};
  char out[BINK_ID_MAX];
  char tag[BINK_ID_TAG_LEN + 1];
  char got[BINK_ID_TAG_LEN + 1];

  (void)state;
  for(int k = 0; k < BINK_ID__COUNT; k++) {
    for(size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
      bink_id_kind kind = BINK_ID__COUNT;
      int64_t n = 0;

      assert_int_equal(bink_id_new_tag(tag), BINK_OK);
      bink_id_format(out, (bink_id_kind)k, ns[i], tag);
      assert_true(parse(out, &kind, &n, got));
      assert_int_equal(kind, k);
      assert_true(n == ns[i]);
      assert_string_equal(got, tag);
    }
  }
}

static void test_parse_outputs_optional(void **state)
{
  (void)state;
  assert_true(parse("bot_" TAG "1", NULL, NULL, NULL));
}

static void test_parse_rejects(void **state)
{
  static const char *const bad[] = {
    "",
    "_" TAG "1",
    "user",
    "user_",
    "usr_" TAG "1",            /* unknown prefix */
    "users_" TAG "1",
    "User_" TAG "1",           /* prefixes are lower case */
    "USER_" TAG "1",
    "cb_" TAG "1",             /* callback ids are not row ids */
    "user-" TAG "1",
    "user__" TAG "1",
    " user_" TAG "1",
    "user_" TAG,               /* no n */
    "user_0123456789ab1",      /* tag one short */
    "user_abc1",
    "user_0123456789ABC1",     /* upper-case tag */
    "user_0123456789abC1",
    "user_0123456789abi1",     /* i, l, o, u are not Crockford digits */
    "user_0123456789abl1",
    "user_0123456789abo1",
    "user_0123456789abu1",
    "user_" TAG "0",           /* n = 0 */
    "user_" TAG "01",          /* leading zero */
    "user_" TAG "A",           /* upper-case n */
    "user_" TAG "1-",
    "user_" TAG "1 ",          /* trailing junk */
    "user_" TAG "1\n",
    "user_" TAG "1_",
    "user_" TAG "1y2p0ij32e8e8",  /* INT64_MAX + 1 */
    "user_" TAG "zzzzzzzzzzzzz",
    "user_" TAG "1000000000000000000000000000000", /* too long */
  };
  bink_id_kind kind = BINK_ID_FILE;
  int64_t n = 77;
  char tag[BINK_ID_TAG_LEN + 1] = "untouched";

  (void)state;
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if(parse(bad[i], &kind, &n, tag))
      fail_msg("accepted \"%s\"", bad[i]);
  }
  /* A failed parse leaves the outputs alone. */
  assert_int_equal(kind, BINK_ID_FILE);
  assert_int_equal(n, 77);
  assert_string_equal(tag, "untouched");
}

static void test_parse_honours_length(void **state)
{
  const char s[] = "msg_" TAG "1z\0junk";
  bink_id_kind kind;
  int64_t n;

  (void)state;
  assert_true(bink_id_parse(s, strlen(s), &kind, &n, NULL));
  assert_int_equal(n, 71);
  /* The embedded NUL is part of the id when the length says so. */
  assert_false(bink_id_parse(s, sizeof(s) - 1, &kind, &n, NULL));
  /* A cut length sees a shorter id. */
  assert_true(bink_id_parse(s, strlen(s) - 1, &kind, &n, NULL));
  assert_int_equal(n, 1);
}

static void test_parse_as_checks_the_kind(void **state)
{
  char out[BINK_ID_MAX], tag[BINK_ID_TAG_LEN + 1];
  int64_t n = 0;

  (void)state;
  bink_id_format(out, BINK_ID_GROUP, 35, TAG);
  assert_true(bink_id_parse_as(out, strlen(out), BINK_ID_GROUP, &n, tag));
  assert_int_equal(n, 35);
  assert_string_equal(tag, TAG);
  assert_false(bink_id_parse_as(out, strlen(out), BINK_ID_MSG, &n, tag));
  assert_false(bink_id_parse_as("group_x", 7, BINK_ID_GROUP, &n, tag));
}

static void test_tokens(void **state)
{
  static const char b64url[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char u[BINK_TOKEN_LEN + 1];
  char b[BINK_TOKEN_LEN + 1];
  char b2[BINK_TOKEN_LEN + 1];

  (void)state;
  assert_int_equal(bink_token_new(u, false), BINK_OK);
  assert_int_equal(bink_token_new(b, true), BINK_OK);
  assert_int_equal(bink_token_new(b2, true), BINK_OK);
  assert_int_equal(strlen(u), BINK_TOKEN_LEN);
  assert_int_equal(strlen(b), BINK_TOKEN_LEN);
  assert_memory_equal(u, "u1.", 3);
  assert_memory_equal(b, "b1.", 3);
  assert_int_equal(strspn(u + 3, b64url), 43);
  assert_int_equal(strspn(b + 3, b64url), 43);
  assert_string_not_equal(b, b2);
  assert_string_not_equal(u + 3, b + 3);
  /* 32 bytes are 256 bits; the last of 43 digits carries 4 of its 6. */
  assert_true(strchr("AEIMQUYcgkosw048", b[BINK_TOKEN_LEN - 1]) != NULL);
}

static void test_sha256(void **state)
{
  /* FIPS 180-2 test vectors. */
  static const unsigned char empty[BINK_SHA256_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
    0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
    0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
  static const unsigned char abc[BINK_SHA256_LEN] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  unsigned char d[BINK_SHA256_LEN];
  unsigned char d2[BINK_SHA256_LEN];

  (void)state;
  bink_sha256("", 0, d);
  assert_memory_equal(d, empty, BINK_SHA256_LEN);
  bink_sha256("abc", 3, d);
  assert_memory_equal(d, abc, BINK_SHA256_LEN);
  assert_true(bink_digest_equal(d, abc));
  bink_sha256("abd", 3, d2);
  assert_false(bink_digest_equal(d, d2));
  memcpy(d2, d, sizeof(d));
  d2[BINK_SHA256_LEN - 1] ^= 1;
  assert_false(bink_digest_equal(d, d2));
  d2[BINK_SHA256_LEN - 1] ^= 1;
  d2[0] ^= 0x80;
  assert_false(bink_digest_equal(d, d2));
}

static void test_token_digest(void **state)
{
  char t[BINK_TOKEN_LEN + 1];
  unsigned char a[BINK_SHA256_LEN];
  unsigned char b[BINK_SHA256_LEN];

  (void)state;
  assert_int_equal(bink_token_new(t, true), BINK_OK);
  bink_sha256(t, strlen(t), a);
  bink_sha256(t, strlen(t), b);
  assert_true(bink_digest_equal(a, b));
  t[5] = t[5] == 'A' ? 'B' : 'A';
  bink_sha256(t, strlen(t), b);
  assert_false(bink_digest_equal(a, b));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_prefixes),
    cmocka_unit_test(test_new_tag),
    cmocka_unit_test(test_format),
    cmocka_unit_test(test_round_trip),
    cmocka_unit_test(test_parse_outputs_optional),
    cmocka_unit_test(test_parse_rejects),
    cmocka_unit_test(test_parse_honours_length),
    cmocka_unit_test(test_parse_as_checks_the_kind),
    cmocka_unit_test(test_tokens),
    cmocka_unit_test(test_sha256),
    cmocka_unit_test(test_token_digest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
