/* run_queue.c: admits QUEUED runs under the run_queue limits: the pure
 * admission plan, the claiming dequeue turn, reasons, and a launcher's wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/run_queue.h"
#include "util/clock.h"
#include "util/map.h"
#include "util/str.h"
#include "util/log.h"

#define ACTIVE_LIMIT 100000 /* runs listed per turn: far beyond any real queue */

int weft_run_queue_config_load(const char *home, struct weft_run_queue_config *out,
                               weft_error *err) {
  struct weft_instance_config c;
  memset(out, 0, sizeof *out);
  int rc = weft_instance_config_load(home, &c, err);
  if (rc) return rc;
  *out = c.run_queue; /* taken over */
  memset(&c.run_queue, 0, sizeof c.run_queue);
  weft_instance_config_release(&c);
  return WEFT_OK;
}

void weft_run_queue_config_release(struct weft_run_queue_config *cfg) {
  struct weft_instance_config c = {0};
  c.run_queue = *cfg;
  weft_instance_config_release(&c);
  memset(cfg, 0, sizeof *cfg);
}

int weft_run_queue_priority(const char *tags) {
  json_t *t = tags ? json_loads(tags, 0, NULL) : NULL;
  const char *v = json_string_value(json_object_get(t, WEFT_RUN_QUEUE_PRIORITY_TAG));
  long p = 0;
  if (v) {
    char *end;
    p = strtol(v, &end, 10);
    if (end == v || *end || p > 1000000000L || p < -1000000000L) p = 0;
  } else if (json_is_integer(json_object_get(t, WEFT_RUN_QUEUE_PRIORITY_TAG))) {
    p = (long)json_integer_value(json_object_get(t, WEFT_RUN_QUEUE_PRIORITY_TAG));
  }
  json_decref(t);
  return (int)p;
}

/* ---- the plan ------------------------------------------------------------------ */

struct cand {
  const struct weft_run_row *run;
  json_t *tags;
  int priority;
};

static int cand_order(const void *pa, const void *pb) {
  const struct cand *a = pa, *b = pb;
  if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
  if (a->run->created_ms != b->run->created_ms)
    return a->run->created_ms < b->run->created_ms ? -1 : 1;
  return strcmp(a->run->id, b->run->id);
}

static json_t *row_tags(const struct weft_run_row *r) {
  json_t *t = r->tags ? json_loads(r->tags, 0, NULL) : NULL;
  if (!json_is_object(t)) {
    json_decref(t);
    t = json_object();
  }
  return t;
}

/* How many of the counted runs carry key=value. */
static int count_tag(json_t *const *counted, size_t n, const char *key, const char *value) {
  int c = 0;
  for (size_t i = 0; i < n; i++) {
    const char *v = json_string_value(json_object_get(counted[i], key));
    if (v && !strcmp(v, value)) c++;
  }
  return c;
}

