/* test_queue_message.c: the op definition inside a step message survives the
 * round trip to a worker; bad messages are refused naming the field; the
 * instance's broker and default executor settings; the HMAC on broker
 * messages and the checks of the queue signing key file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsl/dsl.h"
#include "queue/queue_int.h"
#include "queue/signing.h"
#include "test.h"

TEST(op_round_trip) {
  struct weft_port ins[1] = {{.name = "b", .type = WEFT_TYPE_PATH}};
  struct weft_port outs[2] = {{.name = "result", .type = WEFT_TYPE_INT},
                              {.name = "dir", .type = WEFT_TYPE_PATH}};
  struct weft_kv env[1] = {{"A", "1"}};
  char *argv[] = {"python3", "-c", "print(1)", NULL};
  struct weft_op_def def = {0};
  def.name = "op";
  def.argv = argv;
  def.inputs = ins;
  def.n_inputs = 1;
  def.outputs = outs;
  def.n_outputs = 2;
  def.timeout_s = 2.5;
  def.steps_per_child = 50; /* a worker's warm pool reuses its children too */
  def.queue = "gpu";
  def.env.v = env;
  def.env.n = 1;
  /* env: {KEY: {from_env: AWS_ACCESS_KEY_ID}} travels by name: the worker
   * reads the value from its own environment. */
  struct weft_kv from[1] = {{"KEY", "AWS_ACCESS_KEY_ID"}};
  def.env_from.v = from;
  def.env_from.n = 1;
  /* Secrets and variables too, by name (engine/secrets.h): the worker
   * reads their values from storage with its own key. */
  struct weft_kv sec[1] = {{"TOKEN", "api_token"}}, var[1] = {{"REGION", "region"}};
  struct weft_kv files[1] = {{"tls_key", "tls_key"}};
  def.env_secret = (struct weft_kvs){sec, 1};
  def.env_variable = (struct weft_kvs){var, 1};
  def.secret_files = (struct weft_kvs){files, 1};
  json_t *j = weft__qmsg_op_to_json(&def);
  ASSERT(j);
  ASSERT_STR_EQ(json_string_value(json_object_get(j, "queue")), "gpu");
  struct weft_op_def *back = NULL;
  weft_error e = WEFT_ERROR_INIT;
  ASSERT_EQ(weft__qmsg_op_from_json(j, &back, &e), WEFT_OK);
  ASSERT_STR_EQ(back->name, "op");
  ASSERT(back->argv && !back->run);
  ASSERT_STR_EQ(back->argv[2], "print(1)");
  ASSERT(back->argv[3] == NULL);
  ASSERT_EQ(back->n_inputs, 1);
  ASSERT_EQ(back->inputs[0].type, WEFT_TYPE_PATH);
  ASSERT_EQ(back->n_outputs, 2);
  ASSERT_STR_EQ(back->outputs[1].name, "dir");
  ASSERT_EQ(back->outputs[1].type, WEFT_TYPE_PATH);
  ASSERT(back->timeout_s == 2.5);
  ASSERT_EQ(back->steps_per_child, 50);
  ASSERT_EQ(back->env.n, 1);
  ASSERT_STR_EQ(back->env.v[0].value, "1");
  ASSERT_EQ(back->env_from.n, 1);
  ASSERT_STR_EQ(back->env_from.v[0].key, "KEY");
  ASSERT_STR_EQ(back->env_from.v[0].value, "AWS_ACCESS_KEY_ID");
  ASSERT(back->env_secret.n == 1 && !strcmp(back->env_secret.v[0].value, "api_token"));
  ASSERT(back->env_variable.n == 1 && !strcmp(back->env_variable.v[0].key, "REGION"));
  ASSERT(back->secret_files.n == 1 && !strcmp(back->secret_files.v[0].key, "tls_key"));
  weft__qmsg_op_free(back);
  json_decref(j);
  /* a C-function op travels by name (a worker binary registers it) */
  struct weft_op_def c = {0};
  c.name = "c";
  c.c_function = "noop";
  ASSERT((j = weft__qmsg_op_to_json(&c)));
  ASSERT_EQ(weft__qmsg_op_from_json(j, &back, &e), WEFT_OK);
  ASSERT(!back->run && !back->argv);
  ASSERT_STR_EQ(back->c_function, "noop");
  ASSERT_EQ(back->steps_per_child, 0); /* unset: the worker's own default */
  weft__qmsg_op_free(back);
  json_decref(j);
  return 0;
}

