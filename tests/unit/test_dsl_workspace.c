/* test_dsl_workspace.c: workspace.yaml loading, workspaces from paths, and job
 * lookup by "JOB" and "LOCATION:JOB" with ambiguity and did-you-mean. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "test_dsl_fixture.h"

static int write_locations(void) {
  if (fx_write("ws/locs/alpha/ops/o.yaml", "seed: {run: echo 1}\n") ||
      fx_write("ws/locs/alpha/jobs/shared.yaml", "graph: {s: seed}\n") ||
      fx_write("ws/locs/alpha/jobs/only_alpha.yaml", "graph: {s: seed}\n") ||
      fx_write("ws/beta/ops/o.yaml", "seed: {run: echo 2}\n") ||
      fx_write("ws/beta/jobs/shared.yaml", "graph: {s: seed}\n") ||
      fx_write("ws/beta/jobs/broken.yaml", "graph: {s: sed}\n"))
    return -1;
  return 0;
}

TEST(workspace_file) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(write_locations(), 0);
  ASSERT_EQ(fx_write("ws/workspace.yaml",
                     "locations:\n"
                     "  - locs/alpha\n"
                     "  - {name: b, path: beta}\n"
                     "  - {name: again, path: missing}\n"
                     "  - {name: b, path: locs/alpha}\n"
                     "  - {nme: x, path: beta}\n"
                     "  - [1]\n"
                     "  - {name: \"bad:name\", path: beta}\n"
                     "  - workspace.yaml\n"
                     "extra: 1\n"),
            WEFT_OK);
  struct weft_workspace *ws = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_workspace_load_file("ws/workspace.yaml", &ws, &err), WEFT_OK);
  struct weft_diags *d = &ws->diags;
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:4:25: error: code location path 'missing' does not exist (looked for ws/missing)");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:5:12: error: duplicate code location name 'b' (first at line 3, column 12)");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:6:6: error: unknown key 'nme' in a workspace location (did you mean 'name'?)");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:7:5: error: a workspace location must be a path or a mapping with 'name' and 'path', got a list");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:8:12: error: invalid code location name 'bad:name' (use letters, digits, '_' and '-', starting with a letter or '_')");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:9:5: error: code location path 'workspace.yaml' is not a folder (looked for ws/workspace.yaml)");
  ASSERT_DIAG(
      d,
      "ws/workspace.yaml:10:1: error: unknown key 'extra' in the workspace file (known keys: locations)");
  ASSERT_EQ(d->n, 7);
  /* alpha, b, and beta (the `nme` entry still names its folder) */
  ASSERT_EQ(ws->n_locations, 3);
  ASSERT_STR_EQ(ws->locations[0]->name, "alpha");
  ASSERT_STR_EQ(ws->locations[1]->name, "b");
  ASSERT_STR_EQ(ws->locations[2]->name, "beta");
  ASSERT_STR_EQ(ws->locations[0]->files[0], "ws/locs/alpha/ops/o.yaml");
  /* b's broken job: 7 workspace errors + 1 in b + 1 in beta */
  ASSERT_EQ(weft_workspace_error_count(ws), 9);
  ASSERT_DIAG(
      &ws->locations[1]->diags,
      "ws/beta/jobs/broken.yaml:1:12: error: op 's' uses unknown op definition 'sed' (did you mean 'seed'?)");

  weft_error err2 = WEFT_ERROR_INIT;
  const struct weft_job *job = weft_workspace_find_job(ws, "only_alpha", &err2);
  ASSERT(job && job->location == ws->locations[0]);
  job = weft_workspace_find_job(ws, "b:shared", &err2);
  ASSERT(job && job->location == ws->locations[1]);
  ASSERT(weft_workspace_find_job(ws, "shared", &err2) == NULL);
  ASSERT_EQ(err2.code, WEFT_ECONFLICT);
  ASSERT_STR_EQ(
      err2.msg,
      "job name 'shared' is ambiguous: it is in 3 code locations; name one of alpha:shared, b:shared, beta:shared");
  ASSERT(weft_workspace_find_job(ws, "only_alpah", &err2) == NULL);
  ASSERT_EQ(err2.code, WEFT_ENOTFOUND);
  ASSERT_STR_EQ(
      err2.msg,
      "no job 'only_alpah' in the workspace (did you mean 'only_alpha'?)");
  ASSERT(weft_workspace_find_job(ws, "alhpa:shared", &err2) == NULL);
  ASSERT_STR_EQ(
      err2.msg,
      "no code location 'alhpa' in the workspace (did you mean 'alpha'?)");
  ASSERT(weft_workspace_find_job(ws, "b:only_alpha", &err2) == NULL);
  ASSERT_STR_EQ(err2.msg, "no job 'only_alpha' in code location 'b'");
  ASSERT(weft_workspace_find_job(ws, "b:brokn", &err2) == NULL);
  ASSERT_STR_EQ(err2.msg,
                "no job 'brokn' in code location 'b' (did you mean 'broken'?)");
  job = weft_workspace_find_job(ws, "b:broken", &err2);
  ASSERT(job && !job->valid); /* found, and flagged invalid for the caller */
  weft_workspace_free(ws);

  ASSERT_EQ(weft_workspace_load_file("ws/nope.yaml", &ws, &err),
            WEFT_ENOTFOUND);
  ASSERT(ws == NULL);
  ASSERT_EQ(fx_write("ws/bad.yaml", "locations: [\n"), WEFT_OK);
  ASSERT_EQ(weft_workspace_load_file("ws/bad.yaml", &ws, &err), WEFT_OK);
  ASSERT_EQ(ws->n_locations, 0);
  ASSERT_CONTAINS(ws->diags.v[0].msg, "YAML syntax error");
  weft_workspace_free(ws);
  ASSERT_EQ(fx_write("ws/empty.yaml", ""), WEFT_OK);
  ASSERT_EQ(weft_workspace_load_file("ws/empty.yaml", &ws, &err), WEFT_OK);
  ASSERT_DIAG(
      &ws->diags,
      "ws/empty.yaml: error: workspace file is empty: list code locations under 'locations:'");
  weft_workspace_free(ws);
  fx_leave_tmp(dir);
  return 0;
}

