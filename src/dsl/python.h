/* python.h: ops and jobs written in Python (the .py files of ops/ and jobs/),
 * by a subprocess (`python3 -m weft describe`) and cached by content hash. */
#ifndef WEFT_DSL_PYTHON_H
#define WEFT_DSL_PYTHON_H

#include <stddef.h>
#include <stdint.h>

#include "dsl/dsl.h"

/* Loads a location as weft_location_load does, describing its .py files
 * with python: a virtualenv folder (its bin/python3) or an interpreter,
 * or NULL for $WEFT_PYTHON, else python3 on PATH. */
int weft_location_load_python(const char *path, const char *name, const char *python,
                              struct weft_location **out, weft_error *err);
/* The same with only its ops and jobs: schedules and sensors are neither
 * read nor checked, so (*out)->diags says nothing of them. For a
 * coordinator, which needs one job: a location of 1,000 schedules took
 * 10-14 ms to parse at every first run of a code version. */
int weft_location_load_jobs(const char *path, const char *name, const char *python,
                            struct weft_location **out, weft_error *err);

/* Default seconds a file may take to describe; $WEFT_PYTHON_TIMEOUT (seconds,
 * a number > 0) replaces it. */
#define WEFT_PYTHON_DESCRIBE_TIMEOUT_S 10.0

/* One JSON text of a described file, in the shape of a YAML file of kind,
 * and for each of its lines the .py line it comes from. */
struct weft__py_text {
  enum weft_dsl_source_kind kind;
  char *text;
  size_t len;
  int *lines; /* lines[k]: .py line of text line k + 1 */
  size_t n_lines;
};

/* What the collector made of one .py file: texts to load, errors found. */
struct weft__py_file {
  char *rel;  /* "ops/math.py": relative to the location folder */
  char *name; /* as named in marks: the folder as given + rel */
  struct weft__py_text *texts;
  size_t n_texts;
  int from_cache;
};

struct weft__py_collect {
  struct weft__py_file *files;
  size_t n_files;
  size_t n_described; /* files that cost a subprocess (not cached) */
};

/* Describes files (relative to dir, the absolute location folder; names
 * are the same files as marks name them) with python (see above), using
 * and filling the cache. Problems of a file go to diags at its
 * file:line:col; the others still load. Fails only when memory runs out. */
int weft__python_collect(const char *dir, const char *python, char *const *rels,
                         char *const *names, size_t n, struct weft__py_collect *out,
                         struct weft_diags *diags);
void weft__python_collect_release(struct weft__py_collect *c);

/* ---- the description cache (python_cache.c) ---- */

/* A 128-bit content hash as 32 hex digits (not cryptographic: the cache is
 * a private local file, this only notices that a file changed). */
void weft__py_hash(const void *data, size_t len, const char *salt, char out[33]);
/* Hash of the file at path (salted with its name); 0, or -1 when unreadable. */
int weft__py_hash_file(const char *path, const char *salt, char out[33]);
/* The cache folder: $WEFT_PYTHON_CACHE, else $WEFT_SDK/../cache/python
 * (an opened instance), else $XDG_CACHE_HOME/weft/python or
 * ~/.cache/weft/python; NULL when out of memory. "off" (or no HOME) turns
 * the cache off (returns ""). Caller frees. */
char *weft__py_cache_dir(void);
/* The folder holding the weft Python package (weft/, weft_op.py):
 * $WEFT_SDK/python, else the install's share/weft/sdk/python next to the
 * running binary, else the source tree's sdk/python; NULL when none (or
 * out of memory). Caller frees. */
char *weft__py_sdk_dir(void);
/* The description of rel cached under key, if every file it imported
 * still has the hash recorded (json_t owned by the caller), else NULL. */
json_t *weft__py_cache_get(const char *cache_dir, const char *dir, const char *key);
/* Stores a description (its "deps" are hashed now); errors are ignored:
 * a cache that cannot be written costs time, never a load. */
void weft__py_cache_put(const char *cache_dir, const char *dir, const char *key,
                        const json_t *desc);

#endif