static int refused(const char *text, const char *needle) {
  json_t *j = json_loads(text, 0, NULL);
  struct weft_op_def *d = NULL;
  weft_error e = WEFT_ERROR_INIT;
  int rc = weft__qmsg_op_from_json(j, &d, &e);
  json_decref(j);
  if (rc != WEFT_EINVALID || d || !strstr(e.msg, needle)) {
    fprintf(stderr, "# %s: rc %d, message '%s'\n", text, rc, e.msg);
    weft__qmsg_op_free(d);
    return 0;
  }
  return 1;
}

TEST(bad_ops_name_the_field) {
  ASSERT(refused("{}", "'op.name'"));
  ASSERT(refused("{\"name\":\"x\"}", "neither 'run', 'argv' nor 'c_function'"));
  ASSERT(refused("{\"name\":\"x\",\"c_function\":\"\"}", "neither 'run'"));
  ASSERT(refused("{\"name\":\"x\",\"argv\":[1]}", "'op.argv[0]'"));
  ASSERT(refused("{\"name\":\"x\",\"run\":\"true\",\"timeout_s\":\"1\"}", "'op.timeout_s'"));
  ASSERT(refused("{\"name\":\"x\",\"run\":\"true\",\"outputs\":[{\"name\":\"r\",\"type\":\"nope\"}]}",
                 "'op.outputs[0]'"));
  ASSERT(refused("{\"name\":\"x\",\"run\":\"true\",\"env\":{\"A\":1}}", "'op.env.A'"));
  struct weft_op_def *d = NULL;
  weft_error e = WEFT_ERROR_INIT;
  ASSERT_EQ(weft__qmsg_op_from_json(NULL, &d, &e), WEFT_EINVALID);
  char *k = weft__qmsg_result_key("r/s/1/x");
  ASSERT_STR_EQ(k, "attempt/r/s/1/x");
  free(k);
  return 0;
}

static int parse(const char *text, struct weft_instance_config *c, struct weft_diags *d) {
  return weft_instance_config_parse("/home/w", "weft.yaml", text, strlen(text), c, d);
}

TEST(instance_broker_and_execution) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  setenv("WEFT_TEST_AMQP_PW", "pw", 1);
  ASSERT_EQ(parse("broker:\n  rabbitmq:\n    url: amqp://u:${WEFT_TEST_AMQP_PW}@h:5672/\n"
                  "execution: queue\n", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.broker_url, "amqp://u:pw@h:5672/");
  ASSERT_STR_EQ(c.execution, "queue");
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("", &c, &d), WEFT_OK);
  ASSERT(c.broker_url == NULL && c.execution == NULL);
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("broker: {rabbitmq: {url: http://x}}\nexecution: celery\n"
                  "broker2: 1\n", &c, &d), WEFT_EINVALID);
  ASSERT_EQ(d.n, 3);
  int url = 0, exec = 0;
  for (size_t i = 0; i < d.n; i++) {
    if (strstr(d.v[i].msg, "broker.rabbitmq.url must look like amqp://")) url = 1;
    if (strstr(d.v[i].msg, "execution must be one of queue")) exec = 1;
  }
  ASSERT(url && exec);
  weft_diags_release(&d);
  return 0;
}

