/*
 * bink.c - the bink command-line client (server.md, "bink").
 *
 *   bink [--url URL] [--token TOKEN] [--json] [--retry N] [--timeout S] COMMAND ...
 *
 * Exit status: 0 success, 1 API or transport error (code and msg on
 * stderr), 2 usage error. The token is never printed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

volatile sig_atomic_t cli_stop = 0;

static void on_signal(int sig) {
  (void)sig;
  cli_stop = 1;
}

void cli_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bink: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'bink %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
  va_end(ap);
  return CLI_USAGE;
}

void cli_put_safe(FILE *f, const char *s) {
  if (!s) {
    fputs("(none)", f);
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\x%02x", *p);
    else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* U+0080..U+009F */
      fprintf(f, "\\u%04x", p[1]), p++;
    else
      fputc(*p, f);
  }
}

/* ---- global state of one run ---- */
typedef struct cli {
  const char *url;
  const char *token;
  int json;
  int retry;
  long timeout;
  const char *cmd;    /* for messages */
  bink_client *client;
} cli;

enum { OPT_URL = 1000, OPT_TOKEN, OPT_JSON, OPT_RETRY, OPT_TIMEOUT, OPT_HELP };

#define COMMON_LONG_OPTS                                            \
  {"url", required_argument, NULL, OPT_URL},                        \
      {"token", required_argument, NULL, OPT_TOKEN},                \
      {"json", no_argument, NULL, OPT_JSON},                        \
      {"retry", required_argument, NULL, OPT_RETRY},                \
      {"timeout", required_argument, NULL, OPT_TIMEOUT},            \
      {"help", no_argument, NULL, OPT_HELP}

static int parse_long(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max)
    return 0;
  *out = v;
  return 1;
}

/* Handles an option every command takes; returns 1 when it was one, -1
 * for a bad value (usage reported), 0 otherwise. */
static int common_opt(cli *c, int opt, const char *arg) {
  long v;
  switch (opt) {
  case OPT_URL: c->url = arg; return 1;
  case OPT_TOKEN: c->token = arg; return 1;
  case OPT_JSON: c->json = 1; return 1;
  case OPT_RETRY:
    if (!parse_long(arg, 0, 100, &v)) {
      cli_usage_error(c->cmd, "--retry wants a count 0..100, not '%s'", arg);
      return -1;
    }
    c->retry = (int)v;
    return 1;
  case OPT_TIMEOUT:
    if (!parse_long(arg, 1, 86400, &v)) {
      cli_usage_error(c->cmd, "--timeout wants seconds 1..86400, not '%s'", arg);
      return -1;
    }
    c->timeout = v;
    return 1;
  default: return 0;
  }
}

static const char GLOBAL_HELP[] =
    "Usage: bink [OPTIONS] COMMAND [ARGS]\n"
    "\n"
    "Drives a bink server's Bot API as a bot.\n"
    "\n"
    "Options (accepted before or after the command):\n"
    "  --url URL        server address [$BINK_URL or " DEFAULT_URL "]\n"
    "  --token TOKEN    bot token [$BINK_TOKEN]; prefer the variable, since\n"
    "                   command lines are visible to other local users\n"
    "  --json           print the API's JSON (one line) instead of text\n"
    "  --retry N        on 429, wait retry_after seconds and retry, N times [0]\n"
    "  --timeout S      request timeout in seconds [60]\n"
    "  --help           help (also 'bink COMMAND --help')\n"
    "  --version        print the version\n"
    "\n"
    "Commands:\n"
    "  getme                          the bot's profile\n"
    "  send                           send a message (text, media, sticker, contact)\n"
    "  edit MESSAGE_ID                edit a message's text or buttons\n"
    "  delete MESSAGE_ID...           delete messages\n"
    "  upload PATH                    upload a file, print its file_id\n"
    "  file FILE_ID [--output PATH]   a file's metadata; download it\n"
    "  answer CALLBACK_ID             answer a button click\n"
    "  commands get|set               the command menu\n"
    "  mute, unmute                   mute or unmute a group member\n"
    "  group GROUP_ID                 a group's profile\n"
    "  updates [--follow]             events by long polling, as JSON lines\n"
    "  webhook set|info|delete|listen the webhook, and a local receiver\n"
    "\n"
    "Exit status: 0 success, 1 API or transport error (code and msg on\n"
    "stderr), 2 usage error.\n";

/* ---- output and errors ---- */

/* The server URL without its user-info (a password must not be echoed):
 * "http://user:pw@host:1/x" -> "http://host:1/x". */
static void print_url(FILE *f, const char *url) {
  const char *rest = url;
  const char *scheme_end = strstr(url, "://");
  if (scheme_end) {
    const char *host = scheme_end + 3;
    size_t auth_len = strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *q = host; q < host + auth_len; q++)
      if (*q == '@')
        at = q;
    if (at) {
      fwrite(url, 1, (size_t)(host - url), f);
      rest = at + 1;
    }
  }
  cli_put_safe(f, rest);
}

/* Reports a failed call; returns the exit status. A bad argument refused by
 * the library (not UTF-8, a bad idempotency key, ...) is a usage error. */
static int report(cli *c, bink_status st) {
  const bink_error *e = bink_last_error(c->client);
  switch (st) {
  case BINK_E_API:
    fprintf(stderr, "bink: error %d: ", e->code);
    cli_put_safe(stderr, e->msg);
    fputc('\n', stderr);
    if (e->retry_after > 0)
      fprintf(stderr, "bink: retry after %" PRId64 " s\n", e->retry_after);
    break;
  case BINK_E_TRANSPORT:
    fputs("bink: cannot reach the server at ", stderr);
    print_url(stderr, c->url);
    fputs(": ", stderr);
    cli_put_safe(stderr, e->msg);
    fputc('\n', stderr);
    break;
  case BINK_E_CANCELLED:
    return CLI_OK;
  case BINK_E_INVALID:
    fputs("bink: ", stderr);
    cli_put_safe(stderr, e->msg[0] ? e->msg : "invalid argument");
    fprintf(stderr, "\nTry 'bink %s --help'.\n", c->cmd ? c->cmd : "");
    return CLI_USAGE;
  default:
    fprintf(stderr, "bink: %s: ", bink_status_str(st));
    cli_put_safe(stderr, e->msg[0] ? e->msg : "failed");
    fputc('\n', stderr);
    break;
  }
  return CLI_ERROR;
}

