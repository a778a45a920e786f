/* test_exec_inprocess.c: the "in_process" executor (C-function ops, one step
 * at a time) and the op SDKs (sdk/python, sdk/c) run through the executor. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include "../../sdk/c/weft_op.h"
#include "exec/c_pool.h"
#include "exec/exec.h"
#include "test.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"

/* ---- fixture ---- */

struct fixture {
  char dir[64];
  char *work;
  struct weft_buf events;
  int n_events;
  long started_pid;
  int n_started;
};

static void on_event(void *cb_data, void *user, json_t *event) {
  struct fixture *f = cb_data;
  (void)user;
  char *text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
  weft_buf_adds(&f->events, text);
  weft_buf_addc(&f->events, '\n');
  free(text);
  f->n_events++;
}

static void on_started(void *cb_data, void *user, long pid) {
  struct fixture *f = cb_data;
  (void)user;
  f->started_pid = pid;
  f->n_started++;
}

static int fixture_init(struct fixture *f) {
  memset(f, 0, sizeof *f);
  weft_buf_init(&f->events);
  f->started_pid = -1;
  strcpy(f->dir, "/tmp/weft-inproc-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  f->work = weft_fs_join(f->dir, "work");
  return weft_fs_mkdirs(f->work, NULL);
}

static void fixture_release(struct fixture *f) {
  weft_fs_remove_tree(f->dir, NULL);
  free(f->work);
  weft_buf_release(&f->events);
}

static struct weft_executor *new_executor(struct fixture *f, const char *kind) {
  struct weft_executor_callbacks cb = {on_event, on_started, f};
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_executor_new(kind, 0, &cb, &x, &err))
    fprintf(stderr, "# executor: %s\n", err.msg);
  return x;
}

static struct weft_step_spec spec_for(struct fixture *f,
                                      const struct weft_op_def *def) {
  struct weft_step_spec s;
  memset(&s, 0, sizeof s);
  s.run_id = "run-7";
  s.job = "job-b";
  s.step = "adder";
  s.attempt = 1;
  s.def = def;
  s.cwd = f->dir;
  s.work_dir = f->work;
  s.config_json = "{\"base\": 10}";
  s.inputs_json = "{\"x\": 5}";
  s.kill_grace_s = 1;
  return s;
}

static int run_in_process(struct fixture *f, const struct weft_op_def *def,
                          struct weft_step_result *r) {
  struct weft_executor *x = new_executor(f, "in_process");
  if (!x) return -1;
  struct weft_step_spec spec = spec_for(f, def);
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_executor_start(x, &spec, &err);
  if (rc)
    fprintf(stderr, "# start: %s\n", err.msg);
  else
    rc = weft_executor_wait(x, -1, r, &err) == 1 ? 0 : -1;
  weft_executor_free(x);
  return rc;
}

/* ---- C ops used by the tests ---- */

/* total = config.base + inputs.x; also echoes its `data` path input. */
static int op_add(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  int *calls = userdata;
  (*calls)++;
  json_t *cfg = json_loads(weft_op_ctx_config_json(ctx), 0, NULL);
  const char *xs = weft_op_ctx_input_json(ctx, "x");
  json_t *x = xs ? json_loads(xs, JSON_DECODE_ANY, NULL) : NULL;
  if (!cfg || !x) {
    json_decref(cfg);
    json_decref(x);
    return weft_error_set(err, WEFT_EINVALID, "add: config or input x missing");
  }
  char total[32];
  snprintf(total, sizeof total, "%lld",
           json_integer_value(json_object_get(cfg, "base")) + json_integer_value(x));
  json_decref(cfg);
  json_decref(x);
  weft_op_ctx_log(ctx, NULL, "adding");
  weft_op_ctx_log(ctx, "warning", "careful");
  if (weft_op_ctx_set_output(ctx, "total", "not json") != WEFT_EINVALID)
    return weft_error_set(err, WEFT_EINVALID, "bad JSON accepted");
  if (weft_op_ctx_input_json(ctx, "nope") != NULL)
    return weft_error_set(err, WEFT_EINVALID, "unknown input found");
  const char *data = weft_op_ctx_input_json(ctx, "data");
  if (data && weft_op_ctx_set_output(ctx, "data_path", data))
    return weft_error_set(err, WEFT_EINVALID, "data_path");
  return weft_op_ctx_set_output(ctx, "total", total);
}

