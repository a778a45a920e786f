/* fs.h: file-system helpers shared by every layer (read, atomic write, mkdir -p).
 * Paths are borrowed; returned strings are malloc'ed and owned by the caller. */
#ifndef WEFT_UTIL_FS_H
#define WEFT_UTIL_FS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "weft.h"

/* Appends the whole file to out. WEFT_ENOTFOUND when it does not exist. */
int weft_fs_read_file(const char *path, struct weft_buf *out, weft_error *err);
/* Writes data to path through a temporary file and rename(2), so readers
 * never see half a file; fsyncs when durable is non-zero. */
int weft_fs_write_atomic(const char *path, const void *data, size_t len,
                         int durable, weft_error *err);
/* mkdir -p with mode 0755. */
int weft_fs_mkdirs(const char *path, weft_error *err);
/* mkdir -p, the last folder (when it is new) with mode 0700: its owner's
 * only. An existing folder keeps its mode. */
int weft_fs_mkdir_private(const char *path, weft_error *err);
/* rm -rf; a missing path is not an error. */
int weft_fs_remove_tree(const char *path, weft_error *err);
int weft_fs_exists(const char *path);
int weft_fs_is_dir(const char *path);
/* Joins a and b with one '/'; caller frees. NULL when out of memory. */
char *weft_fs_join(const char *a, const char *b);
/* Names of the entries of dir ending in suffix (NULL: all but . and ..),
 * sorted; *out is a NULL-terminated array the caller frees with
 * weft_fs_free_list. Returns the count or a negative error. */
int weft_fs_list_dir(const char *dir, const char *suffix, char ***out,
                     weft_error *err);
void weft_fs_free_list(char **list);

/* The bytes of the files under path (path itself when a file), links not
 * followed; what cannot be read counts 0. */
uint64_t weft_fs_tree_bytes(const char *path);
/* Copies a regular file (contents only), streamed, replacing to atomically. */
int weft_fs_copy_file(const char *from, const char *to, weft_error *err);
/* Writes all len bytes to fd (retrying short writes and EINTR): 0, or -1
 * with errno set. */
int weft_fs_write_all(int fd, const void *data, size_t len);
/* Copies the rest of in to out, in the kernel when it can, else through one
 * fixed buffer (memory stays bounded whatever the size): 0, or -1 with errno
 * set. */
int weft_fs_stream_copy(int in, int out);

#endif
