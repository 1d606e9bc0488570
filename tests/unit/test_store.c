/*
 * test_store.c: unit tests of the store (src/store/store.h) on SQLite
 * (src/store/store_sqlite.c): migrations, every accessor family, the
 * group-commit writer with its per-job savepoints, thread-local readers and
 * their clean-up, and failures injected into a batch. The tests of a write
 * job's group look-ups run on PostgreSQL too when $BINK_TEST_PG names a
 * database (ctest's unit.test_store.postgresql, through scripts/with-pg.sh),
 * with the other tests that hold for any store.
 *
 * Each test gets a fresh database "sqlite:<mkdtemp dir>/t.db" (or a fresh
 * PostgreSQL schema) and removes it afterwards. No test sleeps: the writer
 * is held still, when a test needs a deterministic batch, by a job that
 * waits on a condition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <unistd.h>

#include "core/model.h"
#include "core/rules.h"
#include "log.h"
#include "store/store.h"

/* ---------------------------------------------------------------------- */
/* Fixture: a fresh database directory and an open store.                  */

typedef struct fixture {
  char dir[64];   /* on PostgreSQL: the schema's name */
  char db[128];
  char uri[512];  /* "sqlite:PATH", or $BINK_TEST_PG with a search_path */
  bool pg;
  store *s;
} fixture;

static void remove_dir(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];

  if (!d)
    return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

static int setup(void **state)
{
  fixture *f = calloc(1, sizeof *f);
  bink_err err;

  if (!f)
    return -1;
  snprintf(f->dir, sizeof f->dir, "/tmp/bink-store-XXXXXX");
  if (!mkdtemp(f->dir)) {
    free(f);
    return -1;
  }
  snprintf(f->db, sizeof f->db, "%s/t.db", f->dir);
  snprintf(f->uri, sizeof f->uri, "sqlite:%s", f->db);
  memset(&err, 0, sizeof err);
  if (store_open(f->uri, NULL, &f->s, &err) != BINK_OK) {
    fprintf(stderr, "store_open: %s\n", err.msg);
    remove_dir(f->dir);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  fixture *f = *state;

  if (!f)
    return 0;
  store_close(f->s);
  remove_dir(f->dir);
  free(f);
  return 0;
}

/* The same fixture on PostgreSQL, $BINK_TEST_PG naming the database
 * (scripts/with-pg.sh): a fresh schema, one writer (so that a held writer
 * holds them all), dropped afterwards. main() runs the tests that take it
 * only when $BINK_TEST_PG is set. */
static PGconn *pg_admin(void)
{
  PGconn *pg = PQconnectdb(getenv("BINK_TEST_PG"));

  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "BINK_TEST_PG: %s", PQerrorMessage(pg));
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

static bool pg_exec(PGconn *pg, const char *sql)
{
  PGresult *r = PQexec(pg, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

  if (!ok)
    fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
  PQclear(r);
  return ok;
}

static int setup_pg(void **state)
{
  const char *base = getenv("BINK_TEST_PG");
  store_options opt = {.pool = 1};
  fixture *f;
  PGconn *pg;
  char sql[128];
  bink_err err;

  *state = NULL;
  if (!base || !*base || !(f = calloc(1, sizeof *f)))
    return -1;
  if (!(pg = pg_admin())) {
    free(f);
    return -1;
  }
  snprintf(f->dir, sizeof f->dir, "t%ld_%d", (long)getpid(), rand() % 100000);
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", f->dir);
  if (!pg_exec(pg, sql)) {
    PQfinish(pg);
    free(f);
    return -1;
  }
  PQfinish(pg);
  snprintf(f->uri, sizeof f->uri, "%s%coptions=-csearch_path%%3D%s", base,
           strchr(base, '?') ? '&' : '?', f->dir);
  memset(&err, 0, sizeof err);
  if (store_open(f->uri, &opt, &f->s, &err) != BINK_OK) {
    fprintf(stderr, "store_open: %s\n", err.msg);
    free(f);
    return -1;
  }
  f->pg = true;
  *state = f;
  return 0;
}

static int teardown_pg(void **state)
{
  fixture *f = *state;
  PGconn *pg;
  char sql[128];

  if (!f)
    return 0;
  store_close(f->s);
  snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", f->dir);
  if ((pg = pg_admin())) {
    pg_exec(pg, sql);
    PQfinish(pg);
  }
  free(f);
  return 0;
}

static store_conn *reader(fixture *f)
{
  store_conn *c = store_reader(f->s);

  assert_non_null(c);
  return c;
}

/* ---------------------------------------------------------------------- */
/* Small write jobs, each run through store_write().                       */

static void fill_account(bink_account *a, const char *username, bool is_bot,
                         int64_t owner_id)
{
  memset(a, 0, sizeof *a);
  a->is_bot = is_bot;
  snprintf(a->username, sizeof a->username, "%s", username);
  snprintf(a->display_name, sizeof a->display_name, "Name of %s", username);
  snprintf(a->description, sizeof a->description, "About %s", username);
  a->created_at = 1700000000;
  a->owner_id = owner_id;
  a->privacy_mode = true;
  a->can_join_groups = true;
  a->max_connections = 40;
}

typedef struct account_job {
  bink_account *a;
  unsigned char hash[BINK_SHA256_LEN];
} account_job;

static bink_rc job_account_insert(store_conn *c, void *arg, bink_err *err)
{
  account_job *j = arg;

  (void)err;
  return store_account_insert(c, j->a, j->hash);
}

static bink_rc insert_account(store *s, bink_account *a, const char *token)
{
  account_job j;
  bink_err err;

  j.a = a;
  bink_sha256(token, strlen(token), j.hash);
  return store_write(s, job_account_insert, &j, &err);
}

/* Inserts an account named username with the token "tok-<username>". */
static int64_t make_account(fixture *f, const char *username, bool is_bot,
                            int64_t owner_id, bink_account *out)
{
  bink_account a;
  char token[64];

  fill_account(&a, username, is_bot, owner_id);
  snprintf(token, sizeof token, "tok-%s", username);
  assert_int_equal(insert_account(f->s, &a, token), BINK_OK);
  assert_true(a.id > 0);
  if (out)
    *out = a;
  return a.id;
}

static bink_rc job_account_update(store_conn *c, void *arg, bink_err *err)
{
  (void)err;
  return store_account_update(c, arg);
}

static bink_rc job_account_set_token(store_conn *c, void *arg, bink_err *err)
{
  account_job *j = arg;

  (void)err;
  return store_account_set_token(c, j->a->id, j->hash);
}

typedef struct commands_job {
  int64_t bot_id;
  const char *text;
} commands_job;

static bink_rc job_commands_set(store_conn *c, void *arg, bink_err *err)
{
  commands_job *j = arg;

  (void)err;
  return store_commands_set(c, j->bot_id, j->text);
}

static bink_rc job_group_insert(store_conn *c, void *arg, bink_err *err)
{
  (void)err;
  return store_group_insert(c, arg);
}

static int64_t make_group(fixture *f, const char *username, int64_t owner_id,
                          bink_group *out)
{
  bink_group g;
  bink_err err;

  memset(&g, 0, sizeof g);
  snprintf(g.username, sizeof g.username, "%s", username);
  snprintf(g.title, sizeof g.title, "Group %s", username);
  snprintf(g.description, sizeof g.description, "About the group");
  g.is_public = true;
  g.owner_id = owner_id;
  g.created_at = 1700000100;
  assert_int_equal(store_write(f->s, job_group_insert, &g, &err), BINK_OK);
  assert_true(g.id > 0);
  if (out)
    *out = g;
  return g.id;
}

static bink_rc job_member_insert(store_conn *c, void *arg, bink_err *err)
{
  (void)err;
  return store_member_insert(c, arg);
}

/* m: account_id a member of group_id with role since joined_at, unmuted. */
static void fill_member(bink_member *m, int64_t group_id, int64_t account_id,
                        bink_role role, int64_t joined_at)
{
  memset(m, 0, sizeof *m);
  m->group_id = group_id;
  m->account_id = account_id;
  m->role = role;
  m->muted_until = -1;
  m->joined_at = joined_at;
}

static bink_rc add_member(fixture *f, int64_t group_id, int64_t account_id,
                          bink_role role, int64_t joined_at)
{
  bink_member m;
  bink_err err;

  fill_member(&m, group_id, account_id, role, joined_at);
  return store_write(f->s, job_member_insert, &m, &err);
}

typedef struct member_job {
  int64_t group_id, account_id, value;
} member_job;

static bink_rc job_member_delete(store_conn *c, void *arg, bink_err *err)
{
  member_job *j = arg;

  (void)err;
  return store_member_delete(c, j->group_id, j->account_id);
}

static bink_rc job_member_set_role(store_conn *c, void *arg, bink_err *err)
{
  member_job *j = arg;

  (void)err;
  return store_member_set_role(c, j->group_id, j->account_id,
                               (bink_role)j->value);
}

static bink_rc job_member_set_mute(store_conn *c, void *arg, bink_err *err)
{
  member_job *j = arg;

  (void)err;
  return store_member_set_mute(c, j->group_id, j->account_id, j->value);
}

static bink_rc member_op(fixture *f, store_job_fn fn, int64_t group_id,
                         int64_t account_id, int64_t value)
{
  member_job j = {group_id, account_id, value};
  bink_err err;

  return store_write(f->s, fn, &j, &err);
}

typedef struct dm_job {
  int64_t a, b, now;
  bink_dm dm;
} dm_job;

static bink_rc job_dm_open(store_conn *c, void *arg, bink_err *err)
{
  dm_job *j = arg;

  (void)err;
  return store_dm_open(c, j->a, j->b, j->now, &j->dm);
}

static bink_rc job_dm_update(store_conn *c, void *arg, bink_err *err)
{
  dm_job *j = arg;

  (void)err;
  return store_dm_update(c, &j->dm);
}

static bink_dm open_dm(fixture *f, int64_t a, int64_t b, int64_t now)
{
  dm_job j;
  bink_err err;

  memset(&j, 0, sizeof j);
  j.a = a;
  j.b = b;
  j.now = now;
  assert_int_equal(store_write(f->s, job_dm_open, &j, &err), BINK_OK);
  return j.dm;
}

static bink_rc job_message_insert(store_conn *c, void *arg, bink_err *err)
{
  (void)err;
  return store_message_insert(c, arg);
}

static bink_rc job_message_update(store_conn *c, void *arg, bink_err *err)
{
  (void)err;
  return store_message_update(c, arg);
}

typedef struct tombstone_job {
  int64_t id, now;
} tombstone_job;

static bink_rc job_message_tombstone(store_conn *c, void *arg, bink_err *err)
{
  tombstone_job *j = arg;

  (void)err;
  return store_message_tombstone(c, j->id, j->now);
}

static void tombstone(fixture *f, int64_t id, int64_t now)
{
  tombstone_job j = {id, now};
  bink_err err;

  assert_int_equal(store_write(f->s, job_message_tombstone, &j, &err),
                   BINK_OK);
}

/* A plain text message in a group (group_id > 0) or a private chat; its
 * heap content is a literal, so nothing is to be freed. Returns its id. */
static int64_t post(fixture *f, int64_t group_id, int64_t dm_id,
                    int64_t sender_id, const char *content,
                    bink_message *out)
{
  bink_message m;
  bink_err err;

  memset(&m, 0, sizeof m);
  m.group_id = group_id;
  m.dm_id = dm_id;
  m.sender_id = sender_id;
  snprintf(m.sender_ext, sizeof m.sender_ext, "user_x%lld",
           (long long)sender_id);
  m.type = BINK_MSG_TEXT;
  m.content = (char *)content;
  m.created_at = 1700000200;
  assert_int_equal(store_write(f->s, job_message_insert, &m, &err), BINK_OK);
  assert_true(m.id > 0);
  if (out)
    *out = m;
  return m.id;
}

typedef struct mark_job {
  int64_t account_id, group_id, dm_id, upto;
} mark_job;

static bink_rc job_mark_read(store_conn *c, void *arg, bink_err *err)
{
  mark_job *j = arg;

  (void)err;
  return store_mark_read(c, j->account_id, j->group_id, j->dm_id, j->upto);
}

static void mark_read(fixture *f, int64_t account_id, int64_t group_id,
                      int64_t dm_id, int64_t upto)
{
  mark_job j = {account_id, group_id, dm_id, upto};
  bink_err err;

  assert_int_equal(store_write(f->s, job_mark_read, &j, &err), BINK_OK);
}

typedef struct idem_job {
  int64_t caller_id;
  const char *key;
  unsigned char hash[BINK_SHA256_LEN];
  const char *response;
  int64_t now;
} idem_job;

static bink_rc job_idem_put(store_conn *c, void *arg, bink_err *err)
{
  idem_job *j = arg;

  (void)err;
  return store_idem_put(c, j->caller_id, j->key, j->hash, j->response, j->now);
}

/* ---------------------------------------------------------------------- */
/* Renderers for the list accessors.                                       */

static json_t *render_account_ext(const bink_account *a)
{
  return json_string(a->ext_id);
}

static json_t *render_member(const bink_account *a, const bink_member *m)
{
  return json_pack("{s:I, s:i, s:I, s:s}", "id", (json_int_t)a->id, "role",
                   (int)m->role, "joined_at", (json_int_t)m->joined_at,
                   "username", a->username);
}

static json_t *render_message(const bink_message *m)
{
  return json_pack("{s:I, s:s, s:b}", "id", (json_int_t)m->id, "content",
                   m->content ? m->content : "(null)", "deleted", m->deleted);
}

static json_t *render_chat(const store_chat_row *r)
{
  return json_pack("{s:b, s:I, s:I, s:s, s:I, s:I}", "is_group", r->is_group,
                   "group", (json_int_t)r->group.id, "peer",
                   (json_int_t)r->peer.id, "peer_username", r->peer.username,
                   "last", (json_int_t)r->last.id, "unread",
                   (json_int_t)r->unread);
}

static int64_t jint(const json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);

  assert_non_null(v);
  return (int64_t)json_integer_value(v);
}

/* out = ext with its prefix (the part before '_') replaced by prefix. */
static void reprefix(char out[BINK_ID_MAX], const char *prefix, const char *ext)
{
  const char *rest = strchr(ext, '_');
  size_t plen = strlen(prefix), rlen;

  assert_non_null(rest);
  rlen = strlen(rest);
  assert_true(plen + rlen < BINK_ID_MAX);
  memcpy(out, prefix, plen);
  memcpy(out + plen, rest, rlen + 1);
}

/* ---------------------------------------------------------------------- */
/* Raw access to the database file, bypassing the store.                   */

static sqlite3 *raw_open(const char *path)
{
  sqlite3 *db = NULL;

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 2000);
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

  if (rc != SQLITE_OK)
    fprintf(stderr, "raw sql failed: %s: %s\n", sql, msg ? msg : "?");
  sqlite3_free(msg);
  assert_int_equal(rc, SQLITE_OK);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  int64_t v;

  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* ---------------------------------------------------------------------- */
/* Holding the writer still so that the next jobs form one batch.          */

typedef struct blocker {
  store_job job; /* first: done() gets this pointer */
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool started, released, finished;
} blocker;

static bink_rc blocker_fn(store_conn *c, void *arg, bink_err *err)
{
  blocker *b = arg;

  (void)c;
  (void)err;
  pthread_mutex_lock(&b->lock);
  b->started = true;
  pthread_cond_broadcast(&b->cv);
  while (!b->released)
    pthread_cond_wait(&b->cv, &b->lock);
  pthread_mutex_unlock(&b->lock);
  return BINK_OK;
}

static void blocker_done(store_job *job)
{
  blocker *b = (blocker *)job;

  pthread_mutex_lock(&b->lock);
  b->finished = true;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->lock);
}