static int op_fail_with_message(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  return weft_error_set(err, WEFT_EINVALID, "the warehouse is closed");
}

static int op_fail_silently(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  return 2;
}

static int op_set_string(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  weft_op_ctx_set_output(ctx, "total", "\"many\"");
  return 0;
}

static int op_set_undeclared(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  weft_op_ctx_set_output(ctx, "nope", "1");
  weft_op_ctx_set_output(ctx, "total", "1");
  return 0;
}

static int op_nothing(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  return 0;
}

static int op_path_output(weft_op_ctx *ctx, void *userdata, weft_error *err) {
  const char *dir = userdata;
  char *src = weft_fs_join(dir, "made.bin");
  int rc = weft_fs_write_atomic(src, "made", 4, 0, err);
  json_t *s = json_string(src);
  char *text = json_dumps(s, JSON_ENCODE_ANY);
  if (!rc) rc = weft_op_ctx_set_output(ctx, "model", text);
  free(text);
  json_decref(s);
  free(src);
  return rc;
}

static int register_ops(int *calls, const char *dir) {
  return weft_register_c_op("add", op_add, calls) ||
         weft_register_c_op("fail_msg", op_fail_with_message, NULL) ||
         weft_register_c_op("fail_silent", op_fail_silently, NULL) ||
         weft_register_c_op("set_string", op_set_string, NULL) ||
         weft_register_c_op("set_undeclared", op_set_undeclared, NULL) ||
         weft_register_c_op("nothing", op_nothing, NULL) ||
         weft_register_c_op("path_output", op_path_output, (void *)dir);
}

static struct weft_op_def c_op(const char *fn, struct weft_port *outs, size_t n) {
  struct weft_op_def def;
  memset(&def, 0, sizeof def);
  def.name = "cop";
  def.c_function = (char *)fn;
  def.outputs = outs;
  def.n_outputs = n;
  return def;
}

/* ---- C ops ---- */

TEST(c_op_success_with_outputs_and_logs) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  int calls = 0;
  ASSERT_EQ(register_ops(&calls, f.dir), 0);
  /* A path input: raw file placed by the caller before start(). */
  char *data = weft_fs_join(f.work, "inputs/data");
  char *inputs = weft_fs_join(f.work, "inputs");
  ASSERT_EQ(weft_fs_mkdirs(inputs, NULL), WEFT_OK);
  ASSERT_EQ(weft_fs_write_atomic(data, "raw", 3, 0, NULL), WEFT_OK);
  struct weft_port ins[] = {{.name = "x", .type = WEFT_TYPE_INT},
                            {.name = "data", .type = WEFT_TYPE_PATH}};
  struct weft_port outs[] = {{.name = "total", .type = WEFT_TYPE_INT},
                             {.name = "data_path", .type = WEFT_TYPE_STRING}};
  struct weft_op_def def = c_op("add", outs, 2);
  def.inputs = ins;
  def.n_inputs = 2;
  struct weft_step_result r;
  ASSERT_EQ(run_in_process(&f, &def, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(r.pid, 0);
  ASSERT_EQ(f.n_started, 1);
  ASSERT_EQ(f.started_pid, 0);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "total")), 15);
  ASSERT_STR_EQ(json_string_value(json_object_get(r.outputs, "data_path")), data);
  ASSERT_STR_EQ(f.events.ptr,
                "{\"level\":\"info\",\"msg\":\"adding\",\"type\":\"log\"}\n"
                "{\"level\":\"warning\",\"msg\":\"careful\",\"type\":\"log\"}\n");
  /* A `path` port gives it the work folder of a process step, but a C
   * step writes no compute log: a missing log is an empty one (exec.h). */
  char *config = weft_fs_join(f.work, "config.json");
  char *log = weft_fs_join(f.work, "stdout.log");
  ASSERT(weft_fs_exists(config));
  ASSERT(!weft_fs_exists(log));
  free(config);
  free(log);
  free(data);
  free(inputs);
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

