/*
 * admin.c: the operator's commands of binkd (server.md): `binkd user add`,
 * `binkd bot add`, `binkd stickers import`, `binkd migrate` and the
 * one-time `--demo` set-up. They run the same svc operations as the App
 * API, through the store's writer.
 */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/render.h"
#include "log.h"
#include "store/migrate.h"
#include "svc/files.h"
#include "svc/svc.h"

static bink_str admin__str(const char *s) {
  bink_str v = {s, s ? strlen(s) : 0};
  return v;
}

static void admin__ctx(svc_ctx *x, const bink_account *caller,
                       const bink_limits *l, json_t **out) {
  x->caller = caller;
  x->now = (int64_t)time(NULL);
  x->limits = l;
  x->out = out;
}

/* Creates a user or (with an owner) a bot inside the current transaction;
 * *out receives {"user_id"|"bot_id", "username", "display_name", "token"}. */
static bink_rc admin__account(store_conn *c, const bink_limits *l,
                              const bink_account *owner, const char *username,
                              const char *display_name, json_t **out,
                              bink_err *err) {
  svc_register op;
  memset(&op, 0, sizeof op);
  admin__ctx(&op.x, owner, l, out);
  op.username = admin__str(username);
  op.display_name = admin__str(display_name ? display_name : username);
  op.is_bot = owner != NULL;
  op.open_registration = true;
  return svc_register_job(c, &op, err);
}

typedef struct admin__add {
  const binkd_config *cfg;
  const bink_limits *limits;
  json_t *out;
} admin__add;

static bink_rc admin__user_add_job(store_conn *c, void *arg, bink_err *err) {
  admin__add *a = arg;
  return admin__account(c, a->limits, NULL, a->cfg->args[2],
                        a->cfg->display_name, &a->out, err);
}

static bink_rc admin__bot_add_job(store_conn *c, void *arg, bink_err *err) {
  admin__add *a = arg;
  bink_account owner;
  bink_rc rc = store_account_by_username(c, a->cfg->owner,
                                         strlen(a->cfg->owner), &owner);
  if (rc != BINK_OK || owner.is_bot)
    return bink_fail(err, BINK_ENOTFOUND, "--owner %s: no such user",
                     a->cfg->owner);
  rc = admin__account(c, a->limits, &owner, a->cfg->args[2],
                      a->cfg->display_name, &a->out, err);
  if (rc != BINK_OK || !a->cfg->webhook)
    return rc;
  svc_update_bot op;
  memset(&op, 0, sizeof op);
  admin__ctx(&op.x, &owner, a->limits, NULL);
  op.bot_id = admin__str(json_string_value(json_object_get(a->out, "bot_id")));
  op.webhook_url = admin__str(a->cfg->webhook);
  return svc_update_bot_job(c, &op, err);
}

/* `binkd stickers import DIR [--set NAME]` (server.md): one line per
 * imported sticker on stdout (id, set, emoji, file), problems on stderr. */
static int admin__stickers(const binkd_config *cfg, store *st) {
  if (cfg->nargs != 3 || strcmp(cfg->args[1], "import") != 0) {
    fprintf(stderr, "usage: binkd stickers import DIR [--set NAME]\n");
    return 2;
  }
  if (files_prepare_dirs(cfg->data) != 0)
    return 1;
  int n = files_import_stickers(st, cfg->data, cfg->args[2], cfg->set, stdout);
  if (n < 0)
    return 1;
  fprintf(stderr, "imported %d sticker(s) from %s\n", n, cfg->args[2]);
  return n > 0 ? 0 : 1;
}

