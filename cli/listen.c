/*
 * listen.c - `bink webhook listen`: a webhook receiver on 127.0.0.1.
 *
 * Each POST is checked with bink_webhook_verify() when a secret is given,
 * parsed with bink_event_parse(), and printed as one JSON line on stdout.
 * Refused deliveries get 400/401 and a line on stderr.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "cli.h"

#define MAX_BODY (1u << 20)

typedef struct listener {
  const char *secret;  /* NULL: no verification */
  atomic_long taken;   /* events accepted for printing (slots of --max) */
  atomic_long done;    /* accepted events whose 200 was sent */
  long max;            /* stop after this many events; 0 = never */
} listener;

typedef struct request {
  char *body;
  size_t len;
  int too_big;
  int counted;         /* this request took a slot of --max */
} request;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
  enum MHD_Result ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state) {
  listener *l = cls;
  request *rq = *state;
  if (!rq) {
    rq = calloc(1, sizeof *rq);
    if (!rq)
      return MHD_NO;
    *state = rq;
    return MHD_YES;
  }
  int post = strcmp(method, "POST") == 0;
  if (*upload_size) {
    size_t n = *upload_size;
    if (!post) {
      /* read and discard, then answer 405 below */
    } else if (!rq->too_big) {
      if (rq->len + n > MAX_BODY) {
        rq->too_big = 1;
      } else {
        char *b = realloc(rq->body, rq->len + n + 1);
        if (!b)
          return MHD_NO;
        memcpy(b + rq->len, upload_data, n);
        rq->body = b;
        rq->len += n;
        rq->body[rq->len] = '\0';
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (!post)
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
  if (rq->too_big) {
    fprintf(stderr, "bink: refused a delivery: body larger than %u bytes\n", MAX_BODY);
    return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
  }
  const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id");
  const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-timestamp");
  const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-signature");
  if (l->secret) {
    bink_status st = bink_webhook_verify(l->secret, id, ts, sig, rq->body ? rq->body : "",
                                         rq->len, 0);
    if (st != BINK_OK) {
      fputs("bink: refused a delivery (webhook-id ", stderr);
      cli_put_safe(stderr, id);
      fprintf(stderr, "): %s\n", bink_status_str(st));
      return reply(conn, st == BINK_E_HEADER ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_UNAUTHORIZED,
                   "signature check failed\n");
    }
  }
  bink_event ev;
  char why[160];
  bink_status st = bink_event_parse(rq->body, rq->len, &ev, why, sizeof why);
  if (st != BINK_OK) {
    fputs("bink: refused a delivery: ", stderr);
    cli_put_safe(stderr, st == BINK_E_PARSE ? why : "out of memory");
    fputc('\n', stderr);
    return reply(conn, MHD_HTTP_BAD_REQUEST, "not an event\n");
  }
  /* Past --max, the delivery is refused with 503 so that the server keeps
   * it and retries later: answering 200 would lose it. */
  if (l->max > 0 && atomic_fetch_add(&l->taken, 1) >= l->max) {
    bink_event_clear(&ev);
    return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping\n");
  }
  if (ev.type == BINK_EVENT_UNKNOWN) {
    fputs("bink: note: unknown event_type '", stderr);
    cli_put_safe(stderr, ev.event_type);
    fputs("'\n", stderr);
  }
  printf("%s\n", ev.json);
  fflush(stdout);
  bink_event_clear(&ev);
  rq->counted = 1;
  return reply(conn, MHD_HTTP_OK, "ok\n");
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode why) {
  listener *l = cls;
  request *rq = *state;
  if (rq) {
    if (rq->counted)
      atomic_fetch_add(&l->done, 1); /* the 200 went out (or the peer left) */
    free(rq->body);
    free(rq);
    *state = NULL;
  }
}

static const char HELP_LISTEN[] =
    "Usage: bink webhook listen --port N [--secret S] [--max N]\n"
    "\n"
    "Serves a webhook receiver on http://127.0.0.1:N/ (any path; port 0 picks a\n"
    "free one). Every delivery whose signature checks out (Standard Webhooks;\n"
    "the secret as given to 'webhook set', or $BINK_WEBHOOK_SECRET) is printed\n"
    "as one JSON line on stdout and answered 200. Wrong or missing signatures\n"
    "and stale timestamps are answered 401 (400 for a missing header) and\n"
    "reported on stderr. Without a secret nothing is verified. Stops on\n"
    "SIGINT/SIGTERM, or after --max events: a delivery beyond --max is not\n"
    "printed and is answered 503, so that the server keeps it and retries it\n"
    "later. Only POST is accepted (405 otherwise). Prints 'listening on URL'\n"
    "on stderr when ready.\n";

int cli_webhook_listen(int argc, char **argv, int json_output) {
  (void)json_output; /* events are JSON lines either way */
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"secret", required_argument, NULL, 's'},
                                       {"max", required_argument, NULL, 'm'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"json", no_argument, NULL, 'j'},
                                       {NULL, 0, NULL, 0}};
  long port = -1, max = 0;
  const char *secret = getenv("BINK_WEBHOOK_SECRET");
  optind = 0;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
    char *end;
    switch (opt) {
    case 'p':
      port = strtol(optarg, &end, 10);
      if (*end || end == optarg || port < 0 || port > 65535)
        return cli_usage_error("webhook listen", "--port wants 0..65535, not '%s'", optarg);
      break;
    case 's': secret = optarg; break;
    case 'm':
      max = strtol(optarg, &end, 10);
      if (*end || end == optarg || max < 1)
        return cli_usage_error("webhook listen", "--max wants a count >= 1");
      break;
    case 'h': fputs(HELP_LISTEN, stdout); return CLI_OK;
    case 'j': break;
    case ':':
      return cli_usage_error("webhook listen", "option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage_error("webhook listen", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage_error("webhook listen", "unexpected argument '%s'", argv[optind]);
  if (port < 0)
    return cli_usage_error("webhook listen", "--port is required");
  if (secret && !*secret)
    secret = NULL;
  if (secret) {
    /* refuse a secret the server would refuse, before anything arrives */
    char sig[64];
    if (bink_webhook_signature(secret, "x", 0, "", 0, sig, sizeof sig) == BINK_E_SECRET)
      return cli_usage_error("webhook listen",
                             "the secret must be whsec_<base64 of 24..64 bytes> or 16..256 "
                             "printable characters");
  }
  listener l;
  memset(&l, 0, sizeof l);
  l.secret = secret;
  l.max = max;
  atomic_init(&l.taken, 0);
  atomic_init(&l.done, 0);

  cli_catch_signals();
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)port, NULL,
      NULL, on_request, &l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_NOTIFY_COMPLETED, on_done, &l, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)30, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "bink: cannot listen on 127.0.0.1:%ld\n", port);
    return CLI_ERROR;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr, "listening on http://127.0.0.1:%u\n", info ? info->port : (unsigned)port);
  fflush(stderr);
  /* with --max, stop once the last printed event's 200 has been sent */
  while (!cli_stop && (max == 0 || atomic_load(&l.done) < max)) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  MHD_stop_daemon(d);
  return CLI_OK;
}
