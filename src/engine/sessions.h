/* sessions.h: the web UI's login sessions, kept in the store's kv state so
 * that they survive a restart and every server sharing the storage accepts
 * them. Only a hash of the session id is stored; the id itself lives in the
 * browser's HttpOnly cookie and nowhere else.
 *
 *   kv "weft.auth.session.HASH"  {"user", "pw" (BLAKE2b of the user's
 *                                 password hash when the session began),
 *                                 "created_ms", "seen_ms", "expires_ms"}
 *
 * HASH is the hex BLAKE2b-256 of the id's text. A session is live while
 *   now < expires_ms                 (absolute lifetime, from the login)
 *   now - seen_ms < idle_ms          (idle lifetime; seen_ms is refreshed
 *                                     at most once a minute, so the idle
 *                                     bound is exact to that minute, or
 *                                     to a quarter of a shorter one)
 *   the user exists with the same password hash (so removing the user or
 *   changing the password ends every session of theirs at once).
 * Its role is the user's role at each check, never a copy. */
#ifndef WEFT_ENGINE_SESSIONS_H
#define WEFT_ENGINE_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/auth.h"
#include "store/store.h"

/* A session id is 32 random bytes as 64 lowercase hex characters. */
#define WEFT_SESSION_ID_LEN 64
/* How often seen_ms is written back (the idle bound's precision); a
 * quarter of the idle period when that is shorter. */
#define WEFT_SESSION_TOUCH_MS 60000

/* The defaults of weft.yaml's auth.session_ttl and auth.session_idle. */
#define WEFT_SESSION_TTL_MS (12LL * 3600 * 1000)
#define WEFT_SESSION_IDLE_MS (1LL * 3600 * 1000)

/* Checks user's password (slow on purpose: Argon2id) and starts a session
 * of ttl_ms: id (WEFT_SESSION_ID_LEN + 1 bytes) receives its id, *role
 * the user's role. WEFT_ENOTFOUND for an unknown user or a wrong password
 * (err says which, for the audit log; do not show it to the client), other
 * codes for a store that failed. */
int weft_session_login(struct weft_store *s, const char *user, const char *password,
                       int64_t now_ms, int64_t ttl_ms, char id[WEFT_SESSION_ID_LEN + 1],
                       enum weft_role *role, weft_error *err);
/* The user (name_size bytes into name) and role of a live session, and
 * (until_ms, may be NULL) when it ends unless used again: the earlier of
 * its expiry and its last use plus idle_ms; WEFT_ENOTFOUND (malformed,
 * unknown, expired, idle too long, user gone or password changed; err
 * says which) and other codes for a store that failed. A session found
 * dead is deleted. */
int weft_session_check(struct weft_store *s, const char *id, int64_t now_ms, int64_t idle_ms,
                       char *name, size_t name_size, enum weft_role *role, int64_t *until_ms,
                       weft_error *err);
/* Ends a session (logout); an unknown or malformed id is no error. */
int weft_session_end(struct weft_store *s, const char *id, weft_error *err);
/* Deletes every session that is past expires_ms or idle_ms at now_ms, or
 * whose user is gone or has a new password; *n (may be NULL): how many. */
int weft_session_sweep(struct weft_store *s, int64_t now_ms, int64_t idle_ms, size_t *n,
                       weft_error *err);
/* Whether text is WEFT_SESSION_ID_LEN lowercase hex characters. */
int weft_session_id_ok(const char *text);

#endif
