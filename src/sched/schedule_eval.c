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
#include "util/buf.h"
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

/* A turn's ticks commit together, TICK_CHUNK runs at a time: one commit
 * (one fsync on SQLite) for many schedules due in the same minute instead
 * of one each, so the last of them is queued in a fraction of the time;
 * and not one for all of them, so the coordinator starts the first runs
 * while the rest are created (1,000 due at once: the first runs were
 * visible only after all 1,000). Another scheduler taking any of the
 * ticks dooms the chunk (its compare-and-set fails, its transaction rolls
 * back); the turn is then redone one tick per transaction, which skips
 * exactly what the other one took and what the chunks before committed. */
#define TICK_CHUNK 128
/* Ticks without a run and cursors alone (a schedule seen for the first
 * time) count too, a few times more cheaply. */
#define TICK_CHUNK_MAX_ROWS 512

/* A turn's due ticks are written in chunks (struct tick_chunk): each tick
 * is made ready without writing (its record, its run), then a chunk's
 * ticks commit in one transaction with one statement for each kind of row
 * on PostgreSQL (records and cursors, runs, their events, their
 * hand-over), instead of six a tick.
 *
 *   BATCHED --add_tick--> BATCHED --full or end of turn--> flush
 *   flush --ok--> BATCHED (chunk emptied)      flush --ECONFLICT--> DOOMED
 *   DOOMED --> SINGLE (the turn again, cursors re-read)
 *   SINGLE --add_tick--> flush at once; ECONFLICT: that schedule's tick
 *          is lost (counted), the next schedule goes on */
struct chunk_tick {
  char *key; /* tick/NAME/INV */
  char *doc; /* its record */
  enum { TICK_SKIPPED, TICK_SUCCESS, TICK_FAILURE } status;
};
struct chunk_cursor {
  char *key, *old, *new; /* the schedule's cursor: compare-and-set old -> new */
};
struct tick_chunk {
  struct chunk_tick *ticks;
  size_t n_ticks, cap_ticks;
  struct weft_run_new *runs;
  size_t n_runs, cap_runs;
  struct chunk_cursor *cursors;
  size_t n_cursors, cap_cursors;
  int batched; /* many schedules' ticks a chunk; else one tick each */
  int doomed;  /* batched: another scheduler took a tick or a cursor */
};

static void chunk_clear(struct tick_chunk *ck) {
  for (size_t i = 0; i < ck->n_ticks; i++) {
    free(ck->ticks[i].key);
    free(ck->ticks[i].doc);
  }
  for (size_t i = 0; i < ck->n_runs; i++) weft_run_new_release(&ck->runs[i]);
  for (size_t i = 0; i < ck->n_cursors; i++) {
    free(ck->cursors[i].key);
    free(ck->cursors[i].old);
    free(ck->cursors[i].new);
  }
  ck->n_ticks = ck->n_runs = ck->n_cursors = 0;
}

static void chunk_release(struct tick_chunk *ck) {
  chunk_clear(ck);
  free(ck->ticks);
  free(ck->runs);
  free(ck->cursors);
}

/* Room for one more of each row; -1 when out of memory. */
static int chunk_reserve(struct tick_chunk *ck) {
  if (weft_array_grow((void **)&ck->ticks, &ck->cap_ticks, ck->n_ticks + 1, sizeof *ck->ticks) ||
      weft_array_grow((void **)&ck->runs, &ck->cap_runs, ck->n_runs + 1, sizeof *ck->runs) ||
      weft_array_grow((void **)&ck->cursors, &ck->cap_cursors, ck->n_cursors + 1,
                        sizeof *ck->cursors))
    return -1;
  return 0;
}

static int chunk_full(const struct tick_chunk *ck) {
  return ck->n_runs >= TICK_CHUNK || ck->n_ticks >= TICK_CHUNK_MAX_ROWS ||
         ck->n_cursors >= TICK_CHUNK_MAX_ROWS;
}

/* Moves sc's cursor (cursor_key, as *cursor_text reads it) to the value of
 * cursor in ck: a schedule's later ticks in the same chunk move the same
 * entry on. *cursor_text (the caller's) becomes the new text. */
