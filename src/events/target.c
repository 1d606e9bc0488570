#include "events/target.h"

#include "core/rules.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

static bool target__private4(const unsigned char *a) {
  return a[0] == 127 || a[0] == 10 || a[0] == 0 ||
         a[0] >= 224 || /* multicast, reserved, broadcast */
         (a[0] == 172 && (a[1] & 0xf0) == 16) ||
         (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254) ||
         (a[0] == 100 && (a[1] & 0xc0) == 64); /* carrier-grade NAT */
}

bool ev_addr_private(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return target__private4(
        (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
  if (sa->sa_family == AF_INET6) {
    const unsigned char *a =
        ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char zero[16] = {0};
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0,
                                               0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
      return true; /* :: and ::1 */
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(a, v4mapped, 12) == 0 || memcmp(a, nat64, 12) == 0 ||
        memcmp(a, zero, 12) == 0) /* mapped, NAT64, IPv4-compatible */
      return target__private4(a + 12);
    return (a[0] & 0xfe) == 0xfc ||                 /* fc00::/7 */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 */
           a[0] == 0xff;                            /* multicast */
  }
  return true;
}

bink_rc ev_webhook_target_check(const char *field, const char *url,
                                bool allow_private, bink_err *err) {
  bink_rc rc = bink_check_http_url(field, url, strlen(url), 2048, err);
  if (rc != BINK_OK)
    return rc;
  CURLU *u = curl_url();
  char *host = NULL;
  if (!u)
    return bink_fail(err, BINK_EINTERNAL, "out of memory");
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
  char *user = NULL, *port = NULL;
  if (uc == CURLUE_OK)
    uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  bool has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
  bool port_zero = curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
                   strcmp(port, "0") == 0;
  curl_free(user);
  curl_free(port);
  curl_url_cleanup(u);
  if (uc == CURLUE_OK && (has_user || port_zero)) {
    curl_free(host);
    return bink_fail(err, BINK_EINVAL, "%s must not hold %s", field,
                     has_user ? "credentials (user:password@); use the "
                                "secret to authenticate deliveries"
                              : "port 0");
  }
  if (uc != CURLUE_OK || !host)
    return bink_fail(err, BINK_EINVAL, "%s must be an absolute http or https "
                     "URL", field);
  /* curl keeps brackets around IPv6 literals. */
  char name[256];
  size_t n = strlen(host);
  const char *h = host;
  if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
    h++, n -= 2;
  if (n >= sizeof name) {
    curl_free(host);
    return bink_fail(err, BINK_EINVAL, "%s has a host name that is too long",
                     field);
  }
  memcpy(name, h, n);
  name[n] = '\0';
  curl_free(host);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  int gai = getaddrinfo(name, NULL, &hints, &res);
  if (gai != 0 || !res)
    return bink_fail(err, BINK_EINVAL, "%s: host %s does not resolve (%s)",
                     field, name, gai_strerror(gai));
  bool priv = false;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
    priv |= ev_addr_private(ai->ai_addr);
  freeaddrinfo(res);
  if (priv && !allow_private)
    return bink_fail(err, BINK_EINVAL,
                     "%s points at a private or loopback address, which this "
                     "server does not allow (--allow-private-webhooks)",
                     field);
  return BINK_OK;
}
