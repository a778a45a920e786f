/* test_dsl_instance_config.c: $WEFT_HOME/weft.yaml: defaults, both storage
 * kinds, ${VAR} substitution, and every mistake reported with its position. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "test.h"
#include "test_dsl_fixture.h"

static int parse(const char *text, struct weft_instance_config *c, struct weft_diags *d) {
  return weft_instance_config_parse("/home/w", "weft.yaml", text, strlen(text), c, d);
}

TEST(defaults_when_empty) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(parse("", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.storage_url, "sqlite:/home/w/weft.db");
  ASSERT_STR_EQ(c.artifacts_url, "file:/home/w/artifacts");
  weft_instance_config_release(&c);
  /* The template `weft instance init` writes is valid and means the same. */
  ASSERT_EQ(parse(weft_instance_config_template, &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.storage_url, "sqlite:/home/w/weft.db");
  ASSERT_STR_EQ(c.artifacts_url, "file:/home/w/artifacts");
  weft_instance_config_release(&c);
  ASSERT_EQ(d.n, 0);
  return 0;
}

TEST(postgres_url_with_env) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  setenv("WEFT_TEST_PW", "s3cret", 1);
  ASSERT_EQ(parse("storage:\n  postgres:\n    url: postgresql://weft:${WEFT_TEST_PW}@db:5432/w$$x\n"
                  "artifacts: {filesystem: {path: /data/art}}\n",
                  &c, &d),
            WEFT_OK);
  ASSERT_STR_EQ(c.storage_url, "postgresql://weft:s3cret@db:5432/w$x");
  ASSERT_STR_EQ(c.artifacts_url, "file:/data/art");
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("storage: {sqlite: {path: state/w.db}}\n", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.storage_url, "sqlite:/home/w/state/w.db");
  weft_instance_config_release(&c);
  return 0;
}

TEST(every_mistake_at_once) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  unsetenv("WEFT_TEST_UNSET");
  ASSERT_EQ(parse("storage:\n"
                  "  postgres: {url: 'mysql://x'}\n"
                  "artifacts:\n"
                  "  filesystem: {path: '${WEFT_TEST_UNSET}'}\n"
                  "brokr: amqp://x\n",
                  &c, &d),
            WEFT_EINVALID);
  char *all = fx_diags(&d);
  ASSERT_CONTAINS(all, "weft.yaml:2:19: error: storage.postgres.url must look like "
                       "postgresql://USER@HOST:PORT/DB, got 'mysql://x'");
  ASSERT_CONTAINS(all, "weft.yaml:4:22: error: environment variable 'WEFT_TEST_UNSET' is not set");
  ASSERT_CONTAINS(all, "weft.yaml:5:1: error: unknown key 'brokr' in weft.yaml");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("storage: {sqlite: {path: a}, postgres: {url: 'postgresql://h/d'}}\n", &c, &d),
            WEFT_EINVALID);
  all = fx_diags(&d);
  ASSERT_CONTAINS(all, "storage must name exactly one of sqlite or postgres");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("storage: {sqlite: {}}\nartifacts: {s4: {}}\n", &c, &d), WEFT_EINVALID);
  all = fx_diags(&d);
  ASSERT_CONTAINS(all, "storage.sqlite needs a 'path'");
  ASSERT_CONTAINS(all, "unknown key 's4' in artifacts");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("storage: {postgres: {url: 'postgresql://${BAD'}}\n", &c, &d), WEFT_EINVALID);
  all = fx_diags(&d);
  ASSERT_CONTAINS(all, "malformed variable reference");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("- a list\n", &c, &d), WEFT_EINVALID);
  weft_diags_release(&d);
  return 0;
}

