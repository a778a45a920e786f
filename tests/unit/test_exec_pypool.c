/* test_exec_pypool.c: the warm Python pool's C side (exec/pypool.c) against
 * the real server (sdk/python/weft/_forkserver.py): which steps it takes,
 * spawn and status, a dead server, a server that cannot start, and
 * children reused for several steps (steps_per_child). */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec.h"
#include "exec/pypool.h"
#include "test.h"
#include "util/fs.h"

static const char *python(void) { return access("/usr/bin/python3", X_OK) ? "python3" : "/usr/bin/python3"; }

struct fixture {
  char dir[64];
  char *work;
};

static const char OPS[] =
    "import os\nfrom weft import op\n\n\n@op\ndef who() -> int:\n    return os.getppid()\n\n\n"
    "@op\ndef boom() -> int:\n    os._exit(7)\n\n\n"
    /* A reused child: its pid, how many steps this module ran in it (a
     * global: it persists), whether an earlier step's environment leaked. */
    "RAN = [0]\n\n\n@op\ndef again() -> str:\n    RAN[0] += 1\n"
    "    leak = os.environ.get('LEAKED', '-')\n    os.environ['LEAKED'] = 'yes'\n"
    "    print('step', RAN[0])\n"
    "    return '%d:%d:%s:%s' % (os.getpid(), RAN[0], leak, os.environ.get('WEFT_RUN_ID'))\n\n\n"
    "@op\ndef fails() -> str:\n    raise ValueError('no')\n\n\n"
    "@op\ndef hang() -> str:\n    import time\n    time.sleep(60)\n    return ''\n";

static int fixture_init(struct fixture *f) {
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "/tmp/weft-pypool-XXXXXX");
  if (!mkdtemp(f->dir)) return -1;
  f->work = weft_fs_join(f->dir, "work");
  char *ops = weft_fs_join(f->dir, "ops/p.py");
  int rc = weft_fs_mkdirs(f->work, NULL) || !ops;
  char *dir = weft_fs_join(f->dir, "ops");
  if (!rc) rc = weft_fs_mkdirs(dir, NULL) || weft_fs_write_atomic(ops, OPS, strlen(OPS), 0, NULL);
  free(dir);
  free(ops);
  /* The SDK from the source tree, as an instance's sdk/ would give it. */
  const char *src = getenv("WEFT_SRC");
  if (src) {
    char pp[4096];
    snprintf(pp, sizeof pp, "%s/sdk/python", src);
    setenv("PYTHONPATH", pp, 1);
  }
  return rc;
}

static void fixture_release(struct fixture *f) {
  weft_fs_remove_tree(f->dir, NULL);
  free(f->work);
}

static struct weft_step_spec spec_for(struct fixture *f, const struct weft_op_def *def) {
  struct weft_step_spec s;
  memset(&s, 0, sizeof s);
  s.run_id = "run-1";
  s.job = "job";
  s.step = "s";
  s.attempt = 1;
  s.def = def;
  s.cwd = f->dir;
  s.work_dir = f->work;
  s.config_json = "{}";
  s.inputs_json = "{}";
  s.kill_grace_s = 1;
  return s;
}

TEST(argv_recognized) {
  char *yes[] = {"python3", "-m", "weft", "run", "ops/a.py", "f", NULL};
  char *venv[] = {"/v/bin/python3.11", "-m", "weft", "run", "ops/a.py", "f", NULL};
  char *other[] = {"python3", "-m", "other", "run", "ops/a.py", "f", NULL};
  char *shortv[] = {"python3", "-m", "weft", "run", "ops/a.py", NULL};
  char *longer[] = {"python3", "-m", "weft", "run", "ops/a.py", "f", "x", NULL};
  char *notpy[] = {"perl", "-m", "weft", "run", "ops/a.py", "f", NULL};
  ASSERT(weft__pypool_is_python_argv(yes));
  ASSERT(weft__pypool_is_python_argv(venv));
  ASSERT(!weft__pypool_is_python_argv(other));
  ASSERT(!weft__pypool_is_python_argv(shortv));
  ASSERT(!weft__pypool_is_python_argv(longer));
  ASSERT(!weft__pypool_is_python_argv(notpy));
  ASSERT(!weft__pypool_is_python_argv(NULL));
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  struct weft_op_def def = {.name = "who", .argv = yes};
  struct weft_step_spec spec = spec_for(&f, &def);
  ASSERT(weft__pypool_eligible(&spec));
  def.isolated = 1;
  ASSERT(!weft__pypool_eligible(&spec));
  def.isolated = 0;
  struct weft_step_container ctr = {.image = "x", .url = "unix:///x"};
  spec.container = &ctr;
  ASSERT(!weft__pypool_eligible(&spec));
  fixture_release(&f);
  return 0;
}