/* Human form of an API answer: "key: value" lines for an object, one line
 * per element for an array. */
static void print_value(json_t *v) {
  if (json_is_string(v))
    cli_put_safe(stdout, json_string_value(v));
  else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s)
      printf("%s", s);
    free(s);
  }
}

static void print_human(json_t *data) {
  if (json_is_object(data)) {
    const char *k;
    json_t *v;
    json_object_foreach(data, k, v) {
      cli_put_safe(stdout, k);
      fputs(": ", stdout);
      print_value(v);
      putchar('\n');
    }
  } else if (json_is_array(data)) {
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v) {
      print_value(v);
      putchar('\n');
    }
  } else {
    print_value(data);
    putchar('\n');
  }
}

/* Prints JSON text as --json wants it (one line) or in human form. */
static int print_answer(cli *c, const char *json_text) {
  json_error_t jerr;
  json_t *v = json_loads(json_text, JSON_DECODE_ANY, &jerr);
  if (!v) {
    fprintf(stderr, "bink: cannot read the answer: %s\n", jerr.text);
    return CLI_ERROR;
  }
  if (c->json) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s)
      printf("%s\n", s);
    free(s);
  } else {
    print_human(v);
  }
  json_decref(v);
  return CLI_OK;
}

/* Calls a method with a parameter object and prints data. Consumes params;
 * NULL params means json_pack failed: an argument is not UTF-8. */
static int call_and_print(cli *c, const char *method, json_t *params) {
  if (!params)
    return cli_usage_error(c->cmd, "arguments must be valid UTF-8");
  char *text = json_dumps(params, JSON_COMPACT);
  json_decref(params);
  char *data = NULL;
  bink_status st = bink_call(c->client, method, text, &data);
  free(text);
  if (st != BINK_OK)
    return report(c, st);
  int rc = print_answer(c, data);
  free(data);
  return rc;
}

static int connect_client(cli *c) {
  bink_client_options o;
  memset(&o, 0, sizeof o);
  o.base_url = c->url;
  o.token = c->token;
  o.timeout_s = c->timeout;
  o.retry_429 = c->retry;
  if (!c->token || !*c->token)
    return cli_usage_error(c->cmd, "no bot token: set BINK_TOKEN or pass --token");
  bink_status st = bink_client_new(&o, &c->client);
  if (st == BINK_E_INVALID)
    return cli_usage_error(c->cmd, "the URL or the token is not usable");
  if (st != BINK_OK) {
    fprintf(stderr, "bink: cannot create a client: %s\n", bink_status_str(st));
    return CLI_ERROR;
  }
  bink_client_set_cancel(c->client, &cli_stop);
  return CLI_OK;
}

/* Parses a command's options: table entries beyond the common ones are
 * handed to fn. Returns CLI_OK, or the exit status to stop with (help is
 * printed with status -1 mapped to 0). */
typedef int (*opt_fn)(cli *c, int opt, const char *arg, void *ud);

#define HELP_SHOWN (-1)

static int parse_opts(cli *c, int argc, char **argv, const struct option *extra,
                      const char *help, opt_fn fn, void *ud, int *first_arg) {
  static const struct option common[] = {COMMON_LONG_OPTS};
  size_t ne = 0, nc = sizeof common / sizeof common[0];
  while (extra && extra[ne].name)
    ne++;
  struct option all[64];
  if (ne + nc + 1 > sizeof all / sizeof all[0])
    return CLI_USAGE;
  memcpy(all, common, nc * sizeof *all);
  if (ne)
    memcpy(all + nc, extra, ne * sizeof *all);
  memset(&all[nc + ne], 0, sizeof all[0]);
  optind = 0; /* glibc: start over */
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, ":", all, NULL)) != -1) {
    if (opt == OPT_HELP) {
      fputs(help, stdout);
      return HELP_SHOWN;
    }
    if (opt == '?')
      return cli_usage_error(c->cmd, "unknown option '%s'", argv[optind - 1]);
    if (opt == ':')
      return cli_usage_error(c->cmd, "option '%s' needs a value", argv[optind - 1]);
    int r = common_opt(c, opt, optarg);
    if (r < 0)
      return CLI_USAGE;
    if (r > 0)
      continue;
    int rc = fn ? fn(c, opt, optarg, ud) : CLI_USAGE;
    if (rc != CLI_OK)
      return rc;
  }
  *first_arg = optind;
  return CLI_OK;
}

/* ---- getme, group ---- */

static const char HELP_GETME[] = "Usage: bink getme [--json]\n\nPrints the bot's profile.\n";

static int cmd_getme(cli *c, int argc, char **argv) {
  int i;
  int rc = parse_opts(c, argc, argv, NULL, HELP_GETME, NULL, NULL, &i);
  if (rc != CLI_OK)
    return rc;
  if (i < argc)
    return cli_usage_error(c->cmd, "unexpected argument '%s'", argv[i]);
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  return call_and_print(c, "getme", json_object());
}

static const char HELP_GROUP[] =
    "Usage: bink group GROUP_ID [--json]\n\nPrints a group's profile as the bot sees it.\n";

static int cmd_group(cli *c, int argc, char **argv) {
  int i;
  int rc = parse_opts(c, argc, argv, NULL, HELP_GROUP, NULL, NULL, &i);
  if (rc != CLI_OK)
    return rc;
  if (argc - i != 1)
    return cli_usage_error(c->cmd, "give exactly one GROUP_ID");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  return call_and_print(c, "getgroup", json_pack("{s:s}", "group_id", argv[i]));
}

/* ---- send, edit ---- */

