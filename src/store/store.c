/* store.c: the storage wrappers (the only callers of a backend's method
 * table), the backend registry, status names, row release and run ids. */
#include "store/store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "store/store_int.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/redact.h"
#include "util/registry.h"
#include "util/str.h"

/* ---- status names --------------------------------------------------------- */

static const char *const run_status_names[] = {
#define WEFT__RS_NAME(n, s) s,
    WEFT_RUN_STATUS_MAP(WEFT__RS_NAME)
#undef WEFT__RS_NAME
};

static const char *const step_status_names[] = {
#define WEFT__SS_NAME(n, s) s,
    WEFT_STEP_STATUS_MAP(WEFT__SS_NAME)
#undef WEFT__SS_NAME
};

const char *weft_run_status_name(enum weft_run_status s) {
  if ((unsigned)s >= WEFT_RUN__COUNT) return "unknown";
  return run_status_names[s];
}

int weft_run_status_parse(const char *s, enum weft_run_status *out) {
  for (int i = 0; s && i < WEFT_RUN__COUNT; i++) {
    if (!strcmp(s, run_status_names[i])) {
      *out = (enum weft_run_status)i;
      return WEFT_OK;
    }
  }
  return WEFT_EINVALID;
}

int weft_run_status_is_final(enum weft_run_status s) {
  return s == WEFT_RUN_SUCCESS || s == WEFT_RUN_FAILURE || s == WEFT_RUN_CANCELED;
}

const char *weft_step_status_name(enum weft_step_status s) {
  if ((unsigned)s >= WEFT_STEP__COUNT) return "unknown";
  return step_status_names[s];
}

int weft_step_status_parse(const char *s, enum weft_step_status *out) {
  for (int i = 0; s && i < WEFT_STEP__COUNT; i++) {
    if (!strcmp(s, step_status_names[i])) {
      *out = (enum weft_step_status)i;
      return WEFT_OK;
    }
  }
  return WEFT_EINVALID;
}

int weft_step_status_is_final(enum weft_step_status s) {
  return s == WEFT_STEP_SUCCEEDED || s == WEFT_STEP_FAILED ||
         s == WEFT_STEP_SKIPPED || s == WEFT_STEP_CANCELED;
}

/* ---- rows ------------------------------------------------------------------- */

void weft_run_row_release(struct weft_run_row *r) {
  if (!r) return;
  free(r->id);
  free(r->job);
  free(r->location);
  free(r->run_config);
  free(r->tags);
  free(r->parent_run_id);
  free(r->root_run_id);
  free(r->code_version);
  free(r->message);
  free(r->coordinator);
  memset(r, 0, sizeof *r);
}

int weft_run_row_copy(const struct weft_run_row *from, struct weft_run_row *to) {
  *to = *from;
  char **fields[] = {&to->id,          &to->job,         &to->location,
                     &to->run_config,  &to->tags,        &to->parent_run_id,
                     &to->root_run_id, &to->code_version, &to->message,
                     &to->coordinator};
  int rc = WEFT_OK;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (*fields[i] && !(*fields[i] = strdup(*fields[i]))) rc = WEFT_ENOMEM;
  if (rc) weft_run_row_release(to); /* the NULLs of failed copies are skipped */
  return rc;
}

void weft_step_row_release(struct weft_step_row *s) {
  if (!s) return;
  free(s->run_id);
  free(s->step);
  free(s->message);
  free(s->worker);
  memset(s, 0, sizeof *s);
}

void weft_event_row_release(struct weft_event_row *e) {
  if (!e) return;
  free(e->run_id);
  free(e->step);
  free(e->type);
  free(e->payload);
  memset(e, 0, sizeof *e);
}

