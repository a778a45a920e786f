/* guard.c: the one authorization point every request passes (http_dispatch
 * calls http_authorize once, before any handler or event stream runs), and
 * the security headers every answer carries.
 *
 * What it enforces, in this order:
 *   1. Host is one of the server's own names (the listen address, localhost,
 *      127.0.0.1, [::1] with the port, and weft.yaml's server.allowed_hosts):
 *      a DNS-rebinding page reaches us under its own name and is refused.
 *   2. A state-changing request (POST, PUT, PATCH, DELETE) from a browser
 *      comes from our own origin: Origin (else Referer), when sent, names
 *      the Host it was sent to. Clients that send neither (curl, scripts)
 *      are not browsers and cannot be driven by a hostile page.
 *   3. A state-changing request says Content-Type: application/json. A page
 *      of another origin cannot send that without a CORS preflight, which
 *      this server never grants (no Access-Control-Allow-* header at all).
   4. With authentication on (weft server; weft dev beyond loopback), the
      caller is a live API token, a user with a password or a login
      session's cookie (credentials.c), else 401; and its role is at least the one the
      route needs (viewer < launcher < operator < admin), else 403.
 * Each refusal says which rule failed. Routes carry the access they need
 * (enum http_access): HTTP_OPEN (/healthz, which probes reach by the pod's
 * address) skips every check; HTTP_PUBLIC (the UI's files, which hold no
 * data, and login/logout, session.c) skips only 4. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsl/dsl.h"
#include "http/http_int.h"
#include "util/str.h"

/* No inline script or style anywhere (the UI loads app.js and app.css);
 * nothing may frame us, and nothing of ours goes to other origins. */
static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

void http_security_headers(struct MHD_Response *resp, int tls) {
  /* Browsers that saw it once never talk to us in clear again. */
  if (tls) MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Content-Security-Policy", csp);
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "same-origin");
  MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
  MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

/* ---- the allow-list of Host values ------------------------------------------ */

static int add_host(struct http_guard *g, const char *fmt, const char *host, int port) {
  char *h = port >= 0 ? weft_str_printf(fmt, host, port) : weft_str_printf(fmt, host);
  if (!h) return WEFT_ENOMEM;
  for (char *p = h; *p; p++) *p = (char)tolower((unsigned char)*p);
  char **v = realloc(g->hosts, (g->n_hosts + 1) * sizeof *v);
  if (!v) {
    free(h);
    return WEFT_ENOMEM;
  }
  g->hosts = v;
  g->hosts[g->n_hosts++] = h;
  return WEFT_OK;
}

int http_guard_init(struct http_server *srv, weft_error *err) {
  struct http_guard *g = &srv->guard;
  struct weft_instance_config cfg = {0};
  int rc = weft_instance_config_load(srv->inst->home, &cfg, err);
  if (rc) return rc;
  /* srv->url is "http[s]://HOST:PORT" or "http[s]://[V6]:PORT" (make_url). */
  const char *authority = strstr(srv->url, "://") + 3;
  const char *colon = strrchr(authority, ':');
  int port = colon ? atoi(colon + 1) : 0;
  static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
  rc = add_host(g, "%s", authority, -1);
  for (size_t i = 0; !rc && i < sizeof local / sizeof *local; i++) {
    rc = add_host(g, "%s:%d", local[i], port);
    /* A browser leaves the default port out of Host. */
    if (!rc && port == 80) rc = add_host(g, "%s", local[i], -1);
  }
  for (size_t i = 0; !rc && i < cfg.server.n_allowed_hosts; i++) {
    if (!strcmp(cfg.server.allowed_hosts[i], "*")) g->any_host = 1;
    else rc = add_host(g, "%s", cfg.server.allowed_hosts[i], -1);
  }
  g->cfg = cfg.server; /* kept: the proxy settings are read per request */
  memset(&cfg.server, 0, sizeof cfg.server);
  weft_instance_config_release(&cfg);
  if (rc) return weft_error_set(err, rc, "out of memory starting the server");
  return WEFT_OK;
}

void http_guard_release(struct http_guard *g) {
  struct weft_instance_config k = {0};
  k.server = g->cfg; /* released the way weft.yaml's parser made it */
  weft_instance_config_release(&k);
  for (size_t i = 0; i < g->n_hosts; i++) free(g->hosts[i]);
  free(g->hosts);
  g->hosts = NULL;
  g->n_hosts = 0;
}

/* Length of host's name part: up to the port's ':' (a [v6] keeps its own). */
static size_t name_len(const char *host) {
  if (host[0] == '[') {
    const char *close = strchr(host, ']');
    return close ? (size_t)(close - host) + 1 : strlen(host);
  }
  return strcspn(host, ":");
}

/* Whether a Host header value is one of ours. An entry without a port
 * allows its name on any port; one with a port, that port only. */
int http__host_allowed(const struct http_guard *g, const char *host) {
  if (g->any_host) return 1;
  size_t hn = name_len(host);
  for (size_t i = 0; i < g->n_hosts; i++) {
    const char *e = g->hosts[i];
    size_t en = name_len(e);
    if (e[en] == '\0') {
      if (en == hn && !strncasecmp(e, host, hn) &&
          (host[hn] == '\0' || (host[hn] == ':' && host[hn + 1]))) return 1;
    } else if (!strcasecmp(e, host)) {
      return 1;
    }
  }
  return 0;
}

/* ---- state-changing requests ------------------------------------------------------ */

static int is_mutating(const char *method) {
  return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH") ||
         !strcmp(method, "DELETE");
}

/* Whether url ("http://host:port/..." or an Origin "http://host:port")
 * names exactly the authority host. */
