/* auth.c: users and API tokens in the store's kv state (auth.h); hashing
 * and randomness are libsodium's, never our own. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/auth.h"
#include "util/clock.h"
#include "util/str.h"

#define USER_PREFIX "weft.auth.user."
#define TOKEN_PREFIX "weft.auth.token."
#define TOKEN_ID_BYTES 8
#define TOKEN_SECRET_BYTES 32

static const char *const role_names[] = {"none", "viewer", "launcher", "operator", "admin"};

const char *weft_role_name(enum weft_role r) {
  return r >= WEFT_ROLE_NONE && r <= WEFT_ROLE_ADMIN ? role_names[r] : "none";
}

int weft_role_parse(const char *name, enum weft_role *out, weft_error *err) {
  for (int r = WEFT_ROLE_VIEWER; r <= WEFT_ROLE_ADMIN; r++)
    if (name && !strcmp(name, role_names[r])) {
      *out = (enum weft_role)r;
      return WEFT_OK;
    }
  return weft_error_set(err, WEFT_EINVALID,
                        "unknown role '%s' (expected viewer, launcher, operator or admin)",
                        name ? name : "");
}

static int sodium_ready(weft_error *err) {
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  return WEFT_OK;
}

int weft_auth_user_name_ok(const char *name) {
  size_t n = strlen(name);
  if (!n || n > 64) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.' || *p == '@'))
      return 0;
  return 1;
}

/* ---- users ---------------------------------------------------------------------- */

static int hash_password(const char *password, char out[crypto_pwhash_STRBYTES],
                         weft_error *err) {
  if (strlen(password) < 8)
    return weft_error_set(err, WEFT_EINVALID, "a password needs at least 8 characters");
  if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory hashing the password");
  return WEFT_OK;
}

static char *user_key(const char *name) { return weft_str_printf(USER_PREFIX "%s", name); }

/* Writes the user's entry; expected: the text it replaces (NULL: absent). */
static int put_user(struct weft_store *s, const char *name, enum weft_role role,
                    const char *hash, int64_t created_ms, const char *expected,
                    weft_error *err) {
  json_t *o = json_pack("{s:s, s:s, s:I}", "role", weft_role_name(role), "hash", hash,
                        "created_ms", (json_int_t)created_ms);
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  char *key = user_key(name);
  int rc = text && key ? weft_store_kv_compare_set(s, key, expected, text, err)
                       : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (rc == WEFT_ECONFLICT)
    rc = weft_error_set(err, WEFT_ECONFLICT, expected ? "user '%s' changed meanwhile: retry"
                                                      : "user '%s' exists already", name);
  json_decref(o);
  free(text);
  free(key);
  return rc;
}

int weft_auth_user_add(struct weft_store *s, const char *name, enum weft_role role,
                       const char *password, weft_error *err) {
  char hash[crypto_pwhash_STRBYTES];
  int rc;
  if (!weft_auth_user_name_ok(name))
    return weft_error_set(err, WEFT_EINVALID, "user name '%s' must be 1-64 letters, digits, "
                          "'_', '-', '.' or '@'", name);
  if ((rc = sodium_ready(err))) return rc;
  /* No password: "!" is no crypto_pwhash string, so none ever matches. */
  if (!password) snprintf(hash, sizeof hash, "!");
  else if ((rc = hash_password(password, hash, err))) return rc;
  rc = put_user(s, name, role, hash, weft_clock_wall_ms(), NULL, err);
  sodium_memzero(hash, sizeof hash);
  return rc;
}

/* A user's or token's entry under key (owned, freed here; NULL: out of
 * memory): its raw text and parsed object. kind and name are for messages. */
