/* svc_messages.c: sending, editing, deleting and reading messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/render.h"
#include "svc/svc_internal.h"

#define SVC__IDEMPOTENCY_AGE 86400 /* seconds (bot-api.md "Idempotency") */

/* Where a new message goes, and what the sender may do there. */
typedef struct svc__chat {
  bink_group g;    /* g.id == 0 for a private chat */
  bink_dm dm;
  bink_account peer;
} svc__chat;

static bink_rc svc__resolve_chat(store_conn *c, svc_send *op, svc__chat *ch,
                                 bink_err *err) {
  const bink_account *me = op->x.caller;
  memset(ch, 0, sizeof *ch);
  bink_rc rc;
  if (op->group_id.p) {
    bink_member m;
    if ((rc = svc__load_group_member(c, "group_id", op->group_id, me, &ch->g,
                                     &m, err)))
      return rc;
    if (svc__is_muted(&m, op->x.now))
      return bink_fail(err, BINK_EFORBIDDEN, "%s muted in group %s",
                       me->is_bot ? "the bot is" : "you are", ch->g.ext_id);
    return BINK_OK;
  }
  if ((rc = svc__load_account(c, "target_user_id", op->target_user_id,
                              &ch->peer, err)))
    return rc;
  if (ch->peer.id == me->id)
    return bink_fail(err, BINK_EINVAL, "target_user_id must not be yourself");
  if (me->is_bot) {
    if (ch->peer.is_bot)
      return bink_fail(err, BINK_EFORBIDDEN,
                       "bots cannot write to other bots");
    rc = store_dm_get(c, me->id, ch->peer.id, &ch->dm);
    if (rc != BINK_OK && rc != BINK_ENOTFOUND)
      return svc__storage(rc, err);
    bool user_is_lo = ch->dm.lo == ch->peer.id;
    bool wrote = user_is_lo ? ch->dm.lo_wrote : ch->dm.hi_wrote;
    bool blocked = user_is_lo ? ch->dm.lo_blocked : ch->dm.hi_blocked;
    if (rc == BINK_ENOTFOUND || !wrote)
      return bink_fail(err, BINK_EFORBIDDEN,
                       "the user has not started a chat with this bot");
    if (blocked)
      return bink_fail(err, BINK_EFORBIDDEN, "the user has blocked this bot");
    return BINK_OK;
  }
  if ((rc = store_dm_open(c, me->id, ch->peer.id, op->x.now, &ch->dm)))
    return svc__storage(rc, err);
  bool me_is_lo = ch->dm.lo == me->id;
  if (ch->peer.is_bot) {
    /* A person's message to a bot opens their chat for the bot; writing
     * again lifts a block (as "restart" does in other messengers). */
    bool *wrote = me_is_lo ? &ch->dm.lo_wrote : &ch->dm.hi_wrote;
    if (!*wrote) {
      *wrote = true;
      if ((rc = store_dm_update(c, &ch->dm)))
        return svc__storage(rc, err);
    }
  } else {
    bool blocked = me_is_lo ? ch->dm.hi_blocked : ch->dm.lo_blocked;
    if (blocked)
      return bink_fail(err, BINK_EFORBIDDEN, "%s has blocked you",
                       ch->peer.ext_id);
  }
  return BINK_OK;
}

/* A referenced message (reply or quote): live and in the same chat. */
static bink_rc svc__ref(store_conn *c, const char *field, bink_str id,
                        const svc__chat *ch, bink_message *out,
                        bink_err *err) {
  bink_rc rc = store_message_get_ext(c, id.p, id.n, out);
  if (rc != BINK_OK && rc != BINK_ENOTFOUND)
    return svc__storage(rc, err);
  bool same = rc == BINK_OK && !out->deleted &&
              (ch->g.id ? out->group_id == ch->g.id
                        : out->dm_id == ch->dm.id && ch->dm.id);
  if (!same) {
    if (rc == BINK_OK)
      bink_message_clear(out);
    return bink_fail(err, BINK_EINVAL,
                     "%s must be a live message in the same chat", field);
  }
  return BINK_OK;
}