void weft_run_list_release(struct weft_run_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) weft_run_row_release(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

void weft_step_list_release(struct weft_step_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) weft_step_row_release(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

void weft_event_list_release(struct weft_event_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) weft_event_row_release(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

void weft_kv_row_release(struct weft_kv_row *r) {
  if (!r) return;
  free(r->key);
  free(r->value);
  memset(r, 0, sizeof *r);
}

void weft_kv_list_release(struct weft_kv_list *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) weft_kv_row_release(&l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

char *weft_store_new_run_id(void) {
  unsigned char bytes[6];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    got += (size_t)n;
  }
  char *id = malloc(2 * sizeof bytes + 1);
  if (!id) return NULL;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof bytes; i++) {
    id[2 * i] = hex[bytes[i] >> 4];
    id[2 * i + 1] = hex[bytes[i] & 15];
  }
  id[2 * sizeof bytes] = 0;
  return id;
}

/* ---- registry ----------------------------------------------------------------- */

static const char *methods_name(const void *m) {
  return ((const struct weft_store_methods *)m)->name;
}

static const void *const builtins[] = {&weft__store_sqlite_methods, &weft__store_pg_methods, NULL};
static struct weft_registry registry = WEFT_REGISTRY_INIT(builtins, methods_name);

int weft_store_register(const struct weft_store_methods *m) {
  if (!m || !m->name || m->version != 1 || m->instance_size < sizeof(struct weft_store))
    return WEFT_EINVALID;
  return weft_registry_add(&registry, m);
}

const struct weft_store_methods *weft_store_find(const char *name) {
  return weft_registry_find(&registry, name);
}

/* Maps a URL to a backend name: "postgres[ql]://" is postgres, "sqlite:" and
 * plain paths are sqlite; any other "scheme://" is refused rather than taken
 * for a file name. */
static int backend_for_url(const char *url, const char **name, weft_error *err) {
  if (weft_str_has_prefix(url, "postgresql://") ||
      weft_str_has_prefix(url, "postgres://")) {
    *name = "postgres";
    return WEFT_OK;
  }
  if (weft_str_has_prefix(url, "sqlite:")) {
    *name = "sqlite";
    return WEFT_OK;
  }
  const char *sep = strstr(url, "://");
  if (sep) {
    char *shown = weft_redact(url);
    int rc = weft_error_set(err, WEFT_EINVALID,
                            "storage URL %s: unknown scheme '%.*s' (use sqlite:PATH, "
                            "a path, or postgresql://...)",
                            shown ? shown : "(not shown)", (int)(sep - url), url);
    free(shown);
    return rc;
  }
  *name = "sqlite";
  return WEFT_OK;
}

/* ---- fault injection ----------------------------------------------------------- */

static long fault_countdown;
static int fault_code;

void weft_store_fault_inject(long nth, int code) {
  fault_countdown = nth > 0 ? nth : 0;
  fault_code = code;
}

/* Counts one wrapper call; non-zero when this call is the one to fail. */
static int fault_hit(weft_error *err) {
  if (!fault_countdown || --fault_countdown) return 0;
  return weft_error_set(err, fault_code ? fault_code : WEFT_ESTORE,
                        "injected store fault");
}

#define FAULT_POINT(err)                 \
  do {                                   \
    int fault_rc_ = fault_hit(err);      \
    if (fault_rc_) return fault_rc_;     \
  } while (0)

/* ---- open / close ---------------------------------------------------------------- */

int weft_store_open(const char *url, struct weft_store **out, weft_error *err) {
  *out = NULL;
  if (!url || !*url)
    return weft_error_set(err, WEFT_EINVALID, "storage URL is empty");
  const char *name = NULL;
  int rc = backend_for_url(url, &name, err);
  if (rc) return rc;
  const struct weft_store_methods *m = weft_store_find(name);
  if (!m) {
    char *shown = weft_redact(url);
    rc = weft_error_set(err, WEFT_EUSAGE, "%s storage is not built into this weft (URL %s)",
                        name, shown ? shown : "not shown");
    free(shown);
    return rc;
  }
  struct weft_store *s = calloc(1, m->instance_size);
  if (!s) return weft_error_set(err, WEFT_ENOMEM, "out of memory opening the storage");
  s->m = m;
  rc = m->xOpen(s, url, err);
  if (rc) {
    free(s);
    return rc;
  }
  *out = s;
  return WEFT_OK;
}

void weft_store_close(struct weft_store *s) {
  if (!s) return;
  if (s->tx_depth) s->m->xRollback(s);
  s->m->xClose(s);
  free(s);
}

/* ---- transactions ------------------------------------------------------------------ */

int weft_store_begin(struct weft_store *s, weft_error *err) {
  FAULT_POINT(err);
  if (s->tx_depth == 0) {
    int rc = s->m->xBegin(s, err);
    if (rc) return rc;
    s->tx_rollback_only = 0;
  }
  s->tx_depth++;
  return WEFT_OK;
}

/* Commit latency of this process: atomics, as commits happen on many
 * threads (the server's request handlers, its maintenance thread). */
const double weft_store_commit_le[WEFT_STORE_COMMIT_BUCKETS] = {.001, .0025, .005, .01, .025,
                                                                .05,  .1,    .25,  .5,  1};
static atomic_ullong commit_buckets[WEFT_STORE_COMMIT_BUCKETS + 1];
static atomic_ullong commit_count, commit_failures, commit_sum_us;

static void commit_observe(double s, int failed) {
  int i = 0;
  while (i < WEFT_STORE_COMMIT_BUCKETS && s > weft_store_commit_le[i]) i++;
  atomic_fetch_add(&commit_buckets[i], 1);
  atomic_fetch_add(&commit_count, 1);
  atomic_fetch_add(&commit_sum_us, (unsigned long long)(s * 1e6));
  if (failed) atomic_fetch_add(&commit_failures, 1);
}

void weft_store_commit_stats_get(struct weft_store_commit_stats *out) {
  for (int i = 0; i <= WEFT_STORE_COMMIT_BUCKETS; i++)
    out->buckets[i] = atomic_load(&commit_buckets[i]);
  out->count = atomic_load(&commit_count);
  out->failures = atomic_load(&commit_failures);
  out->sum_s = (double)atomic_load(&commit_sum_us) / 1e6;
}

int weft_store_commit(struct weft_store *s, weft_error *err) {
  if (s->tx_depth == 0)
    return weft_error_set(err, WEFT_EUSAGE, "store commit without a transaction");
  int rc = fault_hit(err);
  if (rc) {
    /* An injected failure leaves the same state a real one would: an inner
     * commit dooms the transaction, the outermost leaves nothing open. */
    weft_store_rollback(s);
    return rc;
  }
  if (s->tx_depth > 1) {
    s->tx_depth--;
    return WEFT_OK;
  }
  s->tx_depth = 0;
  if (s->tx_rollback_only) {
    s->tx_rollback_only = 0;
    s->m->xRollback(s);
    return weft_error_set(err, WEFT_ECONFLICT,
                          "store commit: an inner transaction was rolled back, so "
                          "the whole transaction was");
  }
  double t0 = weft_clock_mono_s();
  rc = s->m->xCommit(s, err);
  commit_observe(weft_clock_mono_s() - t0, rc != 0);
  if (rc) s->m->xRollback(s);
  return rc;
}

void weft_store_rollback(struct weft_store *s) {
  if (!s || s->tx_depth == 0) return;
  if (--s->tx_depth > 0) {
    s->tx_rollback_only = 1;
    return;
  }
  s->tx_rollback_only = 0;
  s->m->xRollback(s);
}

/* ---- data calls ---------------------------------------------------------------------- */

#define REQUIRE(cond, what)                                              \
  do {                                                                   \
    if (!(cond)) return weft_error_set(err, WEFT_EINVALID, "%s", what); \
  } while (0)

int weft_store_run_create(struct weft_store *s, const struct weft_run_row *r,
                          weft_error *err) {
  REQUIRE(r && r->id && *r->id, "run create: the run has no id");
  REQUIRE(r->job && *r->job, "run create: the run has no job name");
  REQUIRE((unsigned)r->status < WEFT_RUN__COUNT, "run create: invalid status");
  FAULT_POINT(err);
  return s->m->xRunCreate(s, r, err);
}

/* rows[0..n) through the backend's many-row method, or one by one without
 * it, in a transaction of its own or the caller's, which a failure dooms:
 * a many-row statement may have written some rows before failing. */
static int runs_at_once(struct weft_store *s,
                        int (*many)(struct weft_store *, const struct weft_run_row *, size_t,
                                    weft_error *),
                        int (*one)(struct weft_store *, const struct weft_run_row *, weft_error *),
                        const struct weft_run_row *rows, size_t n, weft_error *err) {
  if (!n) return WEFT_OK;
  int rc = weft_store_begin(s, err);
  if (!rc && many) rc = many(s, rows, n, err);
  for (size_t i = 0; !rc && !many && i < n; i++) rc = one(s, &rows[i], err);
  if (rc) weft_store_rollback(s);
  return rc ? rc : weft_store_commit(s, err);
}

int weft_store_run_create_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                               weft_error *err) {
  REQUIRE(!n || rows, "run create: no rows");
  for (size_t i = 0; i < n; i++) {
    REQUIRE(rows[i].id && *rows[i].id, "run create: the run has no id");
    REQUIRE(rows[i].job && *rows[i].job, "run create: the run has no job name");
    REQUIRE((unsigned)rows[i].status < WEFT_RUN__COUNT, "run create: invalid status");
  }
  FAULT_POINT(err);
  return runs_at_once(s, s->m->xRunCreateMany, s->m->xRunCreate, rows, n, err);
}

int weft_store_run_update(struct weft_store *s, const struct weft_run_row *r,
                          weft_error *err) {
  REQUIRE(r && r->id, "run update: the run has no id");
  REQUIRE((unsigned)r->status < WEFT_RUN__COUNT, "run update: invalid status");
  FAULT_POINT(err);
  return s->m->xRunUpdate(s, r, err);
}

int weft_store_run_update_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                               weft_error *err) {
  REQUIRE(!n || rows, "run update: no rows");
  for (size_t i = 0; i < n; i++) {
    REQUIRE(rows[i].id, "run update: the run has no id");
    REQUIRE((unsigned)rows[i].status < WEFT_RUN__COUNT, "run update: invalid status");
  }
  FAULT_POINT(err);
  return runs_at_once(s, s->m->xRunUpdateMany, s->m->xRunUpdate, rows, n, err);
}

