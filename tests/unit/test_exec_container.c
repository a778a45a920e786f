/* test_exec_container.c: container steps under the "multiprocess" executor on
 * a real engine (WEFT_TEST_DOCKER_HOST: Podman's Docker API service): the
 * step protocol inside, failures, OOM, timeout and cancel leaving nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "containers/containers.h"
#include "exec/exec.h"
#include "test.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"

#define ENGINE_OR_SKIP()                                                \
  do {                                                                  \
    if (!getenv("WEFT_TEST_DOCKER_HOST") || !*getenv("WEFT_TEST_DOCKER_HOST")) { \
      fprintf(stderr, "# skipped: WEFT_TEST_DOCKER_HOST is not set\n"); \
      return 0;                                                         \
    }                                                                   \
  } while (0)

struct fixture {
  char dir[64];
  char *work;
  char run_id[32];
  struct weft_buf events;
  struct weft_step_container ctr;
  struct weft_op_def def;
  struct weft_port out_port, in_port;
};

static void on_event(void *cb_data, void *user, json_t *event) {
  struct fixture *f = cb_data;
  (void)user;
  char *text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
  weft_buf_adds(&f->events, text);
  weft_buf_addc(&f->events, '\n');
  free(text);
}

static const char *image(void) {
  const char *i = getenv("WEFT_TEST_DOCKER_IMAGE");
  return i && *i ? i : "localhost/weft-test:busybox";
}

static int fixture_init(struct fixture *f, const char *run) {
  memset(f, 0, sizeof *f);
  weft_buf_init(&f->events);
  snprintf(f->dir, sizeof f->dir, "/tmp/weft-ctr-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  f->work = weft_fs_join(f->dir, "work");
  /* A run id of this process's own, to find its containers by label. */
  snprintf(f->run_id, sizeof f->run_id, "%s%d", run, (int)getpid());
  f->ctr.image = image();
  f->ctr.url = getenv("WEFT_TEST_DOCKER_HOST");
  f->ctr.pull = WEFT_CTR_PULL_NEVER;
  f->ctr.network = "none";
  f->ctr.instance = "unit-tests";
  f->def.name = "op";
  f->out_port.name = "result";
  f->out_port.type = WEFT_TYPE_ANY;
  f->def.outputs = &f->out_port;
  f->def.n_outputs = 1;
  return weft_fs_mkdirs(f->work, NULL);
}

static void fixture_release(struct fixture *f) {
  weft_fs_remove_tree(f->dir, NULL);
  free(f->work);
  weft_buf_release(&f->events);
}

/* Containers the engine still has for this fixture's run. */
static size_t leftover(struct fixture *f) {
  struct weft_ctr_engine *e = NULL;
  weft_error err = WEFT_ERROR_INIT;
  json_t *list = NULL;
  char label[80];
  snprintf(label, sizeof label, WEFT_CTR_LABEL_RUN "=%s", f->run_id);
  if (weft_ctr_engine_open(f->ctr.url, &e, &err) || weft_ctr_list(e, label, &list, &err)) {
    fprintf(stderr, "# list: %s\n", err.msg);
    weft_ctr_engine_free(e);
    return 99;
  }
  size_t n = json_array_size(list);
  json_decref(list);
  weft_ctr_engine_free(e);
  return n;
}

/* Starts the step; cancel_after_ms >= 0 cancels it that long after. */
static char *read_log(struct fixture *f, const char *name);

/* Runs the step; with cancel_once, cancels it as soon as its stdout holds
 * that text (the op is up: on a loaded machine an engine may take seconds
 * to start a container), or after 60 s. */
