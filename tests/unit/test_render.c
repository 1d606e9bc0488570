/*
 * test_render.c: bink_json_text, the compact serialiser the reply and the
 * feed use: in the caller's buffer when it fits, else in a block of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/render.h"

static void test_fits_in_the_buffer(void **state) {
  (void)state;
  char small[64];
  size_t n = 0;
  json_t *v = json_pack("{s:i, s:s}", "a", 1, "b", "x y");
  char *t = bink_json_text(v, small, sizeof small, &n);
  assert_ptr_equal(t, small);
  assert_string_equal(t, "{\"a\":1,\"b\":\"x y\"}");
  assert_int_equal(n, strlen(t));
  json_decref(v);
}

static void test_edge_of_the_buffer_and_beyond(void **state) {
  (void)state;
  /* {"a":"<k a's>"} is k + 8 bytes; the NUL needs one more */
  for (size_t k = 6; k <= 8; k++) {
    char a[16] = {0};
    memset(a, 'a', k);
    json_t *v = json_pack("{s:s}", "a", a);
    char small[16]; /* fits k + 8 < 16 */
    size_t n = 0;
    char *t = bink_json_text(v, small, sizeof small, &n);
    assert_non_null(t);
    assert_int_equal(n, k + 8);
    assert_int_equal(strlen(t), n);
    assert_int_equal(t[0], '{');
    if (n < sizeof small)
      assert_ptr_equal(t, small);
    else {
      assert_ptr_not_equal(t, small);
      free(t);
    }
    json_decref(v);
  }
}

static void test_null_is_null(void **state) {
  (void)state;
  char small[8];
  size_t n = 1;
  assert_null(bink_json_text(NULL, small, sizeof small, &n));
  assert_int_equal(n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fits_in_the_buffer),
      cmocka_unit_test(test_edge_of_the_buffer_and_beyond),
      cmocka_unit_test(test_null_is_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
