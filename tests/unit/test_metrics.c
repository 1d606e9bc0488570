/*
 * test_metrics.c: the /metrics counters and their text (metrics.h): bucket
 * edges, statuses outside the named set, endpoints out of range, gauges left
 * out, and concurrent counting losing nothing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(void) {
  metrics_gauges g = {.write_queue = 3,
                      .outbox_pending = -1,
                      .deliveries_running = 0,
                      .waits_parked = 2,
                      .database_up = 1};
  size_t len = 0;
  char *text = metrics_render(&g, &len);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  return text;
}

/* The value of the sample whose line starts with `series` (then a space). */
static double value_of(const char *text, const char *series) {
  size_t n = strlen(series);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
    if (strncmp(p, series, n) == 0 && p[n] == ' ')
      return strtod(p + n + 1, NULL);
  return -1;
}

static void test_requests_codes_and_buckets(void **state) {
  (void)state;
  metrics_endpoint_name(0, "/t/a");
  metrics_request(0, 200, 0.0005); /* on the first bound: in it */
  metrics_request(0, 200, 0.00051);
  metrics_request(0, 404, 120);     /* beyond every bound: +Inf only */
  metrics_request(0, 418, 0.001);   /* not a named status */
  metrics_request(99999, 500, 0.2); /* out of range: unmatched */
  metrics_request(METRICS_NO_ENDPOINT, 404, -1);
  char *t = render();
  assert_true(value_of(t, "bink_http_requests_total{endpoint=\"/t/a\","
                          "code=\"200\"}") == 2);
  assert_true(value_of(t, "bink_http_requests_total{endpoint=\"/t/a\","
                          "code=\"other\"}") == 1);
  assert_true(value_of(t, "bink_http_requests_total{endpoint=\"unmatched\","
                          "code=\"500\"}") == 1);
  assert_true(value_of(t, "bink_http_requests_total{endpoint=\"unmatched\","
                          "code=\"404\"}") == 1);
  const char *b =
      "bink_http_request_duration_seconds_bucket{endpoint=\"/t/a\",";
  char series[160];
  snprintf(series, sizeof series, "%sle=\"0.0005\"}", b);
  assert_true(value_of(t, series) == 1);
  snprintf(series, sizeof series, "%sle=\"0.001\"}", b);
  assert_true(value_of(t, series) == 3);
  snprintf(series, sizeof series, "%sle=\"60\"}", b);
  assert_true(value_of(t, series) == 3);
  snprintf(series, sizeof series, "%sle=\"+Inf\"}", b);
  assert_true(value_of(t, series) == 4);
  assert_true(value_of(t, "bink_http_request_duration_seconds_count{"
                          "endpoint=\"/t/a\"}") == 4);
  double sum = value_of(t, "bink_http_request_duration_seconds_sum{"
                           "endpoint=\"/t/a\"}");
  assert_true(sum > 120.001 && sum < 120.003);
  /* endpoints never named nor used print nothing */
  assert_null(strstr(t, "endpoint=\"(null)\""));
  free(t);
}

static void test_gauges_and_counters(void **state) {
  (void)state;
  metrics_events_produced(5);
  metrics_delivery_outcome(METRICS_TIMEOUT);
  metrics_delivery_outcome(METRICS_DELIVERY_OUTCOMES); /* ignored */
  metrics_streams_add(1);
  metrics_streams_add(1);
  metrics_streams_add(-1);
  char *t = render();
  assert_true(value_of(t, "bink_events_produced_total") == 5);
  assert_true(
      value_of(t, "bink_webhook_deliveries_total{outcome=\"timeout\"}") == 1);
  assert_true(
      value_of(t, "bink_webhook_deliveries_total{outcome=\"delivered\"}") == 0);
  assert_true(value_of(t, "bink_open_waits{kind=\"sse\"}") == 1);
  assert_true(value_of(t, "bink_open_waits{kind=\"long_poll\"}") == 2);
  assert_true(value_of(t, "bink_store_write_queue_jobs") == 3);
  assert_true(value_of(t, "bink_database_up") == 1);
  /* -1: left out, HELP and TYPE included */
  assert_null(strstr(t, "bink_outbox_pending_events"));
  metrics_streams_add(-1);
  free(t);
}

static void *count_many(void *arg) {
  (void)arg;
  for (int i = 0; i < 100000; i++)
    metrics_request(1, 200, 0.002);
  return NULL;
}

static void test_concurrent_counting_loses_nothing(void **state) {
  (void)state;
  metrics_endpoint_name(1, "/t/b");
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, count_many, NULL), 0);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  char *t = render();
  assert_true(value_of(t, "bink_http_requests_total{endpoint=\"/t/b\","
                          "code=\"200\"}") == 400000);
  assert_true(value_of(t, "bink_http_request_duration_seconds_count{"
                          "endpoint=\"/t/b\"}") == 400000);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_requests_codes_and_buckets),
      cmocka_unit_test(test_gauges_and_counters),
      cmocka_unit_test(test_concurrent_counting_loses_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