/* Type-specific fields: content limits, file_id and the attachment. */
static bink_rc svc__body(store_conn *c, svc_send *op, bink_message *m,
                         bink_err *err) {
  const bink_limits *l = op->x.limits;
  int type = bink_msg_type_parse(op->message_type.p ? op->message_type.p
                                                    : "text");
  if (type < 0 || type == BINK_MSG_SYSTEM)
    return bink_fail(err, BINK_EINVAL,
                     "message_type must be one of text, image, video, audio, "
                     "file, sticker, contact");
  m->type = (bink_msg_type)type;
  bink_rc rc;
  if (type == BINK_MSG_TEXT) {
    if (op->file_id.p)
      return bink_fail(err, BINK_EINVAL,
                       "file_id must be absent for text messages");
    if ((rc = svc__text("content", op->content, 1, l->text_max, true, err)))
      return rc;
  } else {
    if (!op->file_id.p || op->file_id.n == 0)
      return bink_fail(err, BINK_EINVAL, "file_id is required for %s messages",
                       bink_msg_type_name(m->type));
    if (type == BINK_MSG_STICKER || type == BINK_MSG_CONTACT) {
      if (op->content.p && op->content.n)
        return bink_fail(err, BINK_EINVAL,
                         "content must be empty for %s messages",
                         bink_msg_type_name(m->type));
    } else if ((rc = svc__text("content", op->content, 0, l->caption_max,
                               false, err))) {
      return rc;
    }
  }
  svc__copy(m->file_ref, sizeof m->file_ref, op->file_id);
  if (type == BINK_MSG_CONTACT) {
    bink_account who;
    if ((rc = svc__load_account(c, "file_id", op->file_id, &who, err)))
      return rc;
    json_t *cj = bink_render_card(&who);
    m->attachment = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
    json_decref(cj);
    if (!m->attachment)
      return bink_fail(err, BINK_EINTERNAL, "out of memory");
  } else if (type != BINK_MSG_TEXT) {
    /* Media: a file_… the sender can see whose sniffed type fits; sticker:
     * a sticker_… of the catalogue (svc_files.c). */
    if ((rc = svc__attachment(c, op->x.caller, m->type, op->file_id,
                              &m->attachment, err)))
      return rc;
  }
  size_t n = op->content.p ? op->content.n : 0;
  m->content = malloc(n + 1);
  if (!m->content)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if (n)
    memcpy(m->content, op->content.p, n);
  m->content[n] = '\0';
  return BINK_OK;
}

/* The stored form of extra: NULL when there is no keyboard. */
static bink_rc svc__extra(const json_t *extra, const bink_limits *l,
                          char **out, bink_err *err) {
  *out = NULL;
  if (!extra)
    return BINK_OK;
  const json_t *kb = json_object_get(extra, "inline_keyboard");
  if (!kb || json_is_null(kb))
    return BINK_OK;
  bink_rc rc = bink_check_inline_keyboard(kb, l, err);
  if (rc != BINK_OK || json_array_size(kb) == 0)
    return rc;
  json_t *keep = json_pack("{s:O}", "inline_keyboard", kb);
  *out = keep ? json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(keep);
  return *out ? BINK_OK : bink_fail(err, BINK_EINTERNAL, "out of memory");
}

