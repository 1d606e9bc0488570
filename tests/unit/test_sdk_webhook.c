/* libbink: Standard Webhooks verification (bink_webhook_verify/_signature). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bink.h"
#include "internal.h"

/* The published Standard Webhooks example, checked against Python's hmac. */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS "1614265330"
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define SW_NOW 1614265330

/* A plain (non-whsec) secret, also checked against Python. */
#define RAW_SECRET "0123456789abcdefXYZ"
#define RAW_SIG "v1,MP8ASBghiLdhA9m4KBrhFfOAyEGQbnPJnrRmAhgOU1I="

static bink_status verify(const char *secret, const char *id, const char *ts, const char *sig,
                          const char *body, int64_t now) {
  return bink_webhook_verify(secret, id, ts, sig, body, body ? strlen(body) : 0, now);
}

static void known_vectors(void **state) {
  (void)state;
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW), BINK_OK);
  assert_int_equal(verify(RAW_SECRET, "evt_1", "1700000000", RAW_SIG, "{}", 1700000000),
                   BINK_OK);
  char out[64];
  assert_int_equal(bink_webhook_signature(SW_SECRET, SW_ID, SW_NOW, SW_BODY, strlen(SW_BODY),
                                          out, sizeof out),
                   BINK_OK);
  assert_string_equal(out, SW_SIG);
  assert_int_equal(bink_webhook_signature(RAW_SECRET, "evt_1", 1700000000, "{}", 2, out,
                                          sizeof out),
                   BINK_OK);
  assert_string_equal(out, RAW_SIG);
}

static void wrong_signature(void **state) {
  (void)state;
  char bad[] = SW_SIG;
  bad[5] = bad[5] == 'A' ? 'B' : 'A';
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, bad, SW_BODY, SW_NOW), BINK_E_SIGNATURE);
  /* another body, another id, another secret */
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, "{\"test\": 2432232315}", SW_NOW),
                   BINK_E_SIGNATURE);
  assert_int_equal(verify(SW_SECRET, "msg_other", SW_TS, SW_SIG, SW_BODY, SW_NOW),
                   BINK_E_SIGNATURE);
  assert_int_equal(verify(RAW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW), BINK_E_SIGNATURE);
  /* a truncated signature, an unknown version, garbage */
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, "v1,g0hM9SsE", SW_BODY, SW_NOW),
                   BINK_E_SIGNATURE);
  assert_int_equal(
      verify(SW_SECRET, SW_ID, SW_TS, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_BODY,
             SW_NOW),
      BINK_E_SIGNATURE);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, ",,, v1 v1,", SW_BODY, SW_NOW),
                   BINK_E_SIGNATURE);
}

static void several_signatures(void **state) {
  (void)state;
  const char *list = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " SW_SIG " v1a,whatever";
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, list, SW_BODY, SW_NOW), BINK_OK);
}

static void timestamps(void **state) {
  (void)state;
  /* 5 minutes either way is fine, a second more is not */
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW + 300), BINK_OK);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW - 300), BINK_OK);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW + 301),
                   BINK_E_TIMESTAMP);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW - 301),
                   BINK_E_TIMESTAMP);
  /* now = 0 is the clock: a 2021 timestamp is stale */
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, SW_SIG, SW_BODY, 0), BINK_E_TIMESTAMP);
}

static void missing_or_malformed_headers(void **state) {
  (void)state;
  assert_int_equal(verify(SW_SECRET, NULL, SW_TS, SW_SIG, SW_BODY, SW_NOW), BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, "", SW_TS, SW_SIG, SW_BODY, SW_NOW), BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, NULL, SW_SIG, SW_BODY, SW_NOW), BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, NULL, SW_BODY, SW_NOW), BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, SW_TS, "", SW_BODY, SW_NOW), BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, "-1614265330", SW_SIG, SW_BODY, SW_NOW),
                   BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, "1614265330x", SW_SIG, SW_BODY, SW_NOW),
                   BINK_E_HEADER);
  assert_int_equal(verify(SW_SECRET, SW_ID, "99999999999999999999999", SW_SIG, SW_BODY, SW_NOW),
                   BINK_E_HEADER);
}

static void secrets(void **state) {
  (void)state;
  unsigned char key[256];
  size_t n = 0;
  assert_int_equal(bink__webhook_key(NULL, key, &n), BINK_E_SECRET);
  assert_int_equal(bink__webhook_key("short", key, &n), BINK_E_SECRET);
  assert_int_equal(bink__webhook_key("0123456789abcde", key, &n), BINK_E_SECRET); /* 15 */
  assert_int_equal(bink__webhook_key("0123456789abcdef", key, &n), BINK_OK);
  assert_int_equal(n, 16);
  /* printable ASCII includes the space (events.md "Signing key") */
  assert_int_equal(bink__webhook_key("0123456789 bcdef", key, &n), BINK_OK);
  assert_int_equal(bink__webhook_key("0123456789\tbcdef", key, &n), BINK_E_SECRET);
  char long_secret[258];
  memset(long_secret, 'a', 257);
  long_secret[257] = '\0';
  assert_int_equal(bink__webhook_key(long_secret, key, &n), BINK_E_SECRET);
  long_secret[256] = '\0';
  assert_int_equal(bink__webhook_key(long_secret, key, &n), BINK_OK);
  assert_int_equal(n, 256);
  /* whsec_: 24 bytes decoded */
  assert_int_equal(bink__webhook_key(SW_SECRET, key, &n), BINK_OK);
  assert_int_equal(n, 24);
  /* whsec_ with 16 bytes (too short), bad base64, bad padding */
  assert_int_equal(bink__webhook_key("whsec_MDEyMzQ1Njc4OWFiY2RlZg==", key, &n), BINK_E_SECRET);
  assert_int_equal(bink__webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa!w", key, &n),
                   BINK_E_SECRET);
  assert_int_equal(bink__webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La=aSw", key, &n),
                   BINK_E_SECRET);
  /* 64 bytes is the most */
  const char *b64_64 = "whsec_"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAA==";
  assert_int_equal(bink__webhook_key(b64_64, key, &n), BINK_OK);
  assert_int_equal(n, 64);
  const char *b64_66 = "whsec_"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                       "AAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  assert_int_equal(bink__webhook_key(b64_66, key, &n), BINK_E_SECRET);
  /* the public functions report an unusable secret */
  assert_int_equal(verify("short", SW_ID, SW_TS, SW_SIG, SW_BODY, SW_NOW), BINK_E_SECRET);
  char out[64];
  assert_int_equal(bink_webhook_signature("short", "x", 1, "", 0, out, sizeof out),
                   BINK_E_SECRET);
  assert_int_equal(bink_webhook_signature(RAW_SECRET, "x", 1, "", 0, out, 10), BINK_E_INVALID);
}

static void empty_body(void **state) {
  (void)state;
  char sig[64];
  assert_int_equal(bink_webhook_signature(RAW_SECRET, "evt_x", 1700000000, NULL, 0, sig,
                                          sizeof sig),
                   BINK_OK);
  assert_int_equal(bink_webhook_verify(RAW_SECRET, "evt_x", "1700000000", sig, NULL, 0,
                                       1700000000),
                   BINK_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(known_vectors),   cmocka_unit_test(wrong_signature),
      cmocka_unit_test(several_signatures), cmocka_unit_test(timestamps),
      cmocka_unit_test(missing_or_malformed_headers), cmocka_unit_test(secrets),
      cmocka_unit_test(empty_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
