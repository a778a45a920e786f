/* sdk.c: unpacks the built-in op SDKs under $WEFT_HOME/sdk and points the
 * steps' environment at them (PYTHONPATH, WEFT_SDK). */
#include <stdlib.h>
#include <string.h>

#include "engine/sdk.h"
#include "util/buf.h"
#include "util/fs.h"

static int same_content(const char *path, const struct weft_sdk_file *f) {
  struct weft_buf b = WEFT_BUF_INIT;
  weft_error ignored = WEFT_ERROR_INIT;
  int same = !weft_fs_read_file(path, &b, &ignored) && b.len == f->len &&
             !memcmp(b.ptr, f->data, f->len);
  weft_buf_release(&b);
  return same;
}

int weft_sdk_install(const char *home, weft_error *err) {
  struct weft_buf path = WEFT_BUF_INIT, pp = WEFT_BUF_INIT;
  int rc = WEFT_OK;
  for (const struct weft_sdk_file *f = weft_sdk_files; f->path && !rc; f++) {
    weft_buf_reset(&path);
    if (weft_buf_addf(&path, "%s/sdk/%s", home, f->path)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    if (same_content(path.ptr, f)) continue;
    char *dir = strdup(path.ptr);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (!slash) {
      free(dir);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    *slash = '\0';
    rc = weft_fs_mkdirs(dir, err);
    free(dir);
    if (!rc) rc = weft_fs_write_atomic(path.ptr, f->data, f->len, 0, err);
  }
  const char *old = getenv("PYTHONPATH");
  weft_buf_reset(&path);
  if (!rc && weft_buf_addf(&path, "%s/sdk/python", home))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  size_t plen = path.len;
  /* Prepend once only: a process may open the instance several times. */
  int present = old && !strncmp(old, path.ptr, plen) && (!old[plen] || old[plen] == ':');
  if (!rc && !present) {
    if (weft_buf_addf(&pp, "%s%s%s", path.ptr, old && *old ? ":" : "", old ? old : ""))
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    else
      setenv("PYTHONPATH", pp.ptr, 1);
  }
  if (!rc) {
    path.ptr[plen - strlen("/python")] = '\0';
    setenv("WEFT_SDK", path.ptr, 1);
  }
  weft_buf_release(&path);
  weft_buf_release(&pp);
  return rc;
}