enum {
  O_GROUP = 1,
  O_USER,
  O_TEXT,
  O_IMAGE,
  O_VIDEO,
  O_AUDIO,
  O_FILE,
  O_STICKER,
  O_CONTACT,
  O_REPLY,
  O_QUOTE,
  O_BUTTON,
  O_ROW,
  O_IDEM,
  O_CLEAR,
  O_OUTPUT,
  O_ALERT,
  O_URLOPT,
  O_DURATION,
  O_FOLLOW,
  O_OFFSET,
  O_LIMIT,
  O_WAIT,
  O_ALLOWED,
  O_MAX,
  O_SECRET,
  O_MAXCONN,
  O_DROP
};

typedef struct send_args {
  const char *group, *user, *text, *media_path, *media_type, *sticker, *contact;
  const char *reply_to, *quote, *idem;
  bink_keyboard *kb;
  int clear;
  int kind_count; /* media, sticker, contact given */
} send_args;

static int add_button(cli *c, send_args *a, const char *spec) {
  const char *eq = strchr(spec, '=');
  if (!eq || eq == spec || !eq[1])
    return cli_usage_error(c->cmd, "--button wants \"Text=callback_data\" or \"Text=https://...\"");
  if (!a->kb && !(a->kb = bink_keyboard_new())) {
    fprintf(stderr, "bink: out of memory\n");
    return CLI_ERROR;
  }
  char *text = strndup(spec, (size_t)(eq - spec));
  if (!text) {
    fprintf(stderr, "bink: out of memory\n");
    return CLI_ERROR;
  }
  const char *data = eq + 1;
  bink_status st = (strncmp(data, "http://", 7) == 0 || strncmp(data, "https://", 8) == 0)
                       ? bink_keyboard_url_button(a->kb, text, data)
                       : bink_keyboard_button(a->kb, text, data);
  free(text);
  if (st != BINK_OK)
    return cli_usage_error(c->cmd, "bad --button '%s' (not UTF-8?)", spec);
  return CLI_OK;
}

static int send_opt(cli *c, int opt, const char *arg, void *ud) {
  send_args *a = ud;
  switch (opt) {
  case O_GROUP: a->group = arg; break;
  case O_USER: a->user = arg; break;
  case O_TEXT: a->text = arg; break;
  case O_IMAGE: a->media_type = "image"; a->media_path = arg; a->kind_count++; break;
  case O_VIDEO: a->media_type = "video"; a->media_path = arg; a->kind_count++; break;
  case O_AUDIO: a->media_type = "audio"; a->media_path = arg; a->kind_count++; break;
  case O_FILE: a->media_type = "file"; a->media_path = arg; a->kind_count++; break;
  case O_STICKER: a->sticker = arg; a->kind_count++; break;
  case O_CONTACT: a->contact = arg; a->kind_count++; break;
  case O_REPLY: a->reply_to = arg; break;
  case O_QUOTE: a->quote = arg; break;
  case O_IDEM: a->idem = arg; break;
  case O_CLEAR: a->clear = 1; break;
  case O_BUTTON: return add_button(c, a, arg);
  case O_ROW:
    if (!a->kb && !(a->kb = bink_keyboard_new()))
      return CLI_ERROR;
    bink_keyboard_row(a->kb);
    break;
  default: return cli_usage_error(c->cmd, "unexpected option");
  }
  return CLI_OK;
}

static int print_message(cli *c, const bink_message *m) {
  if (c->json)
    printf("%s\n", m->json);
  else
    printf("%s\n", m->message_id);
  return CLI_OK;
}

static const char HELP_SEND[] =
    "Usage: bink send (--group GROUP_ID | --user USER_ID) [TEXT] [options]\n"
    "\n"
    "Sends a message as the bot. TEXT (or --text) is the text, or the caption\n"
    "of a media message. Prints the new message's id (--json: the message).\n"
    "\n"
    "  --group ID           to a group the bot belongs to\n"
    "  --user ID            privately, to a user who has written to the bot\n"
    "  --text TEXT          the text or caption\n"
    "  --image PATH         upload PATH, send it as an image (jpeg/png/gif/webp)\n"
    "  --video PATH         ... as a video\n"
    "  --audio PATH         ... as audio\n"
    "  --file PATH          ... as a file of any type\n"
    "  --sticker ID         a sticker of the server's catalogue\n"
    "  --contact ID         a contact card of a user or bot\n"
    "  --reply-to ID        reply to a message of the same chat\n"
    "  --quote ID           quote a message of the same chat\n"
    "  --button TEXT=DATA   add a button to the current row; DATA is the\n"
    "                       callback_data, or a URL starting with http(s)://\n"
    "  --row                start a new row of buttons\n"
    "  --idempotency-key K  send at most once for K\n";

static const struct option SEND_OPTS[] = {
    {"group", required_argument, NULL, O_GROUP},
    {"user", required_argument, NULL, O_USER},
    {"text", required_argument, NULL, O_TEXT},
    {"image", required_argument, NULL, O_IMAGE},
    {"video", required_argument, NULL, O_VIDEO},
    {"audio", required_argument, NULL, O_AUDIO},
    {"file", required_argument, NULL, O_FILE},
    {"sticker", required_argument, NULL, O_STICKER},
    {"contact", required_argument, NULL, O_CONTACT},
    {"reply-to", required_argument, NULL, O_REPLY},
    {"quote", required_argument, NULL, O_QUOTE},
    {"button", required_argument, NULL, O_BUTTON},
    {"row", no_argument, NULL, O_ROW},
    {"idempotency-key", required_argument, NULL, O_IDEM},
    {NULL, 0, NULL, 0}};

