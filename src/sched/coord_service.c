/* coord_service.c: the coordinator role (coord_service.h): heartbeat,
 * taking runs from the store's inbox, one loop driving them all. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/code_snapshot.h"
#include "engine/coord_loop.h"
#include "sched/coord_service.h"
#include "sched/inbox_bell.h"
#include "sched/run_queue.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/map.h"
#include "util/str.h"

#define HEARTBEAT_MS 1000
#define INBOX_TAKE_MAX 512   /* runs taken per read of the inbox: the loop claims and starts them
                              * before the next read. 1,000 due at once: each commit is
                              * shared by more runs (a commit waits for the scheduler's
                              * chunk of 128 to commit first); 128 gave a p50 to the
                              * first step 15-20% later */
#define INBOX_POLL_MS 5      /* the inbox read without a bell */
#define INBOX_BELL_POLL_MS 1000 /* and with one, for hand-overs that did not ring */
#define CODE_CACHE_MS 60000  /* a loaded location no run uses is kept this long
                              * (WEFT_COORD_CODE_CACHE_MS: tests) */
#define STOP_GRACE_MS 1500   /* after the heartbeat is gone: launchers that saw it */

/* ---- launchers' side ---------------------------------------------------------- */

static pthread_mutex_t up_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t up_checked_ms = -1;
static int up_cached;

int weft_coord_service_up(struct weft_instance *inst) {
  int64_t now = weft_clock_mono_ms();
  pthread_mutex_lock(&up_mu);
  if (up_checked_ms >= 0 && now - up_checked_ms < 1000) {
    int up = up_cached;
    pthread_mutex_unlock(&up_mu);
    return up;
  }
  pthread_mutex_unlock(&up_mu);
  struct weft_kv_list l = {0};
  weft_error e = WEFT_ERROR_INIT;
  int up = 0;
  int64_t wall = weft_clock_wall_ms();
  if (!weft_store_kv_list(inst->store, WEFT_COORD_SERVICE_PREFIX, NULL, 16, &l, &e))
    for (size_t i = 0; i < l.n && !up; i++)
      up = wall - l.v[i].updated_ms < WEFT_COORD_SERVICE_STALE_MS;
  weft_kv_list_release(&l);
  pthread_mutex_lock(&up_mu);
  up_checked_ms = now;
  up_cached = up;
  pthread_mutex_unlock(&up_mu);
  return up;
}

int weft_coord_handoff(struct weft_instance *inst, const char *run_id, const char *in_run,
                       weft_error *err) {
  int rc = weft_store_begin(inst->store, err);
  if (rc) return rc;
  if ((rc = weft_coord_handoff_in_tx(inst, run_id, in_run, err))) {
    weft_store_rollback(inst->store);
    return rc;
  }
  return weft_store_commit(inst->store, err);
}

int weft_coord_handoff_in_tx(struct weft_instance *inst, const char *run_id, const char *in_run,
                             weft_error *err) {
  struct weft_run_row r = {0};
  int rc;
  /* Nobody drives it until a service takes it: no coordinator, as a run
   * waiting in the run queue, so no sweep takes it for orphaned when the
   * launcher exits first (`weft launch --detach`). */
  if (!(rc = weft_store_run_get(inst->store, run_id, &r, err))) {
    if (r.status != WEFT_RUN_QUEUED) {
      rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", run_id,
                          weft_run_status_name(r.status));
    } else {
      free(r.coordinator);
      r.coordinator = NULL;
      r.heartbeat_ms = 0;
      rc = weft_store_run_update(inst->store, &r, err);
    }
  }
  weft_run_row_release(&r);
  return rc ? rc : weft_coord_handoff_unowned_in_tx(inst, run_id, in_run, err);
}

int weft_coord_inbox_key(char *buf, size_t size, const char *run_id, weft_error *err) {
  if ((size_t)snprintf(buf, size, "%s%s", WEFT_COORD_INBOX_PREFIX, run_id) >= size)
    return weft_error_set(err, WEFT_EINVALID, "run id too long");
  return WEFT_OK;
}

