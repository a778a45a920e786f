/* test_dsl_containers.c: what container steps read from YAML: weft.yaml's
 * containers:, an op's image: and resources:, a run config's ops.NAME.image,
 * and every mistake in them at its file:line:col. */
#include <stdlib.h>
#include <string.h>

#include "containers/containers.h"
#include "dsl/dsl.h"
#include "test.h"
#include "test_dsl_fixture.h"

static int parse(const char *text, struct weft_instance_config *c, struct weft_diags *d) {
  return weft_instance_config_parse("/home/w", "weft.yaml", text, strlen(text), c, d);
}

TEST(containers_settings) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  setenv("WEFT_TEST_SOCK", "/run/user/1000/podman/podman.sock", 1);
  ASSERT_EQ(parse("containers:\n  socket: unix://${WEFT_TEST_SOCK}\n  pull: always\n"
                  "  network: host\n  default_image: python:3.12-slim\n"
                  "  labels: {team: data, cost-center: \"42\"}\n",
                  &c, &d),
            WEFT_OK);
  ASSERT_STR_EQ(c.containers.socket, "unix:///run/user/1000/podman/podman.sock");
  ASSERT_EQ(c.containers.pull, WEFT_CTR_PULL_ALWAYS);
  ASSERT_STR_EQ(c.containers.network, "host");
  ASSERT_STR_EQ(c.containers.default_image, "python:3.12-slim");
  ASSERT_EQ(c.containers.labels.n, 2);
  ASSERT_STR_EQ(c.containers.labels.v[1].key, "cost-center");
  ASSERT_STR_EQ(c.containers.labels.v[1].value, "42");
  weft_instance_config_release(&c);
  /* Absent: the defaults (socket NULL means $DOCKER_HOST or the usual ones). */
  ASSERT_EQ(parse("storage: {sqlite: {path: x.db}}\n", &c, &d), WEFT_OK);
  ASSERT(!c.containers.socket && !c.containers.network && !c.containers.default_image);
  ASSERT_EQ(c.containers.pull, WEFT_CTR_PULL_MISSING);
  weft_instance_config_release(&c);
  ASSERT_EQ(d.n, 0);
  return 0;
}

TEST(containers_mistakes) {
  struct weft_instance_config c;
  struct weft_diags d = WEFT_DIAGS_INIT;
  ASSERT_EQ(parse("containers:\n"
                  "  socket: tcp://10.0.0.1:2375\n"
                  "  pull: sometimes\n"
                  "  network: overlay\n"
                  "  default_image: \"Bad Image\"\n"
                  "  labels: {weft.run: x}\n"
                  "  registry: r\n",
                  &c, &d),
            WEFT_EINVALID);
  ASSERT(fx_has_diag(&d, "weft.yaml:2:11: error: containers.socket must be unix:///PATH (the "
                         "engine's socket), got 'tcp://10.0.0.1:2375'"));
  ASSERT(fx_has_diag(&d, "weft.yaml:3:9: error: containers.pull must be missing, always or "
                         "never, got 'sometimes'"));
  ASSERT(fx_has_diag(&d, "weft.yaml:4:12: error: containers.network must be bridge, none or "
                         "host, got 'overlay'"));
  ASSERT(fx_has_diag(&d, "weft.yaml:5:18: error: containers.default_image 'Bad Image' is not "
                         "an image reference: an image reference has no spaces or control "
                         "characters"));
  ASSERT(fx_has_diag(&d, "weft.yaml:6:11: error: containers.labels: 'weft.run' is weft's own "
                         "(weft.* labels are set by weft)"));
  char *all = fx_diags(&d);
  ASSERT_CONTAINS(all, "weft.yaml:7:3: error: unknown key 'registry'");
  free(all);
  ASSERT_EQ(parse("containers: [a]\n", &c, &d), WEFT_EINVALID);
  ASSERT(fx_has_diag(&d, "weft.yaml:1:13: error: containers must be a mapping (socket, pull, "
                         "network, default_image, labels), got a list"));
  weft_diags_release(&d);
  return 0;
}