/* The failure message of one C op step. */
static char *c_failure(const char *fn, const char *output, enum weft_type type) {
  struct fixture f;
  if (fixture_init(&f)) return NULL;
  int calls = 0;
  register_ops(&calls, f.dir);
  struct weft_port outs[] = {{.name = (char *)output, .type = type}};
  struct weft_op_def def = c_op(fn, outs, 1);
  struct weft_step_result r;
  char *msg = NULL;
  if (!run_in_process(&f, &def, &r)) {
    msg = r.ok ? strdup("(ok)") : strdup(r.message);
    weft_step_result_release(&r);
  }
  fixture_release(&f);
  return msg;
}

#define ASSERT_C_FAILS_WITH(fn, type, expected)          \
  do {                                                   \
    char *m_ = c_failure(fn, "total", type);             \
    int same_ = m_ && !strcmp(m_, expected);             \
    if (!same_) fprintf(stderr, "# got \"%s\"\n", m_ ? m_ : "(null)"); \
    free(m_);                                            \
    ASSERT(same_);                                       \
  } while (0)

TEST(c_op_failures) {
  ASSERT_C_FAILS_WITH("fail_msg", WEFT_TYPE_INT, "the warehouse is closed");
  ASSERT_C_FAILS_WITH("fail_silent", WEFT_TYPE_INT,
                      "C function 'fail_silent' failed with code 2");
  ASSERT_C_FAILS_WITH("set_string", WEFT_TYPE_INT,
                      "output 'total' must be int, got string");
  ASSERT_C_FAILS_WITH("set_string", WEFT_TYPE_STRING, "(ok)");
  ASSERT_C_FAILS_WITH("set_undeclared", WEFT_TYPE_INT,
                      "output 'nope' is not declared by the op");
  ASSERT_C_FAILS_WITH("nothing", WEFT_TYPE_INT,
                      "declared output 'total' was not written");
  ASSERT_C_FAILS_WITH("ghost", WEFT_TYPE_INT, "C function 'ghost' is not registered");
  ASSERT_C_FAILS_WITH("set_string", WEFT_TYPE_ANY, "(ok)");
  /* The untyped lone `result` may stay unset (it is then null). */
  char *m = c_failure("nothing", "result", WEFT_TYPE_ANY);
  ASSERT_STR_EQ(m, "(ok)");
  free(m);
  m = c_failure("nothing", "result", WEFT_TYPE_DICT);
  ASSERT_STR_EQ(m, "declared output 'result' was not written");
  free(m);
  ASSERT_EQ(weft_register_c_op(NULL, op_nothing, NULL), WEFT_EINVALID);
  ASSERT_EQ(weft_register_c_op("x", NULL, NULL), WEFT_EINVALID);
  return 0;
}

TEST(c_op_path_output_is_copied_in) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  int calls = 0;
  ASSERT_EQ(register_ops(&calls, f.dir), 0);
  struct weft_port outs[] = {{.name = "model", .type = WEFT_TYPE_PATH}};
  struct weft_op_def def = c_op("path_output", outs, 1);
  struct weft_step_result r;
  ASSERT_EQ(run_in_process(&f, &def, &r), 0);
  ASSERT_EQ(r.ok, 1);
  char *want = weft_fs_join(f.work, "outputs/model");
  ASSERT_STR_EQ(json_string_value(json_object_get(r.outputs, "model")), want);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(want, &b, NULL), WEFT_OK);
  ASSERT_STR_EQ(b.ptr, "made");
  weft_buf_release(&b);
  free(want);
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