int http__same_authority(const char *url, const char *host) {
  const char *rest = weft_str_has_prefix(url, "http://")    ? url + 7
                     : weft_str_has_prefix(url, "https://") ? url + 8
                                                            : NULL;
  if (!rest) return 0;
  size_t n = strcspn(rest, "/?#");
  return n && strlen(host) == n && !strncasecmp(rest, host, n);
}

/* Whether the media type of a Content-Type value is application/json
 * (parameters such as "; charset=utf-8" allowed). */
int http__is_json_type(const char *ct) {
  static const char want[] = "application/json";
  while (*ct == ' ' || *ct == '\t') ct++;
  if (strncasecmp(ct, want, sizeof want - 1)) return 0;
  ct += sizeof want - 1;
  while (*ct == ' ' || *ct == '\t') ct++;
  return *ct == '\0' || *ct == ';';
}

static const char *header(const struct http_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* The least role that may use a route. */
static enum weft_role need_role(enum http_access need) {
  switch (need) {
    case HTTP_OPEN: return WEFT_ROLE_NONE;
    case HTTP_PUBLIC: return WEFT_ROLE_NONE;
    case HTTP_READ: return WEFT_ROLE_VIEWER;
    case HTTP_LAUNCH: return WEFT_ROLE_LAUNCHER;
    case HTTP_OPERATE: return WEFT_ROLE_OPERATOR;
    case HTTP_ADMIN: return WEFT_ROLE_ADMIN;
  }
  return WEFT_ROLE_ADMIN;
}

static int same_origin_json(struct http_req *r, const char *host, enum MHD_Result *res);

int http_authorize(struct http_req *r, enum http_access need, int routed,
                   enum MHD_Result *res) {
  /* /healthz answers probes that name the pod's address, and says nothing. */
  if (routed && need == HTTP_OPEN) return 1;
  const char *host = header(r, MHD_HTTP_HEADER_HOST);
  if (!host || !*host) {
    *res = http_send_error(r, 403, NULL, "a Host header is required");
    return 0;
  }
  if (!http__host_allowed(&r->srv->guard, host)) {
    *res = http_send_error(r, 403, NULL,
                           "host '%.200s' is not served here (DNS rebinding protection); "
                           "add it to server.allowed_hosts in weft.yaml if it is this "
                           "server's name", host);
    return 0;
  }
  /* Every attempt to change something is in the audit log, refused or not. */
  if (routed && is_mutating(r->method)) http_audit_mark(r, NULL);
  if (routed && is_mutating(r->method) && !same_origin_json(r, host, res)) return 0;
  if (!r->srv->auth || (routed && need == HTTP_PUBLIC)) return 1;
  enum weft_role role = WEFT_ROLE_NONE;
  if (!http_credentials(r, &role, r->who, sizeof r->who, res)) return 0;
  r->role = role;
  enum weft_role want = need_role(routed ? need : HTTP_READ);
  if (role < want) {
    *res = http_send_error(r, 403, NULL, "%s %s needs the role %s or above; these credentials "
                           "are %s", r->method, routed ? "this route" : "this path",
                           weft_role_name(want), weft_role_name(role));
    return 0;
  }
  return 1;
}

/* The checks of a state-changing request (2. and 3. above); 0 after
 * answering 403. */
static int same_origin_json(struct http_req *r, const char *host, enum MHD_Result *res) {
  const char *origin = header(r, "Origin");
  const char *referer = header(r, "Referer");
  if (origin ? !http__same_authority(origin, host) : referer && !http__same_authority(referer, host)) {
    *res = http_send_error(r, 403, NULL,
                           "cross-origin request refused: %s '%.200s' is not this server "
                           "(%.200s)", origin ? "Origin" : "Referer",
                           origin ? origin : referer, host);
    return 0;
  }
  const char *ct = header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!ct || !http__is_json_type(ct)) {
    *res = http_send_error(r, 403, NULL,
                           "a %s request must say Content-Type: application/json (got %s%.100s%s)",
                           r->method, ct ? "'" : "", ct ? ct : "none", ct ? "'" : "");
    return 0;
  }
  return 1;
}

/* ---- what handlers ask about the caller -------------------------------------------- */

#define LAUNCHED_BY "weft/launched_by"

int http_tag_launcher(const struct http_req *r, json_t *tags) {
  if (!r->srv->auth || !r->who[0]) return WEFT_OK;
  return json_object_set_new(tags, LAUNCHED_BY, json_string(r->who)) ? WEFT_ENOMEM : WEFT_OK;
}

int http_may_cancel(struct http_req *r, const struct weft_run_row *row, enum MHD_Result *res) {
  if (!r->srv->auth || r->role >= WEFT_ROLE_OPERATOR) return 1;
  json_t *tags = row->tags ? json_loads(row->tags, 0, NULL) : NULL;
  const char *by = json_string_value(json_object_get(tags, LAUNCHED_BY));
  int mine = by && !strcmp(by, r->who);
  if (!mine)
    *res = http_send_error(r, 403, NULL, "a launcher cancels only the runs it launched; run "
                           "%s was launched by %s (an operator may cancel it)", row->id,
                           by ? by : "someone else");
  json_decref(tags);
  return mine;
}

enum MHD_Result http_api_me(struct http_req *r) {
  /* Without authentication everyone may do everything. */
  int auth = r->srv->auth;
  return http_send_json(r, 200, json_pack("{s:b, s:s?, s:s, s:b}", "auth", auth, "who",
                                          auth && r->who[0] ? r->who : NULL, "role",
                                          weft_role_name(auth ? r->role : WEFT_ROLE_ADMIN),
                                          "session", r->session));
}