/* Submits the blocker and returns once the writer runs it, alone. */
static void blocker_hold(store *s, blocker *b)
{
  memset(b, 0, sizeof *b);
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cv, NULL);
  b->job.fn = blocker_fn;
  b->job.done = blocker_done;
  b->job.arg = b;
  assert_int_equal(store_submit(s, &b->job), BINK_OK);
  pthread_mutex_lock(&b->lock);
  while (!b->started)
    pthread_cond_wait(&b->cv, &b->lock);
  pthread_mutex_unlock(&b->lock);
}

/* Lets the writer go and waits for the blocker's own batch to finish. */
static void blocker_release(blocker *b)
{
  pthread_mutex_lock(&b->lock);
  b->released = true;
  pthread_cond_broadcast(&b->cv);
  while (!b->finished)
    pthread_cond_wait(&b->cv, &b->lock);
  pthread_mutex_unlock(&b->lock);
  assert_int_equal(b->job.rc, BINK_OK);
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cv);
}

/* ---------------------------------------------------------------------- */
/* Jobs submitted asynchronously, with a shared completion counter.        */

typedef struct async_set {
  pthread_mutex_t lock;
  pthread_cond_t cv;
  int done, total;
} async_set;

typedef struct async_job {
  store_job job; /* first: done() gets this pointer */
  async_set *set;
  int index;
  bool fail;           /* return BINK_EINVAL after inserting */
  int64_t group_id;
  char content[32];
  atomic_int done_calls;
  bink_rc seen_rc;
  pthread_t done_thread;
} async_job;

static bink_rc async_job_fn(store_conn *c, void *arg, bink_err *err)
{
  async_job *j = arg;
  bink_message m;
  bink_rc rc;

  memset(&m, 0, sizeof m);
  m.group_id = j->group_id;
  m.sender_id = j->index + 1;
  snprintf(m.sender_ext, sizeof m.sender_ext, "user_j%d", j->index);
  m.type = BINK_MSG_TEXT;
  m.content = j->content;
  m.created_at = 1700000300;
  rc = store_message_insert(c, &m);
  if (rc != BINK_OK)
    return rc;
  if (j->fail)
    return bink_fail(err, BINK_EINVAL, "job %d refused", j->index);
  return BINK_OK;
}

static void async_job_done(store_job *job)
{
  async_job *j = (async_job *)job;

  j->seen_rc = job->rc;
  j->done_thread = pthread_self();
  atomic_fetch_add(&j->done_calls, 1);
  pthread_mutex_lock(&j->set->lock);
  j->set->done++;
  pthread_cond_broadcast(&j->set->cv);
  pthread_mutex_unlock(&j->set->lock);
}

static void async_set_init(async_set *set, int total)
{
  memset(set, 0, sizeof *set);
  pthread_mutex_init(&set->lock, NULL);
  pthread_cond_init(&set->cv, NULL);
  set->total = total;
}

static void async_set_wait(async_set *set)
{
  pthread_mutex_lock(&set->lock);
  while (set->done < set->total)
    pthread_cond_wait(&set->cv, &set->lock);
  pthread_mutex_unlock(&set->lock);
}

static void async_set_destroy(async_set *set)
{
  pthread_mutex_destroy(&set->lock);
  pthread_cond_destroy(&set->cv);
}

static void async_job_init(async_job *j, async_set *set, int index,
                           int64_t group_id, bool fail, const char *content)
{
  memset(j, 0, sizeof *j);
  j->job.fn = async_job_fn;
  j->job.done = async_job_done;
  j->job.arg = j;
  j->set = set;
  j->index = index;
  j->group_id = group_id;
  j->fail = fail;
  atomic_init(&j->done_calls, 0);
  snprintf(j->content, sizeof j->content, "%s", content);
}

/* The contents of a group's messages, newest first, as a JSON array. */
static json_t *group_history(fixture *f, int64_t group_id)
{
  json_t *arr = json_array();
  bool more = true;

  assert_int_equal(store_history(reader(f), group_id, 0, 0, 100000,
                                 render_message, arr, &more),
                   BINK_OK);
  assert_false(more);
  return arr;
}

static bool history_has(const json_t *arr, const char *content)
{
  size_t i;
  json_t *v;

  json_array_foreach(arr, i, v)
  {
    if (strcmp(json_string_value(json_object_get(v, "content")), content) == 0)
      return true;
  }
  return false;
}

/* ---------------------------------------------------------------------- */
/* Migrations                                                              */

static void test_migrations(void **state)
{
  fixture *f = *state;
  sqlite3 *db;
  int64_t version;
  bink_err err;
  store *s2 = NULL;
  char uri[200];
  static char dummy;

  make_account(f, "keeper", false, 0, NULL);
  assert_int_equal(store_ping(f->s), BINK_OK);
  store_close(f->s);
  f->s = NULL;

  db = raw_open(f->db);
  version = raw_int(db, "PRAGMA user_version");
  assert_true(version >= 1);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                               "type = 'table' AND name IN ('accounts', "
                               "'groups', 'members', 'dms', 'messages', "
                               "'idempotency')"),
                   6);
  sqlite3_close(db);

  /* Reopening applies nothing and keeps the data. */
  memset(&err, 0, sizeof err);
  assert_int_equal(store_open(f->uri, NULL, &f->s, &err), BINK_OK);
  {
    bink_account a;
    assert_int_equal(store_account_by_username(reader(f), "keeper", 6, &a),
                     BINK_OK);
  }
  store_close(f->s);
  f->s = NULL;
  db = raw_open(f->db);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), version);

  /* A schema from a newer binkd is refused, and the file left alone. */
  {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %lld",
             (long long)version + 1);
    raw_exec(db, sql);
  }
  sqlite3_close(db);
  memset(&err, 0, sizeof err);
  s2 = (store *)(void *)&dummy; /* must be reset to NULL */
  assert_int_equal(store_open(f->uri, NULL, &s2, &err), BINK_EUNAVAIL);
  assert_null(s2);
  assert_int_equal(err.code, BINK_EUNAVAIL);
  assert_non_null(strstr(err.msg, "newer"));
  db = raw_open(f->db);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), version + 1);
  sqlite3_close(db);

  /* Other kinds of database and unopenable paths. */
  memset(&err, 0, sizeof err);
  assert_int_equal(store_open("postgres://x/y", NULL, &s2, &err), BINK_EUNAVAIL);
  assert_null(s2);
  assert_true(err.msg[0] != '\0');
  snprintf(uri, sizeof uri, "sqlite:%s/no/such/dir/t.db", f->dir);
  memset(&err, 0, sizeof err);
  assert_int_equal(store_open(uri, NULL, &s2, &err), BINK_EUNAVAIL);
  assert_null(s2);
  assert_true(err.msg[0] != '\0');
  {
    char *long_uri = malloc(2100);

    assert_non_null(long_uri);
    memcpy(long_uri, "sqlite:/tmp/", 12);
    memset(long_uri + 12, 'x', 2000);
    long_uri[2012] = '\0';
    memset(&err, 0, sizeof err);
    assert_int_equal(store_open(long_uri, NULL, &s2, &err), BINK_EUNAVAIL);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "too long"));
    free(long_uri);
  }
  /* A file that is not a database. */
  {
    FILE *fp;

    snprintf(uri, sizeof uri, "%s/junk.db", f->dir);
    fp = fopen(uri, "wb");
    assert_non_null(fp);
    for (int i = 0; i < 512; i++)
      fputs("this is not an SQLite database\n", fp);
    fclose(fp);
    snprintf(uri, sizeof uri, "sqlite:%s/junk.db", f->dir);
    memset(&err, 0, sizeof err);
    assert_int_equal(store_open(uri, NULL, &s2, &err), BINK_EUNAVAIL);
    assert_null(s2);
    assert_true(err.msg[0] != '\0');
  }
}

