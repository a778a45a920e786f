/* retention.c: applies the retention policy: finds runs that ended long
 * enough ago (store scan, oldest first), decides per run what its job's
 * rule removes, and removes it: files first (artifact store objects, the
 * run's work folders), then rows in bounded batches (events, then the run
 * with its steps). Everything it removes is counted for the report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/retention.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/str.h"

#define SCAN_BATCH 200

/* ---- keep_last: the newest N runs of each job -------------------------------- */

struct keep_job {
  char *job;
  struct weft_run_list newest;
};

struct pass {
  struct weft_instance *inst;
  const struct weft_retention *pol;
  const struct weft_retention_opts *o;
  struct weft_retention_report *rep;
  int batch;
  struct keep_job *keep;
  size_t n_keep;
  /* parents left for the end of the pass: removable but for re-executions */
  struct weft_retention_cand *deferred;
  size_t n_deferred;
  /* the parents of runs removed in this pass (dry: that would be; NULL
   * entries for runs that are no re-execution), for the deferred parents */
  char **removed_parents;
  size_t n_removed;
  int deleted; /* runs really deleted: the stamp is updated at the end */
  int64_t now; /* the ages count from it */
};

static int in_keep_last(struct pass *p, const char *job, const char *id, int keep_last,
                        int *kept, weft_error *err) {
  *kept = 0;
  if (keep_last <= 0) return WEFT_OK;
  struct keep_job *k = NULL;
  for (size_t i = 0; i < p->n_keep; i++)
    if (!strcmp(p->keep[i].job, job)) k = &p->keep[i];
  if (!k) {
    struct keep_job *g = realloc(p->keep, (p->n_keep + 1) * sizeof *g);
    if (!g) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    p->keep = g;
    k = &g[p->n_keep];
    memset(k, 0, sizeof *k);
    if (!(k->job = strdup(job))) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
    p->n_keep++;
    struct weft_run_filter f = {.job = job, .limit = keep_last};
    int rc = weft_store_run_list(p->inst->store, &f, &k->newest, err);
    if (rc) return rc;
  }
  for (size_t i = 0; i < k->newest.n; i++)
    if (!strcmp(k->newest.v[i].id, id)) *kept = 1;
  return WEFT_OK;
}

/* ---- files ------------------------------------------------------------------ */

static int is_log_key(const char *key) {
  return weft_str_has_suffix(key, "/stdout.log") || weft_str_has_suffix(key, "/stderr.log") ||
         strstr(key, ".log.chunks/") != NULL;
}

/* Removes (dry: counts) the run's objects in the artifact store: logs
 * (want_logs) and/or outputs (want_outputs). */
static int trim_store(struct pass *p, const char *run_id, int want_logs, int want_outputs,
                      weft_error *err) {
  struct weft_artifact_list l = {0};
  char *prefix = weft_str_printf("%s/", run_id);
  int rc = prefix ? weft_artifacts_list(p->inst->artifacts, prefix, &l, err)
                  : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < l.n; i++) {
    int log = is_log_key(l.v[i]);
    if (log ? !want_logs : !want_outputs) continue;
    int exists = 0;
    int64_t size = 0;
    if ((rc = weft_artifacts_head(p->inst->artifacts, l.v[i], &exists, &size, err))) break;
    if (!exists) continue;
    if (!p->o->dry_run && (rc = weft_artifacts_delete(p->inst->artifacts, l.v[i], err))) break;
    if (log) p->rep->log_files++;
    else p->rep->artifacts++;
    p->rep->bytes += size;
  }
  weft_artifact_list_release(&l);
  free(prefix);
  return rc;
}

/* Removes (dry: counts) a file or folder of a work folder. */
static int remove_path(struct pass *p, const char *path, int is_log, weft_error *err) {
  struct stat st;
  if (lstat(path, &st)) return WEFT_OK;
  p->rep->bytes += (int64_t)weft_fs_tree_bytes(path);
  if (is_log) p->rep->log_files++;
  return p->o->dry_run ? WEFT_OK : weft_fs_remove_tree(path, err);
}

/* In each attempt folder runs/RUN/STEP/ATTEMPT: the logs (want_logs), the
 * inputs/ and outputs/ copies (want_outputs). */
