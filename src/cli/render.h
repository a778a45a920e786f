/* render.h: the views of a job `weft job show` prints (text, JSON, dot),
 * and the YAML printing of JSON documents other commands share. */
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

/* A stable machine-readable document: {job, location, description, tags,
 * ops: [{name, uses, level, description, inputs: [{name, type, from}],
 * outputs: [{name, type}], config: [...], upstream, run|argv|c_function,
 * retries, timeout, queue, image}], edges: [{from, output, to, input}]}.
 * Returns a new reference (caller json_decref's it) or NULL when out of
 * memory. */
json_t *weft_render_job_json(const struct weft_job *job);

/* A Graphviz digraph: ops as boxes, one rank per level, an edge per wire
 * labelled with the output name unless it is `result`. */
int weft_render_job_dot(const struct weft_job *job, FILE *out);

/* Prints a JSON value as a block-style YAML document; strings that would
 * read back as another type are quoted. Returns WEFT_OK or WEFT_EIO. */
int weft_render_yaml(const json_t *value, FILE *out, weft_error *err);

/* ---- runs and events (render_event.c) ---- */

/* Local wall-clock time of day "HH:MM:SS.mmm" of ms since the epoch. */
void weft_render_time(int64_t ms, char *out, size_t len);
/* "12 ms", "3.45 s", "2m05s". */
void weft_render_duration(int64_t ms, char *out, size_t len);
/* One event as one line, "TIME [STEP] what happened", ending in '\n'. */
void weft_render_event_line(FILE *out, const struct weft_event_row *ev);

#endif