int weft_store_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                       weft_error *err) {
  memset(out, 0, sizeof *out);
  REQUIRE(id, "run get: no run id");
  FAULT_POINT(err);
  return s->m->xRunGet(s, id, out, err);
}

int weft_store_run_list(struct weft_store *s, const struct weft_run_filter *f,
                        struct weft_run_list *out, weft_error *err) {
  static const struct weft_run_filter any = {0};
  out->v = NULL;
  out->n = 0;
  REQUIRE(!f || f->limit >= 0, "run list: negative limit");
  REQUIRE(!f || !(f->status_mask & ~((1 << WEFT_RUN__COUNT) - 1)),
          "run list: the status mask has bits of no run status");
  FAULT_POINT(err);
  return s->m->xRunList(s, f ? f : &any, out, err);
}

int weft_store_run_count(struct weft_store *s, int64_t counts[], weft_error *err) {
  for (int i = 0; i < WEFT_RUN__COUNT; i++) counts[i] = 0;
  FAULT_POINT(err);
  return s->m->xRunCount(s, counts, err);
}

int weft_store_step_put(struct weft_store *s, const struct weft_step_row *st,
                        weft_error *err) {
  return weft_store_step_put_many(s, st, 1, err);
}

int weft_store_step_put_many(struct weft_store *s, const struct weft_step_row *st, size_t n,
                             weft_error *err) {
  REQUIRE(st || !n, "step put: no step row");
  for (size_t i = 0; i < n; i++) {
    REQUIRE(st[i].run_id && st[i].step, "step put: the step has no run id or name");
    REQUIRE(st[i].attempt >= 1, "step put: attempts are numbered from 1");
    REQUIRE((unsigned)st[i].status < WEFT_STEP__COUNT, "step put: invalid status");
  }
  FAULT_POINT(err);
  if (n <= 1) return n ? s->m->xStepPut(s, st, n, err) : WEFT_OK;
  /* One statement cannot upsert a key twice (PostgreSQL refuses): keep
   * each key's last row, which is what putting them in turn leaves. */
  struct weft_map last = WEFT_MAP_INIT;
  char **keys = calloc(n, sizeof *keys);
  struct weft_step_row *keep = malloc(n * sizeof *keep);
  size_t k = 0;
  int rc = keys && keep && !weft_map_reserve(&last, n) ? WEFT_OK : WEFT_ENOMEM;
  for (size_t i = 0; !rc && i < n; i++) {
    keys[i] = weft_str_printf("%s/%s/%d", st[i].run_id, st[i].step, st[i].attempt);
    if (!keys[i] || weft_map_set(&last, keys[i], (void *)(uintptr_t)(i + 1))) rc = WEFT_ENOMEM;
  }
  for (size_t i = 0; !rc && i < n; i++)
    if ((uintptr_t)weft_map_get(&last, keys[i]) == i + 1) keep[k++] = st[i];
  if (rc)
    weft_error_set(err, rc, "out of memory");
  else
    rc = s->m->xStepPut(s, keep, k, err);
  weft_map_release(&last);
  for (size_t i = 0; keys && i < n; i++) free(keys[i]);
  free(keys);
  free(keep);
  return rc;
}