static int trim_folders(struct pass *p, const char *run_id, int want_logs, int want_outputs,
                        weft_error *err) {
  static const char *const logs[] = {"stdout.log", "stderr.log"};
  static const char *const outs[] = {"inputs", "outputs"};
  char *dir = weft_fs_join(p->inst->runs_dir, run_id), **steps = NULL;
  int rc = WEFT_OK;
  if (!dir) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!weft_fs_is_dir(dir) || weft_fs_list_dir(dir, NULL, &steps, err) < 0 || !steps) goto done;
  for (char **s = steps; !rc && *s; s++) {
    char *sdir = weft_fs_join(dir, *s), **atts = NULL;
    if (sdir && weft_fs_is_dir(sdir) && weft_fs_list_dir(sdir, NULL, &atts, err) >= 0 && atts) {
      for (char **a = atts; !rc && *a; a++) {
        char *adir = weft_fs_join(sdir, *a);
        for (int k = 0; adir && !rc && k < 2; k++) {
          char *f = weft_fs_join(adir, want_logs ? logs[k] : outs[k]);
          if (want_logs && f) rc = remove_path(p, f, 1, err);
          free(f);
          if (!rc && want_outputs && (f = weft_fs_join(adir, outs[k]))) {
            rc = remove_path(p, f, 0, err);
            free(f);
          }
        }
        free(adir);
      }
    }
    weft_fs_free_list(atts);
    free(sdir);
  }
done:
  weft_fs_free_list(steps);
  free(dir);
  return rc;
}

/* ---- rows -------------------------------------------------------------------- */

static int purge_events(struct pass *p, const char *run_id, enum weft_event_purge_kind kind,
                        int64_t *count, weft_error *err) {
  int64_t n = 0;
  if (p->o->dry_run) {
    int rc = weft_store_event_count(p->inst->store, run_id, kind, &n, err);
    *count += n;
    return rc;
  }
  do {
    int rc = weft_store_event_purge(p->inst->store, run_id, kind, p->batch, &n, err);
    if (rc) return rc;
    *count += n;
  } while (n == p->batch);
  return WEFT_OK;
}

static void note(struct pass *p, const char *what, const struct weft_retention_cand *c) {
  if (p->o->on_item) p->o->on_item(p->o->data, what, c->id, c->job, c->status);
}

/* The whole run: objects, folder, events, then the row. A run that became
 * protected meanwhile (pinned, re-executed) is left, as kept. */
static int remove_run(struct pass *p, const struct weft_retention_cand *c, weft_error *err) {
  struct weft_retention_report before = *p->rep;
  int rc = trim_store(p, c->id, 1, 1, err);
  char *dir = rc ? NULL : weft_fs_join(p->inst->runs_dir, c->id);
  if (!rc && !dir) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (!rc) {
    /* its log files count as logs, the rest as bytes; a dry run still
     * has the logs in the folder, so they are not counted twice */
    int64_t b0 = p->rep->bytes;
    rc = trim_folders(p, c->id, 1, 0, err);
    int64_t log_bytes = p->rep->bytes - b0;
    if (!rc) rc = remove_path(p, dir, 0, err);
    if (!rc && p->o->dry_run) p->rep->bytes -= log_bytes;
  }
  free(dir);
  if (!rc) rc = purge_events(p, c->id, WEFT_EVENTS_ALL, &p->rep->events, err);
  if (!rc && !p->o->dry_run) {
    int64_t steps = 0;
    rc = weft_store_run_delete(p->inst->store, c->id, &steps, err);
    p->rep->steps += steps;
    if (rc == WEFT_ECONFLICT) {
      /* pinned or re-executed since the scan: what went is gone, the
       * run and its remaining rows stay */
      p->rep->kept_pinned++;
      return WEFT_OK;
    }
  } else if (!rc) {
    struct weft_step_list sl = {0};
    rc = weft_store_step_list(p->inst->store, c->id, &sl, err);
    p->rep->steps += (int64_t)sl.n;
    weft_step_list_release(&sl);
  }
  if (rc) {
    *p->rep = before;
    return rc;
  }
  p->rep->runs[c->status]++;
  p->deleted += !p->o->dry_run;
  char **g = realloc(p->removed_parents, (p->n_removed + 1) * sizeof *g);
  if (!g) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  p->removed_parents = g;
  g[p->n_removed] = c->parent_run_id ? strdup(c->parent_run_id) : NULL;
  if (c->parent_run_id && !g[p->n_removed])
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  p->n_removed++;
  note(p, "run", c);
  return WEFT_OK;
}