static int run_step(struct fixture *f, const char *inputs_json, const char *cancel_once,
                    struct weft_step_result *r) {
  struct weft_executor_callbacks cb = {on_event, NULL, f};
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_executor_new("multiprocess", 2, &cb, &x, &err)) return -1;
  struct weft_step_spec s = {0};
  s.run_id = f->run_id;
  s.job = "job-a";
  s.step = "step_x";
  s.attempt = 1;
  s.def = &f->def;
  s.cwd = f->dir;
  s.work_dir = f->work;
  s.config_json = "{\"k\":5}";
  s.inputs_json = inputs_json;
  s.kill_grace_s = 1;
  s.container = &f->ctr;
  int rc = weft_executor_start(x, &s, &err);
  if (rc) {
    fprintf(stderr, "# start: %s\n", err.msg);
    weft_executor_free(x);
    return -1;
  }
  if (cancel_once) {
    int64_t until = weft_clock_mono_ms() + 60000;
    for (int up = 0; !up && weft_clock_mono_ms() < until;) {
      int got = weft_executor_wait(x, 100, r, &err);
      if (got != 0) {
        fprintf(stderr, "# the step ended before the cancel (%d)\n", got);
        weft_executor_free(x);
        return -1;
      }
      char *out = read_log(f, "stdout.log");
      up = strstr(out, cancel_once) != NULL;
      free(out);
    }
    weft_executor_cancel_all(x, "test");
  }
  rc = weft_executor_wait(x, -1, r, &err);
  weft_executor_free(x);
  return rc == 1 ? 0 : -1;
}

static char *read_log(struct fixture *f, const char *name) {
  char *p = weft_fs_join(f->work, name);
  struct weft_buf b = WEFT_BUF_INIT;
  weft_fs_read_file(p, &b, NULL);
  free(p);
  if (!b.ptr) return strdup("");
  return weft_buf_detach(&b, NULL);
}

/* The step protocol inside: config, inputs, outputs, events on fd 3, logs
 * apart, WEFT_* paths of the container, weft's uid, the code read-only. */
TEST(run_op_protocol) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "protocol"), 0);
  f.in_port.name = "n";
  f.in_port.type = WEFT_TYPE_INT;
  f.def.inputs = &f.in_port;
  f.def.n_inputs = 1;
  f.out_port.type = WEFT_TYPE_INT;
  /* env: as for host steps, {from_env} included; weft's own env stays out */
  struct weft_kv env[] = {{"GREETING", "hi"}};
  struct weft_kv from[] = {{"TOKEN", "WEFT_TEST_CTR_TOKEN"}};
  f.def.env = (struct weft_kvs){env, 1};
  f.def.env_from = (struct weft_kvs){from, 1};
  setenv("WEFT_TEST_CTR_TOKEN", "t0k3n", 1);
  setenv("WEFT_TEST_CTR_PRIVATE", "private", 1);
  f.def.run =
      "echo \"env=$GREETING/$TOKEN/${WEFT_TEST_CTR_PRIVATE:-unset}\"\n"
      "echo \"op=$WEFT_OP run=$WEFT_RUN_ID attempt=$WEFT_ATTEMPT cwd=$(pwd) uid=$(id -u)\"\n"
      "echo \"config=$(cat $WEFT_CONFIG) events=$WEFT_EVENTS\"\n"
      "echo oops >&2\n"
      "touch /weft/code/x 2>/dev/null && echo code-writable || echo code-read-only\n"
      "echo '{\"type\":\"log\",\"level\":\"warning\",\"msg\":\"inside\"}' >&$WEFT_EVENTS\n"
      "echo $(( $(cat $WEFT_INPUTS/n) * 3 )) > $WEFT_OUTPUTS/result\n";
  ASSERT_EQ(run_step(&f, "{\"n\":14}", NULL, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT(r.ok);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "result")), 42);
  ASSERT_STR_EQ(r.image, image());
  ASSERT_CONTAINS(r.image_digest, "sha256:");
  ASSERT(r.container_id && strlen(r.container_id) >= 12);
  char *out = read_log(&f, "stdout.log"), *err = read_log(&f, "stderr.log");
  char want[200];
  snprintf(want, sizeof want, "op=step_x run=%s attempt=1 cwd=/weft/code uid=%d\n", f.run_id,
           (int)getuid());
  ASSERT_CONTAINS(out, want);
  ASSERT_CONTAINS(out, "config={\"k\":5} events=3\n");
  ASSERT_CONTAINS(out, "code-read-only");
  ASSERT_CONTAINS(out, "env=hi/t0k3n/unset\n");
  ASSERT_STR_EQ(err, "oops\n");
  ASSERT_CONTAINS(f.events.ptr, "\"level\":\"warning\",\"msg\":\"inside\"");
  free(out);
  free(err);
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

