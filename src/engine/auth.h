/* auth.h: an instance's users and API tokens, kept in the store's kv state
 * (so every server sharing the storage sees the same), and the roles they
 * carry. Passwords are hashed with libsodium's crypto_pwhash (Argon2id);
 * a token is 32 random bytes shown once and kept as its BLAKE2b hash.
 *
 *   kv "weft.auth.user.NAME"  {"role", "hash" (crypto_pwhash_str), "created_ms"}
 *   kv "weft.auth.token.ID"   {"role", "hash" (hex BLAKE2b-256 of the secret),
 *                              "created_ms", "expires_ms" (0: never),
 *                              "revoked_ms" (0: live)}
 *
 * A token reads "weft_ID_SECRET": ID (16 hex) finds its entry, SECRET (64
 * hex) is checked against the hash in constant time. */
#ifndef WEFT_ENGINE_AUTH_H
#define WEFT_ENGINE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Each role may do what the ones before it may. */
enum weft_role {
  WEFT_ROLE_NONE = 0,
  WEFT_ROLE_VIEWER,   /* read everything */
  WEFT_ROLE_LAUNCHER, /* launch, validate, re-execute, cancel runs */
  WEFT_ROLE_OPERATOR, /* schedules, sensors, backfills */
  WEFT_ROLE_ADMIN     /* code locations, users, tokens */
};
/* "viewer", ...; "none" for WEFT_ROLE_NONE. */
const char *weft_role_name(enum weft_role r);
/* WEFT_OK, or WEFT_EINVALID with err saying which names exist. */
int weft_role_parse(const char *name, enum weft_role *out, weft_error *err);

struct weft_auth_user {
  char *name;
  enum weft_role role;
  int64_t created_ms;
};
struct weft_auth_token {
  char *id;
  enum weft_role role;
  int64_t created_ms, expires_ms, revoked_ms; /* 0: never / not revoked */
};

/* A user name: 1-64 of letters, digits, '_', '-', '.', '@'. */
int weft_auth_user_name_ok(const char *name);
/* Adds a user (WEFT_ECONFLICT when the name is taken). password: at least
 * 8 bytes (WEFT_EINVALID), or NULL for a user who signs in only through a
 * trusted SSO proxy (weft.yaml auth.proxy_header): no password matches. */
int weft_auth_user_add(struct weft_store *s, const char *name, enum weft_role role,
                       const char *password, weft_error *err);
/* A new password (WEFT_ENOTFOUND for an unknown user). */
int weft_auth_user_passwd(struct weft_store *s, const char *name, const char *password,
                          weft_error *err);
int weft_auth_user_remove(struct weft_store *s, const char *name, weft_error *err);
/* Every user, by name; release with weft_auth_users_release. */
int weft_auth_user_list(struct weft_store *s, struct weft_auth_user **out, size_t *n,
                        weft_error *err);
void weft_auth_users_release(struct weft_auth_user *v, size_t n);
/* The user's stored hash (caller frees) and role; WEFT_ENOTFOUND when there
 * is no such user. The password check itself is weft_auth_password_ok. */
int weft_auth_user_get(struct weft_store *s, const char *name, char **hash,
                       enum weft_role *role, weft_error *err);
/* Whether password matches hash (a crypto_pwhash_str string): slow on
 * purpose (Argon2id, ~64 MiB). */
int weft_auth_password_ok(const char *hash, const char *password);

/* Makes a token of role valid for ttl_ms (0: no expiry): *token (caller
 * frees) is the only copy of its secret; *id names it for list/revoke. */
int weft_auth_token_create(struct weft_store *s, enum weft_role role, int64_t ttl_ms,
                           char **token, char **id, weft_error *err);
/* WEFT_ENOTFOUND for an unknown id; revoking twice is fine. */
int weft_auth_token_revoke(struct weft_store *s, const char *id, weft_error *err);
/* Every token, oldest first; release with weft_auth_tokens_release. */
int weft_auth_token_list(struct weft_store *s, struct weft_auth_token **out, size_t *n,
                         weft_error *err);
void weft_auth_tokens_release(struct weft_auth_token *v, size_t n);
/* The role of a live token (not revoked, not expired at now_ms), or
 * WEFT_ENOTFOUND (malformed, unknown, wrong secret, revoked, expired; err
 * says which) and other codes for a store that failed. */
int weft_auth_token_check(struct weft_store *s, const char *token, int64_t now_ms,
                          enum weft_role *role, weft_error *err);

/* Parses "30d", "12h", "90m", "45s" (or a plain number of seconds) into
 * ms; WEFT_EINVALID otherwise. */
int weft_auth_parse_ttl(const char *text, int64_t *ms);

#endif
