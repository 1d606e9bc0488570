/*
 * baseline.c: a bare libmicrohttpd responder, the yardstick of bench/run.sh.
 *
 * Same daemon flags as binkd's src/http/server.c (an internal epoll thread
 * per pool member, thread pool = online cores, suspend/resume allowed, a
 * 16 KiB memory pool per connection: HTTP__POOL_BYTES), and
 * a fixed small JSON envelope, the size of a getme answer, to every request.
 * Request bodies are read and dropped. No routing, no auth, no storage, no
 * logging: what is left is the HTTP cost binkd cannot go below.
 *
 * Not part of the CMake build; bench/run.sh builds it with
 *   gcc -O2 baseline.c $(pkg-config --cflags --libs libmicrohttpd)
 * Usage: baseline [PORT]   (0 or none: any free port; 127.0.0.1 only)
 * Prints "listening on http://127.0.0.1:PORT" to stderr, stops on
 * SIGTERM/SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] =
    "{\"code\":200,\"msg\":\"ok\",\"data\":{\"bot_id\":\"bot_0000000000000\","
    "\"username\":\"benchbot\",\"display_name\":\"Bench bot\",\"description\":\"\","
    "\"privacy_mode\":true,\"can_join_groups\":true,\"created_at\":1700000000}}";

static struct MHD_Response *response;

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **req_cls) {
  (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
  if (*req_cls == NULL) { /* first call: headers only */
    *req_cls = (void *)1;
    return MHD_YES;
  }
  if (*upload_data_size != 0) { /* drop the body */
    *upload_data_size = 0;
    return MHD_YES;
  }
  return MHD_queue_response(c, MHD_HTTP_OK, response);
}

int main(int argc, char **argv) {
  unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned threads = cores > 0 ? (unsigned)cores : 1;

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  response = MHD_create_response_from_buffer(sizeof body - 1, (void *)body,
                                             MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(response, "Content-Type", "application/json; charset=utf-8");
  MHD_add_response_header(response, "Cache-Control", "no-store");

  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
      (uint16_t)port, NULL, NULL, answer, NULL,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
      MHD_OPTION_CONNECTION_TIMEOUT, 60u,
      MHD_OPTION_CONNECTION_LIMIT, 20000u,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
      MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "baseline: cannot listen on 127.0.0.1:%u\n", port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr, "baseline: listening on http://127.0.0.1:%u (%u threads)\n",
          info ? (unsigned)info->port : port, threads);

  int sig = 0;
  sigwait(&stop, &sig);
  MHD_stop_daemon(d);
  MHD_destroy_response(response);
  return 0;
}