TEST(artifacts_s3) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  setenv("WEFT_TEST_S3_PORT", "9000", 1);
  ASSERT_EQ(parse("artifacts:\n  s3:\n    bucket: my-bucket\n    prefix: team/weft\n"
                  "    endpoint: http://127.0.0.1:${WEFT_TEST_S3_PORT}\n"
                  "    region: eu-west-1\n    path_style: true\n",
                  &c, &d),
            WEFT_OK);
  ASSERT_STR_EQ(c.artifacts_url, "s3://my-bucket/team/weft?endpoint=http%3A//127.0.0.1%3A9000"
                                 "&region=eu-west-1&path_style=1");
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("artifacts: {s3: {bucket: b12}}\n", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.artifacts_url, "s3://b12");
  weft_instance_config_release(&c);
  ASSERT_EQ(d.n, 0);
  return 0;
}

TEST(artifacts_s3_mistakes) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(parse("artifacts:\n  s3:\n    bucket: Bad_Bucket\n    prefix: a/../b\n"
                  "    endpoint: ftp://x\n    region: 'us east'\n    path_style: maybe\n"
                  "    secret: nope\n",
                  &c, &d),
            WEFT_EINVALID);
  char *all = fx_diags(&d);
  ASSERT_CONTAINS(all, "weft.yaml:3:13: error: artifacts.s3.bucket 'Bad_Bucket' is not a "
                       "bucket name");
  ASSERT_CONTAINS(all, "weft.yaml:4:13: error: artifacts.s3.prefix 'a/../b'");
  ASSERT_CONTAINS(all, "weft.yaml:5:15: error: artifacts.s3.endpoint must be an http://");
  ASSERT_CONTAINS(all, "weft.yaml:6:13: error: artifacts.s3.region 'us east'");
  ASSERT_CONTAINS(all, "weft.yaml:7:17: error: artifacts.s3.path_style must be true or false");
  ASSERT_CONTAINS(all, "weft.yaml:8:5: error: unknown key 'secret' in artifacts.s3");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("artifacts: {s3: {prefix: p}}\n", &c, &d), WEFT_EINVALID);
  all = fx_diags(&d);
  ASSERT_CONTAINS(all, "artifacts.s3 needs a 'bucket'");
  free(all);
  weft_diags_release(&d);
  ASSERT_EQ(parse("artifacts: {s3: [b]}\n", &c, &d), WEFT_EINVALID);
  all = fx_diags(&d);
  ASSERT_CONTAINS(all, "artifacts.s3 must be a mapping");
  free(all);
  weft_diags_release(&d);
  return 0;
}

/* server.allowed_hosts items take ${VAR} like every other value (a port
 * given to a container by its environment). */
TEST(allowed_hosts_with_env) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  setenv("WEFT_TEST_PORT", "8443", 1);
  unsetenv("WEFT_TEST_UNSET");
  ASSERT_EQ(parse("server:\n  allowed_hosts: [\"localhost:${WEFT_TEST_PORT}\", Weft.Internal]\n",
                  &c, &d),
            WEFT_OK);
  ASSERT_EQ(c.server.n_allowed_hosts, 2);
  ASSERT_STR_EQ(c.server.allowed_hosts[0], "localhost:8443");
  ASSERT_STR_EQ(c.server.allowed_hosts[1], "weft.internal");
  weft_instance_config_release(&c);
  ASSERT(parse("server:\n  allowed_hosts:\n    - \"h:${WEFT_TEST_UNSET}\"\n    - \"a b\"\n", &c,
               &d) != WEFT_OK);
  char *all = fx_diags(&d);
  ASSERT_CONTAINS(all, "weft.yaml:3:7: error: environment variable 'WEFT_TEST_UNSET' is not set");
  ASSERT_CONTAINS(all, "weft.yaml:4:7: error: server.allowed_hosts[1] must be a host name");
  free(all);
  weft_diags_release(&d);
  return 0;
}

TEST_MAIN(TEST_ENTRY(defaults_when_empty) TEST_ENTRY(postgres_url_with_env)
              TEST_ENTRY(every_mistake_at_once) TEST_ENTRY(artifacts_s3)
              TEST_ENTRY(artifacts_s3_mistakes) TEST_ENTRY(allowed_hosts_with_env))
