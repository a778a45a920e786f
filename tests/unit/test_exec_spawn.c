/* test_exec_spawn.c: the set-up of a step that must die with its starter
 * (die_with_parent: clone(CLONE_VM|CLONE_VFORK), spawn.c), as a worker runs them. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec/exec.h"
#include "test.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/fs.h"

static char dir[64];

/* Each test runs in a process of its own (test.h), in a scratch folder. */
static int scratch(void) {
  snprintf(dir, sizeof dir, "/tmp/weft-spawn-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

/* The text of dir/name, "" when unreadable (caller frees). */
static char *read_in(const char *name) {
  char *path = weft_fs_join(dir, name);
  struct weft_buf b = WEFT_BUF_INIT;
  weft_fs_read_file(path, &b, NULL);
  weft_buf_addc(&b, '\0');
  free(path);
  return weft_buf_detach(&b, NULL);
}

static struct weft_op_def op(const char *run, char **argv) {
  struct weft_op_def def;
  memset(&def, 0, sizeof def);
  def.name = "op";
  def.run = (char *)run;
  def.argv = argv;
  return def;
}

/* Runs def to its end with die_with_parent set; the work folder is dir/work. */
static int run_dying(struct weft_op_def *def, struct weft_step_result *r) {
  struct weft_executor *x = NULL;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_executor_new("multiprocess", 1, NULL, &x, &err)) return -1;
  char *work = weft_fs_join(dir, "work");
  struct weft_step_spec s;
  memset(&s, 0, sizeof s);
  s.run_id = "run-1";
  s.job = "job";
  s.step = "step_x";
  s.attempt = 1;
  s.def = def;
  s.cwd = dir;
  s.work_dir = work;
  s.config_json = "{}";
  s.inputs_json = "{}";
  s.kill_grace_s = 1;
  s.die_with_parent = 1;
  int rc = weft_executor_start(x, &s, &err);
  if (rc) fprintf(stderr, "# start: %s\n", err.msg);
  else rc = weft_executor_wait(x, -1, r, &err) == 1 ? 0 : -1;
  weft_executor_free(x);
  free(work);
  return rc;
}

static void on_term(int sig) { (void)sig; }

/* Own group, signals back to default and unblocked, stdin empty, no fd of
 * ours but 3, cwd and the protocol variables: what posix_spawn gives the
 * other steps. */
TEST(setup_like_posix_spawn) {
  ASSERT_EQ(scratch(), 0);
  signal(SIGTERM, on_term);
  signal(SIGHUP, SIG_IGN);
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old);
  int leak = open("/dev/null", O_RDONLY);
  ASSERT(dup2(leak, 20) == 20);
  /* The mask first, with the shell's own read, before it forks anything:
   * dash blocks every signal around a fork and clears the mask after, so
   * a grep reading its parent's status could see all blocked (1 run in 128
   * under ASan), and any read after a fork sees dash's mask, not ours. */
  struct weft_op_def def = op(
      "while read -r k v; do case $k in SigBlk:|SigIgn:) printf '%s\\t%s\\n' $k $v;; esac;"
      " done </proc/$$/status\n"
      "if read line; then echo stdin=data; else echo stdin=eof; fi\n"
      "[ -e /proc/$$/fd/20 ] && echo fd20=leaked\n"
      "[ -w /proc/$$/fd/3 ] && echo fd3=open\n"
      "echo pgid=$(($(cut -d' ' -f5 /proc/$$/stat) == $$))\n"
      "echo op=$WEFT_OP cwd=$(pwd)\n"
      "echo to-stderr >&2",
      NULL);
  struct weft_step_result r;
  ASSERT_EQ(run_dying(&def, &r), 0);
  sigprocmask(SIG_SETMASK, &old, NULL);
  ASSERT_EQ(r.ok, 1);
  char *text = read_in("work/stdout.log");
  char want[512];
  snprintf(want, sizeof want,
           "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
           "stdin=eof\nfd3=open\npgid=1\nop=step_x cwd=%s\n", dir);
  ASSERT_STR_EQ(text, want);
  free(text);
  text = read_in("work/stderr.log");
  ASSERT_STR_EQ(text, "to-stderr\n");
  free(text);
  weft_fs_remove_tree(dir, NULL);
  weft_step_result_release(&r);
  return 0;
}