/* ---------------------------------------------------------------------- */
/* Accounts                                                                */

static void test_accounts(void **state)
{
  fixture *f = *state;
  bink_account user, bot, a, dup;
  unsigned char hash[BINK_SHA256_LEN];
  char ext[BINK_ID_MAX];
  store_conn *c;
  bink_err err;

  make_account(f, "Alice", false, 0, &user);
  make_account(f, "alice_bot", true, user.id, &bot);
  assert_int_equal(strncmp(user.ext_id, "user_", 5), 0);
  assert_int_equal(strncmp(bot.ext_id, "bot_", 4), 0);
  assert_int_equal(strlen(user.tag), BINK_ID_TAG_LEN);
  assert_true(bot.id > user.id);

  /* Usernames are unique ignoring case; so are token hashes. */
  fill_account(&dup, "ALICE", false, 0);
  assert_int_equal(insert_account(f->s, &dup, "tok-other"), BINK_ECONFLICT);
  fill_account(&dup, "aLiCe_BoT", true, user.id);
  assert_int_equal(insert_account(f->s, &dup, "tok-other2"), BINK_ECONFLICT);
  fill_account(&dup, "carol", false, 0);
  assert_int_equal(insert_account(f->s, &dup, "tok-Alice"), BINK_ECONFLICT);

  c = reader(f);

  /* By token hash. */
  bink_sha256("tok-Alice", 9, hash);
  assert_int_equal(store_account_by_token(c, hash, &a), BINK_OK);
  assert_int_equal(a.id, user.id);
  assert_string_equal(a.username, "Alice");
  assert_false(a.is_bot);
  bink_sha256("tok-alice", 9, hash); /* tokens are case-sensitive */
  assert_int_equal(store_account_by_token(c, hash, &a), BINK_ENOTFOUND);
  bink_sha256("tok-alice_bot", 13, hash);
  assert_int_equal(store_account_by_token(c, hash, &a), BINK_OK);
  assert_int_equal(a.id, bot.id);
  assert_true(a.is_bot);
  assert_int_equal(a.owner_id, user.id);

  /* By id and external id. */
  assert_int_equal(store_account_get(c, user.id, &a), BINK_OK);
  assert_string_equal(a.ext_id, user.ext_id);
  assert_string_equal(a.display_name, "Name of Alice");
  assert_string_equal(a.description, "About Alice");
  assert_int_equal(a.created_at, 1700000000);
  assert_int_equal(store_account_get(c, bot.id + 100, &a), BINK_ENOTFOUND);
  assert_int_equal(store_account_get_ext(c, user.ext_id, strlen(user.ext_id),
                                         &a),
                   BINK_OK);
  assert_int_equal(a.id, user.id);
  assert_false(a.is_bot);
  assert_int_equal(store_account_get_ext(c, bot.ext_id, strlen(bot.ext_id),
                                         &a),
                   BINK_OK);
  assert_int_equal(a.id, bot.id);
  assert_true(a.is_bot);
  /* The length is honoured: trailing bytes are not part of the id. */
  assert_true(strlen(user.ext_id) + 3 <= sizeof ext);
  memcpy(ext, user.ext_id, strlen(user.ext_id));
  memcpy(ext + strlen(user.ext_id), "zz", 3);
  assert_int_equal(store_account_get_ext(c, ext, strlen(user.ext_id), &a),
                   BINK_OK);
  assert_int_equal(a.id, user.id);
  /* A wrong tag. */
  snprintf(ext, sizeof ext, "%s", user.ext_id);
  ext[5] = ext[5] == '0' ? '1' : '0';
  assert_int_equal(store_account_get_ext(c, ext, strlen(ext), &a),
                   BINK_ENOTFOUND);
  /* The user's tag and key under the bot prefix (and vice versa): the kind
   * must match the row. */
  reprefix(ext, "bot", user.ext_id);
  assert_int_equal(store_account_get_ext(c, ext, strlen(ext), &a),
                   BINK_ENOTFOUND);
  reprefix(ext, "user", bot.ext_id);
  assert_int_equal(store_account_get_ext(c, ext, strlen(ext), &a),
                   BINK_ENOTFOUND);
  /* Other kinds and malformed ids. */
  reprefix(ext, "group", user.ext_id);
  assert_int_equal(store_account_get_ext(c, ext, strlen(ext), &a),
                   BINK_ENOTFOUND);
  assert_int_equal(store_account_get_ext(c, "", 0, &a), BINK_ENOTFOUND);
  assert_int_equal(store_account_get_ext(c, "user_", 5, &a), BINK_ENOTFOUND);
  assert_int_equal(store_account_get_ext(c, "user_abc", 8, &a),
                   BINK_ENOTFOUND);
  assert_int_equal(store_account_get_ext(c, "nobody", 6, &a), BINK_ENOTFOUND);
  snprintf(ext, sizeof ext, "%s", user.ext_id);
  ext[strlen(ext) - 1] = '!';
  assert_int_equal(store_account_get_ext(c, ext, strlen(ext), &a),
                   BINK_ENOTFOUND);

  /* By username, ignoring case and honouring the length. */
  assert_int_equal(store_account_by_username(c, "aLICE", 5, &a), BINK_OK);
  assert_int_equal(a.id, user.id);
  assert_string_equal(a.username, "Alice");
  assert_int_equal(store_account_by_username(c, "ALICE_BOTX", 9, &a), BINK_OK);
  assert_int_equal(a.id, bot.id);
  assert_int_equal(store_account_by_username(c, "alic", 4, &a),
                   BINK_ENOTFOUND);
  assert_int_equal(store_account_by_username(c, "carol", 5, &a),
                   BINK_ENOTFOUND);

  /* Update writes the documented fields and nothing else. */
  a = bot;
  snprintf(a.display_name, sizeof a.display_name, "Renamed");
  snprintf(a.description, sizeof a.description, "New text");
  snprintf(a.username, sizeof a.username, "ignored_bot");
  a.privacy_mode = false;
  a.can_join_groups = false;
  snprintf(a.webhook_url, sizeof a.webhook_url, "https://example.com/hook");
  snprintf(a.webhook_secret, sizeof a.webhook_secret, "s3cret");
  a.max_connections = 7;
  assert_int_equal(store_write(f->s, job_account_update, &a, &err), BINK_OK);
  assert_int_equal(store_account_get(c, bot.id, &a), BINK_OK);
  assert_string_equal(a.display_name, "Renamed");
  assert_string_equal(a.description, "New text");
  assert_string_equal(a.username, "alice_bot");
  assert_false(a.privacy_mode);
  assert_false(a.can_join_groups);
  assert_string_equal(a.webhook_url, "https://example.com/hook");
  assert_string_equal(a.webhook_secret, "s3cret");
  assert_int_equal(a.max_connections, 7);
  assert_int_equal(a.owner_id, user.id);
  assert_string_equal(a.ext_id, bot.ext_id);

  /* A new token: the old hash no longer finds the bot. */
  {
    account_job j;
    unsigned char old[BINK_SHA256_LEN];

    j.a = &bot;
    bink_sha256("tok-rotated", 11, j.hash);
    assert_int_equal(store_write(f->s, job_account_set_token, &j, &err),
                     BINK_OK);
    bink_sha256("tok-alice_bot", 13, old);
    assert_int_equal(store_account_by_token(c, old, &a), BINK_ENOTFOUND);
    assert_int_equal(store_account_by_token(c, j.hash, &a), BINK_OK);
    assert_int_equal(a.id, bot.id);
    /* Another account's hash is taken. */
    j.a = &user;
    assert_int_equal(store_write(f->s, job_account_set_token, &j, &err),
                     BINK_ECONFLICT);
  }

  /* The bots of an owner, and their command menus. */
  {
    json_t *arr = json_array();
    bink_account bot2;
    commands_job cj;
    char *text = NULL;

    make_account(f, "second_bot", true, user.id, &bot2);
    make_account(f, "other_bot", true, bot2.id + 1000, NULL);
    assert_int_equal(store_bots_of_owner(c, user.id, render_account_ext, arr),
                     BINK_OK);
    assert_int_equal(json_array_size(arr), 2);
    assert_string_equal(json_string_value(json_array_get(arr, 0)), bot.ext_id);
    assert_string_equal(json_string_value(json_array_get(arr, 1)),
                        bot2.ext_id);
    json_decref(arr);

    assert_int_equal(store_commands_get(c, bot.id, &text), BINK_OK);
    assert_string_equal(text, "[]");
    free(text);
    cj.bot_id = bot.id;
    cj.text = "[{\"command\":\"start\",\"description\":\"Start\"}]";
    assert_int_equal(store_write(f->s, job_commands_set, &cj, &err), BINK_OK);
    assert_int_equal(store_commands_get(c, bot.id, &text), BINK_OK);
    assert_string_equal(text, cj.text);
    free(text);
    assert_int_equal(store_commands_get(c, bot2.id + 5000, &text),
                     BINK_ENOTFOUND);
    assert_null(text);
  }
}

/* ---------------------------------------------------------------------- */
/* Groups and members                                                      */

