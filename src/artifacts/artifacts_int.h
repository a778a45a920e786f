/* artifacts_int.h: declarations shared by the files of src/artifacts only:
 * the built-in filesystem backend and the prefix rule backends share. */
#ifndef WEFT_ARTIFACTS_ARTIFACTS_INT_H
#define WEFT_ARTIFACTS_ARTIFACTS_INT_H

#include "artifacts/artifacts.h"

/* The filesystem backend (artifacts_fs.c), registered at first use. */
extern const struct weft_artifacts_methods weft__artifacts_fs_methods;
/* The S3 backend (artifacts_s3.c), registered beside it. */
extern const struct weft_artifacts_methods weft__artifacts_s3_methods;

/* Like weft_artifacts_key_check for a list prefix: "" and a trailing '/'
 * are allowed, the last segment may be partial. */
int weft__artifacts_prefix_check(const char *prefix, weft_error *err);

#endif