int weft_run_queue_plan(const struct weft_run_queue_config *cfg,
                        const struct weft_run_row *in_progress, size_t n_in_progress,
                        const struct weft_run_row *queued, size_t n_queued,
                        struct weft_run_queue_decision *out, weft_error *err) {
  size_t n_counted = 0;
  struct cand *c = calloc(n_queued + 1, sizeof *c);
  json_t **counted = calloc(n_in_progress + n_queued + 1, sizeof *counted);
  int rc = WEFT_OK;
  if (!c || !counted) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory planning the run queue");
    goto done;
  }
  for (size_t i = 0; i < n_in_progress; i++)
    if (!(counted[n_counted++] = row_tags(&in_progress[i]))) goto nomem;
  for (size_t i = 0; i < n_queued; i++) {
    c[i].run = &queued[i];
    if (!(c[i].tags = row_tags(&queued[i]))) goto nomem;
    c[i].priority = weft_run_queue_priority(queued[i].tags);
  }
  qsort(c, n_queued, sizeof *c, cand_order);
  int max = cfg ? cfg->max_concurrent_runs : 0;
  size_t n_limits = cfg ? cfg->n_tag_limits : 0;
  for (size_t i = 0; i < n_queued; i++) {
    struct weft_run_queue_decision *d = &out[i];
    memset(d, 0, sizeof *d);
    d->run = c[i].run;
    d->tag_limit = -1;
    if (max > 0 && (int)n_counted >= max) {
      d->in_progress = (int)n_counted;
      d->limit = max;
      snprintf(d->reason, sizeof d->reason,
               "waiting: %d/%d runs in progress (max_concurrent_runs)", d->in_progress, max);
      continue;
    }
    int blocked = 0;
    for (size_t l = 0; l < n_limits && !blocked; l++) {
      const struct weft_tag_limit *tl = &cfg->tag_limits[l];
      const char *mine = json_string_value(json_object_get(c[i].tags, tl->key));
      if (!mine || (tl->value && strcmp(mine, tl->value))) continue;
      int used = count_tag(counted, n_counted, tl->key, mine);
      if (used < tl->limit) continue;
      blocked = 1;
      d->tag_limit = (int)l;
      d->in_progress = used;
      d->limit = tl->limit;
      snprintf(d->reason, sizeof d->reason, "waiting: %d/%d runs with tag %s=%s in progress",
               used, tl->limit, tl->key, mine);
    }
    if (blocked) continue;
    d->admit = 1;
    snprintf(d->reason, sizeof d->reason, "next in line");
    counted[n_counted++] = json_incref(c[i].tags);
  }
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory planning the run queue");
done:
  for (size_t i = 0; c && i < n_queued; i++) json_decref(c[i].tags);
  for (size_t i = 0; counted && i < n_counted; i++) json_decref(counted[i]);
  free(c);
  free(counted);
  return rc;
}

/* ---- the state of the queue, as one turn reads it ----------------------------------- */

struct qstate {
  struct weft_run_list active; /* QUEUED, STARTED, CANCELING */
  struct weft_kv_list claims;
  struct weft_run_row *ip; /* shallow copies: in progress (started or claimed) */
  size_t n_ip;
  struct weft_run_row *q; /* shallow copies: queued and unclaimed */
  size_t n_q;
  struct weft_run_row **claimed; /* claimed QUEUED runs (into active) */
  size_t n_claimed;
  char **drop; /* claim keys to delete: run left QUEUED, or stale */
  size_t n_drop;
};

static void qstate_release(struct qstate *st) {
  weft_run_list_release(&st->active);
  weft_kv_list_release(&st->claims);
  free(st->ip);
  free(st->q);
  free(st->claimed);
  free(st->drop);
  memset(st, 0, sizeof *st);
}

/* A claim of a still QUEUED run is stale after WEFT_RUN_QUEUE_CLAIM_STALE_MS
 * when neither its claimer nor a coordinator the run names lives (here;
 * another host's are taken for dead by then). */
static int claim_is_stale(const char *value, const struct weft_run_row *r, int64_t now_ms) {
  json_t *v = value ? json_loads(value, 0, NULL) : NULL;
  int64_t at = (int64_t)json_integer_value(json_object_get(v, "at_ms"));
  const char *by = json_string_value(json_object_get(v, "by"));
  int stale = now_ms - at > WEFT_RUN_QUEUE_CLAIM_STALE_MS && weft_coordinator_alive(by) != 1 &&
              (!r->coordinator || weft_coordinator_alive(r->coordinator) != 1);
  json_decref(v);
  return stale;
}

/* Reads the active runs and the claims; sorts them into in progress,
 * claimed, queued, and claims to drop. Without limits nothing counts runs
 * in progress: only the queued ones are read (a thousand runs in flight
 * cost every turn a read of their rows and tags). */
