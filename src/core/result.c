/*
 * result.c: error records and the generic text of result codes.
 */
#include "core/result.h"

#include <stdio.h>

/* When vsnprintf cut the message, drop a UTF-8 sequence it left incomplete
 * at the end, so that the message stays valid UTF-8 for the JSON envelope. */
static void result__trim_utf8(char *msg, size_t len)
{
  size_t start = len;
  size_t need;
  unsigned char lead;

  /* Walk back over at most three continuation bytes to the lead byte. */
  while(start > 0 && len - start < 3 &&
        ((unsigned char)msg[start - 1] & 0xC0) == 0x80)
    start--;
  if(start == 0)
    return;
  lead = (unsigned char)msg[start - 1];
  if(lead < 0xC0)
    return; /* ASCII (or stray continuation bytes): nothing to cut */
  need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if(len - (start - 1) < need)
    msg[start - 1] = '\0';
}

bink_rc bink_fail(bink_err *e, bink_rc code, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  bink_vfail(e, code, fmt, ap);
  va_end(ap);
  return code;
}

bink_rc bink_vfail(bink_err *e, bink_rc code, const char *fmt, va_list ap)
{
  int n;

  if(!e)
    return code;
  e->code = code;
  n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
  if(n < 0) {
    /* An encoding error: fall back to the generic text. */
    snprintf(e->msg, sizeof(e->msg), "%s", bink_rc_text(code));
  }
  else if((size_t)n >= sizeof(e->msg)) {
    result__trim_utf8(e->msg, sizeof(e->msg) - 1);
  }
  return code;
}

const char *bink_rc_text(bink_rc code)
{
  switch(code) {
  case BINK_OK:         return "ok";
  case BINK_AGAIN:      return "in progress";
  case BINK_EINVAL:     return "bad request";
  case BINK_EAUTH:      return "unauthorized";
  case BINK_EFORBIDDEN: return "forbidden";
  case BINK_ENOTFOUND:  return "not found";
  case BINK_EMETHOD:    return "method not allowed";
  case BINK_ECONFLICT:  return "conflict";
  case BINK_EGONE:      return "gone";
  case BINK_ETOOLARGE:  return "payload too large";
  case BINK_EMEDIATYPE: return "unsupported media type";
  case BINK_ERATE:      return "too many requests";
  case BINK_EINTERNAL:  return "internal error";
  case BINK_EUNAVAIL:   return "service unavailable";
  default:              return "internal error";
  }
}
