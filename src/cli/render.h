/* render.h: the views of a job `weft job show` prints (text, dot), and the
 * one-line views of runs and events the run commands share. */
#ifndef WEFT_CLI_RENDER_H
#define WEFT_CLI_RENDER_H

#include <jansson.h>
#include <stdio.h>

#include "model/model.h"
#include "store/store.h"

/* All renderers take a valid job (job->valid != 0: wires resolved, levels
 * set) and return WEFT_OK, WEFT_ENOMEM or WEFT_EIO (write failed). */

/* Human view: ops grouped by level in topological order, with their op
 * definition, inputs and their wiring, config schema and outputs. */
int weft_render_job_text(const struct weft_job *job, FILE *out);

/* The JSON view is weft_job_to_json (model.h), shared with the HTTP API. */

/* A Graphviz digraph: ops as boxes, one rank per level, an edge per wire
 * labelled with the output name unless it is `result`. */
int weft_render_job_dot(const struct weft_job *job, FILE *out);

/* YAML printing of JSON documents is weft_dsl_emit_yaml (dsl/dsl.h). */

/* ---- runs and events (render_event.c) ---- */

/* Local wall-clock time of day "HH:MM:SS.mmm" of ms since the epoch. */
void weft_render_time(int64_t ms, char *out, size_t len);
/* "12 ms", "3.45 s", "2m05s". */
void weft_render_duration(int64_t ms, char *out, size_t len);
/* One event as one line, "TIME [STEP] what happened", ending in '\n'. */
void weft_render_event_line(FILE *out, const struct weft_event_row *ev);

#endif
