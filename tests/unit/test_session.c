/*
 * test_session.c: the web sandbox's session tokens (src/core/session.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/session.h"

static void test_token_shape(void **state) {
  (void)state;
  char a[BINK_TOKEN_LEN + 1], b[BINK_TOKEN_LEN + 1];
  assert_int_equal(bink_session_token_new(a), BINK_OK);
  assert_int_equal(bink_session_token_new(b), BINK_OK);
  assert_int_equal(strlen(a), BINK_TOKEN_LEN);
  assert_memory_equal(a, "s1.", 3);
  assert_string_not_equal(a, b);
  assert_true(bink_session_token_shape(a, strlen(a)));
  char user[BINK_TOKEN_LEN + 1];
  assert_int_equal(bink_token_new(user, false), BINK_OK);
  assert_false(bink_session_token_shape(user, strlen(user)));
  assert_false(bink_session_token_shape(a, strlen(a) - 1));
  a[10] = '.';
  assert_false(bink_session_token_shape(a, strlen(a)));
  assert_false(bink_session_token_shape("", 0));
}

/* The stored digest is never the plain SHA-256 a Bearer token would get. */
static void test_digest_is_domain_separated(void **state) {
  (void)state;
  char t[BINK_TOKEN_LEN + 1];
  assert_int_equal(bink_session_token_new(t), BINK_OK);
  unsigned char d1[BINK_SHA256_LEN], d2[BINK_SHA256_LEN], plain[BINK_SHA256_LEN];
  bink_session_digest(t, strlen(t), d1);
  bink_session_digest(t, strlen(t), d2);
  bink_sha256(t, strlen(t), plain);
  assert_memory_equal(d1, d2, BINK_SHA256_LEN);
  assert_memory_not_equal(d1, plain, BINK_SHA256_LEN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_shape),
      cmocka_unit_test(test_digest_is_domain_separated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
