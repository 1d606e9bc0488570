/*
 * metrics.h: binkd's counters for GET /metrics (server.md "Operations"),
 * rendered in Prometheus's text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Counting is lock-free (relaxed atomics, a few per request) and may be
 * called from any thread. The figures are this process's since it started:
 * each node of several counts its own, and Prometheus adds them up.
 *
 * Gauges that live elsewhere (queued write jobs, pending events, parked
 * requests) are read by the caller when rendering and handed over in a
 * metrics_gauges.
 */
#ifndef BINKD_METRICS_H
#define BINKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* At most this many endpoints (routes) are told apart. */
#define METRICS_ENDPOINTS_MAX 96

/* Requests that matched no route are counted under this endpoint index,
 * labelled endpoint="unmatched". */
#define METRICS_NO_ENDPOINT (-1)

/* Records the start time (process_start_time_seconds). Call once, at
 * start-up, before serving. */
void metrics_init(void);

/* Names endpoint i (0 <= i < METRICS_ENDPOINTS_MAX) for the labels. path is
 * the route's path ("/bot/getme"), kept by pointer: it must outlive every
 * later metrics_render (a route table does). Call before serving. */
void metrics_endpoint_name(int i, const char *path);

/* One finished request: its endpoint (route index or METRICS_NO_ENDPOINT),
 * the HTTP status sent (499: the client went away first) and how long it
 * took, in seconds, from its first byte to its last (a long poll's wait
 * and an event stream's whole life included). */
void metrics_request(int endpoint, int status, double seconds);

/* n outbox events committed (store writer, after the commit). */
void metrics_events_produced(uint64_t n);

/* The outcome of one webhook delivery attempt (events.md). */
typedef enum metrics_delivery {
  METRICS_DELIVERED = 0,  /* a 2xx answer */
  METRICS_HTTP_ERROR,     /* an answer other than 2xx */
  METRICS_TIMEOUT,        /* no answer within --webhook-timeout */
  METRICS_NETWORK_ERROR,  /* no answer: connection refused, DNS, TLS, … */
  METRICS_BLOCKED,        /* refused: private address (--deny-private-…) */
  METRICS_DELIVERY_OUTCOMES
} metrics_delivery;

void metrics_delivery_outcome(metrics_delivery outcome);

/* Event streams (GET /app/events) open now: +1 when one starts, -1 when it
 * ends. */
void metrics_streams_add(int delta);

/* Gauges read by the caller of metrics_render; -1 leaves one out (the
 * database did not answer, say). */
typedef struct metrics_gauges {
  int64_t write_queue;        /* write jobs queued, not yet taken */
  int64_t outbox_pending;     /* events not yet delivered or fetched */
  int64_t deliveries_running; /* webhook requests under way */
  int64_t waits_parked;       /* long polls (getupdates, getevents) and
                                 clickbutton waits parked now */
  int database_up;            /* 1 the database answered, 0 it did not */
} metrics_gauges;

/* The exposition text: a malloc'd, NUL-terminated string the caller frees,
 * its length in *len; NULL when memory runs out. */
char *metrics_render(const metrics_gauges *g, size_t *len);

/* The Content-Type of metrics_render's text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
