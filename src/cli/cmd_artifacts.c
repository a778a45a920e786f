/* cmd_artifacts.c: `weft artifacts ls` and `weft artifacts get`: what a run
 * produced, read through the instance's artifact store (a folder or S3). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "store/store.h"
#include "util/str.h"

static const char artifacts_usage[] =
    "usage: weft artifacts ls RUN [STEP] [-l]\n"
    "       weft artifacts get RUN STEP OUTPUT [-o FILE]\n"
    "\n"
    "Lists the objects a run stored (its outputs, and compute logs when the\n"
    "store is S3), or writes one output to standard output or FILE. RUN may\n"
    "be a unique prefix of 4 or more characters. The store is the one the\n"
    "instance ($WEFT_HOME/weft.yaml) configures.\n"
    "\n"
    "options:\n"
    "  -l            also print each object's size in bytes\n"
    "  -o FILE       write the output to FILE (replaced atomically)\n"
    "  -h, --help    show this help\n";

struct art_args {
  const char *pos[3];
  int n_pos, sizes, help;
  const char *out;
};

static int parse(const char *cmd, int argc, char **argv, int max_pos, struct art_args *a) {
  for (int i = 1; i < argc; i++) {
    int r;
    if (weft_cli_is_help(argv[i])) {
      a->help = 1;
    } else if (!strcmp(argv[i], "-l")) {
      a->sizes = 1;
    } else if ((r = weft_cli_flag_value(cmd, argc, argv, &i, "-o", "--output", &a->out))) {
      if (r < 0) return WEFT_EXIT_USAGE;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return weft_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    } else if (a->n_pos < max_pos) {
      a->pos[a->n_pos++] = argv[i];
    } else {
      return weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
  }
  return WEFT_EXIT_OK;
}

static int fail(const char *cmd, const weft_error *err) {
  fprintf(stderr, "weft %s: %s\n", cmd, err->msg);
  return WEFT_EXIT_INVALID;
}

static int artifacts_ls(int argc, char **argv) {
  const char *cmd = "artifacts ls";
  struct art_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  struct weft_artifact_list l = {0};
  weft_error err = WEFT_ERROR_INIT;
  char *prefix = NULL;
  int rc = parse(cmd, argc, argv, 2, &a);
  if (rc || a.help) {
    if (a.help) fputs(artifacts_usage, stdout);
    return rc;
  }
  if (a.n_pos < 1) return weft_cli_usage_error(cmd, "which run? (weft artifacts ls RUN [STEP])");
  if (a.out) return weft_cli_usage_error(cmd, "-o is for 'weft artifacts get'");
  if (weft_instance_open(NULL, &inst, &err)) return fail(cmd, &err);
  if ((rc = weft_cli_resolve_run(cmd, inst, a.pos[0], &run))) goto done;
  prefix = a.n_pos > 1 ? weft_str_printf("%s/%s/", run.id, a.pos[1])
                       : weft_str_printf("%s/", run.id);
  rc = WEFT_EXIT_INVALID;
  if (!prefix) {
    weft_error_set(&err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if (weft_artifacts_list(inst->artifacts, prefix, &l, &err)) goto fail;
  for (size_t i = 0; i < l.n; i++) {
    if (a.sizes) {
      int exists = 0;
      int64_t size = 0;
      if (weft_artifacts_head(inst->artifacts, l.v[i], &exists, &size, &err)) goto fail;
      printf("%12lld  %s\n", (long long)size, l.v[i]);
    } else {
      printf("%s\n", l.v[i]);
    }
  }
  if (!l.n) fprintf(stderr, "no artifacts under %s\n", prefix);
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  rc = fail(cmd, &err);
done:
  weft_artifact_list_release(&l);
  free(prefix);
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}

/* Copies the file at path to stdout. */
static int cat_file(const char *path, weft_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return weft_error_set(err, WEFT_EIO, "%s: %s", path, strerror(errno));
  char buf[64 * 1024];
  ssize_t n;
  int rc = WEFT_OK;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) break;
  if (n < 0 || fflush(stdout))
    rc = weft_error_set(err, WEFT_EIO, "writing the output: %s", strerror(errno));
  close(fd);
  return rc;
}

static int artifacts_get(int argc, char **argv) {
  const char *cmd = "artifacts get";
  struct art_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  weft_error err = WEFT_ERROR_INIT;
  char *key = NULL, tmpdir[] = "/tmp/weft-get-XXXXXX", *tmp = NULL;
  int have_tmpdir = 0;
  int rc = parse(cmd, argc, argv, 3, &a);
  if (rc || a.help) {
    if (a.help) fputs(artifacts_usage, stdout);
    return rc;
  }
  if (a.n_pos < 3)
    return weft_cli_usage_error(cmd, "usage: weft artifacts get RUN STEP OUTPUT [-o FILE]");
  if (a.sizes) return weft_cli_usage_error(cmd, "-l is for 'weft artifacts ls'");
  if (weft_instance_open(NULL, &inst, &err)) return fail(cmd, &err);
  if ((rc = weft_cli_resolve_run(cmd, inst, a.pos[0], &run))) goto done;
  rc = WEFT_EXIT_INVALID;
  if (!(key = weft_str_printf("%s/%s/%s", run.id, a.pos[1], a.pos[2]))) {
    weft_error_set(&err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  /* A compute log of a running step exists only as chunks so far. */
  int (*get)(struct weft_artifacts *, const char *, const char *, weft_error *) =
      weft_str_has_suffix(key, ".log") ? weft_artifacts_read_log : weft_artifacts_get;
  if (a.out && strcmp(a.out, "-")) {
    if (get(inst->artifacts, key, a.out, &err)) goto fail;
  } else {
    /* the store writes files, not streams: through a private folder */
    if (!mkdtemp(tmpdir)) {
      weft_error_set(&err, WEFT_EIO, "mkdtemp: %s", strerror(errno));
      goto fail;
    }
    have_tmpdir = 1;
    if (!(tmp = weft_str_printf("%s/out", tmpdir))) {
      weft_error_set(&err, WEFT_ENOMEM, "out of memory");
      goto fail;
    }
    if (get(inst->artifacts, key, tmp, &err) || cat_file(tmp, &err)) goto fail;
  }
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  if (err.code == WEFT_ENOTFOUND)
    fprintf(stderr, "weft %s: run %s has no output %s of step %s (%s)\n", cmd, run.id,
            a.pos[2], a.pos[1], err.msg);
  else
    fail(cmd, &err);
  rc = WEFT_EXIT_INVALID;
done:
  if (tmp) unlink(tmp);
  if (have_tmpdir) rmdir(tmpdir);
  free(tmp);
  free(key);
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}

int cmd_artifacts(int argc, char **argv) {
  if (argc < 2 || weft_cli_is_help(argv[1])) {
    fputs(artifacts_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? WEFT_EXIT_USAGE : WEFT_EXIT_OK;
  }
  if (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list"))
    return artifacts_ls(argc - 1, argv + 1);
  if (!strcmp(argv[1], "get")) return artifacts_get(argc - 1, argv + 1);
  return weft_cli_usage_error("artifacts", "unknown subcommand '%s' (ls, get)", argv[1]);
}