TEST(op_image_and_resources) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/ops.yaml",
                     "train:\n"
                     "  image: ghcr.io/acme/train:1.4\n"
                     "  resources: {cpus: 1.5, memory: 2Gi, shm: 512Mi, gpus: [0, 2]}\n"
                     "  run: python train.py\n"
                     "few:\n"
                     "  image: python:3.12-slim\n"
                     "  resources: {gpus: 2}\n"
                     "  run: \"true\"\n"
                     "bad:\n"
                     "  image: \"UPPER:case\"\n"
                     "  resources: {cpus: -1, memory: lots, gpus: some, disk: 1Gi}\n"
                     "  run: \"true\"\n"),
            WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  const struct weft_op_def *t = weft_location_find_op(loc, "train");
  ASSERT_STR_EQ(t->image, "ghcr.io/acme/train:1.4");
  ASSERT(t->resources.cpus == 1.5);
  ASSERT_EQ(t->resources.memory, 2LL << 30);
  ASSERT_EQ(t->resources.shm, 512LL << 20);
  ASSERT_STR_EQ(t->resources.gpus, "device=0,2");
  ASSERT_STR_EQ(weft_location_find_op(loc, "few")->resources.gpus, "2");
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:10:10: error: op 'bad': image 'UPPER:case' is "
                                  "not an image reference: a repository name has lower-case "
                                  "letters, digits and '.', '_', '-' between them, in "
                                  "'/'-separated parts"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:11:21: error: op 'bad': resources.cpus must be "
                                  "a number of CPUs > 0 such as 1.5, got '-1'"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:11:33: error: op 'bad': resources.memory must "
                                  "be a size such as 512Mi, 2Gi or 1G, got 'lots'"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:11:45: error: op 'bad': resources.gpus must be "
                                  "all, a count or a list of GPU ids, got 'some'"));
  char *all = fx_diags(&loc->diags);
  ASSERT_CONTAINS(all, "unknown key 'disk'");
  free(all);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(op_mounts) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/ops.yaml",
                     "m:\n"
                     "  image: busybox\n"
                     "  mounts:\n"
                     "    - /srv/data:/data:ro\n"
                     "    - pip-cache:/root/.cache/pip\n"
                     "    - {source: /models, target: /models, read_only: false}\n"
                     "  run: \"true\"\n"
                     "bad:\n"
                     "  mounts:\n"
                     "    - relative/dir:/x\n"
                     "    - /a:/weft/inputs\n"
                     "    - /a:/b:rx\n"
                     "    - /a:b\n"
                     "  run: \"true\"\n"),
            WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  const struct weft_op_def *m = weft_location_find_op(loc, "m");
  ASSERT_EQ(m->n_mounts, 3);
  ASSERT_STR_EQ(m->mounts[0].source, "/srv/data");
  ASSERT_STR_EQ(m->mounts[0].target, "/data");
  ASSERT_EQ(m->mounts[0].read_only, 1);
  ASSERT_STR_EQ(m->mounts[1].source, "pip-cache");
  ASSERT_EQ(m->mounts[1].read_only, 0);
  ASSERT_STR_EQ(m->mounts[2].target, "/models");
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:10:7: error: op 'bad': a mount's source must be "
                                  "an absolute host path or a volume name, got 'relative/dir'"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:11:7: error: op 'bad': mount target "
                                  "'/weft/inputs' is weft's own (/weft holds the step "
                                  "protocol's files)"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:12:7: error: op 'bad': mount '/a:/b:rx' must be "
                                  "SOURCE:TARGET, SOURCE:TARGET:ro or SOURCE:TARGET:rw"));
  ASSERT(fx_has_diag(&loc->diags, "ops/ops.yaml:13:7: error: op 'bad': a mount's target must be "
                                  "an absolute path in the container, got 'b'"));
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST(run_config_image) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(fx_write("ops/ops.yaml", "hello: {run: echo hi}\n"), WEFT_OK);
  ASSERT_EQ(fx_write("jobs/j.yaml", "ops: {a: hello, b: hello}\n"), WEFT_OK);
  struct weft_location *loc = NULL;
  LOAD_HERE(loc);
  const struct weft_job *job = weft_location_find_job(loc, "j");
  ASSERT(job && job->valid);
  struct weft_run_config rc;
  struct weft_diags d = WEFT_DIAGS_INIT;
  const char *text = "ops:\n  a: {image: \"python:3.12\"}\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0, &rc, &d), WEFT_OK);
  ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(rc.ops, "a"), "image")),
                "python:3.12");
  ASSERT(!json_object_get(json_object_get(rc.ops, "b"), "image"));
  weft_run_config_release(&rc);
  /* resources: this run's limits, kept as plain numbers */
  text = "ops:\n  b: {resources: {memory: 64Mi, cpus: 0.5, gpus: all}}\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0, &rc, &d), WEFT_OK);
  json_t *res = json_object_get(json_object_get(rc.ops, "b"), "resources");
  ASSERT_EQ(json_integer_value(json_object_get(res, "memory")), 64LL << 20);
  ASSERT(json_number_value(json_object_get(res, "cpus")) == 0.5);
  ASSERT_STR_EQ(json_string_value(json_object_get(res, "gpus")), "all");
  ASSERT(!json_object_get(json_object_get(rc.ops, "a"), "resources"));
  weft_run_config_release(&rc);
  text = "ops:\n  b: {resources: {memory: huge}}\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT(fx_has_diag(&d, "rc.yaml:2:27: error: ops.b of the run config: resources.memory must "
                         "be a size such as 512Mi, 2Gi or 1G, got 'huge'"));
  weft_diags_release(&d);
  text = "ops:\n  a: {image: \"no good\"}\n";
  ASSERT_EQ(weft_run_config_build(job, "rc.yaml", text, strlen(text), NULL, 0, &rc, &d),
            WEFT_EINVALID);
  ASSERT(fx_has_diag(&d, "rc.yaml:2:14: error: ops.a.image must be an image reference: an image "
                         "reference has no spaces or control characters"));
  weft_diags_release(&d);
  weft_location_free(loc);
  fx_leave_tmp(dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(containers_settings) TEST_ENTRY(containers_mistakes)
              TEST_ENTRY(op_image_and_resources) TEST_ENTRY(op_mounts)
                  TEST_ENTRY(run_config_image))
