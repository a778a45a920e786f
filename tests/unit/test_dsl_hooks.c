/* test_dsl_hooks.c: alerts (`on_failure:`, `on_success:`, `on_sla_missed:`)
 * of jobs, ops and weft.yaml: the checked JSON and the file:line:col errors. */
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"
#include "test.h"
#include "test_dsl_fixture.h"

static const char *ops_text =
    "quick:\n  run: \"true\"\n"
    "alerting:\n  run: \"false\"\n  on_failure: {command: \"echo op failed\", retries: 1}\n";

static struct weft_location *load(const char *job_text) {
  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/o.yaml", ops_text, strlen(ops_text)},
      {WEFT_DSL_SOURCE_JOB, "jobs/j.yaml", job_text, strlen(job_text)},
  };
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources("loc", NULL, src, 2, &loc, NULL)) return NULL;
  return loc;
}

static const char *str_at(json_t *hooks, const char *trigger, size_t i, const char *key) {
  return json_string_value(json_object_get(json_array_get(json_object_get(hooks, trigger), i), key));
}

TEST(job_and_op_hooks) {
  struct weft_location *loc = load(
      "on_failure:\n"
      "  webhook: https://hooks.example.com/services/T/B/X\n"
      "on_success:\n"
      "  - webhook: http://127.0.0.1:9/ok\n"
      "    body: '{\"text\": \"{{run.id}} ok\"}'\n"
      "    headers: {Authorization: {secret: slack_token}, X-Team: data}\n"
      "    retries: 2\n"
      "    timeout: 5s\n"
      "  - command: notify-send done\n"
      "on_sla_missed: {command: \"echo late\"}\n"
      "ops:\n  q: quick\n  a: alerting\n");
  ASSERT(loc && loc->diags.n == 0 && loc->n_jobs == 1);
  json_t *h = loc->jobs[0].hooks;
  ASSERT(h);
  ASSERT_STR_EQ(str_at(h, "on_failure", 0, "webhook"), "https://hooks.example.com/services/T/B/X");
  ASSERT(!json_object_get(json_array_get(json_object_get(h, "on_failure"), 0), "body"));
  ASSERT_STR_EQ(str_at(h, "on_success", 0, "body"), "{\"text\": \"{{run.id}} ok\"}");
  json_t *s0 = json_array_get(json_object_get(h, "on_success"), 0);
  ASSERT_EQ(json_integer_value(json_object_get(s0, "retries")), 2);
  ASSERT(json_real_value(json_object_get(s0, "timeout_s")) == 5);
  json_t *hd = json_object_get(s0, "headers");
  ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(hd, "Authorization"), "secret")),
                "slack_token");
  ASSERT_STR_EQ(json_string_value(json_object_get(hd, "X-Team")), "data");
  ASSERT_STR_EQ(str_at(h, "on_success", 1, "command"), "notify-send done");
  ASSERT_STR_EQ(str_at(h, "on_sla_missed", 0, "command"), "echo late");
  /* The op's own on_failure. */
  const struct weft_op_def *def = NULL;
  for (size_t i = 0; i < loc->n_ops; i++)
    if (!strcmp(loc->ops[i].name, "alerting")) def = &loc->ops[i];
  ASSERT(def && def->hooks);
  ASSERT_STR_EQ(str_at(def->hooks, "on_failure", 0, "command"), "echo op failed");
  weft_location_free(loc);
  /* None: NULL. */
  loc = load("ops:\n  q: quick\n");
  ASSERT(loc && loc->diags.n == 0 && !loc->jobs[0].hooks);
  weft_location_free(loc);
  return 0;
}