int weft_store_step_list(struct weft_store *s, const char *run_id,
                         struct weft_step_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(run_id, "step list: no run id");
  FAULT_POINT(err);
  return s->m->xStepList(s, run_id, out, err);
}

int weft_store_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                            weft_error *err) {
  for (size_t i = 0; i < n; i++) {
    if (!ev[i].run_id || !ev[i].type || !*ev[i].type) {
      return weft_error_set(err, WEFT_EINVALID,
                            "event append: event %zu has no run id or type", i);
    }
  }
  FAULT_POINT(err);
  if (n == 0) return WEFT_OK;
  return s->m->xEventAppend(s, ev, n, err);
}

int weft_store_event_read(struct weft_store *s, const struct weft_event_filter *f,
                          struct weft_event_list *out, weft_error *err) {
  static const struct weft_event_filter all = {0};
  out->v = NULL;
  out->n = 0;
  REQUIRE(!f || f->limit >= 0, "event read: negative limit");
  FAULT_POINT(err);
  return s->m->xEventRead(s, f ? f : &all, out, err);
}

int weft_store_can_notify(const struct weft_store *s) {
  return s->m->xNotify && s->m->xNotifyWait;
}

int weft_store_notify(struct weft_store *s, enum weft_store_channel ch, weft_error *err) {
  if (!weft_store_can_notify(s)) return WEFT_OK; /* nobody waits: they poll */
  FAULT_POINT(err);
  return s->m->xNotify(s, ch, err);
}