/* Config and inputs in memory, outputs in memory: no folder is made, so a
 * no-op step costs no file system work (a queue worker's hot path). */
TEST(c_op_without_path_ports_makes_no_folder) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  int calls = 0;
  ASSERT_EQ(register_ops(&calls, f.dir), 0);
  ASSERT_EQ(weft_fs_remove_tree(f.work, NULL), WEFT_OK);
  struct weft_port outs[] = {{.name = "total", .type = WEFT_TYPE_INT}};
  struct weft_port ins[] = {{.name = "x", .type = WEFT_TYPE_INT}};
  struct weft_op_def def = c_op("add", outs, 1);
  def.inputs = ins;
  def.n_inputs = 1;
  struct weft_step_result r;
  ASSERT_EQ(run_in_process(&f, &def, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "total")), 15);
  ASSERT(!weft_fs_exists(f.work));
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

TEST(in_process_runs_one_step_at_a_time) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  int calls = 0;
  ASSERT_EQ(register_ops(&calls, f.dir), 0);
  struct weft_executor *x = new_executor(&f, "in_process");
  ASSERT_STR_EQ(weft_executor_name(x), "in_process");
  struct weft_op_def proc;
  memset(&proc, 0, sizeof proc);
  proc.name = "sleeper";
  proc.run = "echo 3 > \"$WEFT_OUTPUTS/n\"; sleep 0.2";
  struct weft_port outs[] = {{.name = "n", .type = WEFT_TYPE_INT}};
  proc.outputs = outs;
  proc.n_outputs = 1;
  struct weft_step_spec spec = spec_for(&f, &proc);
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_executor_start(x, &spec, &err), WEFT_OK);
  ASSERT(f.started_pid > 0);
  ASSERT_EQ(weft_executor_can_start_more(x), 0);
  ASSERT_EQ(weft_executor_start(x, &spec, &err), WEFT_ECONFLICT);
  struct weft_step_result r;
  ASSERT_EQ(weft_executor_wait(x, -1, &r, &err), 1);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "n")), 3);
  weft_step_result_release(&r);
  ASSERT_EQ(weft_executor_can_start_more(x), 1);
  /* A C op canceled before wait() runs it never runs. */
  struct weft_port tout[] = {{.name = "total", .type = WEFT_TYPE_INT}};
  struct weft_op_def add = c_op("add", tout, 1);
  spec = spec_for(&f, &add);
  spec.user = &calls;
  ASSERT_EQ(weft_executor_start(x, &spec, &err), WEFT_OK);
  ASSERT_EQ(weft_executor_running_count(x), 1);
  ASSERT_EQ(weft_executor_cancel_one(x, &calls, "stop"), WEFT_OK);
  ASSERT_EQ(weft_executor_wait(x, -1, &r, &err), 1);
  ASSERT(r.user == &calls);
  ASSERT_EQ(r.canceled, 1);
  ASSERT_STR_EQ(r.message, "canceled: stop");
  ASSERT_EQ(calls, 0);
  weft_step_result_release(&r);
  ASSERT_EQ(weft_executor_wait(x, -1, &r, &err), WEFT_ENOTFOUND);
  weft_executor_free(x);
  fixture_release(&f);
  return 0;
}

/* ---- SDKs ---- */

static int have_python3(void) {
  return system("python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' "
                ">/dev/null 2>&1") == 0;
}