static void test_groups_members(void **state)
{
  fixture *f = *state;
  int64_t owner, u2, u3, stranger;
  bink_group g, g2, out;
  bink_member m;
  store_conn *c;
  json_t *arr;

  owner = make_account(f, "owner", false, 0, NULL);
  u2 = make_account(f, "second", false, 0, NULL);
  u3 = make_account(f, "third", false, 0, NULL);
  stranger = make_account(f, "stranger", false, 0, NULL);
  make_group(f, "Team", owner, &g);
  assert_int_equal(strncmp(g.ext_id, "group_", 6), 0);
  c = reader(f);

  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 0);
  assert_string_equal(out.username, "Team");
  assert_string_equal(out.title, "Group Team");
  assert_string_equal(out.description, "About the group");
  assert_true(out.is_public);
  assert_int_equal(out.owner_id, owner);
  assert_int_equal(out.created_at, 1700000100);
  assert_string_equal(out.ext_id, g.ext_id);
  assert_int_equal(store_group_get_ext(c, g.ext_id, strlen(g.ext_id), &out),
                   BINK_OK);
  assert_int_equal(out.id, g.id);
  {
    char ext[BINK_ID_MAX];

    snprintf(ext, sizeof ext, "%s", g.ext_id);
    ext[6] = ext[6] == '0' ? '1' : '0';
    assert_int_equal(store_group_get_ext(c, ext, strlen(ext), &out),
                     BINK_ENOTFOUND);
    reprefix(ext, "user", g.ext_id);
    assert_int_equal(store_group_get_ext(c, ext, strlen(ext), &out),
                     BINK_ENOTFOUND);
    assert_int_equal(store_group_get_ext(c, "group_", 6, &out),
                     BINK_ENOTFOUND);
  }
  assert_int_equal(store_group_by_username(c, "tEAM", 4, &out), BINK_OK);
  assert_int_equal(out.id, g.id);
  assert_int_equal(store_group_by_username(c, "nope", 4, &out),
                   BINK_ENOTFOUND);

  /* Group usernames are unique ignoring case; groups without one are not
   * constrained. */
  {
    bink_err err;

    memset(&g2, 0, sizeof g2);
    snprintf(g2.username, sizeof g2.username, "TEAM");
    snprintf(g2.title, sizeof g2.title, "Clash");
    g2.owner_id = owner;
    assert_int_equal(store_write(f->s, job_group_insert, &g2, &err),
                     BINK_ECONFLICT);
  }
  make_group(f, "", owner, &g2);
  make_group(f, "", u2, NULL);
  assert_int_equal(store_group_by_username(c, "", 0, &out), BINK_ENOTFOUND);

  /* Members and the maintained count. */
  assert_int_equal(add_member(f, g.id, u2, BINK_ROLE_MEMBER, 100), BINK_OK);
  assert_int_equal(add_member(f, g.id, owner, BINK_ROLE_OWNER, 200), BINK_OK);
  assert_int_equal(add_member(f, g.id, u3, BINK_ROLE_ADMIN, 50), BINK_OK);
  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 3);
  assert_int_equal(add_member(f, g.id, u2, BINK_ROLE_ADMIN, 300),
                   BINK_ECONFLICT);
  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 3);
  assert_int_equal(store_member_get(c, g.id, u2, &m), BINK_OK);
  assert_int_equal(m.role, BINK_ROLE_MEMBER); /* not overwritten */
  assert_int_equal(m.muted_until, -1);
  assert_int_equal(m.joined_at, 100);
  assert_int_equal(m.group_id, g.id);
  assert_int_equal(m.account_id, u2);
  /* The other group is untouched. */
  assert_int_equal(store_group_get(c, g2.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 0);

  assert_int_equal(store_member_get(c, g.id, stranger, &m), BINK_ENOTFOUND);
  assert_int_equal(m.role, BINK_ROLE_NONE);

  /* Owner first, then by join time. */
  arr = json_array();
  assert_int_equal(store_members_list(c, g.id, render_member, arr), BINK_OK);
  assert_int_equal(json_array_size(arr), 3);
  assert_int_equal(jint(json_array_get(arr, 0), "id"), owner);
  assert_int_equal(jint(json_array_get(arr, 0), "role"), BINK_ROLE_OWNER);
  assert_int_equal(jint(json_array_get(arr, 1), "id"), u3);
  assert_int_equal(jint(json_array_get(arr, 1), "joined_at"), 50);
  assert_int_equal(jint(json_array_get(arr, 2), "id"), u2);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(arr, 2), "username")),
      "second");
  json_decref(arr);
  arr = json_array();
  assert_int_equal(store_members_list(c, g2.id, render_member, arr), BINK_OK);
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);

  /* Role and mute, of members and of non-members. */
  assert_int_equal(member_op(f, job_member_set_role, g.id, u2, BINK_ROLE_ADMIN),
                   BINK_OK);
  assert_int_equal(member_op(f, job_member_set_mute, g.id, u2, 1800000000),
                   BINK_OK);
  assert_int_equal(store_member_get(c, g.id, u2, &m), BINK_OK);
  assert_int_equal(m.role, BINK_ROLE_ADMIN);
  assert_int_equal(m.muted_until, 1800000000);
  assert_int_equal(
      member_op(f, job_member_set_role, g.id, stranger, BINK_ROLE_ADMIN),
      BINK_ENOTFOUND);
  assert_int_equal(member_op(f, job_member_set_mute, g.id, stranger, 0),
                   BINK_ENOTFOUND);
  assert_int_equal(member_op(f, job_member_set_role, g2.id, u2, BINK_ROLE_ADMIN),
                   BINK_ENOTFOUND);
  assert_int_equal(store_member_get(c, g.id, stranger, &m), BINK_ENOTFOUND);

  /* Leaving. */
  assert_int_equal(member_op(f, job_member_delete, g.id, u2, 0), BINK_OK);
  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 2);
  assert_int_equal(member_op(f, job_member_delete, g.id, u2, 0),
                   BINK_ENOTFOUND);
  assert_int_equal(member_op(f, job_member_delete, g.id, stranger, 0),
                   BINK_ENOTFOUND);
  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 2);
  assert_int_equal(store_member_get(c, g.id, u2, &m), BINK_ENOTFOUND);
  /* And joining again. */
  assert_int_equal(add_member(f, g.id, u2, BINK_ROLE_MEMBER, 400), BINK_OK);
  assert_int_equal(store_group_get(c, g.id, &out), BINK_OK);
  assert_int_equal(out.member_count, 3);
}

/* ---------------------------------------------------------------------- */
/* Private chats                                                           */

static void test_dms(void **state)
{
  fixture *f = *state;
  int64_t a, b, x;
  bink_dm d1, d2, d;
  store_conn *c;
  bink_err err;

  a = make_account(f, "anna", false, 0, NULL);
  b = make_account(f, "bert", false, 0, NULL);
  x = make_account(f, "xena", false, 0, NULL);
  c = reader(f);

  assert_int_equal(store_dm_get(c, a, b, &d), BINK_ENOTFOUND);
  d1 = open_dm(f, b, a, 1000); /* the larger id first */
  assert_true(d1.id > 0);
  assert_int_equal(d1.lo, a);
  assert_int_equal(d1.hi, b);
  assert_int_equal(d1.created_at, 1000);
  assert_false(d1.lo_wrote || d1.hi_wrote || d1.lo_blocked || d1.hi_blocked);
  d2 = open_dm(f, a, b, 2000);
  assert_int_equal(d2.id, d1.id);
  assert_int_equal(d2.created_at, 1000); /* not created again */
  d2 = open_dm(f, b, a, 3000);
  assert_int_equal(d2.id, d1.id);

  assert_int_equal(store_dm_get(c, b, a, &d), BINK_OK);
  assert_int_equal(d.id, d1.id);
  assert_int_equal(store_dm_get(c, a, b, &d), BINK_OK);
  assert_int_equal(d.id, d1.id);
  assert_int_equal(store_dm_get(c, a, x, &d), BINK_ENOTFOUND);
  assert_int_equal(store_dm_get_id(c, d1.id + 50, &d), BINK_ENOTFOUND);

  d2 = open_dm(f, a, x, 4000);
  assert_true(d2.id != d1.id);

  /* Flags are per side and persisted. */
  {
    dm_job j;

    memset(&j, 0, sizeof j);
    j.dm = d1;
    j.dm.lo_wrote = true;
    j.dm.hi_blocked = true;
    assert_int_equal(store_write(f->s, job_dm_update, &j, &err), BINK_OK);
    assert_int_equal(store_dm_get_id(c, d1.id, &d), BINK_OK);
    assert_true(d.lo_wrote);
    assert_false(d.hi_wrote);
    assert_false(d.lo_blocked);
    assert_true(d.hi_blocked);
    assert_int_equal(d.lo, a);
    assert_int_equal(d.hi, b);
    assert_int_equal(d.created_at, 1000);
    /* dm_open of an existing chat returns the stored flags. */
    d = open_dm(f, b, a, 5000);
    assert_true(d.lo_wrote);
    assert_true(d.hi_blocked);

    j.dm.lo_wrote = false;
    j.dm.hi_wrote = true;
    j.dm.lo_blocked = true;
    j.dm.hi_blocked = false;
    assert_int_equal(store_write(f->s, job_dm_update, &j, &err), BINK_OK);
    assert_int_equal(store_dm_get(c, a, b, &d), BINK_OK);
    assert_false(d.lo_wrote);
    assert_true(d.hi_wrote);
    assert_true(d.lo_blocked);
    assert_false(d.hi_blocked);
    /* The other chat is untouched. */
    assert_int_equal(store_dm_get_id(c, d2.id, &d), BINK_OK);
    assert_false(d.lo_wrote || d.hi_wrote || d.lo_blocked || d.hi_blocked);
  }
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                */

static void test_message_round_trip(void **state)
{
  fixture *f = *state;
  bink_message m, out, bare;
  store_conn *c;
  bink_err err;
  char ext[BINK_ID_MAX];

  memset(&m, 0, sizeof m);
  m.group_id = 3;
  m.dm_id = 0;
  m.sender_id = 11;
  m.target_id = 12;
  snprintf(m.group_ext, sizeof m.group_ext, "group_0000000000000003");
  snprintf(m.sender_ext, sizeof m.sender_ext, "bot_000000000000000b");
  snprintf(m.target_ext, sizeof m.target_ext, "user_000000000000000c");
  m.type = BINK_MSG_IMAGE;
  m.content = "caption \xc3\xa9 \"quoted\"";
  snprintf(m.file_ref, sizeof m.file_ref, "file_00000000000001");
  m.extra = "{\"inline_keyboard\":[[{\"text\":\"a\",\"callback_data\":\"b\"}]]}";
  m.attachment = "{\"file_id\":\"file_00000000000001\",\"size\":12}";
  m.reply_to = 7;
  snprintf(m.reply_to_ext, sizeof m.reply_to_ext, "msg_00000000000007");
  m.quote_id = 8;
  snprintf(m.quote_ext, sizeof m.quote_ext, "msg_00000000000008");
  m.quote = "{\"text\":\"earlier\"}";
  m.created_at = 1700000222;
  assert_int_equal(store_write(f->s, job_message_insert, &m, &err), BINK_OK);
  assert_true(m.id > 0);
  assert_int_equal(strncmp(m.ext_id, "msg_", 4), 0);
  assert_int_equal(strlen(m.tag), BINK_ID_TAG_LEN);

  c = reader(f);
  assert_int_equal(store_message_get_ext(c, m.ext_id, strlen(m.ext_id), &out),
                   BINK_OK);
  assert_int_equal(out.id, m.id);
  assert_string_equal(out.tag, m.tag);
  assert_string_equal(out.ext_id, m.ext_id);
  assert_int_equal(out.group_id, 3);
  assert_int_equal(out.dm_id, 0);
  assert_int_equal(out.sender_id, 11);
  assert_int_equal(out.target_id, 12);
  assert_string_equal(out.group_ext, m.group_ext);
  assert_string_equal(out.sender_ext, m.sender_ext);
  assert_string_equal(out.target_ext, m.target_ext);
  assert_int_equal(out.type, BINK_MSG_IMAGE);
  assert_string_equal(out.content, m.content);
  assert_string_equal(out.file_ref, m.file_ref);
  assert_string_equal(out.extra, m.extra);
  assert_string_equal(out.attachment, m.attachment);
  assert_int_equal(out.reply_to, 7);
  assert_string_equal(out.reply_to_ext, m.reply_to_ext);
  assert_int_equal(out.quote_id, 8);
  assert_string_equal(out.quote_ext, m.quote_ext);
  assert_string_equal(out.quote, m.quote);
  assert_int_equal(out.created_at, 1700000222);
  assert_int_equal(out.edited_at, 0);
  assert_false(out.deleted);
  bink_message_clear(&out);

  /* NULL heap fields stay NULL; NULL content is stored as "". */
  memset(&bare, 0, sizeof bare);
  bare.dm_id = 4;
  bare.sender_id = 1;
  snprintf(bare.sender_ext, sizeof bare.sender_ext, "user_1");
  bare.type = BINK_MSG_STICKER;
  bare.created_at = 5;
  assert_int_equal(store_write(f->s, job_message_insert, &bare, &err),
                   BINK_OK);
  assert_true(bare.id > m.id);
  assert_int_equal(
      store_message_get_ext(c, bare.ext_id, strlen(bare.ext_id), &out),
      BINK_OK);
  assert_non_null(out.content);
  assert_string_equal(out.content, "");
  assert_null(out.extra);
  assert_null(out.attachment);
  assert_null(out.quote);
  assert_int_equal(out.dm_id, 4);
  assert_int_equal(out.group_id, 0);
  assert_string_equal(out.group_ext, "");
  assert_string_equal(out.target_ext, "");
  assert_string_equal(out.file_ref, "");
  assert_int_equal(out.type, BINK_MSG_STICKER);
  bink_message_clear(&out);

  /* Unknown, mistagged, other-kind and malformed ids. */
  snprintf(ext, sizeof ext, "%s", m.ext_id);
  ext[4] = ext[4] == '0' ? '1' : '0';
  assert_int_equal(store_message_get_ext(c, ext, strlen(ext), &out),
                   BINK_ENOTFOUND);
  assert_null(out.content);
  reprefix(ext, "user", m.ext_id);
  assert_int_equal(store_message_get_ext(c, ext, strlen(ext), &out),
                   BINK_ENOTFOUND);
  snprintf(ext, sizeof ext, "msg_%szz", m.tag); /* a key with no row */
  assert_int_equal(store_message_get_ext(c, ext, strlen(ext), &out),
                   BINK_ENOTFOUND);
  assert_int_equal(store_message_get_ext(c, "msg_x", 5, &out),
                   BINK_ENOTFOUND);
  assert_null(out.content);

  /* Update writes content, extra and edited_at. */
  {
    bink_message up = m;

    up.content = "edited";
    up.extra = NULL;
    up.edited_at = 1700000333;
    up.quote = NULL; /* not written by update */
    assert_int_equal(store_write(f->s, job_message_update, &up, &err),
                     BINK_OK);
    assert_int_equal(
        store_message_get_ext(c, m.ext_id, strlen(m.ext_id), &out), BINK_OK);
    assert_string_equal(out.content, "edited");
    assert_null(out.extra);
    assert_int_equal(out.edited_at, 1700000333);
    assert_string_equal(out.quote, m.quote);
    assert_string_equal(out.attachment, m.attachment);
    bink_message_clear(&out);
  }

  /* A tombstone drops content, extra, attachment, quote and the file. */
  tombstone(f, m.id, 1700000444);
  assert_int_equal(store_message_get_ext(c, m.ext_id, strlen(m.ext_id), &out),
                   BINK_OK);
  assert_true(out.deleted);
  assert_non_null(out.content);
  assert_string_equal(out.content, "");
  assert_null(out.extra);
  assert_null(out.attachment);
  assert_null(out.quote);
  assert_string_equal(out.file_ref, "");
  assert_int_equal(out.edited_at, 1700000444);
  assert_int_equal(out.sender_id, 11);
  assert_int_equal(out.reply_to, 7);
  assert_string_equal(out.quote_ext, m.quote_ext);
  assert_int_equal(out.created_at, 1700000222);
  bink_message_clear(&out);
}

static void test_history(void **state)
{
  fixture *f = *state;
  int64_t ids[5];
  json_t *arr;
  bool more;
  store_conn *c;
  char content[16];

  for (int i = 0; i < 5; i++) {
    snprintf(content, sizeof content, "g%d", i);
    ids[i] = post(f, 9, 0, 1, content, NULL);
    /* interleave other chats */
    post(f, 10, 0, 1, "other group", NULL);
    if (i < 2)
      post(f, 0, 9, 1, i == 0 ? "dm0" : "dm1", NULL);
  }
  c = reader(f);

  /* Newest first, limited, with `more`. */
  arr = json_array();
  more = false;
  assert_int_equal(store_history(c, 9, 0, 0, 3, render_message, arr, &more),
                   BINK_OK);
  assert_true(more);
  assert_int_equal(json_array_size(arr), 3);
  assert_int_equal(jint(json_array_get(arr, 0), "id"), ids[4]);
  assert_int_equal(jint(json_array_get(arr, 1), "id"), ids[3]);
  assert_int_equal(jint(json_array_get(arr, 2), "id"), ids[2]);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(arr, 0), "content")),
      "g4");
  json_decref(arr);

  /* The next page, before the oldest one seen. */
  arr = json_array();
  more = true;
  assert_int_equal(
      store_history(c, 9, 0, ids[2], 3, render_message, arr, &more), BINK_OK);
  assert_false(more);
  assert_int_equal(json_array_size(arr), 2);
  assert_int_equal(jint(json_array_get(arr, 0), "id"), ids[1]);
  assert_int_equal(jint(json_array_get(arr, 1), "id"), ids[0]);
  json_decref(arr);

  /* Exactly the limit: no more. */
  arr = json_array();
  more = true;
  assert_int_equal(store_history(c, 9, 0, 0, 5, render_message, arr, &more),
                   BINK_OK);
  assert_false(more);
  assert_int_equal(json_array_size(arr), 5);
  json_decref(arr);

  /* Before the first: nothing. */
  arr = json_array();
  more = true;
  assert_int_equal(
      store_history(c, 9, 0, ids[0], 5, render_message, arr, &more), BINK_OK);
  assert_false(more);
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);

  /* A private chat; tombstones are still listed, marked deleted. */
  arr = json_array();
  assert_int_equal(store_history(c, 0, 9, 0, 10, render_message, arr, &more),
                   BINK_OK);
  assert_false(more);
  assert_int_equal(json_array_size(arr), 2);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(arr, 0), "content")),
      "dm1");
  tombstone(f, jint(json_array_get(arr, 0), "id"), 77);
  json_decref(arr);
  arr = json_array();
  assert_int_equal(store_history(c, 0, 9, 0, 10, render_message, arr, &more),
                   BINK_OK);
  assert_int_equal(json_array_size(arr), 2);
  assert_true(json_is_true(json_object_get(json_array_get(arr, 0), "deleted")));
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(arr, 0), "content")),
      "");
  json_decref(arr);

  /* An empty chat. */
  arr = json_array();
  more = true;
  assert_int_equal(store_history(c, 0, 99, 0, 10, render_message, arr, &more),
                   BINK_OK);
  assert_false(more);
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);
}

