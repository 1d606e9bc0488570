#include <stdio.h>
#include <string.h>

#include "svc/svc_internal.h"

/* The two refusals svc__load_group, svc__require_member and
 * svc__load_group_member share. */
static bink_rc svc__group_not_found(bink_err *err, const char *field,
                                    bink_str id) {
  return bink_fail(err, BINK_ENOTFOUND, "%s %.*s not found", field,
                   (int)id.n, id.p);
}

static bink_rc svc__not_member(bink_err *err, const bink_group *g,
                               const bink_account *who) {
  return bink_fail(err, BINK_EFORBIDDEN, "%s not a member of group %s",
                   who->is_bot ? "the bot is" : "you are", g->ext_id);
}

bink_rc svc__load_group(store_conn *c, const char *field, bink_str id,
                        bink_group *g, bink_err *err) {
  bink_rc rc = store_group_get_ext(c, id.p, id.n, g);
  if (rc == BINK_ENOTFOUND)
    return svc__group_not_found(err, field, id);
  return rc == BINK_OK ? rc : bink_fail(err, rc, "storage unavailable");
}

bink_rc svc__require_member(store_conn *c, const bink_group *g,
                            const bink_account *who, bink_member *m,
                            bink_err *err) {
  bink_rc rc = store_member_get(c, g->id, who->id, m);
  if (rc == BINK_ENOTFOUND)
    return svc__not_member(err, g, who);
  return rc == BINK_OK ? rc : bink_fail(err, rc, "storage unavailable");
}

bink_rc svc__load_group_member(store_conn *c, const char *field, bink_str id,
                               const bink_account *who, bink_group *g,
                               bink_member *m, bink_err *err) {
  bink_rc rc = store_group_member_get_ext(c, id.p, id.n, who->id, g, m);
  if (rc == BINK_ENOTFOUND)
    return svc__group_not_found(err, field, id);
  if (rc != BINK_OK)
    return bink_fail(err, rc, "storage unavailable");
  return m->role == BINK_ROLE_NONE ? svc__not_member(err, g, who) : BINK_OK;
}

bink_rc svc__load_account(store_conn *c, const char *field, bink_str id,
                          bink_account *a, bink_err *err) {
  bink_rc rc = store_account_get_ext(c, id.p, id.n, a);
  if (rc == BINK_ENOTFOUND)
    return bink_fail(err, rc, "%s %.*s not found", field, (int)id.n, id.p);
  return rc == BINK_OK ? rc : bink_fail(err, rc, "storage unavailable");
}

bool svc__is_muted(const bink_member *m, int64_t now) {
  return m->muted_until == 0 || m->muted_until > now;
}

bink_rc svc__text(const char *field, bink_str s, int min, int max,
                  bool blank_is_empty, bink_err *err) {
  return bink_check_text(field, s.p ? s.p : "", s.p ? s.n : 0, min, max,
                         blank_is_empty, err);
}

void svc__copy(char *dst, size_t cap, bink_str s) {
  size_t n = s.p ? s.n : 0;
  if (n >= cap)
    n = cap - 1;
  if (n)
    memcpy(dst, s.p, n);
  dst[n] = '\0';
}