TEST(depths_report_an_unreachable_broker) {
  struct weft_queue_depths out;
  weft_error e = WEFT_ERROR_INIT;
  /* Port 1 on loopback: refused at once. */
  ASSERT_EQ(weft_queue_depths("amqp://guest:guest@127.0.0.1:1/", NULL, 0, &out, &e), WEFT_EIO);
  ASSERT_CONTAINS(e.msg, "cannot connect");
  ASSERT_EQ(weft_queue_depths("http://nope", NULL, 0, &out, &e), WEFT_EINVALID);
  ASSERT_CONTAINS(e.msg, "amqp://USER:PASS@HOST:PORT/VHOST");
  return 0;
}

/* A key file with these bytes and mode in dir; returns its path (static). */
static const char *key_file(const char *dir, const char *name, const char *bytes, mode_t mode) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return NULL;
  fputs(bytes, f);
  fclose(f);
  chmod(path, mode);
  return path;
}

TEST(sign_and_verify) {
  char dir[] = "/tmp/weft-qsig-XXXXXX", sig[WEFT_QSIG_MAX], why[WEFT_QSIG_WHY_MAX];
  ASSERT(mkdtemp(dir));
  struct weft_qsig_key *k = NULL, *other = NULL;
  weft_error e = WEFT_ERROR_INIT;
  const char *p = key_file(dir, "a.key", "0123456789abcdef0123456789abcdef\n", 0600);
  ASSERT_EQ(weft_qsig_key_read(p, "test", &k, &e), WEFT_OK);
  ASSERT_EQ(strlen(k->id), 16);
  p = key_file(dir, "b.key", "another key, long enough to be one: 0123456789", 0400);
  ASSERT_EQ(weft_qsig_key_read(p, "test", &other, &e), WEFT_OK);
  ASSERT(strcmp(k->id, other->id));
  const char *body = "{\"v\":1,\"attempt_id\":\"r/s/1/x\",\"op\":{\"run\":\"true\"}}";
  size_t n = strlen(body);
  weft_qsig_sign(k, "", "weft.step.default", body, n, sig);
  ASSERT(!strncmp(sig, "v1:", 3));
  ASSERT(!strncmp(sig + 3, k->id, 16));
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, sig, why), 1);
  ASSERT_STR_EQ(why, "");
  /* the same signature is deterministic: a replay verifies (see docs) */
  char again[WEFT_QSIG_MAX];
  weft_qsig_sign(k, "", "weft.step.default", body, n, again);
  ASSERT_STR_EQ(sig, again);
  /* one changed byte of the body */
  char *forged = strdup(body);
  forged[strlen(forged) - 6] = 'X';
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", forged, n, sig, why), 0);
  ASSERT_CONTAINS(why, "message signature is invalid");
  ASSERT_CONTAINS(why, "does not match");
  free(forged);
  /* the same body moved to another queue or exchange */
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.gpu", body, n, sig, why), 0);
  ASSERT_EQ(weft_qsig_verify(k, "weft.cancel", "weft.step.default", body, n, sig, why), 0);
  /* a truncated body (length is part of the MAC) */
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n - 1, sig, why), 0);
  /* none, malformed, a bad MAC encoding */
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, NULL, why), 0);
  ASSERT_CONTAINS(why, "message signature is missing");
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, "hello", why), 0);
  ASSERT_CONTAINS(why, "message signature is invalid (not a v1:KEYID:MAC");
  char bad[WEFT_QSIG_MAX];
  snprintf(bad, sizeof bad, "v1:%s:!!!!", k->id);
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, bad, why), 0);
  ASSERT_CONTAINS(why, "does not match");
  snprintf(bad, sizeof bad, "%s", sig);
  bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, bad, why), 0);
  /* signed with another key: both ids named */
  weft_qsig_sign(other, "", "weft.step.default", body, n, sig);
  ASSERT_EQ(weft_qsig_verify(k, "", "weft.step.default", body, n, sig, why), 0);
  ASSERT_CONTAINS(why, other->id);
  ASSERT_CONTAINS(why, k->id);
  ASSERT_CONTAINS(why, "key files differ");
  weft_qsig_key_free(k);
  weft_qsig_key_free(other);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
  return 0;
}

