/* credentials.c: who is asking, for the guard (guard.c): an API token
 * (Authorization: Bearer), a user's password (Authorization: Basic), or
 * the web UI's login session (the weft_session cookie, session.c).
 *
 * A 401 challenges with Bearer, and with Basic only clients that are not
 * browsers: a browser sends Sec-Fetch-Mode with every request (no page
 * can forge or remove it), and would answer a Basic challenge with its own
 * password dialog instead of the UI's login page. curl, scripts and
 * libraries that wait for the challenge before sending Basic still get it.
 *
 * Argon2id costs ~0.1 s and 64 MiB per check on purpose, and a browser
 * sends Basic with every request, so a verified (user, password) pair is
 * remembered for a while under a keyed BLAKE2b digest (the key is random
 * per server, the password itself is never kept). A hit still reads the
 * user's entry, and counts only while the user exists with the very hash it
 * was verified against: removing a user or changing a password takes
 * effect at the next request. What a token, a session or Basic checked
 * lately stands for is kept by cred_cache.c, which drops it when the
 * credentials' generation moves: a revocation, a password change or a
 * removal made on this machine takes effect at once, one made elsewhere
 * within HTTP_CRED_POLL_MS. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/auth.h"
#include "engine/sessions.h"
#include "http/http_int.h"
#include "util/clock.h"
#include "util/str.h"

#define BASIC_TTL_MS (10 * 60 * 1000)

int http_basic_cache_init(struct http_basic_cache *c) {
  memset(c, 0, sizeof *c);
  if (sodium_init() < 0) return WEFT_EIO;
  randombytes_buf(c->key, sizeof c->key);
  /* What an unknown name is checked against, as slow as a real one. */
  unsigned char pw[16];
  randombytes_buf(pw, sizeof pw);
  if (crypto_pwhash_str(c->dummy, (const char *)pw, sizeof pw, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE))
    return WEFT_ENOMEM;
  pthread_mutex_init(&c->mu, NULL);
  http_login_limit_init(&c->limit);
  http_cred_cache_init(&c->cred);
  c->ready = 1;
  return WEFT_OK;
}

void http_basic_cache_release(struct http_basic_cache *c) {
  if (!c->ready) return;
  for (size_t i = 0; i < HTTP_BASIC_CACHE; i++) {
    free(c->v[i].user);
    free(c->v[i].hash);
  }
  pthread_mutex_destroy(&c->mu);
  http_login_limit_release(&c->limit);
  http_cred_cache_release(&c->cred);
  sodium_memzero(c->key, sizeof c->key);
  c->ready = 0;
}

static void pair_digest(const struct http_basic_cache *c, const char *user, const char *pw,
                        unsigned char out[32]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, c->key, sizeof c->key, 32);
  crypto_generichash_update(&st, (const unsigned char *)user, strlen(user) + 1);
  crypto_generichash_update(&st, (const unsigned char *)pw, strlen(pw));
  crypto_generichash_final(&st, out, 32);
}

/* Whether the pair was verified against hash lately. */
static int cache_hit(struct http_basic_cache *c, const unsigned char digest[32], const char *user,
                     const char *hash) {
  int hit = 0;
  int64_t now = weft_clock_wall_ms();
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < HTTP_BASIC_CACHE && !hit; i++) {
    const struct http_basic_entry *e = &c->v[i];
    hit = e->user && now - e->at_ms < BASIC_TTL_MS && !sodium_memcmp(e->digest, digest, 32) &&
          !strcmp(e->user, user) && !strcmp(e->hash, hash);
  }
  pthread_mutex_unlock(&c->mu);
  return hit;
}

static void cache_put(struct http_basic_cache *c, const unsigned char digest[32], const char *user,
                      const char *hash) {
  char *u = weft_str_dup(user), *h = weft_str_dup(hash);
  if (!u || !h) {
    free(u);
    free(h);
    return;
  }
  pthread_mutex_lock(&c->mu);
  struct http_basic_entry *e = &c->v[c->next++ % HTTP_BASIC_CACHE];
  free(e->user);
  free(e->hash);
  memcpy(e->digest, digest, 32);
  e->user = u;
  e->hash = h;
  e->at_ms = weft_clock_wall_ms();
  pthread_mutex_unlock(&c->mu);
}

/* 401 with the challenges: Bearer, and Basic for a client that is not a
 * browser (the UI shows its login page instead of a password dialog). */