/* How many re-executions of id this pass removed. */
static int64_t removed_children(const struct pass *p, const char *id) {
  int64_t n = 0;
  for (size_t i = 0; i < p->n_removed; i++)
    if (p->removed_parents[i] && !strcmp(p->removed_parents[i], id)) n++;
  return n;
}

/* The parts of kept run c that rule r says are old enough: its debug
 * events, its logs, its artifacts (not while a re-execution may read
 * them); each part once (the purged marks). */
static int trim_parts(struct pass *p, const struct weft_retention_cand *c,
                      const struct weft_retention_rule *r, int64_t age, weft_error *err) {
  unsigned done = 0;
  int rc;
  if (r->events_debug_ms >= 0 && age >= r->events_debug_ms && !(c->purged & WEFT_PURGED_DEBUG)) {
    int64_t before = p->rep->debug_events;
    if ((rc = purge_events(p, c->id, WEFT_EVENTS_DEBUG, &p->rep->debug_events, err))) return rc;
    if (p->rep->debug_events > before) note(p, "events_debug", c);
    done |= WEFT_PURGED_DEBUG;
  }
  if (r->logs_ms >= 0 && age >= r->logs_ms && !(c->purged & WEFT_PURGED_LOGS)) {
    int64_t before = p->rep->log_files;
    if ((rc = trim_store(p, c->id, 1, 0, err)) || (rc = trim_folders(p, c->id, 1, 0, err)))
      return rc;
    if (p->rep->log_files > before) note(p, "logs", c);
    done |= WEFT_PURGED_LOGS;
  }
  if (r->artifacts_ms >= 0 && age >= r->artifacts_ms && !c->children &&
      !(c->purged & WEFT_PURGED_ARTIFACTS)) {
    int64_t before = p->rep->artifacts;
    if ((rc = trim_store(p, c->id, 0, 1, err)) || (rc = trim_folders(p, c->id, 0, 1, err)))
      return rc;
    if (p->rep->artifacts > before) note(p, "artifacts", c);
    done |= WEFT_PURGED_ARTIFACTS;
  }
  if (done && !p->o->dry_run) {
    rc = weft_store_run_mark_set(p->inst->store, c->id, -1, done, err);
    if (rc != WEFT_ENOTFOUND) return rc; /* ENOTFOUND: deleted meanwhile */
  }
  return WEFT_OK;
}

/* Decides and applies the rule of c's job. */
static int apply_one(struct pass *p, const struct weft_retention_cand *c, int64_t now,
                     weft_error *err) {
  struct weft_retention_rule r = weft_retention_for(p->pol, c->job);
  int64_t age = now - c->ended_ms;
  int64_t ttl = c->status == WEFT_RUN_SUCCESS ? r.success_ms : r.failure_ms;
  int rc, kept_last = 0;
  if (c->pinned) {
    if (ttl >= 0 && age >= ttl) p->rep->kept_pinned++;
    return WEFT_OK; /* nothing of a pinned run */
  }
  if ((rc = in_keep_last(p, c->job, c->id, r.keep_last, &kept_last, err))) return rc;
  if (ttl >= 0 && age >= ttl) {
    if (kept_last) {
      p->rep->kept_last++;
    } else if (c->children > 0) {
      /* decided at the end of the pass (finish_deferred) */
      struct weft_retention_cand *g =
          realloc(p->deferred, (p->n_deferred + 1) * sizeof *g);
      if (!g) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
      p->deferred = g;
      g[p->n_deferred] = *c;
      g[p->n_deferred].id = strdup(c->id);
      g[p->n_deferred].job = strdup(c->job);
      g[p->n_deferred].parent_run_id = c->parent_run_id ? strdup(c->parent_run_id) : NULL;
      p->n_deferred++;
      if (!g[p->n_deferred - 1].id || !g[p->n_deferred - 1].job ||
          (c->parent_run_id && !g[p->n_deferred - 1].parent_run_id))
        return weft_error_set(err, WEFT_ENOMEM, "out of memory");
      return WEFT_OK;
    } else {
      return remove_run(p, c, err);
    }
  }
  return trim_parts(p, c, &r, age, err);
}