static int cmd_send(cli *c, int argc, char **argv) {
  send_args a;
  memset(&a, 0, sizeof a);
  int i;
  int rc = parse_opts(c, argc, argv, SEND_OPTS, HELP_SEND, send_opt, &a, &i);
  if (rc != CLI_OK)
    goto out;
  rc = CLI_USAGE;
  if (argc - i > 1) {
    cli_usage_error(c->cmd, "give the text as one argument (quote it)");
    goto out;
  }
  if (argc - i == 1) {
    if (a.text) {
      cli_usage_error(c->cmd, "give the text either with --text or as an argument");
      goto out;
    }
    a.text = argv[i];
  }
  if (!a.group == !a.user) {
    cli_usage_error(c->cmd, "give exactly one of --group and --user");
    goto out;
  }
  if (a.kind_count > 1) {
    cli_usage_error(c->cmd, "give at most one of --image, --video, --audio, --file, "
                            "--sticker, --contact");
    goto out;
  }
  if (a.kind_count == 0 && !a.text) {
    cli_usage_error(c->cmd, "nothing to send: give a text or a media option");
    goto out;
  }
  if ((rc = connect_client(c)) != CLI_OK)
    goto out;
  bink_send_params p;
  memset(&p, 0, sizeof p);
  p.group_id = a.group;
  p.target_user_id = a.user;
  p.content = a.text;
  p.reply_to_id = a.reply_to;
  p.quote_message_id = a.quote;
  p.idempotency_key = a.idem;
  p.keyboard = a.kb;
  bink_file up;
  memset(&up, 0, sizeof up);
  if (a.media_path) {
    bink_status st = bink_upload_path(c->client, a.media_path, &up);
    if (st != BINK_OK) {
      rc = report(c, st);
      goto out;
    }
    p.message_type = a.media_type;
    p.file_id = up.file_id;
  } else if (a.sticker) {
    p.message_type = "sticker";
    p.file_id = a.sticker;
  } else if (a.contact) {
    p.message_type = "contact";
    p.file_id = a.contact;
  }
  bink_message m;
  bink_status st = bink_send_message(c->client, &p, &m);
  bink_file_clear(&up);
  if (st != BINK_OK) {
    rc = report(c, st);
    goto out;
  }
  rc = print_message(c, &m);
  bink_message_clear(&m);
out:
  bink_keyboard_free(a.kb);
  return rc == HELP_SHOWN ? CLI_OK : rc;
}

static const char HELP_EDIT[] =
    "Usage: bink edit MESSAGE_ID [TEXT] [--text TEXT] [--button TEXT=DATA] [--row]\n"
    "                 [--clear-buttons]\n"
    "\n"
    "Edits one of the bot's messages: its text (or caption) and/or its buttons.\n"
    "--button replaces the keyboard; --clear-buttons removes it.\n";

static const struct option EDIT_OPTS[] = {{"text", required_argument, NULL, O_TEXT},
                                          {"button", required_argument, NULL, O_BUTTON},
                                          {"row", no_argument, NULL, O_ROW},
                                          {"clear-buttons", no_argument, NULL, O_CLEAR},
                                          {NULL, 0, NULL, 0}};

static int cmd_edit(cli *c, int argc, char **argv) {
  send_args a;
  memset(&a, 0, sizeof a);
  int i;
  int rc = parse_opts(c, argc, argv, EDIT_OPTS, HELP_EDIT, send_opt, &a, &i);
  if (rc != CLI_OK)
    goto out;
  rc = CLI_USAGE;
  if (argc - i < 1 || argc - i > 2) {
    cli_usage_error(c->cmd, "give MESSAGE_ID and optionally the new text");
    goto out;
  }
  const char *id = argv[i];
  if (argc - i == 2) {
    if (a.text) {
      cli_usage_error(c->cmd, "give the text either with --text or as an argument");
      goto out;
    }
    a.text = argv[i + 1];
  }
  if (a.clear && a.kb) {
    cli_usage_error(c->cmd, "--clear-buttons and --button exclude each other");
    goto out;
  }
  if (a.clear && !(a.kb = bink_keyboard_new())) {
    rc = CLI_ERROR;
    goto out;
  }
  if (!a.text && !a.kb) {
    cli_usage_error(c->cmd, "nothing to change: give a text, --button or --clear-buttons");
    goto out;
  }
  if ((rc = connect_client(c)) != CLI_OK)
    goto out;
  bink_message m;
  bink_status st = bink_edit_message(c->client, id, a.text, a.kb, &m);
  if (st != BINK_OK) {
    rc = report(c, st);
    goto out;
  }
  rc = print_message(c, &m);
  bink_message_clear(&m);
out:
  bink_keyboard_free(a.kb);
  return rc == HELP_SHOWN ? CLI_OK : rc;
}

/* ---- delete ---- */

static const char HELP_DELETE[] =
    "Usage: bink delete MESSAGE_ID...\n"
    "\n"
    "Deletes messages (up to 100). With several ids, the ones that could not be\n"
    "deleted are listed on stderr and the exit status is 1.\n";

