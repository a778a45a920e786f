/* reexec.c: which steps a re-execution runs again, from the parent run's
 * stored step states; the rest reuse the parent's persisted outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "util/str.h"

/* Latest attempt's status of step `name` in the list, or -1 if it has none. */
static int latest_status(const struct weft_step_list *l, const char *name) {
  int st = -1, attempt = 0;
  for (size_t k = 0; k < l->n; k++)
    if (!strcmp(l->v[k].step, name) && l->v[k].attempt >= attempt) {
      attempt = l->v[k].attempt;
      st = (int)l->v[k].status;
    }
  return st;
}

int weft_reexec_select(struct weft_instance *inst, const char *parent_id,
                       const struct weft_job *job, int from_failure,
                       const char *const *steps, size_t n_steps, unsigned char *in_run,
                       weft_error *err) {
  memset(in_run, 0, job->n_ops);
  if (!from_failure) {
    if (!n_steps) return weft_error_set(err, WEFT_EUSAGE, "name the steps to re-execute");
    for (size_t s = 0; s < n_steps; s++) {
      long i = weft_job_find_invocation(job, steps[s]);
      if (i >= 0) {
        in_run[i] = 1;
        continue;
      }
      const char **names = calloc(job->n_ops + 1, sizeof *names);
      for (size_t k = 0; names && k < job->n_ops; k++) names[k] = job->ops[k].name;
      const char *hint = names ? weft_str_suggest(steps[s], names, job->n_ops) : NULL;
      weft_error_set(err, WEFT_EINVALID, "job '%s' has no step '%s'%s%s%s", job->name,
                     steps[s], hint ? " (did you mean '" : "", hint ? hint : "",
                     hint ? "'?)" : "");
      free(names);
      return WEFT_EINVALID;
    }
    return WEFT_OK;
  }
  struct weft_step_list l = {0};
  int rc = weft_store_step_list(inst->store, parent_id, &l, err);
  if (rc) return rc;
  size_t selected = 0;
  /* job->ops is topologically sorted, so one forward pass carries the
   * selection to every downstream. */
  for (size_t i = 0; i < job->n_ops; i++) {
    const struct weft_invocation *inv = &job->ops[i];
    int st = latest_status(&l, inv->name);
    int again = st != WEFT_STEP_SUCCEEDED;
    for (size_t u = 0; !again && u < inv->n_upstream; u++) again = in_run[inv->upstream[u]];
    in_run[i] = (unsigned char)again;
    selected += (size_t)again;
  }
  weft_step_list_release(&l);
  if (!selected)
    return weft_error_set(err, WEFT_EINVALID,
                          "every step of run %s succeeded: nothing to re-execute from "
                          "failure (use --steps to run some again)", parent_id);
  return WEFT_OK;
}