int weft_store_notify_wait(struct weft_store *s, enum weft_store_channel ch, int timeout_ms,
                           weft_error *err) {
  if (s->tx_depth)
    return weft_error_set(err, WEFT_EUSAGE,
                          "notify wait inside a transaction would block every writer");
  if (!weft_store_can_notify(s))
    return weft_error_set(err, WEFT_EUSAGE, "the %s store has no notifications: poll it",
                          s->m->name);
  FAULT_POINT(err);
  return s->m->xNotifyWait(s, ch, timeout_ms < 0 ? 0 : timeout_ms, err);
}

int weft_store_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                          weft_error *err) {
  if (s->tx_depth) {
    /* The transaction holds the write lock: nobody could append meanwhile. */
    return weft_error_set(err, WEFT_EUSAGE,
                          "event wait inside a transaction would block every writer");
  }
  FAULT_POINT(err);
  return s->m->xEventWait(s, after_id, timeout_ms < 0 ? 0 : timeout_ms, err);
}

int weft_store_kv_get(struct weft_store *s, const char *key, char **value,
                      weft_error *err) {
  *value = NULL;
  REQUIRE(key, "kv get: no key");
  FAULT_POINT(err);
  return s->m->xKvGet(s, key, value, err);
}

int weft_store_kv_set(struct weft_store *s, const char *key, const char *value,
                      weft_error *err) {
  REQUIRE(key && value, "kv set: no key or value");
  FAULT_POINT(err);
  return s->m->xKvSet(s, key, value, err);
}