/* Deferred parents whose every re-execution went in this pass go too
 * (repeated: a chain goes from its newest end). The rest are kept. */
static int finish_deferred(struct pass *p, weft_error *err) {
  int progress = 1, rc = WEFT_OK;
  while (progress && !rc) {
    progress = 0;
    for (size_t i = 0; !rc && i < p->n_deferred; i++) {
      struct weft_retention_cand *c = &p->deferred[i];
      if (!c->id) continue;
      if (removed_children(p, c->id) < c->children) continue;
      rc = remove_run(p, c, err);
      free(c->id);
      c->id = NULL;
      progress = 1;
    }
  }
  /* The rest stay for their re-executions: only their parts go. */
  for (size_t i = 0; !rc && i < p->n_deferred; i++) {
    struct weft_retention_cand *c = &p->deferred[i];
    if (!c->id) continue;
    p->rep->kept_reexec++;
    struct weft_retention_rule r = weft_retention_for(p->pol, c->job);
    rc = trim_parts(p, c, &r, p->now - c->ended_ms, err);
  }
  return rc;
}

/* Tells cached pages of runs that some are gone (WEFT_RETENTION_STAMP_KEY). */
static int stamp(struct pass *p, int rc, weft_error *err) {
  char now[24];
  if (!p->deleted) return rc;
  snprintf(now, sizeof now, "%lld", (long long)weft_clock_wall_ms());
  weft_error e2 = WEFT_ERROR_INIT;
  int src = weft_store_kv_set(p->inst->store, WEFT_RETENTION_STAMP_KEY, now, rc ? &e2 : err);
  return rc ? rc : src;
}

static void pass_release(struct pass *p) {
  for (size_t i = 0; i < p->n_keep; i++) {
    free(p->keep[i].job);
    weft_run_list_release(&p->keep[i].newest);
  }
  free(p->keep);
  struct weft_retention_cand_list d = {p->deferred, p->n_deferred};
  weft_retention_cand_list_release(&d);
  for (size_t i = 0; i < p->n_removed; i++) free(p->removed_parents[i]);
  free(p->removed_parents);
}

int weft_retention_apply(struct weft_instance *inst, const struct weft_retention *pol,
                         const struct weft_retention_opts *opts,
                         struct weft_retention_report *rep, weft_error *err) {
  static const struct weft_retention_opts defaults = {0};
  const struct weft_retention_opts *o = opts ? opts : &defaults;
  struct pass p = {.inst = inst, .pol = pol, .o = o, .rep = rep,
                   .batch = o->batch > 0 ? o->batch : 500};
  memset(rep, 0, sizeof *rep);
  int64_t now = o->now_ms ? o->now_ms : weft_clock_wall_ms();
  p.now = now;
  int64_t min_age = weft_retention_min_age_ms(pol);
  int64_t after_ended = o->cursor && o->cursor->id[0] ? o->cursor->ended_ms : 0;
  char *after_id = o->cursor && o->cursor->id[0] ? strdup(o->cursor->id) : NULL;
  int rc = o->cursor && o->cursor->id[0] && !after_id
               ? weft_error_set(err, WEFT_ENOMEM, "out of memory")
               : WEFT_OK;
  if (min_age < 0) {
    rep->complete = 1;
    if (o->cursor) o->cursor->id[0] = '\0';
    free(after_id);
    return rc;
  }
  for (;;) {
    struct weft_retention_cand_list l = {0};
    if ((rc = weft_store_retention_scan(inst->store, now - min_age + 1, after_ended, after_id,
                                        SCAN_BATCH, &l, err)))
      break;
    for (size_t i = 0; !rc && i < l.n; i++) rc = apply_one(&p, &l.v[i], now, err);
    size_t n = l.n;
    if (n) {
      free(after_id);
      after_ended = l.v[n - 1].ended_ms;
      after_id = strdup(l.v[n - 1].id);
      if (!after_id && !rc) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    }
    weft_retention_cand_list_release(&l);
    if (rc) break;
    if (n < SCAN_BATCH) {
      rep->complete = 1;
      break;
    }
    if (o->deadline_ms && weft_clock_mono_ms() >= o->deadline_ms) break;
  }
  if (!rc) rc = finish_deferred(&p, err);
  rc = stamp(&p, rc, err);
  if (o->cursor && !rc) {
    o->cursor->ended_ms = rep->complete ? 0 : after_ended;
    snprintf(o->cursor->id, sizeof o->cursor->id, "%s",
             rep->complete || !after_id ? "" : after_id);
  }
  free(after_id);
  pass_release(&p);
  return rc;
}