TEST(python_sdk_round_trip) {
  if (!have_python3()) {
    printf("# python3 (3.8+) not found: python SDK not exercised\n");
    return 0;
  }
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  char *script = weft_fs_join(f.dir, "op.py");
  const char *py =
      "from weft_op import config, inputs, output, output_path, log, materialize\n"
      "cfg = config()\n"
      "ins = inputs()\n"
      "log('starting')\n"
      "log('odd', level='warning')\n"
      "materialize('orders', rows=3, ok=True)\n"
      "output('total', cfg['base'] + ins['x'])\n"
      "output('echo', {'keys': sorted(ins)})\n"
      "with open(ins['data'], 'rb') as src, open(output_path('blob'), 'wb') as dst:\n"
      "    dst.write(src.read().upper())\n";
  ASSERT_EQ(weft_fs_write_atomic(script, py, strlen(py), 0, NULL), WEFT_OK);
  char *inputs = weft_fs_join(f.work, "inputs");
  char *data = weft_fs_join(inputs, "data");
  ASSERT_EQ(weft_fs_mkdirs(inputs, NULL), WEFT_OK);
  ASSERT_EQ(weft_fs_write_atomic(data, "raw bytes", 9, 0, NULL), WEFT_OK);
  char pythonpath[PATH_MAX];
  snprintf(pythonpath, sizeof pythonpath, "%s/sdk/python", WEFT_SOURCE_DIR);
  struct weft_kv env[] = {{"PYTHONPATH", pythonpath}};
  char *argv[] = {"python3", "op.py", NULL};
  struct weft_port ins[] = {{.name = "x", .type = WEFT_TYPE_INT},
                            {.name = "data", .type = WEFT_TYPE_PATH}};
  struct weft_port outs[] = {{.name = "total", .type = WEFT_TYPE_INT},
                             {.name = "echo", .type = WEFT_TYPE_DICT},
                             {.name = "blob", .type = WEFT_TYPE_PATH}};
  struct weft_op_def def;
  memset(&def, 0, sizeof def);
  def.name = "py";
  def.argv = argv;
  def.env.v = env;
  def.env.n = 1;
  def.inputs = ins;
  def.n_inputs = 2;
  def.outputs = outs;
  def.n_outputs = 3;
  struct weft_step_result r;
  ASSERT_EQ(run_in_process(&f, &def, &r), 0);
  if (!r.ok) {
    struct weft_buf b = WEFT_BUF_INIT;
    char *log = weft_fs_join(f.work, "stderr.log");
    weft_fs_read_file(log, &b, NULL);
    fprintf(stderr, "# %s\n# stderr: %s\n", r.message, b.ptr);
    weft_buf_release(&b);
    free(log);
  }
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "total")), 15);
  char *echo = json_dumps(json_object_get(r.outputs, "echo"), JSON_COMPACT);
  ASSERT_STR_EQ(echo, "{\"keys\":[\"data\",\"x\"]}");
  free(echo);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(json_string_value(json_object_get(r.outputs, "blob")),
                              &b, NULL),
            WEFT_OK);
  ASSERT_STR_EQ(b.ptr, "RAW BYTES");
  weft_buf_release(&b);
  ASSERT_STR_EQ(f.events.ptr,
                "{\"level\":\"info\",\"msg\":\"starting\",\"type\":\"log\"}\n"
                "{\"level\":\"warning\",\"msg\":\"odd\",\"type\":\"log\"}\n"
                "{\"asset\":\"orders\",\"metadata\":{\"ok\":true,\"rows\":3},"
                "\"type\":\"materialization\"}\n");
  weft_step_result_release(&r);
  free(script);
  free(inputs);
  free(data);
  fixture_release(&f);
  return 0;
}

TEST(python_sdk_outside_weft_says_so) {
  if (!have_python3()) {
    printf("# python3 (3.8+) not found: python SDK not exercised\n");
    return 0;
  }
  char cmd[PATH_MAX + 256];
  snprintf(cmd, sizeof cmd,
           "env -u WEFT_CONFIG PYTHONPATH='%s/sdk/python' python3 -c "
           "'from weft_op import config; config()' 2>&1 | "
           "grep -q 'WEFT_CONFIG is not set: this script must be run by weft'",
           WEFT_SOURCE_DIR);
  ASSERT_EQ(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "python3 '%s/sdk/python/weft_op.py' 2>/dev/null",
           WEFT_SOURCE_DIR);
  int st = system(cmd);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
  return 0;
}

