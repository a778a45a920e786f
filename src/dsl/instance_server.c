/* instance_server.c: the `server:` and `auth:` sections of weft.yaml: the
 * Host values `weft server|dev` answer, which SSO proxy may vouch for a
 * user by a header (trusted only from the addresses listed), and how long a
 * login session of the web UI lasts. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "dsl/dsl_int.h"
#include "util/str.h"

static const char *const server_keys[] = {"allowed_hosts", NULL};
static const char *const auth_keys[] = {"proxy_header", "trusted_proxies", "session_ttl",
                                        "session_idle", NULL};

/* "name", "name:port", "[v6]", "[v6]:port" or "*": what a Host header may
 * hold, without user info, path or spaces. */
static int host_entry_ok(const char *h) {
  if (!strcmp(h, "*")) return 1;
  const char *port = NULL;
  if (h[0] == '[') {
    const char *close = strchr(h, ']');
    if (!close || close == h + 1) return 0;
    for (const char *p = h + 1; p < close; p++)
      if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') return 0;
    if (close[1] && close[1] != ':') return 0;
    port = close[1] ? close + 2 : NULL;
  } else {
    size_t n = strcspn(h, ":");
    if (!n || n > 253) return 0;
    for (size_t i = 0; i < n; i++)
      if (!isalnum((unsigned char)h[i]) && h[i] != '-' && h[i] != '.') return 0;
    port = h[n] ? h + n + 1 : NULL;
  }
  if (!port) return 1;
  size_t digits = strspn(port, "0123456789");
  return digits && digits <= 5 && !port[digits] && atol(port) <= 65535;
}

void weft__parse_server_config(struct weft_diags *d, const struct weft__ynode *n,
                               struct weft_server_config *s, int *nomem) {
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "server must be a mapping (allowed_hosts), got %s",
                    weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, server_keys, "server");
  const struct weft__ynode *l = weft__ymap_get(n, "allowed_hosts", NULL);
  if (!l || weft__ynode_is_null(l)) return;
  if (l->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, l->mark, "server.allowed_hosts must be a list of host names "
                    "(such as [weft.example.com, \"weft.internal:8080\"]), got %s",
                    weft__ynode_describe(l));
    return;
  }
  if (!l->u.seq.n) return;
  if (!(s->allowed_hosts = calloc(l->u.seq.n, sizeof *s->allowed_hosts))) {
    *nomem = 1;
    return;
  }
  for (size_t i = 0; i < l->u.seq.n; i++) {
    const struct weft__ynode *h = l->u.seq.items[i];
    /* ${VAR}s too, as in every value of weft.yaml (a port from the env) */
    char *copy = h->kind == WEFT__Y_SCALAR ? weft__dsl_substitute_env(d, h, nomem) : NULL;
    if (*nomem) return;
    if (h->kind == WEFT__Y_SCALAR && !copy) continue; /* said at the value */
    if (!copy || !host_entry_ok(copy)) {
      weft__dsl_error(d, h->mark, "server.allowed_hosts[%zu] must be a host name with an "
                      "optional :port (or \"*\" for any), got %s", i,
                      copy ? copy : weft__ynode_describe(h));
      free(copy);
      continue;
    }
    for (char *p = copy; *p; p++) *p = (char)tolower((unsigned char)*p);
    s->allowed_hosts[s->n_allowed_hosts++] = copy;
  }
}

void weft__server_config_release(struct weft_server_config *s) {
  for (size_t i = 0; i < s->n_allowed_hosts; i++) free(s->allowed_hosts[i]);
  free(s->allowed_hosts);
  free(s->proxy_header);
  free(s->trusted_proxies);
  memset(s, 0, sizeof *s);
}

/* "1.2.3.4", "10.0.0.0/8", "::1", "fd00::/8" into *c; 0 when malformed. */
static int parse_cidr(const char *t, struct weft_cidr *c) {
  char addr[64];
  const char *slash = strchr(t, '/');
  size_t n = slash ? (size_t)(slash - t) : strlen(t);
  if (!n || n >= sizeof addr) return 0;
  memcpy(addr, t, n);
  addr[n] = '\0';
  memset(c, 0, sizeof *c);
  if (inet_pton(AF_INET, addr, c->addr) == 1) {
    c->family = AF_INET;
    c->bits = 32;
  } else if (inet_pton(AF_INET6, addr, c->addr) == 1) {
    c->family = AF_INET6;
    c->bits = 128;
  } else {
    return 0;
  }
  if (slash) {
    char *end;
    long b = strtol(slash + 1, &end, 10);
    if (!slash[1] || *end || b < 0 || b > c->bits) return 0;
    c->bits = (int)b;
  }
  return 1;
}

/* A lifetime such as "12h", "90m", "7d" or "3600s" (at most 30 days)
 * into *ms; 0 when it is none. */