/* Finds the chat row of a group (is_group) or with a peer. */
static json_t *find_chat(json_t *arr, bool is_group, int64_t id)
{
  size_t i;
  json_t *v;

  json_array_foreach(arr, i, v)
  {
    bool g = json_is_true(json_object_get(v, "is_group"));
    if (g == is_group && jint(v, is_group ? "group" : "peer") == id)
      return v;
  }
  fail_msg("no chat %s %lld", is_group ? "group" : "peer", (long long)id);
  return NULL;
}

static json_t *chats_of(fixture *f, int64_t account_id)
{
  json_t *arr = json_array();

  assert_int_equal(store_chats(reader(f), account_id, render_chat, arr),
                   BINK_OK);
  return arr;
}

static void test_chats_unread(void **state)
{
  fixture *f = *state;
  int64_t a, b, cc, d, gid, quiet, m1, m2, m3, m4, m5;
  bink_dm dm;
  json_t *arr, *row;

  a = make_account(f, "ann", false, 0, NULL);
  b = make_account(f, "ben", false, 0, NULL);
  cc = make_account(f, "cat", false, 0, NULL);
  d = make_account(f, "dan", false, 0, NULL);
  gid = make_group(f, "chatters", a, NULL);
  quiet = make_group(f, "quiet", d, NULL);
  assert_int_equal(add_member(f, gid, a, BINK_ROLE_OWNER, 1), BINK_OK);
  assert_int_equal(add_member(f, gid, b, BINK_ROLE_MEMBER, 2), BINK_OK);
  assert_int_equal(add_member(f, quiet, a, BINK_ROLE_MEMBER, 3), BINK_OK);
  dm = open_dm(f, a, cc, 10);

  m1 = post(f, gid, 0, b, "one", NULL);
  m2 = post(f, gid, 0, a, "two", NULL);
  m3 = post(f, 0, dm.id, cc, "three", NULL);
  m4 = post(f, gid, 0, b, "four", NULL);
  (void)m2;

  /* Newest activity first; the empty chat last. */
  arr = chats_of(f, a);
  assert_int_equal(json_array_size(arr), 3);
  row = json_array_get(arr, 0);
  assert_true(json_is_true(json_object_get(row, "is_group")));
  assert_int_equal(jint(row, "group"), gid);
  assert_int_equal(jint(row, "last"), m4);
  assert_int_equal(jint(row, "unread"), 2); /* one, four; not her own */
  row = json_array_get(arr, 1);
  assert_false(json_is_true(json_object_get(row, "is_group")));
  assert_int_equal(jint(row, "peer"), cc);
  assert_int_equal(jint(row, "group"), 0);
  assert_string_equal(json_string_value(json_object_get(row, "peer_username")),
                      "cat");
  assert_int_equal(jint(row, "last"), m3);
  assert_int_equal(jint(row, "unread"), 1);
  row = json_array_get(arr, 2);
  assert_int_equal(jint(row, "group"), quiet);
  assert_int_equal(jint(row, "last"), 0);
  assert_int_equal(jint(row, "unread"), 0);
  json_decref(arr);

  /* The other side of the private chat has nothing unread. */
  arr = chats_of(f, cc);
  assert_int_equal(json_array_size(arr), 1);
  row = find_chat(arr, false, a);
  assert_int_equal(jint(row, "unread"), 0);
  assert_int_equal(jint(row, "last"), m3);
  json_decref(arr);
  arr = chats_of(f, b);
  assert_int_equal(json_array_size(arr), 1);
  assert_int_equal(jint(find_chat(arr, true, gid), "unread"), 1); /* two */
  json_decref(arr);
  arr = chats_of(f, d + 1000);
  assert_int_equal(json_array_size(arr), 0);
  json_decref(arr);

  /* Marking read; marks never move back. */
  mark_read(f, a, gid, 0, m1);
  mark_read(f, a, 0, dm.id, m3);
  arr = chats_of(f, a);
  assert_int_equal(jint(find_chat(arr, true, gid), "unread"), 1);
  assert_int_equal(jint(find_chat(arr, false, cc), "unread"), 0);
  json_decref(arr);
  mark_read(f, a, gid, 0, 0);
  mark_read(f, a, 0, dm.id, 0);
  mark_read(f, cc, 0, dm.id, 0);
  arr = chats_of(f, a);
  assert_int_equal(jint(find_chat(arr, true, gid), "unread"), 1);
  assert_int_equal(jint(find_chat(arr, false, cc), "unread"), 0);
  json_decref(arr);
  /* The other side's mark of the same private chat is separate. */
  m5 = post(f, 0, dm.id, a, "five", NULL);
  arr = chats_of(f, cc);
  assert_int_equal(jint(find_chat(arr, false, a), "unread"), 1);
  json_decref(arr);
  mark_read(f, cc, 0, dm.id, m5);
  mark_read(f, cc, 0, dm.id, m3);
  arr = chats_of(f, cc);
  assert_int_equal(jint(find_chat(arr, false, a), "unread"), 0);
  json_decref(arr);
  arr = chats_of(f, a);
  assert_int_equal(jint(find_chat(arr, false, cc), "unread"), 0);
  /* the private chat is now the newest */
  assert_false(json_is_true(json_object_get(json_array_get(arr, 0),
                                            "is_group")));
  json_decref(arr);

  /* Deleted messages do not count as unread. */
  tombstone(f, m4, 99);
  arr = chats_of(f, a);
  assert_int_equal(jint(find_chat(arr, true, gid), "unread"), 0);
  json_decref(arr);
}