static int chunk_move_cursor(struct tick_chunk *ck, const char *cursor_key, char **cursor_text,
                             json_t *cursor, weft_error *err) {
  if (chunk_reserve(ck)) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  struct chunk_cursor *last = ck->n_cursors ? &ck->cursors[ck->n_cursors - 1] : NULL;
  int same = last && !strcmp(last->key, cursor_key);
  char *ctext = json_dumps(cursor, JSON_COMPACT | JSON_SORT_KEYS);
  char *cnew = ctext ? weft_str_dup(ctext) : NULL;
  char *ckey = same ? NULL : weft_str_dup(cursor_key);
  char *cold = same || !*cursor_text ? NULL : weft_str_dup(*cursor_text);
  if (!ctext || !cnew || (!same && (!ckey || (*cursor_text && !cold)))) {
    free(ctext);
    free(cnew);
    free(ckey);
    free(cold);
    return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  if (same) {
    free(last->new);
    last->new = cnew;
  } else {
    ck->cursors[ck->n_cursors++] = (struct chunk_cursor){ckey, cold, cnew};
  }
  free(*cursor_text);
  *cursor_text = ctext;
  return WEFT_OK;
}

/* Makes tick tp of sc ready in ck: its record and (launch) its run, and
 * sc's cursor moved to it (*cursor_text, the caller's, becomes the new
 * text). Writes nothing. */
static int add_tick(struct weft_scheduler *s, const struct weft_schedule *sc,
                    const struct weft_job *job, const char *cursor_key, char **cursor_text,
                    json_t *cursor, const struct tick_plan *tp, struct tick_chunk *ck,
                    weft_error *err) {
  int64_t tick_ms = tp->tick_s * 1000;
  char *key = weft__sched_tick_key(sc->name, tick_ms);
  char *partition = NULL, *reason = NULL, *text = NULL;
  char *time_iso = weft_sched_format_time(tick_ms, sc->timezone);
  char date[16] = "";
  json_t *doc = NULL;
  struct weft_run_new run = {0};
  int status = TICK_SKIPPED, rc = WEFT_OK;
  if (!key || !time_iso || chunk_reserve(ck)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto out;
  }
  snprintf(date, sizeof date, "%.10s", time_iso);
  if (tp->launch) {
    if (!job) {
      status = TICK_FAILURE;
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
      rc = weft__sched_launch_prepare(s, job, sc->config, &sc->tags, &v, extra, &run, &reason,
                                      err);
      json_decref(extra);
      if (rc && !reason) goto out;
      rc = WEFT_OK;
    }
    status = reason ? TICK_FAILURE : TICK_SUCCESS;
  } else {
    reason = weft_str_dup(tp->skip_reason);
  }
  static const char *const status_name[] = {"skipped", "success", "failure"};
  doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[]}", "name", sc->name, "kind", "schedule",
                  "tick_ms", (json_int_t)tick_ms, "scheduled_time", time_iso, "status",
                  status_name[status], "run_ids");
  if (doc && reason) json_object_set_new(doc, "reason", json_string(reason));
  if (doc && partition) json_object_set_new(doc, "partition", json_string(partition));
  if (doc && run.row.id)
    json_array_append_new(json_object_get(doc, "run_ids"), json_string(run.row.id));
  json_object_set_new(cursor, "last_tick_ms", json_integer(tick_ms));
  text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (!text) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto out;
  }
  if ((rc = chunk_move_cursor(ck, cursor_key, cursor_text, cursor, err))) goto out;
  ck->ticks[ck->n_ticks++] = (struct chunk_tick){key, text, status};
  key = text = NULL;
  if (run.row.id) {
    ck->runs[ck->n_runs++] = run;
    memset(&run, 0, sizeof run);
  }
out:
  weft_run_new_release(&run);
  free(key);
  free(partition);
  free(reason);
  free(text);
  free(time_iso);
  json_decref(doc);
  return rc;
}

/* Writes ck's ticks in one transaction: their records (each key absent)
 * and the cursors (each as read) with one compare-and-set of them all,
 * first, so that a lost race costs no run creation; then the runs. Returns
 * WEFT_OK, WEFT_ECONFLICT (another scheduler got there first: nothing
 * written), or a store error. Empties ck either way. */