static int qstate_load(struct weft_store *s, int64_t now_ms,
                       const struct weft_run_queue_config *cfg, struct qstate *st,
                       weft_error *err) {
  struct weft_run_filter f = {0};
  struct weft_map by_id = WEFT_MAP_INIT, claimed = WEFT_MAP_INIT;
  f.status_mask = 1 << WEFT_RUN_QUEUED;
  if (cfg && weft_run_queue_config_limited(cfg))
    f.status_mask |= (1 << WEFT_RUN_STARTED) | (1 << WEFT_RUN_CANCELING);
  f.limit = ACTIVE_LIMIT;
  int rc = weft_store_run_list(s, &f, &st->active, err);
  if (!rc) rc = weft_store_kv_list(s, WEFT_RUN_QUEUE_CLAIM_PREFIX, NULL, 0, &st->claims, err);
  if (rc) goto done;
  size_t n = st->active.n;
  st->ip = calloc(n + 1, sizeof *st->ip);
  st->q = calloc(n + 1, sizeof *st->q);
  st->claimed = calloc(n + 1, sizeof *st->claimed);
  st->drop = calloc(st->claims.n + 1, sizeof *st->drop);
  if (!st->ip || !st->q || !st->claimed || !st->drop || weft_map_reserve(&by_id, n)) goto nomem;
  for (size_t i = 0; i < n; i++)
    if (weft_map_put(&by_id, st->active.v[i].id, &st->active.v[i]) == WEFT_ENOMEM) goto nomem;
  size_t plen = strlen(WEFT_RUN_QUEUE_CLAIM_PREFIX);
  for (size_t i = 0; i < st->claims.n; i++) {
    const char *id = st->claims.v[i].key + plen;
    struct weft_run_row *r = weft_map_get(&by_id, id);
    if (!r || r->status != WEFT_RUN_QUEUED || claim_is_stale(st->claims.v[i].value, r, now_ms)) {
      st->drop[st->n_drop++] = st->claims.v[i].key;
      continue;
    }
    if (weft_map_put(&claimed, r->id, r) == WEFT_ENOMEM) goto nomem;
    st->claimed[st->n_claimed++] = r;
  }
  /* Oldest first, so the claimed list reads in launch order. */
  for (size_t i = n; i-- > 0;) {
    struct weft_run_row *r = &st->active.v[i];
    if (r->status != WEFT_RUN_QUEUED)
      st->ip[st->n_ip++] = *r;
    else if (weft_map_get(&claimed, r->id))
      st->ip[st->n_ip++] = *r;
    else
      st->q[st->n_q++] = *r;
  }
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory reading the run queue");
done:
  weft_map_release(&by_id);
  weft_map_release(&claimed);
  if (rc) qstate_release(st);
  return rc;
}

/* ---- dequeuing ------------------------------------------------------------------ */

static char *claim_value(int64_t now_ms) {
  char *me = weft_coordinator_id();
  char *v = me ? weft_str_printf("{\"by\":\"%s\",\"at_ms\":%lld}", me, (long long)now_ms)
               : NULL;
  free(me);
  return v;
}

static int claim_key(char *buf, size_t size, const char *run_id) {
  return snprintf(buf, size, "%s%s", WEFT_RUN_QUEUE_CLAIM_PREFIX, run_id) < (int)size;
}

static int steps_key(char *buf, size_t size, const char *run_id) {
  return snprintf(buf, size, "%s%s", WEFT_RUN_QUEUE_STEPS_PREFIX, run_id) < (int)size;
}

static int self_key(char *buf, size_t size, const char *run_id) {
  return snprintf(buf, size, "%s%s", WEFT_RUN_QUEUE_SELF_PREFIX, run_id) < (int)size;
}

