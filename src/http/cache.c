/* cache.c: JSON texts of runs that ended, by run id (and pages of them). A
 * run that ended never changes again (the engine only moves runs that are
 * not final), so its answer can be kept: lists and details of old runs
 * then cost no store queries and no JSON building. Bounded by bytes in two generations: a hit
 * in the old one moves to the young one; when the young one is full the
 * old one is dropped whole (no per-entry eviction bookkeeping). */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

struct cache_entry {
  char *key;
  char *text;
  size_t len;
};

static void drop_generation(struct weft_map *m) {
  size_t pos = 0;
  const char *key;
  void *value;
  while (weft_map_next(m, &pos, &key, &value)) {
    struct cache_entry *e = value;
    free(e->key);
    free(e->text);
    free(e);
  }
  weft_map_release(m);
}

void http_cache_init(struct http_cache *c, size_t max_bytes) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  c->max_bytes = max_bytes;
}

void http_cache_release(struct http_cache *c) {
  drop_generation(&c->young);
  drop_generation(&c->old);
  pthread_mutex_destroy(&c->mu);
}

/* Under the lock: adds e to the young generation, aging it first when full. */
static void put_young(struct http_cache *c, struct cache_entry *e) {
  if (c->young_bytes + e->len > c->max_bytes / 2) {
    drop_generation(&c->old);
    c->old = c->young;
    c->young = (struct weft_map)WEFT_MAP_INIT;
    c->young_bytes = 0;
  }
  if (weft_map_put(&c->young, e->key, e) == WEFT_OK) {
    c->young_bytes += e->len + strlen(e->key);
    return;
  }
  free(e->key);
  free(e->text);
  free(e);
}

char *http_cache_get(struct http_cache *c, const char *key, size_t *len) {
  char *copy = NULL;
  pthread_mutex_lock(&c->mu);
  struct cache_entry *e = weft_map_get(&c->young, key);
  int from_old = 0;
  if (!e) from_old = (e = weft_map_get(&c->old, key)) != NULL;
  if (e && (copy = malloc(e->len + 1))) {
    memcpy(copy, e->text, e->len + 1);
    *len = e->len;
  }
  if (e) c->hits++;
  else c->misses++;
  if (from_old && copy) {
    /* Still wanted: it moves to the young generation. e belongs to the old
     * one, which put_young may drop: it is not touched after this. */
    struct cache_entry *moved = malloc(sizeof *moved);
    char *text = malloc(*len + 1);
    char *k = strdup(key);
    if (moved && text && k) {
      memcpy(text, copy, *len + 1);
      *moved = (struct cache_entry){k, text, *len};
      put_young(c, moved);
    } else {
      free(moved);
      free(text);
      free(k);
    }
  }
  pthread_mutex_unlock(&c->mu);
  return copy;
}

void http_cache_put(struct http_cache *c, const char *key, const char *text, size_t len) {
  struct cache_entry *e = malloc(sizeof *e);
  if (!e) return;
  e->key = strdup(key);
  e->text = malloc(len + 1);
  e->len = len;
  if (!e->key || !e->text) {
    free(e->key);
    free(e->text);
    free(e);
    return;
  }
  memcpy(e->text, text, len);
  e->text[len] = '\0';
  pthread_mutex_lock(&c->mu);
  struct cache_entry *had = weft_map_get(&c->young, key);
  if (had) {
    /* A newer text replaces the old one, which keeps its key. */
    c->young_bytes = c->young_bytes - had->len + len;
    free(had->text);
    had->text = e->text;
    had->len = len;
    free(e->key);
    free(e);
  } else {
    put_young(c, e);
  }
  pthread_mutex_unlock(&c->mu);
}