int admin_migrate(const binkd_config *cfg) {
  if (cfg->nargs != 1 || !cfg->from || !cfg->to) {
    fprintf(stderr, "usage: binkd migrate --from sqlite:PATH --to "
                    "postgresql://...\n");
    return 2;
  }
  bink_err err = {0};
  if (store_migrate(cfg->from, cfg->to, stdout, &err) != BINK_OK) {
    fprintf(stderr, "binkd migrate: %s\n", err.msg);
    return err.code == BINK_EINVAL ? 2 : 1;
  }
  fprintf(stderr, "migrated %s into PostgreSQL; start binkd with --db set to "
                  "the same URI and the same --data directory\n",
          cfg->from);
  return 0;
}

int admin_run(const binkd_config *cfg, store *st, const bink_limits *limits) {
  if (strcmp(cfg->args[0], "stickers") == 0)
    return admin__stickers(cfg, st);
  bool user = strcmp(cfg->args[0], "user") == 0;
  bool bot = strcmp(cfg->args[0], "bot") == 0;
  if (!(user || bot) || cfg->nargs < 2 || strcmp(cfg->args[1], "add") != 0) {
    fprintf(stderr, "binkd: unknown command '%s'; see binkd --help\n",
            cfg->args[0]);
    return 2;
  }
  if (cfg->nargs != 3) {
    fprintf(stderr, "usage: binkd %s add USERNAME%s\n", cfg->args[0],
            bot ? " --owner USERNAME [--display-name NAME] [--webhook URL]"
                : " [--display-name NAME]");
    return 2;
  }
  if (bot && !cfg->owner) {
    fprintf(stderr, "binkd bot add: --owner USERNAME is required\n");
    return 2;
  }
  admin__add a = {cfg, limits, NULL};
  bink_err err = {0};
  bink_rc rc = store_write(st, user ? admin__user_add_job : admin__bot_add_job,
                           &a, &err);
  if (rc != BINK_OK) {
    fprintf(stderr, "binkd %s add: %s\n", cfg->args[0], err.msg);
    json_decref(a.out);
    return 1;
  }
  printf("%s\n", json_string_value(json_object_get(a.out, "token")));
  fprintf(stderr, "created %s %s (%s)\n", user ? "user" : "bot",
          json_string_value(json_object_get(a.out, "username")),
          json_string_value(json_object_get(a.out, user ? "user_id" : "bot_id")));
  json_decref(a.out);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* --demo                                                                  */

typedef struct admin__demo {
  const bink_limits *limits;
  json_t *user, *bot, *group;
} admin__demo;

static bink_rc admin__demo_job(store_conn *c, void *arg, bink_err *err) {
  admin__demo *d = arg;
  bink_rc rc = admin__account(c, d->limits, NULL, "alice", "Alice", &d->user,
                              err);
  if (rc != BINK_OK)
    return rc;
  bink_account alice;
  const char *uid = json_string_value(json_object_get(d->user, "user_id"));
  if ((rc = store_account_get_ext(c, uid, strlen(uid), &alice)) != BINK_OK)
    return bink_fail(err, rc, "cannot read the demo user back");
  if ((rc = admin__account(c, d->limits, &alice, "demo_bot", "Demo Bot",
                           &d->bot, err)) != BINK_OK)
    return rc;

  svc_create_group g;
  memset(&g, 0, sizeof g);
  admin__ctx(&g.x, &alice, d->limits, &d->group);
  g.title = admin__str("Demo");
  g.description = admin__str("A group to try bots in");
  g.is_public = true;
  if ((rc = svc_create_group_job(c, &g, err)) != BINK_OK)
    return rc;

  svc_group_op add;
  memset(&add, 0, sizeof add);
  admin__ctx(&add.x, &alice, d->limits, NULL);
  add.group_id = admin__str(json_string_value(json_object_get(d->group, "group_id")));
  add.user_id = admin__str(json_string_value(json_object_get(d->bot, "bot_id")));
  if ((rc = svc_add_member_job(c, &add, err)) != BINK_OK)
    return rc;

  /* A command menu, so that typing "/" to demo_bot shows something. */
  bink_account bot;
  const char *bid = json_string_value(json_object_get(d->bot, "bot_id"));
  if ((rc = store_account_get_ext(c, bid, strlen(bid), &bot)) != BINK_OK)
    return bink_fail(err, rc, "cannot read the demo bot back");
  svc_set_commands menu;
  memset(&menu, 0, sizeof menu);
  admin__ctx(&menu.x, &bot, d->limits, NULL);
  json_t *cmds = json_pack("[{s:s, s:s}, {s:s, s:s}]", "command", "start",
                           "description", "Start a conversation", "command",
                           "help", "description", "What this bot can do");
  menu.commands = cmds;
  rc = cmds ? svc_set_commands_job(c, &menu, err)
            : bink_fail(err, BINK_EINTERNAL, "out of memory");
  json_decref(cmds);
  return rc;
}

static int admin__print_demo(const binkd_config *cfg, const char *base,
                             json_t *saved) {
  const char *ut = json_string_value(json_object_get(saved, "user_token"));
  const char *bt = json_string_value(json_object_get(saved, "bot_token"));
  const char *gid = json_string_value(json_object_get(saved, "group_id"));
  if (!ut || !bt || !gid)
    return -1;
  printf("\nbink demo at %s\n"
         "  web sandbox:  open %s/ in a browser, sign in as alice (or any new "
         "name) and write to demo_bot\n"
         "  user alice:   token %s  (%s)\n"
         "  bot demo_bot: token %s  (%s)\n"
         "  group Demo:   %s\n\n"
         "Send a message as the bot:\n"
         "  curl -X POST \"%s/bot/sendmessage\" \\\n"
         "    -H \"Authorization: Bearer %s\" \\\n"
         "    -H \"Content-Type: application/json\" \\\n"
         "    -d '{\"group_id\": \"%s\", \"message_type\": \"text\", "
         "\"content\": \"Hello, World!\"}'\n"
         "Read the group as alice:\n"
         "  curl -X POST \"%s/app/history\" -H \"Authorization: Bearer %s\" "
         "-d '{\"group_id\": \"%s\"}'\n\n",
         base, base, ut, json_string_value(json_object_get(saved, "user_id")),
         bt,
         json_string_value(json_object_get(saved, "bot_id")), gid, base, bt,
         gid, base, ut, gid);
  fflush(stdout);
  (void)cfg;
  return 0;
}

int admin_demo(const binkd_config *cfg, store *st, const bink_limits *limits,
               const char *base_url) {
  char path[BINKD_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/demo.json", cfg->data);
  json_t *saved = json_load_file(path, 0, NULL);
  if (!saved) {
    admin__demo d = {limits, NULL, NULL, NULL};
    bink_err err = {0};
    bink_rc rc = store_write(st, admin__demo_job, &d, &err);
    if (rc == BINK_OK) {
      saved = json_pack(
          "{s:O, s:O, s:O, s:O, s:O}", "user_id",
          json_object_get(d.user, "user_id"), "user_token",
          json_object_get(d.user, "token"), "bot_id",
          json_object_get(d.bot, "bot_id"), "bot_token",
          json_object_get(d.bot, "token"), "group_id",
          json_object_get(d.group, "group_id"));
      /* The tokens are stored only hashed; this file (mode 0600) is how a
       * later --demo run can print them again. */
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd < 0 || !saved || json_dumpfd(saved, fd, JSON_INDENT(2)) != 0)
        binkd_log(BINKD_LOG_WARN, "cannot save %s: %s", path, strerror(errno));
      if (fd >= 0)
        close(fd);
    } else {
      binkd_log(BINKD_LOG_ERROR,
                "--demo: %s (the database already has a user 'alice' but "
                "%s is missing)",
                err.msg, path);
    }
    json_decref(d.user);
    json_decref(d.bot);
    json_decref(d.group);
    if (rc != BINK_OK)
      return -1;
  }
  int rc = admin__print_demo(cfg, base_url, saved);
  json_decref(saved);
  return rc;
}
