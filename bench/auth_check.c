/* auth_check.c: the cost of one credentials check as the HTTP guard makes
 * it, for bench/http-auth: an API token (weft_auth_token_check), a login
 * session (weft_session_check) and a user's Basic password once verified
 * (the user's entry read; the Argon2id check itself is cached by the
 * server), each N times against the store at STORE_URL.
 * Usage: bench_auth_check STORE_URL [N]   prints "token 12.3" etc. (µs) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/auth.h"
#include "engine/sessions.h"
#include "store/store.h"
#include "util/clock.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_auth_check STORE_URL [N]\n");
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 20000;
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *token = NULL, *id = NULL, *hash = NULL, sid[WEFT_SESSION_ID_LEN + 1], who[72];
  enum weft_role role;
  int rc = 1;
  if (weft_store_open(argv[1], &s, &err) ||
      weft_auth_user_add(s, "bench-check", WEFT_ROLE_VIEWER, "bench-check-pw", &err) ||
      weft_auth_token_create(s, WEFT_ROLE_VIEWER, 0, &token, &id, &err) ||
      weft_session_login(s, "bench-check", "bench-check-pw", weft_clock_wall_ms(),
                         WEFT_SESSION_TTL_MS, sid, &role, &err))
    goto done;
  double t0 = now_us();
  for (long i = 0; i < n; i++)
    if (weft_auth_token_check(s, token, weft_clock_wall_ms(), &role, &err)) goto done;
  double t1 = now_us();
  for (long i = 0; i < n; i++)
    if (weft_session_check(s, sid, weft_clock_wall_ms(), WEFT_SESSION_IDLE_MS, who, sizeof who,
                           &role, NULL, &err))
      goto done;
  double t2 = now_us();
  for (long i = 0; i < n; i++) {
    if (weft_auth_user_get(s, "bench-check", &hash, &role, &err)) goto done;
    free(hash);
    hash = NULL;
  }
  double t3 = now_us();
  printf("token %.2f\nsession %.2f\nbasic %.2f\n", (t1 - t0) / n, (t2 - t1) / n, (t3 - t2) / n);
  rc = 0;
done:
  if (rc) fprintf(stderr, "bench_auth_check: %s\n", err.msg);
  if (s) {
    weft_error ignored = WEFT_ERROR_INIT;
    (void)weft_session_end(s, sid, &ignored);
    if (id) (void)weft_auth_token_revoke(s, id, &ignored);
    (void)weft_auth_user_remove(s, "bench-check", &ignored);
  }
  free(token);
  free(id);
  weft_store_close(s);
  return rc;
}
