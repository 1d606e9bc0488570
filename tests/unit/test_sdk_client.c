/* libbink: argument checks that fail before any request, result structs on
 * failure, and bink_download_to_path() leaving an existing file alone when
 * the download fails (the server is a closed port: a transport error). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bink.h"

/* A URL where nothing listens (port 9, discard, is not served here). */
static bink_client *closed_port_client(void) {
  bink_client_options o;
  memset(&o, 0, sizeof o);
  o.base_url = "http://127.0.0.1:9";
  o.token = "b1.unit-test-token";
  o.timeout_s = 5;
  o.connect_timeout_s = 2;
  bink_client *c = NULL;
  assert_int_equal(bink_client_new(&o, &c), BINK_OK);
  return c;
}

static void call_params_must_be_an_object(void **state) {
  (void)state;
  bink_client *c = closed_port_client();
  char *data = (char *)"garbage";
  assert_int_equal(bink_call(c, "getme", "[1,2]", &data), BINK_E_INVALID);
  assert_null(data);
  assert_non_null(strstr(bink_last_error(c)->msg, "must be a JSON object, not an array"));
  assert_int_equal(bink_call(c, "getme", "42", NULL), BINK_E_INVALID);
  assert_non_null(strstr(bink_last_error(c)->msg, "not a number"));
  assert_int_equal(bink_call(c, "getme", "{\"a\":", NULL), BINK_E_INVALID);
  assert_non_null(strstr(bink_last_error(c)->msg, "not JSON"));
  bink_client_free(c);
}

static void null_allowed_event_is_invalid(void **state) {
  (void)state;
  bink_client *c = closed_port_client();
  const char *events[] = {"private_message", NULL};
  bink_webhook_params p;
  memset(&p, 0, sizeof p);
  p.url = "http://127.0.0.1:9/hook";
  p.allowed_events = events;
  p.allowed_event_count = 2;
  assert_int_equal(bink_set_webhook(c, &p), BINK_E_INVALID);
  assert_non_null(strstr(bink_last_error(c)->msg, "allowed_events[1]"));
  bink_event_list l;
  assert_int_equal(bink_get_updates(c, 0, 0, 0, events, 2, &l), BINK_E_INVALID);
  assert_null(l.items);
  assert_int_equal(l.count, 0);
  bink_client_free(c);
}

static void failing_calls_leave_results_zeroed(void **state) {
  (void)state;
  bink_bot b;
  memset(&b, 0x5a, sizeof b); /* uninitialised on entry is allowed */
  assert_int_equal(bink_getme(NULL, &b), BINK_E_INVALID);
  assert_null(b.bot_id);
  assert_null(b.username);
  bink_command_list l;
  memset(&l, 0x5a, sizeof l);
  assert_int_equal(bink_get_commands(NULL, &l), BINK_E_INVALID);
  assert_null(l.items);
  char *data = (char *)"x";
  size_t len = 7;
  assert_int_equal(bink_download_mem(NULL, "file_1", &data, &len), BINK_E_INVALID);
  assert_null(data);
  assert_int_equal(len, 0);

  bink_client *c = closed_port_client();
  bink_message m;
  memset(&m, 0x5a, sizeof m);
  assert_int_equal(bink_send_text(c, "group_1", "hi", &m), BINK_E_TRANSPORT);
  assert_null(m.message_id);
  assert_null(m.json);
  bink_message_clear(&m); /* harmless */
  assert_int_equal(bink_send_text(c, "group_1", "hi", NULL), BINK_E_TRANSPORT);
  assert_int_equal(bink_get_commands(c, NULL), BINK_E_INVALID);
  data = (char *)"x";
  assert_int_equal(bink_download_mem(c, "file_1", &data, &len), BINK_E_TRANSPORT);
  assert_null(data);
  bink_client_free(c);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static void failed_download_keeps_the_existing_file(void **state) {
  (void)state;
  char dir[] = "/tmp/bink_sdk_dl_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/keep.txt", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("precious\n", f);
  fclose(f);

  bink_client *c = closed_port_client();
  assert_int_equal(bink_download_to_path(c, "file_1", path), BINK_E_TRANSPORT);
  f = fopen(path, "r");
  assert_non_null(f);
  char buf[64] = "";
  assert_non_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_string_equal(buf, "precious\n");
  assert_int_equal(count_entries(dir), 1); /* no temporary file left */

  /* a new path is not created when the download fails */
  char fresh[256];
  snprintf(fresh, sizeof fresh, "%s/new.bin", dir);
  assert_int_equal(bink_download_to_path(c, "file_1", fresh), BINK_E_TRANSPORT);
  assert_int_not_equal(access(fresh, F_OK), 0);
  assert_int_equal(count_entries(dir), 1);

  /* a directory that does not exist is an i/o error */
  char nodir[256];
  snprintf(nodir, sizeof nodir, "%s/no/such.bin", dir);
  assert_int_equal(bink_download_to_path(c, "file_1", nodir), BINK_E_IO);
  bink_client_free(c);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  if (bink_global_init() != BINK_OK)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(call_params_must_be_an_object),
      cmocka_unit_test(null_allowed_event_is_invalid),
      cmocka_unit_test(failing_calls_leave_results_zeroed),
      cmocka_unit_test(failed_download_keeps_the_existing_file),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  bink_global_cleanup();
  return rc;
}
