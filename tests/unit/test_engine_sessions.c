/* test_engine_sessions.c: login sessions in a real SQLite store: only the
 * id's hash is stored; a session stands for its user with the user's role
 * until its absolute or idle lifetime is over (at times the test names),
 * it is ended, or its user is removed (even when re-added under the same
 * name) or gets a new password; a sweep removes exactly the dead ones. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/auth.h"
#include "engine/sessions.h"
#include "store/store.h"
#include "test.h"
#include "util/fs.h"

#define HOUR (3600LL * 1000)
#define T0 (1700000000000LL) /* the login's time in every test */

static struct weft_store *scratch_store(char **dir) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  *dir = strdup("/tmp/weft-sessions-XXXXXX");
  if (!*dir || !mkdtemp(*dir)) return NULL;
  char *db = weft_fs_join(*dir, "weft.db");
  char url[4200];
  snprintf(url, sizeof url, "sqlite:%s", db);
  free(db);
  if (weft_store_open(url, &s, &err)) fprintf(stderr, "# %s\n", err.msg);
  return s;
}

static void drop(struct weft_store *s, char *dir) {
  weft_error err = WEFT_ERROR_INIT;
  weft_store_close(s);
  weft_fs_remove_tree(dir, &err);
  free(dir);
}

/* Whether any session entry's key or value holds needle. */
static int stored(struct weft_store *s, const char *needle) {
  struct weft_kv_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  int found = 0;
  if (weft_store_kv_list(s, "weft.auth.session.", NULL, 0, &l, &err)) return -1;
  for (size_t i = 0; i < l.n; i++)
    found |= strstr(l.v[i].key, needle) != NULL || strstr(l.v[i].value, needle) != NULL;
  weft_kv_list_release(&l);
  return found;
}

static size_t n_sessions(struct weft_store *s) {
  struct weft_kv_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (weft_store_kv_list(s, "weft.auth.session.", NULL, 0, &l, &err)) return (size_t)-1;
  size_t n = l.n;
  weft_kv_list_release(&l);
  return n;
}

TEST(login_stores_only_a_hash) {
  char *dir = NULL, id[WEFT_SESSION_ID_LEN + 1], name[72];
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role = WEFT_ROLE_NONE;
  ASSERT(s);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_LAUNCHER, "ann-password", &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "wrong-password", T0, 12 * HOUR, id, &role, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "wrong password for 'ann'");
  ASSERT_STR_EQ(id, "");
  ASSERT_EQ(weft_session_login(s, "bob", "ann-password", T0, 12 * HOUR, id, &role, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "no user 'bob'");
  ASSERT_EQ(n_sessions(s), 0);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, 12 * HOUR, id, &role, &err), WEFT_OK);
  ASSERT_EQ(role, WEFT_ROLE_LAUNCHER);
  ASSERT(weft_session_id_ok(id));
  ASSERT_EQ(stored(s, id), 0);             /* not the id */
  ASSERT_EQ(stored(s, "ann-password"), 0); /* nor the password */
  ASSERT_EQ(stored(s, "\"user\":\"ann\""), 1);
  role = WEFT_ROLE_NONE;
  ASSERT_EQ(weft_session_check(s, id, T0 + 1000, HOUR, name, sizeof name, &role, NULL, &err), WEFT_OK);
  ASSERT_STR_EQ(name, "ann");
  ASSERT_EQ(role, WEFT_ROLE_LAUNCHER);
  /* Two logins are two sessions; ending one leaves the other. */
  char id2[WEFT_SESSION_ID_LEN + 1];
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, 12 * HOUR, id2, &role, &err), WEFT_OK);
  ASSERT(strcmp(id, id2) != 0);
  ASSERT_EQ(weft_session_end(s, id, &err), WEFT_OK);
  ASSERT_EQ(weft_session_end(s, id, &err), WEFT_OK); /* twice is fine */
  ASSERT_EQ(weft_session_check(s, id, T0 + 2000, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "no such session");
  ASSERT_EQ(role, WEFT_ROLE_NONE);
  ASSERT_EQ(weft_session_check(s, id2, T0 + 2000, HOUR, name, sizeof name, &role, NULL, &err), WEFT_OK);
  drop(s, dir);
  return 0;
}

TEST(malformed_ids_are_refused) {
  char *dir = NULL, name[72];
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  ASSERT(s);
  const char *bad[] = {"", "abc", "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT(!weft_session_id_ok(bad[i]));
    ASSERT_EQ(weft_session_check(s, bad[i], T0, HOUR, name, sizeof name, &role, NULL, &err),
              WEFT_ENOTFOUND);
    ASSERT_EQ(weft_session_end(s, bad[i], &err), WEFT_OK);
  }
  drop(s, dir);
  return 0;
}

