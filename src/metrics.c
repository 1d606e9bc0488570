/* metrics.c: the counters behind GET /metrics (metrics.h). */
#include "metrics.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The statuses counted one by one; any other is counted as "other". */
static const int metrics__codes[] = {200, 206, 301, 302, 304, 400, 401,
                                     403, 404, 405, 406, 408, 409, 410,
                                     411, 413, 414, 415, 416, 422, 429,
                                     431, 499, 500, 501, 502, 503, 505};
#define METRICS__NCODES (sizeof metrics__codes / sizeof metrics__codes[0])

/* Latency histogram bounds, in seconds: from a cached getme (well below a
 * millisecond) to a long poll's whole wait (getupdates up to 50 s). */
static const double metrics__bounds[] = {0.0005, 0.001, 0.0025, 0.005,
                                         0.01,   0.025, 0.05,   0.1,
                                         0.25,   0.5,   1,      2.5,
                                         5,      10,    30,     60};
#define METRICS__NBOUNDS (sizeof metrics__bounds / sizeof metrics__bounds[0])

/* One endpoint's counters; slot METRICS_ENDPOINTS_MAX is "unmatched". */
typedef struct metrics__endpoint {
  const char *_Atomic name;
  _Atomic uint64_t by_code[METRICS__NCODES + 1]; /* last: other */
  _Atomic uint64_t buckets[METRICS__NBOUNDS + 1]; /* not cumulative; last:
                                                      beyond every bound */
  _Atomic uint64_t sum_us;
} metrics__endpoint;

static metrics__endpoint metrics__endpoints[METRICS_ENDPOINTS_MAX + 1];
static _Atomic uint64_t metrics__events;
static _Atomic uint64_t metrics__deliveries[METRICS_DELIVERY_OUTCOMES];
static _Atomic int64_t metrics__streams;
static _Atomic int64_t metrics__started; /* unix seconds */

static const char *const metrics__outcome_names[METRICS_DELIVERY_OUTCOMES] =
    {"delivered", "http_error", "timeout", "network_error", "blocked"};

#define METRICS__ADD(counter, n)                                              \
  atomic_fetch_add_explicit(&(counter), (n), memory_order_relaxed)
#define METRICS__GET(counter)                                                 \
  atomic_load_explicit(&(counter), memory_order_relaxed)

void metrics_init(void) {
  atomic_store(&metrics__started, (int64_t)time(NULL));
}

void metrics_endpoint_name(int i, const char *path) {
  if (i < 0 || i >= METRICS_ENDPOINTS_MAX)
    return;
  /* The text format quotes label values; route paths need no escaping. */
  assert(!strpbrk(path, "\"\\\n"));
  atomic_store(&metrics__endpoints[i].name, path);
}

static size_t metrics__code_slot(int status) {
  for (size_t i = 0; i < METRICS__NCODES; i++)
    if (metrics__codes[i] == status)
      return i;
  return METRICS__NCODES;
}

void metrics_request(int endpoint, int status, double seconds) {
  if (endpoint < 0 || endpoint >= METRICS_ENDPOINTS_MAX)
    endpoint = METRICS_ENDPOINTS_MAX;
  metrics__endpoint *e = &metrics__endpoints[endpoint];
  if (!(seconds >= 0)) /* also NaN */
    seconds = 0;
  size_t b = 0;
  while (b < METRICS__NBOUNDS && seconds > metrics__bounds[b])
    b++;
  METRICS__ADD(e->by_code[metrics__code_slot(status)], 1);
  METRICS__ADD(e->buckets[b], 1);
  METRICS__ADD(e->sum_us, (uint64_t)(seconds * 1e6 + 0.5));
}

void metrics_events_produced(uint64_t n) { METRICS__ADD(metrics__events, n); }

void metrics_delivery_outcome(metrics_delivery outcome) {
  if ((unsigned)outcome < METRICS_DELIVERY_OUTCOMES)
    METRICS__ADD(metrics__deliveries[outcome], 1);
}

void metrics_streams_add(int delta) {
  METRICS__ADD(metrics__streams, (int64_t)delta);
}

/* ---------------------------------------------------------------------- */

static const char *metrics__endpoint_label(size_t i) {
  if (i == METRICS_ENDPOINTS_MAX)
    return "unmatched";
  return atomic_load(&metrics__endpoints[i].name);
}

/* A sample's value in the text format ("+Inf" for the last bucket). */
static void metrics__le(FILE *f, size_t b) {
  if (b == METRICS__NBOUNDS)
    fputs("+Inf", f);
  else
    fprintf(f, "%g", metrics__bounds[b]);
}

/* One endpoint's request counts, by status code. */
static void metrics__codes_of(FILE *f, const char *name,
                              metrics__endpoint *e) {
  for (size_t c = 0; c <= METRICS__NCODES; c++) {
    uint64_t n = METRICS__GET(e->by_code[c]);
    if (!n)
      continue;
    if (c == METRICS__NCODES)
      fprintf(f,
              "bink_http_requests_total{endpoint=\"%s\",code=\"other\"} "
              "%llu\n",
              name, (unsigned long long)n);
    else
      fprintf(f,
              "bink_http_requests_total{endpoint=\"%s\",code=\"%d\"} "
              "%llu\n",
              name, metrics__codes[c], (unsigned long long)n);
  }
}

