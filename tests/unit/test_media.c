/*
 * test_media.c: the pure rules of files (src/core/media.c): MIME types that
 * fit message types, the canonical spelling of libmagic's aliases, RFC 5987
 * ext-value decoding, Content-Disposition parsing (RFC 6266 / RFC 7578),
 * upload file names, download dispositions, sticker emoji from file names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/media.h"

#define LIT(s) (s), (sizeof(s) - 1)

static void test_type_fits(void **state) {
  (void)state;
  const char *image[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};
  const char *video[] = {"video/mp4", "video/quicktime", "video/webm"};
  const char *audio[] = {"audio/mpeg", "audio/wav", "audio/mp4", "audio/ogg",
                         "application/ogg", "audio/flac"};
  for (size_t i = 0; i < 4; i++) {
    assert_true(media_type_fits(BINK_MSG_IMAGE, image[i]));
    assert_false(media_type_fits(BINK_MSG_VIDEO, image[i]));
    assert_false(media_type_fits(BINK_MSG_AUDIO, image[i]));
    assert_true(media_type_fits(BINK_MSG_FILE, image[i]));
  }
  for (size_t i = 0; i < 3; i++) {
    assert_true(media_type_fits(BINK_MSG_VIDEO, video[i]));
    assert_false(media_type_fits(BINK_MSG_IMAGE, video[i]));
    assert_false(media_type_fits(BINK_MSG_AUDIO, video[i]));
  }
  for (size_t i = 0; i < 6; i++) {
    assert_true(media_type_fits(BINK_MSG_AUDIO, audio[i]));
    assert_false(media_type_fits(BINK_MSG_VIDEO, audio[i]));
  }
  assert_false(media_type_fits(BINK_MSG_IMAGE, "image/svg+xml"));
  assert_false(media_type_fits(BINK_MSG_IMAGE, "text/plain"));
  assert_false(media_type_fits(BINK_MSG_IMAGE, "image/PNG")); /* canonical only */
  assert_true(media_type_fits(BINK_MSG_FILE, "application/x-executable"));
  assert_false(media_type_fits(BINK_MSG_FILE, ""));
  assert_false(media_type_fits(BINK_MSG_TEXT, "text/plain"));
  assert_false(media_type_fits(BINK_MSG_STICKER, "image/png"));
  assert_false(media_type_fits(BINK_MSG_CONTACT, "image/png"));
  assert_string_equal(media_type_accepts(BINK_MSG_VIDEO),
                      "video/mp4, video/quicktime, video/webm");
  assert_string_equal(media_type_accepts(BINK_MSG_TEXT), "");
  assert_true(media_sticker_type_ok("image/webp"));
  assert_false(media_sticker_type_ok("image/jpeg"));
  assert_true(media_inline_ok("video/webm"));
  assert_false(media_inline_ok("text/html"));
  assert_false(media_inline_ok("image/svg+xml"));
}

static void test_mime_canon(void **state) {
  (void)state;
  char out[MEDIA_MIME_MAX];
  assert_string_equal(media_mime_canon(LIT("audio/x-wav"), out, sizeof out),
                      "audio/wav");
  assert_string_equal(media_mime_canon(LIT("audio/x-m4a"), out, sizeof out),
                      "audio/mp4");
  assert_string_equal(media_mime_canon(LIT("audio/x-flac"), out, sizeof out),
                      "audio/flac");
  assert_string_equal(
      media_mime_canon(LIT(" Image/PNG; charset=binary"), out, sizeof out),
      "image/png");
  assert_string_equal(media_mime_canon(LIT("text/plain"), out, sizeof out),
                      "text/plain");
  assert_string_equal(media_mime_canon(LIT(""), out, sizeof out),
                      "application/octet-stream");
  assert_string_equal(media_mime_canon(LIT("garbage"), out, sizeof out),
                      "application/octet-stream");
  assert_string_equal(media_mime_canon(LIT("a/\x01"), out, sizeof out),
                      "application/octet-stream");
}

