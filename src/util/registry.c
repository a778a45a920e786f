/* registry.c: named method tables (storage, artifact stores), added lazily
 * so no constructor or init call is needed; see registry.h. */
#include "util/registry.h"

#include <string.h>

#include "weft.h"

static void add_builtins_locked(struct weft_registry *r) {
  if (r->n) return;
  for (size_t i = 0; r->builtins && r->builtins[i] && r->n < WEFT_REGISTRY_MAX; i++)
    r->v[r->n++] = r->builtins[i];
}

static size_t index_locked(const struct weft_registry *r, const char *name) {
  size_t i = 0;
  while (i < r->n && strcmp(r->name_of(r->v[i]), name)) i++;
  return i;
}

int weft_registry_add(struct weft_registry *r, const void *m) {
  int rc = WEFT_OK;
  pthread_mutex_lock(&r->lock);
  add_builtins_locked(r);
  size_t i = index_locked(r, r->name_of(m));
  if (i < r->n)
    r->v[i] = m; /* re-registering a name replaces it, like sqlite3_vfs */
  else if (r->n < WEFT_REGISTRY_MAX)
    r->v[r->n++] = m;
  else
    rc = WEFT_ENOMEM;
  pthread_mutex_unlock(&r->lock);
  return rc;
}

const void *weft_registry_find(struct weft_registry *r, const char *name) {
  if (!name) return NULL;
  pthread_mutex_lock(&r->lock);
  add_builtins_locked(r);
  size_t i = index_locked(r, name);
  const void *found = i < r->n ? r->v[i] : NULL;
  pthread_mutex_unlock(&r->lock);
  return found;
}