/* The body of the C SDK op: this test binary run with --sdk-op. */
static int sdk_op_main(void) {
  char *cfg = weft_op_config();
  char *x = weft_op_input("x", NULL);
  size_t len = 0;
  char *data = weft_op_input("data", &len);
  if (!cfg || !x || !data) return 10;
  json_t *c = json_loads(cfg, 0, NULL), *xv = json_loads(x, JSON_DECODE_ANY, NULL);
  char total[32];
  snprintf(total, sizeof total, "%lld",
           json_integer_value(json_object_get(c, "base")) + json_integer_value(xv));
  json_decref(c);
  json_decref(xv);
  int rc = weft_op_log("info", "say \"hi\"\n\ttab") ||
           weft_op_materialize("cube", "{\"cells\":8}") ||
           weft_op_output("total", total) ||
           weft_op_output_bytes("blob", data, len) ||
           weft_op_event("{\"type\":\"output\",\"name\":\"via_event\",\"value\":[1]}");
  free(cfg);
  free(x);
  free(data);
  return rc ? 11 : 0;
}

static char self_exe[PATH_MAX];

TEST(c_sdk_round_trip) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  char *inputs = weft_fs_join(f.work, "inputs");
  char *data = weft_fs_join(inputs, "data");
  ASSERT_EQ(weft_fs_mkdirs(inputs, NULL), WEFT_OK);
  ASSERT_EQ(weft_fs_write_atomic(data, "a\0b", 3, 0, NULL), WEFT_OK);
  char *argv[] = {self_exe, "--sdk-op", NULL};
  struct weft_port ins[] = {{.name = "x", .type = WEFT_TYPE_INT},
                            {.name = "data", .type = WEFT_TYPE_PATH}};
  struct weft_port outs[] = {{.name = "total", .type = WEFT_TYPE_INT},
                             {.name = "blob", .type = WEFT_TYPE_PATH},
                             {.name = "via_event", .type = WEFT_TYPE_LIST}};
  struct weft_op_def def;
  memset(&def, 0, sizeof def);
  def.name = "csdk";
  def.argv = argv;
  def.inputs = ins;
  def.n_inputs = 2;
  def.outputs = outs;
  def.n_outputs = 3;
  struct weft_step_result r;
  ASSERT_EQ(run_in_process(&f, &def, &r), 0);
  if (!r.ok) fprintf(stderr, "# %s\n", r.message);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(json_integer_value(json_object_get(r.outputs, "total")), 15);
  ASSERT_EQ(json_array_size(json_object_get(r.outputs, "via_event")), 1);
  struct weft_buf b = WEFT_BUF_INIT;
  ASSERT_EQ(weft_fs_read_file(json_string_value(json_object_get(r.outputs, "blob")),
                              &b, NULL),
            WEFT_OK);
  ASSERT_EQ(b.len, 3);
  ASSERT(!memcmp(b.ptr, "a\0b", 3));
  weft_buf_release(&b);
  ASSERT_STR_EQ(f.events.ptr,
                "{\"level\":\"info\",\"msg\":\"say \\\"hi\\\"\\n\\ttab\",\"type\":\"log\"}\n"
                "{\"asset\":\"cube\",\"metadata\":{\"cells\":8},\"type\":\"materialization\"}\n"
                "{\"name\":\"via_event\",\"type\":\"output\",\"value\":[1]}\n");
  weft_step_result_release(&r);
  /* Outside weft the helpers fail with EINVAL instead of crashing. */
  unsetenv("WEFT_CONFIG");
  unsetenv("WEFT_EVENTS");
  errno = 0;
  ASSERT(weft_op_config() == NULL && errno == EINVAL);
  ASSERT_EQ(weft_op_log("info", "x"), -1);
  ASSERT_EQ(errno, EINVAL);
  free(inputs);
  free(data);
  fixture_release(&f);
  return 0;
}

/* ---- outputs stored on the pool's thread ---- */

struct stored_seen {
  pthread_t thread;
  char key[128], text[64];
  int calls;
  int fail; /* answer an error */
};

