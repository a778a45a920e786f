/* map.h: a string-keyed hash map (open addressing) for O(1) name resolution.
 * Keys are borrowed and must outlive the map; values are opaque pointers. */
#ifndef WEFT_UTIL_MAP_H
#define WEFT_UTIL_MAP_H

#include <stddef.h>

struct weft_map_slot {
  const char *key; /* NULL: empty slot */
  size_t hash;
  void *value;
};

/* Caller-owned; zero-initialised (WEFT_MAP_INIT) is an empty map. */
struct weft_map {
  struct weft_map_slot *slots;
  size_t cap; /* 0 or a power of two */
  size_t n;
};

#define WEFT_MAP_INIT \
  { NULL, 0, 0 }

/* Sizes the table for at least n keys without rehashing.
 * Returns WEFT_OK or WEFT_ENOMEM. */
int weft_map_reserve(struct weft_map *m, size_t n);
/* Inserts key -> value. Returns WEFT_OK, WEFT_ECONFLICT when the key is
 * already present (the old value is kept), or WEFT_ENOMEM. */
int weft_map_put(struct weft_map *m, const char *key, void *value);
/* Inserts or replaces. Returns WEFT_OK or WEFT_ENOMEM. */
int weft_map_set(struct weft_map *m, const char *key, void *value);
/* Whether key is present; its value goes to *value when value is non-NULL. */
int weft_map_find(const struct weft_map *m, const char *key, void **value);
/* The value of key, or NULL when absent (use weft_map_find when NULL is a
 * legitimate value). */
void *weft_map_get(const struct weft_map *m, const char *key);
/* Iteration in slot order: start with *pos = 0; returns 0 when done. */
int weft_map_next(const struct weft_map *m, size_t *pos, const char **key,
                  void **value);
/* The hash the map uses (FNV-1a), for callers keeping their own index. */
size_t weft_map_hash(const char *key);
/* Frees the table (not the keys or values); the map is empty and reusable. */
void weft_map_release(struct weft_map *m);

#endif