TEST(lifetimes_absolute_and_idle) {
  char *dir = NULL, id[WEFT_SESSION_ID_LEN + 1], name[72];
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  ASSERT(s);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_VIEWER, "ann-password", &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, 3 * HOUR, id, &role, &err), WEFT_OK);
  /* Used every 50 minutes, an idle limit of 1 h never strikes... */
  for (int64_t t = T0; t < T0 + 3 * HOUR; t += 50 * 60 * 1000)
    ASSERT_EQ(weft_session_check(s, id, t, HOUR, name, sizeof name, &role, NULL, &err), WEFT_OK);
  /* ...but the absolute one does, as often as it is asked (requests sent
   * together all learn why), until a sweep removes the entry. */
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(weft_session_check(s, id, T0 + 3 * HOUR, HOUR, name, sizeof name, &role, NULL, &err),
              WEFT_ENOTFOUND);
    ASSERT_CONTAINS(err.msg, "the session expired");
  }
  ASSERT_EQ(weft_session_sweep(s, T0 + 3 * HOUR, HOUR, NULL, &err), WEFT_OK);
  ASSERT_EQ(n_sessions(s), 0);
  /* Unused for an hour: idle too long. */
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, 12 * HOUR, id, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_session_check(s, id, T0 + HOUR - 1, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_OK);
  ASSERT_EQ(weft_session_check(s, id, T0 + 2 * HOUR - 2, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_OK); /* the check before refreshed it */
  ASSERT_EQ(weft_session_check(s, id, T0 + 3 * HOUR, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "idle too long");
  drop(s, dir);
  return 0;
}

TEST(password_change_and_removal_end_sessions) {
  char *dir = NULL, a[WEFT_SESSION_ID_LEN + 1], b[WEFT_SESSION_ID_LEN + 1], name[72];
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  ASSERT(s);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_ADMIN, "ann-password", &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_add(s, "bob", WEFT_ROLE_VIEWER, "bob-password", &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, 12 * HOUR, a, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "bob", "bob-password", T0, 12 * HOUR, b, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_passwd(s, "ann", "ann-password-2", &err), WEFT_OK);
  ASSERT_EQ(weft_session_check(s, a, T0 + 1, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "password change");
  ASSERT_EQ(weft_session_check(s, b, T0 + 1, HOUR, name, sizeof name, &role, NULL, &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_remove(s, "bob", &err), WEFT_OK);
  /* Re-added under the same name (and even the same password): still dead. */
  ASSERT_EQ(weft_auth_user_add(s, "bob", WEFT_ROLE_ADMIN, "bob-password", &err), WEFT_OK);
  ASSERT_EQ(weft_session_check(s, b, T0 + 2, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "password change");
  ASSERT_EQ(weft_auth_user_remove(s, "bob", &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password-2", T0, 12 * HOUR, a, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_remove(s, "ann", &err), WEFT_OK);
  ASSERT_EQ(weft_session_check(s, a, T0 + 3, HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "removed user");
  drop(s, dir);
  return 0;
}

TEST(sweep_removes_the_dead_only) {
  char *dir = NULL, id[WEFT_SESSION_ID_LEN + 1], live[WEFT_SESSION_ID_LEN + 1], name[72];
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  enum weft_role role;
  size_t n = 0;
  ASSERT(s);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_VIEWER, "ann-password", &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_add(s, "cy", WEFT_ROLE_VIEWER, "cy-password", &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0, HOUR, id, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "cy", "cy-password", T0, 12 * HOUR, id, &role, &err), WEFT_OK);
  ASSERT_EQ(weft_session_login(s, "ann", "ann-password", T0 + HOUR, 12 * HOUR, live, &role, &err),
            WEFT_OK);
  ASSERT_EQ(weft_auth_user_remove(s, "cy", &err), WEFT_OK);
  ASSERT_EQ(n_sessions(s), 3);
  ASSERT_EQ(weft_session_sweep(s, T0 + HOUR + 1, 2 * HOUR, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2); /* ann's expired one and cy's */
  ASSERT_EQ(n_sessions(s), 1);
  ASSERT_EQ(weft_session_check(s, live, T0 + HOUR + 2, 2 * HOUR, name, sizeof name, &role, NULL, &err),
            WEFT_OK);
  drop(s, dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(login_stores_only_a_hash) TEST_ENTRY(malformed_ids_are_refused)
              TEST_ENTRY(lifetimes_absolute_and_idle)
                  TEST_ENTRY(password_change_and_removal_end_sessions)
                      TEST_ENTRY(sweep_removes_the_dead_only))
