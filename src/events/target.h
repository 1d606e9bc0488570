/*
 * target.h: may a webhook URL be used (events.md, setwebhook)?
 */
#ifndef BINK_EVENTS_TARGET_H
#define BINK_EVENTS_TARGET_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/result.h"

/* Checks that url is an absolute http(s) URL whose host resolves, and,
 * unless allow_private, that none of its addresses is loopback, private
 * (RFC 1918, RFC 4193), link-local or unspecified. Resolves with
 * getaddrinfo (blocking). Errors are BINK_EINVAL naming `field`. */
bink_rc ev_webhook_target_check(const char *field, const char *url,
                                bool allow_private, bink_err *err);

/* True for loopback, private (RFC 1918, RFC 4193), link-local, carrier-
 * grade NAT, unspecified, multicast and broadcast addresses, also when
 * written as IPv4-mapped, IPv4-compatible or NAT64 IPv6. */
bool ev_addr_private(const struct sockaddr *sa);

#endif
