/* watch.c: inotify watches on the location folders (each folder, its ops/
 * and jobs/): a saved, moved, created or deleted file reloads its location. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "http/http_int.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/log.h"

#define DEBOUNCE_MS 100 /* a change is reloaded once no other came for this long */
#define SETTLE_MAX_MS 500 /* but never later than this after the first one */
#define WATCH_MASK \
  (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ONLYDIR)

void http_watch_init(struct http_watch *w) {
  memset(w, 0, sizeof *w);
  w->armed_gen = (unsigned long)-1; /* none yet */
  w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd < 0)
    weft_log(WEFT_LOG_WARN, WEFT_LOG_PREFIX("weft server: "), "cannot watch the location folders (%s): changes "
             "show after a reload only", strerror(errno));
}

static void clear_dirs(struct http_watch_dir *v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i].loc);
}

static void clear_pending(struct http_watch *w) {
  for (size_t i = 0; i < w->n_pending; i++) free(w->pending[i]);
  free(w->pending);
  w->pending = NULL;
  w->n_pending = 0;
}

void http_watch_release(struct http_watch *w) {
  clear_dirs(w->v, w->n);
  free(w->v);
  clear_pending(w);
  if (w->fd >= 0) close(w->fd);
  memset(w, 0, sizeof *w);
  w->fd = -1;
}

/* Watches dir for location loc into the table v; a missing folder is
 * skipped (creating it shows as a change of the location's folder). */
static int add_dir(struct http_watch *w, struct http_watch_dir **v, size_t *n, size_t *cap,
                   const char *dir, const char *loc) {
  int wd = inotify_add_watch(w->fd, dir, WATCH_MASK);
  if (wd < 0) return WEFT_OK;
  for (size_t i = 0; i < *n; i++)
    if ((*v)[i].wd == wd) return WEFT_OK; /* two locations on one folder: the first */
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    struct http_watch_dir *nv = realloc(*v, nc * sizeof *nv);
    if (!nv) return WEFT_ENOMEM;
    *v = nv;
    *cap = nc;
  }
  char *name = strdup(loc);
  if (!name) return WEFT_ENOMEM;
  (*v)[(*n)++] = (struct http_watch_dir){wd, name};
  return WEFT_OK;
}

/* Watches the folders of the current workspace version; drops the
 * watches of folders no location has any more. */
static void arm(struct http_server *srv, struct http_ws *ws) {
  struct http_watch *w = &srv->watch;
  struct http_watch_dir *v = NULL;
  size_t n = 0, cap = 0;
  int rc = WEFT_OK;
  static const char *const subs[] = {NULL, "ops", "jobs"};
  for (size_t i = 0; !rc && i < ws->ws->n_locations; i++) {
    const struct weft_location *loc = ws->ws->locations[i];
    for (size_t k = 0; !rc && k < sizeof subs / sizeof *subs; k++) {
      char *dir = subs[k] ? weft_fs_join(loc->path, subs[k]) : strdup(loc->path);
      rc = dir ? add_dir(w, &v, &n, &cap, dir, loc->name) : WEFT_ENOMEM;
      free(dir);
    }
  }
  if (rc) {
    /* out of memory: keeps the old table (its watches stay) and tries again next turn */
    clear_dirs(v, n);
    free(v);
    return;
  }
  for (size_t i = 0; i < w->n; i++) {
    size_t j = 0;
    while (j < n && v[j].wd != w->v[i].wd) j++;
    if (j == n) inotify_rm_watch(w->fd, w->v[i].wd);
  }
  clear_dirs(w->v, w->n);
  free(w->v);
  w->v = v;
  w->n = n;
  w->armed_gen = ws->gen;
}

static void note_change(struct http_watch *w, const char *loc, int64_t now) {
  size_t i = 0;
  while (i < w->n_pending && strcmp(w->pending[i], loc)) i++;
  if (i == w->n_pending) {
    char **nv = realloc(w->pending, (w->n_pending + 1) * sizeof *nv);
    char *name = nv ? strdup(loc) : NULL;
    if (nv) w->pending = nv;
    if (!name) return; /* out of memory: this change shows at the next one */
    w->pending[w->n_pending++] = name;
  }
  if (!w->first_ms) w->first_ms = now;
  w->due_ms = now + DEBOUNCE_MS;
  if (w->due_ms > w->first_ms + SETTLE_MAX_MS) w->due_ms = w->first_ms + SETTLE_MAX_MS;
}

static void read_events(struct http_watch *w, int64_t now) {
  char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
      __attribute__((aligned(__alignof__(struct inotify_event))));
  for (;;) {
    ssize_t got = read(w->fd, buf, sizeof buf);
    if (got <= 0) return; /* EAGAIN: all read */
    for (char *p = buf; p < buf + got;) {
      const struct inotify_event *e = (const struct inotify_event *)p;
      p += sizeof *e + e->len;
      if (e->mask & IN_Q_OVERFLOW) { /* lost events: every location changed */
        for (size_t i = 0; i < w->n; i++) note_change(w, w->v[i].loc, now);
        continue;
      }
      if (e->mask & IN_IGNORED) continue;
      if (e->len && e->name[0] == '.') continue; /* editors' swap and temp files */
      for (size_t i = 0; i < w->n; i++)
        if (w->v[i].wd == e->wd) {
          note_change(w, w->v[i].loc, now);
          break;
        }
    }
  }
}

int http_watch_tick(struct http_server *srv, int max_ms) {
  struct http_watch *w = &srv->watch;
  if (w->fd < 0) return max_ms;
  struct http_ws *ws = http_ws_acquire(srv);
  if (ws->gen != w->armed_gen) arm(srv, ws);
  http_ws_release(srv, ws);
  int64_t now = weft_clock_mono_ms();
  read_events(w, now);
  if (!w->n_pending) return max_ms;
  if (now < w->due_ms) return (int)(w->due_ms - now < max_ms ? w->due_ms - now : max_ms);
  for (size_t i = 0; i < w->n_pending; i++) {
    weft_error err = WEFT_ERROR_INIT;
    int64_t t0 = weft_clock_mono_ms();
    if (http_ws_reload_location(srv, w->pending[i], &err))
      weft_log(WEFT_LOG_ERROR, WEFT_LOG_PREFIX("weft server: "),
               "reloading location '%s' (the last version stays): %s", w->pending[i], err.msg);
    else if (getenv("WEFT_WATCH_DEBUG"))
      weft_log(WEFT_LOG_DEBUG, WEFT_LOG_PREFIX("weft server: "), "reloaded location '%s' in %lld ms",
               w->pending[i], (long long)(weft_clock_mono_ms() - t0));
  }
  clear_pending(w);
  w->first_ms = w->due_ms = 0;
  /* the reloads changed the version: re-armed at once (a jobs/ just made) */
  ws = http_ws_acquire(srv);
  if (ws->gen != w->armed_gen) arm(srv, ws);
  http_ws_release(srv, ws);
  return max_ms;
}