static enum MHD_Result unauthorized(struct http_req *r, const char *why) {
  json_t *doc = json_pack("{s:s, s:[]}", "error", why, "details");
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  struct MHD_Response *resp =
      text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
  if (!resp) {
    free(text);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  if (!MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Sec-Fetch-Mode"))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                            "Basic realm=\"weft\", charset=\"UTF-8\"");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"weft\"");
  return http_queue(r, 401, resp);
}

int http__basic_decode(const char *b64, char *bin, size_t bin_size, const char **user,
                       const char **pw) {
  size_t len = 0;
  if (!bin_size ||
      sodium_base642bin((unsigned char *)bin, bin_size - 1, b64, strlen(b64), NULL, &len, NULL,
                        sodium_base64_VARIANT_ORIGINAL) ||
      memchr(bin, '\0', len))
    return 0;
  bin[len] = '\0';
  char *colon = strchr(bin, ':');
  if (!colon) return 0;
  *colon = '\0';
  *user = bin;
  *pw = colon + 1;
  return 1;
}

/* "Basic BASE64(user:password)": the role of a user whose password it is. */
static int basic(struct http_req *r, struct weft_store *st, const char *b64,
                 enum weft_role *role, char *who, size_t who_size, weft_error *err) {
  char bin[1024];
  char *hash = NULL;
  const char *user, *pw;
  if (!http__basic_decode(b64, bin, sizeof bin, &user, &pw)) {
    sodium_memzero(bin, sizeof bin);
    return weft_error_set(err, WEFT_ENOTFOUND, "malformed Basic credentials");
  }
  int rc = weft_auth_user_get(st, user, &hash, role, err);
  if (rc == WEFT_OK) {
    unsigned char digest[32];
    pair_digest(&r->srv->basic, user, pw, digest);
    if (!cache_hit(&r->srv->basic, digest, user, hash)) {
      if (weft_auth_password_ok(hash, pw))
        cache_put(&r->srv->basic, digest, user, hash);
      else
        rc = weft_error_set(err, WEFT_ENOTFOUND, "wrong password for '%.64s'", user);
    }
    if (!rc) snprintf(who, who_size, "user:%.64s", user);
  } else if (rc == WEFT_ENOTFOUND) {
    /* as slow as a wrong password, so names cannot be told by timing */
    (void)weft_auth_password_ok(r->srv->basic.dummy, pw);
  }
  sodium_memzero(bin, sizeof bin);
  free(hash);
  return rc;
}

/* A trusted SSO proxy's header (weft.yaml auth.proxy_header, believed only
 * from auth.trusted_proxies): the user it names, with that user's role;
 * -1 when it does not apply (no proxy configured, another sender, no
 * header); 1 identified; 0 after answering 403 (a user weft does not
 * know) or 500. */
static int proxy_user(struct http_req *r, enum weft_role *role, char *who, size_t who_size,
                      enum MHD_Result *res) {
  const struct weft_server_config *cfg = &r->srv->guard.cfg;
  if (!cfg->proxy_header) return -1;
  const char *name = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, cfg->proxy_header);
  if (!name || !*name) return -1;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !weft_server_trusts_proxy(cfg, ci->client_addr)) return -1;
  struct weft_instance *inst = http_instance(r, res);
  if (!inst) return 0;
  char *hash = NULL;
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_auth_user_get(inst->store, name, &hash, role, &err);
  free(hash);
  if (rc == WEFT_ENOTFOUND) {
    http_audit_mark(r, err.msg);
    *res = http_send_error(r, 403, NULL, "the proxy vouches for '%.64s', who is not a user "
                           "here (weft user add %.64s --role ROLE --no-password)", name, name);
    return 0;
  }
  if (rc) {
    *res = http_send_error(r, 500, NULL, "cannot check the user: %s", err.msg);
    return 0;
  }
  snprintf(who, who_size, "user:%.64s", name);
  return 1;
}

/* The weft_session cookie of a request without Authorization: 1 with the
 * session's user and role; 0 after answering 401 (no cookie, or a dead
 * session: the UI then shows its login page) or 500. */