/* Drops the claims of st->drop, and the steps of runs that left QUEUED. */
static int drop_claims(struct weft_store *s, const struct qstate *st, weft_error *err) {
  size_t plen = strlen(WEFT_RUN_QUEUE_CLAIM_PREFIX);
  for (size_t i = 0; i < st->n_drop; i++) {
    char key[256];
    int rc = weft_store_kv_delete(s, st->drop[i], err);
    if (!rc && steps_key(key, sizeof key, st->drop[i] + plen)) {
      /* a stale claim's run is still queued and keeps its steps */
      int queued = 0;
      for (size_t j = 0; j < st->n_q && !queued; j++)
        queued = !strcmp(st->q[j].id, st->drop[i] + plen);
      if (!queued) rc = weft_store_kv_delete(s, key, err);
      if (!rc && !queued && self_key(key, sizeof key, st->drop[i] + plen))
        rc = weft_store_kv_delete(s, key, err);
    }
    if (rc) return rc;
  }
  return WEFT_OK;
}

struct admitted {
  const struct weft_run_row *run;
  char *in_run;
  int self;   /* its launcher coordinates it: no spawn */
  int handed; /* to a coordinator service, in the turn's transaction */
};

/* Claims an admitted run: for its launcher when one waits for it (the
 * "queue/self/RUN" marker names a live process), else for this process. */
