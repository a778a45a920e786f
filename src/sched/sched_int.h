/* sched_int.h: internals shared by the scheduler's files: the scheduler
 * struct, template rendering, tick records and sensor evaluation. */
#ifndef WEFT_SCHED_SCHED_INT_H
#define WEFT_SCHED_SCHED_INT_H

#include "engine/code_snapshot.h"
#include "sched/coordinator_spawn.h"
#include "sched/run_queue.h"
#include "sched/sched.h"
#include "util/map.h"

struct weft_scheduler {
  struct weft_instance *inst;            /* borrowed */
  const struct weft_workspace *ws;       /* borrowed */
  struct weft_sched_clock clock;
  struct weft_sched_options o;
  struct weft_run_queue_config rq;       /* from HOME/weft.yaml */
  struct weft_coord_spawner spawner;     /* when o.dequeue */
  int spawner_ready;
  int64_t next_freshness_ms;             /* freshness.c: the next pass */
  /* The code versions of the locations this turn launched from, reset
   * at each turn (a thousand schedules due at once hash the folder once). */
  struct weft_code_memo turn_code;
  /* Runs this turn handed to a coordinator service as it created them
   * (weft_coord_admit_in_tx): then the turn's own queue turn is left to
   * the loop's next one, 100 ms on, instead of reading back every run
   * just handed while the service claims them. */
  size_t turn_handed;
  /* Cron text -> its parsed struct weft_cron (owned), for the scheduler's
   * life: a turn of 1,000 due schedules parsed each one's cron again (7% of
   * the turn's work), and most share a handful of texts. */
  struct weft_map crons;
};

/* schedule_eval.c: the parsed cron for text, from s->crons (borrowed; NULL
 * with err filled when the text does not parse or memory runs out). */
const struct weft_cron *weft__sched_cron(struct weft_scheduler *s, const char *text,
                                         weft_error *err);

/* freshness.c: the asset freshness pass, at most every 30 s of wall clock;
 * lowers *next_wake_ms to its next pass. */
void weft__sched_freshness_turn(struct weft_scheduler *s, int64_t *next_wake_ms);

/* ---- templates (template.c) ------------------------------------------------ */

/* Values of {{name}} placeholders; NULL: not available here. */
struct weft__tmpl_vars {
  const char *scheduled_time, *scheduled_date, *partition_key, *run_key, *file;
  /* {{var.NAME}}: the instance's variable NAME (engine/secrets.h), read
   * from here at render time; NULL: none are available. */
  struct weft_store *store;
};
/* s with every {{name}} replaced; unknown or unavailable names fail with
 * WEFT_EINVALID naming it. Caller frees *out. */
int weft__tmpl_render(const char *s, const struct weft__tmpl_vars *v, char **out,
                      weft_error *err);
/* A deep copy of tmpl (NULL: an empty object) with every string rendered. */
int weft__tmpl_render_json(const json_t *tmpl, const struct weft__tmpl_vars *v, json_t **out,
                           weft_error *err);

/* ---- keys and records (sched_store.c) -------------------------------------- */

/* "tick/NAME/INV" (INV: sched.h); caller frees. */
char *weft__sched_tick_key(const char *name, int64_t tick_ms);
/* The stored state of a schedule or sensor: *doc a new object, or NULL when
 * the key is absent; *text the exact stored text (for compare-and-set), or
 * NULL. */
int weft__sched_state_read(struct weft_store *st, const char *key, json_t **doc, char **text,
                           weft_error *err);
/* weft__sched_state_read's result from the stored text v (owned: becomes
 * *text, or is freed; NULL: the key is absent). */
void weft__sched_state_take(char *v, json_t **doc, char **text);
/* "on"/"off" of a state document, else the default. */
int weft__sched_state_on(const json_t *doc, int default_on);
/* Writes the state document (compare-and-set from old_text, NULL: absent). */
int weft__sched_state_write(struct weft_store *st, const char *key, const char *old_text,
                            json_t *doc, weft_error *err);

/* ---- launching (scheduler.c) ------------------------------------------------- */

/* Creates one QUEUED run of job with the rendered config template and tags
 * (template tags, then extra tags, then `weft/...` tags) in the caller's
 * transaction. A run that cannot be made (bad config) returns WEFT_EINVALID
 * with *reason (caller frees) and no store change; store failures return
 * their code. */
int weft__sched_launch(struct weft_scheduler *s, const struct weft_job *job,
                       const json_t *config_tmpl, const struct weft_kvs *tag_tmpl,
                       const struct weft__tmpl_vars *vars, json_t *extra_tags, char **run_id,
                       char **reason, weft_error *err);
/* weft__sched_launch in two halves, for a chunk of ticks recorded
 * together: _prepare writes nothing (no transaction needed) and fills *out
 * (weft_run_new_release), or sets *reason (WEFT_EINVALID); _write records
 * runs[0..n) and hands them over, all or none, in the caller's
 * transaction or one of its own. */
int weft__sched_launch_prepare(struct weft_scheduler *s, const struct weft_job *job,
                               const json_t *config_tmpl, const struct weft_kvs *tag_tmpl,
                               const struct weft__tmpl_vars *vars, json_t *extra_tags,
                               struct weft_run_new *out, char **reason, weft_error *err);
int weft__sched_launch_write(struct weft_scheduler *s, const struct weft_run_new *runs,
                             size_t n, weft_error *err);

/* ---- sensors (sensor_*.c) ------------------------------------------------------ */

/* A run request a sensor evaluation produced. */
struct weft__sensor_request {
  char *run_key;
  json_t *config; /* overrides the config template when set (owned), or NULL */
  json_t *tags;   /* extra tags (owned), or NULL */
  char *file;     /* file sensors: the file ({{file}}) */
};
struct weft__sensor_result {
  struct weft__sensor_request *v;
  size_t n;
  char *cursor; /* the new cursor (owned), NULL: unchanged */
  char *failure; /* evaluation failed: why (owned), else NULL */
};
void weft__sensor_result_release(struct weft__sensor_result *r);
int weft__sensor_result_add(struct weft__sensor_result *r, const char *run_key, json_t *config,
                            json_t *tags, const char *file);

/* Evaluates se from cursor (NULL: first evaluation) at now_ms; since_ms:
 * events before it are ignored (run_status, asset). Failures of the
 * evaluation go to res->failure; the return is an error only on ENOMEM or
 * a store failure. */
int weft__sensor_eval_file(struct weft_scheduler *s, const struct weft_sensor *se,
                           const char *cursor, struct weft__sensor_result *res, weft_error *err);
int weft__sensor_eval_command(struct weft_scheduler *s, const struct weft_sensor *se,
                              const char *cursor, struct weft__sensor_result *res,
                              weft_error *err);
int weft__sensor_eval_events(struct weft_scheduler *s, const struct weft_sensor *se,
                             const char *cursor, int64_t since_ms,
                             struct weft__sensor_result *res, weft_error *err);

/* Evaluates every due sensor (sensor_eval.c). */
int weft__sched_sensors_turn(struct weft_scheduler *s, int64_t now_ms,
                             struct weft_sched_turn *turn, weft_error *err);
/* Evaluates every schedule (schedule_eval.c). */
int weft__sched_schedules_turn(struct weft_scheduler *s, int64_t now_ms,
                               struct weft_sched_turn *turn, weft_error *err);

#endif