static void test_ext_value(void **state) {
  (void)state;
  char out[64];
  size_t n;
  assert_true(media_ext_value_decode(LIT("UTF-8''%E6%8B%9B%E8%81%98.pdf"), out,
                                     sizeof out, &n));
  assert_string_equal(out, "\xE6\x8B\x9B\xE8\x81\x98.pdf"); /* 招聘.pdf */
  assert_int_equal(n, 10);
  assert_true(media_ext_value_decode(LIT("utf-8'en'a%20b"), out, sizeof out, &n));
  assert_string_equal(out, "a b");
  /* RFC 5987 section 3.2.2 example: ISO-8859-1 converted to UTF-8 */
  assert_true(media_ext_value_decode(LIT("iso-8859-1'en'%A3%20rates"), out,
                                     sizeof out, &n));
  assert_string_equal(out, "\xC2\xA3 rates");
  assert_false(media_ext_value_decode(LIT("UTF-8''%E6%8B"), out, sizeof out, &n));
  assert_string_equal(out, ""); /* cut UTF-8 */
  assert_false(media_ext_value_decode(LIT("UTF-8''%zz"), out, sizeof out, &n));
  assert_false(media_ext_value_decode(LIT("UTF-8''%4"), out, sizeof out, &n));
  assert_false(media_ext_value_decode(LIT("UTF-8''a b"), out, sizeof out, &n));
  assert_false(media_ext_value_decode(LIT("KOI8-R''abc"), out, sizeof out, &n));
  assert_false(media_ext_value_decode(LIT("abc"), out, sizeof out, &n));
  assert_false(media_ext_value_decode(LIT("UTF-8''%00"), out, sizeof out, &n));
  char tiny[4];
  assert_false(media_ext_value_decode(LIT("UTF-8''abcd"), tiny, sizeof tiny, &n));
}

static void test_disposition_parse(void **state) {
  (void)state;
  media_disposition d;
  assert_true(media_disposition_parse(
      LIT("form-data; name=\"file\"; filename=\"a.png\""), &d));
  assert_true(d.has_name && d.has_filename && !d.from_ext);
  assert_string_equal(d.name, "file");
  assert_string_equal(d.filename, "a.png");
  /* filename* wins, wherever it stands; names are case-insensitive */
  assert_true(media_disposition_parse(
      LIT("form-data; FILENAME*=UTF-8''%E6%8B%9B.pdf; Name=file; "
          "filename=\"x.pdf\""),
      &d));
  assert_true(d.from_ext);
  assert_string_equal(d.filename, "\xE6\x8B\x9B.pdf");
  assert_string_equal(d.name, "file");
  /* a bad filename* falls back to filename */
  assert_true(media_disposition_parse(
      LIT("form-data; name=file; filename*=UTF-8''%FF; filename=\"ok.txt\""),
      &d));
  assert_false(d.from_ext);
  assert_string_equal(d.filename, "ok.txt");
  /* escapes: only \" and \\; a Windows path survives */
  assert_true(media_disposition_parse(
      LIT("form-data; name=\"file\"; filename=\"C:\\dir\\say \\\"hi\\\".txt\""),
      &d));
  assert_string_equal(d.filename, "C:\\dir\\say \"hi\".txt");
  /* raw UTF-8 in filename is accepted, invalid UTF-8 is not */
  assert_true(media_disposition_parse(
      LIT("form-data; name=\"file\"; filename=\"\xE7\xAE\x80.pdf\""), &d));
  assert_string_equal(d.filename, "\xE7\xAE\x80.pdf");
  assert_true(media_disposition_parse(
      LIT("form-data; name=\"file\"; filename=\"\xFF.pdf\""), &d));
  assert_false(d.has_filename);
  /* no name, no filename */
  assert_true(media_disposition_parse(LIT("attachment"), &d));
  assert_false(d.has_name || d.has_filename);
  /* malformed */
  assert_false(media_disposition_parse(LIT(""), &d));
  assert_false(media_disposition_parse(LIT("form-data; name=\"file"), &d));
  assert_false(media_disposition_parse(LIT("form-data; =x"), &d));
  /* RFC 7578 / RFC 2183: tokens as values, names in any case */
  assert_true(media_disposition_parse(
      LIT("form-data; name=file; filename=unq.txt"), &d));
  assert_true(d.has_name && d.has_filename);
  assert_string_equal(d.name, "file");
  assert_string_equal(d.filename, "unq.txt");
  assert_true(media_disposition_parse(
      LIT("FORM-DATA; NAME=\"file\"; FILENAME=\"upper.txt\""), &d));
  assert_string_equal(d.name, "file");
  assert_string_equal(d.filename, "upper.txt");
  /* a filename of 5000 bytes is kept whole (media_filename_clean cuts) */
  static char big[5100];
  static const char head[] = "form-data; name=\"file\"; filename=\"";
  size_t bn = sizeof head - 1;
  memcpy(big, head, bn);
  memset(big + bn, 'n', 5000);
  bn += 5000;
  memcpy(big + bn, ".txt\"", 5);
  bn += 5;
  assert_true(media_disposition_parse(big, bn, &d));
  assert_true(d.has_filename);
  assert_int_equal(d.filename_len, 5004);
  char cut[MEDIA_NAME_MAX + 1];
  assert_int_equal(media_filename_clean(d.filename, d.filename_len, cut),
                   MEDIA_NAME_MAX);
  assert_string_equal(cut + MEDIA_NAME_MAX - 4, ".txt");
}