static int read_entry(struct weft_store *s, char *key, const char *kind, const char *name,
                      char **raw, json_t **doc, weft_error *err) {
  *raw = NULL;
  *doc = NULL;
  if (!key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_get(s, key, raw, err);
  free(key);
  if (rc == WEFT_ENOTFOUND) return weft_error_set(err, rc, "no %s '%s'", kind, name);
  if (rc) return rc;
  if (!(*doc = json_loads(*raw, 0, NULL)) || !json_is_object(*doc)) {
    json_decref(*doc);
    *doc = NULL;
    free(*raw);
    *raw = NULL;
    return weft_error_set(err, WEFT_ESTORE, "the entry of %s '%s' is corrupt", kind, name);
  }
  return WEFT_OK;
}

/* The user's entry: its raw text and parsed object. */
static int read_user(struct weft_store *s, const char *name, char **raw, json_t **doc,
                     weft_error *err) {
  return read_entry(s, user_key(name), "user", name, raw, doc, err);
}

static enum weft_role role_of(const json_t *o) {
  enum weft_role r = WEFT_ROLE_NONE;
  weft_error ignored = WEFT_ERROR_INIT;
  if (weft_role_parse(json_string_value(json_object_get(o, "role")), &r, &ignored))
    return WEFT_ROLE_NONE;
  return r;
}

int weft_auth_user_passwd(struct weft_store *s, const char *name, const char *password,
                          weft_error *err) {
  char hash[crypto_pwhash_STRBYTES], *raw = NULL;
  json_t *doc = NULL;
  int rc;
  if ((rc = sodium_ready(err)) || (rc = hash_password(password, hash, err))) return rc;
  if ((rc = read_user(s, name, &raw, &doc, err))) goto done;
  rc = put_user(s, name, role_of(doc), hash,
                (int64_t)json_integer_value(json_object_get(doc, "created_ms")), raw, err);
done:
  sodium_memzero(hash, sizeof hash);
  json_decref(doc);
  free(raw);
  return rc;
}

int weft_auth_user_remove(struct weft_store *s, const char *name, weft_error *err) {
  char *raw = NULL, *key = NULL;
  json_t *doc = NULL;
  int rc = read_user(s, name, &raw, &doc, err);
  if (!rc && !(key = user_key(name))) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc) rc = weft_store_kv_delete(s, key, err);
  json_decref(doc);
  free(raw);
  free(key);
  return rc;
}

int weft_auth_user_get(struct weft_store *s, const char *name, char **hash,
                       enum weft_role *role, weft_error *err) {
  char *raw = NULL;
  json_t *doc = NULL;
  *hash = NULL;
  int rc = read_user(s, name, &raw, &doc, err);
  if (!rc) {
    const char *h = json_string_value(json_object_get(doc, "hash"));
    *role = role_of(doc);
    if (!h || !(*hash = weft_str_dup(h)))
      rc = weft_error_set(err, h ? WEFT_ENOMEM : WEFT_ESTORE, "user '%s' has no password", name);
  }
  json_decref(doc);
  free(raw);
  return rc;
}

int weft_auth_password_ok(const char *hash, const char *password) {
  return sodium_init() >= 0 && !crypto_pwhash_str_verify(hash, password, strlen(password));
}