int weft_coord_handoff_unowned_in_tx(struct weft_instance *inst, const char *run_id,
                                     const char *in_run, weft_error *err) {
  char key[256];
  int rc = weft_coord_inbox_key(key, sizeof key, run_id, err);
  if (!rc) rc = weft_store_kv_set(inst->store, key, in_run ? in_run : "", err);
  if (!rc) rc = weft_store_notify(inst->store, WEFT_STORE_CHANNEL_INBOX, err);
  return rc;
}

/* Returns 1 when service id heartbeated within WEFT_COORD_SERVICE_STALE_MS. */
static int service_alive(const struct weft_kv_list *svcs, const char *id, size_t id_len,
                         int64_t wall) {
  size_t plen = strlen(WEFT_COORD_SERVICE_PREFIX);
  for (size_t i = 0; i < svcs->n; i++) {
    const char *k = svcs->v[i].key + plen;
    if (strlen(k) == id_len && !memcmp(k, id, id_len))
      return wall - svcs->v[i].updated_ms < WEFT_COORD_SERVICE_STALE_MS;
  }
  return 0;
}

/* A run a service took from the inbox and that is still QUEUED once the
 * service is gone (killed between the take and the run's first commit)
 * goes back to the inbox, its lease (if that service claimed one) freed.
 * Taken entries of runs that left QUEUED are dropped. */
static void settle_taken(struct weft_instance *inst, int64_t wall) {
  struct weft_kv_list l = {0}, svcs = {0};
  weft_error e = WEFT_ERROR_INIT;
  size_t plen = strlen(WEFT_COORD_TAKEN_PREFIX), drop = 0;
  char *queued = NULL;
  if (weft_store_kv_list(inst->store, WEFT_COORD_TAKEN_PREFIX, NULL, 1000, &l, &e) || !l.n ||
      weft_store_kv_list(inst->store, WEFT_COORD_SERVICE_PREFIX, NULL, 256, &svcs, &e))
    goto done;
  if (!(queued = calloc(l.n, 1))) goto done;
  for (size_t i = 0; i < l.n; i++) {
    struct weft_run_row run = {0};
    int gone = weft_store_run_get(inst->store, l.v[i].key + plen, &run, &e);
    queued[i] = !gone && run.status == WEFT_RUN_QUEUED;
    drop += !queued[i];
    weft_run_row_release(&run);
  }
  /* Every run a service started leaves its entry here: dropped in one
   * commit, not one each (a run that left QUEUED never goes back). */
  if (drop && !weft_store_begin(inst->store, &e)) {
    int rc = WEFT_OK;
    for (size_t i = 0; !rc && i < l.n; i++) {
      /* Gone already: another dequeuer's reap dropped it. */
      int d = queued[i] ? WEFT_OK : weft_store_kv_delete(inst->store, l.v[i].key, &e);
      if (d != WEFT_ENOTFOUND) rc = d;
    }
    if (rc) weft_store_rollback(inst->store);
    else weft_store_commit(inst->store, &e);
  }
  for (size_t i = 0; i < l.n; i++) {
    const char *id = l.v[i].key + plen, *v = l.v[i].value ? l.v[i].value : "";
    const char *nl = strchr(v, '\n');
    size_t owner_len = nl ? (size_t)(nl - v) : strlen(v);
    if (!queued[i]) continue;
    if (wall - l.v[i].updated_ms < WEFT_COORD_SERVICE_STALE_MS) continue;
    char ikey[256], *owner = strndup(v, owner_len), *cur = NULL;
    if (!owner) continue;
    /* Gone: on this host, no such process (a service whose heartbeat is
     * late because the store was down is still alive); on another, a stale
     * heartbeat. Either way a lease it still holds says it may go on. */
    int alive = weft_coordinator_alive(owner);
    struct weft_run_lease lease = {0};
    int held = !weft_store_lease_get(inst->store, id, &lease, &e) && lease.expires_ms > wall;
    weft_run_lease_release(&lease);
    if (alive == 1 || held || (alive < 0 && service_alive(&svcs, v, owner_len, wall)) ||
        (size_t)snprintf(ikey, sizeof ikey, "%s%s", WEFT_COORD_INBOX_PREFIX, id) >= sizeof ikey ||
        weft_store_begin(inst->store, &e)) {
      free(owner);
      continue;
    }
    /* Still as listed (no other reclaimer moved it), then moved in one
     * transaction. */
    int rc = weft_store_kv_get(inst->store, l.v[i].key, &cur, &e);
    if (!rc && strcmp(cur, v)) rc = WEFT_ECONFLICT;
    if (!rc) rc = weft_store_kv_delete(inst->store, l.v[i].key, &e);
    if (!rc) {
      int lr = weft_store_lease_release(inst->store, id, owner, &e);
      if (lr != WEFT_ENOTFOUND) rc = lr;
    }
    if (!rc) rc = weft_store_kv_set(inst->store, ikey, nl ? nl + 1 : "", &e);
    if (!rc) rc = weft_store_notify(inst->store, WEFT_STORE_CHANNEL_INBOX, &e);
    if (rc) weft_store_rollback(inst->store);
    else if (!weft_store_commit(inst->store, &e))
      weft_log_run(WEFT_LOG_WARN, id, NULL,
                   "run %s: its coordinator service %s died before starting it: handed over again",
                   id, owner);
    free(cur);
    free(owner);
  }
done:
  free(queued);
  weft_kv_list_release(&svcs);
  weft_kv_list_release(&l);
}