static bink_rc svc__send(store_conn *c, svc_send *op, bink_err *err) {
  const bink_account *me = op->x.caller;
  if (!op->group_id.p == !op->target_user_id.p)
    return bink_fail(err, BINK_EINVAL,
                     "exactly one of group_id and target_user_id is required");
  bink_message m;
  memset(&m, 0, sizeof m);
  svc__chat ch;
  bink_message ref;
  int64_t reply_sender = 0;
  bink_rc rc = svc__body(c, op, &m, err);
  if (rc == BINK_OK)
    rc = svc__extra(op->extra, op->x.limits, &m.extra, err);
  if (rc == BINK_OK)
    rc = svc__resolve_chat(c, op, &ch, err);
  if (rc != BINK_OK)
    goto done;
  m.sender_id = me->id;
  memcpy(m.tag, op->tag, sizeof m.tag);
  snprintf(m.sender_ext, sizeof m.sender_ext, "%s", me->ext_id);
  m.created_at = op->x.now;
  if (ch.g.id) {
    m.group_id = ch.g.id;
    snprintf(m.group_ext, sizeof m.group_ext, "%s", ch.g.ext_id);
  } else {
    m.dm_id = ch.dm.id;
    m.target_id = ch.peer.id;
    snprintf(m.target_ext, sizeof m.target_ext, "%s", ch.peer.ext_id);
  }
  if (op->reply_to_id.p && op->reply_to_id.n) {
    if ((rc = svc__ref(c, "reply_to_id", op->reply_to_id, &ch, &ref, err)))
      goto done;
    m.reply_to = ref.id;
    reply_sender = ref.sender_id;
    snprintf(m.reply_to_ext, sizeof m.reply_to_ext, "%s", ref.ext_id);
    bink_message_clear(&ref);
  }
  if (op->quote_message_id.p && op->quote_message_id.n) {
    if ((rc = svc__ref(c, "quote_message_id", op->quote_message_id, &ch, &ref,
                       err)))
      goto done;
    m.quote_id = ref.id;
    snprintf(m.quote_ext, sizeof m.quote_ext, "%s", ref.ext_id);
    json_t *q = json_pack("{s:s, s:s, s:s, s:s}", "message_id", ref.ext_id,
                          "sender_id", ref.sender_ext, "message_type",
                          bink_msg_type_name(ref.type), "content",
                          ref.content ? ref.content : "");
    m.quote = q ? json_dumps(q, JSON_COMPACT) : NULL;
    json_decref(q);
    bink_message_clear(&ref);
    if (!m.quote) {
      rc = bink_fail(err, BINK_EINTERNAL, "out of memory");
      goto done;
    }
  }
  if ((rc = store_message_insert(c, &m)) != BINK_OK) {
    rc = svc__storage(rc, err);
    goto done;
  }
  /* The outbox: the message's events commit with it (events.md). */
  rc = svc__route_message(c, &m, me, ch.g.id ? &ch.g : NULL,
                          ch.g.id ? NULL : &ch.peer, reply_sender, err);
  json_t *rendered = rc == BINK_OK ? bink_render_message(&m) : NULL;
  if (rc == BINK_OK)
    rc = svc__tell(c, m.group_id, m.group_id ? NULL : &ch.dm, 0,
                   "message_new", json_incref(rendered), op->x.now, err);
  if (rc != BINK_OK) {
    json_decref(rendered);
    goto done;
  }
  rc = svc__out(&op->x, rendered, err);
done:
  bink_message_clear(&m);
  return rc;
}

void svc_send_prepare(svc_send *op) {
  if (bink_id_new_tag(op->tag) != BINK_OK)
    op->tag[0] = '\0';
}

bink_rc svc_send_job(store_conn *c, void *arg, bink_err *err) {
  svc_send *op = arg;
  const char *key = op->idempotency_key;
  if (key) {
    unsigned char seen[BINK_SHA256_LEN];
    char *response = NULL;
    bink_rc rc = store_idem_get(c, op->x.caller->id, key, op->x.now,
                                SVC__IDEMPOTENCY_AGE, seen, &response);
    if (rc == BINK_OK) {
      bool same = bink_digest_equal(seen, op->request_hash);
      json_t *first = same ? json_loads(response, 0, NULL) : NULL;
      free(response);
      if (!same)
        return bink_fail(err, BINK_ECONFLICT,
                         "Idempotency-Key was already used for another "
                         "request");
      return svc__out(&op->x, first, err);
    }
    if (rc != BINK_ENOTFOUND)
      return svc__storage(rc, err);
  }
  json_t *result = NULL;
  json_t **want = op->x.out;
  op->x.out = &result;
  bink_rc rc = svc__send(c, op, err);
  op->x.out = want;
  if (rc != BINK_OK)
    return rc;
  if (key) {
    char *text = json_dumps(result, JSON_COMPACT);
    rc = text ? store_idem_put(c, op->x.caller->id, key, op->request_hash, text,
                               op->x.now)
              : BINK_EINTERNAL;
    free(text);
    if (rc != BINK_OK) {
      json_decref(result);
      return svc__storage(rc, err);
    }
  }
  return svc__out(&op->x, result, err);
}