static int cmd_delete(cli *c, int argc, char **argv) {
  int i;
  int rc = parse_opts(c, argc, argv, NULL, HELP_DELETE, NULL, NULL, &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (argc - i < 1)
    return cli_usage_error(c->cmd, "give at least one MESSAGE_ID");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  if (argc - i == 1) {
    bink_status st = bink_delete_message(c->client, argv[i]);
    if (st != BINK_OK)
      return report(c, st);
    if (c->json)
      printf("{\"deleted\":[\"%s\"]}\n", argv[i]);
    else
      printf("deleted %s\n", argv[i]);
    return CLI_OK;
  }
  bink_delete_result r;
  bink_status st = bink_delete_messages(c->client, (const char *const *)(argv + i),
                                        (size_t)(argc - i), &r);
  if (st != BINK_OK)
    return report(c, st);
  if (c->json) {
    json_t *o = json_pack("{s:[], s:[]}", "deleted", "failed");
    for (size_t k = 0; o && k < r.deleted_count; k++)
      json_array_append_new(json_object_get(o, "deleted"), json_string(r.deleted[k]));
    for (size_t k = 0; o && k < r.failed_count; k++)
      json_array_append_new(json_object_get(o, "failed"),
                            json_pack("{s:s, s:i, s:s}", "message_id", r.failed[k].message_id,
                                      "code", r.failed[k].code, "msg", r.failed[k].msg));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
      printf("%s\n", s);
    free(s);
    json_decref(o);
  } else {
    for (size_t k = 0; k < r.deleted_count; k++)
      printf("deleted %s\n", r.deleted[k]);
  }
  for (size_t k = 0; k < r.failed_count; k++) {
    fputs("bink: ", stderr);
    cli_put_safe(stderr, r.failed[k].message_id);
    fprintf(stderr, ": error %d: ", r.failed[k].code);
    cli_put_safe(stderr, r.failed[k].msg);
    fputc('\n', stderr);
  }
  rc = r.failed_count ? CLI_ERROR : CLI_OK;
  bink_delete_result_clear(&r);
  return rc;
}

/* ---- upload, file ---- */

static const char HELP_UPLOAD[] =
    "Usage: bink upload PATH [--json]\n"
    "\n"
    "Uploads a file and prints its file_id (--json: file_id, file_name,\n"
    "mime_type, file_size, sha256). Send it with 'bink send --image ...' in one\n"
    "step, or later by id.\n";

static int cmd_upload(cli *c, int argc, char **argv) {
  int i;
  int rc = parse_opts(c, argc, argv, NULL, HELP_UPLOAD, NULL, NULL, &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (argc - i != 1)
    return cli_usage_error(c->cmd, "give exactly one PATH");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  bink_file f;
  bink_status st = bink_upload_path(c->client, argv[i], &f);
  if (st != BINK_OK)
    return report(c, st);
  if (c->json) {
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "file_id", f.file_id, "file_name",
                          f.file_name, "mime_type", f.mime_type, "file_size",
                          (json_int_t)f.file_size, "sha256", f.sha256);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
      printf("%s\n", s);
    free(s);
    json_decref(o);
  } else {
    printf("%s\n", f.file_id);
  }
  bink_file_clear(&f);
  return CLI_OK;
}

static const char HELP_FILE[] =
    "Usage: bink file FILE_ID [--output PATH]\n"
    "\n"
    "Prints a file's metadata (getfile); with --output, downloads its bytes to\n"
    "PATH ('-' for stdout).\n";

static const struct option FILE_OPTS[] = {{"output", required_argument, NULL, O_OUTPUT},
                                          {NULL, 0, NULL, 0}};

static int file_opt(cli *c, int opt, const char *arg, void *ud) {
  (void)c;
  *(const char **)ud = arg;
  return opt == O_OUTPUT ? CLI_OK : CLI_USAGE;
}

static int cmd_file(cli *c, int argc, char **argv) {
  const char *output = NULL;
  int i;
  int rc = parse_opts(c, argc, argv, FILE_OPTS, HELP_FILE, file_opt, &output, &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (argc - i != 1)
    return cli_usage_error(c->cmd, "give exactly one FILE_ID");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  if (!output)
    return call_and_print(c, "getfile", json_pack("{s:s}", "file_id", argv[i]));
  bink_status st;
  if (strcmp(output, "-") == 0) {
    char *data = NULL;
    size_t len = 0;
    st = bink_download_mem(c->client, argv[i], &data, &len);
    if (st == BINK_OK) {
      fwrite(data, 1, len, stdout);
      free(data);
    }
  } else {
    st = bink_download_to_path(c->client, argv[i], output);
  }
  return st == BINK_OK ? CLI_OK : report(c, st);
}

/* ---- answer ---- */

static const char HELP_ANSWER[] =
    "Usage: bink answer CALLBACK_ID [--text TEXT] [--alert] [--open-url URL]\n"
    "\n"
    "Answers a button click (a callback_query event) within 30 s. --alert\n"
    "shows the text as an alert instead of a toast; --open-url gives the URL\n"
    "the App opens (answercallback's url).\n";

typedef struct answer_args {
  const char *text, *url;
  int alert;
} answer_args;

static const struct option ANSWER_OPTS[] = {{"text", required_argument, NULL, O_TEXT},
                                            {"alert", no_argument, NULL, O_ALERT},
                                            {"open-url", required_argument, NULL, O_URLOPT},
                                            {NULL, 0, NULL, 0}};

static int answer_opt(cli *c, int opt, const char *arg, void *ud) {
  answer_args *a = ud;
  (void)c;
  if (opt == O_TEXT)
    a->text = arg;
  else if (opt == O_ALERT)
    a->alert = 1;
  else if (opt == O_URLOPT)
    a->url = arg;
  return CLI_OK;
}

static int cmd_answer(cli *c, int argc, char **argv) {
  answer_args a;
  memset(&a, 0, sizeof a);
  int i;
  int rc = parse_opts(c, argc, argv, ANSWER_OPTS, HELP_ANSWER, answer_opt, &a, &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (argc - i != 1)
    return cli_usage_error(c->cmd, "give exactly one CALLBACK_ID");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  int64_t at = 0;
  bink_status st = bink_answer_callback(c->client, argv[i], a.text, a.alert, a.url, &at);
  if (st != BINK_OK)
    return report(c, st);
  if (c->json)
    printf("{\"callback_id\":\"%s\",\"answered_at\":%" PRId64 "}\n", argv[i], at);
  else
    printf("answered %s\n", argv[i]);
  return CLI_OK;
}

/* ---- commands ---- */

static const char HELP_COMMANDS[] =
    "Usage: bink commands get\n"
    "       bink commands set [COMMAND=DESCRIPTION ...]\n"
    "\n"
    "Reads or replaces the bot's command menu; 'set' without entries clears it.\n"
    "Example: bink commands set start='Start the bot' help='Show help'\n";

static int cmd_commands(cli *c, int argc, char **argv) {
  int i;
  int rc = parse_opts(c, argc, argv, NULL, HELP_COMMANDS, NULL, NULL, &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (argc - i < 1)
    return cli_usage_error(c->cmd, "give 'get' or 'set'");
  const char *sub = argv[i++];
  if (strcmp(sub, "get") == 0) {
    if (i < argc)
      return cli_usage_error(c->cmd, "'commands get' takes no arguments");
    if ((rc = connect_client(c)) != CLI_OK)
      return rc;
    bink_command_list l;
    bink_status st = bink_get_commands(c->client, &l);
    if (st != BINK_OK)
      return report(c, st);
    if (c->json) {
      json_t *arr = json_array();
      for (size_t k = 0; arr && k < l.count; k++)
        json_array_append_new(arr, json_pack("{s:s, s:s}", "command", l.items[k].command,
                                             "description", l.items[k].description));
      json_t *o = json_pack("{s:o}", "commands", arr);
      char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
      if (s)
        printf("%s\n", s);
      free(s);
      json_decref(o);
    } else {
      for (size_t k = 0; k < l.count; k++) {
        putchar('/');
        cli_put_safe(stdout, l.items[k].command);
        fputs(" - ", stdout);
        cli_put_safe(stdout, l.items[k].description);
        putchar('\n');
      }
    }
    bink_command_list_clear(&l);
    return CLI_OK;
  }
  if (strcmp(sub, "set") != 0)
    return cli_usage_error(c->cmd, "unknown 'commands %s': give 'get' or 'set'", sub);
  size_t n = (size_t)(argc - i);
  bink_command *cmds = calloc(n ? n : 1, sizeof *cmds);
  if (!cmds)
    return CLI_ERROR;
  for (size_t k = 0; k < n; k++) {
    char *arg = argv[i + (int)k];
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
      free(cmds);
      return cli_usage_error(c->cmd, "'%s' is not COMMAND=DESCRIPTION", arg);
    }
    *eq = '\0';
    cmds[k].command = arg;
    cmds[k].description = eq + 1;
  }
  if ((rc = connect_client(c)) != CLI_OK) {
    free(cmds);
    return rc;
  }
  bink_status st = bink_set_commands(c->client, cmds, n);
  free(cmds);
  if (st != BINK_OK)
    return report(c, st);
  if (c->json)
    printf("{\"count\":%zu}\n", n);
  else
    printf("%zu command%s set\n", n, n == 1 ? "" : "s");
  return CLI_OK;
}

/* ---- mute, unmute ---- */

typedef struct mute_args {
  const char *group, *user;
  long duration;
} mute_args;

static const struct option MUTE_OPTS[] = {{"group", required_argument, NULL, O_GROUP},
                                          {"user", required_argument, NULL, O_USER},
                                          {"duration", required_argument, NULL, O_DURATION},
                                          {NULL, 0, NULL, 0}};

static int mute_opt(cli *c, int opt, const char *arg, void *ud) {
  mute_args *a = ud;
  if (opt == O_GROUP)
    a->group = arg;
  else if (opt == O_USER)
    a->user = arg;
  else if (opt == O_DURATION && !parse_long(arg, 0, LONG_MAX, &a->duration))
    return cli_usage_error(c->cmd, "--duration wants seconds, not '%s'", arg);
  return CLI_OK;
}

static const char HELP_MUTE[] =
    "Usage: bink mute --group GROUP_ID --user USER_ID [--duration SECONDS]\n"
    "\n"
    "Mutes a member (the bot must be an admin). Duration 0 (the default) mutes\n"
    "until unmuted; otherwise 30..31622400 s.\n";

static const char HELP_UNMUTE[] =
    "Usage: bink unmute --group GROUP_ID --user USER_ID\n\nUnmutes a member.\n";

static int cmd_mute(cli *c, int argc, char **argv, int mute) {
  mute_args a;
  memset(&a, 0, sizeof a);
  int i;
  int rc = parse_opts(c, argc, argv, MUTE_OPTS, mute ? HELP_MUTE : HELP_UNMUTE, mute_opt, &a,
                      &i);
  if (rc != CLI_OK)
    return rc == HELP_SHOWN ? CLI_OK : rc;
  if (i < argc)
    return cli_usage_error(c->cmd, "unexpected argument '%s'", argv[i]);
  if (!a.group || !a.user)
    return cli_usage_error(c->cmd, "--group and --user are required");
  if (!mute && a.duration)
    return cli_usage_error(c->cmd, "unmute takes no --duration");
  if ((rc = connect_client(c)) != CLI_OK)
    return rc;
  if (mute)
    return call_and_print(c, "mutemember",
                          json_pack("{s:s, s:s, s:I}", "group_id", a.group, "user_id", a.user,
                                    "duration", (json_int_t)a.duration));
  return call_and_print(c, "unmutemember",
                        json_pack("{s:s, s:s}", "group_id", a.group, "user_id", a.user));
}

/* ---- updates ---- */

typedef struct updates_args {
  int follow;
  long offset, limit, wait, max;
  int have_wait;
  char *allowed; /* comma-separated, owned copy */
} updates_args;

static const struct option UPDATES_OPTS[] = {
    {"follow", no_argument, NULL, O_FOLLOW},
    {"offset", required_argument, NULL, O_OFFSET},
    {"limit", required_argument, NULL, O_LIMIT},
    {"wait", required_argument, NULL, O_WAIT},
    {"allowed-events", required_argument, NULL, O_ALLOWED},
    {"max", required_argument, NULL, O_MAX},
    {NULL, 0, NULL, 0}};

static int updates_opt(cli *c, int opt, const char *arg, void *ud) {
  updates_args *a = ud;
  switch (opt) {
  case O_FOLLOW: a->follow = 1; return CLI_OK;
  case O_OFFSET:
    return parse_long(arg, 0, LONG_MAX, &a->offset)
               ? CLI_OK
               : cli_usage_error(c->cmd, "--offset wants an update_id, not '%s'", arg);
  case O_LIMIT:
    return parse_long(arg, 1, 100, &a->limit)
               ? CLI_OK
               : cli_usage_error(c->cmd, "--limit wants 1..100, not '%s'", arg);
  case O_WAIT:
    a->have_wait = 1;
    return parse_long(arg, 0, 50, &a->wait)
               ? CLI_OK
               : cli_usage_error(c->cmd, "--wait wants seconds 0..50, not '%s'", arg);
  case O_MAX:
    return parse_long(arg, 1, LONG_MAX, &a->max)
               ? CLI_OK
               : cli_usage_error(c->cmd, "--max wants a count >= 1, not '%s'", arg);
  case O_ALLOWED:
    free(a->allowed);
    a->allowed = strdup(arg);
    return a->allowed ? CLI_OK : CLI_ERROR;
  default: return CLI_USAGE;
  }
}

static const char HELP_UPDATES[] =
    "Usage: bink updates [--follow] [--offset N] [--limit N] [--wait S]\n"
    "                    [--allowed-events TYPE,...] [--max N]\n"
    "\n"
    "Prints the bot's pending events (getupdates), one JSON object a line.\n"
    "Without --follow: one call (--wait seconds of long poll, default 0);\n"
    "--offset confirms the events before it. With --follow: polls until\n"
    "interrupted (or --max events were printed), confirming what it printed;\n"
    "transport errors and 503 (a server restarting) are retried with back-off\n"
    "(1, 2, 4 .. 30 s) for as long as it runs.\n"
    "\n"
    "--allowed-events TYPE,... sets which event types the bot receives:\n"
    "private_message, group_message, member_joined, callback_query. The server\n"
    "remembers the list (for later polls and for a webhook); without the\n"
    "option the current list stays, and --allowed-events '' means all types.\n";

typedef struct follow_state {
  long printed, max;
} follow_state;

static int on_event(bink_client *client, const bink_event *ev, void *ud) {
  (void)client;
  follow_state *s = ud;
  printf("%s\n", ev->json);
  fflush(stdout);
  s->printed++;
  return s->max > 0 && s->printed >= s->max;
}

static int cmd_updates(cli *c, int argc, char **argv) {
  updates_args a;
  memset(&a, 0, sizeof a);
  int i;
  const char *events[16];
  size_t nevents = 0;
  int rc = parse_opts(c, argc, argv, UPDATES_OPTS, HELP_UPDATES, updates_opt, &a, &i);
  if (rc != CLI_OK)
    goto out;
  rc = CLI_USAGE;
  if (i < argc) {
    cli_usage_error(c->cmd, "unexpected argument '%s'", argv[i]);
    goto out;
  }
  if (a.allowed) {
    char *save = NULL;
    for (char *t = strtok_r(a.allowed, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (nevents == sizeof events / sizeof events[0]) {
        cli_usage_error(c->cmd, "too many --allowed-events");
        goto out;
      }
      events[nevents++] = t;
    }
  }
  if ((rc = connect_client(c)) != CLI_OK)
    goto out;
  if (a.follow) {
    cli_catch_signals();
    bink_poll_options o;
    memset(&o, 0, sizeof o);
    o.timeout_s = a.have_wait && a.wait > 0 ? (int)a.wait : 30;
    o.limit = (int)a.limit;
    o.offset = a.offset;
    o.allowed_events = a.allowed ? events : NULL;
    o.allowed_event_count = nevents;
    /* ride out restarts and network trouble until interrupted */
    o.max_transport_retries = INT_MAX;
    follow_state s = {0, a.max};
    bink_status st = bink_poll(c->client, &o, on_event, &s, NULL);
    rc = (st == BINK_OK || st == BINK_E_CANCELLED) ? CLI_OK : report(c, st);
    goto out;
  }
  bink_event_list l;
  bink_status st = bink_get_updates(c->client, a.offset, (int)a.limit, (int)a.wait,
                                    a.allowed ? events : NULL, nevents, &l);
  if (st != BINK_OK) {
    rc = report(c, st);
    goto out;
  }
  for (size_t k = 0; k < l.count && (a.max == 0 || (long)k < a.max); k++)
    printf("%s\n", l.items[k].json);
  bink_event_list_clear(&l);
  rc = CLI_OK;
out:
  free(a.allowed);
  return rc == HELP_SHOWN ? CLI_OK : rc;
}

/* ---- webhook ---- */

typedef struct webhook_args {
  const char *secret;
  long max_conn;
  int drop;
  char *allowed;
} webhook_args;

static const struct option WEBHOOK_OPTS[] = {
    {"secret", required_argument, NULL, O_SECRET},
    {"max-connections", required_argument, NULL, O_MAXCONN},
    {"allowed-events", required_argument, NULL, O_ALLOWED},
    {"drop-pending", no_argument, NULL, O_DROP},
    {NULL, 0, NULL, 0}};

static int webhook_opt(cli *c, int opt, const char *arg, void *ud) {
  webhook_args *a = ud;
  switch (opt) {
  case O_SECRET: a->secret = arg; return CLI_OK;
  case O_DROP: a->drop = 1; return CLI_OK;
  case O_MAXCONN:
    return parse_long(arg, 1, 100, &a->max_conn)
               ? CLI_OK
               : cli_usage_error(c->cmd, "--max-connections wants 1..100, not '%s'", arg);
  case O_ALLOWED:
    free(a->allowed);
    a->allowed = strdup(arg);
    return a->allowed ? CLI_OK : CLI_ERROR;
  default: return CLI_USAGE;
  }
}

static const char HELP_WEBHOOK[] =
    "Usage: bink webhook set URL [--secret S] [--max-connections N]\n"
    "                            [--allowed-events TYPE,...] [--drop-pending]\n"
    "       bink webhook info\n"
    "       bink webhook delete [--drop-pending]\n"
    "       bink webhook listen --port N [--secret S] [--max N]\n"
    "\n"
    "Sets, shows or deletes the bot's webhook. 'listen' runs a receiver on\n"
    "127.0.0.1 that checks signatures and prints one JSON line per event\n"
    "(see 'bink webhook listen --help').\n"
    "\n"
    "--allowed-events TYPE,... sets which event types are delivered:\n"
    "private_message, group_message, member_joined, callback_query. The server\n"
    "remembers the list (getupdates uses it too); without the option the\n"
    "current list stays, and --allowed-events '' means all types.\n";

static int cmd_webhook(cli *c, int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "listen") == 0)
    return cli_webhook_listen(argc - 1, argv + 1, c->json);
  webhook_args a;
  memset(&a, 0, sizeof a);
  int i;
  const char *events[16];
  size_t nevents = 0;
  int rc = parse_opts(c, argc, argv, WEBHOOK_OPTS, HELP_WEBHOOK, webhook_opt, &a, &i);
  if (rc != CLI_OK)
    goto out;
  rc = CLI_USAGE;
  if (argc - i < 1) {
    cli_usage_error(c->cmd, "give 'set', 'info', 'delete' or 'listen'");
    goto out;
  }
  const char *sub = argv[i++];
  if (a.allowed) {
    char *save = NULL;
    for (char *t = strtok_r(a.allowed, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      if (nevents == sizeof events / sizeof events[0]) {
        cli_usage_error(c->cmd, "too many --allowed-events");
        goto out;
      }
      events[nevents++] = t;
    }
  }
  if (strcmp(sub, "set") == 0) {
    if (argc - i != 1) {
      cli_usage_error(c->cmd, "'webhook set' wants exactly one URL");
      goto out;
    }
    if ((rc = connect_client(c)) != CLI_OK)
      goto out;
    bink_webhook_params p;
    memset(&p, 0, sizeof p);
    p.url = argv[i];
    p.secret = a.secret;
    p.max_connections = (int)a.max_conn;
    p.allowed_events = a.allowed ? events : NULL;
    p.allowed_event_count = nevents;
    p.drop_pending = a.drop;
    bink_status st = bink_set_webhook(c->client, &p);
    if (st != BINK_OK) {
      rc = report(c, st);
      goto out;
    }
    if (c->json)
      printf("{\"ok\":true}\n");
    else
      printf("webhook set\n");
    rc = CLI_OK;
  } else if (strcmp(sub, "info") == 0) {
    if (i < argc) {
      cli_usage_error(c->cmd, "'webhook info' takes no arguments");
      goto out;
    }
    if ((rc = connect_client(c)) != CLI_OK)
      goto out;
    rc = call_and_print(c, "getwebhookinfo", json_object());
  } else if (strcmp(sub, "delete") == 0) {
    if (i < argc) {
      cli_usage_error(c->cmd, "'webhook delete' takes no arguments");
      goto out;
    }
    if ((rc = connect_client(c)) != CLI_OK)
      goto out;
    bink_status st = bink_delete_webhook(c->client, a.drop);
    if (st != BINK_OK) {
      rc = report(c, st);
      goto out;
    }
    if (c->json)
      printf("{\"ok\":true}\n");
    else
      printf("webhook deleted\n");
    rc = CLI_OK;
  } else {
    cli_usage_error(c->cmd, "unknown 'webhook %s'", sub);
  }
out:
  free(a.allowed);
  return rc == HELP_SHOWN ? CLI_OK : rc;
}

/* ---- main ---- */

typedef struct command {
  const char *name;
  int (*run)(cli *c, int argc, char **argv);
} command;

static int cmd_mute_on(cli *c, int argc, char **argv) { return cmd_mute(c, argc, argv, 1); }
static int cmd_mute_off(cli *c, int argc, char **argv) { return cmd_mute(c, argc, argv, 0); }

static const command COMMANDS[] = {
    {"getme", cmd_getme},       {"send", cmd_send},        {"edit", cmd_edit},
    {"delete", cmd_delete},     {"upload", cmd_upload},    {"file", cmd_file},
    {"answer", cmd_answer},     {"commands", cmd_commands}, {"mute", cmd_mute_on},
    {"unmute", cmd_mute_off},   {"group", cmd_group},      {"updates", cmd_updates},
    {"webhook", cmd_webhook},
};

int main(int argc, char **argv) {
  cli c;
  memset(&c, 0, sizeof c);
  c.url = getenv("BINK_URL");
  if (!c.url || !*c.url)
    c.url = DEFAULT_URL;
  c.token = getenv("BINK_TOKEN");

  /* global options before the command */
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    int opt = 0;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(GLOBAL_HELP, stdout);
      return CLI_OK;
    }
    if (strcmp(a, "--version") == 0) {
      printf("bink %s\n", BINK_VERSION_STRING);
      return CLI_OK;
    }
    if (strcmp(a, "--json") == 0) {
      c.json = 1;
      continue;
    }
    static const struct {
      const char *name;
      int opt;
    } with_value[] = {{"--url", OPT_URL}, {"--token", OPT_TOKEN}, {"--retry", OPT_RETRY},
                      {"--timeout", OPT_TIMEOUT}};
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++) {
      size_t n = strlen(with_value[k].name);
      if (strncmp(a, with_value[k].name, n) == 0 && (a[n] == '\0' || a[n] == '=')) {
        opt = with_value[k].opt;
        if (a[n] == '=')
          val = a + n + 1;
        else if (i + 1 < argc)
          val = argv[++i];
        else
          return cli_usage_error(NULL, "option '%s' needs a value", a);
        break;
      }
    }
    if (!opt)
      return cli_usage_error(NULL, "unknown option '%s'", a);
    if (common_opt(&c, opt, val) < 0)
      return CLI_USAGE;
  }
  if (i >= argc)
    return cli_usage_error(NULL, "no command given");
  const char *name = argv[i];
  const command *cmd = NULL;
  for (size_t k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
    if (strcmp(COMMANDS[k].name, name) == 0)
      cmd = &COMMANDS[k];
  if (!cmd)
    return cli_usage_error(NULL, "unknown command '%s'", name);
  c.cmd = cmd->name;
  if (bink_global_init() != BINK_OK) {
    fprintf(stderr, "bink: cannot initialise libcurl\n");
    return CLI_ERROR;
  }
  int rc = cmd->run(&c, argc - i, argv + i);
  if (rc == HELP_SHOWN)
    rc = CLI_OK;
  bink_client_free(c.client);
  bink_global_cleanup();
  return rc;
}