/* More chats than the initial row buffer holds, sorted by activity. */
static void test_chats_many(void **state)
{
  fixture *f = *state;
  int64_t me, other, gid, last_ids[40];
  char name[32];
  json_t *arr;

  me = make_account(f, "me", false, 0, NULL);
  for (int i = 0; i < 40; i++) {
    if (i % 2 == 0) {
      snprintf(name, sizeof name, "grp%d", i);
      gid = make_group(f, name, me, NULL);
      assert_int_equal(add_member(f, gid, me, BINK_ROLE_OWNER, i), BINK_OK);
      last_ids[i] = i % 4 == 0 ? post(f, gid, 0, me + 1000, "hi", NULL) : 0;
    } else {
      bink_dm dm;

      snprintf(name, sizeof name, "peer%d", i);
      other = make_account(f, name, false, 0, NULL);
      dm = open_dm(f, other, me, i);
      last_ids[i] = post(f, 0, dm.id, other, "hello", NULL);
    }
  }
  arr = chats_of(f, me);
  assert_int_equal(json_array_size(arr), 40);
  for (size_t i = 1; i < json_array_size(arr); i++)
    assert_true(jint(json_array_get(arr, i - 1), "last") >=
                jint(json_array_get(arr, i), "last"));
  /* 10 groups without messages come last. */
  for (size_t i = 30; i < 40; i++) {
    json_t *row = json_array_get(arr, i);
    assert_int_equal(jint(row, "last"), 0);
    assert_int_equal(jint(row, "unread"), 0);
  }
  assert_int_equal(jint(json_array_get(arr, 0), "last"), last_ids[39]);
  assert_int_equal(jint(json_array_get(arr, 0), "unread"), 1);
  json_decref(arr);
}

/* ---------------------------------------------------------------------- */
/* Idempotency                                                             */

static void test_idempotency(void **state)
{
  fixture *f = *state;
  idem_job j;
  unsigned char hash[BINK_SHA256_LEN];
  char *resp = NULL;
  store_conn *c;
  bink_err err;

  memset(&j, 0, sizeof j);
  j.caller_id = 1;
  j.key = "key-1";
  bink_sha256("request body", 12, j.hash);
  j.response = "{\"ok\":true,\"result\":1}";
  j.now = 1000;
  assert_int_equal(store_write(f->s, job_idem_put, &j, &err), BINK_OK);
  c = reader(f);

  memset(hash, 0, sizeof hash);
  assert_int_equal(store_idem_get(c, 1, "key-1", 1010, 60, hash, &resp),
                   BINK_OK);
  assert_string_equal(resp, j.response);
  assert_memory_equal(hash, j.hash, BINK_SHA256_LEN);
  free(resp);
  resp = NULL;

  /* Younger than max_age only. */
  assert_int_equal(store_idem_get(c, 1, "key-1", 1059, 60, hash, &resp),
                   BINK_OK);
  free(resp);
  resp = (char *)"sentinel";
  assert_int_equal(store_idem_get(c, 1, "key-1", 1060, 60, hash, &resp),
                   BINK_ENOTFOUND);
  assert_null(resp);
  assert_int_equal(store_idem_get(c, 1, "key-1", 5000, 60, hash, &resp),
                   BINK_ENOTFOUND);

  /* Keyed by caller and key. */
  assert_int_equal(store_idem_get(c, 2, "key-1", 1010, 60, hash, &resp),
                   BINK_ENOTFOUND);
  assert_int_equal(store_idem_get(c, 1, "key-2", 1010, 60, hash, &resp),
                   BINK_ENOTFOUND);
  assert_int_equal(store_idem_get(c, 1, "KEY-1", 1010, 60, hash, &resp),
                   BINK_ENOTFOUND);

  /* A second put for the same key replaces the first. */
  bink_sha256("other body", 10, j.hash);
  j.response = "{\"ok\":false}";
  j.now = 2000;
  assert_int_equal(store_write(f->s, job_idem_put, &j, &err), BINK_OK);
  assert_int_equal(store_idem_get(c, 1, "key-1", 2001, 60, hash, &resp),
                   BINK_OK);
  assert_string_equal(resp, "{\"ok\":false}");
  assert_memory_equal(hash, j.hash, BINK_SHA256_LEN);
  free(resp);
  /* Another caller's key of the same name is separate. */
  j.caller_id = 2;
  j.response = "{\"two\":2}";
  assert_int_equal(store_write(f->s, job_idem_put, &j, &err), BINK_OK);
  assert_int_equal(store_idem_get(c, 1, "key-1", 2001, 60, hash, &resp),
                   BINK_OK);
  assert_string_equal(resp, "{\"ok\":false}");
  free(resp);
  assert_int_equal(store_idem_get(c, 2, "key-1", 2001, 60, hash, &resp),
                   BINK_OK);
  assert_string_equal(resp, "{\"two\":2}");
  free(resp);
}

/* ---------------------------------------------------------------------- */
/* Group commit                                                            */

#define GC_JOBS 200
#define GC_THREADS 8
#define GC_GROUP 42

typedef struct submitter {
  store *s;
  async_job *jobs;
  int first, step, count;
  int failures; /* submissions refused */
} submitter;

static void *submitter_main(void *arg)
{
  submitter *sub = arg;

  for (int i = sub->first; i < sub->count; i += sub->step) {
    if (store_submit(sub->s, &sub->jobs[i].job) != BINK_OK)
      sub->failures++;
  }
  return NULL;
}

static bool gc_fails(int i)
{
  return i % 7 == 3;
}

static void run_group_commit(fixture *f, bool hold_writer)
{
  async_job *jobs = calloc(GC_JOBS, sizeof *jobs);
  pthread_t threads[GC_THREADS];
  submitter subs[GC_THREADS];
  bool started[GC_THREADS];
  int done_while_held = 0;
  async_set set;
  blocker blk;
  json_t *hist;
  int ok = 0;
  char content[32];

  assert_non_null(jobs);
  async_set_init(&set, GC_JOBS);
  for (int i = 0; i < GC_JOBS; i++) {
    snprintf(content, sizeof content, "job-%d", i);
    async_job_init(&jobs[i], &set, i, GC_GROUP, gc_fails(i), content);
  }
  if (hold_writer)
    blocker_hold(f->s, &blk);
  /* No assertion may fail while the writer is held: record, check later. */
  for (int t = 0; t < GC_THREADS; t++) {
    subs[t].s = f->s;
    subs[t].jobs = jobs;
    subs[t].first = t;
    subs[t].step = GC_THREADS;
    subs[t].count = GC_JOBS;
    subs[t].failures = 0;
    started[t] = pthread_create(&threads[t], NULL, submitter_main,
                                &subs[t]) == 0;
  }
  for (int t = 0; t < GC_THREADS; t++) {
    if (started[t])
      pthread_join(threads[t], NULL);
  }
  if (hold_writer) {
    /* Nothing has run yet: all 200 are queued behind the blocker and go
     * into one batch with one transaction. */
    pthread_mutex_lock(&set.lock);
    done_while_held = set.done;
    pthread_mutex_unlock(&set.lock);
    blocker_release(&blk);
  }
  for (int t = 0; t < GC_THREADS; t++) {
    assert_true(started[t]);
    assert_int_equal(subs[t].failures, 0);
  }
  assert_int_equal(done_while_held, 0);
  async_set_wait(&set);

  /* Exactly the succeeding jobs' rows exist. */
  hist = group_history(f, GC_GROUP);
  for (int i = 0; i < GC_JOBS; i++) {
    snprintf(content, sizeof content, "job-%d", i);
    if (gc_fails(i)) {
      assert_int_equal(jobs[i].seen_rc, BINK_EINVAL);
      assert_int_equal(jobs[i].job.err.code, BINK_EINVAL);
      assert_non_null(strstr(jobs[i].job.err.msg, "refused"));
      assert_false(history_has(hist, content));
    } else {
      assert_int_equal(jobs[i].seen_rc, BINK_OK);
      assert_true(history_has(hist, content));
      ok++;
    }
    assert_false(pthread_equal(jobs[i].done_thread, pthread_self()));
  }
  assert_int_equal(json_array_size(hist), ok);
  json_decref(hist);

  /* After store_close() the writer has certainly finished: each done ran
   * exactly once. */
  store_close(f->s);
  f->s = NULL;
  for (int i = 0; i < GC_JOBS; i++)
    assert_int_equal(atomic_load(&jobs[i].done_calls), 1);
  async_set_destroy(&set);
  free(jobs);
}

/* Wake-ups: the keys the commit hook receives. */
static pthread_mutex_t woken_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t woken[64];
static size_t nwoken;

static void note_woken(void *arg, const uint64_t *keys, size_t n)
{
  (void)arg;
  pthread_mutex_lock(&woken_lock);
  for (size_t i = 0; i < n && nwoken < sizeof woken / sizeof woken[0]; i++)
    woken[nwoken++] = keys[i];
  pthread_mutex_unlock(&woken_lock);
}

static bool was_woken(uint64_t key)
{
  bool found = false;

  pthread_mutex_lock(&woken_lock);
  for (size_t i = 0; i < nwoken; i++)
    found = found || woken[i] == key;
  pthread_mutex_unlock(&woken_lock);
  return found;
}

typedef struct wake_job {
  int64_t group_id, joiner;
} wake_job;

/* A message to the group, someone joins, another message: one batch. */
static bink_rc job_wake_join_wake(store_conn *c, void *arg, bink_err *err)
{
  wake_job *j = arg;
  bink_member m;
  bink_rc rc;

  (void)err;
  if ((rc = store_wake_group(c, j->group_id)) != BINK_OK)
    return rc;
  memset(&m, 0, sizeof m);
  m.group_id = j->group_id;
  m.account_id = j->joiner;
  m.role = BINK_ROLE_MEMBER;
  m.joined_at = 1700000300;
  if ((rc = store_member_insert(c, &m)) != BINK_OK)
    return rc;
  return store_wake_group(c, j->group_id);
}

/* The writer looks a group's members up once a batch; a member who joins
 * later in the same batch is still woken by the group's next message. */
static void test_wake_group_sees_joiner(void **state)
{
  fixture *f = *state;
  bink_group g;
  bink_err err;
  wake_job j;
  int64_t owner, joiner;

  store_set_commit_hook(f->s, note_woken, NULL);
  owner = make_account(f, "owner", false, 0, NULL);
  joiner = make_account(f, "joiner", false, 0, NULL);
  make_group(f, "Team", owner, &g);
  assert_int_equal(add_member(f, g.id, owner, BINK_ROLE_OWNER, 1700000200),
                   BINK_OK);
  pthread_mutex_lock(&woken_lock);
  nwoken = 0;
  pthread_mutex_unlock(&woken_lock);
  j.group_id = g.id;
  j.joiner = joiner;
  assert_int_equal(store_write(f->s, job_wake_join_wake, &j, &err), BINK_OK);
  assert_true(was_woken(STORE_WAKE_USER(owner)));
  assert_true(was_woken(STORE_WAKE_USER(joiner)));
}

/* ---------------------------------------------------------------------- */
/* A write job's group look-ups (store_group_member_get_ext)               */

/* The PostgreSQL writer keeps what its batch looked up (pg_chat.c, "The
 * batch's group look-ups"). Whatever a job writes to a group's members, it
 * and the jobs after it in the batch see; what a failed job wrote, the
 * jobs after it do not. These run on both stores. */

static bink_rc look(store_conn *c, const bink_group *g, int64_t account_id,
                    bink_member *m)
{
  bink_group got;
  bink_rc rc = store_group_member_get_ext(c, g->ext_id, strlen(g->ext_id),
                                          account_id, &got, m);

  if (rc == BINK_OK && got.id != g->id)
    rc = BINK_EINTERNAL;
  return rc;
}