TEST(key_file_checks) {
  char dir[] = "/tmp/weft-qkey-XXXXXX", path[600];
  ASSERT(mkdtemp(dir));
  struct weft_qsig_key *k = NULL, *k2 = NULL;
  weft_error e = WEFT_ERROR_INIT;
  const char *field = "queue.signing_key_file in /h/weft.yaml";
  snprintf(path, sizeof path, "%s/absent.key", dir);
  ASSERT_EQ(weft_qsig_key_read(path, field, &k, &e), WEFT_ENOTFOUND);
  ASSERT_CONTAINS(e.msg, field);
  ASSERT_CONTAINS(e.msg, path);
  ASSERT(k == NULL);
  const char *p = key_file(dir, "open.key", "0123456789abcdef0123456789abcdef", 0644);
  ASSERT_EQ(weft_qsig_key_read(p, field, &k, &e), WEFT_EINVALID);
  ASSERT_CONTAINS(e.msg, "permissions 0644, too open");
  ASSERT_CONTAINS(e.msg, field);
  p = key_file(dir, "short.key", "tooshort\n\n", 0600);
  ASSERT_EQ(weft_qsig_key_read(p, field, &k, &e), WEFT_EINVALID);
  ASSERT_CONTAINS(e.msg, "holds 10 bytes");
  ASSERT_EQ(weft_qsig_key_read(dir, field, &k, &e), WEFT_EINVALID);
  ASSERT_CONTAINS(e.msg, "not a regular file");
  /* trailing white space is not part of the key */
  p = key_file(dir, "nl.key", "0123456789abcdef0123456789abcdef\r\n", 0600);
  ASSERT_EQ(weft_qsig_key_read(p, field, &k, &e), WEFT_OK);
  p = key_file(dir, "plain.key", "0123456789abcdef0123456789abcdef", 0600);
  ASSERT_EQ(weft_qsig_key_read(p, field, &k2, &e), WEFT_OK);
  ASSERT_STR_EQ(k->id, k2->id);
  weft_qsig_key_free(k);
  weft_qsig_key_free(k2);
  /* created: 0600, 64 hex digits; a second create keeps the first key */
  snprintf(path, sizeof path, "%s/made.key", dir);
  ASSERT_EQ(weft_qsig_key_create(path, &e), WEFT_OK);
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(st.st_size, 65);
  ASSERT_EQ(weft_qsig_key_read(path, field, &k, &e), WEFT_OK);
  ASSERT_EQ(weft_qsig_key_create(path, &e), WEFT_OK);
  ASSERT_EQ(weft_qsig_key_read(path, field, &k2, &e), WEFT_OK);
  ASSERT_STR_EQ(k->id, k2->id);
  weft_qsig_key_free(k);
  weft_qsig_key_free(k2);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  ASSERT_EQ(system(cmd), 0);
  return 0;
}

TEST(instance_queue_section) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(parse("queue:\n  signing_key_file: keys/q.key\n", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.queue_key_file, "/home/w/keys/q.key");
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("queue: {signing_key_file: /etc/weft/q.key}\n", &c, &d), WEFT_OK);
  ASSERT_STR_EQ(c.queue_key_file, "/etc/weft/q.key");
  weft_instance_config_release(&c);
  ASSERT_EQ(parse("queue:\n  signing_key_file: [a]\n  signing_key: x\n", &c, &d), WEFT_EINVALID);
  int kind = 0, key = 0;
  for (size_t i = 0; i < d.n; i++) {
    if (strstr(d.v[i].msg, "queue.signing_key_file must be a file name")) kind = 1;
    if (strstr(d.v[i].msg, "signing_key")) key = 1;
  }
  ASSERT(kind && key);
  weft_diags_release(&d);
  return 0;
}

TEST_MAIN(TEST_ENTRY(op_round_trip) TEST_ENTRY(bad_ops_name_the_field)
              TEST_ENTRY(instance_broker_and_execution)
                  TEST_ENTRY(depths_report_an_unreachable_broker)
                      TEST_ENTRY(sign_and_verify) TEST_ENTRY(key_file_checks)
                          TEST_ENTRY(instance_queue_section))