size_t weft_coord_inbox_reclaim(struct weft_instance *inst,
                                int (*fn)(void *data, struct weft_instance *inst,
                                          const struct weft_run_row *run, const char *in_run,
                                          weft_error *err),
                                void *data) {
  struct weft_kv_list l = {0};
  weft_error e = WEFT_ERROR_INIT;
  size_t n = 0;
  int64_t wall = weft_clock_wall_ms();
  if (weft_store_kv_list(inst->store, WEFT_COORD_INBOX_PREFIX, NULL, 200, &l, &e)) return 0;
  for (size_t i = 0; i < l.n; i++) {
    if (wall - l.v[i].updated_ms < WEFT_COORD_SERVICE_STALE_MS) continue;
    const char *id = l.v[i].key + strlen(WEFT_COORD_INBOX_PREFIX);
    struct weft_run_row run = {0};
    /* Whoever deletes the entry owns the run (a service may take it now). */
    if (weft_store_kv_delete(inst->store, l.v[i].key, &e)) continue;
    if (!weft_store_run_get(inst->store, id, &run, &e) && run.status == WEFT_RUN_QUEUED &&
        !fn(data, inst, &run, l.v[i].value && *l.v[i].value ? l.v[i].value : NULL, &e))
      n++;
    weft_run_row_release(&run);
  }
  weft_kv_list_release(&l);
  settle_taken(inst, wall);
  return n;
}

/* ---- the service ------------------------------------------------------------------ */

/* A location loaded from a code snapshot, shared by every run of that
 * version (parsing it per run would cost more than driving a short run).
 * A snapshot never changes; it is dropped once no run uses it and none
 * took it for CODE_CACHE_MS (live reloads make a version per edit: kept
 * for the service's life, they added up). */
struct code_entry {
  char *key; /* the map's key */
  struct weft_location *loc;
  size_t users;         /* runs driven here that hold it */
  int64_t last_used_ms; /* monotonic */
};

struct svc {
  struct weft_instance *inst;
  const struct weft_coord_service_opts *o;
  struct weft_coord_loop *lp;
  struct weft_map code; /* "VERSION\nLOCATION" -> struct code_entry */
  int64_t code_keep_ms; /* CODE_CACHE_MS */
  char *id, *key;       /* our id; our heartbeat key */
  struct weft_inbox_bell *bell; /* NULL: the inbox is polled */
  size_t taken, ended;
  size_t taken_on_ring; /* of taken: read from the inbox because the bell rang */
  /* Runs taken whose lease this loop has not claimed yet: their inbox
   * entries are still there (on_claimed deletes them), and the next read
   * of the inbox must not take them twice. A tick's worth at most. */
  struct svc_run **awaiting;
  size_t n_awaiting, cap_awaiting;
  /* Keys the runs claimed in the open transaction leave behind (their
   * inbox entries, run queue claims, step lists): deleted together just
   * before it commits (on_claims_end). */
  char **gone;
  size_t n_gone, cap_gone;
};

/* What a run driven here owns until it ends. */
struct svc_run {
  struct svc *svc;
  struct weft_run_row run;
  struct code_entry *code;
  struct weft_run_config rc;
  int have_rc;
  unsigned char *in_run;
  struct weft_launch l;
};

