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

/* The current version, acquired, or NULL before the first one. */
static struct http_ws *current(struct http_server *srv) {
  pthread_mutex_lock(&srv->ws_mu);
  struct http_ws *w = srv->ws;
  if (w) w->refs++;
  pthread_mutex_unlock(&srv->ws_mu);
  return w;
}

/* The entry of prev (may be NULL) for the same location as loc. */
static struct http_loc *same_location(const struct http_ws *prev, const struct weft_location *loc) {
  for (size_t i = 0; prev && i < prev->ws->n_locations; i++) {
    const struct weft_location *p = prev->locs[i]->own;
    if (!strcmp(p->name, loc->name) && !strcmp(p->path, loc->path)) return prev->locs[i];
  }
  return NULL;
}

/* Whether the errors of fresh hit a job that good has valid: only then is
 * the last good version kept. Errors of new files only (a job just added,
 * broken) show as they are, beside the jobs that still load; a job whose
 * file was removed is gone, as it should. */
static int breaks(const struct weft_location *good, const struct weft_location *fresh) {
  for (size_t j = 0; j < good->n_jobs; j++) {
    const struct weft_job *now = weft_location_find_job(fresh, good->jobs[j].name);
    if (good->jobs[j].valid && now && !now->valid) return 1;
  }
  return 0;
}

/* Wraps a freshly loaded location (taken); prev is what was loaded for it
 * before, or NULL. Under ws_mu: the last good version gains a reference. */
static struct http_loc *loc_wrap(struct http_server *srv, struct weft_location *fresh,
                                 struct http_loc *prev) {
  struct http_loc *h = calloc(1, sizeof *h);
  struct http_loc *good = NULL;
  if (!h) return NULL;
  if (fresh->diags.n && prev)
    good = prev->base ? prev->base : prev->loc->diags.n ? NULL : prev;
  if (good && !breaks(good->loc, fresh)) good = NULL;
  h->own = h->loc = fresh;
  h->refs = 1;
  if (good) {
    struct weft_location *view = malloc(sizeof *view);
    if (!view) {
      free(h);
      return NULL;
    }
    *view = *good->loc; /* borrows everything but the errors */
    view->diags = fresh->diags;
    h->loc = view;
    h->base = good;
    pthread_mutex_lock(&srv->ws_mu);
    good->refs++;
    pthread_mutex_unlock(&srv->ws_mu);
  }
  return h;
}

/* Drops one reference of h; under ws_mu. Appends what is to be freed. */
static void loc_unref(struct http_loc *h, struct http_loc **dead, size_t *n_dead) {
  while (h && --h->refs == 0) {
    dead[(*n_dead)++] = h;
    h = h->base;
  }
}

static void loc_free(struct http_loc *h) {
  if (h->loc != h->own) free(h->loc); /* a view: the struct only */
  weft_location_free(h->own);
  free(h);
}

/* Frees w whose last reference is gone. */
static void ws_free(struct http_server *srv, struct http_ws *w) {
  size_t n = w->ws ? w->ws->n_locations : 0, n_dead = 0;
  struct http_loc **dead = n ? calloc(2 * n, sizeof *dead) : NULL;
  if (n && dead && w->locs) {
    pthread_mutex_lock(&srv->ws_mu);
    for (size_t i = 0; i < n; i++) loc_unref(w->locs[i], dead, &n_dead);
    pthread_mutex_unlock(&srv->ws_mu);
    for (size_t i = 0; i < n_dead; i++) loc_free(dead[i]);
    w->ws->n_locations = 0; /* they were the entries' */
  } else if (n && w->locs) {
    /* out of memory: leaks the shared locations rather than free them early */
    w->ws->n_locations = 0;
  }
  free(dead);
  if (w->ws) weft_workspace_free(w->ws);
  free(w->locs);
  free(w);
}

/* Gives w's freshly loaded locations their entries, keeping the last good
 * version of those that now have errors. On failure w->ws still owns what
 * no entry took. */
