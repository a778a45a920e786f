/* map.c: open-addressing string hash map with linear probing.
 * Invariant: load factor <= 1/2, and no deletion, hence no tombstones. */
#include "util/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

/* FNV-1a: short names dominate, where it is as good as anything heavier. */
size_t weft_map_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  h ^= h >> 29; /* spread high bits into the low ones the mask keeps */
  return (size_t)h;
}

static struct weft_map_slot *probe(struct weft_map_slot *slots, size_t cap,
                                   const char *key, size_t h) {
  size_t i = h & (cap - 1);
  for (;;) {
    struct weft_map_slot *s = &slots[i];
    if (!s->key || (s->hash == h && !strcmp(s->key, key))) return s;
    i = (i + 1) & (cap - 1);
  }
}

static int resize(struct weft_map *m, size_t cap) {
  struct weft_map_slot *slots = calloc(cap, sizeof *slots);
  if (!slots) return WEFT_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    struct weft_map_slot *old = &m->slots[i];
    if (old->key) *probe(slots, cap, old->key, old->hash) = *old;
  }
  free(m->slots);
  m->slots = slots;
  m->cap = cap;
  return WEFT_OK;
}

int weft_map_reserve(struct weft_map *m, size_t n) {
  size_t cap = m->cap ? m->cap : 16;
  while (cap < 2 * n + 2) cap *= 2;
  return cap == m->cap ? WEFT_OK : resize(m, cap);
}

static int insert(struct weft_map *m, const char *key, void *value,
                  int replace) {
  if (2 * (m->n + 1) > m->cap && weft_map_reserve(m, m->n + 1))
    return WEFT_ENOMEM;
  size_t h = weft_map_hash(key);
  struct weft_map_slot *s = probe(m->slots, m->cap, key, h);
  if (s->key) {
    if (!replace) return WEFT_ECONFLICT;
    s->value = value;
    return WEFT_OK;
  }
  s->key = key;
  s->hash = h;
  s->value = value;
  m->n++;
  return WEFT_OK;
}

int weft_map_put(struct weft_map *m, const char *key, void *value) {
  return insert(m, key, value, 0);
}

int weft_map_set(struct weft_map *m, const char *key, void *value) {
  return insert(m, key, value, 1);
}

int weft_map_find(const struct weft_map *m, const char *key, void **value) {
  if (!m->n) return 0;
  struct weft_map_slot *s = probe(m->slots, m->cap, key, weft_map_hash(key));
  if (!s->key) return 0;
  if (value) *value = s->value;
  return 1;
}

void *weft_map_get(const struct weft_map *m, const char *key) {
  void *v = NULL;
  return weft_map_find(m, key, &v) ? v : NULL;
}

int weft_map_next(const struct weft_map *m, size_t *pos, const char **key,
                  void **value) {
  for (; *pos < m->cap; (*pos)++) {
    const struct weft_map_slot *s = &m->slots[*pos];
    if (!s->key) continue;
    if (key) *key = s->key;
    if (value) *value = s->value;
    (*pos)++;
    return 1;
  }
  return 0;
}

void weft_map_release(struct weft_map *m) {
  free(m->slots);
  m->slots = NULL;
  m->cap = m->n = 0;
}
