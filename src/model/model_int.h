/* model_int.h: internals of src/model shared with src/dsl: releasing model
 * structs and building a location's private name index. */
#ifndef WEFT_MODEL_MODEL_INT_H
#define WEFT_MODEL_MODEL_INT_H

#include "model/model.h"

/* Free what the struct owns (not the struct itself) and zero it; each accepts
 * a partly filled struct, as a loader leaves it on an error path. */
void weft__kvs_release(struct weft_kvs *kv);
void weft__port_release(struct weft_port *p);
void weft__config_field_release(struct weft_config_field *f);
void weft__op_def_release(struct weft_op_def *def);
void weft__asset_def_release(struct weft_asset_def *a);
void weft__invocation_release(struct weft_invocation *inv);
void weft__job_release(struct weft_job *job);
void weft__partitions_release(struct weft_partitions *p);
void weft__schedule_release(struct weft_schedule *sc);
void weft__sensor_release(struct weft_sensor *se);

/* compose.c: flattens every invocation `uses: job:NAME` of loc's jobs into
 * prefixed steps (diagnostics into loc->diags). WEFT_OK or WEFT_ENOMEM. */
int weft__location_compose(struct weft_location *loc);

/* Builds loc->index (job, op and per-job invocation tables) from the final
 * loc->jobs and loc->ops arrays and sets every job's location pointer,
 * after composing its jobs (weft__location_compose: the jobs are all in).
 * Call again after changing those arrays. Returns WEFT_OK or WEFT_ENOMEM. */
int weft__location_index_build(struct weft_location *loc);

#endif