/* One endpoint's latency histogram (cumulative buckets, sum, count). */
static void metrics__histogram_of(FILE *f, const char *name,
                                  metrics__endpoint *e) {
  uint64_t counts[METRICS__NBOUNDS + 1], total = 0;
  for (size_t b = 0; b <= METRICS__NBOUNDS; b++)
    total += counts[b] = METRICS__GET(e->buckets[b]);
  if (!total)
    return;
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= METRICS__NBOUNDS; b++) {
    cumulative += counts[b];
    fprintf(f, "bink_http_request_duration_seconds_bucket{endpoint=\"%s\","
               "le=\"",
            name);
    metrics__le(f, b);
    fprintf(f, "\"} %llu\n", (unsigned long long)cumulative);
  }
  uint64_t us = METRICS__GET(e->sum_us);
  fprintf(f,
          "bink_http_request_duration_seconds_sum{endpoint=\"%s\"} "
          "%llu.%06llu\n"
          "bink_http_request_duration_seconds_count{endpoint=\"%s\"} "
          "%llu\n",
          name, (unsigned long long)(us / 1000000),
          (unsigned long long)(us % 1000000), name, (unsigned long long)total);
}

/* fn for every endpoint that has a label (named, or "unmatched"). */
static void metrics__each_endpoint(FILE *f,
                                   void (*fn)(FILE *, const char *,
                                              metrics__endpoint *)) {
  for (size_t i = 0; i <= METRICS_ENDPOINTS_MAX; i++) {
    const char *name = metrics__endpoint_label(i);
    if (name)
      fn(f, name, &metrics__endpoints[i]);
  }
}

static void metrics__requests(FILE *f) {
  fputs("# HELP bink_http_requests_total HTTP requests answered, by endpoint "
        "and status code.\n"
        "# TYPE bink_http_requests_total counter\n",
        f);
  metrics__each_endpoint(f, metrics__codes_of);
  fputs("# HELP bink_http_request_duration_seconds Time from a request's "
        "first byte to its reply's last, by endpoint (long polls and event "
        "streams included).\n"
        "# TYPE bink_http_request_duration_seconds histogram\n",
        f);
  metrics__each_endpoint(f, metrics__histogram_of);
}

static void metrics__gauge(FILE *f, const char *name, const char *help,
                           int64_t v) {
  if (v < 0)
    return;
  fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name,
          name, (long long)v);
}

/* This process's resident set (Linux: /proc/self/statm), -1 if unknown. */
static int64_t metrics__rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f)
    return -1;
  long long size = 0, resident = -1;
  if (fscanf(f, "%lld %lld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return resident < 0 || page <= 0 ? -1 : (int64_t)resident * page;
}

char *metrics_render(const metrics_gauges *g, size_t *len) {
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  if (!f)
    return NULL;
  fprintf(f,
          "# HELP bink_build_info The running binkd's version.\n"
          "# TYPE bink_build_info gauge\n"
          "bink_build_info{version=\"%s\"} 1\n",
          BINK_VERSION);
  metrics__requests(f);
  fprintf(f,
          "# HELP bink_events_produced_total Bot events committed to the "
          "outbox by this node.\n"
          "# TYPE bink_events_produced_total counter\n"
          "bink_events_produced_total %llu\n",
          (unsigned long long)METRICS__GET(metrics__events));
  fputs("# HELP bink_webhook_deliveries_total Webhook delivery attempts, by "
        "outcome.\n"
        "# TYPE bink_webhook_deliveries_total counter\n",
        f);
  for (size_t i = 0; i < METRICS_DELIVERY_OUTCOMES; i++)
    fprintf(f, "bink_webhook_deliveries_total{outcome=\"%s\"} %llu\n",
            metrics__outcome_names[i],
            (unsigned long long)METRICS__GET(metrics__deliveries[i]));
  metrics__gauge(f, "bink_webhook_deliveries_running",
                 "Webhook requests under way.", g->deliveries_running);
  metrics__gauge(f, "bink_outbox_pending_events",
                 "Events not yet delivered to a webhook nor confirmed by "
                 "getupdates, of every node (counted every 5 s).",
                 g->outbox_pending);
  metrics__gauge(f, "bink_store_write_queue_jobs",
                 "Write jobs queued for this node's database writers.",
                 g->write_queue);
  fputs("# HELP bink_open_waits Requests waiting for something to happen: "
        "event streams (GET /app/events) and parked long polls (getupdates, "
        "getevents, clickbutton).\n"
        "# TYPE bink_open_waits gauge\n",
        f);
  int64_t streams = METRICS__GET(metrics__streams);
  fprintf(f, "bink_open_waits{kind=\"sse\"} %lld\n",
          (long long)(streams < 0 ? 0 : streams));
  if (g->waits_parked >= 0)
    fprintf(f, "bink_open_waits{kind=\"long_poll\"} %lld\n",
            (long long)g->waits_parked);
  metrics__gauge(f, "bink_database_up",
                 "1 when the database answered this scrape, else 0.",
                 g->database_up);
  metrics__gauge(f, "process_resident_memory_bytes",
                 "Resident memory size in bytes.", metrics__rss_bytes());
  metrics__gauge(f, "process_start_time_seconds",
                 "Start time of the process since the Unix epoch in seconds.",
                 METRICS__GET(metrics__started));
  bool failed = ferror(f) != 0;
  if (fclose(f) != 0 || failed) {
    free(text);
    return NULL;
  }
  *len = n;
  return text;
}
