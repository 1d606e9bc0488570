/* svc_groups.c: groups, membership, roles and mutes. */
#include <stdio.h>
#include <string.h>

#include "core/render.h"
#include "svc/svc_internal.h"

bink_rc svc_create_group_job(store_conn *c, void *arg, bink_err *err) {
  svc_create_group *op = arg;
  const bink_limits *l = op->x.limits;
  bink_rc rc = svc__text("title", op->title, 1, l->title_max, true, err);
  if (rc == BINK_OK && op->username.p && op->username.n)
    rc = bink_check_username("username", op->username.p, op->username.n, err);
  if (rc == BINK_OK && op->description.p)
    rc = svc__text("description", op->description, 0, l->description_max,
                   false, err);
  if (rc != BINK_OK)
    return rc;
  bink_group g;
  memset(&g, 0, sizeof g);
  svc__copy(g.title, sizeof g.title, op->title);
  svc__copy(g.username, sizeof g.username, op->username);
  svc__copy(g.description, sizeof g.description, op->description);
  g.is_public = op->is_public;
  g.owner_id = op->x.caller->id;
  g.created_at = op->x.now;
  rc = store_group_insert(c, &g);
  if (rc == BINK_ECONFLICT)
    return bink_fail(err, rc, "group username %s is taken", g.username);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  bink_member m = {.group_id = g.id,
                   .account_id = g.owner_id,
                   .role = BINK_ROLE_OWNER,
                   .muted_until = -1,
                   .joined_at = op->x.now};
  if ((rc = store_member_insert(c, &m)) != BINK_OK)
    return svc__storage(rc, err);
  g.member_count = 1;
  return svc__out(&op->x, bink_render_group_for_user(&g, BINK_ROLE_OWNER),
                  err);
}

bink_rc svc_get_group(store_conn *c, svc_group_op *op, bink_err *err) {
  bink_group g;
  bink_member m;
  bink_rc rc = svc__load_group(c, "group_id", op->group_id, &g, err);
  if (rc != BINK_OK)
    return rc;
  rc = store_member_get(c, g.id, op->x.caller->id, &m);
  if (rc != BINK_OK && rc != BINK_ENOTFOUND)
    return svc__storage(rc, err);
  if (op->x.caller->is_bot) {
    if (rc == BINK_ENOTFOUND)
      return bink_fail(err, BINK_EFORBIDDEN,
                       "the bot is not a member of group %s", g.ext_id);
    return svc__out(&op->x, bink_render_group_for_bot(&g, m.role), err);
  }
  if (rc == BINK_ENOTFOUND && !g.is_public)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "you are not a member of group %s", g.ext_id);
  return svc__out(&op->x, bink_render_group_for_user(&g, m.role), err);
}

/* The group, the caller's membership (must be admin or owner when
 * need_admin) and, when user_field is set, the target account. */
typedef struct svc__scene {
  bink_group g;
  bink_member me;
  bink_account target;
  bink_member them; /* role NONE when not a member */
} svc__scene;

static bink_rc svc__scene_load(store_conn *c, svc_group_op *op,
                               bool need_admin, bool need_target,
                               svc__scene *s, bink_err *err) {
  bink_rc rc = svc__load_group(c, "group_id", op->group_id, &s->g, err);
  if (rc == BINK_OK)
    rc = svc__require_member(c, &s->g, op->x.caller, &s->me, err);
  if (rc != BINK_OK)
    return rc;
  if (need_admin && s->me.role < BINK_ROLE_ADMIN)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "%s must be an admin of group %s",
                     op->x.caller->is_bot ? "the bot" : "you", s->g.ext_id);
  if (!need_target)
    return BINK_OK;
  rc = svc__load_account(c, "user_id", op->user_id, &s->target, err);
  if (rc != BINK_OK)
    return rc;
  rc = store_member_get(c, s->g.id, s->target.id, &s->them);
  if (rc != BINK_OK && rc != BINK_ENOTFOUND)
    return svc__storage(rc, err);
  return BINK_OK;
}

static json_t *svc__member_result(const svc__scene *s, bink_role role) {
  return json_pack("{s:s, s:s, s:s}", "group_id", s->g.ext_id, "user_id",
                   s->target.ext_id, "role", bink_role_name(role));
}

