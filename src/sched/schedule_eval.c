/* schedule_eval.c: one scheduler turn over the cron schedules: due ticks since
 * each schedule's cursor, the catch-up policy, and exactly-once launching. */

/* Exactly once: every tick (launched, skipped or failed) is written in one
 * store transaction with compare-and-set on its key tick/NAME/INV (absent
 * only) and on the schedule's cursor (the exact text read). Two schedulers
 * evaluating the same schedule race on those keys; the loser's transaction
 * rolls back (its run row with it) and it re-reads the cursor next turn. */
#include <stdlib.h>
#include <string.h>

#include "sched/sched_int.h"
#include "util/cron.h"
#include "util/str.h"
#include "util/tz.h"

/* Missed ticks looked at after downtime: older ones are dropped unrecorded. */
#define MAX_DUE 1000
/* Skipped ticks recorded one by one per turn (the rest only advance the
 * cursor). */
#define MAX_SKIP_RECORDS 100

struct tick_plan {
  int64_t tick_s;
  int launch;
  const char *skip_reason;
};

/* Writes one tick: doc at its key, the cursor moved to it, and (launch) its
 * run, in one transaction. Returns WEFT_OK, WEFT_ECONFLICT (another
 * scheduler got there first: nothing written), or a store error. */
static int commit_tick(struct weft_scheduler *s, const struct weft_schedule *sc,
                       const struct weft_job *job, const char *cursor_key,
                       const char *cursor_text, json_t *cursor, const struct tick_plan *tp,
                       struct weft_sched_turn *turn, char **new_cursor_text, weft_error *err) {
  struct weft_store *st = s->inst->store;
  int64_t tick_ms = tp->tick_s * 1000;
  char *key = weft__sched_tick_key(sc->name, tick_ms);
  char *partition = NULL, *run_id = NULL, *reason = NULL, *text = NULL;
  char *time_iso = weft_sched_format_time(tick_ms, sc->timezone);
  char date[16] = "";
  json_t *doc = NULL;
  const char *status = "skipped";
  int rc;
  if (!key || !time_iso) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(date, sizeof date, "%.10s", time_iso);
  if ((rc = weft_store_begin(st, err))) goto out;
  /* claim the tick first: a lost race costs no run creation */
  if ((rc = weft_store_kv_compare_set(st, key, NULL, "{\"status\":\"pending\"}", err)))
    goto rollback;
  if (tp->launch) {
    if (!job) {
      status = "failure";
      reason = weft_str_printf("job '%s' is not in code location '%s' any more", sc->job,
                               sc->location ? sc->location->name : "?");
    } else if (job->partitions.kind == WEFT_PARTITIONS_DAILY ||
               job->partitions.kind == WEFT_PARTITIONS_HOURLY) {
      partition = weft_partitions_key_for_tick(&job->partitions, tp->tick_s);
      if (!partition)
        reason = weft_str_dup("no complete partition of the job yet at this tick");
    }
    if (job && !reason) {
      char ms[24];
      snprintf(ms, sizeof ms, "%lld", (long long)tick_ms);
      json_t *extra = json_pack("{s:s, s:s}", "weft/schedule", sc->name, "weft/tick", ms);
      if (extra && partition) json_object_set_new(extra, "weft/partition", json_string(partition));
      struct weft__tmpl_vars v = {.scheduled_time = time_iso, .scheduled_date = date,
                                  .partition_key = partition};
      rc = weft__sched_launch(s, job, sc->config, &sc->tags, &v, extra, &run_id, &reason, err);
      json_decref(extra);
      if (rc && !reason) goto rollback;
      status = reason ? "failure" : "success";
      rc = WEFT_OK;
    }
  } else {
    reason = weft_str_dup(tp->skip_reason);
  }
  doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[]}", "name", sc->name, "kind", "schedule",
                  "tick_ms", (json_int_t)tick_ms, "scheduled_time", time_iso, "status", status,
                  "run_ids");
  if (!doc) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto rollback;
  }
  if (reason) json_object_set_new(doc, "reason", json_string(reason));
  if (partition) json_object_set_new(doc, "partition", json_string(partition));
  if (run_id) json_array_append_new(json_object_get(doc, "run_ids"), json_string(run_id));
  text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  if (!text) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto rollback;
  }
  if ((rc = weft_store_kv_set(st, key, text, err))) goto rollback;
  json_object_set_new(cursor, "last_tick_ms", json_integer(tick_ms));
  char *ctext = json_dumps(cursor, JSON_COMPACT | JSON_SORT_KEYS);
  if (!ctext) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto rollback;
  }
  if ((rc = weft_store_kv_compare_set(st, cursor_key, cursor_text, ctext, err))) {
    free(ctext);
    goto rollback;
  }
  if ((rc = weft_store_commit(st, err))) {
    free(ctext);
    goto out;
  }
  *new_cursor_text = ctext;
  if (run_id) turn->runs_created++;
  if (!strcmp(status, "success"))
    turn->ticks_success++;
  else if (!strcmp(status, "failure"))
    turn->ticks_failure++;
  else
    turn->ticks_skipped++;
  goto out;
