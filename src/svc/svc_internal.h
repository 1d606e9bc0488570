/* svc_internal.h: helpers shared by the svc_*.c files only. */
#ifndef BINK_SVC_INTERNAL_H
#define BINK_SVC_INTERNAL_H

#include <stddef.h>

#include "svc/svc.h"

/* Copies a parameter into a fixed buffer, truncating to cap - 1 bytes. */
void svc__copy(char *dst, size_t cap, bink_str s);

/* Sets *x->out (when wanted) to v, releasing v otherwise. BINK_EINTERNAL
 * when v is NULL (out of memory). */
static inline bink_rc svc__out(svc_ctx *x, json_t *v, bink_err *err) {
  if (!v)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  if (x->out)
    *x->out = v;
  else
    json_decref(v);
  return BINK_OK;
}

/* Maps a storage failure to 503 with a generic message. */
static inline bink_rc svc__storage(bink_rc rc, bink_err *err) {
  return bink_fail(err, rc == BINK_EINTERNAL ? rc : BINK_EUNAVAIL,
                   "storage unavailable");
}

#endif