/* Spawns one step through p; *srv_pid gets the server's pid. */
static int spawn_one(struct weft__pypool *p, struct fixture *f, const char *func, pid_t *pid,
                     struct weft__pyserver **srv, char **note) {
  char *argv[] = {(char *)python(), "-m", "weft", "run", "ops/p.py", (char *)func, NULL};
  struct weft_op_def def = {.name = (char *)func, .argv = argv};
  struct weft_step_spec spec = spec_for(f, &def);
  struct weft__work_paths paths;
  weft_error err = WEFT_ERROR_INIT;
  if (weft__work_prepare(&spec, &paths, &err)) return -1;
  int ev[2];
  if (pipe(ev)) return -1;
  int hi = fcntl(ev[1], F_DUPFD_CLOEXEC, 10);
  close(ev[1]);
  int done = -1;
  int rc = weft__pypool_spawn(p, &spec, &paths, hi, pid, srv, &done, note, &err);
  if (done >= 0) close(done);
  close(hi);
  close(ev[0]);
  weft__work_paths_release(&paths);
  return rc;
}

TEST(spawn_status_and_dead_server) {
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  struct weft__pypool *p = weft__pypool_new();
  ASSERT(p);
  pid_t pid = 0, pid2 = 0;
  struct weft__pyserver *srv = NULL;
  char *note = NULL;
  ASSERT_EQ(WEFT_OK, spawn_one(p, &f, "boom", &pid, &srv, &note));
  if (note) fprintf(stderr, "# note: %s\n", note);
  ASSERT(pid > 0 && srv && !note);
  pid_t server = weft__pypool_server_pid(p, python(), f.dir);
  ASSERT(server > 0);
  ASSERT_EQ(pid, getpgid(pid)); /* its own process group, already */
  int status = 0;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(WEFT_OK, weft__pypool_finish(p, srv, pid, -1, 0, &status, &err));
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  /* The same server takes the next step; killed meanwhile, it is missed. */
  ASSERT_EQ(WEFT_OK, spawn_one(p, &f, "who", &pid2, &srv, &note));
  ASSERT(pid2 > 0 && !note);
  ASSERT_EQ(server, weft__pypool_server_pid(p, python(), f.dir));
  kill(server, SIGKILL);
  ASSERT_EQ(WEFT_EIO, weft__pypool_finish(p, srv, pid2, -1, 0, &status, &err));
  ASSERT_CONTAINS(err.msg, "ended before it reported the exit");
  /* The next step starts a new server. */
  ASSERT_EQ(WEFT_OK, spawn_one(p, &f, "who", &pid, &srv, &note));
  ASSERT(pid > 0 && !note);
  pid_t server2 = weft__pypool_server_pid(p, python(), f.dir);
  ASSERT(server2 > 0 && server2 != server);
  ASSERT_EQ(WEFT_OK, weft__pypool_finish(p, srv, pid, -1, 0, &status, &err));
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  weft__pypool_free(p);
  ASSERT(kill(server2, 0) < 0); /* stopped and reaped */
  fixture_release(&f);
  return 0;
}

TEST(server_that_cannot_start_falls_back) {
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  struct weft__pypool *p = weft__pypool_new();
  ASSERT(p);
  char *argv[] = {"/nonexistent/python3", "-m", "weft", "run", "ops/p.py", "who", NULL};
  struct weft_op_def def = {.name = "who", .argv = argv};
  struct weft_step_spec spec = spec_for(&f, &def);
  struct weft__work_paths paths;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(WEFT_OK, weft__work_prepare(&spec, &paths, &err));
  pid_t pid = 1;
  struct weft__pyserver *srv = NULL;
  char *note = NULL;
  int done = -1;
  ASSERT_EQ(WEFT_OK, weft__pypool_spawn(p, &spec, &paths, 10, &pid, &srv, &done, &note, &err));
  ASSERT_EQ(-1, done);
  ASSERT(pid == 0 && !srv && note);
  ASSERT_CONTAINS(note, "exited with status 127");
  ASSERT_CONTAINS(note, "starting a fresh interpreter");
  free(note);
  weft__work_paths_release(&paths);
  weft__pypool_free(p);
  fixture_release(&f);
  return 0;
}