static int session(struct http_req *r, enum weft_role *role, char *who, size_t who_size,
                   enum MHD_Result *res) {
  char id[WEFT_SESSION_ID_LEN + 2], name[72];
  if (!http_session_cookie(r, id, sizeof id)) {
    *res = unauthorized(r, "authentication required: log in, or send 'Authorization: Bearer "
                           "TOKEN' (weft token create) or a user's password");
    return 0;
  }
  struct http_cred_key k;
  if (http_cred_cache_get(r, "session", id, &k, role, who, who_size)) {
    sodium_memzero(id, sizeof id);
    return 1;
  }
  struct weft_instance *inst = http_instance(r, res);
  if (!inst) return 0;
  weft_error err = WEFT_ERROR_INIT;
  int64_t now = weft_clock_wall_ms(), until = 0, idle = http_session_idle_ms(r->srv);
  int rc = weft_session_check(inst->store, id, now, idle, name, sizeof name, role, &until, &err);
  sodium_memzero(id, sizeof id);
  if (rc == WEFT_ENOTFOUND) {
    http_audit_mark(r, err.msg);
    *res = unauthorized(r, err.msg); /* "the session expired": say it, log in again */
    return 0;
  }
  if (rc) {
    *res = http_send_error(r, 500, NULL, "cannot check the session: %s", err.msg);
    return 0;
  }
  snprintf(who, who_size, "user:%.64s", name);
  r->session = 1;
  /* Kept no longer than a quarter of the idle time: a session in use is
   * then checked (and its last use written) well before it looks idle. */
  http_cred_cache_put(r, &k, *role, who, until < now + idle / 4 ? until : now + idle / 4);
  return 1;
}

/* When the token (of the form auth.h names) expires: its entry's
 * expires_ms, 0 for never (or when it cannot be read: kept the longest). */
static int64_t token_until(struct weft_store *st, const char *token) {
  char key[64], *raw = NULL;
  snprintf(key, sizeof key, "weft.auth.token.%.16s", token + 5);
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_kv_get(st, key, &raw, &err)) return 0;
  json_t *doc = json_loads(raw, 0, NULL);
  int64_t until = (int64_t)json_integer_value(json_object_get(doc, "expires_ms"));
  json_decref(doc);
  free(raw);
  return until;
}

int http_credentials(struct http_req *r, enum weft_role *role, char *who, size_t who_size,
                     enum MHD_Result *res) {
  const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);
  *role = WEFT_ROLE_NONE;
  int proxied = proxy_user(r, role, who, who_size, res);
  if (proxied >= 0) return proxied;
  if (!h || !*h) return session(r, role, who, who_size, res);
  int bearer = !strncasecmp(h, "Bearer ", 7), basic_auth = !strncasecmp(h, "Basic ", 6);
  struct http_cred_key k;
  if ((bearer || basic_auth) &&
      http_cred_cache_get(r, bearer ? "bearer" : "basic", h + (bearer ? 7 : 6), &k, role, who,
                          who_size))
    return 1;
  struct weft_instance *inst = http_instance(r, res);
  if (!inst) return 0;
  weft_error err = WEFT_ERROR_INIT;
  int rc;
  int64_t until = 0;
  if (bearer) {
    rc = weft_auth_token_check(inst->store, h + 7, weft_clock_wall_ms(), role, &err);
    if (!rc) {
      snprintf(who, who_size, "token:%.16s", h + 12); /* "weft_ID_..." */
      until = token_until(inst->store, h + 7);
    }
  } else if (basic_auth) {
    /* Password guesses sent as Basic count against the same lock-out as
     * the login page's (a verified pair is cached above, so a client that
     * knows its password never gets here twice in a row). */
    http_req_source(r);
    int64_t wait = http_login_locked(&r->srv->basic.limit, r->source, weft_clock_wall_ms());
    if (wait > 0) {
      http_audit_mark(r, "Basic refused: too many failed logins from this address");
      *res = http_send_locked_out(r, wait);
      return 0;
    }
    rc = basic(r, inst->store, h + 6, role, who, who_size, &err);
    if (rc == WEFT_ENOTFOUND)
      http_login_failed(&r->srv->basic.limit, r->source, weft_clock_wall_ms());
    else if (!rc)
      http_login_succeeded(&r->srv->basic.limit, r->source);
  }
  else
    rc = weft_error_set(&err, WEFT_ENOTFOUND, "unknown Authorization scheme");
  if (!rc) http_cred_cache_put(r, &k, *role, who, until);
  if (rc == WEFT_ENOTFOUND) {
    http_audit_mark(r, err.msg); /* a failed login, and exactly why */
    /* The client is not told whether the name exists. */
    *res = unauthorized(r, strncasecmp(h, "Basic ", 6) ? err.msg
                                                        : "wrong user name or password");
    return 0;
  }
  if (rc) {
    *res = http_send_error(r, 500, NULL, "cannot check the credentials: %s", err.msg);
    return 0;
  }
  return 1;
}