static int awaiting_add(struct svc *s, struct svc_run *r) {
  if (s->n_awaiting == s->cap_awaiting) {
    size_t cap = s->cap_awaiting ? 2 * s->cap_awaiting : 64;
    struct svc_run **v = realloc(s->awaiting, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    s->awaiting = v;
    s->cap_awaiting = cap;
  }
  s->awaiting[s->n_awaiting++] = r;
  return WEFT_OK;
}

static void awaiting_drop(struct svc *s, struct svc_run *r) {
  for (size_t i = 0; i < s->n_awaiting; i++)
    if (s->awaiting[i] == r) {
      s->awaiting[i] = s->awaiting[--s->n_awaiting];
      return;
    }
}

static int awaiting_has(const struct svc *s, const char *run_id) {
  for (size_t i = 0; i < s->n_awaiting; i++)
    if (!strcmp(s->awaiting[i]->run.id, run_id)) return 1;
  return 0;
}

/* Deletes key PREFIX+run_id; absent is fine. */
static int delete_key(struct weft_store *st, const char *prefix, const char *run_id,
                      weft_error *err) {
  char key[300];
  if ((size_t)snprintf(key, sizeof key, "%s%s", prefix, run_id) >= sizeof key)
    return weft_error_set(err, WEFT_EINVALID, "run id too long");
  int rc = weft_store_kv_delete(st, key, err);
  return rc == WEFT_ENOTFOUND ? WEFT_OK : rc;
}

static void svc_run_free(struct svc_run *r) {
  if (!r) return;
  if (r->code) {
    r->code->users--;
    r->code->last_used_ms = weft_clock_mono_ms();
  }
  if (r->have_rc) weft_run_config_release(&r->rc);
  free(r->in_run);
  weft_run_row_release(&r->run);
  free(r);
}

static void on_done(void *data, const char *run_id, enum weft_run_status final, int rc,
                    const char *msg) {
  struct svc_run *r = data;
  awaiting_drop(r->svc, r);
  r->svc->ended++;
  if (!r->svc->o->quiet) {
    if (rc) printf("run %s: %s: %s\n", run_id, weft_run_status_name(final), msg ? msg : "");
    else printf("run %s: %s\n", run_id, weft_run_status_name(final));
  }
  svc_run_free(r);
}

/* The location of run's code version, from the cache or loaded now. */
static struct code_entry *code_get(struct svc *s, const struct weft_run_row *run,
                                   weft_error *err) {
  char *key = weft_str_printf("%s\n%s", run->code_version, run->location ? run->location : "");
  if (!key) return NULL;
  struct code_entry *ce = weft_map_get(&s->code, key);
  if (ce) {
    free(key);
    ce->users++;
    ce->last_used_ms = weft_clock_mono_ms();
    return ce;
  }
  const struct weft_job *job = NULL;
  if (!(ce = calloc(1, sizeof *ce)) ||
      weft_code_load_run_job(s->inst, run, 1, &ce->loc, &job, err) ||
      weft_map_put(&s->code, key, ce)) {
    if (ce) weft_location_free(ce->loc);
    free(ce);
    free(key);
    if (!err->code) weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  ce->key = key;
  ce->users = 1;
  ce->last_used_ms = weft_clock_mono_ms();
  return ce;
}

static void code_entry_free(struct code_entry *ce) {
  weft_location_free(ce->loc);
  free(ce->key);
  free(ce);
}

/* Drops the locations no run used for CODE_CACHE_MS (all of them: stop). */
static void code_sweep(struct svc *s, int all) {
  int64_t now = weft_clock_mono_ms();
  size_t pos = 0, stale = 0;
  const char *k;
  void *v;
  while (weft_map_next(&s->code, &pos, &k, &v)) {
    struct code_entry *ce = v;
    stale += all || (!ce->users && now - ce->last_used_ms >= s->code_keep_ms);
  }
  if (!stale) return;
  /* The entries kept go to a new map first: out of memory, none is
   * dropped (runs may hold them) and the next sweep tries again. */
  struct weft_map kept = WEFT_MAP_INIT;
  pos = 0;
  while (!all && weft_map_next(&s->code, &pos, &k, &v)) {
    struct code_entry *ce = v;
    if ((ce->users || now - ce->last_used_ms < s->code_keep_ms) &&
        weft_map_put(&kept, ce->key, ce)) {
      weft_map_release(&kept);
      return;
    }
  }
  pos = 0;
  while (weft_map_next(&s->code, &pos, &k, &v)) {
    struct code_entry *ce = v;
    if (all || (!ce->users && now - ce->last_used_ms >= s->code_keep_ms)) code_entry_free(ce);
  }
  weft_map_release(&s->code);
  s->code = kept;
}

static int gone_add(struct svc *s, const char *prefix, const char *run_id) {
  if (s->n_gone == s->cap_gone) {
    size_t cap = s->cap_gone ? 2 * s->cap_gone : 64;
    char **v = realloc(s->gone, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    s->gone = v;
    s->cap_gone = cap;
  }
  char *key = weft_str_printf("%s%s", prefix, run_id);
  if (!key) return WEFT_ENOMEM;
  s->gone[s->n_gone++] = key;
  return WEFT_OK;
}

/* In the commit that claims the run's lease and records it started: its
 * inbox entry, its run queue claim and step list go. Till then the entry
 * stays, so a service killed before that commit leaves the run in the
 * inbox for another (or for the reclaim), and two services that took it
 * both are settled by the lease: one claims it, the other lets it go.
 * The keys are gathered here and deleted by on_claims_end, one statement
 * for all the runs the commit claims. */
static int on_claimed(void *data, const char *run_id, weft_error *err) {
  struct svc_run *r = data;
  struct svc *s = r->svc;
  awaiting_drop(s, r);
  if (gone_add(s, WEFT_COORD_INBOX_PREFIX, run_id) ||
      gone_add(s, WEFT_RUN_QUEUE_CLAIM_PREFIX, run_id) ||
      (r->in_run && gone_add(s, WEFT_RUN_QUEUE_STEPS_PREFIX, run_id)))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  return WEFT_OK;
}

static int on_claims_end(void *ctx, int write, weft_error *err) {
  struct svc *s = ctx;
  int rc = write ? weft_store_kv_delete_many(s->inst->store, (const char *const *)s->gone,
                                             s->n_gone, err)
                 : WEFT_OK;
  for (size_t i = 0; i < s->n_gone; i++) free(s->gone[i]);
  s->n_gone = 0;
  return rc;
}

/* Starts driving run id (taken from the inbox). A run that cannot start
 * is failed with why. */
static int take_run(struct svc *s, const char *id, const char *in_run_arg) {
  weft_error err = WEFT_ERROR_INIT;
  struct svc_run *r = calloc(1, sizeof *r);
  struct weft_diags diags = WEFT_DIAGS_INIT;
  const char *why = NULL;
  if (!r) return 0;
  r->svc = s;
  if (weft_store_run_get(s->inst->store, id, &r->run, &err) || r->run.status != WEFT_RUN_QUEUED)
    goto drop; /* canceled while it waited, or gone */
  if (!r->run.code_version) {
    why = "it has no code version (the coordinator service loads jobs from snapshots)";
    goto fail;
  }
  if (!(r->code = code_get(s, &r->run, &err))) {
    why = err.msg;
    goto fail;
  }
  const struct weft_job *job = weft_location_find_job(r->code->loc, r->run.job);
  if (!job) {
    why = "its job is not in its code version";
    goto fail;
  }
  if (weft_run_config_from_row(job, &r->run, &r->rc, &diags)) {
    why = "its run config no longer fits the job";
    goto fail;
  }
  r->have_rc = 1;
  if (in_run_arg && *in_run_arg) {
    char *copy = weft_str_dup(in_run_arg), *save = NULL;
    r->in_run = calloc(job->n_ops + 1, 1);
    if (!copy || !r->in_run) {
      free(copy);
      why = "out of memory";
      goto fail;
    }
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      long i = weft_job_find_invocation(job, t);
      if (i >= 0) r->in_run[i] = 1;
    }
    free(copy);
  }
  r->l = (struct weft_launch){.job = job, .rc = &r->rc, .parent_run_id = r->run.parent_run_id,
                              .in_run = r->in_run, .row = &r->run};
  weft_diags_release(&diags);
  if (awaiting_add(s, r)) {
    why = "out of memory";
    goto fail;
  }
  s->taken++;
  /* From here the loop owns r: on_done frees it, also when it cannot start
   * (then the entry stays: the next read finds the run not queued, or
   * retries it). */
  weft_coord_loop_add(s->lp, id, &r->l, on_done, r, &err);
  return 1;
fail:
  if (weft_run_abandon(s->inst, id, why, &err) == WEFT_OK && !s->o->quiet)
    printf("run %s: failure: %s\n", id, why);
drop:
  /* Nothing will start it here: its entry goes (a run gone or no longer
   * queued would be read again at every look). */
  delete_key(s->inst->store, WEFT_COORD_INBOX_PREFIX, id, &err);
  weft_diags_release(&diags);
  svc_run_free(r);
  return 0;
}

/* Takes what the inbox holds and is not taken yet: each run goes to the
 * loop, and its entry is deleted in the commit that claims its lease
 * (on_claimed), with no transaction of its own. */
static size_t take_inbox(struct svc *s, int *full) {
  struct weft_kv_list l = {0};
  weft_error e = WEFT_ERROR_INIT;
  size_t n = 0, plen = strlen(WEFT_COORD_INBOX_PREFIX);
  *full = 0;
  if (weft_store_kv_list(s->inst->store, WEFT_COORD_INBOX_PREFIX, NULL, INBOX_TAKE_MAX, &l, &e))
    return 0;
  *full = l.n == INBOX_TAKE_MAX;
  for (size_t i = 0; i < l.n; i++)
    if (!awaiting_has(s, l.v[i].key + plen))
      n += (size_t)take_run(s, l.v[i].key + plen, l.v[i].value);
  weft_kv_list_release(&l);
  return n;
}

static void heartbeat(struct svc *s) {
  char value[200];
  weft_error e = WEFT_ERROR_INIT;
  snprintf(value, sizeof value,
           "{\"runs\":%zu,\"taken\":%zu,\"ended\":%zu,\"inbox\":\"%s\",\"taken_on_ring\":%zu,"
           "\"code_versions\":%zu}",
           weft_coord_loop_count(s->lp), s->taken, s->ended, s->bell ? "notify" : "poll",
           s->taken_on_ring, s->code.n);
  weft_store_kv_set(s->inst->store, s->key, value, &e);
}

int weft_coord_service_run(struct weft_instance *inst, const struct weft_coord_service_opts *o,
                           weft_error *err) {
  struct svc s = {.inst = inst, .o = o, .code_keep_ms = CODE_CACHE_MS};
  const char *keep = getenv("WEFT_COORD_CODE_CACHE_MS");
  if (keep && *keep) s.code_keep_ms = strtoll(keep, NULL, 10);
  int rc = weft_coord_loop_new(inst, &s.lp, err);
  if (rc) return rc;
  weft_coord_loop_set_claimed(s.lp, on_claimed, on_claims_end, &s);
  s.id = weft_coordinator_id();
  s.key = s.id ? weft_str_printf("%s%s", WEFT_COORD_SERVICE_PREFIX, s.id) : NULL;
  if (!s.key) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  /* On a store that notifies, a hand-over rings the bell and the inbox is
   * read then (and once a second, for a writer that did not ring); else
   * it is read every 5 ms (SQLite: a local index). */
  weft_error be = WEFT_ERROR_INIT;
  if (weft_store_can_notify(inst->store) &&
      (!(s.bell = weft_inbox_bell_start(inst, &be)) ||
       weft_coord_loop_watch_wake(s.lp, weft_inbox_bell_fd(s.bell), &be))) {
    weft_log_warn("coordinator: reading the inbox every %d ms: %s", INBOX_POLL_MS, be.msg);
    weft_inbox_bell_stop(s.bell);
    s.bell = NULL;
  }
  int poll_ms = s.bell ? INBOX_BELL_POLL_MS : INBOX_POLL_MS;
  heartbeat(&s);
  if (!o->quiet) printf("coordinator %s: taking runs\n", s.id);
  fflush(stdout);
  int64_t next_hb = weft_clock_mono_ms() + HEARTBEAT_MS, next_inbox = 0;
  while (!*o->stop) {
    int64_t now = weft_clock_mono_ms();
    if (now >= next_hb) {
      code_sweep(&s, 0);
      heartbeat(&s);
      next_hb = now + HEARTBEAT_MS;
    }
    /* The inbox is read when rung or polled, and at once again after a
     * full read. */
    int rung = s.bell && weft_inbox_bell_take(s.bell);
    if (rung || now >= next_inbox) {
      int full;
      size_t got = take_inbox(&s, &full);
      if (rung) s.taken_on_ring += got;
      /* Read again at once only after a read cut short that took
       * something: entries stay until their runs' claims commit (at the
       * next tick), and listing them again every tick was a quarter of
       * the service's time in a burst; with a bell each hand-over rings. */
      next_inbox = full && got ? now : now + poll_ms;
    }
    int wait = weft_coord_loop_count(s.lp) ? 2 : 5;
    if (s.bell && !weft_coord_loop_count(s.lp)) {
      /* Idle: asleep until rung, the next poll or the next heartbeat. */
      int64_t until = next_inbox < next_hb ? next_inbox : next_hb;
      now = weft_clock_mono_ms();
      wait = until > now ? (int)(until - now) : 0;
    }
    weft_coord_loop_tick(s.lp, wait);
    fflush(stdout);
  }
  /* Stopping: launchers spawn again once the heartbeat is gone; what they
   * handed over just before is still taken. */
  weft_error e = WEFT_ERROR_INIT;
  weft_store_kv_delete(inst->store, s.key, &e);
  /* The drain below reads the inbox every tick: the bell would only end
   * every wait at once. */
  weft_coord_loop_watch_wake(s.lp, -1, &e);
  int drain = o->drain_ms > 0 ? o->drain_ms : 10000;
  int64_t t0 = weft_clock_mono_ms(), grace_end = t0 + STOP_GRACE_MS, cancel_at = t0 + drain;
  int canceled = 0;
  for (;;) {
    int64_t now = weft_clock_mono_ms();
    int full;
    if (now < grace_end) take_inbox(&s, &full);
    else if (!weft_coord_loop_count(s.lp)) break;
    if (!canceled && now >= cancel_at) {
      canceled = 1;
      weft_coord_loop_cancel_all(s.lp, "the coordinator service stopped");
    }
    weft_coord_loop_tick(s.lp, 2);
  }
  if (!o->quiet) printf("coordinator %s: stopped (%zu runs taken)\n", s.id, s.taken);
done:
  weft_coord_loop_free(s.lp);
  weft_inbox_bell_stop(s.bell);
  code_sweep(&s, 1);
  free(s.key);
  free(s.id);
  free(s.awaiting);
  on_claims_end(&s, 0, NULL);
  free(s.gone);
  return rc;
}

/* ---- embedded in another service ---------------------------------------------------- */

struct weft_coord_service_thread {
  pthread_t thread;
  struct weft_instance *inst; /* its own: a store handle is one thread's */
  volatile sig_atomic_t stop;
  struct weft_coord_service_opts o;
  int rc;
  weft_error err;
};

static void *service_thread(void *data) {
  struct weft_coord_service_thread *t = data;
  t->rc = weft_coord_service_run(t->inst, &t->o, &t->err);
  return NULL;
}

struct weft_coord_service_thread *weft_coord_service_start(const char *home, weft_error *err) {
  struct weft_coord_service_thread *t = calloc(1, sizeof *t);
  if (!t) {
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  t->o = (struct weft_coord_service_opts){.stop = &t->stop, .quiet = 1};
  t->err = (weft_error)WEFT_ERROR_INIT;
  if (weft_instance_open(home, &t->inst, err)) {
    free(t);
    return NULL;
  }
  if (pthread_create(&t->thread, NULL, service_thread, t)) {
    weft_error_set(err, WEFT_EIO, "cannot start the coordinator thread");
    weft_instance_close(t->inst);
    free(t);
    return NULL;
  }
  return t;
}

void weft_coord_service_stop(struct weft_coord_service_thread *t) {
  if (!t) return;
  t->stop = 1;
  pthread_join(t->thread, NULL);
  weft_instance_close(t->inst);
  free(t);
}