/* ---------------------------------------------------------------------- */

/* May `who` see message m? Members of its group; the two sides of its
 * private chat. */
static bink_rc svc__visible(store_conn *c, const bink_account *who,
                            const bink_message *m, bink_member *member,
                            bink_dm *dm) {
  if (m->group_id) {
    bink_rc rc = store_member_get(c, m->group_id, who->id, member);
    return rc;
  }
  bink_rc rc = store_dm_get_id(c, m->dm_id, dm);
  if (rc != BINK_OK)
    return rc;
  return dm->lo == who->id || dm->hi == who->id ? BINK_OK : BINK_ENOTFOUND;
}

/* Loads a live message the caller can see: 404 otherwise. */
static bink_rc svc__load_visible(store_conn *c, const bink_account *who,
                                 const char *field, bink_str id,
                                 bink_message *m, bink_member *member,
                                 bink_dm *dm, bink_err *err) {
  bink_rc rc = store_message_get_ext(c, id.p, id.n, m);
  if (rc == BINK_OK && m->deleted)
    rc = BINK_ENOTFOUND;
  if (rc == BINK_OK)
    rc = svc__visible(c, who, m, member, dm);
  if (rc != BINK_OK) {
    bink_message_clear(m);
    if (rc == BINK_ENOTFOUND)
      return bink_fail(err, rc, "%s %.*s not found", field, (int)id.n, id.p);
    return svc__storage(rc, err);
  }
  return BINK_OK;
}

bink_rc svc_edit_job(store_conn *c, void *arg, bink_err *err) {
  svc_edit *op = arg;
  const bink_limits *l = op->x.limits;
  if (!op->has_content && !op->extra)
    return bink_fail(err, BINK_EINVAL, "content or extra is required");
  bink_message m;
  bink_member member;
  bink_dm dm;
  bink_rc rc = svc__load_visible(c, op->x.caller, "message_id",
                                 op->message_id, &m, &member, &dm, err);
  if (rc != BINK_OK)
    return rc;
  char *extra = NULL;
  if (m.sender_id != op->x.caller->id) {
    rc = bink_fail(err, BINK_EFORBIDDEN,
                   "message %s was not sent by you; only your own messages "
                   "can be edited",
                   m.ext_id);
    goto done;
  }
  if (!m.group_id && op->x.caller->is_bot &&
      (dm.lo == op->x.caller->id ? dm.hi_blocked : dm.lo_blocked)) {
    rc = bink_fail(err, BINK_EFORBIDDEN, "the user has blocked this bot");
    goto done;
  }
  if (op->has_content) {
    if (m.type == BINK_MSG_STICKER || m.type == BINK_MSG_CONTACT)
      rc = bink_fail(err, BINK_EINVAL, "content cannot be set on %s messages",
                     bink_msg_type_name(m.type));
    else if (m.type == BINK_MSG_TEXT)
      rc = svc__text("content", op->content, 1, l->text_max, true, err);
    else
      rc = svc__text("content", op->content, 0, l->caption_max, false, err);
    if (rc != BINK_OK)
      goto done;
  }
  if (op->extra && (rc = svc__extra(op->extra, l, &extra, err)) != BINK_OK)
    goto done;
  bool content_same = !op->has_content ||
                      (strlen(m.content) == op->content.n &&
                       memcmp(m.content, op->content.p, op->content.n) == 0);
  bool extra_same = !op->extra || (!extra && !m.extra) ||
                    (extra && m.extra && strcmp(extra, m.extra) == 0);
  if (!(content_same && extra_same)) {
    if (op->has_content) {
      char *nc = strndup(op->content.p, op->content.n);
      if (!nc) {
        rc = bink_fail(err, BINK_EINTERNAL, "out of memory");
        goto done;
      }
      free(m.content);
      m.content = nc;
    }
    if (op->extra) {
      free(m.extra);
      m.extra = extra;
      extra = NULL;
    }
    m.edited_at = op->x.now;
    if ((rc = store_message_update(c, &m)) != BINK_OK) {
      rc = svc__storage(rc, err);
      goto done;
    }
    if ((rc = svc__tell(c, m.group_id, m.group_id ? NULL : &dm, 0,
                        "message_edited", bink_render_message(&m), op->x.now,
                        err)) != BINK_OK)
      goto done;
  }
  rc = svc__out(&op->x, bink_render_message(&m), err);
done:
  free(extra);
  bink_message_clear(&m);
  return rc;
}