static int claim_admitted(struct weft_store *s, const char *run_id, int64_t now_ms,
                          const char *mine, struct admitted *a, weft_error *err) {
  char key[256], *self = NULL, *other = NULL;
  int rc = WEFT_OK;
  if (self_key(key, sizeof key, run_id)) {
    rc = weft_store_kv_get(s, key, &self, err);
    if (rc == WEFT_ENOTFOUND) rc = WEFT_OK;
    if (rc) return rc;
    if (self && weft_coordinator_alive(self) == 0) {
      free(self); /* the launcher died: any dequeuer may start it */
      self = NULL;
      if ((rc = weft_store_kv_delete(s, key, err))) return rc;
    }
  }
  if (self && !(other = weft_str_printf("{\"by\":\"%s\",\"at_ms\":%lld}", self,
                                        (long long)now_ms))) {
    free(self);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  claim_key(key, sizeof key, run_id);
  rc = weft_store_kv_compare_set(s, key, NULL, other ? other : mine, err);
  a->self = self != NULL;
  free(self);
  free(other);
  return rc;
}

/* Whether there is anything to do at all, read outside a transaction so an
 * idle turn takes no write lock. */
static int queue_idle(struct weft_store *s, weft_error *err) {
  struct weft_run_filter f = {0};
  struct weft_run_list l = {0};
  struct weft_kv_list k = {0};
  f.status_mask = 1 << WEFT_RUN_QUEUED;
  f.limit = 1;
  int rc = weft_store_run_list(s, &f, &l, err);
  if (!rc) rc = weft_store_kv_list(s, WEFT_RUN_QUEUE_CLAIM_PREFIX, NULL, 1, &k, err);
  int idle = !rc && l.n == 0 && k.n == 0;
  weft_run_list_release(&l);
  weft_kv_list_release(&k);
  return rc ? rc : idle;
}

int weft_run_queue_dequeue(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                           int64_t now_ms, weft_run_queue_spawn_fn spawn, void *spawn_data,
                           size_t *n_started, weft_error *err) {
  struct weft_run_queue_starter start = {.spawn = spawn, .data = spawn_data};
  return weft_run_queue_dequeue_with(inst, cfg, now_ms, &start, n_started, err);
}

int weft_run_queue_dequeue_with(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                                int64_t now_ms, const struct weft_run_queue_starter *start,
                                size_t *n_started, weft_error *err) {
  struct weft_store *s = inst->store;
  weft_run_queue_spawn_fn spawn = start->spawn;
  void *spawn_data = start->data;
  struct qstate st = {0};
  struct weft_run_queue_decision *d = NULL;
  struct admitted *adm = NULL;
  size_t n_adm = 0, started = 0;
  char *value = NULL;
  int in_tx = 0;
  if (n_started) *n_started = 0;
  int rc = queue_idle(s, err);
  if (rc) return rc < 0 ? rc : WEFT_OK;
  if ((rc = weft_store_begin(s, err))) return rc;
  in_tx = 1;
  if ((rc = qstate_load(s, now_ms, cfg, &st, err)) || (rc = drop_claims(s, &st, err))) goto done;
  d = calloc(st.n_q + 1, sizeof *d);
  adm = calloc(st.n_q + 1, sizeof *adm);
  if (!d || !adm || !(value = claim_value(now_ms))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory dequeuing runs");
    goto done;
  }
  if ((rc = weft_run_queue_plan(cfg, st.ip, st.n_ip, st.q, st.n_q, d, err))) goto done;
  for (size_t i = 0; i < st.n_q; i++) {
    if (!d[i].admit) continue;
    char key[256];
    rc = claim_admitted(s, d[i].run->id, now_ms, value, &adm[n_adm], err);
    if (rc == WEFT_ECONFLICT) { /* cannot happen under the write lock; be safe */
      rc = WEFT_OK;
      continue;
    }
    if (rc) goto done;
    adm[n_adm].run = d[i].run;
    if (steps_key(key, sizeof key, d[i].run->id)) {
      rc = weft_store_kv_get(s, key, &adm[n_adm].in_run, err);
      if (rc == WEFT_ENOTFOUND) rc = WEFT_OK;
      if (rc) goto done;
    }
    if (start->hand && !adm[n_adm].self) {
      int h = start->hand(spawn_data, inst, d[i].run, adm[n_adm].in_run, err);
      if (h < 0) {
        rc = h;
        n_adm++; /* its in_run is freed with the others */
        goto done;
      }
      adm[n_adm].handed = h == 1;
    }
    n_adm++;
  }
  rc = weft_store_commit(s, err);
  in_tx = 0;
  if (rc) goto done;
  for (size_t i = 0; i < n_adm; i++) {
    weft_error e = WEFT_ERROR_INIT;
    const char *id = adm[i].run->id;
    if (adm[i].self) continue;
    if (adm[i].handed) {
      started++;
      continue;
    }
    if (!spawn || !spawn(spawn_data, inst, adm[i].run, adm[i].in_run, &e)) {
      started++;
      continue;
    }
    char key[256];
    claim_key(key, sizeof key, id);
    struct weft_log_fields lf = {.run = id, .text_prefix = "weft: "};
    weft_log(WEFT_LOG_ERROR, &lf, "run queue: run %s: %s", id, e.msg);
    weft_error e2 = WEFT_ERROR_INIT;
    int arc = weft_run_abandon(inst, id, e.msg, &e2);
    if (arc && arc != WEFT_ECONFLICT) weft_log(WEFT_LOG_ERROR, &lf, "run queue: run %s: %s", id, e2.msg);
    weft_store_kv_delete(s, key, &e2);
  }
done:
  if (in_tx) {
    if (rc) weft_store_rollback(s);
  }
  if (n_started) *n_started = started;
  for (size_t i = 0; adm && i < n_adm; i++) free(adm[i].in_run);
  free(adm);
  free(d);
  free(value);
  qstate_release(&st);
  return rc;
}

int weft_run_queue_claim_in_tx(struct weft_store *s, const char *run_id, int64_t now_ms,
                               const char *also_key, const char *also_value,
                               weft_error *err) {
  const char *also_keys[1] = {also_key}, *also_values[1] = {also_value};
  return weft_run_queue_claim_many_in_tx(s, &run_id, 1, now_ms, also_key ? also_keys : NULL,
                                         also_values, err);
}

int weft_run_queue_claim_many_in_tx(struct weft_store *s, const char *const *run_ids, size_t n,
                                    int64_t now_ms, const char *const *also_keys,
                                    const char *const *also_values, weft_error *err) {
  size_t m = also_keys ? 2 * n : n;
  char *value = claim_value(now_ms), (*keys)[256] = calloc(n ? n : 1, sizeof *keys);
  const char **k = calloc(m ? m : 1, sizeof *k), **v = calloc(m ? m : 1, sizeof *v);
  unsigned char *in = calloc(m ? m : 1, 1);
  int rc = value && keys && k && v && in ? WEFT_OK
                                         : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    if (!claim_key(keys[i], sizeof keys[i], run_ids[i])) {
      rc = weft_error_set(err, WEFT_EINVALID, "run id too long");
      break;
    }
    k[i] = keys[i];
    v[i] = value;
    if (also_keys) {
      k[n + i] = also_keys[i];
      v[n + i] = also_values[i];
    }
  }
  /* Every key of new runs is absent: one statement (a round trip on
   * PostgreSQL) for all of them. */
  if (!rc) rc = weft_store_kv_insert_many(s, k, v, m, in, err);
  for (size_t i = 0; !rc && i < n; i++)
    if (!in[i])
      rc = weft_error_set(err, WEFT_ECONFLICT,
                          "run %s is already being started by another process", run_ids[i]);
  for (size_t i = n; !rc && i < m; i++)
    if (!in[i]) rc = weft_store_kv_set(s, k[i], v[i], err);
  free(value);
  free(keys);
  free(k);
  free(v);
  free(in);
  return rc;
}