int weft_store_kv_delete(struct weft_store *s, const char *key, weft_error *err) {
  REQUIRE(key, "kv delete: no key");
  FAULT_POINT(err);
  return s->m->xKvDelete(s, key, err);
}

int weft_store_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                              weft_error *err) {
  REQUIRE(!n || keys, "kv delete-many: no keys");
  for (size_t i = 0; i < n; i++) REQUIRE(keys[i], "kv delete-many: no key");
  FAULT_POINT(err);
  return n ? s->m->xKvDeleteMany(s, keys, n, err) : WEFT_OK;
}

int weft_store_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err) {
  REQUIRE(prefix && *prefix, "kv delete-prefix: the prefix is empty");
  FAULT_POINT(err);
  return s->m->xKvDeletePrefix(s, prefix, err);
}

int weft_store_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                              const char *value, weft_error *err) {
  REQUIRE(key && value, "kv compare-set: no key or value");
  FAULT_POINT(err);
  return s->m->xKvCompareSet(s, key, expected, value, err);
}

int weft_store_kv_compare_set_many(struct weft_store *s, const char *const *keys,
                                   const char *const *expected, const char *const *values,
                                   size_t n, weft_error *err) {
  REQUIRE(!n || (keys && expected && values), "kv compare-set: no keys, values or expected values");
  for (size_t i = 0; i < n; i++) REQUIRE(keys[i] && values[i], "kv compare-set: no key or value");
  FAULT_POINT(err);
  if (!n) return WEFT_OK;
  /* as runs_at_once: a failure dooms the transaction */
  int rc = weft_store_begin(s, err);
  if (!rc && s->m->xKvCompareSetMany)
    rc = s->m->xKvCompareSetMany(s, keys, expected, values, n, err);
  for (size_t i = 0; !rc && !s->m->xKvCompareSetMany && i < n; i++)
    rc = s->m->xKvCompareSet(s, keys[i], expected[i], values[i], err);
  if (rc) weft_store_rollback(s);
  return rc ? rc : weft_store_commit(s, err);
}

int weft_store_kv_insert_many(struct weft_store *s, const char *const *keys,
                              const char *const *values, size_t n, unsigned char *inserted,
                              weft_error *err) {
  REQUIRE(!n || (keys && values && inserted), "kv insert-many: no keys, values or flags");
  for (size_t i = 0; i < n; i++) REQUIRE(keys[i] && values[i], "kv insert-many: no key or value");
  FAULT_POINT(err);
  return n ? s->m->xKvInsertMany(s, keys, values, n, inserted, err) : WEFT_OK;
}

int weft_store_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                       int limit, struct weft_kv_list *out, weft_error *err) {
  REQUIRE(out, "kv list: no output list");
  out->v = NULL;
  out->n = 0;
  REQUIRE(limit >= 0, "kv list: negative limit");
  FAULT_POINT(err);
  return s->m->xKvList(s, prefix ? prefix : "", after_key, limit, out, err);
}

void *weft__store_list_push(void **v, size_t *n, size_t elem) {
  if (*n == 0 || (*n >= 8 && (*n & (*n - 1)) == 0)) {
    size_t cap = *n ? *n * 2 : 8;
    void *g = realloc(*v, cap * elem);
    if (!g) return NULL;
    *v = g;
  }
  void *slot = (char *)*v + *n * elem;
  memset(slot, 0, elem);
  (*n)++;
  return slot;
}

char *weft__store_prefix_end(const char *prefix, int *ascii) {
  size_t n = strlen(prefix);
  char *end = malloc(n + 5);
  if (!end) return NULL;
  memcpy(end, prefix, n);
  int exact = n && (unsigned char)prefix[n - 1] < 0x7f;
  if (ascii) *ascii = exact;
  if (exact) {
    end[n - 1]++;
    end[n] = 0;
  } else {
    memcpy(end + n, "\xf4\x8f\xbf\xbf", 5); /* U+10FFFF and the terminator */
  }
  return end;
}
