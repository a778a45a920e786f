/* locreg.h: the location registry: the code locations of an instance, kept in
 * the store's key/value state as one versioned JSON document. */
#ifndef WEFT_ENGINE_LOCREG_H
#define WEFT_ENGINE_LOCREG_H

#include <stdint.h>

#include "model/model.h"
#include "store/store.h"

/* The kv key and its document:
 *
 *   {"version": N, "locations": [{"name", "path", "env": {K: V},
 *     "python", "image", "workdir", "reloaded_ms"}, ...]}
 *
 * Every change reads the document, edits it, bumps version and writes it
 * with compare-and-set against the exact text it read: two concurrent
 * changes never overwrite each other; the loser gets WEFT_EVERSION and a
 * message telling to retry. A reload only bumps the entry's reloaded_ms
 * (and so the version): every process watching the version reloads.
 *
 * Who reads it: when the document has at least one location it replaces
 * workspace.yaml for the server and for the CLI commands that load jobs
 * (unless they are given -w FILE or folders). `weft server` seeds an empty
 * registry from its workspace once, at start-up; after that the registry
 * wins and workspace.yaml is no longer read. */
#define WEFT_LOCREG_KEY "weft.locations"

struct weft_locreg_entry {
  char *name, *path;              /* path absolute */
  char *python, *image, *workdir; /* NULL when not set */
  struct weft_kvs env;
  int64_t reloaded_ms; /* last `reload`, 0 when never */
};

struct weft_locreg {
  int64_t version; /* 0 when the registry was never written */
  struct weft_locreg_entry *v;
  size_t n;
};

/* Reads the registry (an absent key is an empty registry, version 0).
 * Release with weft_locreg_release. */
int weft_locreg_read(struct weft_store *s, struct weft_locreg *out, weft_error *err);
void weft_locreg_release(struct weft_locreg *r);
/* Frees one entry's strings and zeroes it (an entry built outside a list). */
void weft_locreg_entry_release(struct weft_locreg_entry *e);
const struct weft_locreg_entry *weft_locreg_find(const struct weft_locreg *r,
                                                 const char *name);

/* The changes. if_version >= 0 makes the change fail with WEFT_EVERSION
 * unless the registry is at that version (a caller that showed a user the
 * registry and wants nothing to have changed since). Adding an existing
 * name is WEFT_ECONFLICT; removing or reloading an absent one
 * WEFT_ENOTFOUND. e->path must be absolute. *new_version (may be NULL)
 * receives the version written. */
int weft_locreg_add(struct weft_store *s, const struct weft_locreg_entry *e,
                    int64_t if_version, int64_t *new_version, weft_error *err);
int weft_locreg_remove(struct weft_store *s, const char *name, int64_t if_version,
                       int64_t *new_version, weft_error *err);
int weft_locreg_touch(struct weft_store *s, const char *name, int64_t *new_version,
                      weft_error *err);

/* Writes the locations of ws into an empty registry; does nothing (and
 * *seeded = 0) when the registry already has locations. */
int weft_locreg_seed(struct weft_store *s, const struct weft_workspace *ws, int *seeded,
                     weft_error *err);

/* Loads one entry's folder as a location carrying the entry's settings. A
 * folder that cannot be read gives an empty location with that error in
 * its diags, so one bad entry never hides the others. */
int weft_locreg_load_entry(const struct weft_locreg_entry *e, struct weft_location **out,
                           weft_error *err);
/* A workspace of every location of r, in registry order. */
int weft_locreg_workspace(const struct weft_locreg *r, struct weft_workspace **out,
                          weft_error *err);

#endif
