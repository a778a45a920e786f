/* session.c: signing in to the web UI: POST /api/v1/login checks a user's
 * password and sets a session cookie, POST /api/v1/logout ends the session
 * (engine/sessions.h keeps them in storage, by hash), and the guard's
 * credentials (credentials.c) accept the cookie like a token.
 *
 * The cookie is "weft_session=ID; Path=/; HttpOnly; SameSite=Strict"
 * (+ "; Secure" under TLS): no script reads it, no other site's page sends
 * it, and it never travels in clear when the server speaks TLS. A
 * state-changing request that carries it still passes the guard's Origin
 * and Content-Type checks (CSRF), login included (login CSRF).
 *
 * Guessing passwords is slowed per client address, in memory: the first
 * HTTP_LOGIN_FREE failures within HTTP_LOGIN_WINDOW_MS cost nothing more;
 * each one after locks the address out for 1, 2, 4, ... s (at most
 * HTTP_LOGIN_MAX_LOCK_MS), answered 429 with Retry-After. A login that
 * succeeds forgets the address's failures.
 *
 *   clean --fail--> counting --fail (n >= FREE)--> locked until T
 *     ^               |   ^                          |  now >= T: counting
 *     +--success------+   +----- window over: clean -+
 *   [http_login_failed, http_login_succeeded, http_login_locked] */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth_gen.h"
#include "engine/sessions.h"
#include "http/http_int.h"
#include "util/clock.h"

#define COOKIE "weft_session"

/* ---- the Cookie header -------------------------------------------------------- */

int http__cookie_value(const char *header, const char *name, char *out, size_t out_size) {
  size_t nlen = strlen(name);
  const char *p = header;
  if (out_size) out[0] = '\0';
  while (p && *p) {
    while (*p == ' ' || *p == '\t' || *p == ';') p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
      const char *v = p + nlen + 1;
      size_t vlen = len - nlen - 1;
      while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
      if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') { /* RFC 6265 quoted value */
        v++;
        vlen -= 2;
      }
      if (vlen >= out_size) return 0; /* too long to be ours */
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

int http_session_cookie(struct http_req *r, char *out, size_t out_size) {
  const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
  return h && http__cookie_value(h, COOKIE, out, out_size) && out[0];
}

/* ---- slowing down password guessing -------------------------------------------- */

void http_login_limit_init(struct http_login_limit *l) {
  memset(l, 0, sizeof *l);
  pthread_mutex_init(&l->mu, NULL);
}

void http_login_limit_release(struct http_login_limit *l) { pthread_mutex_destroy(&l->mu); }

/* The entry of addr (under mu), or NULL; make: a new one in a free slot,
 * else in the one whose last failure is the oldest. */
static struct http_login_entry *entry(struct http_login_limit *l, const char *addr,
                                      int64_t now, int make) {
  struct http_login_entry *spare = NULL;
  for (size_t i = 0; i < HTTP_LOGIN_SLOTS; i++) {
    struct http_login_entry *e = &l->v[i];
    if (e->fails && now - e->last_ms >= HTTP_LOGIN_WINDOW_MS && now >= e->until_ms)
      e->fails = 0; /* the window is over: clean again */
    if (e->fails && !strcmp(e->addr, addr)) return e;
    if (!spare || (spare->fails && (!e->fails || e->last_ms < spare->last_ms))) spare = e;
  }
  if (!make) return NULL;
  memset(spare, 0, sizeof *spare);
  snprintf(spare->addr, sizeof spare->addr, "%s", addr);
  return spare;
}

int64_t http_login_locked(struct http_login_limit *l, const char *addr, int64_t now) {
  pthread_mutex_lock(&l->mu);
  struct http_login_entry *e = entry(l, addr, now, 0);
  int64_t wait = e && e->until_ms > now ? e->until_ms - now : 0;
  pthread_mutex_unlock(&l->mu);
  return wait;
}

void http_login_failed(struct http_login_limit *l, const char *addr, int64_t now) {
  pthread_mutex_lock(&l->mu);
  struct http_login_entry *e = entry(l, addr, now, 1);
  if (e) {
    e->fails++;
    e->last_ms = now;
    if (e->fails >= HTTP_LOGIN_FREE) {
      int shift = e->fails - HTTP_LOGIN_FREE;
      int64_t lock = shift > 20 ? HTTP_LOGIN_MAX_LOCK_MS : 1000LL << shift;
      e->until_ms = now + (lock < HTTP_LOGIN_MAX_LOCK_MS ? lock : HTTP_LOGIN_MAX_LOCK_MS);
    }
  }
  pthread_mutex_unlock(&l->mu);
}

void http_login_succeeded(struct http_login_limit *l, const char *addr) {
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < HTTP_LOGIN_SLOTS; i++)
    if (l->v[i].fails && !strcmp(l->v[i].addr, addr)) l->v[i].fails = 0;
  pthread_mutex_unlock(&l->mu);
}

/* 429 with Retry-After (whole seconds, rounded up). */
enum MHD_Result http_send_locked_out(struct http_req *r, int64_t wait_ms) {
  long secs = (long)((wait_ms + 999) / 1000);
  json_t *doc = json_pack("{s:s+, s:[]}", "error", "too many failed logins from ", r->source,
                          "details");
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  struct MHD_Response *resp =
      text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  char retry[24];
  snprintf(retry, sizeof retry, "%ld", secs);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry);
  return http_queue(r, 429, resp);
}

/* ---- login and logout ---------------------------------------------------------- */

