/* test_engine_secrets.c: secrets sealed in a real store (SQLite, and
 * PostgreSQL when WEFT_TEST_PG_URL is set): the value is nowhere in the
 * database, opens with the right key only, cannot be moved to another name,
 * survives a key rotation (also one cut short); variables; the launch
 * check; and masking, whole and split across writes at every byte. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/secrets.h"
#include "store/store.h"
#include "test.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mask.h"
#include "util/str.h"

static char *scratch_dir(void) {
  char *dir = strdup("/tmp/weft-secrets-XXXXXX");
  if (dir && !mkdtemp(dir)) {
    free(dir);
    return NULL;
  }
  return dir;
}

/* SQLite in dir, or the PostgreSQL server (emptied of secrets) with pg. */
static struct weft_store *open_store(const char *dir, int pg) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  char url[4200];
  if (pg) snprintf(url, sizeof url, "%s", getenv("WEFT_TEST_PG_URL"));
  else snprintf(url, sizeof url, "sqlite:%s/weft.db", dir);
  if (weft_store_open(url, &s, &err)) {
    fprintf(stderr, "# %s\n", err.msg);
    return NULL;
  }
  if (pg && (weft_store_kv_delete_prefix(s, "weft.secret.", &err) ||
             weft_store_kv_delete_prefix(s, "weft.variable.", &err))) {
    weft_store_close(s);
    return NULL;
  }
  return s;
}

static void drop(struct weft_store *s, char *dir) {
  weft_error err = WEFT_ERROR_INIT;
  weft_store_close(s);
  weft_fs_remove_tree(dir, &err);
  free(dir);
}

/* Whether any kv entry under prefix holds needle. */
static int kv_holds(struct weft_store *s, const char *needle) {
  struct weft_kv_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  int found = 0;
  if (weft_store_kv_list(s, "weft.", NULL, 0, &l, &err)) return -1;
  for (size_t i = 0; i < l.n; i++) found |= strstr(l.v[i].value, needle) != NULL;
  weft_kv_list_release(&l);
  return found;
}

static int keyring_in(const char *dir, struct weft_secret_keyring *kr, int create) {
  weft_error err = WEFT_ERROR_INIT;
  char *file = weft_fs_join(dir, "secret.key");
  unsetenv("WEFT_SECRET_KEY");
  int rc = weft_secret_keyring_load(file, create, kr, &err);
  if (rc) fprintf(stderr, "# %s\n", err.msg);
  free(file);
  return rc;
}

static int get_is(struct weft_store *s, const struct weft_secret_keyring *kr, const char *name,
                  const char *want) {
  char *v = NULL;
  size_t n = 0;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_secret_get(s, kr, name, &v, &n, &err)) {
    fprintf(stderr, "# get %s: %s\n", name, err.msg);
    return 0;
  }
  int ok = n == strlen(want) && !strcmp(v, want);
  weft_secret_free(v, n);
  return ok;
}