int weft_run_queue_claim(struct weft_instance *inst, const char *run_id, int64_t now_ms,
                         weft_error *err) {
  struct weft_store *s = inst->store;
  struct weft_run_row r = {0};
  int rc = weft_store_begin(s, err);
  if (rc) return rc;
  if (!(rc = weft_store_run_get(s, run_id, &r, err)) && r.status != WEFT_RUN_QUEUED)
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", run_id,
                        weft_run_status_name(r.status));
  if (!rc) rc = weft_run_queue_claim_in_tx(s, run_id, now_ms, NULL, NULL, err);
  if (rc)
    weft_store_rollback(s);
  else
    rc = weft_store_commit(s, err);
  weft_run_row_release(&r);
  return rc;
}

int weft_run_queue_enqueue(struct weft_instance *inst, const char *run_id, weft_error *err) {
  struct weft_store *s = inst->store;
  struct weft_run_row r = {0};
  int rc = weft_store_begin(s, err);
  if (rc) return rc;
  if (!(rc = weft_store_run_get(s, run_id, &r, err))) {
    if (r.status != WEFT_RUN_QUEUED) {
      rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not queued", run_id,
                          weft_run_status_name(r.status));
    } else {
      free(r.coordinator);
      r.coordinator = NULL;
      r.heartbeat_ms = 0;
      rc = weft_store_run_update(s, &r, err);
    }
  }
  weft_run_row_release(&r);
  if (rc) {
    weft_store_rollback(s);
    return rc;
  }
  return weft_store_commit(s, err);
}

int weft_run_queue_launched(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                            const char *run_id, int detach, int *wait, weft_error *err) {
  char key[256], *me = NULL;
  *wait = 0;
  if (!weft_run_queue_config_limited(cfg))
    return weft_run_queue_claim(inst, run_id, weft_clock_wall_ms(), err);
  if (detach) return weft_run_queue_enqueue(inst, run_id, err);
  if (!self_key(key, sizeof key, run_id) || !(me = weft_coordinator_id()))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_set(inst->store, key, me, err);
  free(me);
  *wait = !rc;
  return rc;
}

int weft_run_queue_set_steps(struct weft_instance *inst, const char *run_id,
                             const char *in_run, weft_error *err) {
  char key[256];
  if (!steps_key(key, sizeof key, run_id))
    return weft_error_set(err, WEFT_EINVALID, "run id too long");
  return weft_store_kv_set(inst->store, key, in_run, err);
}

/* ---- explaining ------------------------------------------------------------------ */