/* A text message from sender to g; *id gets its id. */
static bink_rc post_to(store_conn *c, const bink_group *g, int64_t sender,
                       int64_t *id)
{
  bink_message m;
  bink_rc rc;

  memset(&m, 0, sizeof m);
  m.group_id = g->id;
  snprintf(m.group_ext, sizeof m.group_ext, "%s", g->ext_id);
  m.sender_id = sender;
  snprintf(m.sender_ext, sizeof m.sender_ext, "user_%lld", (long long)sender);
  m.type = BINK_MSG_TEXT;
  m.content = (char *)"hello";
  m.created_at = 1700000400;
  rc = store_message_insert(c, &m);
  *id = m.id;
  return rc;
}

typedef struct steps_job {
  const bink_group *g;
  int64_t who;
  bink_member seen[5];
} steps_job;

/* Looks who up after each change of their membership, in one job. */
static bink_rc job_member_steps(store_conn *c, void *arg, bink_err *err)
{
  steps_job *j = arg;
  bink_member m;
  bink_rc rc;

  (void)err;
  if ((rc = look(c, j->g, j->who, &j->seen[0])) ||
      (rc = store_member_set_mute(c, j->g->id, j->who, 0)) ||
      (rc = look(c, j->g, j->who, &j->seen[1])) ||
      (rc = store_member_delete(c, j->g->id, j->who)) ||
      (rc = look(c, j->g, j->who, &j->seen[2])))
    return rc;
  fill_member(&m, j->g->id, j->who, BINK_ROLE_MEMBER, 1700000500);
  if ((rc = store_member_insert(c, &m)) ||
      (rc = look(c, j->g, j->who, &j->seen[3])) ||
      (rc = store_member_set_role(c, j->g->id, j->who, BINK_ROLE_ADMIN)))
    return rc;
  return look(c, j->g, j->who, &j->seen[4]);
}

static void test_lookups_see_the_jobs_writes(void **state)
{
  fixture *f = *state;
  steps_job j;
  bink_group g;
  bink_err err;
  int64_t owner, bot;

  owner = make_account(f, "owner", false, 0, NULL);
  bot = make_account(f, "stepbot", true, owner, NULL);
  make_group(f, "Steps", owner, &g);
  assert_int_equal(add_member(f, g.id, bot, BINK_ROLE_MEMBER, 1700000200),
                   BINK_OK);
  memset(&j, 0, sizeof j);
  j.g = &g;
  j.who = bot;
  assert_int_equal(store_write(f->s, job_member_steps, &j, &err), BINK_OK);
  assert_int_equal(j.seen[0].role, BINK_ROLE_MEMBER);
  assert_int_equal(j.seen[0].muted_until, -1);
  assert_int_equal(j.seen[1].role, BINK_ROLE_MEMBER);
  assert_int_equal(j.seen[1].muted_until, 0); /* muted until unmuted */
  assert_int_equal(j.seen[2].role, BINK_ROLE_NONE);
  assert_int_equal(j.seen[3].role, BINK_ROLE_MEMBER);
  assert_int_equal(j.seen[3].muted_until, -1);
  assert_int_equal(j.seen[4].role, BINK_ROLE_ADMIN);
}

typedef struct look_job {
  store_job job; /* first: done() gets this pointer */
  async_set *set;
  const bink_group *g;
  int64_t who;
  bool join_first; /* joins g before its look-up, then fails */
  bink_member seen;
  int64_t msg_id; /* the message it posted when a member (0: none) */
} look_job;

static bink_rc look_job_fn(store_conn *c, void *arg, bink_err *err)
{
  look_job *j = arg;
  bink_rc rc;

  if (j->join_first) {
    bink_member m;

    fill_member(&m, j->g->id, j->who, BINK_ROLE_MEMBER, 1700000600);
    if ((rc = store_member_insert(c, &m)))
      return rc;
  }
  if ((rc = look(c, j->g, j->who, &j->seen)))
    return rc;
  if (j->join_first)
    return bink_fail(err, BINK_EFORBIDDEN, "changed its mind");
  if (j->seen.role == BINK_ROLE_NONE)
    return BINK_OK;
  return post_to(c, j->g, j->who, &j->msg_id);
}

static void look_job_done(store_job *job)
{
  look_job *j = (look_job *)job;

  pthread_mutex_lock(&j->set->lock);
  j->set->done++;
  pthread_cond_broadcast(&j->set->cv);
  pthread_mutex_unlock(&j->set->lock);
}

/* One batch: a job joins someone, looks them up and fails; the next job
 * looks them up (not a member) and the others post, their messages numbered
 * in the order of their jobs. */
static void test_lookups_forget_a_failed_job(void **state)
{
  fixture *f = *state;
  enum { NJOBS = 6 };
  look_job jobs[NJOBS];
  async_set set;
  blocker blk;
  bink_group g;
  json_t *hist;
  int64_t owner, joiner;

  owner = make_account(f, "owner", false, 0, NULL);
  joiner = make_account(f, "joiner", false, 0, NULL);
  make_group(f, "Batch", owner, &g);
  assert_int_equal(add_member(f, g.id, owner, BINK_ROLE_OWNER, 1700000200),
                   BINK_OK);
  async_set_init(&set, NJOBS);
  for (int i = 0; i < NJOBS; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].job.fn = look_job_fn;
    jobs[i].job.done = look_job_done;
    jobs[i].job.arg = &jobs[i];
    jobs[i].set = &set;
    jobs[i].g = &g;
    jobs[i].who = i < 2 ? joiner : owner;
    jobs[i].join_first = i == 0;
  }
  /* Held, the writer takes all of them in its next batch. */
  blocker_hold(f->s, &blk);
  for (int i = 0; i < NJOBS; i++)
    assert_int_equal(store_submit(f->s, &jobs[i].job), BINK_OK);
  blocker_release(&blk);
  async_set_wait(&set);
  async_set_destroy(&set);
  assert_int_equal(jobs[0].job.rc, BINK_EFORBIDDEN);
  assert_int_equal(jobs[0].seen.role, BINK_ROLE_MEMBER); /* its own join */
  assert_int_equal(jobs[1].job.rc, BINK_OK);
  assert_int_equal(jobs[1].seen.role, BINK_ROLE_NONE); /* undone with it */
  assert_int_equal(jobs[1].msg_id, 0);
  for (int i = 2; i < NJOBS; i++) {
    assert_int_equal(jobs[i].job.rc, BINK_OK);
    assert_int_equal(jobs[i].seen.role, BINK_ROLE_OWNER);
    assert_true(jobs[i].msg_id > 0);
    if (i > 2)
      assert_true(jobs[i].msg_id > jobs[i - 1].msg_id);
  }
  hist = group_history(f, g.id);
  assert_int_equal(json_array_size(hist), NJOBS - 2);
  json_decref(hist);
}

static void test_group_commit_one_batch(void **state)
{
  run_group_commit(*state, true);
}

static void test_group_commit_concurrent(void **state)
{
  run_group_commit(*state, false);
}

/* store_write returns the job's own error record. */
static bink_rc job_refuse(store_conn *c, void *arg, bink_err *err)
{
  (void)c;
  (void)arg;
  return bink_fail(err, BINK_EFORBIDDEN, "not today");
}

static void test_store_write_error(void **state)
{
  fixture *f = *state;
  bink_err err;

  memset(&err, 0, sizeof err);
  assert_int_equal(store_write(f->s, job_refuse, NULL, &err), BINK_EFORBIDDEN);
  assert_int_equal(err.code, BINK_EFORBIDDEN);
  assert_string_equal(err.msg, "not today");
  assert_int_equal(store_write(f->s, job_refuse, NULL, NULL), BINK_EFORBIDDEN);
}

/* store_close() runs every queued job, then refuses new ones. */
typedef struct closer {
  store *s;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  bool started;
} closer;

static void *closer_main(void *arg)
{
  closer *cl = arg;

  pthread_mutex_lock(&cl->lock);
  cl->started = true;
  pthread_cond_broadcast(&cl->cv);
  pthread_mutex_unlock(&cl->lock);
  store_close(cl->s);
  return NULL;
}

/* A probe submitted while the store shuts down, kept in a list. */
typedef struct probe {
  async_job aj; /* first */
  struct probe *next;
} probe;

#define PROBES_MAX (1 << 20)

static void test_close_drains_queue(void **state)
{
  fixture *f = *state;
  async_set set;
  async_job jobs[10];
  probe *probes = NULL, *refused = NULL;
  blocker blk;
  closer cl;
  pthread_t t;
  int queued = 0, submit_errors = 0, probes_made = 0;

  async_set_init(&set, 0);
  memset(&cl, 0, sizeof cl);
  pthread_mutex_init(&cl.lock, NULL);
  pthread_cond_init(&cl.cv, NULL);
  cl.s = f->s;

  /* No assertion may fail while the writer is held: record, check later. */
  blocker_hold(f->s, &blk);
  for (int i = 0; i < 10; i++) {
    async_job_init(&jobs[i], &set, i, 3, false, "queued");
    if (store_submit(f->s, &jobs[i].job) != BINK_OK)
      submit_errors++;
  }
  if (pthread_create(&t, NULL, closer_main, &cl) != 0) {
    blocker_release(&blk);
    fail_msg("pthread_create");
  }
  pthread_mutex_lock(&cl.lock);
  while (!cl.started)
    pthread_cond_wait(&cl.cv, &cl.lock);
  pthread_mutex_unlock(&cl.lock);
  /* Probe until the closer has marked the store as stopping; probes
   * accepted before that are queued like the others. */
  while (!refused && probes_made < PROBES_MAX) {
    probe *p = calloc(1, sizeof *p);

    if (!p)
      break;
    async_job_init(&p->aj, &set, 10 + probes_made++, 3, false, "probe");
    p->next = probes;
    probes = p;
    if (store_submit(f->s, &p->aj.job) != BINK_OK)
      refused = p;
    else
      sched_yield();
  }
  blocker_release(&blk);
  assert_int_equal(pthread_join(t, NULL), 0);
  f->s = NULL;

  assert_int_equal(submit_errors, 0);
  assert_non_null(refused);
  assert_int_equal(refused->aj.job.err.code, BINK_EUNAVAIL);
  assert_non_null(strstr(refused->aj.job.err.msg, "shutting down"));
  assert_int_equal(atomic_load(&refused->aj.done_calls), 0);
  /* Every queued job ran and committed before store_close() returned. */
  for (int i = 0; i < 10; i++) {
    assert_int_equal(atomic_load(&jobs[i].done_calls), 1);
    assert_int_equal(jobs[i].seen_rc, BINK_OK);
    queued++;
  }
  for (probe *p = probes; p; p = p->next) {
    if (p == refused)
      continue;
    assert_int_equal(atomic_load(&p->aj.done_calls), 1);
    assert_int_equal(p->aj.seen_rc, BINK_OK);
    queued++;
  }
  pthread_mutex_lock(&set.lock);
  assert_int_equal(set.done, queued);
  pthread_mutex_unlock(&set.lock);
  {
    bink_err err;
    json_t *hist;

    assert_int_equal(store_open(f->uri, NULL, &f->s, &err), BINK_OK);
    hist = group_history(f, 3);
    assert_int_equal(json_array_size(hist), queued);
    json_decref(hist);
  }
  while (probes) {
    probe *next = probes->next;
    free(probes);
    probes = next;
  }
  async_set_destroy(&set);
  pthread_mutex_destroy(&cl.lock);
  pthread_cond_destroy(&cl.cv);
}

/* ---------------------------------------------------------------------- */
/* Readers                                                                 */

typedef struct reader_thread {
  store *s;
  const char *username;
  bink_rc rc;
  bool got_conn;
  int64_t id;
  /* for the close test */
  pthread_mutex_t *lock;
  pthread_cond_t *cv;
  int *ready;
  bool *closed;
} reader_thread;