static int sealed_and_opened(int pg) {
  char *dir = scratch_dir();
  struct weft_store *s = dir ? open_store(dir, pg) : NULL;
  struct weft_secret_keyring kr = {0}, other = {0};
  weft_error err = WEFT_ERROR_INIT;
  ASSERT(s);
  /* No key yet: reading needs one, set makes one (0600). */
  ASSERT_EQ(keyring_in(dir, &kr, 0), WEFT_ENOTFOUND);
  ASSERT_EQ(keyring_in(dir, &kr, 1), WEFT_OK);
  char *file = weft_fs_join(dir, "secret.key");
  struct stat st;
  ASSERT(!stat(file, &st) && (st.st_mode & 0777) == 0600);
  ASSERT_EQ(weft_secret_set(s, &kr, "api_token", "hunter2-s3cr3t", 14, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_set(s, &kr, "db.password", "pa55\nword", 9, &err), WEFT_OK);
  ASSERT_EQ(kv_holds(s, "hunter2"), 0); /* encrypted at rest */
  ASSERT(get_is(s, &kr, "api_token", "hunter2-s3cr3t"));
  ASSERT(get_is(s, &kr, "db.password", "pa55\nword"));
  ASSERT_EQ(weft_secret_exists(s, "api_token", &err), 1);
  ASSERT_EQ(weft_secret_exists(s, "nope", &err), 0);
  char *v = NULL;
  size_t n = 0;
  ASSERT_EQ(weft_secret_get(s, &kr, "nope", &v, &n, &err), WEFT_ENOTFOUND);
  ASSERT_EQ(weft_secret_set(s, &kr, "../x", "v", 1, &err), WEFT_EINVALID);
  ASSERT_EQ(weft_secret_set(s, &kr, ".hidden", "v", 1, &err), WEFT_EINVALID);
  /* A wrong key: a clear error naming the secret, never the value. */
  setenv("WEFT_SECRET_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
  ASSERT_EQ(weft_secret_keyring_load(file, 0, &other, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_get(s, &other, "api_token", &v, &n, &err), WEFT_EINVALID);
  ASSERT_STR_EQ(err.msg, "cannot decrypt secret 'api_token': wrong key or corrupted");
  ASSERT(!v);
  unsetenv("WEFT_SECRET_KEY");
  /* A value copied under another name does not open (the name is the AD). */
  char *raw = NULL;
  ASSERT_EQ(weft_store_kv_get(s, "weft.secret.api_token", &raw, &err), WEFT_OK);
  ASSERT_EQ(weft_store_kv_set(s, "weft.secret.stolen", raw, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_get(s, &kr, "stolen", &v, &n, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "cannot decrypt secret 'stolen'");
  free(raw);
  ASSERT_EQ(weft_secret_remove(s, "stolen", &err), WEFT_OK);
  ASSERT_EQ(weft_secret_remove(s, "stolen", &err), WEFT_ENOTFOUND);
  /* A key file others may read is refused. */
  ASSERT(!chmod(file, 0644));
  struct weft_secret_keyring loose = {0};
  ASSERT_EQ(weft_secret_keyring_load(file, 0, &loose, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "chmod 600");
  ASSERT(!chmod(file, 0600));
  struct weft_secret_info *list = NULL;
  ASSERT_EQ(weft_secret_list(s, &list, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2);
  ASSERT_STR_EQ(list[0].name, "api_token");
  ASSERT_STR_EQ(list[1].name, "db.password");
  ASSERT(list[0].updated_ms > 0);
  weft_secret_infos_release(list, n);
  weft_secret_keyring_release(&kr);
  weft_secret_keyring_release(&other);
  free(file);
  drop(s, dir);
  return 0;
}

TEST(sealed_and_opened_sqlite) { return sealed_and_opened(0); }

TEST(sealed_and_opened_postgres) {
  if (!getenv("WEFT_TEST_PG_URL")) {
    fprintf(stderr, "# skipped: WEFT_TEST_PG_URL is not set\n");
    return 0;
  }
  return sealed_and_opened(1);
}

static int rotation(int pg) {
  char *dir = scratch_dir();
  struct weft_store *s = dir ? open_store(dir, pg) : NULL;
  struct weft_secret_keyring kr = {0}, again = {0};
  weft_error err = WEFT_ERROR_INIT;
  size_t n = 0;
  ASSERT(s);
  ASSERT_EQ(keyring_in(dir, &kr, 1), WEFT_OK);
  ASSERT_EQ(weft_secret_set(s, &kr, "a", "alpha-value", 11, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_set(s, &kr, "b", "beta-value", 10, &err), WEFT_OK);
  char old_id[17];
  memcpy(old_id, kr.ids[0], sizeof old_id);
  /* A rotation to a random key: every value re-sealed, the file replaced. */
  ASSERT_EQ(weft_secret_rotate(s, &kr, NULL, &n, &err), WEFT_OK);
  ASSERT_EQ(n, 2);
  ASSERT(strcmp(old_id, kr.ids[0]));
  ASSERT_EQ(keyring_in(dir, &again, 0), WEFT_OK);
  ASSERT_EQ(again.n, 1);
  ASSERT_STR_EQ(again.ids[0], kr.ids[0]);
  ASSERT(get_is(s, &again, "a", "alpha-value") && get_is(s, &again, "b", "beta-value"));
  weft_secret_keyring_release(&again);
  /* Cut short after the commit (the new key still in KEYFILE.new): readers
   * use the .new key, and the next rotation finishes the first. */
  char *file = weft_fs_join(dir, "secret.key"), *pending = weft_str_printf("%s.new", file);
  char *mine = weft_fs_join(dir, "mine.key");
  ASSERT_EQ(weft_secret_key_generate(pending, &err), WEFT_OK);
  unsigned char newkey[WEFT_SECRET_KEY_BYTES];
  struct weft_buf text = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(pending, &text, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_key_parse(text.ptr, newkey, &err), WEFT_OK);
  weft_buf_release(&text);
  ASSERT_EQ(weft_secret_rekey(s, &kr, newkey, &n, &err), WEFT_OK);
  ASSERT_EQ(keyring_in(dir, &again, 0), WEFT_OK);
  ASSERT_EQ(again.n, 2);
  ASSERT(get_is(s, &again, "a", "alpha-value"));
  ASSERT_EQ(weft_secret_key_generate(mine, &err), WEFT_OK);
  ASSERT_EQ(weft_secret_rotate(s, &again, mine, &n, &err), WEFT_OK);
  ASSERT(!weft_fs_exists(pending));
  weft_secret_keyring_release(&again);
  ASSERT_EQ(keyring_in(dir, &again, 0), WEFT_OK);
  ASSERT_EQ(again.n, 1);
  ASSERT(get_is(s, &again, "b", "beta-value"));
  /* The old keys open nothing now. */
  char *v = NULL;
  ASSERT_EQ(weft_secret_get(s, &kr, "a", &v, &n, &err), WEFT_EINVALID);
  /* A value no key opens stops a rotation, which changes nothing. */
  ASSERT_EQ(weft_store_kv_set(s, "weft.secret.broken", "{\"v\":1,\"data\":\"AAAA\"}", &err),
            WEFT_OK);
  ASSERT_EQ(weft_secret_rotate(s, &again, NULL, &n, &err), WEFT_EINVALID);
  ASSERT_CONTAINS(err.msg, "cannot decrypt secret 'broken'");
  ASSERT(!weft_fs_exists(pending)); /* the new key sealed nothing: gone */
  weft_secret_keyring_release(&again);
  ASSERT_EQ(keyring_in(dir, &again, 0), WEFT_OK);
  ASSERT(get_is(s, &again, "a", "alpha-value"));
  weft_secret_keyring_release(&again);
  weft_secret_keyring_release(&kr);
  free(file);
  free(pending);
  free(mine);
  drop(s, dir);
  return 0;
}

TEST(rotation_sqlite) { return rotation(0); }

TEST(rotation_postgres) {
  if (!getenv("WEFT_TEST_PG_URL")) {
    fprintf(stderr, "# skipped: WEFT_TEST_PG_URL is not set\n");
    return 0;
  }
  return rotation(1);
}

TEST(variables_and_the_launch_check) {
  char *dir = scratch_dir();
  struct weft_store *s = dir ? open_store(dir, 0) : NULL;
  weft_error err = WEFT_ERROR_INIT;
  char *v = NULL;
  ASSERT(s);
  ASSERT_EQ(weft_variable_set(s, "region", "eu-west-1", &err), WEFT_OK);
  ASSERT_EQ(weft_variable_get(s, "region", &v, &err), WEFT_OK);
  ASSERT_STR_EQ(v, "eu-west-1");
  free(v);
  ASSERT_EQ(weft_variable_get(s, "zone", &v, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "no variable 'zone'");
  /* An op naming a missing secret fails the check with op and name. */
  struct weft_kv es = {"TOKEN", "api_token"}, ev = {"REGION", "region"};
  struct weft_op_def def = {0};
  def.name = "echo";
  def.env_secret = (struct weft_kvs){&es, 1};
  def.env_variable = (struct weft_kvs){&ev, 1};
  struct weft_invocation inv = {0};
  inv.name = "say";
  inv.def = &def;
  struct weft_job job = {0};
  job.ops = &inv;
  job.n_ops = 1;
  ASSERT_EQ(weft_secrets_check_job(s, &job, NULL, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "op 'say' uses secret 'api_token', which does not exist");
  unsigned char skip = 0;
  ASSERT_EQ(weft_secrets_check_job(s, &job, &skip, &err), WEFT_OK); /* not in the run */
  struct weft_secret_keyring kr = {0};
  ASSERT_EQ(keyring_in(dir, &kr, 1), WEFT_OK);
  ASSERT_EQ(weft_secret_set(s, &kr, "api_token", "tok-123456", 10, &err), WEFT_OK);
  ASSERT_EQ(weft_secrets_check_job(s, &job, NULL, &err), WEFT_OK);
  /* Resolved for a step: env gets both, the mask the secret only. */
  struct weft_mask *m = weft_mask_new();
  struct weft_step_secrets sec;
  ASSERT_EQ(weft_secrets_resolve_step(s, &kr, &def, m, &sec, &err), WEFT_OK);
  ASSERT_EQ(sec.env.n, 2);
  ASSERT_STR_EQ(sec.env.v[0].value, "tok-123456");
  ASSERT_STR_EQ(sec.env.v[1].value, "eu-west-1");
  ASSERT_EQ(weft_mask_count(m), 1);
  weft_step_secrets_release(&sec);
  ASSERT_EQ(weft_variable_remove(s, "region", &err), WEFT_OK);
  ASSERT_EQ(weft_secrets_check_job(s, &job, NULL, &err), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(err.msg, "variable 'region'");
  weft_mask_free(m);
  weft_secret_keyring_release(&kr);
  drop(s, dir);
  return 0;
}

/* ---- masking ---- */

static int buf_sink(void *ctx, const char *p, size_t n) {
  return weft_buf_add(ctx, p, n) ? -1 : 0;
}

TEST(mask_whole_texts) {
  struct weft_mask *m = weft_mask_new();
  ASSERT(m);
  ASSERT_EQ(weft_mask_add(m, "hunter2", 7), WEFT_OK);
  ASSERT_EQ(weft_mask_add(m, "hunter2-long", 12), WEFT_OK);
  ASSERT_EQ(weft_mask_add(m, "", 0), WEFT_OK); /* ignored */
  ASSERT_EQ(weft_mask_add(m, "line-one\nline-two\nab", 20), WEFT_OK);
  ASSERT_EQ(weft_mask_count(m), 5); /* the two lines of 4+ bytes count apart */
  char *t = weft_mask_text(m, "x hunter2 y hunter2-long z hunter");
  ASSERT_STR_EQ(t, "x *** y *** z hunter");
  free(t);
  t = weft_mask_text(m, "key: line-two; all: line-one\nline-two\nab.");
  ASSERT_STR_EQ(t, "key: ***; all: ***.");
  free(t);
  ASSERT(weft_mask_hits(m, "..hunter2..", 11));
  ASSERT(!weft_mask_hits(m, "..hunter..", 10));
  t = weft_mask_text(NULL, "plain");
  ASSERT_STR_EQ(t, "plain");
  free(t);
  /* JSON: strings at any depth, and keys. */
  json_t *j = json_pack("{s:s, s:[s, i], s:{s:s}}", "msg", "token=hunter2", "list", "hunter2",
                        1, "hunter2", "k", "v hunter2-long");
  ASSERT_EQ(weft_secrets_mask_json(m, j), WEFT_OK);
  char *dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  ASSERT_STR_EQ(dump, "{\"***\":{\"k\":\"v ***\"},\"list\":[\"***\",1],\"msg\":\"token=***\"}");
  free(dump);
  json_decref(j);
  weft_mask_free(m);
  return 0;
}

/* Every way of cutting the input in two, and byte by byte, gives the same
 * masked output as the whole. */
TEST(mask_streams_across_chunk_boundaries) {
  struct weft_mask *m = weft_mask_new();
  ASSERT(m);
  ASSERT_EQ(weft_mask_add(m, "s3cr3t-value", 12), WEFT_OK);
  ASSERT_EQ(weft_mask_add(m, "s3cr3t", 6), WEFT_OK);
  ASSERT_EQ(weft_mask_add(m, "zz", 2), WEFT_OK);
  const char *in = "a s3cr3t-value b s3cr3t-valu c s3cr3t d zzz s3cr3t-value";
  const char *want = "a *** b ***-valu c *** d ***z ***";
  char *whole = weft_mask_text(m, in);
  ASSERT_STR_EQ(whole, want);
  free(whole);
  size_t len = strlen(in);
  for (size_t cut = 0; cut <= len; cut++) {
    struct weft_mask_stream st;
    struct weft_buf out = WEFT_BUF_INIT;
    ASSERT_EQ(weft_mask_stream_init(&st, m, 4), WEFT_OK); /* small looks: more seams */
    ASSERT_EQ(weft_mask_stream_feed(&st, in, cut, buf_sink, &out), WEFT_OK);
    ASSERT_EQ(weft_mask_stream_feed(&st, in + cut, len - cut, buf_sink, &out), WEFT_OK);
    ASSERT_EQ(weft_mask_stream_finish(&st, buf_sink, &out), WEFT_OK);
    ASSERT_STR_EQ(out.ptr, want);
    weft_buf_release(&out);
    weft_mask_stream_release(&st);
  }
  struct weft_mask_stream st;
  struct weft_buf out = WEFT_BUF_INIT;
  ASSERT_EQ(weft_mask_stream_init(&st, m, 0), WEFT_OK);
  for (size_t i = 0; i < len; i++)
    ASSERT_EQ(weft_mask_stream_feed(&st, in + i, 1, buf_sink, &out), WEFT_OK);
  /* A prefix at the very end is no value: it comes out at finish. */
  ASSERT_EQ(weft_mask_stream_feed(&st, " s3cr", 5, buf_sink, &out), WEFT_OK);
  ASSERT_EQ(weft_mask_stream_finish(&st, buf_sink, &out), WEFT_OK);
  char *expect = weft_str_printf("%s s3cr", want);
  ASSERT_STR_EQ(out.ptr, expect);
  free(expect);
  weft_buf_release(&out);
  weft_mask_stream_release(&st);
  /* No values: bytes pass through. */
  ASSERT_EQ(weft_mask_stream_init(&st, NULL, 0), WEFT_OK);
  ASSERT_EQ(weft_mask_stream_feed(&st, "as is", 5, buf_sink, &out), WEFT_OK);
  ASSERT_EQ(weft_mask_stream_finish(&st, buf_sink, &out), WEFT_OK);
  ASSERT_STR_EQ(out.ptr, "as is");
  weft_buf_release(&out);
  weft_mask_stream_release(&st);
  weft_mask_free(m);
  return 0;
}

TEST_MAIN(TEST_ENTRY(sealed_and_opened_sqlite) TEST_ENTRY(sealed_and_opened_postgres)
              TEST_ENTRY(rotation_sqlite) TEST_ENTRY(rotation_postgres)
                  TEST_ENTRY(variables_and_the_launch_check) TEST_ENTRY(mask_whole_texts)
                      TEST_ENTRY(mask_streams_across_chunk_boundaries))
