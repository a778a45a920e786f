/* state.c: what requests share: pooled store connections, and the workspace
 * in versions that a reload swaps atomically while requests keep theirs. */
#include <stdlib.h>
#include <string.h>

#include "engine/locreg.h"
#include "http/http_int.h"
#include "util/fs.h"

/* ---- store connections ---------------------------------------------------------- */

int http_pool_init(struct http_pool *p, const char *url) {
  memset(p, 0, sizeof *p);
  if (pthread_mutex_init(&p->mu, NULL)) return WEFT_ENOMEM;
  if (pthread_cond_init(&p->cv, NULL)) {
    pthread_mutex_destroy(&p->mu);
    return WEFT_ENOMEM;
  }
  p->url = url;
  return WEFT_OK;
}

int http_pool_get(struct http_pool *p, struct weft_store **out, weft_error *err) {
  *out = NULL;
  pthread_mutex_lock(&p->mu);
  while (!p->n_idle && p->n_open >= HTTP_POOL_MAX) pthread_cond_wait(&p->cv, &p->mu);
  if (p->n_idle) {
    *out = p->idle[--p->n_idle];
    pthread_mutex_unlock(&p->mu);
    return WEFT_OK;
  }
  /* Counted before opening (outside the lock: opening checks the schema),
   * so no other thread opens past the limit meanwhile. */
  p->n_open++;
  pthread_mutex_unlock(&p->mu);
  int rc = weft_store_open(p->url, out, err);
  if (rc) {
    pthread_mutex_lock(&p->mu);
    p->n_open--;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  return rc;
}

void http_pool_put(struct http_pool *p, struct weft_store *s) {
  /* A connection left inside a transaction (a handler that failed half
   * way) must not serve the next request. */
  if (s->tx_depth) {
    weft_store_close(s);
    s = NULL;
  }
  pthread_mutex_lock(&p->mu);
  if (s)
    p->idle[p->n_idle++] = s;
  else
    p->n_open--;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

void http_pool_release(struct http_pool *p) {
  if (!p->url) return; /* never initialised */
  for (size_t i = 0; i < p->n_idle; i++) weft_store_close(p->idle[i]);
  p->n_idle = p->n_open = 0;
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  p->url = NULL;
}

/* ---- the workspace ------------------------------------------------------------------- */

/* Builds w from the registry, read on a pooled connection: a request thread
 * and the maintenance thread may both reload. */
static int registry_load(struct http_server *srv, struct http_ws *w, weft_error *err) {
  struct weft_store *s = NULL;
  struct weft_locreg reg = {0};
  int rc = http_pool_get(&srv->pool, &s, err);
  if (rc) return rc;
  rc = weft_locreg_read(s, &reg, err);
  http_pool_put(&srv->pool, s);
  if (!rc) rc = weft_locreg_workspace(&reg, &w->ws, err);
  w->reg_version = reg.version;
  weft_locreg_release(&reg);
  return rc;
}

int http_ws_load(struct http_server *srv, struct http_ws **out, weft_error *err) {
  struct http_ws *w = calloc(1, sizeof *w);
  int rc;
  *out = NULL;
  if (!w) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (srv->registry)
    rc = registry_load(srv, w, err);
  else if (srv->n_paths)
    rc = weft_workspace_from_paths((const char *const *)srv->paths, srv->n_paths, &w->ws, err);
  else if (!weft_fs_exists(srv->ws_file)) /* registry only: nothing to seed */
    rc = (w->ws = calloc(1, sizeof *w->ws)) ? WEFT_OK
                                             : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  else
    rc = weft_workspace_load_file(srv->ws_file, &w->ws, err);
  if (rc) {
    free(w);
    return rc;
  }
  w->refs = 1;
  *out = w;
  return WEFT_OK;
}

struct http_ws *http_ws_acquire(struct http_server *srv) {
  pthread_mutex_lock(&srv->ws_mu);
  struct http_ws *w = srv->ws;
  w->refs++;
  pthread_mutex_unlock(&srv->ws_mu);
  return w;
}

void http_ws_release(struct http_server *srv, struct http_ws *w) {
  pthread_mutex_lock(&srv->ws_mu);
  int last = --w->refs == 0;
  pthread_mutex_unlock(&srv->ws_mu);
  if (!last) return;
  weft_workspace_free(w->ws);
  free(w);
}

int http_ws_reload(struct http_server *srv, weft_error *err) {
  struct http_ws *fresh = NULL;
  /* Loading reads the disk: done outside the lock, so requests go on
   * with the current version meanwhile. */
  int rc = http_ws_load(srv, &fresh, err);
  if (rc) return rc;
  pthread_mutex_lock(&srv->ws_mu);
  struct http_ws *old = srv->ws;
  srv->ws = fresh;
  pthread_mutex_unlock(&srv->ws_mu);
  http_ws_release(srv, old); /* the server's reference */
  return WEFT_OK;
}

const struct weft_job *http_ws_find_job(const struct weft_workspace *ws, const char *loc,
                                        const char *job) {
  for (size_t i = 0; i < ws->n_locations; i++)
    if (!strcmp(ws->locations[i]->name, loc))
      return weft_location_find_job(ws->locations[i], job);
  return NULL;
}
