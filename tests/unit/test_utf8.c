/*
 * test_utf8.c: UTF-8 validation, code-point counting and blank detection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/rules.h"

/* A string literal with its length (embedded NULs included). */
#define LIT(s) (s), (sizeof(s) - 1)

static void test_valid_ascii_and_multibyte(void **state)
{
  (void)state;
  assert_true(bink_utf8_valid(LIT("")));
  assert_true(bink_utf8_valid(LIT("hello")));
  assert_true(bink_utf8_valid(LIT("\xC2\x80")));             /* U+0080 */
  assert_true(bink_utf8_valid(LIT("\xDF\xBF")));             /* U+07FF */
  assert_true(bink_utf8_valid(LIT("\xE0\xA0\x80")));         /* U+0800 */
  assert_true(bink_utf8_valid(LIT("\xED\x9F\xBF")));         /* U+D7FF */
  assert_true(bink_utf8_valid(LIT("\xEE\x80\x80")));         /* U+E000 */
  assert_true(bink_utf8_valid(LIT("\xEF\xBF\xBF")));         /* U+FFFF */
  assert_true(bink_utf8_valid(LIT("\xF0\x90\x80\x80")));     /* U+10000 */
  assert_true(bink_utf8_valid(LIT("\xF4\x8F\xBF\xBF")));     /* U+10FFFF */
  assert_true(bink_utf8_valid(LIT("\xE4\xBD\xA0\xE5\xA5\xBD"))); /* 你好 */
  assert_true(bink_utf8_valid(LIT("\xF0\x9F\x91\x8D")));     /* 👍 */
}

static void test_overlong_rejected(void **state)
{
  (void)state;
  assert_false(bink_utf8_valid(LIT("\xC0\x80")));
  assert_false(bink_utf8_valid(LIT("\xC1\xBF")));
  assert_false(bink_utf8_valid(LIT("\xE0\x80\x80")));
  assert_false(bink_utf8_valid(LIT("\xE0\x9F\xBF")));
  assert_false(bink_utf8_valid(LIT("\xF0\x80\x80\x80")));
  assert_false(bink_utf8_valid(LIT("\xF0\x8F\xBF\xBF")));
}

static void test_surrogates_rejected(void **state)
{
  (void)state;
  assert_false(bink_utf8_valid(LIT("\xED\xA0\x80")));  /* U+D800 */
  assert_false(bink_utf8_valid(LIT("\xED\xBF\xBF")));  /* U+DFFF */
  /* A CESU-8 pair for U+1F44D. */
  assert_false(bink_utf8_valid(LIT("\xED\xA0\xBD\xED\xB1\x8D")));
}

static void test_above_max_rejected(void **state)
{
  (void)state;
  assert_false(bink_utf8_valid(LIT("\xF4\x90\x80\x80")));  /* U+110000 */
  assert_false(bink_utf8_valid(LIT("\xF5\x80\x80\x80")));
  assert_false(bink_utf8_valid(LIT("\xF8\x88\x80\x80\x80")));
  assert_false(bink_utf8_valid(LIT("\xFE")));
  assert_false(bink_utf8_valid(LIT("\xFF")));
}

static void test_truncated_and_stray(void **state)
{
  (void)state;
  assert_false(bink_utf8_valid(LIT("\xC3")));
  assert_false(bink_utf8_valid(LIT("a\xE4\xBD")));
  assert_false(bink_utf8_valid(LIT("\xF0\x9F\x91")));
  assert_false(bink_utf8_valid(LIT("\xF0\x9F\x91x")));     /* cut, then ASCII */
  assert_false(bink_utf8_valid(LIT("\xE4\xBD\xA0\xE5")));
  assert_false(bink_utf8_valid(LIT("\x80")));              /* stray byte */
  assert_false(bink_utf8_valid(LIT("a\xBF" "b")));
  assert_false(bink_utf8_valid(LIT("\xC3\xA9\xA9")));      /* one too many */
  /* The length bounds the check: a prefix of a valid string can be cut. */
  assert_false(bink_utf8_valid("\xC3\xA9", 1));
  assert_true(bink_utf8_valid("\xC3\xA9", 2));
}

