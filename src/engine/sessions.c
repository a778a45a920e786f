/* sessions.c: login sessions in the store's kv state (sessions.h); the
 * randomness and hashing are libsodium's. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sessions.h"
#include "util/str.h"

#define SESSION_PREFIX "weft.auth.session."
#define HASH_HEX (2 * crypto_generichash_BYTES + 1)

int weft_session_id_ok(const char *text) {
  size_t i = 0;
  for (; text[i] && i <= WEFT_SESSION_ID_LEN; i++)
    if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f'))) return 0;
  return i == WEFT_SESSION_ID_LEN;
}

static void hex_hash(const char *text, char out[HASH_HEX]) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
  sodium_bin2hex(out, HASH_HEX, h, sizeof h);
}

/* The kv key of session id: only the id's hash, so that whoever reads the
 * storage cannot sign in with what they read. */
static void session_key(const char *id, char key[sizeof SESSION_PREFIX + HASH_HEX]) {
  char h[HASH_HEX];
  hex_hash(id, h);
  snprintf(key, sizeof SESSION_PREFIX + HASH_HEX, SESSION_PREFIX "%s", h);
}

int weft_session_login(struct weft_store *s, const char *user, const char *password,
                       int64_t now_ms, int64_t ttl_ms, char id[WEFT_SESSION_ID_LEN + 1],
                       enum weft_role *role, weft_error *err) {
  char *hash = NULL, *text = NULL, pw[HASH_HEX], key[sizeof SESSION_PREFIX + HASH_HEX];
  unsigned char raw[WEFT_SESSION_ID_LEN / 2];
  json_t *o = NULL;
  int rc;
  id[0] = '\0';
  *role = WEFT_ROLE_NONE;
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  if (!weft_auth_user_name_ok(user))
    return weft_error_set(err, WEFT_ENOTFOUND, "no user '%.64s'", user);
  if ((rc = weft_auth_user_get(s, user, &hash, role, err))) goto done;
  if (!weft_auth_password_ok(hash, password)) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "wrong password for '%.64s'", user);
    goto done;
  }
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(id, WEFT_SESSION_ID_LEN + 1, raw, sizeof raw);
  hex_hash(hash, pw);
  session_key(id, key);
  o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "user", user, "pw", pw, "created_ms",
                (json_int_t)now_ms, "seen_ms", (json_int_t)now_ms, "expires_ms",
                (json_int_t)(now_ms + ttl_ms));
  if (!o || !(text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  rc = weft_store_kv_compare_set(s, key, NULL, text, err);
done:
  if (rc) {
    sodium_memzero(id, WEFT_SESSION_ID_LEN + 1);
    *role = WEFT_ROLE_NONE;
  }
  sodium_memzero(raw, sizeof raw);
  json_decref(o);
  free(text);
  free(hash);
  return rc;
}

/* Why the session entry doc (of kv key) is dead at now_ms, or NULL when it
 * is live; then *role is its user's role. */
static const char *dead(struct weft_store *s, const json_t *doc, int64_t now_ms,
                        int64_t idle_ms, enum weft_role *role, weft_error *err, int *rc) {
  const char *user = json_string_value(json_object_get(doc, "user"));
  const char *pw = json_string_value(json_object_get(doc, "pw"));
  int64_t expires = (int64_t)json_integer_value(json_object_get(doc, "expires_ms"));
  int64_t seen = (int64_t)json_integer_value(json_object_get(doc, "seen_ms"));
  char *hash = NULL, now_pw[HASH_HEX];
  *rc = WEFT_OK;
  if (!user || !pw) return "is corrupt";
  if (now_ms >= expires) return "expired";
  if (now_ms - seen >= idle_ms) return "was idle too long";
  weft_error uerr = WEFT_ERROR_INIT;
  int urc = weft_auth_user_get(s, user, &hash, role, &uerr);
  if (urc == WEFT_ENOTFOUND) return "belongs to a removed user";
  if (urc) {
    *rc = weft_error_set(err, urc, "%s", uerr.msg);
    return NULL;
  }
  hex_hash(hash, now_pw);
  free(hash);
  if (strlen(pw) != strlen(now_pw) || sodium_memcmp(pw, now_pw, strlen(now_pw)))
    return "ended by a password change";
  return NULL;
}

int weft_session_check(struct weft_store *s, const char *id, int64_t now_ms, int64_t idle_ms,
                       char *name, size_t name_size, enum weft_role *role, int64_t *until_ms,
                       weft_error *err) {
  char key[sizeof SESSION_PREFIX + HASH_HEX], *raw = NULL, *text = NULL;
  json_t *doc = NULL;
  int rc;
  *role = WEFT_ROLE_NONE;
  if (name_size) name[0] = '\0';
  if (until_ms) *until_ms = 0;
  if (!weft_session_id_ok(id)) return weft_error_set(err, WEFT_ENOTFOUND, "not a session id");
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  session_key(id, key);
  rc = weft_store_kv_get(s, key, &raw, err);
  if (rc == WEFT_ENOTFOUND) return weft_error_set(err, rc, "no such session (logged out?)");
  if (rc) return rc;
  doc = json_loads(raw, 0, NULL);
  const char *why = dead(s, doc, now_ms, idle_ms, role, err, &rc);
  if (rc) goto done;
  if (why) {
    /* Dead for good (nothing makes it live again), but left for
     * weft_session_sweep (each login runs it): deleted here, the requests
     * a page sent along with this one would be told "no such session"
     * instead of why it ended. */
    *role = WEFT_ROLE_NONE;
    rc = weft_error_set(err, WEFT_ENOTFOUND, "the session %s", why);
    goto done;
  }
  snprintf(name, name_size, "%s", json_string_value(json_object_get(doc, "user")));
  int64_t seen = (int64_t)json_integer_value(json_object_get(doc, "seen_ms"));
  /* Refreshed once a minute, or 4 times per idle period if that is less
   * (so a short idle period still outlives a session in use). */
  int64_t touch = idle_ms / 4 < WEFT_SESSION_TOUCH_MS ? idle_ms / 4 : WEFT_SESSION_TOUCH_MS;
  if (now_ms - seen >= touch) {
    /* Another request may refresh it at the same time: either write does. */
    weft_error ignored = WEFT_ERROR_INIT;
    if (!json_object_set_new(doc, "seen_ms", json_integer((json_int_t)now_ms)) &&
        (text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) &&
        !weft_store_kv_compare_set(s, key, raw, text, &ignored))
      seen = now_ms;
  }
  if (until_ms) {
    int64_t expires = (int64_t)json_integer_value(json_object_get(doc, "expires_ms"));
    *until_ms = seen + idle_ms < expires ? seen + idle_ms : expires;
  }
done:
  json_decref(doc);
  free(raw);
  free(text);
  return rc;
}

int weft_session_end(struct weft_store *s, const char *id, weft_error *err) {
  char key[sizeof SESSION_PREFIX + HASH_HEX];
  if (!weft_session_id_ok(id)) return WEFT_OK;
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  session_key(id, key);
  return weft_store_kv_delete(s, key, err);
}

int weft_session_sweep(struct weft_store *s, int64_t now_ms, int64_t idle_ms, size_t *n,
                       weft_error *err) {
  struct weft_kv_list l = {0};
  size_t gone = 0;
  int rc = weft_store_kv_list(s, SESSION_PREFIX, NULL, 0, &l, err);
  for (size_t i = 0; !rc && i < l.n; i++) {
    json_t *doc = json_loads(l.v[i].value, 0, NULL);
    enum weft_role role;
    const char *why = dead(s, doc, now_ms, idle_ms, &role, err, &rc);
    json_decref(doc);
    weft_error ignored = WEFT_ERROR_INIT;
    if (!rc && why && !weft_store_kv_delete(s, l.v[i].key, &ignored))
      gone++;
  }
  weft_kv_list_release(&l);
  if (n) *n = gone;
  return rc;
}