static int64_t ttl_ms(const struct http_server *srv) {
  return srv->guard.cfg.session_ttl_ms ? srv->guard.cfg.session_ttl_ms : WEFT_SESSION_TTL_MS;
}

int64_t http_session_idle_ms(const struct http_server *srv) {
  return srv->guard.cfg.session_idle_ms ? srv->guard.cfg.session_idle_ms : WEFT_SESSION_IDLE_MS;
}

/* Set-Cookie for id (NULL: the one that makes the browser drop it). */
static void set_cookie(const struct http_req *r, struct MHD_Response *resp, const char *id) {
  char v[256];
  snprintf(v, sizeof v, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
           id ? id : "", id ? (long long)(ttl_ms(r->srv) / 1000) : 0LL,
           r->srv->tls ? "; Secure" : "");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, v);
}

static enum MHD_Result send_with_cookie(struct http_req *r, json_t *doc, const char *id) {
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  struct MHD_Response *resp =
      text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
  if (!resp) {
    free(text);
    return http_send_error(r, 500, NULL, "out of memory");
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  set_cookie(r, resp, id);
  return http_queue(r, 200, resp);
}

/* POST /api/v1/login {"user", "password"}: 200 {"who", "role",
 * "expires_ms"} with the cookie; 401 for a wrong name or password (the
 * same answer for both), 429 while the address is locked out. */
enum MHD_Result http_api_login(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  char id[WEFT_SESSION_ID_LEN + 1];
  if (!r->srv->auth)
    return http_send_error(r, 400, NULL, "this server runs without authentication (weft dev on "
                           "loopback, or --no-auth): there is nothing to log in to");
  http_audit_mark(r, NULL); /* for the source address; guard marked it already */
  int64_t now = weft_clock_wall_ms();
  int64_t wait = http_login_locked(&r->srv->basic.limit, r->source, now);
  if (wait > 0) {
    http_audit_mark(r, "login refused: too many failed logins from this address");
    return http_send_locked_out(r, wait);
  }
  json_t *body = http_body_object(r, &res);
  if (!body) return res;
  const char *user = json_string_value(json_object_get(body, "user"));
  const char *pw = json_string_value(json_object_get(body, "password"));
  if (!user || !pw) {
    json_t *d = json_pack("[{s:s, s:s}]", "field", user ? "password" : "user", "message",
                          "a string is required");
    json_decref(body);
    return http_send_error(r, 400, d, "log in with {\"user\": NAME, \"password\": PASSWORD}");
  }
  struct weft_instance *inst = http_instance(r, &res);
  if (!inst) {
    json_decref(body);
    return res;
  }
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  int rc = weft_session_login(inst->store, user, pw, now, ttl_ms(r->srv), id, &role, &err);
  if (rc == WEFT_ENOTFOUND && !strstr(err.msg, "wrong password"))
    (void)weft_auth_password_ok(r->srv->basic.dummy, pw); /* as slow as a known name */
  if (rc == WEFT_ENOTFOUND) {
    http_audit_mark(r, err.msg); /* the log says why; the client is not told */
    /* The lock-out counts from now, after the slow check, not before it. */
    http_login_failed(&r->srv->basic.limit, r->source, weft_clock_wall_ms());
    json_decref(body);
    return http_send_error(r, 401, NULL, "wrong user name or password");
  }
  if (rc) {
    json_decref(body);
    return http_send_error(r, 500, NULL, "cannot log in: %s", err.msg);
  }
  http_login_succeeded(&r->srv->basic.limit, r->source);
  snprintf(r->who, sizeof r->who, "user:%.64s", user);
  r->role = role;
  /* Sessions that died meanwhile go now (each login pays for a few). */
  (void)weft_session_sweep(inst->store, now, http_session_idle_ms(r->srv), NULL, &err);
  json_decref(body);
  res = send_with_cookie(r, json_pack("{s:s, s:s, s:I}", "who", r->who, "role",
                                      weft_role_name(role), "expires_ms",
                                      (json_int_t)(now + ttl_ms(r->srv))),
                         id);
  sodium_memzero(id, sizeof id);
  return res;
}

/* POST /api/v1/logout: ends the cookie's session in storage (so the cookie
 * is worthless even if it was copied) and tells the browser to drop it;
 * 200 {"logged_out": true} whether or not there was a live session. */
enum MHD_Result http_api_logout(struct http_req *r) {
  enum MHD_Result res = MHD_NO;
  char id[WEFT_SESSION_ID_LEN + 2];
  if (http_session_cookie(r, id, sizeof id)) {
    struct weft_instance *inst = http_instance(r, &res);
    if (!inst) return res;
    weft_error err = WEFT_ERROR_INIT;
    char name[72];
    enum weft_role role;
    if (!weft_session_check(inst->store, id, weft_clock_wall_ms(), http_session_idle_ms(r->srv),
                            name, sizeof name, &role, NULL, &err))
      snprintf(r->who, sizeof r->who, "user:%.64s", name);
    /* The generation moves, so no server goes on with what it cached. */
    if (weft_session_end(inst->store, id, &err) ||
        weft_auth_gen_bump(inst->store, r->srv->inst->home, &err)) {
      sodium_memzero(id, sizeof id);
      return http_send_error(r, 500, NULL, "cannot end the session: %s", err.msg);
    }
    sodium_memzero(id, sizeof id);
  }
  return send_with_cookie(r, json_pack("{s:b}", "logged_out", 1), NULL);
}
