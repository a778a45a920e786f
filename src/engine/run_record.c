/* run_record.c: what a process other than the run's coordinator does with a
 * recorded run: rebuild its run config, or fail it before it ever started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "util/clock.h"
#include "util/str.h"

int weft_run_config_from_row(const struct weft_job *job, const struct weft_run_row *run,
                             struct weft_run_config *out, struct weft_diags *diags) {
  char label[64];
  snprintf(label, sizeof label, "<run config of run %s>", run->id);
  const char *text = run->run_config ? run->run_config : "{}";
  return weft_run_config_build(job, label, text, strlen(text), NULL, 0, out, diags);
}

int weft_run_abandon(struct weft_instance *inst, const char *run_id, const char *message,
                     weft_error *err) {
  struct weft_run_row r = {0};
  int rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  /* Re-read inside the write transaction: the coordinator may have claimed
   * the run between the caller's look and now. */
  if ((rc = weft_store_run_get(inst->store, run_id, &r, err))) goto fail;
  if (r.status != WEFT_RUN_QUEUED) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", run_id,
                        weft_run_status_name(r.status));
    goto fail;
  }
  r.status = WEFT_RUN_FAILURE;
  r.ended_ms = weft_clock_wall_ms();
  free(r.message);
  if (!(r.message = weft_str_dup(message))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = weft_store_run_update(inst->store, &r, err))) goto fail;
  json_t *p = json_pack("{s:I, s:s, s:[]}", "duration_ms", (json_int_t)0, "message", message,
                        "failed");
  if ((rc = weft__engine_append_event(inst->store, run_id, NULL, "run_failure", p, err)))
    goto fail;
  weft_run_row_release(&r);
  return weft_store_commit(inst->store, err);
fail:
  weft_run_row_release(&r);
  weft_store_rollback(inst->store);
  return rc;
}
