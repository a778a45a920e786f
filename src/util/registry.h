/* registry.h: a process-wide table of back-end method tables by name, in the
 * manner of SQLite's VFS list: built-ins appear lazily, a name registered
 * again replaces the old entry. Thread-safe. */
#ifndef WEFT_UTIL_REGISTRY_H
#define WEFT_UTIL_REGISTRY_H

#include <pthread.h>
#include <stddef.h>

#define WEFT_REGISTRY_MAX 8

struct weft_registry {
  pthread_mutex_t lock;
  const void *v[WEFT_REGISTRY_MAX];
  size_t n;
  const void *const *builtins;          /* NULL-terminated, added on first use */
  const char *(*name_of)(const void *m); /* the name of a method table */
};

#define WEFT_REGISTRY_INIT(builtins, name_of) \
  { PTHREAD_MUTEX_INITIALIZER, {0}, 0, (builtins), (name_of) }

/* Adds m, or replaces the entry of the same name. WEFT_OK, or WEFT_ENOMEM
 * when the table is full. m must outlive the process's use of it. */
int weft_registry_add(struct weft_registry *r, const void *m);
/* The table registered under name, or NULL. */
const void *weft_registry_find(struct weft_registry *r, const char *name);

#endif