int weft_auth_user_list(struct weft_store *s, struct weft_auth_user **out, size_t *n,
                        weft_error *err) {
  struct weft_kv_list l = {0};
  *out = NULL;
  *n = 0;
  int rc = weft_store_kv_list(s, USER_PREFIX, NULL, 0, &l, err);
  if (rc) return rc;
  if (l.n && !(*out = calloc(l.n, sizeof **out))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < l.n; i++) {
    json_t *o = json_loads(l.v[i].value, 0, NULL);
    struct weft_auth_user *u = &(*out)[(*n)++];
    u->name = weft_str_dup(l.v[i].key + strlen(USER_PREFIX));
    u->role = role_of(o);
    u->created_ms = (int64_t)json_integer_value(json_object_get(o, "created_ms"));
    json_decref(o);
    if (!u->name) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
  }
done:
  weft_kv_list_release(&l);
  if (rc) {
    weft_auth_users_release(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void weft_auth_users_release(struct weft_auth_user *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) free(v[i].name);
  free(v);
}

/* ---- tokens ---------------------------------------------------------------------- */

/* Hex BLAKE2b-256 of the secret's text. */
static void secret_hash(const char *secret, char out[2 * crypto_generichash_BYTES + 1]) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash(h, sizeof h, (const unsigned char *)secret, strlen(secret), NULL, 0);
  sodium_bin2hex(out, 2 * crypto_generichash_BYTES + 1, h, sizeof h);
}

static char *token_key(const char *id) { return weft_str_printf(TOKEN_PREFIX "%s", id); }

int weft_auth_token_create(struct weft_store *s, enum weft_role role, int64_t ttl_ms,
                           char **token, char **id, weft_error *err) {
  unsigned char idb[TOKEN_ID_BYTES], sb[TOKEN_SECRET_BYTES];
  char ids[2 * TOKEN_ID_BYTES + 1], secret[2 * TOKEN_SECRET_BYTES + 1];
  char hash[2 * crypto_generichash_BYTES + 1];
  char *key = NULL, *text = NULL;
  json_t *o = NULL;
  int rc;
  *token = *id = NULL;
  if ((rc = sodium_ready(err))) return rc;
  randombytes_buf(idb, sizeof idb);
  randombytes_buf(sb, sizeof sb);
  sodium_bin2hex(ids, sizeof ids, idb, sizeof idb);
  sodium_bin2hex(secret, sizeof secret, sb, sizeof sb);
  secret_hash(secret, hash);
  int64_t now = weft_clock_wall_ms();
  o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "role", weft_role_name(role), "hash", hash,
                "created_ms", (json_int_t)now, "expires_ms",
                (json_int_t)(ttl_ms > 0 ? now + ttl_ms : 0), "revoked_ms", (json_int_t)0);
  if (!o || !(text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) || !(key = token_key(ids)) ||
      !(*token = weft_str_printf("weft_%s_%s", ids, secret)) || !(*id = weft_str_dup(ids))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = weft_store_kv_compare_set(s, key, NULL, text, err))) goto fail;
  goto done;
fail:
  if (*token) sodium_memzero(*token, strlen(*token));
  free(*token);
  free(*id);
  *token = *id = NULL;
done:
  sodium_memzero(secret, sizeof secret);
  sodium_memzero(sb, sizeof sb);
  json_decref(o);
  free(text);
  free(key);
  return rc;
}

/* The token's entry by id (WEFT_ENOTFOUND when absent). */
static int read_token(struct weft_store *s, const char *id, char **raw, json_t **doc,
                      weft_error *err) {
  return read_entry(s, token_key(id), "token", id, raw, doc, err);
}