static int wrap_all(struct http_server *srv, struct http_ws *w, weft_error *err) {
  struct http_ws *prev = current(srv);
  size_t n = w->ws->n_locations;
  int rc = WEFT_OK;
  if (n && !(w->locs = calloc(n, sizeof *w->locs)))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    struct weft_location *fresh = w->ws->locations[i];
    if (!(w->locs[i] = loc_wrap(srv, fresh, same_location(prev, fresh)))) {
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    w->ws->locations[i] = w->locs[i]->loc;
  }
  if (rc && w->locs) {
    /* the wrapped ones go back to plain ownership by w->ws */
    for (size_t i = 0; i < n && w->locs[i]; i++) {
      struct http_loc *h = w->locs[i];
      w->ws->locations[i] = h->own;
      if (h->loc != h->own) free(h->loc);
      if (h->base) {
        pthread_mutex_lock(&srv->ws_mu);
        h->base->refs--; /* never the last: prev holds it */
        pthread_mutex_unlock(&srv->ws_mu);
      }
      free(h);
    }
    free(w->locs);
    w->locs = NULL;
  }
  if (prev) http_ws_release(srv, prev);
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
  if (!rc) rc = wrap_all(srv, w, err);
  if (rc) {
    weft_workspace_free(w->ws);
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
  if (last) ws_free(srv, w);
}

/* Makes fresh the current version. */
static void ws_swap(struct http_server *srv, struct http_ws *fresh) {
  pthread_mutex_lock(&srv->ws_mu);
  struct http_ws *old = srv->ws;
  srv->ws = fresh;
  fresh->gen = ++srv->ws_gen;
  pthread_mutex_unlock(&srv->ws_mu);
  if (old) http_ws_release(srv, old); /* the server's reference */
}

int http_ws_reload(struct http_server *srv, weft_error *err) {
  struct http_ws *fresh = NULL;
  /* Loading reads the disk: done outside the lock, so requests go on
   * with the current version meanwhile. */
  int rc = http_ws_load(srv, &fresh, err);
  if (rc) return rc;
  ws_swap(srv, fresh);
  return WEFT_OK;
}

/* Loads location i of cur again, as its registry entry says in registry
 * mode. *out NULL: the registry no longer has it (its watcher reloads). */
static int load_again(struct http_server *srv, const struct weft_location *cur,
                      struct weft_location **out, weft_error *err) {
  *out = NULL;
  if (!srv->registry) {
    weft_error why = WEFT_ERROR_INIT;
    int rc = weft_location_load(cur->path, cur->name, out, &why);
    if (rc == WEFT_ENOMEM) return weft_error_set(err, rc, "out of memory");
    if (rc) return weft_error_set(err, rc, "%s", why.msg);
    return WEFT_OK;
  }
  struct weft_store *s = NULL;
  struct weft_locreg reg = {0};
  int rc = http_pool_get(&srv->pool, &s, err);
  if (rc) return rc;
  rc = weft_locreg_read(s, &reg, err);
  http_pool_put(&srv->pool, s);
  const struct weft_locreg_entry *e = rc ? NULL : weft_locreg_find(&reg, cur->name);
  if (e && !strcmp(e->path, cur->path)) rc = weft_locreg_load_entry(e, out, err);
  weft_locreg_release(&reg);
  return rc;
}

int http_ws_reload_location(struct http_server *srv, const char *name, weft_error *err) {
  struct http_ws *cur = current(srv), *w = NULL;
  struct weft_location *fresh = NULL;
  size_t at = 0, n = cur ? cur->ws->n_locations : 0;
  int rc = WEFT_OK;
  while (at < n && strcmp(cur->locs[at]->own->name, name)) at++;
  if (at == n) goto done;
  if ((rc = load_again(srv, cur->locs[at]->own, &fresh, err)) || !fresh) goto done;
  if (!(w = calloc(1, sizeof *w)) || !(w->ws = calloc(1, sizeof *w->ws)) ||
      !(w->ws->locations = calloc(n, sizeof *w->ws->locations)) ||
      !(w->locs = calloc(n, sizeof *w->locs))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  struct http_loc *h = loc_wrap(srv, fresh, cur->locs[at]);
  if (!h) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  fresh = NULL;
  const struct weft_diags *d = &cur->ws->diags;
  for (size_t i = 0; i < d->n; i++)
    weft_diags_addf(&w->ws->diags, d->v[i].file, d->v[i].line, d->v[i].col, "%s", d->v[i].msg);
  pthread_mutex_lock(&srv->ws_mu);
  for (size_t i = 0; i < n; i++) {
    w->locs[i] = i == at ? h : cur->locs[i];
    if (i != at) w->locs[i]->refs++;
    w->ws->locations[i] = w->locs[i]->loc;
  }
  pthread_mutex_unlock(&srv->ws_mu);
  w->ws->n_locations = n;
  w->reg_version = cur->reg_version;
  w->refs = 1;
  ws_swap(srv, w);
  w = NULL;
done:
  if (w) {
    if (w->ws) weft_workspace_free(w->ws); /* no location in it yet */
    free(w->locs);
    free(w);
  }
  weft_location_free(fresh);
  if (cur) http_ws_release(srv, cur);
  return rc;
}

const struct weft_job *http_ws_find_job(const struct weft_workspace *ws, const char *loc,
                                        const char *job) {
  for (size_t i = 0; i < ws->n_locations; i++)
    if (!strcmp(ws->locations[i]->name, loc))
      return weft_location_find_job(ws->locations[i], job);
  return NULL;
}