/* argv: runs as given (no shell wrapped around it); WEFT_EVENTS names the
 * events file. */
TEST(argv_op_events_file) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "argv"), 0);
  char *argv[] = {"/bin/sh", "-c",
                  "echo events=$WEFT_EVENTS; "
                  "echo '{\"type\":\"materialization\",\"asset\":\"t\"}' >> $WEFT_EVENTS; "
                  "echo '\"done\"' > $WEFT_OUTPUTS/result",
                  NULL};
  f.def.argv = argv;
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(r.ok);
  ASSERT_STR_EQ(json_string_value(json_object_get(r.outputs, "result")), "done");
  char *out = read_log(&f, "stdout.log");
  ASSERT_STR_EQ(out, "events=/weft/events.jsonl\n");
  free(out);
  ASSERT_CONTAINS(f.events.ptr, "\"asset\":\"t\"");
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

TEST(failing_command) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "fail"), 0);
  f.def.run = "echo bye >&2; exit 3";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_EQ(r.exit_code, 3);
  ASSERT_STR_EQ(r.message, "exited with status 3");
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

/* mounts: a host folder read-only and another read-write. */
TEST(op_mounts) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "mounts"), 0);
  char *ro = weft_fs_join(f.dir, "ro"), *rw = weft_fs_join(f.dir, "rw");
  ASSERT_EQ(weft_fs_mkdirs(ro, NULL), WEFT_OK);
  ASSERT_EQ(weft_fs_mkdirs(rw, NULL), WEFT_OK);
  char *in = weft_fs_join(ro, "x");
  ASSERT_EQ(weft_fs_write_atomic(in, "shared\n", 7, 0, NULL), WEFT_OK);
  struct weft_mount m[] = {{ro, "/data", 1}, {rw, "/scratch", 0}};
  f.def.mounts = m;
  f.def.n_mounts = 2;
  f.def.run = "cat /data/x; touch /data/y 2>/dev/null && echo ro-writable || echo ro-refused; "
              "echo made > /scratch/z";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT(r.ok);
  char *out = read_log(&f, "stdout.log");
  ASSERT_STR_EQ(out, "shared\nro-refused\n");
  free(out);
  char *z = weft_fs_join(rw, "z");
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(z, &b, NULL), WEFT_OK);
  ASSERT(b.len == 5 && !memcmp(b.ptr, "made\n", 5));
  weft_buf_release(&b);
  free(z);
  free(in);
  free(ro);
  free(rw);
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

/* `output` events of `path` outputs name files as the container sees them. */
TEST(path_output_events) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "pathout"), 0);
  struct weft_port outs[] = {{.name = "model", .type = WEFT_TYPE_PATH},
                             {.name = "copy", .type = WEFT_TYPE_PATH}};
  f.def.outputs = outs;
  f.def.n_outputs = 2;
  f.def.run = "echo weights > /weft/outputs/model\n"
              "echo '{\"type\":\"output\",\"name\":\"model\",\"value\":\"/weft/outputs/model\"}' >&3\n"
              "mkdir -p /weft/outputs/tmp && echo copied > /weft/outputs/tmp/c\n"
              "echo '{\"type\":\"output\",\"name\":\"copy\",\"value\":\"/weft/outputs/tmp/c\"}' >&3\n";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT(r.ok);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(json_string_value(json_object_get(r.outputs, "model")), &b, NULL), 0);
  ASSERT(b.len == 8 && !memcmp(b.ptr, "weights\n", 8)); /* not truncated by a self-copy */
  weft_buf_reset(&b);
  ASSERT_EQ(weft_fs_read_file(json_string_value(json_object_get(r.outputs, "copy")), &b, NULL), 0);
  ASSERT(b.len == 7 && !memcmp(b.ptr, "copied\n", 7));
  weft_buf_release(&b);
  weft_step_result_release(&r);
  /* A path the host cannot see. */
  f.def.outputs = &outs[0];
  f.def.n_outputs = 1;
  f.def.run = "echo x > /tmp/m\n"
              "echo '{\"type\":\"output\",\"name\":\"model\",\"value\":\"/tmp/m\"}' >&3\n";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_CONTAINS(r.message, "output 'model': '/tmp/m' is a path inside the container that "
                             "weft cannot read: write the file into $WEFT_OUTPUTS");
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

