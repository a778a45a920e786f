/* sdk.h: the op SDKs (sdk/python/weft_op.py, sdk/c/weft_op.h) built into the
 * binary, unpacked under $WEFT_HOME/sdk so steps can import them. */
#ifndef WEFT_ENGINE_SDK_H
#define WEFT_ENGINE_SDK_H

#include <stddef.h>

#include "weft.h"

struct weft_sdk_file {
  const char *path; /* relative to sdk/, e.g. "python/weft_op.py" */
  const unsigned char *data;
  size_t len;
};

/* NULL-path-terminated; generated at build time by cmake/embed.cmake. */
extern const struct weft_sdk_file weft_sdk_files[];

/* Writes every SDK file under HOME/sdk when absent or different, then puts
 * HOME/sdk/python first on this process's PYTHONPATH and sets WEFT_SDK, so
 * every step inherits them. */
int weft_sdk_install(const char *home, weft_error *err);

#endif