/* Deletes one message if the caller may (bot-api.md / app-api.md
 * deletemessage). */
static bink_rc svc__delete_one(store_conn *c, svc_delete *op, bink_str id,
                               bink_err *err) {
  const bink_account *me = op->x.caller;
  bink_message m;
  bink_member member;
  bink_dm dm;
  bink_rc rc = svc__load_visible(c, me, "message_id", id, &m, &member, &dm,
                                 err);
  if (rc != BINK_OK)
    return rc;
  bool allowed = m.sender_id == me->id ||
                 (m.group_id && member.role >= BINK_ROLE_ADMIN) ||
                 (!m.group_id && me->is_bot);
  if (!allowed)
    rc = bink_fail(err, BINK_EFORBIDDEN,
                   m.group_id ? "message %s is not yours and you are not an "
                                "admin of its group"
                              : "message %s is not yours",
                   m.ext_id);
  else if ((rc = store_message_tombstone(c, m.id, op->x.now)) != BINK_OK)
    rc = svc__storage(rc, err);
  if (rc == BINK_OK) {
    m.deleted = true;
    m.edited_at = op->x.now;
    rc = svc__tell(c, m.group_id, m.group_id ? NULL : &dm, 0,
                   "message_deleted", bink_render_message(&m), op->x.now,
                   err);
  }
  bink_message_clear(&m);
  return rc;
}

bink_rc svc_delete_job(store_conn *c, void *arg, bink_err *err) {
  svc_delete *op = arg;
  const bink_limits *l = op->x.limits;
  if (!op->message_id.p == !op->message_ids)
    return bink_fail(err, BINK_EINVAL,
                     "exactly one of message_id and message_ids is required");
  if (op->message_id.p) {
    bink_rc rc = svc__delete_one(c, op, op->message_id, err);
    if (rc != BINK_OK)
      return rc;
    return svc__out(&op->x,
                    json_pack("{s:[s%]}", "deleted", op->message_id.p,
                              op->message_id.n),
                    err);
  }
  size_t n = json_array_size(op->message_ids);
  if (n < 1 || n > (size_t)l->delete_ids_max)
    return bink_fail(err, BINK_EINVAL, "message_ids must hold 1..%d ids",
                     l->delete_ids_max);
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(op->message_ids, i);
    if (!json_is_string(v))
      return bink_fail(err, BINK_EINVAL, "message_ids[%zu] must be a string",
                       i);
    for (size_t j = 0; j < i; j++)
      if (json_equal(v, json_array_get(op->message_ids, j)))
        return bink_fail(err, BINK_EINVAL,
                         "message_ids[%zu] duplicates message_ids[%zu]", i, j);
  }
  json_t *deleted = json_array(), *failed = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(op->message_ids, i);
    bink_str id = {json_string_value(v), json_string_length(v)};
    bink_err one = {0};
    bink_rc rc = svc__delete_one(c, op, id, &one);
    if (rc == BINK_EUNAVAIL || rc == BINK_EINTERNAL) {
      json_decref(deleted);
      json_decref(failed);
      *err = one;
      return rc;
    }
    if (rc == BINK_OK)
      json_array_append(deleted, v);
    else
      json_array_append_new(failed,
                            json_pack("{s:O, s:i, s:s}", "message_id", v,
                                      "code", (int)rc, "msg", one.msg));
  }
  return svc__out(&op->x,
                  json_pack("{s:o, s:o}", "deleted", deleted, "failed", failed),
                  err);
}

/* ---------------------------------------------------------------------- */