/* A program the image does not have: the engine's message, no container. */
TEST(program_not_found) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "noprog"), 0);
  char *argv[] = {"/no/such/program", NULL};
  f.def.argv = argv;
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_CONTAINS(r.message, "container engine: starting the container: ");
  ASSERT_CONTAINS(r.message, "/no/such/program");
  ASSERT_EQ(r.exit_code, 125);
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

TEST(out_of_memory) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "oom"), 0);
  f.def.resources.memory = 16LL << 20;
  f.def.run = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_STR_EQ(r.message, "killed: out of memory (limit 16 MiB)");
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

TEST(timeout_leaves_nothing) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "timeout"), 0);
  f.def.run = "echo started; sleep 60";
  f.def.timeout_s = 1;
  int64_t t0 = weft_clock_mono_ms();
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT(r.timed_out);
  ASSERT_STR_EQ(r.message, "timed out after 1s");
  /* 1 s, a 1 s grace and the engine's time, which a loaded machine (load 15
   * on 2 cores) stretched past 15 s: well under the 60 s it would sleep. */
  ASSERT(weft_clock_mono_ms() - t0 < 45000);
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

TEST(cancel_leaves_nothing) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "cancel"), 0);
  f.def.run = "trap 'echo got TERM; exit 9' TERM; echo up; while :; do sleep 0.1; done";
  ASSERT_EQ(run_step(&f, NULL, "up\n", &r), 0);
  ASSERT(!r.ok);
  ASSERT(r.canceled);
  ASSERT_STR_EQ(r.message, "canceled: test");
  char *out = read_log(&f, "stdout.log");
  ASSERT_STR_EQ(out, "up\ngot TERM\n"); /* SIGTERM reached the op first */
  free(out);
  weft_step_result_release(&r);
  ASSERT_EQ(leftover(&f), 0);
  fixture_release(&f);
  return 0;
}

TEST(bad_image) {
  ENGINE_OR_SKIP();
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "badimg"), 0);
  f.ctr.image = "localhost/weft-no-such-image:1";
  f.def.run = "true";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_CONTAINS(r.message, "container engine: image 'localhost/weft-no-such-image:1' is "
                             "not on the container engine");
  ASSERT_EQ(r.exit_code, 125);
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

TEST(engine_down) {
  struct fixture f;
  struct weft_step_result r = {0};
  ASSERT_EQ(fixture_init(&f, "down"), 0);
  f.ctr.url = "unix:///nonexistent/engine.sock";
  f.def.run = "true";
  ASSERT_EQ(run_step(&f, NULL, NULL, &r), 0);
  ASSERT(!r.ok);
  ASSERT_STR_EQ(r.message, "container engine: no container engine at "
                           "unix:///nonexistent/engine.sock: no such file or directory; "
                           "start 'podman system service' or Docker");
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

TEST_MAIN(TEST_ENTRY(run_op_protocol) TEST_ENTRY(argv_op_events_file) TEST_ENTRY(failing_command) TEST_ENTRY(program_not_found) TEST_ENTRY(op_mounts)
                  TEST_ENTRY(path_output_events)
              TEST_ENTRY(out_of_memory) TEST_ENTRY(timeout_leaves_nothing)
                  TEST_ENTRY(cancel_leaves_nothing) TEST_ENTRY(bad_image)
                      TEST_ENTRY(engine_down))