static void *reader_main(void *arg)
{
  reader_thread *r = arg;
  store_conn *c = store_reader(r->s);
  bink_account a;

  r->got_conn = c != NULL;
  r->rc = c ? store_account_by_username(c, r->username, strlen(r->username),
                                        &a)
            : BINK_EUNAVAIL;
  r->id = r->rc == BINK_OK ? a.id : 0;
  if (c && r->rc == BINK_OK) {
    /* The same connection again on this thread. */
    if (store_reader(r->s) != c)
      r->got_conn = false;
  }
  if (r->lock) {
    /* Keep the thread (and its reader) alive until the store is closed. */
    pthread_mutex_lock(r->lock);
    (*r->ready)++;
    pthread_cond_broadcast(r->cv);
    while (!*r->closed)
      pthread_cond_wait(r->cv, r->lock);
    pthread_mutex_unlock(r->lock);
  }
  return NULL;
}

static void test_reader_other_thread(void **state)
{
  fixture *f = *state;
  reader_thread r;
  pthread_t t;
  store_conn *c = reader(f);
  bink_account a;
  int64_t id;

  /* A reader opened before the write sees it once committed. */
  assert_int_equal(store_account_by_username(c, "late", 4, &a),
                   BINK_ENOTFOUND);
  id = make_account(f, "late", false, 0, NULL);
  assert_int_equal(store_account_by_username(c, "late", 4, &a), BINK_OK);
  assert_int_equal(a.id, id);
  assert_ptr_equal(store_reader(f->s), c);

  memset(&r, 0, sizeof r);
  r.s = f->s;
  r.username = "late";
  assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_true(r.got_conn);
  assert_int_equal(r.rc, BINK_OK);
  assert_int_equal(r.id, id);

  /* A read transaction keeps one snapshot until it ends. */
  assert_int_equal(store_read_begin(c), BINK_OK);
  assert_int_equal(store_account_by_username(c, "later", 5, &a),
                   BINK_ENOTFOUND);
  make_account(f, "later", false, 0, NULL);
  assert_int_equal(store_account_by_username(c, "later", 5, &a),
                   BINK_ENOTFOUND);
  store_read_end(c);
  assert_int_equal(store_account_by_username(c, "later", 5, &a), BINK_OK);
  assert_int_equal(store_ping(f->s), BINK_OK);
}

#define READER_THREADS 4

static void test_close_with_readers(void **state)
{
  fixture *f = *state;
  reader_thread r[READER_THREADS];
  pthread_t t[READER_THREADS];
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  int ready = 0;
  bool closed = false;
  int64_t id = make_account(f, "shared", false, 0, NULL);
  store_conn *mine = reader(f);
  bink_account a;
  store *s2 = NULL;
  bink_err err;
  char uri[200];

  for (int i = 0; i < READER_THREADS; i++) {
    memset(&r[i], 0, sizeof r[i]);
    r[i].s = f->s;
    r[i].username = "shared";
    r[i].lock = &lock;
    r[i].cv = &cv;
    r[i].ready = &ready;
    r[i].closed = &closed;
    assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
  }
  pthread_mutex_lock(&lock);
  while (ready < READER_THREADS)
    pthread_cond_wait(&cv, &lock);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < READER_THREADS; i++) {
    assert_true(r[i].got_conn);
    assert_int_equal(r[i].rc, BINK_OK);
    assert_int_equal(r[i].id, id);
  }
  assert_int_equal(store_account_by_username(mine, "shared", 6, &a), BINK_OK);

  /* Close while every reader thread still lives: all connections go. */
  store_close(f->s);
  f->s = NULL;
  pthread_mutex_lock(&lock);
  closed = true;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < READER_THREADS; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);

  /* This thread's stale reader is not reused by the next store. */
  snprintf(uri, sizeof uri, "sqlite:%s/other.db", f->dir);
  memset(&err, 0, sizeof err);
  assert_int_equal(store_open(uri, NULL, &s2, &err), BINK_OK);
  f->s = s2;
  make_account(f, "fresh", false, 0, NULL);
  assert_true(reader(f) != NULL);
  assert_int_equal(store_account_by_username(reader(f), "fresh", 5, &a),
                   BINK_OK);
  assert_int_equal(store_account_by_username(reader(f), "shared", 6, &a),
                   BINK_ENOTFOUND);
  pthread_mutex_destroy(&lock);
  pthread_cond_destroy(&cv);
}

/* ---------------------------------------------------------------------- */
/* Failures inside a batch                                                 */

/* A job that hits a constraint and returns its error. */
static bink_rc job_duplicate_then_fail(store_conn *c, void *arg, bink_err *err)
{
  bink_account a;
  unsigned char hash[BINK_SHA256_LEN];
  bink_rc rc;

  (void)arg;
  /* First a row that must vanish with the job ... */
  fill_account(&a, "transient", false, 0);
  bink_sha256("tok-transient", 13, hash);
  rc = store_account_insert(c, &a, hash);
  if (rc != BINK_OK)
    return bink_fail(err, rc, "first insert failed");
  /* ... then a username that is taken. */
  fill_account(&a, "TAKEN", false, 0);
  bink_sha256("tok-fresh", 9, hash);
  rc = store_account_insert(c, &a, hash);
  return rc == BINK_OK ? BINK_OK : bink_fail(err, rc, "username taken");
}

static void test_error_injection(void **state)
{
  fixture *f = *state;
  async_set set;
  async_job jobs[6];
  int submitted = 0;
  blocker blk;
  sqlite3 *db;
  json_t *hist;
  bink_account a;
  bink_err err;
  store_conn *c;

  make_account(f, "taken", false, 0, NULL);
  c = reader(f);

  /* 1. A constraint hit inside a job: the job fails, its earlier row is
   * rolled back, the store goes on. */
  memset(&err, 0, sizeof err);
  assert_int_equal(store_write(f->s, job_duplicate_then_fail, NULL, &err),
                   BINK_ECONFLICT);
  assert_string_equal(err.msg, "username taken");
  assert_int_equal(store_account_by_username(c, "transient", 9, &a),
                   BINK_ENOTFOUND);
  make_account(f, "after", false, 0, NULL);

  /* 2. Failures injected by triggers installed behind the store's back:
   * RAISE(ABORT) fails one statement (the savepoint absorbs it), and
   * RAISE(ROLLBACK) throws away the whole transaction of the batch. */
  db = raw_open(f->db);
  raw_exec(db,
           "CREATE TRIGGER inject_abort BEFORE INSERT ON messages "
           "WHEN NEW.content = 'abort' BEGIN "
           "SELECT RAISE(ABORT, 'injected abort'); END;"
           "CREATE TRIGGER inject_rollback BEFORE INSERT ON messages "
           "WHEN NEW.content = 'rollback' BEGIN "
           "SELECT RAISE(ROLLBACK, 'injected rollback'); END;");
  sqlite3_close(db);

  async_set_init(&set, 6);
  async_job_init(&jobs[0], &set, 0, 5, false, "first");
  async_job_init(&jobs[1], &set, 1, 5, false, "abort");
  async_job_init(&jobs[2], &set, 2, 5, false, "second");
  async_job_init(&jobs[3], &set, 3, 5, true, "refused");
  async_job_init(&jobs[4], &set, 4, 5, false, "rollback");
  async_job_init(&jobs[5], &set, 5, 5, false, "third");
  blocker_hold(f->s, &blk);
  for (int i = 0; i < 6; i++)
    submitted += store_submit(f->s, &jobs[i].job) == BINK_OK;
  blocker_release(&blk);
  assert_int_equal(submitted, 6);
  async_set_wait(&set);

  /* The statement-level failure: only that job fails. */
  assert_int_not_equal(jobs[1].seen_rc, BINK_OK);
  assert_int_equal(jobs[3].seen_rc, BINK_EINVAL);
  /* The transaction-level failure: it and every batch-mate before it in the
   * same transaction fail, as their rows are gone. */
  assert_int_not_equal(jobs[4].seen_rc, BINK_OK);
  assert_int_equal(jobs[0].seen_rc, BINK_EUNAVAIL);
  assert_int_equal(jobs[2].seen_rc, BINK_EUNAVAIL);
  assert_int_equal(jobs[0].job.err.code, BINK_EUNAVAIL);
  /* The batch goes on in a new transaction. */
  assert_int_equal(jobs[5].seen_rc, BINK_OK);
  hist = group_history(f, 5);
  assert_int_equal(json_array_size(hist), 1);
  assert_true(history_has(hist, "third"));
  json_decref(hist);

  /* 3. The same failure as the last job of a batch. */
  async_set_destroy(&set);
  async_set_init(&set, 2);
  async_job_init(&jobs[0], &set, 0, 6, false, "lost");
  async_job_init(&jobs[1], &set, 1, 6, false, "rollback");
  submitted = 0;
  blocker_hold(f->s, &blk);
  for (int i = 0; i < 2; i++)
    submitted += store_submit(f->s, &jobs[i].job) == BINK_OK;
  blocker_release(&blk);
  assert_int_equal(submitted, 2);
  async_set_wait(&set);
  assert_int_equal(jobs[0].seen_rc, BINK_EUNAVAIL);
  assert_int_not_equal(jobs[1].seen_rc, BINK_OK);
  hist = group_history(f, 6);
  assert_int_equal(json_array_size(hist), 0);
  json_decref(hist);
  async_set_destroy(&set);

  /* 4. The store keeps working. */
  post(f, 7, 0, 1, "fine", NULL);
  hist = group_history(f, 7);
  assert_int_equal(json_array_size(hist), 1);
  json_decref(hist);
  make_account(f, "still_ok", false, 0, NULL);
  assert_int_equal(store_account_by_username(c, "still_ok", 8, &a), BINK_OK);
  assert_int_equal(store_ping(f->s), BINK_OK);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
    cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_groups_members, setup, teardown),
    cmocka_unit_test_setup_teardown(test_dms, setup, teardown),
    cmocka_unit_test_setup_teardown(test_message_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history, setup, teardown),
    cmocka_unit_test_setup_teardown(test_chats_unread, setup, teardown),
    cmocka_unit_test_setup_teardown(test_chats_many, setup, teardown),
    cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wake_group_sees_joiner, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_lookups_see_the_jobs_writes, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_lookups_forget_a_failed_job, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_group_commit_one_batch, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_group_commit_concurrent, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_store_write_error, setup, teardown),
    cmocka_unit_test_setup_teardown(test_close_drains_queue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reader_other_thread, setup, teardown),
    cmocka_unit_test_setup_teardown(test_close_with_readers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_error_injection, setup, teardown),
  };
  /* The tests that hold for any store, again on PostgreSQL. */
  const struct CMUnitTest pg_tests[] = {
    cmocka_unit_test_setup_teardown(test_accounts, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_groups_members, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_dms, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_message_round_trip, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_history, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_chats_unread, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_chats_many, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_idempotency, setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_wake_group_sees_joiner, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_lookups_see_the_jobs_writes,
                                    setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_lookups_forget_a_failed_job,
                                    setup_pg, teardown_pg),
    cmocka_unit_test_setup_teardown(test_group_commit_one_batch, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_group_commit_concurrent, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_store_write_error, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_close_drains_queue, setup_pg,
                                    teardown_pg),
    cmocka_unit_test_setup_teardown(test_reader_other_thread, setup_pg,
                                    teardown_pg),
  };
  int failed;

  binkd_log_setup("error", "text");
  failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
  if (getenv("BINK_TEST_PG") && *getenv("BINK_TEST_PG"))
    failed += cmocka_run_group_tests_name("postgresql", pg_tests, NULL, NULL);
  return failed;
}