void weft_run_queue_waits_release(struct weft_run_queue_waits *w) {
  for (size_t i = 0; i < w->n; i++) {
    free(w->v[i].run_id);
    free(w->v[i].reason);
  }
  free(w->v);
  memset(w, 0, sizeof *w);
}

const char *weft_run_queue_waits_find(const struct weft_run_queue_waits *w,
                                      const char *run_id) {
  for (size_t i = 0; w && run_id && i < w->n; i++)
    if (!strcmp(w->v[i].run_id, run_id)) return w->v[i].reason;
  return NULL;
}

static int add_wait(struct weft_run_queue_waits *w, const char *id, const char *reason) {
  struct weft_run_queue_wait *x = &w->v[w->n];
  x->run_id = weft_str_dup(id);
  x->reason = weft_str_dup(reason);
  if (!x->run_id || !x->reason) {
    free(x->run_id);
    free(x->reason);
    return WEFT_ENOMEM;
  }
  w->n++;
  return WEFT_OK;
}

int weft_run_queue_explain(struct weft_store *store, const struct weft_run_queue_config *cfg,
                           struct weft_run_queue_waits *out, weft_error *err) {
  struct qstate st = {0};
  struct weft_run_queue_decision *d = NULL;
  memset(out, 0, sizeof *out);
  int rc = qstate_load(store, weft_clock_wall_ms(), cfg, &st, err);
  if (rc) return rc;
  /* A stale claim is dropped by the next turn: its run counts as queued. */
  d = calloc(st.n_q + 1, sizeof *d);
  out->v = calloc(st.n_q + st.n_claimed + 1, sizeof *out->v);
  if (!d || !out->v) goto nomem;
  if ((rc = weft_run_queue_plan(cfg, st.ip, st.n_ip, st.q, st.n_q, d, err))) goto done;
  for (size_t i = 0; i < st.n_claimed; i++)
    if (add_wait(out, st.claimed[i]->id, "starting")) goto nomem;
  for (size_t i = 0; i < st.n_q; i++)
    if (add_wait(out, d[i].run->id, d[i].reason)) goto nomem;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory explaining the run queue");
done:
  if (rc) weft_run_queue_waits_release(out);
  free(d);
  qstate_release(&st);
  return rc;
}

int weft_run_queue_explain_run(struct weft_store *store, const struct weft_run_queue_config *cfg,
                               const struct weft_run_row *run, struct weft_run_queue_waits *out,
                               weft_error *err) {
  if (weft_run_queue_config_limited(cfg)) return weft_run_queue_explain(store, cfg, out, err);
  /* Without limits a turn admits every queued run: it waits only for its
   * claim's holder to start it, or for the next turn. */
  char key[256], *claim = NULL;
  memset(out, 0, sizeof *out);
  if (run->status != WEFT_RUN_QUEUED) return WEFT_OK;
  claim_key(key, sizeof key, run->id);
  int rc = weft_store_kv_get(store, key, &claim, err);
  if (rc && rc != WEFT_ENOTFOUND) return rc;
  int starting = claim && !claim_is_stale(claim, run, weft_clock_wall_ms());
  free(claim);
  if (!(out->v = calloc(1, sizeof *out->v)) ||
      add_wait(out, run->id, starting ? "starting" : "next in line")) {
    weft_run_queue_waits_release(out);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory explaining the run queue");
  }
  return WEFT_OK;
}

/* ---- waiting for one's turn ---------------------------------------------------------- */

/* 1 when run_id's claim names me, 0 when not (or no claim), < 0 on error. */
static int claimed_by(struct weft_store *s, const char *run_id, const char *me,
                      weft_error *err) {
  char key[256], *v = NULL;
  claim_key(key, sizeof key, run_id);
  int rc = weft_store_kv_get(s, key, &v, err);
  if (rc) return rc == WEFT_ENOTFOUND ? 0 : rc;
  json_t *j = json_loads(v, 0, NULL);
  const char *by = json_string_value(json_object_get(j, "by"));
  int mine = by && !strcmp(by, me);
  json_decref(j);
  free(v);
  return mine;
}