/* The parent pid a step of a new multiprocess executor (a run) reports:
 * its pool server's. */
static long run_who(struct fixture *f, int steps) {
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_executor_new("multiprocess", 2, NULL, &x, &err)) return -1;
  char *argv[] = {(char *)python(), "-m", "weft", "run", "ops/p.py", "who", NULL};
  struct weft_port out = {.name = "result", .type = WEFT_TYPE_INT};
  struct weft_op_def def = {.name = "who", .argv = argv, .outputs = &out, .n_outputs = 1};
  long parent = 0;
  for (int i = 0; i < steps; i++) {
    struct weft_step_spec spec = spec_for(f, &def);
    struct weft_step_result r;
    long got = -1;
    if (!weft_executor_start(x, &spec, &err) && weft_executor_wait(x, -1, &r, &err) == 1) {
      if (!r.ok) fprintf(stderr, "# %s\n", r.message);
      if (r.ok) got = (long)json_integer_value(json_object_get(r.outputs, "result"));
      weft_step_result_release(&r);
    }
    weft_fs_remove_tree(f->work, NULL);
    if (got <= 0 || (parent && got != parent)) parent = -1; /* one server a run */
    else parent = got;
  }
  weft_executor_free(x);
  return parent;
}

TEST(executor_runs_pooled_steps) {
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  /* Before the process's pool is made (it reads the limits once). */
  setenv("WEFT_PYPOOL_IDLE", "1", 1);
  long first = run_who(&f, 2);
  ASSERT(first > 0);
  ASSERT(first != (long)getpid());
  /* A second run (executor) of the process finds the server still warm. */
  long second = run_who(&f, 1);
  ASSERT_EQ(first, second);
  ASSERT(weft__pypool_server_pid(weft__pypool_shared(), python(), f.dir) == (pid_t)first);
  /* Unused for WEFT_PYPOOL_IDLE seconds, it ends; the next run starts
   * another and the old one is reaped. */
  sleep(3);
  long third = run_who(&f, 1);
  ASSERT(third > 0 && third != first);
  ASSERT(kill((pid_t)first, 0) < 0);
  fixture_release(&f);
  return 0;
}

/* One step of func on x; its `result` string (caller frees) or NULL, with
 * the result's message in *msg (caller frees). */
static char *run_step(struct weft_executor *x, struct fixture *f, const char *func,
                      const char *run_id, double timeout_s, int cancel, char **msg) {
  weft_error err = WEFT_ERROR_INIT;
  char *argv[] = {(char *)python(), "-m", "weft", "run", "ops/p.py", (char *)func, NULL};
  struct weft_port out = {.name = "result", .type = WEFT_TYPE_STRING};
  struct weft_op_def def = {.name = (char *)func, .argv = argv, .outputs = &out,
                            .n_outputs = 1, .timeout_s = timeout_s, .steps_per_child = 3};
  struct weft_step_spec spec = spec_for(f, &def);
  spec.run_id = run_id;
  struct weft_step_result r;
  char *got = NULL;
  *msg = NULL;
  if (weft_executor_start(x, &spec, &err)) {
    *msg = strdup(err.msg);
    return NULL;
  }
  if (cancel) {
    usleep(300 * 1000);
    weft_executor_cancel_all(x, "test");
  }
  if (weft_executor_wait(x, -1, &r, &err) == 1) {
    if (r.ok) got = strdup(json_string_value(json_object_get(r.outputs, "result")));
    if (r.message) *msg = strdup(r.message);
    weft_step_result_release(&r);
  }
  weft_fs_remove_tree(f->work, NULL);
  return got;
}

static long pid_of(const char *got) { return got ? strtol(got, NULL, 10) : -1; }