rollback:
  weft_store_rollback(st);
out:
  free(key);
  free(partition);
  free(run_id);
  free(reason);
  free(text);
  free(time_iso);
  json_decref(doc);
  return rc;
}

const struct weft_cron *weft__sched_cron(struct weft_scheduler *s, const char *text,
                                         weft_error *err) {
  struct weft_cron *c = weft_map_get(&s->crons, text);
  if (c) return c;
  if (weft_cron_parse(text, &c, NULL, err)) return NULL;
  /* The key is the map's own: a reload frees the schedules' texts. */
  char *key = strdup(text);
  if (!key || weft_map_put(&s->crons, key, c)) {
    free(key);
    weft_cron_free(c);
    weft_error_set(err, WEFT_ENOMEM, "out of memory");
    return NULL;
  }
  return c;
}

/* The schedules' cursors ("schedule/NAME" -> its text) as one listing read
 * them at the start of a turn (each value taken by the schedule that reads
 * it), or NULL: each reads its own. */
struct cursors {
  struct weft_kv_list all;
  struct weft_map by_key; /* key -> its entry of all */
};

/* sc's cursor into *cursor and *text (weft__sched_state_read's contract). */
static int read_cursor(struct weft_store *st, struct cursors *cs, const char *key,
                       json_t **cursor, char **text, weft_error *err) {
  if (!cs) return weft__sched_state_read(st, key, cursor, text, err);
  struct weft_kv_row *row = weft_map_get(&cs->by_key, key);
  char *v = row ? row->value : NULL;
  if (row) row->value = NULL; /* taken */
  weft__sched_state_take(v, cursor, text);
  return WEFT_OK;
}

