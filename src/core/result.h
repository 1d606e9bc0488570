/*
 * result.h: the small fixed set of result codes every fallible bink call
 * returns, and the error record that carries a one-sentence message.
 *
 * The codes are the HTTP statuses of the envelope (bot-api.md, "Response
 * envelope") so that a domain error travels unchanged from the rule that
 * found it to the client: BINK_OK is 0, every other value is the status.
 */
#ifndef BINK_CORE_RESULT_H
#define BINK_CORE_RESULT_H

#include <stdarg.h>

typedef enum bink_rc {
  BINK_OK = 0,
  BINK_AGAIN = 1,        /* not finished: continues asynchronously */
  BINK_EINVAL = 400,     /* invalid parameter */
  BINK_EAUTH = 401,      /* missing or invalid token */
  BINK_EFORBIDDEN = 403, /* not allowed */
  BINK_ENOTFOUND = 404,  /* unknown or not visible */
  BINK_EMETHOD = 405,    /* method not allowed */
  BINK_ECONFLICT = 409,  /* conflict */
  BINK_EGONE = 410,      /* expired */
  BINK_ETOOLARGE = 413,  /* body or upload too large */
  BINK_EMEDIATYPE = 415, /* unsupported content type */
  BINK_ERATE = 429,      /* rate limited */
  BINK_EINTERNAL = 500,  /* internal error, never shown in detail */
  BINK_EUNAVAIL = 503    /* storage unavailable or shutting down */
} bink_rc;

/* Longest error message kept, in bytes including the NUL. */
#define BINK_ERR_MSG_MAX 256

/* An error: the code and a one-sentence message naming the offending field
 * or id. Messages never contain tokens. Owned by the caller (usually on the
 * stack of the request). */
typedef struct bink_err {
  bink_rc code;
  char msg[BINK_ERR_MSG_MAX];
} bink_err;

/* Sets e->code and formats e->msg (truncated to fit); returns code so that a
 * rule can `return bink_fail(e, BINK_EINVAL, "x must be ...")`. e may be NULL,
 * then only the code is returned. */
bink_rc bink_fail(bink_err *e, bink_rc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* bink_fail with a va_list (for other printf-like error setters). */
bink_rc bink_vfail(bink_err *e, bink_rc code, const char *fmt, va_list ap);

/* The generic message for a code ("ok", "not found", ...). Never NULL. */
const char *bink_rc_text(bink_rc code);

#endif
