/* code_version.h: the code version of a location: a content hash of the files
 * under its folder, recorded on each run at creation (and, copying them, the
 * snapshot a run executes: code_snapshot.h). */
#ifndef WEFT_ENGINE_CODE_VERSION_H
#define WEFT_ENGINE_CODE_VERSION_H

#include "weft.h"

#define WEFT_CODE_VERSION_LEN 16 /* hex characters kept */

/* The files a code version covers: every regular file and symbolic link
 * under dir, recursively, except
 *   - hidden names (a name starting with '.': .git, .weft, .venv, ...);
 *   - __pycache__, and folders named node_modules, build, dist, venv or
 *     NAME.egg-info (build output and installed packages, not code);
 *   - symbolic links whose target is absolute or climbs out of dir (what
 *     they point at is not part of the location);
 *   - the folder skip_dir (may be NULL): the instance home, when it lies
 *     inside the location.
 * The version is the SHA-256 over every such file in sorted relative path
 * order, each as its path, a NUL, its kind ('f' a file, 'x' a file with an
 * execute bit, 'l' a link), its size (8 bytes, little-endian) and the
 * SHA-256 of its contents (a link's: its target text). out receives the
 * first WEFT_CODE_VERSION_LEN hex characters and a NUL. A file that
 * vanishes while being read is skipped. */
int weft_code_version(const char *dir, const char *skip_dir,
                      char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err);

/* The same walk and hash, copying every file into copy_to (an existing,
 * empty folder) as it goes: a file's bytes are read once, and the same
 * bytes are written and hashed, so out always describes exactly what
 * copy_to holds, whatever changes in dir meanwhile. Files are written
 * read-only (0444, or 0555 with an execute bit); links are made again with
 * the same target. */
int weft_code_copy(const char *dir, const char *skip_dir, const char *copy_to,
                   char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err);

/* 1 when v is a code version: exactly WEFT_CODE_VERSION_LEN lowercase hex
 * digits (so it can name a folder safely). */
int weft_code_version_valid(const char *v);

/* 1 when a link at rel (relative to a code folder's root) with this target
 * stays inside the root, judged on the text alone: the links a snapshot
 * keeps, and the only ones an unpacked archive may hold. */
int weft_code_link_inside(const char *rel, const char *target);

#endif
