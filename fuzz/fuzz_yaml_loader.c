/* fuzz_yaml_loader.c: libFuzzer harness for the YAML DSL: an ops file, a job
 * file, a run config and --set overrides from one input, all in memory. */

/* Input layout: parts separated by a NUL byte: OPS \0 JOB \0 RUNCONFIG \0 SETS,
 * SETS being newline-separated overrides; with no NUL the whole input is
 * used as every part, so plain YAML seeds exercise everything. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *part[4];
  size_t len[4], n = 0;
  const char *p = (const char *)data, *end = p + size;
  while (n < 4) {
    const char *nul = memchr(p, 0, (size_t)(end - p));
    part[n] = p;
    len[n] = nul ? (size_t)(nul - p) : (size_t)(end - p);
    n++;
    if (!nul) break;
    p = nul + 1;
  }
  if (n == 1) {
    for (size_t i = 1; i < 3; i++) part[i] = part[0], len[i] = len[0];
    n = 3;
  }
  for (size_t i = n; i < 4; i++) part[i] = "", len[i] = 0;

  struct weft_dsl_source src[] = {
      {WEFT_DSL_SOURCE_OPS, "ops/fuzz.yaml", part[0], len[0]},
      {WEFT_DSL_SOURCE_JOB, "jobs/fuzz.yaml", part[1], len[1]},
  };
  struct weft_location *loc = NULL;
  if (weft_dsl_load_sources("fuzz", NULL, src, 2, &loc, NULL)) return 0;

  /* overrides: NUL-terminated copies of the lines of the last part */
  char *sets_buf = strndup(part[3], len[3]);
  const char *sets[MAX_SETS];
  size_t n_sets = 0;
  for (char *s = sets_buf; s && *s && n_sets < MAX_SETS;) {
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
    sets[n_sets++] = s;
    s = nl ? nl + 1 : NULL;
  }
  for (size_t j = 0; j < loc->n_jobs; j++) {
    const struct weft_job *job = &loc->jobs[j];
    struct weft_run_config rc;
    struct weft_diags diags = WEFT_DIAGS_INIT;
    if (weft_run_config_build(job, "run.yaml", part[2], len[2], sets, n_sets,
                              &rc, &diags) == WEFT_OK)
      weft_run_config_release(&rc);
    weft_diags_release(&diags);
    for (size_t i = 0; i < job->n_ops; i++)
      if (weft_job_find_invocation(job, job->ops[i].name) < 0) abort();
  }
  free(sets_buf);
  weft_location_free(loc);
  return 0;
}