static int store_put(void *ctx, const char *key, const char *text, size_t len,
                     weft_error *err) {
  struct stored_seen *s = ctx;
  s->thread = pthread_self();
  s->calls++;
  snprintf(s->key, sizeof s->key, "%s", key);
  snprintf(s->text, sizeof s->text, "%.*s", (int)len, text);
  return s->fail ? weft_error_set(err, WEFT_EIO, "disk full") : WEFT_OK;
}

/* One C step through a pool with an output store: the outputs are stored
 * on the pool's thread, once each, under key_prefix + name, and the result
 * says so; a store that fails says why; without a pool nothing is stored
 * (the caller does it). */
static int pooled_step(struct fixture *f, struct stored_seen *seen, int pooled,
                       struct weft_step_result *r) {
  struct weft_c_pool *pool = NULL;
  struct weft_executor *x = new_executor(f, "in_process");
  weft_error err = WEFT_ERROR_INIT;
  if (!x || (pooled && (weft_c_pool_new(1, &pool, &err) ||
                        weft_executor_use_c_pool(x, pool, f))))
    return -1;
  static struct weft_port outs[] = {{.name = "total", .type = WEFT_TYPE_STRING}};
  struct weft_op_def def = c_op("set_string", outs, 1);
  struct weft_step_spec spec = spec_for(f, &def);
  struct weft_output_store store = {store_put, seen, "run-7/adder/"};
  spec.output_store = &store;
  int rc = weft_executor_start(x, &spec, &err);
  int got = 0;
  for (int i = 0; !rc && i < 2000 && got == 0; i++) got = weft_executor_wait(x, 5, r, &err);
  weft_executor_free(x);
  weft_c_pool_free(pool);
  return !rc && got == 1 ? 0 : -1;
}

TEST(c_op_outputs_are_stored_on_the_pool_thread) {
  struct fixture f;
  ASSERT_EQ(fixture_init(&f), 0);
  int calls = 0;
  ASSERT_EQ(register_ops(&calls, f.dir), 0);
  struct stored_seen seen = {0};
  struct weft_step_result r = {0};
  ASSERT_EQ(pooled_step(&f, &seen, 1, &r), 0);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(seen.calls, 1);
  ASSERT(!pthread_equal(seen.thread, pthread_self()));
  ASSERT_STR_EQ(seen.key, "run-7/adder/total");
  ASSERT_STR_EQ(seen.text, "\"many\"");
  ASSERT(r.stored != NULL);
  ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r.stored, "total"), "bytes")), 6);
  weft_step_result_release(&r);
  /* A store that fails: the result carries its message for the caller. */
  seen = (struct stored_seen){.fail = 1};
  ASSERT_EQ(pooled_step(&f, &seen, 1, &r), 0);
  ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.stored, "total"), "error")),
                "disk full");
  weft_step_result_release(&r);
  /* Inline (no pool): the caller stores them. */
  seen = (struct stored_seen){0};
  ASSERT_EQ(pooled_step(&f, &seen, 0, &r), 0);
  ASSERT_EQ(r.ok, 1);
  ASSERT_EQ(seen.calls, 0);
  ASSERT(r.stored == NULL);
  weft_step_result_release(&r);
  fixture_release(&f);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--sdk-op")) return sdk_op_main();
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0) return 1;
  self_exe[n] = 0;
  static const struct test_entry tests[] = {
      TEST_ENTRY(c_op_success_with_outputs_and_logs)
      TEST_ENTRY(c_op_failures)
      TEST_ENTRY(c_op_path_output_is_copied_in)
      TEST_ENTRY(c_op_without_path_ports_makes_no_folder)
      TEST_ENTRY(in_process_runs_one_step_at_a_time)
      TEST_ENTRY(c_op_outputs_are_stored_on_the_pool_thread)
      TEST_ENTRY(python_sdk_round_trip)
      TEST_ENTRY(python_sdk_outside_weft_says_so)
      TEST_ENTRY(c_sdk_round_trip)};
  return test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);
}