/* Moves *cursor to the newest event; returns 1 when there were new ones. */
static int catch_up(struct weft_store *s, int64_t *cursor, weft_error *err) {
  int moved = 0;
  for (;;) {
    struct weft_event_filter f = {.after_id = *cursor, .limit = 1000};
    struct weft_event_list l = {0};
    int rc = weft_store_event_read(s, &f, &l, err);
    if (rc) return rc;
    if (l.n) {
      *cursor = l.v[l.n - 1].id;
      moved = 1;
    }
    size_t n = l.n;
    weft_event_list_release(&l);
    if (n < 1000) return moved;
  }
}

int weft_run_queue_wait_turn(struct weft_instance *inst, const struct weft_run_queue_config *cfg,
                             const char *run_id, weft_run_queue_spawn_fn spawn, void *spawn_data,
                             void (*on_reason)(void *data, const char *reason), void *cb_data,
                             volatile sig_atomic_t *interrupt, weft_error *err) {
  struct weft_store *s = inst->store;
  char last[200] = "", key[256];
  int64_t cursor = 0;
  char *me = weft_coordinator_id();
  int rc;
  if (!me || !self_key(key, sizeof key, run_id))
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  /* Start the cursor at the run's own first event: older ones do not matter. */
  struct weft_event_filter f = {.run_id = run_id, .limit = 1};
  struct weft_event_list first = {0};
  if ((rc = weft_store_event_read(s, &f, &first, err))) goto done;
  if (first.n) cursor = first.v[0].id;
  weft_event_list_release(&first);
  if ((rc = weft_store_kv_set(s, key, me, err))) goto done;
  for (;;) {
    if (interrupt && *interrupt) {
      weft_error e = WEFT_ERROR_INIT;
      rc = weft_run_request_cancel(inst, run_id, "canceled while queued (interrupted)", &e);
      if (rc && rc != WEFT_ECONFLICT)
        rc = weft_error_set(err, rc, "%s", e.msg);
      else
        rc = weft_error_set(err, WEFT_ECANCELED, "run %s was canceled while queued", run_id);
      break;
    }
    if ((rc = weft_run_queue_dequeue(inst, cfg, weft_clock_wall_ms(), spawn, spawn_data, NULL,
                                     err)))
      break;
    if ((rc = claimed_by(s, run_id, me, err)) != 0) {
      if (rc > 0) rc = WEFT_OK; /* our turn */
      break;
    }
    struct weft_run_queue_waits w = {0};
    if ((rc = weft_run_queue_explain(s, cfg, &w, err))) break;
    const char *why = weft_run_queue_waits_find(&w, run_id);
    if (!why) {
      weft_run_queue_waits_release(&w);
      struct weft_run_row r = {0};
      if ((rc = weft_store_run_get(s, run_id, &r, err))) break;
      rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, no longer queued", run_id,
                          weft_run_status_name(r.status));
      weft_run_row_release(&r);
      break;
    }
    if (strcmp(why, last)) {
      snprintf(last, sizeof last, "%s", why);
      if (on_reason) on_reason(cb_data, why);
    }
    weft_run_queue_waits_release(&w);
    /* Sleep until something happens (a run ends: a slot frees) or 250 ms. */
    if ((rc = catch_up(s, &cursor, err)) < 0) break;
    if (rc == 0 && weft_store_event_wait(s, cursor, 250, err) < 0) weft_clock_sleep_ms(250);
  }
  /* The marker matters only while we wait. */
  weft_error e2 = WEFT_ERROR_INIT;
  if (rc) weft_store_kv_delete(s, key, &e2);
done:
  free(me);
  return rc;
}
