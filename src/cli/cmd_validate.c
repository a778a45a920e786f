/* cmd_validate.c: `weft validate`, and the workspace loading every command
 * that reads code locations shares (arguments, -w FILE or ./workspace.yaml). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/locreg.h"
#include "model/model.h"
#include "util/fs.h"

static const char validate_usage[] =
    "usage: weft validate [-w FILE] [LOCATION...]\n"
    "\n"
    "Loads every code location and reports each error as\n"
    "'file:line:col: error: message', then a summary line.\n"
    "\n"
    "Locations are the folders given as arguments, else those listed in the\n"
    "workspace file named by -w, else the instance's location registry when\n"
    "it has any ('weft location'), else those of ./workspace.yaml.\n"
    "\n"
    "options:\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 when everything is valid, 1 when there are errors,\n"
    "2 on a usage error.\n";

int weft_cli_flag_value(const char *cmd, int argc, char **argv, int *i,
                        const char *short_flag, const char *long_flag,
                        const char **value) {
  const char *arg = argv[*i];
  size_t long_len = strlen(long_flag);
  if (!strncmp(arg, long_flag, long_len) && arg[long_len] == '=') {
    *value = arg + long_len + 1;
    return 1;
  }
  if (strcmp(arg, long_flag) && (!short_flag || strcmp(arg, short_flag)))
    return 0;
  if (*i + 1 >= argc) {
    weft_cli_usage_error(cmd, "option '%s' needs a value", arg);
    return -1;
  }
  *i += 1;
  *value = argv[*i];
  return 1;
}

/* The workspace of the instance's location registry (engine/locreg.h), or
 * WEFT_ENOTFOUND when there is no instance or its registry is empty. An
 * absent $WEFT_HOME is not created: a bare `weft validate` must not leave
 * a .weft folder behind. */
static int registry_workspace(struct weft_workspace **out, weft_error *err) {
  const char *home = getenv("WEFT_HOME");
  if (!home || !*home) home = ".weft";
  if (!weft_fs_is_dir(home)) return WEFT_ENOTFOUND;
  struct weft_instance *inst = NULL;
  struct weft_locreg reg = {0};
  int rc = weft_instance_open(home, &inst, err);
  if (!rc) rc = weft_locreg_read(inst->store, &reg, err);
  if (!rc && !reg.n) rc = WEFT_ENOTFOUND;
  if (!rc) rc = weft_locreg_workspace(&reg, out, err);
  weft_locreg_release(&reg);
  weft_instance_close(inst);
  return rc;
}

int weft_cli_load_workspace(const char *cmd, const char *ws_file,
                            char *const *paths, size_t n_paths,
                            struct weft_workspace **out) {
  weft_error err = WEFT_ERROR_INIT;
  int rc;
  *out = NULL;
  if (ws_file && n_paths)
    return weft_cli_usage_error(
        cmd, "pass either -w FILE or location folders, not both");
  if (n_paths) {
    rc = weft_workspace_from_paths((const char *const *)paths, n_paths, out,
                                   &err);
  } else if (!ws_file && (rc = registry_workspace(out, &err)) != WEFT_ENOTFOUND) {
    /* the registry has locations: it replaces workspace.yaml */
  } else {
    const char *file = ws_file ? ws_file : "workspace.yaml";
    /* Without any hint the user most likely ran weft in the wrong folder;
     * that is a usage problem, not invalid input. */
    if (!ws_file && !weft_fs_exists(file))
      return weft_cli_usage_error(
          cmd, "no locations: pass a folder or create workspace.yaml");
    rc = weft_workspace_load_file(file, out, &err);
  }
  if (rc != WEFT_OK) {
    fprintf(stderr, "weft %s: %s\n", cmd,
            err.msg[0] ? err.msg : weft_strerror(rc));
    *out = NULL;
    return WEFT_EXIT_INVALID;
  }
  return WEFT_EXIT_OK;
}

/* Number of distinct files a sorted diagnostics list points into. */
static size_t count_files(const struct weft_diags *d, const char **last) {
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++) {
    const char *f = d->v[i].file ? d->v[i].file : "";
    if (!*last || strcmp(*last, f)) n++;
    *last = f;
  }
  return n;
}

static const char *plural(size_t n, const char *one, const char *many) {
  return n == 1 ? one : many;
}

int cmd_validate(int argc, char **argv) {
  const char *ws_file = NULL;
  char **paths = calloc((size_t)argc, sizeof *paths);
  size_t n_paths = 0;
  struct weft_workspace *ws = NULL;
  int exit_code = WEFT_EXIT_OK;
  int only_paths = 0;

  if (!paths) {
    fprintf(stderr, "weft validate: out of memory\n");
    return WEFT_EXIT_INVALID;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int m;
    if (only_paths || arg[0] != '-' || !strcmp(arg, "-")) {
      paths[n_paths++] = argv[i];
      continue;
    }
    if (!strcmp(arg, "--")) {
      only_paths = 1;
      continue;
    }
    if (weft_cli_is_help(arg)) {
      fputs(validate_usage, stdout);
      goto done;
    }
    m = weft_cli_flag_value("validate", argc, argv, &i, "-w", "--workspace",
                            &ws_file);
    if (m < 0) {
      exit_code = WEFT_EXIT_USAGE;
      goto done;
    }
    if (m == 0) {
      exit_code = weft_cli_usage_error("validate", "unknown option '%s'", arg);
      goto done;
    }
  }

  exit_code = weft_cli_load_workspace("validate", ws_file, paths, n_paths, &ws);
  if (exit_code != WEFT_EXIT_OK) goto done;

  size_t n_errors = weft_workspace_error_count(ws), n_files = 0;
  size_t n_jobs = 0, n_ops = 0;
  const char *last = NULL;
  weft_diags_sort(&ws->diags);
  weft_diags_print(&ws->diags, stderr);
  n_files += count_files(&ws->diags, &last);
  for (size_t l = 0; l < ws->n_locations; l++) {
    struct weft_location *loc = ws->locations[l];
    weft_diags_sort(&loc->diags);
    weft_diags_print(&loc->diags, stderr);
    n_files += count_files(&loc->diags, &last);
    n_jobs += loc->n_jobs;
    n_ops += loc->n_ops;
    for (size_t j = 0; j < loc->n_jobs; j++) n_ops += loc->jobs[j].n_inline_ops;
  }
  if (n_errors) {
    fprintf(stderr, "%zu %s in %zu %s\n", n_errors,
            plural(n_errors, "error", "errors"), n_files,
            plural(n_files, "file", "files"));
    exit_code = WEFT_EXIT_INVALID;
  } else {
    printf("ok: %zu %s, %zu %s, %zu %s\n", ws->n_locations,
           plural(ws->n_locations, "location", "locations"), n_jobs,
           plural(n_jobs, "job", "jobs"), n_ops, plural(n_ops, "op", "ops"));
  }

done:
  weft_workspace_free(ws);
  free(paths);
  return exit_code;
}
