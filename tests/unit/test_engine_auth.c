/* test_engine_auth.c: users, API tokens and the audit log in a real SQLite
 * store: only hashes are stored, a token checks until it is revoked or
 * expires, a password until it changes; roles and lifetimes parse as
 * documented; audit entries come back in time order, the newest N. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/audit.h"
#include "engine/auth.h"
#include "store/store.h"
#include "test.h"
#include "util/fs.h"

static struct weft_store *scratch_store(char **dir) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  *dir = strdup("/tmp/weft-auth-XXXXXX");
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

/* Whether any kv value holds needle. */
static int kv_holds(struct weft_store *s, const char *needle) {
  struct weft_kv_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  int found = 0;
  if (weft_store_kv_list(s, "weft.auth.", NULL, 0, &l, &err)) return -1;
  for (size_t i = 0; i < l.n; i++) found |= strstr(l.v[i].value, needle) != NULL;
  weft_kv_list_release(&l);
  return found;
}

TEST(roles_and_ttls_parse) {
  enum weft_role r = WEFT_ROLE_NONE;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_role_parse("operator", &r, &err), WEFT_OK);
  ASSERT_EQ(r, WEFT_ROLE_OPERATOR);
  ASSERT_STR_EQ(weft_role_name(WEFT_ROLE_LAUNCHER), "launcher");
  ASSERT_EQ(weft_role_parse("root", &r, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "viewer, launcher, operator or admin");
  ASSERT(WEFT_ROLE_VIEWER < WEFT_ROLE_LAUNCHER && WEFT_ROLE_OPERATOR < WEFT_ROLE_ADMIN);
  int64_t ms = 0;
  ASSERT_EQ(weft_auth_parse_ttl("30d", &ms), WEFT_OK);
  ASSERT_EQ(ms, 30LL * 86400 * 1000);
  ASSERT_EQ(weft_auth_parse_ttl("12h", &ms), WEFT_OK);
  ASSERT_EQ(ms, 12LL * 3600 * 1000);
  ASSERT_EQ(weft_auth_parse_ttl("90", &ms), WEFT_OK);
  ASSERT_EQ(ms, 90000);
  const char *bad[] = {"", "0", "-1d", "1y", "d", "1 d", "99999d"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ASSERT_EQ(weft_auth_parse_ttl(bad[i], &ms), WEFT_EINVALID);
  ASSERT(weft_auth_user_name_ok("a.b-c_d@e"));
  ASSERT(!weft_auth_user_name_ok("a b") && !weft_auth_user_name_ok("") &&
         !weft_auth_user_name_ok("x/y"));
  return 0;
}

TEST(users_keep_hashes_only) {
  char *dir = NULL;
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  char *hash = NULL;
  enum weft_role role = WEFT_ROLE_NONE;
  ASSERT(s);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_OPERATOR, "correct horse", &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_add(s, "ann", WEFT_ROLE_VIEWER, "other pass", &err), WEFT_ECONFLICT);
  ASSERT_EQ(weft_auth_user_add(s, "bob", WEFT_ROLE_VIEWER, "short", &err), WEFT_EINVALID);
  ASSERT_EQ(weft_auth_user_add(s, "b b", WEFT_ROLE_VIEWER, "long enough", &err), WEFT_EINVALID);
  ASSERT_EQ(kv_holds(s, "correct horse"), 0);
  ASSERT_EQ(weft_auth_user_get(s, "ann", &hash, &role, &err), WEFT_OK);
  ASSERT_EQ(role, WEFT_ROLE_OPERATOR);
  ASSERT(!strncmp(hash, "$argon2id$", 10));
  ASSERT(weft_auth_password_ok(hash, "correct horse"));
  ASSERT(!weft_auth_password_ok(hash, "correct horsE"));
  free(hash);
  ASSERT_EQ(weft_auth_user_passwd(s, "ann", "battery staple", &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_get(s, "ann", &hash, &role, &err), WEFT_OK);
  ASSERT(weft_auth_password_ok(hash, "battery staple"));
  ASSERT(!weft_auth_password_ok(hash, "correct horse"));
  ASSERT_EQ(role, WEFT_ROLE_OPERATOR); /* passwd keeps the role */
  free(hash);
  struct weft_auth_user *v = NULL;
  size_t n = 0;
  ASSERT_EQ(weft_auth_user_list(s, &v, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 1);
  ASSERT_STR_EQ(v[0].name, "ann");
  weft_auth_users_release(v, n);
  ASSERT_EQ(weft_auth_user_remove(s, "ann", &err), WEFT_OK);
  ASSERT_EQ(weft_auth_user_get(s, "ann", &hash, &role, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_auth_user_passwd(s, "ann", "whatever1", &err), WEFT_ENOTFOUND);
  drop(s, dir);
  return 0;
}

TEST(tokens_check_until_revoked_or_expired) {
  char *dir = NULL;
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  char *token = NULL, *id = NULL, *t2 = NULL, *id2 = NULL;
  enum weft_role role = WEFT_ROLE_NONE;
  ASSERT(s);
  ASSERT_EQ(weft_auth_token_create(s, WEFT_ROLE_LAUNCHER, 0, &token, &id, &err), WEFT_OK);
  ASSERT_EQ(strlen(token), 5 + 16 + 1 + 64);
  ASSERT(!strncmp(token, "weft_", 5) && !strncmp(token + 5, id, 16));
  ASSERT_EQ(kv_holds(s, token + 22), 0); /* the secret is not stored */
  ASSERT_EQ(weft_auth_token_check(s, token, 1, &role, &err), WEFT_OK);
  ASSERT_EQ(role, WEFT_ROLE_LAUNCHER);
  /* one wrong hex digit of the secret, a cut token, another prefix */
  char *bad = strdup(token);
  bad[30] = bad[30] == 'a' ? 'b' : 'a';
  ASSERT_EQ(weft_auth_token_check(s, bad, 1, &role, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "wrong secret");
  bad[40] = '\0';
  ASSERT_EQ(weft_auth_token_check(s, bad, 1, &role, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_auth_token_check(s, "Bearer x", 1, &role, &err), WEFT_ENOTFOUND);
  free(bad);
  /* expiry: valid before, refused from the instant it expires */
  ASSERT_EQ(weft_auth_token_create(s, WEFT_ROLE_VIEWER, 60000, &t2, &id2, &err), WEFT_OK);
  struct weft_auth_token *v = NULL;
  size_t n = 0;
  ASSERT_EQ(weft_auth_token_list(s, &v, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2);
  int64_t expires = !strcmp(v[0].id, id2) ? v[0].expires_ms : v[1].expires_ms;
  weft_auth_tokens_release(v, n);
  ASSERT_EQ(weft_auth_token_check(s, t2, expires - 1, &role, &err), WEFT_OK);
  ASSERT_EQ(role, WEFT_ROLE_VIEWER);
  ASSERT_EQ(weft_auth_token_check(s, t2, expires, &role, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "expired");
  /* revocation */
  ASSERT_EQ(weft_auth_token_revoke(s, id, &err), WEFT_OK);
  ASSERT_EQ(weft_auth_token_revoke(s, id, &err), WEFT_OK);
  ASSERT_EQ(weft_auth_token_check(s, token, 1, &role, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "revoked");
  ASSERT_EQ(weft_auth_token_revoke(s, "0000000000000000", &err), WEFT_ENOTFOUND);
  free(token);
  free(id);
  free(t2);
  free(id2);
  drop(s, dir);
  return 0;
}

TEST(audit_log_keeps_order_and_limits) {
  char *dir = NULL;
  struct weft_store *s = scratch_store(&dir);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(s);
  char action[32];
  for (int i = 0; i < 5; i++) {
    snprintf(action, sizeof action, "action %d", i);
    ASSERT_EQ(weft_audit_record(s, i ? "user:ann" : "", action, 200 + i, "127.0.0.1",
                                i == 4 ? "why" : NULL, &err), WEFT_OK);
  }
  struct weft_audit_entry *v = NULL;
  size_t n = 0;
  ASSERT_EQ(weft_audit_list(s, 0, &v, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 5);
  ASSERT_STR_EQ(v[0].action, "action 0");
  ASSERT_STR_EQ(v[0].who, "");
  ASSERT(v[0].detail == NULL);
  weft_audit_entries_release(v, n);
  ASSERT_EQ(weft_audit_list(s, 2, &v, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2); /* the newest two, oldest first */
  ASSERT_STR_EQ(v[0].action, "action 3");
  ASSERT_STR_EQ(v[1].action, "action 4");
  ASSERT_EQ(v[1].status, 204);
  ASSERT_STR_EQ(v[1].who, "user:ann");
  ASSERT_STR_EQ(v[1].source, "127.0.0.1");
  ASSERT_STR_EQ(v[1].detail, "why");
  ASSERT(v[0].ms <= v[1].ms);
  weft_audit_entries_release(v, n);
  drop(s, dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(roles_and_ttls_parse) TEST_ENTRY(users_keep_hashes_only)
              TEST_ENTRY(tokens_check_until_revoked_or_expired)
                  TEST_ENTRY(audit_log_keeps_order_and_limits))