int weft_retention_delete_run(struct weft_instance *inst, const struct weft_retention *pol,
                              const char *run_id, int dry_run,
                              struct weft_retention_report *rep, weft_error *err) {
  struct weft_retention_opts o = {.dry_run = dry_run};
  struct pass p = {.inst = inst, .pol = pol, .o = &o, .rep = rep, .batch = 500};
  struct weft_run_row run = {0};
  struct weft_retention_cand c = {0};
  int pinned = 0, kept = 0;
  unsigned purged = 0;
  int rc = weft_store_run_get(inst->store, run_id, &run, err);
  if (rc == WEFT_ENOTFOUND) rc = weft_error_set(err, rc, "no run %s", run_id);
  if (rc) return rc;
  if (!weft_run_status_is_final(run.status)) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is %s, not finished", run_id,
                        weft_run_status_name(run.status));
    goto done;
  }
  if ((rc = weft_store_run_mark_get(inst->store, run_id, &pinned, &purged, err))) goto done;
  if (pinned) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s is pinned (weft run unpin %s)", run_id,
                        run_id);
    goto done;
  }
  struct weft_retention_rule r = pol ? weft_retention_for(pol, run.job)
                                     : (struct weft_retention_rule){.keep_last = -1};
  if ((rc = in_keep_last(&p, run.job, run_id, r.keep_last, &kept, err))) goto done;
  if (kept) {
    rc = weft_error_set(err, WEFT_ECONFLICT,
                        "run %s is among the %d newest runs of job %s (retention keep_last)",
                        run_id, r.keep_last, run.job);
    goto done;
  }
  c = (struct weft_retention_cand){.id = run.id, .job = run.job,
                                   .parent_run_id = run.parent_run_id, .status = run.status,
                                   .created_ms = run.created_ms, .ended_ms = run.ended_ms};
  /* The store refuses a run with a re-execution; ask before removing files. */
  struct weft_retention_cand_list l = {0};
  if ((rc = weft_store_retention_scan(inst->store, run.ended_ms + 1, run.ended_ms - 1, "", 1000,
                                      &l, err)))
    goto done;
  for (size_t i = 0; i < l.n; i++)
    if (!strcmp(l.v[i].id, run_id)) c.children = l.v[i].children;
  weft_retention_cand_list_release(&l);
  if (c.children) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s has %lld re-execution%s: delete %s first",
                        run_id, (long long)c.children, c.children == 1 ? "" : "s",
                        c.children == 1 ? "it" : "them");
    goto done;
  }
  memset(rep, 0, sizeof *rep);
  rc = stamp(&p, remove_run(&p, &c, err), err);
  if (!rc && !dry_run && rep->runs[run.status] == 0)
    rc = weft_error_set(err, WEFT_ECONFLICT, "run %s was pinned or re-executed meanwhile",
                        run_id);
done:
  pass_release(&p);
  weft_run_row_release(&run);
  return rc;
}

int weft_run_pin(struct weft_instance *inst, const char *run_id, int pin, weft_error *err) {
  int rc = weft_store_run_mark_set(inst->store, run_id, pin ? 1 : 0, 0, err);
  if (rc == WEFT_ENOTFOUND) rc = weft_error_set(err, rc, "no run %s", run_id);
  return rc;
}