/* A program that cannot start: the errno comes back, nothing ran. */
TEST(exec_failure_reported) {
  ASSERT_EQ(scratch(), 0);
  char *argv[] = {"weft-no-such-command", NULL};
  struct weft_op_def def = op(NULL, argv);
  struct weft_step_result r;
  ASSERT_EQ(run_dying(&def, &r), 0);
  ASSERT_EQ(r.ok, 0);
  ASSERT_EQ(r.exit_code, 127);
  ASSERT_EQ(r.pid, 0);
  ASSERT_STR_EQ(r.message, "command not found: weft-no-such-command");
  weft_step_result_release(&r);
  char *notexec[] = {"/dev/null", NULL};
  def = op(NULL, notexec);
  ASSERT_EQ(run_dying(&def, &r), 0);
  ASSERT_EQ(r.exit_code, 126);
  ASSERT_EQ(r.pid, 0);
  weft_step_result_release(&r);
  weft_fs_remove_tree(dir, NULL);
  return 0;
}

/* The starter killed with -9: its step gets SIGKILL (PR_SET_PDEATHSIG). */
TEST(step_dies_with_its_starter) {
  ASSERT_EQ(scratch(), 0);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t starter = fork();
  ASSERT(starter >= 0);
  if (starter == 0) {
    struct weft_executor *x = NULL;
    struct weft_op_def def = op("sleep 30", NULL);
    struct weft_step_spec s;
    memset(&s, 0, sizeof s);
    s.run_id = "run-1";
    s.step = "sleeper";
    s.attempt = 1;
    s.def = &def;
    s.cwd = dir;
    s.work_dir = weft_fs_join(dir, "work-sleeper");
    s.die_with_parent = 1;
    if (weft_executor_new("multiprocess", 1, NULL, &x, NULL) ||
        weft_executor_start(x, &s, NULL))
      _exit(1);
    for (int i = 0; i < 300; i++) { /* until the step's pid is known */
      struct weft_step_result r;
      if (weft_executor_wait(x, 10, &r, NULL) != 0) _exit(1);
      char path[64];
      snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
      FILE *c = fopen(path, "r");
      long pid = 0;
      if (c && fscanf(c, "%ld", &pid) == 1 && pid > 0) {
        if (write(p[1], &pid, sizeof pid) != (ssize_t)sizeof pid) _exit(1);
        fclose(c);
        raise(SIGKILL);
      }
      if (c) fclose(c);
    }
    _exit(1);
  }
  close(p[1]);
  long step = 0;
  ASSERT_EQ(read(p[0], &step, sizeof step), (ssize_t)sizeof step);
  close(p[0]);
  int status = 0;
  ASSERT_EQ(waitpid(starter, &status, 0), starter);
  ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  int gone = 0;
  for (int i = 0; i < 300 && !gone; i++) {
    char path[64], st = 0;
    snprintf(path, sizeof path, "/proc/%ld/stat", step);
    FILE *fp = fopen(path, "r");
    gone = !fp || (fscanf(fp, "%*d (%*[^)]) %c", &st) == 1 && st == 'Z');
    if (fp) fclose(fp);
    if (!gone) weft_clock_sleep_ms(10);
  }
  ASSERT(gone);
  weft_fs_remove_tree(dir, NULL);
  return 0;
}

TEST_MAIN(TEST_ENTRY(setup_like_posix_spawn) TEST_ENTRY(exec_failure_reported)
          TEST_ENTRY(step_dies_with_its_starter))