TEST(reuse_runs_steps_in_one_child) {
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(WEFT_OK, weft_executor_new("multiprocess", 1, NULL, &x, &err));
  char *msg = NULL, *got[4];
  char id[16];
  for (int i = 0; i < 4; i++) {
    snprintf(id, sizeof id, "run-%d", i);
    got[i] = run_step(x, &f, "again", id, 0, 0, &msg);
    if (!got[i]) fprintf(stderr, "# step %d: %s\n", i, msg ? msg : "?");
    ASSERT(got[i]);
    free(msg);
  }
  /* Steps 1-3 in one child (its global counts them), each with its own
   * environment; the 4th in a fresh child (steps_per_child: 3). */
  long pid = pid_of(got[0]);
  ASSERT(pid > 0);
  char want[64];
  for (int i = 0; i < 3; i++) {
    snprintf(want, sizeof want, "%ld:%d:-:run-%d", pid, i + 1, i);
    ASSERT_STR_EQ(want, got[i]);
  }
  ASSERT(pid_of(got[3]) > 0 && pid_of(got[3]) != pid);
  snprintf(want, sizeof want, "%ld:1:-:run-3", pid_of(got[3]));
  ASSERT_STR_EQ(want, got[3]);
  /* Recycled: the first child has exited and was reaped by its server. */
  for (int i = 0; i < 50 && kill((pid_t)pid, 0) == 0; i++) usleep(20 * 1000);
  ASSERT(kill((pid_t)pid, 0) < 0);
  for (int i = 0; i < 4; i++) free(got[i]);
  weft_executor_free(x);
  fixture_release(&f);
  return 0;
}

TEST(reuse_crash_timeout_cancel) {
  struct fixture f;
  ASSERT_EQ(0, fixture_init(&f));
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(WEFT_OK, weft_executor_new("multiprocess", 1, NULL, &x, &err));
  char *msg = NULL;
  char *a = run_step(x, &f, "again", "r", 0, 0, &msg);
  free(msg);
  ASSERT(a);
  /* An exception fails its step only: the child goes on to the next. */
  ASSERT(!run_step(x, &f, "fails", "r", 0, 0, &msg));
  ASSERT_CONTAINS(msg, "exited with status 1");
  free(msg);
  char *b = run_step(x, &f, "again", "r", 0, 0, &msg);
  free(msg);
  ASSERT(b && pid_of(b) == pid_of(a));
  /* A crash (os._exit) fails that step; the next gets a fresh child. */
  ASSERT(!run_step(x, &f, "boom", "r", 0, 0, &msg));
  ASSERT_CONTAINS(msg, "exited with status 7");
  free(msg);
  char *c = run_step(x, &f, "again", "r", 0, 0, &msg);
  free(msg);
  ASSERT(c && pid_of(c) != pid_of(a));
  ASSERT(kill((pid_t)pid_of(a), 0) < 0);
  /* Timeout and cancel kill the child; a fresh one takes the next step. */
  ASSERT(!run_step(x, &f, "hang", "r", 0.5, 0, &msg));
  ASSERT_CONTAINS(msg, "timed out");
  free(msg);
  char *d = run_step(x, &f, "again", "r", 0, 0, &msg);
  free(msg);
  ASSERT(d && pid_of(d) != pid_of(c));
  ASSERT(kill((pid_t)pid_of(c), 0) < 0);
  ASSERT(!run_step(x, &f, "hang", "r", 0, 1, &msg));
  ASSERT_CONTAINS(msg, "canceled");
  free(msg);
  char *e = run_step(x, &f, "again", "r", 0, 0, &msg);
  free(msg);
  ASSERT(e && pid_of(e) != pid_of(d));
  ASSERT(kill((pid_t)pid_of(d), 0) < 0);
  long epid = 0, ran = 0;
  ASSERT_EQ(2, sscanf(e, "%ld:%ld:", &epid, &ran));
  ASSERT_EQ(1, ran); /* a fresh child: the module's globals start again */
  free(a);
  free(b);
  free(c);
  free(d);
  free(e);
  weft_executor_free(x);
  fixture_release(&f);
  return 0;
}

TEST_MAIN(TEST_ENTRY(argv_recognized)
          TEST_ENTRY(spawn_status_and_dead_server)
          TEST_ENTRY(server_that_cannot_start_falls_back)
          TEST_ENTRY(executor_runs_pooled_steps)
          TEST_ENTRY(reuse_runs_steps_in_one_child)
          TEST_ENTRY(reuse_crash_timeout_cancel))