bink_rc svc_add_member_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  svc__scene s;
  bink_rc rc = svc__scene_load(c, op, true, true, &s, err);
  if (rc != BINK_OK)
    return rc;
  if (s.them.role != BINK_ROLE_NONE)
    return bink_fail(err, BINK_ECONFLICT, "%s is already a member of %s",
                     s.target.ext_id, s.g.ext_id);
  if (s.target.is_bot && !s.target.can_join_groups)
    return bink_fail(err, BINK_EFORBIDDEN, "bot %s cannot join groups",
                     s.target.ext_id);
  bink_member m = {.group_id = s.g.id,
                   .account_id = s.target.id,
                   .role = BINK_ROLE_MEMBER,
                   .muted_until = -1,
                   .joined_at = op->x.now};
  if ((rc = store_member_insert(c, &m)) != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__member_joined(c, &s.g, &s.target, op->x.caller->ext_id,
                               op->x.now, err)) != BINK_OK)
    return rc;
  return svc__out(&op->x, svc__member_result(&s, BINK_ROLE_MEMBER), err);
}

bink_rc svc_join_group_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  if (!op->group_id.p == !op->group_username.p)
    return bink_fail(err, BINK_EINVAL,
                     "exactly one of group_id and group_username is required");
  bink_group g;
  bink_rc rc;
  if (op->group_id.p) {
    rc = svc__load_group(c, "group_id", op->group_id, &g, err);
  } else {
    rc = store_group_by_username(c, op->group_username.p, op->group_username.n,
                                 &g);
    if (rc == BINK_ENOTFOUND)
      return bink_fail(err, rc, "group_username %s not found",
                       op->group_username.p);
    if (rc != BINK_OK)
      return svc__storage(rc, err);
  }
  if (rc != BINK_OK)
    return rc;
  if (!g.is_public)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "group %s is not public; ask an admin to add you",
                     g.ext_id);
  bink_member m = {.group_id = g.id,
                   .account_id = op->x.caller->id,
                   .role = BINK_ROLE_MEMBER,
                   .muted_until = -1,
                   .joined_at = op->x.now};
  rc = store_member_insert(c, &m);
  if (rc == BINK_ECONFLICT)
    return bink_fail(err, rc, "you are already a member of %s", g.ext_id);
  if (rc != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__member_joined(c, &g, op->x.caller, "", op->x.now, err)) !=
      BINK_OK)
    return rc;
  g.member_count++;
  return svc__out(&op->x, bink_render_group_for_user(&g, BINK_ROLE_MEMBER),
                  err);
}

bink_rc svc_leave_group_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  svc__scene s;
  bink_rc rc = svc__scene_load(c, op, false, false, &s, err);
  if (rc != BINK_OK)
    return rc;
  if (s.me.role == BINK_ROLE_OWNER)
    return bink_fail(err, BINK_EFORBIDDEN, "the owner cannot leave group %s",
                     s.g.ext_id);
  if ((rc = store_member_delete(c, s.g.id, op->x.caller->id)) != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__tell(c, s.g.id, NULL, op->x.caller->id, "member_left",
                      json_pack("{s:s, s:s}", "group_id", s.g.ext_id,
                                "user_id", op->x.caller->ext_id),
                      op->x.now, err)) != BINK_OK)
    return rc;
  return svc__out(&op->x,
                  json_pack("{s:s, s:s}", "group_id", s.g.ext_id, "user_id",
                            op->x.caller->ext_id),
                  err);
}

/* The target must be a member that the caller may act on: not the owner,
 * and an admin only when the caller is the owner (or for mutes: never). */
static bink_rc svc__target_member(const svc__scene *s, bool admins_immune,
                                  bink_err *err) {
  if (s->them.role == BINK_ROLE_NONE)
    return bink_fail(err, BINK_ENOTFOUND, "user_id %s is not a member of %s",
                     s->target.ext_id, s->g.ext_id);
  if (s->them.role == BINK_ROLE_OWNER)
    return bink_fail(err, BINK_EFORBIDDEN, "user_id %s is the group's owner",
                     s->target.ext_id);
  if (s->them.role == BINK_ROLE_ADMIN &&
      (admins_immune || s->me.role != BINK_ROLE_OWNER))
    return bink_fail(err, BINK_EFORBIDDEN, "user_id %s is an admin",
                     s->target.ext_id);
  return BINK_OK;
}

bink_rc svc_remove_member_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  svc__scene s;
  bink_rc rc = svc__scene_load(c, op, true, true, &s, err);
  if (rc == BINK_OK)
    rc = svc__target_member(&s, false, err);
  if (rc != BINK_OK)
    return rc;
  if ((rc = store_member_delete(c, s.g.id, s.target.id)) != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__tell(c, s.g.id, NULL, s.target.id, "member_left",
                      json_pack("{s:s, s:s, s:s}", "group_id", s.g.ext_id,
                                "user_id", s.target.ext_id, "removed_by",
                                op->x.caller->ext_id),
                      op->x.now, err)) != BINK_OK)
    return rc;
  return svc__out(&op->x,
                  json_pack("{s:s, s:s}", "group_id", s.g.ext_id, "user_id",
                            s.target.ext_id),
                  err);
}