int weft_auth_token_revoke(struct weft_store *s, const char *id, weft_error *err) {
  char *raw = NULL, *key = NULL, *text = NULL;
  json_t *doc = NULL;
  int rc = read_token(s, id, &raw, &doc, err);
  if (rc) goto done;
  if (json_integer_value(json_object_get(doc, "revoked_ms"))) goto done;
  if (json_object_set_new(doc, "revoked_ms", json_integer((json_int_t)weft_clock_wall_ms())) ||
      !(text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) || !(key = token_key(id))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  rc = weft_store_kv_compare_set(s, key, raw, text, err);
done:
  json_decref(doc);
  free(raw);
  free(key);
  free(text);
  return rc;
}

int weft_auth_token_list(struct weft_store *s, struct weft_auth_token **out, size_t *n,
                         weft_error *err) {
  struct weft_kv_list l = {0};
  *out = NULL;
  *n = 0;
  int rc = weft_store_kv_list(s, TOKEN_PREFIX, NULL, 0, &l, err);
  if (rc) return rc;
  if (l.n && !(*out = calloc(l.n, sizeof **out))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < l.n; i++) {
    json_t *o = json_loads(l.v[i].value, 0, NULL);
    struct weft_auth_token *t = &(*out)[(*n)++];
    t->id = weft_str_dup(l.v[i].key + strlen(TOKEN_PREFIX));
    t->role = role_of(o);
    t->created_ms = (int64_t)json_integer_value(json_object_get(o, "created_ms"));
    t->expires_ms = (int64_t)json_integer_value(json_object_get(o, "expires_ms"));
    t->revoked_ms = (int64_t)json_integer_value(json_object_get(o, "revoked_ms"));
    json_decref(o);
    if (!t->id) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
  }
  /* Oldest first (the kv order is by random id). */
  for (size_t i = 1; !rc && i < *n; i++)
    for (size_t j = i; j > 0 && (*out)[j - 1].created_ms > (*out)[j].created_ms; j--) {
      struct weft_auth_token t = (*out)[j];
      (*out)[j] = (*out)[j - 1];
      (*out)[j - 1] = t;
    }
done:
  weft_kv_list_release(&l);
  if (rc) {
    weft_auth_tokens_release(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void weft_auth_tokens_release(struct weft_auth_token *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) free(v[i].id);
  free(v);
}

static int all_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[n] == '\0' || s[n] == '_';
}

int weft_auth_token_check(struct weft_store *s, const char *token, int64_t now_ms,
                          enum weft_role *role, weft_error *err) {
  char id[2 * TOKEN_ID_BYTES + 1], hash[2 * crypto_generichash_BYTES + 1], *raw = NULL;
  json_t *doc = NULL;
  int rc;
  *role = WEFT_ROLE_NONE;
  const char *p = token;
  if (strncmp(p, "weft_", 5) || strlen(p) != 5 + 2 * TOKEN_ID_BYTES + 1 + 2 * TOKEN_SECRET_BYTES ||
      !all_hex(p + 5, 2 * TOKEN_ID_BYTES) || p[5 + 2 * TOKEN_ID_BYTES] != '_' ||
      !all_hex(p + 6 + 2 * TOKEN_ID_BYTES, 2 * TOKEN_SECRET_BYTES))
    return weft_error_set(err, WEFT_ENOTFOUND, "not a weft token");
  if ((rc = sodium_ready(err))) return rc;
  memcpy(id, p + 5, 2 * TOKEN_ID_BYTES);
  id[2 * TOKEN_ID_BYTES] = '\0';
  if ((rc = read_token(s, id, &raw, &doc, err))) goto done;
  const char *want = json_string_value(json_object_get(doc, "hash"));
  secret_hash(p + 6 + 2 * TOKEN_ID_BYTES, hash);
  int64_t expires = (int64_t)json_integer_value(json_object_get(doc, "expires_ms"));
  if (!want || strlen(want) != strlen(hash) || sodium_memcmp(want, hash, strlen(hash)))
    rc = weft_error_set(err, WEFT_ENOTFOUND, "token %s: wrong secret", id);
  else if (json_integer_value(json_object_get(doc, "revoked_ms")))
    rc = weft_error_set(err, WEFT_ENOTFOUND, "token %s was revoked", id);
  else if (expires && now_ms >= expires)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "token %s expired", id);
  else if ((*role = role_of(doc)) == WEFT_ROLE_NONE)
    rc = weft_error_set(err, WEFT_ESTORE, "token %s has no role", id);
done:
  json_decref(doc);
  free(raw);
  return rc;
}

int weft_auth_parse_ttl(const char *text, int64_t *ms) {
  char *end;
  if (!text || !*text || *text == '-' || *text == '+') return WEFT_EINVALID;
  long long n = strtoll(text, &end, 10);
  long long unit = 1000;
  if (!strcmp(end, "d")) unit = 86400000LL;
  else if (!strcmp(end, "h")) unit = 3600000LL;
  else if (!strcmp(end, "m")) unit = 60000LL;
  else if (strcmp(end, "s") && *end) return WEFT_EINVALID;
  /* at most ten years */
  if (end == text || n <= 0 || n > 3650LL * 86400000 / unit) return WEFT_EINVALID;
  *ms = n * unit;
  return WEFT_OK;
}
