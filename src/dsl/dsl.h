/* dsl.h: the YAML DSL's entry points beyond model.h: loading a code location
 * from in-memory texts (fuzzing, tests, embedding) instead of a folder. */
#ifndef WEFT_DSL_DSL_H
#define WEFT_DSL_DSL_H

#include <stddef.h>

#include "model/model.h"

enum weft_dsl_source_kind {
  WEFT_DSL_SOURCE_OPS, /* a file of ops/: op definitions */
  WEFT_DSL_SOURCE_JOB  /* a file of jobs/: one job */
};

/* One YAML text of a location. All fields are borrowed for the call. */
struct weft_dsl_source {
  enum weft_dsl_source_kind kind;
  const char *file; /* name used in marks and diagnostics, e.g. "jobs/a.yaml" */
  const char *text; /* need not be NUL-terminated */
  size_t len;
};

/* Builds and validates a location from sources, exactly as
 * weft_location_load does from a folder: name becomes loc->name, path
 * loc->path (may be NULL: then loc->path is ""). Diagnostics go to
 * (*out)->diags. Fails only when memory runs out. The caller frees *out with
 * weft_location_free. */
int weft_dsl_load_sources(const char *name, const char *path,
                          const struct weft_dsl_source *sources, size_t n,
                          struct weft_location **out, weft_error *err);

/* Parses a duration: a number of seconds (an int or float scalar), or a
 * string of number+unit groups like "30s", "5m", "1h30m", "250ms", "2d".
 * Returns WEFT_OK or WEFT_EINVALID. */
int weft_dsl_parse_duration(const char *text, double *seconds);

#endif