bink_rc svc_set_admin_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  svc__scene s;
  bink_rc rc = svc__scene_load(c, op, false, true, &s, err);
  if (rc != BINK_OK)
    return rc;
  if (s.me.role != BINK_ROLE_OWNER)
    return bink_fail(err, BINK_EFORBIDDEN,
                     "only the owner of group %s can set admins", s.g.ext_id);
  if (s.them.role == BINK_ROLE_NONE)
    return bink_fail(err, BINK_ENOTFOUND, "user_id %s is not a member of %s",
                     s.target.ext_id, s.g.ext_id);
  if (s.them.role == BINK_ROLE_OWNER)
    return bink_fail(err, BINK_EINVAL, "user_id %s is the owner",
                     s.target.ext_id);
  bink_role role = op->flag ? BINK_ROLE_ADMIN : BINK_ROLE_MEMBER;
  if ((rc = store_member_set_role(c, s.g.id, s.target.id, role)) != BINK_OK)
    return svc__storage(rc, err);
  return svc__out(&op->x, svc__member_result(&s, role), err);
}

bink_rc svc_members(store_conn *c, svc_group_op *op, bink_err *err) {
  svc__scene s;
  bink_rc rc = svc__scene_load(c, op, true, false, &s, err);
  if (rc != BINK_OK)
    return rc;
  json_t *list = json_array();
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if ((rc = store_members_list(c, s.g.id, bink_render_member, list)) !=
      BINK_OK) {
    json_decref(list);
    return svc__storage(rc, err);
  }
  return svc__out(&op->x, json_pack("{s:o}", "members", list), err);
}

/* Mute and unmute share their checks (bot-api.md mutemember): the caller
 * is an admin (403), the target a member (404), not owner/admin (403), and
 * not the caller (400). */
static bink_rc svc__mute_scene(store_conn *c, svc_group_op *op, svc__scene *s,
                               bink_err *err) {
  bink_rc rc = svc__scene_load(c, op, false, false, s, err);
  if (rc != BINK_OK)
    return rc;
  if (op->user_id.p && op->user_id.n == strlen(op->x.caller->ext_id) &&
      memcmp(op->user_id.p, op->x.caller->ext_id, op->user_id.n) == 0)
    return bink_fail(err, BINK_EINVAL, "user_id must not be the caller");
  rc = svc__scene_load(c, op, true, true, s, err);
  if (rc == BINK_OK)
    rc = svc__target_member(s, true, err);
  return rc;
}

bink_rc svc_mute_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  bink_rc rc = bink_check_mute_duration(op->duration, op->x.limits, err);
  if (rc != BINK_OK)
    return rc;
  svc__scene s;
  if ((rc = svc__mute_scene(c, op, &s, err)) != BINK_OK)
    return rc;
  int64_t until = op->duration == 0 ? 0 : op->x.now + op->duration;
  if ((rc = store_member_set_mute(c, s.g.id, s.target.id, until)) != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__tell(c, s.g.id, NULL, s.target.id, "member_muted",
                      json_pack("{s:s, s:s, s:I}", "group_id", s.g.ext_id,
                                "user_id", s.target.ext_id, "muted_until",
                                (json_int_t)until),
                      op->x.now, err)) != BINK_OK)
    return rc;
  return svc__out(&op->x,
                  json_pack("{s:s, s:s, s:I}", "group_id", s.g.ext_id,
                            "user_id", s.target.ext_id, "muted_until",
                            (json_int_t)until),
                  err);
}

bink_rc svc_unmute_job(store_conn *c, void *arg, bink_err *err) {
  svc_group_op *op = arg;
  svc__scene s;
  bink_rc rc = svc__mute_scene(c, op, &s, err);
  if (rc != BINK_OK)
    return rc;
  bool was = svc__is_muted(&s.them, op->x.now);
  if ((rc = store_member_set_mute(c, s.g.id, s.target.id, -1)) != BINK_OK)
    return svc__storage(rc, err);
  if ((rc = svc__tell(c, s.g.id, NULL, s.target.id, "member_unmuted",
                      json_pack("{s:s, s:s, s:b}", "group_id", s.g.ext_id,
                                "user_id", s.target.ext_id, "was_muted", was),
                      op->x.now, err)) != BINK_OK)
    return rc;
  return svc__out(&op->x,
                  json_pack("{s:s, s:s, s:b}", "group_id", s.g.ext_id,
                            "user_id", s.target.ext_id, "was_muted", was),
                  err);
}