TEST(job_errors) {
  struct weft_location *loc = load(
      "ops:\n  q: quick\n"
      "on_failure: {webhook: ftp://x/y}\n"                    /* 3 */
      "on_success: {webhook: http://a/b, command: echo}\n"    /* 4 */
      "on_sla_missed:\n"                                      /* 5 */
      "  - {webhok: http://a/b}\n"                            /* 6 */
      "  - {command: echo, body: x, retries: 99}\n"           /* 7 */
      "  - {webhook: http://a/b, headers: {X-A: [1]}, timeout: 1h}\n" /* 8 */
      "  - late\n");                                          /* 9 */
  ASSERT(loc);
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:3:23: error: job 'j': on_failure: webhook must be an "
                           "http:// or https:// URL, got 'ftp://x/y'");
  ASSERT_DIAG(&loc->diags,
              "jobs/j.yaml:4:13: error: job 'j': on_success: give webhook or command, not both");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:6:6: error: unknown key 'webhok' in job 'j': "
                           "on_sla_missed[0] (did you mean 'webhook'?)");
  ASSERT_DIAG(&loc->diags,
              "jobs/j.yaml:6:5: error: job 'j': on_sla_missed[0]: needs webhook: URL or command: TEXT");
  ASSERT_DIAG(&loc->diags,
              "jobs/j.yaml:7:27: error: job 'j': on_sla_missed[1]: body is for a webhook");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:7:39: error: job 'j': on_sla_missed[1]: retries must be "
                           "an integer from 0 to 20, got '99'");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:8:42: error: job 'j': on_sla_missed[2]: header X-A must "
                           "be a string or {secret: NAME}, got a list");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:8:57: error: job 'j': on_sla_missed[2]: timeout must be "
                           "a duration up to 10m such as \"10s\", got '1h'");
  ASSERT_DIAG(&loc->diags, "jobs/j.yaml:9:5: error: job 'j': on_sla_missed[3] must be {webhook: "
                           "URL} or {command: TEXT}, got 'late'");
  weft_location_free(loc);
  return 0;
}

TEST(instance_hooks) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  const char *t = "hooks:\n  on_failure:\n    - webhook: https://alerts.example.com/x\n";
  ASSERT_EQ(weft_instance_config_parse("/home/w", "weft.yaml", t, strlen(t), &c, &d), WEFT_OK);
  ASSERT_STR_EQ(str_at(c.hooks, "on_failure", 0, "webhook"), "https://alerts.example.com/x");
  weft_instance_config_release(&c);
  /* ${VAR} is replaced in weft.yaml's hooks as in the rest of the file. */
  setenv("WEFT_TEST_HOOK_URL", "https://hooks.example.com/services/T/B/X", 1);
  t = "hooks:\n  on_failure: {webhook: '${WEFT_TEST_HOOK_URL}', command: null}\n"
      "  on_success: {command: 'echo $${WEFT_RUN_ID}'}\n";
  ASSERT_EQ(weft_instance_config_parse("/home/w", "weft.yaml", t, strlen(t), &c, &d), WEFT_OK);
  ASSERT_STR_EQ(str_at(c.hooks, "on_failure", 0, "webhook"),
                "https://hooks.example.com/services/T/B/X");
  ASSERT_STR_EQ(str_at(c.hooks, "on_success", 0, "command"), "echo ${WEFT_RUN_ID}");
  weft_instance_config_release(&c);
  t = "hooks:\n  on_falure: {command: x}\n  on_success: {command: ''}\n";
  ASSERT_EQ(weft_instance_config_parse("/home/w", "weft.yaml", t, strlen(t), &c, &d),
            WEFT_EINVALID);
  ASSERT_DIAG(&d, "weft.yaml:2:3: error: unknown key 'on_falure' in weft.yaml hooks (did you "
                  "mean 'on_failure'?)");
  ASSERT_DIAG(&d, "weft.yaml:3:25: error: weft.yaml hooks: on_success: command must be a shell "
                  "command, got ''");
  weft_diags_release(&d);
  return 0;
}

TEST_MAIN(TEST_ENTRY(job_and_op_hooks) TEST_ENTRY(job_errors) TEST_ENTRY(instance_hooks))