static int parse_lifetime(const char *t, int64_t *ms) {
  char *end;
  if (!t || !isdigit((unsigned char)*t)) return 0;
  long long n = strtoll(t, &end, 10);
  long long unit = !strcmp(end, "d")   ? 86400000LL
                   : !strcmp(end, "h") ? 3600000LL
                   : !strcmp(end, "m") ? 60000LL
                   : !strcmp(end, "s") ? 1000LL
                                       : 0;
  if (!unit || n <= 0 || n > 30LL * 86400000 / unit) return 0;
  *ms = n * unit;
  return 1;
}

static void parse_session_time(struct weft_diags *d, const struct weft__ynode *n,
                               const char *key, int64_t *ms) {
  const struct weft__ynode *v = weft__ymap_get(n, key, NULL);
  if (!v || weft__ynode_is_null(v)) return;
  const char *t = v->kind == WEFT__Y_SCALAR ? weft__ynode_text(v) : NULL;
  if (!parse_lifetime(t, ms))
    weft__dsl_error(d, v->mark, "auth.%s must be a duration such as 12h, 30m or 7d (at most "
                    "30d), got %s", key, t ? t : weft__ynode_describe(v));
}

void weft__parse_auth_config(struct weft_diags *d, const struct weft__ynode *n,
                             struct weft_server_config *s, int *nomem) {
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "auth must be a mapping (proxy_header, trusted_proxies, "
                    "session_ttl, session_idle), got %s", weft__ynode_describe(n));
    return;
  }
  weft__dsl_check_keys(d, n, auth_keys, "auth");
  parse_session_time(d, n, "session_ttl", &s->session_ttl_ms);
  parse_session_time(d, n, "session_idle", &s->session_idle_ms);
  const struct weft__ynode *h = weft__ymap_get(n, "proxy_header", NULL);
  const struct weft__ynode *l = weft__ymap_get(n, "trusted_proxies", NULL);
  const char *name = h && h->kind == WEFT__Y_SCALAR ? weft__ynode_text(h) : NULL;
  if (h && !weft__ynode_is_null(h)) {
    size_t len = name ? strlen(name) : 0;
    int ok = len > 0 && len < 64;
    for (size_t i = 0; ok && i < len; i++) ok = isalnum((unsigned char)name[i]) || name[i] == '-';
    if (!ok) {
      weft__dsl_error(d, h->mark, "auth.proxy_header must be a header name such as "
                      "X-Forwarded-User, got %s", name ? name : weft__ynode_describe(h));
      return;
    }
    if (!(s->proxy_header = weft_str_dup(name))) *nomem = 1;
  }
  if (!l || weft__ynode_is_null(l) || l->kind != WEFT__Y_SEQ || !l->u.seq.n) {
    if (s->proxy_header)
      weft__dsl_error(d, l ? l->mark : n->mark, "auth.trusted_proxies must list the "
                      "addresses of the proxies that set %s (such as [127.0.0.1]): from "
                      "anywhere else the header is a lie", s->proxy_header);
    return;
  }
  if (!s->proxy_header)
    weft__dsl_error(d, n->mark, "auth.trusted_proxies needs auth.proxy_header");
  if (!(s->trusted_proxies = calloc(l->u.seq.n, sizeof *s->trusted_proxies))) {
    *nomem = 1;
    return;
  }
  for (size_t i = 0; i < l->u.seq.n; i++) {
    const struct weft__ynode *e = l->u.seq.items[i];
    const char *t = e->kind == WEFT__Y_SCALAR ? weft__ynode_text(e) : NULL;
    if (!t || !parse_cidr(t, &s->trusted_proxies[s->n_trusted_proxies])) {
      weft__dsl_error(d, e->mark, "auth.trusted_proxies[%zu] must be an address or a "
                      "block such as 10.0.0.0/8, got %s", i, t ? t : weft__ynode_describe(e));
      continue;
    }
    s->n_trusted_proxies++;
  }
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits) {
  int whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)whole)) return 0;
  if (!rest) return 1;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

int weft_server_trusts_proxy(const struct weft_server_config *c, const void *sockaddr) {
  const struct sockaddr *sa = sockaddr;
  unsigned char v4[4], v6[16];
  int has4 = 0, has6 = 0;
  if (!sa) return 0;
  if (sa->sa_family == AF_INET) {
    memcpy(v4, &((const struct sockaddr_in *)sockaddr)->sin_addr, 4);
    has4 = 1;
  } else if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sockaddr)->sin6_addr;
    memcpy(v6, a, 16);
    has6 = 1;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
      memcpy(v4, v6 + 12, 4);
      has4 = 1;
    }
  }
  for (size_t i = 0; i < c->n_trusted_proxies; i++) {
    const struct weft_cidr *t = &c->trusted_proxies[i];
    if ((t->family == AF_INET && has4 && prefix_match(v4, t->addr, t->bits)) ||
        (t->family == AF_INET6 && has6 && prefix_match(v6, t->addr, t->bits)))
      return 1;
  }
  return 0;
}