static void test_nul_rejected(void **state)
{
  (void)state;
  assert_false(bink_utf8_valid(LIT("\0")));
  assert_false(bink_utf8_valid(LIT("ab\0cd")));
  assert_false(bink_utf8_valid(LIT("\xC3\xA9\0")));
}

static void test_count(void **state)
{
  (void)state;
  assert_int_equal(bink_utf8_count(LIT("")), 0);
  assert_int_equal(bink_utf8_count(LIT("hello")), 5);
  assert_int_equal(bink_utf8_count(LIT("\xE4\xBD\xA0\xE5\xA5\xBD")), 2);
  assert_int_equal(bink_utf8_count(LIT("\xF0\x9F\x91\x8D")), 1);
  assert_int_equal(
      bink_utf8_count(LIT("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")), 4);
  /* Man, ZWJ, woman, ZWJ, girl: one glyph, five code points. */
  assert_int_equal(
      bink_utf8_count(LIT("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"
                          "\xE2\x80\x8D\xF0\x9F\x91\xA7")),
      5);
  /* Thumbs up with a skin tone modifier: two code points. */
  assert_int_equal(bink_utf8_count(LIT("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD")), 2);
}

static void test_count_4096_emoji(void **state)
{
  const size_t n = 4096;
  char *s = malloc(n * 4);

  (void)state;
  assert_non_null(s);
  for(size_t i = 0; i < n; i++)
    memcpy(s + 4 * i, "\xF0\x9F\x91\x8D", 4);
  assert_true(bink_utf8_valid(s, n * 4));
  assert_int_equal(bink_utf8_count(s, n * 4), 4096);
  free(s);
}

static void test_blank(void **state)
{
  (void)state;
  assert_true(bink_utf8_is_blank(LIT("")));
  assert_true(bink_utf8_is_blank(LIT(" ")));
  assert_true(bink_utf8_is_blank(LIT(" \t\r\n\v\f")));
  assert_true(bink_utf8_is_blank(LIT("\xC2\x85")));          /* U+0085 */
  assert_true(bink_utf8_is_blank(LIT("\xC2\xA0")));          /* U+00A0 */
  assert_true(bink_utf8_is_blank(LIT("\xE1\x9A\x80")));      /* U+1680 */
  assert_true(bink_utf8_is_blank(LIT("\xE2\x80\x80")));      /* U+2000 */
  assert_true(bink_utf8_is_blank(LIT("\xE2\x80\x8A")));      /* U+200A */
  assert_true(bink_utf8_is_blank(LIT("\xE2\x80\xA8\xE2\x80\xA9")));
  assert_true(bink_utf8_is_blank(LIT("\xE2\x80\xAF")));      /* U+202F */
  assert_true(bink_utf8_is_blank(LIT("\xE2\x81\x9F")));      /* U+205F */
  assert_true(bink_utf8_is_blank(LIT("\xE3\x80\x80")));      /* U+3000 */
  assert_true(bink_utf8_is_blank(LIT(" \xE3\x80\x80\xC2\xA0\t")));

  assert_false(bink_utf8_is_blank(LIT("a")));
  assert_false(bink_utf8_is_blank(LIT("  .  ")));
  assert_false(bink_utf8_is_blank(LIT("\xE3\x80\x80x")));
  /* Not White_Space: ZWSP U+200B, ZWJ U+200D, BOM U+FEFF, U+180E. */
  assert_false(bink_utf8_is_blank(LIT("\xE2\x80\x8B")));
  assert_false(bink_utf8_is_blank(LIT("\xE2\x80\x8D")));
  assert_false(bink_utf8_is_blank(LIT("\xEF\xBB\xBF")));
  assert_false(bink_utf8_is_blank(LIT("\xE1\xA0\x8E")));
  assert_false(bink_utf8_is_blank(LIT("\xE4\xBD\xA0")));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid_ascii_and_multibyte),
    cmocka_unit_test(test_overlong_rejected),
    cmocka_unit_test(test_surrogates_rejected),
    cmocka_unit_test(test_above_max_rejected),
    cmocka_unit_test(test_truncated_and_stray),
    cmocka_unit_test(test_nul_rejected),
    cmocka_unit_test(test_count),
    cmocka_unit_test(test_count_4096_emoji),
    cmocka_unit_test(test_blank),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