static int chunk_flush(struct weft_scheduler *s, struct tick_chunk *ck,
                       struct weft_sched_turn *turn, weft_error *err) {
  struct weft_store *st = s->inst->store;
  size_t n = ck->n_ticks + ck->n_cursors;
  const char **keys = calloc(n ? n : 1, sizeof *keys), **old = calloc(n ? n : 1, sizeof *old),
             **val = calloc(n ? n : 1, sizeof *val);
  int rc = keys && old && val ? WEFT_OK : weft_error_set(err, WEFT_ENOMEM, "out of memory");
  if (rc || !n) goto out;
  for (size_t i = 0; i < ck->n_ticks; i++) {
    keys[i] = ck->ticks[i].key;
    val[i] = ck->ticks[i].doc; /* old[i] NULL: absent */
  }
  for (size_t i = 0; i < ck->n_cursors; i++) {
    keys[ck->n_ticks + i] = ck->cursors[i].key;
    old[ck->n_ticks + i] = ck->cursors[i].old;
    val[ck->n_ticks + i] = ck->cursors[i].new;
  }
  if ((rc = weft_store_begin(st, err))) goto out;
  rc = weft_store_kv_compare_set_many(st, keys, old, val, n, err);
  if (!rc) rc = weft__sched_launch_write(s, ck->runs, ck->n_runs, err);
  if (rc) {
    weft_store_rollback(st);
    goto out;
  }
  if ((rc = weft_store_commit(st, err))) goto out;
  turn->runs_created += ck->n_runs;
  for (size_t i = 0; i < ck->n_ticks; i++) {
    if (ck->ticks[i].status == TICK_SUCCESS)
      turn->ticks_success++;
    else if (ck->ticks[i].status == TICK_FAILURE)
      turn->ticks_failure++;
    else
      turn->ticks_skipped++;
  }
out:
  free(keys);
  free(old);
  free(val);
  chunk_clear(ck);
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
                         struct cursors *cs, struct weft_sched_turn *turn, struct tick_chunk *ck,
                         weft_error *err) {
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
    /* written with the chunk (a thousand new schedules: one commit) */
    last = NULL;
    rc = chunk_move_cursor(ck, cursor_key, &cursor_text, cursor, err);
    if (!rc && !ck->batched && (rc = chunk_flush(s, ck, turn, err)) == WEFT_ECONFLICT) {
      rc = WEFT_OK; /* someone else did: next turn */
      goto done;
    }
    int64_t next = weft_cron_next(cron, tz, now_s - 1);
    if (next >= 0 && next * 1000 < turn->next_wake_ms) turn->next_wake_ms = next * 1000;
    if (rc || next < 0 || next > now_s) goto done;
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
  for (size_t i = first; i < n && !rc; i++) {
    rc = add_tick(s, sc, job, cursor_key, &cursor_text, cursor, &plan[i], ck, err);
    if (rc || (ck->batched && !chunk_full(ck))) continue;
    rc = chunk_flush(s, ck, turn, err);
    if (rc == WEFT_ECONFLICT) {
      /* another scheduler is on it: re-read next turn (batched: the
       * turn is redone one tick at a time) */
      rc = WEFT_OK;
      if (ck->batched)
        ck->doomed = 1;
      else
        turn->ticks_lost++;
      break;
    }
  }
done:
  free(plan);
  json_decref(cursor);
  free(cursor_text);
  free(cursor_key);
  return rc;
}

static int eval_every_schedule(struct weft_scheduler *s, int64_t now_ms, struct cursors *cs,
                               struct weft_sched_turn *turn, struct tick_chunk *ck,
                               weft_error *err) {
  for (size_t l = 0; s->ws && l < s->ws->n_locations; l++) {
    const struct weft_location *loc = s->ws->locations[l];
    for (size_t i = 0; i < loc->n_schedules; i++) {
      int rc = eval_schedule(s, &loc->schedules[i], now_ms, cs, turn, ck, err);
      if (rc || ck->doomed) return rc;
    }
  }
  if (!ck->n_ticks && !ck->n_cursors) return WEFT_OK;
  int rc = chunk_flush(s, ck, turn, err);
  if (rc == WEFT_ECONFLICT) { /* counted lost by the redo */
    ck->doomed = 1;
    rc = WEFT_OK;
  }
  return rc;
}

/* Every cursor in one listing, before the turn's writes: on PostgreSQL a
 * read of each was a round trip, a thousand a turn even when nothing was
 * due. A cursor changed since (another scheduler, a toggle) fails its
 * compare-and-set: the chunk is redone one tick at a time, reading each
 * cursor again. NULL when the listing fails (each schedule then reads its
 * own). */
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
  struct tick_chunk ck = {.batched = 1};
  struct cursors read;
  struct cursors *cs = read_cursors(s->inst->store, &read);
  int rc = eval_every_schedule(s, now_ms, cs, turn, &ck, err);
  if (cs) {
    weft_map_release(&cs->by_key);
    weft_kv_list_release(&cs->all);
  }
  if (!rc && ck.doomed) {
    /* what the chunks before committed is skipped: the cursors moved */
    chunk_clear(&ck);
    ck.batched = ck.doomed = 0;
    rc = eval_every_schedule(s, now_ms, NULL, turn, &ck, err);
  }
  chunk_release(&ck);
  return rc;
}
