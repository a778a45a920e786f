/* code_version.h: the code version of a location: a content hash of every
 * file under its folder, recorded on each run at creation. */
#ifndef WEFT_ENGINE_CODE_VERSION_H
#define WEFT_ENGINE_CODE_VERSION_H

#include "weft.h"

#define WEFT_CODE_VERSION_LEN 16 /* hex characters kept */

/* SHA-256 over every file under dir (recursively) but hidden ones (a name
 * starting with '.') and __pycache__ folders, in sorted relative path
 * order, each as its path, a NUL, its size (8 bytes, little-endian) and
 * its contents; a symbolic link counts as its target's text. out receives
 * the first WEFT_CODE_VERSION_LEN hex characters of the digest and a NUL.
 * A file that vanishes while being read is skipped. */
int weft_code_version(const char *dir, char out[WEFT_CODE_VERSION_LEN + 1], weft_error *err);

#endif
