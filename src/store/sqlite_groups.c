/* sqlite_groups.c: group look-ups made of the SQLite store's others
 * (store.h). In-process, SQLite gains nothing from doing them in one
 * statement; the PostgreSQL store does (pg_chat.c, pg_misc.c). */
#include "store/sqlite_int.h"

bink_rc sqlite_group_member_get_ext(store_conn *c, const char *ext, size_t len,
                                    int64_t account_id, bink_group *g,
                                    bink_member *m) {
  bink_rc rc = sqlite_group_get_ext(c, ext, len, g);
  if (rc != BINK_OK)
    return rc;
  rc = sqlite_member_get(c, g->id, account_id, m);
  return rc == BINK_ENOTFOUND ? BINK_OK : rc;
}

static void sqlite__wake_member(void *arg, int64_t id) {
  sqlite_wake(arg, STORE_WAKE_USER(id));
}

/* Under load a batch holds many messages to the same few groups; their
 * members are looked up once a batch. The memo is dropped with the
 * batch's wake-ups (store__run_batch), when a member is added
 * (sqlite_member_insert) and when a job fails (its rollback may bring a
 * removed member back), so no member of the group at commit is missed. */
bink_rc sqlite_wake_group(store_conn *c, int64_t group_id) {
  store *s = c->owner;
  bool memo = c == s->writer;
  for (size_t i = 0; memo && i < s->nwoken_group; i++)
    if (s->woken_group[i] == group_id)
      return BINK_OK;
  bink_rc rc = sqlite_group_member_ids(c, group_id, sqlite__wake_member, c);
  if (rc == BINK_OK && memo &&
      s->nwoken_group < sizeof s->woken_group / sizeof s->woken_group[0])
    s->woken_group[s->nwoken_group++] = group_id;
  return rc;
}
