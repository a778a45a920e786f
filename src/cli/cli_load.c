/* cli_load.c: what several commands share to get from a command line to a
 * runnable job: the workspace, one valid job, and its checked run config. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "model/model.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

/* Prints the diagnostics that explain why job is invalid: those in its own
 * file, or every one of its location when none is (the fault is then in a
 * shared op definition). */
static void print_job_errors(const struct weft_job *job) {
  const struct weft_diags *all = &job->location->diags;
  size_t shown = 0;
  for (size_t i = 0; i < all->n; i++) {
    if (!all->v[i].file || !job->mark.file ||
        strcmp(all->v[i].file, job->mark.file))
      continue;
    /* A one-element view, so the format stays weft_diags_print's. */
    struct weft_diags one = {&all->v[i], 1, 1};
    weft_diags_print(&one, stderr);
    shown++;
  }
  if (!shown) weft_diags_print(all, stderr);
}

int weft_cli_find_job(const char *cmd, const char *ws_file, char *const *paths,
                      size_t n_paths, const char *name,
                      struct weft_workspace **ws_out,
                      const struct weft_job **job_out) {
  weft_error err = WEFT_ERROR_INIT;
  *job_out = NULL;
  int rc = weft_cli_load_workspace(cmd, ws_file, paths, n_paths, ws_out);
  if (rc != WEFT_EXIT_OK) return rc;
  if ((*ws_out)->diags.n) {
    weft_diags_print(&(*ws_out)->diags, stderr);
    return WEFT_EXIT_INVALID;
  }
  const struct weft_job *job = weft_workspace_find_job(*ws_out, name, &err);
  if (!job) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg[0] ? err.msg : "no such job");
    return WEFT_EXIT_INVALID;
  }
  if (!job->valid) {
    if (job->location) print_job_errors(job);
    fprintf(stderr, "weft %s: job '%s' has errors\n", cmd, job->name);
    return WEFT_EXIT_INVALID;
  }
  *job_out = job;
  return WEFT_EXIT_OK;
}

int weft_cli_build_run_config(const char *cmd, const struct weft_job *job,
                              const char *config_file, const char *const *sets,
                              size_t n_sets, struct weft_run_config *out) {
  struct weft_buf text = WEFT_BUF_INIT;
  struct weft_diags diags = WEFT_DIAGS_INIT;
  weft_error err = WEFT_ERROR_INIT;
  const char *file = NULL;
  int rc = WEFT_EXIT_OK;
  if (config_file) {
    int stdin_ = !strcmp(config_file, "-");
    file = stdin_ ? "<stdin>" : config_file;
    if (weft_fs_read_file(stdin_ ? "/dev/stdin" : config_file, &text, &err)) {
      fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
      rc = WEFT_EXIT_INVALID;
      goto done;
    }
  }
  int brc = weft_run_config_build(job, file, file ? text.ptr : NULL, text.len,
                                  sets, n_sets, out, &diags);
  if (brc != WEFT_OK) {
    weft_diags_sort(&diags);
    weft_diags_print(&diags, stderr);
    if (!diags.n)
      fprintf(stderr, "weft %s: %s\n", cmd, weft_strerror(brc));
    else
      fprintf(stderr, "%zu %s in the run config of job %s\n", diags.n,
              diags.n == 1 ? "error" : "errors", job->name);
    rc = WEFT_EXIT_INVALID;
  }
done:
  weft_diags_release(&diags);
  weft_buf_release(&text);
  return rc;
}

int weft_cli_resolve_run(const char *cmd, struct weft_instance *inst, const char *arg,
                         struct weft_run_row *out) {
  weft_error err = WEFT_ERROR_INIT;
  memset(out, 0, sizeof *out);
  int rc = weft_store_run_get(inst->store, arg, out, &err);
  if (rc == WEFT_OK) return WEFT_EXIT_OK;
  if (rc != WEFT_ENOTFOUND) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  if (strlen(arg) < 4) {
    fprintf(stderr, "weft %s: no run '%s' (give at least 4 characters of a run id)\n", cmd,
            arg);
    return WEFT_EXIT_INVALID;
  }
  /* A unique prefix, as git takes abbreviated object names. */
  struct weft_run_filter f = {0};
  struct weft_run_list runs = {0};
  f.limit = 1 << 30;
  if (weft_store_run_list(inst->store, &f, &runs, &err)) {
    fprintf(stderr, "weft %s: %s\n", cmd, err.msg);
    return WEFT_EXIT_INVALID;
  }
  size_t found = 0, at = 0;
  for (size_t i = 0; i < runs.n; i++)
    if (weft_str_has_prefix(runs.v[i].id, arg)) {
      if (!found) at = i;
      found++;
    }
  if (found == 1) {
    *out = runs.v[at];
    memset(&runs.v[at], 0, sizeof runs.v[at]);
  } else if (!found) {
    fprintf(stderr, "weft %s: no run '%s' (see 'weft run list')\n", cmd, arg);
  } else {
    fprintf(stderr, "weft %s: '%s' names %zu runs; give more characters\n", cmd, arg, found);
  }
  weft_run_list_release(&runs);
  return found == 1 ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
}