bink_rc svc_history(store_conn *c, svc_history_query *op, bink_err *err) {
  const bink_account *me = op->x.caller;
  if (!op->group_id.p == !op->peer_id.p)
    return bink_fail(err, BINK_EINVAL,
                     "exactly one of group_id and peer_id is required");
  if (op->limit < 1 || op->limit > 100)
    return bink_fail(err, BINK_EINVAL, "limit must be 1..100");
  int64_t before = 0;
  if (op->before.p && op->before.n) {
    bink_id_kind kind;
    if (!bink_id_parse(op->before.p, op->before.n, &kind, &before, NULL) ||
        kind != BINK_ID_MSG)
      return bink_fail(err, BINK_EINVAL, "before must be a message id");
  }
  bink_group g;
  bink_member m;
  bink_dm dm = {0};
  bink_rc rc;
  if (op->group_id.p) {
    if ((rc = svc__load_group(c, "group_id", op->group_id, &g, err)) ||
        (rc = svc__require_member(c, &g, me, &m, err)))
      return rc;
  } else {
    bink_account peer;
    if ((rc = svc__load_account(c, "peer_id", op->peer_id, &peer, err)))
      return rc;
    rc = store_dm_get(c, me->id, peer.id, &dm);
    if (rc != BINK_OK && rc != BINK_ENOTFOUND)
      return svc__storage(rc, err);
  }
  if (before) {
    /* The cursor must be a message of this very chat. */
    bink_message bm;
    rc = store_message_get_ext(c, op->before.p, op->before.n, &bm);
    bool here = rc == BINK_OK && (op->group_id.p ? bm.group_id == g.id
                                                 : dm.id && bm.dm_id == dm.id);
    if (rc == BINK_OK)
      bink_message_clear(&bm);
    if (rc != BINK_OK && rc != BINK_ENOTFOUND)
      return svc__storage(rc, err);
    if (!here)
      return bink_fail(err, BINK_EINVAL,
                       "before must be a message id of this chat");
  }
  json_t *list = json_array();
  bool more = false;
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if (op->group_id.p || dm.id) {
    rc = store_history(c, op->group_id.p ? g.id : 0, dm.id, before,
                       (int)op->limit, bink_render_message, list, &more);
    if (rc != BINK_OK) {
      json_decref(list);
      return svc__storage(rc, err);
    }
  }
  size_t n = json_array_size(list);
  const char *next = "";
  if (more && n)
    next = json_string_value(
        json_object_get(json_array_get(list, n - 1), "message_id"));
  if (!before && n) {
    bink_id_kind kind;
    const char *newest = json_string_value(
        json_object_get(json_array_get(list, 0), "message_id"));
    if (newest && bink_id_parse(newest, strlen(newest), &kind, &op->read_upto,
                                NULL)) {
      op->read_group = op->group_id.p ? g.id : 0;
      op->read_dm = dm.id;
    }
  }
  return svc__out(&op->x,
                  json_pack("{s:o, s:s}", "messages", list, "next_before",
                            next ? next : ""),
                  err);
}

bink_rc svc_mark_read_job(store_conn *c, void *arg, bink_err *err) {
  svc_mark_read *op = arg;
  bink_rc rc = store_mark_read(c, op->account_id, op->group_id, op->dm_id,
                               op->upto);
  return rc == BINK_OK ? rc : svc__storage(rc, err);
}

static json_t *svc__render_chat(const store_chat_row *row) {
  json_t *last = row->last.id ? bink_render_message(&row->last) : json_null();
  if (row->is_group)
    return json_pack("{s:s, s:s, s:s, s:o, s:I}", "chat_type", "group",
                     "group_id", row->group.ext_id, "title", row->group.title,
                     "last_message", last, "unread_count",
                     (json_int_t)row->unread);
  return json_pack("{s:s, s:o, s:s, s:o, s:I}", "chat_type", "private", "peer",
                   bink_render_card(&row->peer), "title",
                   row->peer.display_name, "last_message", last,
                   "unread_count", (json_int_t)row->unread);
}

bink_rc svc_chats(store_conn *c, svc_ctx *x, bink_err *err) {
  json_t *list = json_array();
  if (!list)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  bink_rc rc = store_chats(c, x->caller->id, svc__render_chat, list);
  if (rc != BINK_OK) {
    json_decref(list);
    return svc__storage(rc, err);
  }
  return svc__out(x, json_pack("{s:o}", "chats", list), err);
}
