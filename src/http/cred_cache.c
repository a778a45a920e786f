/* cred_cache.c: credentials the guard verified lately (a token, a session
 * cookie, Basic), so that a request with the same ones needs no storage
 * read. An entry counts while
 *   - the credentials' generation (engine/auth_gen.h) has not moved: the
 *     mapped HOME/auth.generation, read at every request, moves at once
 *     when this machine's CLI revokes a token, changes a password or
 *     removes a user, or this server ends a session; the copy in storage,
 *     read at most every HTTP_CRED_POLL_MS, moves when another machine
 *     does (so there they take effect within that bound);
 *   - the credential has not expired (a token's expiry, a session's expiry
 *     and idle end, taken from the check);
 *   - it is younger than HTTP_CRED_MAX_AGE_MS (and than a quarter of the
 *     session idle time, so that a session in use is refreshed in storage
 *     before it could count as idle).
 * Entries are keyed by a keyed BLAKE2b digest of the credential (the key
 * is random per server); the credential itself is never kept. */
#include <sodium.h>
#include <string.h>

#include "engine/auth_gen.h"
#include "http/http_int.h"
#include "util/clock.h"

void http_cred_cache_init(struct http_cred_cache *c) {
  memset(c, 0, sizeof *c);
  randombytes_buf(c->key, sizeof c->key);
  pthread_mutex_init(&c->mu, NULL);
  c->ready = 1;
}

void http_cred_cache_release(struct http_cred_cache *c) {
  if (!c->ready) return;
  weft_auth_gen_file_close(&c->file);
  pthread_mutex_destroy(&c->mu);
  sodium_memzero(c, sizeof *c);
}

/* Reads storage's generation when the last read is older than
 * HTTP_CRED_POLL_MS. The store is read without holding mu (a request
 * waiting for a pooled connection must not hold up the others), and one
 * request claims each poll. */
static void poll_store(struct http_req *r, struct http_cred_cache *c, int64_t now) {
  pthread_mutex_lock(&c->mu);
  if (!c->file.p && !c->file_failed) {
    weft_error err = WEFT_ERROR_INIT;
    if (weft_auth_gen_file_open(r->srv->inst->home, &c->file, &err)) c->file_failed = 1;
  }
  int due = c->file.p && (!c->polled_ms || now - c->polled_ms >= HTTP_CRED_POLL_MS);
  if (due) c->polled_ms = now;
  pthread_mutex_unlock(&c->mu);
  if (!due) return;
  int64_t gen = 0;
  weft_error err = WEFT_ERROR_INIT;
  int ok = 0;
  if (!r->store && !http_pool_get(&r->srv->pool, &r->store, &err)) {
    r->inst = *r->srv->inst;
    r->inst.store = r->store;
  }
  if (r->store) ok = !weft_auth_gen_get(r->store, &gen, &err);
  pthread_mutex_lock(&c->mu);
  if (ok) {
    c->store_gen = gen;
    c->store_known = 1;
  } else {
    c->polled_ms = 0; /* the next request tries again */
  }
  pthread_mutex_unlock(&c->mu);
}

int http_cred_cache_get(struct http_req *r, const char *kind, const char *secret,
                        struct http_cred_key *k, enum weft_role *role, char *who,
                        size_t who_size) {
  struct http_cred_cache *c = &r->srv->basic.cred;
  int64_t now = weft_clock_wall_ms();
  crypto_generichash_state st;
  crypto_generichash_init(&st, c->key, sizeof c->key, sizeof k->digest);
  crypto_generichash_update(&st, (const unsigned char *)kind, strlen(kind) + 1);
  crypto_generichash_update(&st, (const unsigned char *)secret, strlen(secret));
  crypto_generichash_final(&st, k->digest, sizeof k->digest);
  poll_store(r, c, now);
  int hit = 0;
  pthread_mutex_lock(&c->mu);
  /* Without both generations nothing is cached (and nothing is found). */
  k->usable = c->file.p && c->store_known;
  k->file_gen = weft_auth_gen_file_read(&c->file);
  k->store_gen = c->store_gen;
  for (size_t i = 0; k->usable && i < HTTP_CRED_CACHE && !hit; i++) {
    const struct http_cred_entry *e = &c->v[i];
    /* A plain memcmp: the digests are keyed with a key no client knows,
     * so how long a comparison takes tells nothing about a credential. */
    hit = e->until_ms > now && e->file_gen == k->file_gen && e->store_gen == k->store_gen &&
          !memcmp(e->digest, k->digest, sizeof e->digest);
    if (hit) {
      *role = e->role;
      snprintf(who, who_size, "%s", e->who);
      r->session = e->session;
    }
  }
  pthread_mutex_unlock(&c->mu);
  return hit;
}

void http_cred_cache_put(struct http_req *r, const struct http_cred_key *k, enum weft_role role,
                         const char *who, int64_t until_ms) {
  struct http_cred_cache *c = &r->srv->basic.cred;
  int64_t now = weft_clock_wall_ms();
  if (!k->usable) return;
  int64_t cap = now + HTTP_CRED_MAX_AGE_MS;
  pthread_mutex_lock(&c->mu);
  struct http_cred_entry *e = &c->v[c->next++ % HTTP_CRED_CACHE];
  memcpy(e->digest, k->digest, sizeof e->digest);
  e->role = role;
  snprintf(e->who, sizeof e->who, "%s", who);
  e->session = r->session;
  e->file_gen = k->file_gen;
  e->store_gen = k->store_gen;
  e->until_ms = until_ms && until_ms < cap ? until_ms : cap;
  pthread_mutex_unlock(&c->mu);
}