static void test_filename_clean(void **state) {
  (void)state;
  char out[MEDIA_NAME_MAX + 1];
  assert_int_equal(media_filename_clean(LIT("../../etc/passwd"), out), 6);
  assert_string_equal(out, "passwd");
  media_filename_clean(LIT("C:\\Users\\me\\cv.pdf"), out);
  assert_string_equal(out, "cv.pdf");
  media_filename_clean(LIT("dir/"), out);
  assert_string_equal(out, "file");
  media_filename_clean(LIT(".."), out);
  assert_string_equal(out, "file");
  media_filename_clean(LIT("."), out);
  assert_string_equal(out, "file");
  media_filename_clean(LIT(""), out);
  assert_string_equal(out, "file");
  media_filename_clean(LIT("bad\xFFname"), out);
  assert_string_equal(out, "file");
  media_filename_clean(LIT("tab\there\x7f.txt"), out);
  assert_string_equal(out, "tab_here_.txt");
  media_filename_clean(LIT("  spaced.txt "), out);
  assert_string_equal(out, "spaced.txt");
  media_filename_clean(LIT(".bashrc"), out);
  assert_string_equal(out, ".bashrc");
  /* 100 x U+540D (3 bytes) + ".pdf": cut at a code point, extension kept */
  char longname[400];
  size_t n = 0;
  for (int i = 0; i < 100; i++) {
    memcpy(longname + n, "\xE5\x90\x8D", 3);
    n += 3;
  }
  memcpy(longname + n, ".pdf", 4);
  n += 4;
  size_t got = media_filename_clean(longname, n, out);
  assert_true(got <= MEDIA_NAME_MAX);
  assert_int_equal(got, 83 * 3 + 4); /* 251 bytes of stem hold 83 */
  assert_true(bink_utf8_valid(out, got));
  assert_string_equal(out + got - 4, ".pdf");
  /* no dot: plain cut */
  char as[300];
  memset(as, 'a', sizeof as);
  assert_int_equal(media_filename_clean(as, sizeof as, out), MEDIA_NAME_MAX);
  /* bidirectional controls cannot disguise the extension: U+202E RLO,
   * U+2066..U+2069 isolates, U+200E/F marks, U+061C; C1 controls too */
  media_filename_clean(LIT("invoice\xE2\x80\xAEgpj.exe"), out);
  assert_string_equal(out, "invoice_gpj.exe");
  media_filename_clean(LIT("a\xE2\x80\xAA\xE2\x80\xAB\xE2\x80\xAC\xE2\x80\xAD"
                           "b\xE2\x81\xA6\xE2\x81\xA7\xE2\x81\xA8\xE2\x81\xA9.txt"),
                       out);
  assert_string_equal(out, "a____b____.txt");
  media_filename_clean(LIT("\xE2\x80\x8Ex\xE2\x80\x8F\xD8\x9Cy\xC2\x85.pdf"), out);
  assert_string_equal(out, "_x__y_.pdf");
  /* in the kept extension of a cut name as well */
  char spoof[300];
  memset(spoof, 'a', 280);
  memcpy(spoof + 280, ".\xE2\x80\xAEgpj", 7);
  size_t sl = media_filename_clean(spoof, 287, out);
  assert_string_equal(out + sl - 5, "._gpj");
  /* other non-ASCII text is kept */
  media_filename_clean(LIT("\xE2\x80\x94" "dash\xE2\x81\xB0.txt"), out);
  assert_string_equal(out, "\xE2\x80\x94" "dash\xE2\x81\xB0.txt");
}

