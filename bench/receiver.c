/*
 * receiver.c: a fast webhook receiver for bench/events.sh.
 *
 * libmicrohttpd with an internal epoll thread per pool member (pool size =
 * online cores, or argv[3]), answering every request with 204 No Content.
 * For each request it records, when the whole body has arrived (just before
 * the 204 is queued):
 *   - the time, CLOCK_REALTIME in microseconds,
 *   - the X-Bink-Attempt header,
 *   - the webhook-id header (evt_<bot>_<update_id>),
 *   - the event's message_id and the first 40 bytes of its content, taken
 *     from the JSON body (bench/events_send.lua puts the send time there).
 * Records live in a preallocated array (untouched pages cost no memory);
 * requests beyond its capacity are answered but counted as "lost".
 *
 * GET /count answers "<records> <lost>\n" (for progress polling; /count is
 * not recorded). On SIGTERM or SIGINT the daemon stops and the records are
 * written to the dump file, one a line, tab-separated:
 *   t_us  attempt  webhook_id  message_id  content
 *
 * Not part of the CMake build; bench/events.sh builds it with
 *   gcc -O2 receiver.c $(pkg-config --cflags --libs libmicrohttpd)
 * Usage: receiver DUMPFILE [CAPACITY [THREADS]]
 * Listens on 127.0.0.1, on a port the kernel picks, and prints
 * "receiver: listening on http://127.0.0.1:PORT" to stderr.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX 4096 /* bytes of body kept for parsing; the rest is dropped */

typedef struct record {
  int64_t t_us;
  int32_t attempt;
  char webhook_id[52];
  char message_id[40];
  char content[44];
} record;

typedef struct req {
  bool is_count;
  size_t len;
  char body[BODY_MAX + 1];
} req;

static record *records;
static size_t capacity;
static atomic_size_t used;
static atomic_size_t lost;
static struct MHD_Response *no_content;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copies the string value of "key" in a JSON object (either spacing). */
static void json_string(const char *body, const char *key, char *out,
                        size_t max) {
  out[0] = '\0';
  const char *p = strstr(body, key);
  if (!p)
    return;
  p += strlen(key);
  while (*p == ' ')
    p++;
  if (*p++ != ':')
    return;
  while (*p == ' ')
    p++;
  if (*p++ != '"')
    return;
  size_t n = 0;
  while (p[n] && p[n] != '"' && n + 1 < max)
    n++;
  memcpy(out, p, n);
  out[n] = '\0';
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out,
                        size_t max) {
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  snprintf(out, max, "%s", v ? v : "-");
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls) {
  (void)cls; (void)method; (void)version;
  req *r = *req_cls;
  if (!r) { /* first call: headers only */
    r = calloc(1, sizeof *r);
    if (!r)
      return MHD_NO;
    r->is_count = strcmp(url, "/count") == 0;
    *req_cls = r;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    size_t n = *upload_data_size;
    if (n > BODY_MAX - r->len)
      n = BODY_MAX - r->len;
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (r->is_count) {
    char text[64];
    int n = snprintf(text, sizeof text, "%zu %zu\n", atomic_load(&used),
                     atomic_load(&lost));
    struct MHD_Response *resp =
        MHD_create_response_from_buffer((size_t)n, text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
  }
  int64_t t = now_us();
  size_t i = atomic_fetch_add(&used, 1);
  if (i < capacity) {
    record *rec = &records[i];
    r->body[r->len] = '\0';
    char attempt[16];
    copy_header(c, "X-Bink-Attempt", attempt, sizeof attempt);
    rec->attempt = (int)strtol(attempt, NULL, 10);
    copy_header(c, "webhook-id", rec->webhook_id, sizeof rec->webhook_id);
    json_string(r->body, "\"message_id\"", rec->message_id,
                sizeof rec->message_id);
    json_string(r->body, "\"content\"", rec->content, sizeof rec->content);
    rec->t_us = t; /* written last: a zero t_us marks an unfinished slot */
  } else {
    atomic_fetch_sub(&used, 1);
    atomic_fetch_add(&lost, 1);
  }
  return MHD_queue_response(c, MHD_HTTP_NO_CONTENT, no_content);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls; (void)c; (void)toe;
  free(*req_cls);
  *req_cls = NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: receiver DUMPFILE [CAPACITY [THREADS]]\n");
    return 2;
  }
  const char *dump = argv[1];
  capacity = argc > 2 ? strtoul(argv[2], NULL, 10) : 4000000;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10)
                              : (cores > 0 ? (unsigned)cores : 1);
  if (threads < 1)
    threads = 1;

  /* Anonymous mapping: pages are only resident once written. */
  records = mmap(NULL, capacity * sizeof *records, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (records == MAP_FAILED) {
    perror("receiver: mmap");
    return 1;
  }

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  no_content = MHD_create_response_from_buffer(0, (void *)"",
                                               MHD_RESPMEM_PERSISTENT);

  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, answer,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_TIMEOUT, 120u,
      MHD_OPTION_CONNECTION_LIMIT, 10000u,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "receiver: cannot listen on 127.0.0.1\n");
    return 1;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr, "receiver: listening on http://127.0.0.1:%u (%u threads)\n",
          info ? (unsigned)info->port : 0u, threads);
  fflush(stderr);

  int sig = 0;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  MHD_destroy_response(no_content);

  FILE *f = fopen(dump, "w");
  if (!f) {
    perror("receiver: dump file");
    return 1;
  }
  size_t n = atomic_load(&used);
  if (n > capacity)
    n = capacity;
  for (size_t i = 0; i < n; i++) {
    const record *rec = &records[i];
    if (rec->t_us == 0)
      continue;
    fprintf(f, "%lld\t%d\t%s\t%s\t%s\n", (long long)rec->t_us, rec->attempt,
            rec->webhook_id, rec->message_id[0] ? rec->message_id : "-",
            rec->content[0] ? rec->content : "-");
  }
  fclose(f);
  fprintf(stderr, "receiver: %zu records written to %s (%zu lost)\n", n, dump,
          atomic_load(&lost));
  return 0;
}