static int eval_schedule(struct weft_scheduler *s, const struct weft_schedule *sc, int64_t now_ms,
                         struct cursors *cs, struct weft_sched_turn *turn, weft_error *err) {
  struct weft_store *st = s->inst->store;
  char *cursor_key = weft_str_printf("schedule/%s", sc->name);
  char *cursor_text = NULL;
  json_t *cursor = NULL;
  const struct weft_cron *cron = NULL;
  const struct weft_tz *tz = NULL;
  struct tick_plan *plan = NULL;
  weft_error lerr = WEFT_ERROR_INIT;
  int rc;
  if (!cursor_key) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if ((rc = read_cursor(st, cs, cursor_key, &cursor, &cursor_text, err))) goto done;
  if (!weft__sched_state_on(cursor, sc->default_on)) goto done;
  int64_t now_s = now_ms / 1000;
  if (!(cron = weft__sched_cron(s, sc->cron, &lerr)) ||
      weft_tz_get(sc->timezone ? sc->timezone : "UTC", &tz, &lerr))
    goto done; /* the DSL reported it; such a schedule is never loaded */
  json_t *last = json_object_get(cursor, "last_tick_ms");
  if (!cursor || !json_is_integer(last)) {
    /* First sight of a schedule that is on: it starts now; a tick falling
     * exactly on now is still due. */
    if (!cursor) cursor = json_object();
    json_object_set_new(cursor, "last_tick_ms", json_integer(now_ms - 1000));
    rc = weft__sched_state_write(st, cursor_key, cursor_text, cursor, err);
    if (rc == WEFT_ECONFLICT) rc = WEFT_OK; /* someone else did: next turn */
    int64_t next = weft_cron_next(cron, tz, now_s - 1);
    if (next >= 0 && next * 1000 < turn->next_wake_ms) turn->next_wake_ms = next * 1000;
    if (rc || next < 0 || next > now_s) goto done;
    free(cursor_text);
    cursor_text = NULL;
    json_decref(cursor);
    cursor = NULL;
    if ((rc = weft__sched_state_read(st, cursor_key, &cursor, &cursor_text, err)) || !cursor)
      goto done;
    last = json_object_get(cursor, "last_tick_ms");
  }
  int64_t from_s = json_integer_value(last) / 1000;
  /* the due ticks, keeping the last MAX_DUE */
  size_t n = 0;
  if (!(plan = calloc(MAX_DUE, sizeof *plan))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  int64_t t = from_s;
  for (long guard = 0; guard < 10000000; guard++) {
    t = weft_cron_next(cron, tz, t);
    if (t < 0 || t > now_s) break;
    if (n == MAX_DUE) {
      memmove(plan, plan + 1, (MAX_DUE - 1) * sizeof *plan);
      n--;
    }
    plan[n++] = (struct tick_plan){t, 0, NULL};
  }
  if (t >= 0 && t * 1000 < turn->next_wake_ms) turn->next_wake_ms = t * 1000;
  if (!n) goto done;
  size_t keep = sc->catch_up == WEFT_CATCH_UP_ALL ? (size_t)sc->max_catch_up : 1;
  for (size_t i = 0; i < n; i++) {
    if (i + keep >= n) {
      plan[i].launch = 1;
    } else {
      plan[i].skip_reason = sc->catch_up == WEFT_CATCH_UP_ALL
                                ? "missed while the scheduler was down; beyond max_catch_up"
                                : "missed while the scheduler was down; catch_up: latest "
                                  "runs only the latest tick";
    }
  }
  /* Old skipped ticks beyond MAX_SKIP_RECORDS only move the cursor. */
  size_t first = 0;
  size_t n_skip = n > keep ? n - keep : 0;
  if (n_skip > MAX_SKIP_RECORDS) first = n_skip - MAX_SKIP_RECORDS;
  const struct weft_job *job = sc->location ? weft_location_find_job(sc->location, sc->job) : NULL;
  for (size_t i = first; i < n; i++) {
    char *new_text = NULL;
    rc = commit_tick(s, sc, job, cursor_key, cursor_text, cursor, &plan[i], turn, &new_text, err);
    if (rc == WEFT_ECONFLICT) {
      turn->ticks_lost++;
      rc = WEFT_OK;
      break; /* another scheduler is on it: re-read next turn */
    }
    if (rc) break;
    free(cursor_text);
    cursor_text = new_text;
  }
done:
  free(plan);
  json_decref(cursor);
  free(cursor_text);
  free(cursor_key);
  return rc;
}

/* A turn's ticks commit together, TICK_CHUNK runs at a time: one commit
 * (one fsync on SQLite) for many schedules due in the same minute instead
 * of one each, so the last of them is queued in a fraction of the time;
 * and not one for all of them, so the coordinator starts the first runs
 * while the rest are created (1,000 due at once: the first runs were
 * visible only after all 1,000). Another scheduler taking any of the
 * ticks dooms the open chunk (its compare-and-set fails, the inner
 * transaction rolls back); the turn is then redone one tick per
 * transaction, which skips exactly what the other one took and what the
 * chunks before committed. */
#define TICK_CHUNK 128

/* The open chunk of a batched turn (NULL when each tick commits alone). */
struct tick_chunk {
  struct weft_sched_turn committed; /* the turn as of the last commit */
  int doomed;
};

/* After a schedule of a batched turn: notes a doomed chunk, or commits a
 * full one and opens the next. */
static int chunk_step(struct weft_scheduler *s, struct weft_sched_turn *turn,
                      struct tick_chunk *ck, weft_error *err) {
  struct weft_store *st = s->inst->store;
  ck->doomed = turn->ticks_lost != ck->committed.ticks_lost || st->tx_rollback_only;
  if (ck->doomed || turn->runs_created - ck->committed.runs_created < TICK_CHUNK) return WEFT_OK;
  int rc = weft_store_commit(st, err);
  if (rc == WEFT_ECONFLICT) {
    ck->doomed = 1; /* rolled back: redone by the caller */
    return WEFT_OK;
  }
  if (!rc) ck->committed = *turn;
  return rc ? rc : weft_store_begin(st, err);
}

static int eval_every_schedule(struct weft_scheduler *s, int64_t now_ms, struct cursors *cs,
                               struct weft_sched_turn *turn, struct tick_chunk *ck,
                               weft_error *err) {
  for (size_t l = 0; s->ws && l < s->ws->n_locations; l++) {
    const struct weft_location *loc = s->ws->locations[l];
    for (size_t i = 0; i < loc->n_schedules; i++) {
      int rc = eval_schedule(s, &loc->schedules[i], now_ms, cs, turn, err);
      if (!rc && ck) rc = chunk_step(s, turn, ck, err);
      if (rc || (ck && ck->doomed)) return rc;
    }
  }
  return WEFT_OK;
}

/* Every cursor in one listing, before the turn's transaction: on
 * PostgreSQL a read of each was a round trip, a thousand a turn under the
 * store's write lock even when nothing was due. A cursor changed since
 * (another scheduler, a toggle) fails its compare-and-set: that schedule
 * waits for the next turn, as when another scheduler wins. NULL when the
 * listing fails (each schedule then reads its own). */
static struct cursors *read_cursors(struct weft_store *st, struct cursors *cs) {
  weft_error e = WEFT_ERROR_INIT;
  memset(cs, 0, sizeof *cs);
  if (weft_store_kv_list(st, "schedule/", NULL, 0, &cs->all, &e)) return NULL;
  for (size_t i = 0; i < cs->all.n; i++) {
    if (weft_map_set(&cs->by_key, cs->all.v[i].key, &cs->all.v[i])) {
      weft_map_release(&cs->by_key);
      weft_kv_list_release(&cs->all);
      return NULL;
    }
  }
  return cs;
}

int weft__sched_schedules_turn(struct weft_scheduler *s, int64_t now_ms,
                               struct weft_sched_turn *turn, weft_error *err) {
  struct weft_store *st = s->inst->store;
  struct tick_chunk ck = {.committed = *turn};
  struct cursors read;
  struct cursors *cs = read_cursors(st, &read);
  int rc = weft_store_begin(st, err);
  if (!rc) rc = eval_every_schedule(s, now_ms, cs, turn, &ck, err);
  if (cs) {
    weft_map_release(&cs->by_key);
    weft_kv_list_release(&cs->all);
  }
  if (rc) {
    if (st->tx_depth > 0) weft_store_rollback(st);
    return rc;
  }
  if (!ck.doomed) {
    rc = weft_store_commit(st, err);
    if (rc != WEFT_ECONFLICT) return rc;
  } else if (st->tx_depth > 0) { /* not after a commit that failed */
    weft_store_rollback(st);
  }
  int64_t wake = turn->next_wake_ms;
  *turn = ck.committed;
  turn->next_wake_ms = wake;
  return eval_every_schedule(s, now_ms, NULL, turn, NULL, err);
}