static void test_content_disposition(void **state) {
  (void)state;
  char out[1024];
  assert_true(media_content_disposition("a.png", true, out, sizeof out));
  assert_string_equal(out, "inline; filename=\"a.png\"");
  assert_true(media_content_disposition("\xE6\x8B\x9B\xE8\x81\x98.pdf", false,
                                        out, sizeof out));
  assert_string_equal(out, "attachment; filename=\"__.pdf\"; "
                           "filename*=UTF-8''%E6%8B%9B%E8%81%98.pdf");
  /* the fallback differs from the name: filename* keeps the real one */
  assert_true(media_content_disposition("say \"hi\" 100%.txt", false, out,
                                        sizeof out));
  assert_string_equal(out, "attachment; filename=\"say _hi_ 100_.txt\"; "
                           "filename*=UTF-8''say%20%22hi%22%20100%25.txt");
  assert_true(media_content_disposition("a\\b.txt", false, out, sizeof out));
  assert_string_equal(out, "attachment; filename=\"a_b.txt\"; "
                           "filename*=UTF-8''a%5Cb.txt");
  /* plain ASCII without those: no filename* */
  assert_true(media_content_disposition("a b (1).txt", false, out,
                                        sizeof out));
  assert_string_equal(out, "attachment; filename=\"a b (1).txt\"");
  /* a stored name with a bidi override (made before names were cleaned) */
  assert_true(media_content_disposition("x\xE2\x80\xAEgpj.exe", false, out,
                                        sizeof out));
  assert_string_equal(out, "attachment; filename=\"x_gpj.exe\"; "
                           "filename*=UTF-8''x_gpj.exe");
  assert_true(media_content_disposition("r\xC3\xA9sum\xC3\xA9 (1).pdf", false,
                                        out, sizeof out));
  assert_string_equal(out, "attachment; filename=\"r_sum_ (1).pdf\"; "
                           "filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29.pdf");
  char small[16];
  assert_false(media_content_disposition("long-name.txt", false, small,
                                         sizeof small));
}

static void test_hex_set_emoji(void **state) {
  (void)state;
  unsigned char d[BINK_SHA256_LEN];
  for (int i = 0; i < BINK_SHA256_LEN; i++)
    d[i] = (unsigned char)(i * 8 + 1);
  char hex[MEDIA_SHA256_HEX];
  media_hex(d, hex);
  assert_int_equal(strlen(hex), 64);
  assert_memory_equal(hex, "01091119", 8);
  assert_true(media_set_name_valid(LIT("party_2024")));
  assert_false(media_set_name_valid(LIT("")));
  assert_false(media_set_name_valid(LIT("no way")));
  assert_false(media_set_name_valid(LIT("ü")));
  char e[MEDIA_EMOJI_MAX];
  assert_true(media_emoji_from_name(LIT("\xF0\x9F\x98\x80.png"), e));
  assert_string_equal(e, "\xF0\x9F\x98\x80");
  assert_true(media_emoji_from_name(LIT("wave_\xF0\x9F\x91\x8B.webp"), e));
  assert_string_equal(e, "\xF0\x9F\x91\x8B");
  assert_true(media_emoji_from_name(LIT("a-b-\xE2\x9D\xA4.gif"), e));
  assert_string_equal(e, "\xE2\x9D\xA4");
  assert_false(media_emoji_from_name(LIT("smile.png"), e));
  assert_string_equal(e, "");
  assert_false(media_emoji_from_name(LIT("smile_x.png"), e));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_fits),
      cmocka_unit_test(test_mime_canon),
      cmocka_unit_test(test_ext_value),
      cmocka_unit_test(test_disposition_parse),
      cmocka_unit_test(test_filename_clean),
      cmocka_unit_test(test_content_disposition),
      cmocka_unit_test(test_hex_set_emoji),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