TEST(workspace_from_paths) {
  const char *dir = fx_enter_tmp();
  ASSERT(dir);
  ASSERT_EQ(write_locations(), 0);
  ASSERT_EQ(fx_write("other/beta/jobs/x.yaml", "graph: {}\n"), WEFT_OK);
  const char *paths[] = {"ws/locs/alpha", "ws/beta/", "other/beta"};
  struct weft_workspace *ws = NULL;
  weft_error err = WEFT_ERROR_INIT;
  ASSERT_EQ(weft_workspace_from_paths(paths, 3, &ws, &err), WEFT_OK);
  ASSERT_EQ(ws->n_locations, 3);
  ASSERT_STR_EQ(ws->locations[1]->name, "beta");
  ASSERT_DIAG(
      &ws->diags,
      "other/beta: error: duplicate code location name 'beta' (also the name of ws/beta/); name them in a workspace.yaml");
  ASSERT_EQ(weft_workspace_error_count(ws),
            3); /* + broken.yaml, + empty graph */
  ASSERT(weft_workspace_find_job(ws, "alpha:only_alpha", &err));
  weft_workspace_free(ws);
  const char *missing[] = {"ws/locs/alpha", "nowhere"};
  ASSERT_EQ(weft_workspace_from_paths(missing, 2, &ws, &err), WEFT_ENOTFOUND);
  ASSERT(ws == NULL);
  ASSERT_STR_EQ(err.msg, "code location 'nowhere' is not a folder");
  fx_leave_tmp(dir);
  return 0;
}

TEST_MAIN(TEST_ENTRY(workspace_file) TEST_ENTRY(workspace_from_paths))
