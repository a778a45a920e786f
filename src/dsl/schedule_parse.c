/* schedule_parse.c: schedules (a job's `schedules:`, schedules/ files),
 * sensors (sensors/ files) and a job's `partitions:` from YAML, checked. */

/* Every problem is a diagnostic at the offending node: a malformed cron
 * expression points at the bad field inside the scalar, an unknown zone at
 * its scalar, an unknown job or placeholder at its text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "util/cron.h"
#include "util/str.h"
#include "util/tz.h"

#define NOMEM_IF(x)            \
  do {                         \
    if (x) return WEFT_ENOMEM; \
  } while (0)

static const char *const schedule_keys[] = {"name",   "job",          "cron",   "timezone",
                                            "default", "catch_up",    "max_catch_up",
                                            "config", "tags",         "description", NULL};
static const char *const sensor_keys[] = {
    "name",    "kind",   "job",     "interval", "glob",   "run",  "argv",
    "timeout", "watch_job", "status", "asset",  "config", "tags", "default",
    "description", NULL};
static const char *const sensor_kinds[] = {"file", "command", "run_status", "asset", NULL};
static const char *const schedule_placeholders[] = {"scheduled_time", "scheduled_date",
                                                    "partition_key", NULL};
static const char *const sensor_placeholders[] = {"run_key", "scheduled_time",
                                                  "scheduled_date", NULL};
static const char *const file_sensor_placeholders[] = {"run_key", "file", "scheduled_time",
                                                       "scheduled_date", NULL};

/* ---- small field readers ------------------------------------------------- */

/* A non-empty string scalar, else a diagnostic and NULL. */
static const char *want_string(struct weft_diags *d, const struct weft__ynode *n,
                               const char *owner, const char *field) {
  const char *t = weft__ynode_text(n);
  if (!t || n->kind != WEFT__Y_SCALAR || !*t) {
    weft__dsl_error(d, n->mark, "%s: %s must be a string, got %s", owner, field,
                    weft__ynode_describe(n));
    return NULL;
  }
  return t;
}

/* `default: on|off` (or true/false). Returns 0/1, or -1 after a diagnostic. */
static int parse_on_off(struct weft_diags *d, const struct weft__ynode *n, const char *owner) {
  int b;
  if (weft__ynode_bool(n, &b)) return b;
  const char *t = weft__ynode_text(n);
  if (t && (!strcmp(t, "on") || !strcmp(t, "off"))) return !strcmp(t, "on");
  weft__dsl_error(d, n->mark, "%s: default must be on or off, got %s", owner,
                  weft__ynode_describe(n));
  return -1;
}

/* Checks every {{name}} in the strings of n against allowed. */
static void check_placeholders(struct weft_diags *d, const struct weft__ynode *n,
                               const char *const *allowed, const char *owner) {
  if (!n) return;
  if (n->kind == WEFT__Y_SEQ) {
    for (size_t i = 0; i < n->u.seq.n; i++)
      check_placeholders(d, n->u.seq.items[i], allowed, owner);
    return;
  }
  if (n->kind == WEFT__Y_MAP) {
    for (size_t i = 0; i < n->u.map.n; i++)
      check_placeholders(d, n->u.map.pairs[i].value, allowed, owner);
    return;
  }
  const char *t = weft__ynode_text(n);
  for (const char *p = t ? strstr(t, "{{") : NULL; p; p = strstr(p, "{{")) {
    const char *end = strstr(p + 2, "}}");
    if (!end) {
      weft__dsl_error(d, n->mark, "%s: unterminated '{{' in template '%s'", owner, t);
      return;
    }
    const char *a = p + 2, *b = end;
    while (a < b && *a == ' ') a++;
    while (b > a && b[-1] == ' ') b--;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(b - a), a);
    size_t k = 0, n_allowed = 0;
    while (allowed[n_allowed]) n_allowed++;
    while (allowed[k] && strcmp(allowed[k], name)) k++;
    /* {{var.NAME}}: an instance variable, looked up when a run is made. */
    int is_var = !strncmp(name, "var.", 4) && name[4] && name[4] != '.' &&
                 strspn(name + 4, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_-.") == strlen(name + 4);
    if (!allowed[k] && !is_var) {
      char hint[160];
      weft__dsl_suggest(hint, sizeof hint, name, allowed, n_allowed);
      struct weft_mark m = n->mark;
      if (!strchr(t, '\n')) m.col += (int)(p - t) + (n->u.scalar.quoted ? 1 : 0);
      weft__dsl_error(d, m, "%s: unknown placeholder '{{%s}}'%s", owner, name,
                      hint[0] ? hint : " (known: see the schedule docs)");
    }
    p = end + 2;
  }
}

/* ---- partitions ----------------------------------------------------------- */

static int parse_date_hour(const char *t, int hourly, struct tm *out) {
  int y, m, d, h = 0, mi = 0, used = 0;
  memset(out, 0, sizeof *out);
  if (sscanf(t, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3) return -1;
  if (t[used]) {
    if (!hourly) return -1;
    int u2 = 0;
    if (sscanf(t + used + 1, "%2d:%2d%n", &h, &mi, &u2) != 2 || t[used + 1 + u2] ||
        (t[used] != '-' && t[used] != 'T' && t[used] != ' ') || mi != 0 || h > 23 || h < 0)
      return -1;
  }
  if (m < 1 || m > 12 || d < 1 || d > 31) return -1;
  int64_t yy;
  int mm, dd;
  weft_tz_civil_from_days(weft_tz_days_from_civil(y, m, d), &yy, &mm, &dd);
  if (mm != m || dd != d) return -1; /* 2026-02-30 */
  out->tm_year = y - 1900;
  out->tm_mon = m - 1;
  out->tm_mday = d;
  out->tm_hour = h;
  return 0;
}

int weft__dsl_parse_partitions(struct weft_diags *d, const struct weft__ynode *n,
                               const char *owner, struct weft_partitions *p) {
  static const char *const kinds[] = {"daily", "hourly", "static", NULL};
  static const char *const time_keys[] = {"start", "end", "timezone", NULL};
  memset(p, 0, sizeof *p);
  if (weft__ynode_is_null(n)) return WEFT_OK;
  p->mark = n->mark;
  if (n->kind != WEFT__Y_MAP || n->u.map.n != 1) {
    weft__dsl_error(d, n->mark,
                    "%s: partitions must be one of {daily: {start: DATE}}, "
                    "{hourly: {start: DATE}}, {static: [KEY, ...]}",
                    owner);
    return WEFT_OK;
  }
  weft__dsl_check_keys(d, n, kinds, "partitions");
  const char *kind = n->u.map.pairs[0].key->u.scalar.text;
  const struct weft__ynode *v = n->u.map.pairs[0].value;
  if (!strcmp(kind, "static")) {
    if (v->kind != WEFT__Y_SEQ || !v->u.seq.n) {
      weft__dsl_error(d, v->mark, "%s: static partitions must be a non-empty list of keys, got %s",
                      owner, weft__ynode_describe(v));
      return WEFT_OK;
    }
    NOMEM_IF(!(p->keys = calloc(v->u.seq.n + 1, sizeof *p->keys)));
    for (size_t i = 0; i < v->u.seq.n; i++) {
      const char *k = want_string(d, v->u.seq.items[i], owner, "a partition key");
      if (!k) continue;
      for (size_t j = 0; j < p->n_keys; j++)
        if (!strcmp(p->keys[j], k))
          weft__dsl_error(d, v->u.seq.items[i]->mark, "%s: duplicate partition key '%s'", owner,
                          k);
      NOMEM_IF(!(p->keys[p->n_keys++] = strdup(k)));
    }
    p->kind = WEFT_PARTITIONS_STATIC;
    return WEFT_OK;
  }
  int hourly = !strcmp(kind, "hourly");
  if (!hourly && strcmp(kind, "daily")) return WEFT_OK; /* reported above */
  if (v->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, v->mark, "%s: %s partitions need a mapping with 'start:', got %s", owner,
                    kind, weft__ynode_describe(v));
    return WEFT_OK;
  }
  weft__dsl_check_keys(d, v, time_keys, "partitions");
  const struct weft__ynode *tzn = weft__ymap_get(v, "timezone", NULL);
  const struct weft_tz *tz = NULL;
  const char *zone_name = "UTC";
  if (tzn && !(zone_name = want_string(d, tzn, owner, "timezone"))) return WEFT_OK;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_tz_get(zone_name, &tz, &err)) {
    weft__dsl_error(d, tzn ? tzn->mark : v->mark, "%s: %s", owner, err.msg);
    return WEFT_OK;
  }
  NOMEM_IF(!(p->timezone = strdup(zone_name)));
  const struct weft__ynode *sn = weft__ymap_get(v, "start", NULL);
  if (!sn) {
    weft__dsl_error(d, v->mark, "%s: %s partitions need 'start:' (a date, YYYY-MM-DD)", owner,
                    kind);
    return WEFT_OK;
  }
  for (int which = 0; which < 2; which++) {
    const struct weft__ynode *x = which ? weft__ymap_get(v, "end", NULL) : sn;
    if (!x) continue;
    const char *t = weft__ynode_text(x);
    struct tm tm;
    if (!t || parse_date_hour(t, hourly, &tm)) {
      char got[96];
      weft__dsl_error(d, x->mark, "%s: partitions %s must be a date %s, got %s", owner,
                      which ? "end" : "start",
                      hourly ? "(YYYY-MM-DD or YYYY-MM-DD-HH:00)" : "(YYYY-MM-DD)",
                      weft__dsl_got(got, sizeof got, x));
      return WEFT_OK;
    }
    int64_t inst[2];
    weft_tz_from_local(tz, &tm, inst);
    if (which)
      p->end_s = inst[0];
    else
      p->start_s = inst[0];
  }
  if (p->end_s && p->end_s <= p->start_s) {
    weft__dsl_error(d, v->mark, "%s: partitions end must come after start", owner);
    return WEFT_OK;
  }
  p->kind = hourly ? WEFT_PARTITIONS_HOURLY : WEFT_PARTITIONS_DAILY;
  return WEFT_OK;
}

/* ---- schedules ------------------------------------------------------------- */

static int grow(void **v, size_t n, size_t size) {
  void *p = realloc(*v, (n + 1) * size);
  if (!p) return WEFT_ENOMEM;
  *v = p;
  memset((char *)p + n * size, 0, size);
  return WEFT_OK;
}

static int name_taken(struct weft_diags *d, const struct weft_location *loc, const char *name,
                      struct weft_mark at) {
  for (size_t i = 0; i < loc->n_schedules; i++)
    if (!strcmp(loc->schedules[i].name, name)) {
      const struct weft_mark *m = &loc->schedules[i].mark;
      weft__dsl_error(d, at, "duplicate schedule name '%s' (first defined at %s:%d:%d)", name,
                      m->file, m->line, m->col);
      return 1;
    }
  for (size_t i = 0; i < loc->n_sensors; i++)
    if (!strcmp(loc->sensors[i].name, name)) {
      const struct weft_mark *m = &loc->sensors[i].mark;
      weft__dsl_error(d, at, "duplicate sensor name '%s' (first defined at %s:%d:%d)", name,
                      m->file, m->line, m->col);
      return 1;
    }
  return 0;
}

/* job: the job name node (files), or NULL with implied naming the job. */
static int resolve_job(struct weft_diags *d, const struct weft_location *loc,
                       const struct weft__ynode *job, const char *implied, const char *owner,
                       struct weft_mark at, char **out) {
  if (implied) return (*out = strdup(implied)) ? WEFT_OK : WEFT_ENOMEM;
  if (!job) {
    weft__dsl_error(d, at, "%s needs 'job:' (the job it launches)", owner);
    return WEFT_OK;
  }
  const char *name = want_string(d, job, owner, "job");
  if (!name) return WEFT_OK;
  if (!weft_location_find_job(loc, name)) {
    const char **names = malloc((loc->n_jobs + 1) * sizeof *names);
    NOMEM_IF(!names);
    for (size_t i = 0; i < loc->n_jobs; i++) names[i] = loc->jobs[i].name;
    char hint[160];
    weft__dsl_suggest(hint, sizeof hint, name, names, loc->n_jobs);
    free(names);
    weft__dsl_error(d, job->mark, "%s: unknown job '%s' in code location '%s'%s", owner, name,
                    loc->name, hint);
    return WEFT_OK;
  }
  return (*out = strdup(name)) ? WEFT_OK : WEFT_ENOMEM;
}

static int parse_config_template(struct weft_diags *d, const struct weft__ynode *c,
                                 const char *const *allowed, const char *owner, json_t **out) {
  if (!c || weft__ynode_is_null(c)) return WEFT_OK;
  if (c->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, c->mark, "%s: config must be a run config mapping (ops: ...), got %s",
                    owner, weft__ynode_describe(c));
    return WEFT_OK;
  }
  check_placeholders(d, c, allowed, owner);
  NOMEM_IF(!(*out = weft__ynode_to_json(c)));
  return WEFT_OK;
}

/* One schedule mapping n. implied: the job whose YAML declares it (NULL for
 * schedules/ files). default_name: a name when n has none (NULL: required). */
static int parse_schedule(struct weft_diags *d, struct weft_location *loc,
                          const struct weft__ynode *n, const char *implied,
                          const char *default_name) {
  char owner[200];
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "a schedule must be a mapping with 'name:' and 'cron:', got %s",
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  const struct weft__ynode *name_n = weft__ymap_get(n, "name", NULL);
  const char *name = name_n ? want_string(d, name_n, "schedule", "name") : default_name;
  if (!name) {
    if (!name_n) weft__dsl_error(d, n->mark, "a schedule needs 'name:'");
    return WEFT_OK;
  }
  struct weft_mark at = name_n ? name_n->mark : n->mark;
  snprintf(owner, sizeof owner, "schedule '%s'", name);
  if (!weft_str_is_identifier(name)) {
    weft__dsl_error(d, at, "invalid schedule name '%s' (use letters, digits, '_' and '-', "
                           "starting with a letter or '_')", name);
    return WEFT_OK;
  }
  static const char *const in_job_keys[] = {"name",     "cron",   "timezone", "default",
                                            "catch_up", "max_catch_up", "config", "tags",
                                            "description", NULL};
  weft__dsl_check_keys(d, n, implied ? in_job_keys : schedule_keys, owner);
  size_t before = d->n;
  struct weft_schedule sc = {0};
  sc.mark = at;
  sc.default_on = 0;
  sc.max_catch_up = WEFT_SCHEDULE_MAX_CATCH_UP_DEFAULT;
  int rc = WEFT_OK;
  if (!(sc.name = strdup(name))) goto nomem;
  if ((rc = resolve_job(d, loc, weft__ymap_get(n, "job", NULL), implied, owner, at, &sc.job)))
    goto done;
  /* time zone first: the cron is fine without one */
  const struct weft__ynode *tzn = weft__ymap_get(n, "timezone", NULL);
  const char *zone_name = tzn ? want_string(d, tzn, owner, "timezone") : "UTC";
  if (zone_name) {
    const struct weft_tz *tz;
    weft_error err = WEFT_ERROR_INIT;
    if (weft_tz_get(zone_name, &tz, &err))
      weft__dsl_error(d, tzn ? tzn->mark : at, "%s: %s", owner, err.msg);
    if (!(sc.timezone = strdup(zone_name))) goto nomem;
  }
  const struct weft__ynode *cn = weft__ymap_get(n, "cron", NULL);
  if (!cn) {
    weft__dsl_error(d, at, "%s needs 'cron:' (5 fields, e.g. '0 6 * * *', or @daily)", owner);
  } else {
    const char *expr = want_string(d, cn, owner, "cron");
    if (expr) {
      struct weft_cron *c = NULL;
      size_t off = 0;
      weft_error err = WEFT_ERROR_INIT;
      if (weft_cron_parse(expr, &c, &off, &err)) {
        struct weft_mark m = cn->mark;
        if (!strchr(expr, '\n')) m.col += (int)off + (cn->u.scalar.quoted ? 1 : 0);
        weft__dsl_error(d, m, "%s: invalid cron expression '%s': %s", owner, expr, err.msg);
      }
      weft_cron_free(c);
      if (!(sc.cron = strdup(expr))) goto nomem;
    }
  }
  const struct weft__ynode *v;
  if ((v = weft__ymap_get(n, "default", NULL))) {
    int on = parse_on_off(d, v, owner);
    if (on >= 0) sc.default_on = on;
  }
  if ((v = weft__ymap_get(n, "catch_up", NULL))) {
    const char *t = weft__ynode_text(v);
    if (t && !strcmp(t, "latest"))
      sc.catch_up = WEFT_CATCH_UP_LATEST;
    else if (t && !strcmp(t, "all"))
      sc.catch_up = WEFT_CATCH_UP_ALL;
    else
      weft__dsl_error(d, v->mark, "%s: catch_up must be latest or all, got %s", owner,
                      weft__ynode_describe(v));
  }
  if ((v = weft__ymap_get(n, "max_catch_up", NULL))) {
    long long x;
    if (!weft__ynode_int(v, &x) || x < 1 || x > 1000)
      weft__dsl_error(d, v->mark, "%s: max_catch_up must be an integer from 1 to 1000, got %s",
                      owner, weft__ynode_describe(v));
    else
      sc.max_catch_up = (int)x;
  }
  if ((v = weft__ymap_get(n, "description", NULL))) {
    const char *t = want_string(d, v, owner, "description");
    if (t && !(sc.description = strdup(t))) goto nomem;
  }
  const struct weft__ynode *tags = weft__ymap_get(n, "tags", NULL);
  if ((rc = weft__dsl_parse_kvs(d, tags, "tags", owner, 0, &sc.tags))) goto done;
  check_placeholders(d, tags, schedule_placeholders, owner);
  if ((rc = parse_config_template(d, weft__ymap_get(n, "config", NULL), schedule_placeholders,
                                  owner, &sc.config)))
    goto done;
  if (name_taken(d, loc, name, at) || d->n != before || !sc.job || !sc.cron) goto done;
  if ((rc = grow((void **)&loc->schedules, loc->n_schedules, sizeof sc))) goto done;
  loc->schedules[loc->n_schedules++] = sc;
  return WEFT_OK;
nomem:
  rc = WEFT_ENOMEM;
done:
  weft__schedule_release(&sc);
  return rc;
}

int weft__dsl_parse_job_schedules(struct weft_diags *d, struct weft_location *loc,
                                  const struct weft__ynode *root, const char *job) {
  const struct weft__ynode *n = weft__ymap_get(root, "schedules", NULL);
  if (!n || weft__ynode_is_null(n)) return WEFT_OK;
  if (n->kind != WEFT__Y_SEQ) {
    weft__dsl_error(d, n->mark, "job '%s': schedules must be a list of schedules, got %s", job,
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  int rc = WEFT_OK;
  for (size_t i = 0; i < n->u.seq.n && !rc; i++)
    rc = parse_schedule(d, loc, n->u.seq.items[i], job, NULL);
  return rc;
}

/* ---- sensors ----------------------------------------------------------------- */

static int parse_argv(struct weft_diags *d, const struct weft__ynode *n, const char *owner,
                      char ***out) {
  if (n->kind != WEFT__Y_SEQ || !n->u.seq.n) {
    weft__dsl_error(d, n->mark, "%s: argv must be a non-empty list of strings, got %s", owner,
                    weft__ynode_describe(n));
    return WEFT_OK;
  }
  char **v = calloc(n->u.seq.n + 1, sizeof *v);
  NOMEM_IF(!v);
  for (size_t i = 0; i < n->u.seq.n; i++) {
    const char *t = weft__ynode_text(n->u.seq.items[i]);
    if (!t || n->u.seq.items[i]->kind != WEFT__Y_SCALAR) {
      weft__dsl_error(d, n->u.seq.items[i]->mark, "%s: argv items must be strings, got %s",
                      owner, weft__ynode_describe(n->u.seq.items[i]));
      t = "";
    }
    if (!(v[i] = strdup(t))) {
      for (size_t j = 0; j < i; j++) free(v[j]);
      free(v);
      return WEFT_ENOMEM;
    }
  }
  *out = v;
  return WEFT_OK;
}

static int parse_sensor(struct weft_diags *d, struct weft_location *loc,
                        const struct weft__ynode *n, const char *default_name) {
  char owner[200];
  if (n->kind != WEFT__Y_MAP) {
    weft__dsl_error(d, n->mark, "a sensor must be a mapping with 'name:', 'kind:' and 'job:', "
                                "got %s", weft__ynode_describe(n));
    return WEFT_OK;
  }
  const struct weft__ynode *name_n = weft__ymap_get(n, "name", NULL);
  const char *name = name_n ? want_string(d, name_n, "sensor", "name") : default_name;
  if (!name) return WEFT_OK;
  struct weft_mark at = name_n ? name_n->mark : n->mark;
  snprintf(owner, sizeof owner, "sensor '%s'", name);
  if (!weft_str_is_identifier(name)) {
    weft__dsl_error(d, at, "invalid sensor name '%s' (use letters, digits, '_' and '-', "
                           "starting with a letter or '_')", name);
    return WEFT_OK;
  }
  weft__dsl_check_keys(d, n, sensor_keys, owner);
  size_t before = d->n;
  struct weft_sensor se = {0};
  se.mark = at;
  se.interval_s = 30;
  se.timeout_s = 60;
  int rc = WEFT_OK, kind_ok = 0;
  if (!(se.name = strdup(name))) goto nomem;
  if ((rc = resolve_job(d, loc, weft__ymap_get(n, "job", NULL), NULL, owner, at, &se.job)))
    goto done;
  const struct weft__ynode *kn = weft__ymap_get(n, "kind", NULL), *v;
  const char *kind = kn ? weft__ynode_text(kn) : NULL;
  for (int k = 0; kind && sensor_kinds[k]; k++)
    if (!strcmp(kind, sensor_kinds[k])) {
      se.kind = (enum weft_sensor_kind)k;
      kind_ok = 1;
    }
  if (!kn) {
    weft__dsl_error(d, at, "%s needs 'kind:' (file, command, run_status or asset)", owner);
  } else if (!kind_ok) {
    char hint[160];
    weft__dsl_suggest(hint, sizeof hint, kind ? kind : "", sensor_kinds, 4);
    weft__dsl_error(d, kn->mark, "%s: unknown kind %s%s (file, command, run_status or asset)",
                    owner, kind ? kind : weft__ynode_describe(kn), hint);
  }
  if ((v = weft__ymap_get(n, "interval", NULL))) {
    double s = 0;
    const char *t = weft__ynode_text(v);
    if (!t || weft_dsl_parse_duration(t, &s) || s < 1 || s > 86400 * 7)
      weft__dsl_error(d, v->mark, "%s: interval must be a duration from 1s to 7d (e.g. 30s, "
                                  "5m), got %s", owner, weft__ynode_describe(v));
    else
      se.interval_s = (int)s;
  }
  if ((v = weft__ymap_get(n, "timeout", NULL))) {
    double s = 0;
    const char *t = weft__ynode_text(v);
    if (!t || weft_dsl_parse_duration(t, &s) || s <= 0)
      weft__dsl_error(d, v->mark, "%s: timeout must be a duration (e.g. 30s), got %s", owner,
                      weft__ynode_describe(v));
    else
      se.timeout_s = s;
  }
  if ((v = weft__ymap_get(n, "default", NULL))) {
    int on = parse_on_off(d, v, owner);
    if (on >= 0) se.default_on = on;
  }
  if ((v = weft__ymap_get(n, "description", NULL))) {
    const char *t = want_string(d, v, owner, "description");
    if (t && !(se.description = strdup(t))) goto nomem;
  }
  /* per-kind fields: each belongs to one kind */
  struct {
    const char *key;
    enum weft_sensor_kind kind;
    char **dst;
  } fields[] = {{"glob", WEFT_SENSOR_FILE, &se.glob},
                {"run", WEFT_SENSOR_COMMAND, &se.run},
                {"watch_job", WEFT_SENSOR_RUN_STATUS, &se.watch_job},
                {"status", WEFT_SENSOR_RUN_STATUS, &se.watch_status},
                {"asset", WEFT_SENSOR_ASSET, &se.asset}};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    if (!(v = weft__ymap_get(n, fields[i].key, NULL))) continue;
    if (kind_ok && se.kind != fields[i].kind) {
      weft__dsl_error(d, v->mark, "%s: '%s' is for %s sensors, not %s", owner, fields[i].key,
                      sensor_kinds[fields[i].kind], sensor_kinds[se.kind]);
      continue;
    }
    const char *t = want_string(d, v, owner, fields[i].key);
    if (t && !(*fields[i].dst = strdup(t))) goto nomem;
  }
  if ((v = weft__ymap_get(n, "argv", NULL))) {
    if (kind_ok && se.kind != WEFT_SENSOR_COMMAND)
      weft__dsl_error(d, v->mark, "%s: 'argv' is for command sensors", owner);
    else if ((rc = parse_argv(d, v, owner, &se.argv)))
      goto done;
  }
  if (kind_ok) {
    const char *missing = NULL;
    if (se.kind == WEFT_SENSOR_FILE && !se.glob) missing = "'glob:' (a file pattern)";
    if (se.kind == WEFT_SENSOR_COMMAND && !se.run && !se.argv) missing = "'run:' or 'argv:'";
    if (se.kind == WEFT_SENSOR_COMMAND && se.run && se.argv) {
      weft__dsl_error(d, at, "%s: give either 'run:' or 'argv:', not both", owner);
    }
    if (se.kind == WEFT_SENSOR_RUN_STATUS && !se.watch_job) missing = "'watch_job:'";
    if (se.kind == WEFT_SENSOR_ASSET && !se.asset) missing = "'asset:' (an asset key)";
    if (missing) weft__dsl_error(d, at, "%s (%s) needs %s", owner, sensor_kinds[se.kind],
                                 missing);
    if (se.kind == WEFT_SENSOR_RUN_STATUS) {
      if (!se.watch_status && !(se.watch_status = strdup("success"))) goto nomem;
      if (strcmp(se.watch_status, "success") && strcmp(se.watch_status, "failure"))
        weft__dsl_error(d, weft__ymap_get(n, "status", NULL)->mark,
                        "%s: status must be success or failure, got '%s'", owner,
                        se.watch_status);
      if (se.watch_job && !strchr(se.watch_job, ':') &&
          !weft_location_find_job(loc, se.watch_job))
        weft__dsl_error(d, weft__ymap_get(n, "watch_job", NULL)->mark,
                        "%s: unknown job '%s' in code location '%s'", owner, se.watch_job,
                        loc->name);
    }
  }
  const char *const *allowed =
      se.kind == WEFT_SENSOR_FILE ? file_sensor_placeholders : sensor_placeholders;
  const struct weft__ynode *tags = weft__ymap_get(n, "tags", NULL);
  if ((rc = weft__dsl_parse_kvs(d, tags, "tags", owner, 0, &se.tags))) goto done;
  check_placeholders(d, tags, allowed, owner);
  if ((rc = parse_config_template(d, weft__ymap_get(n, "config", NULL), allowed, owner,
                                  &se.config)))
    goto done;
  if (name_taken(d, loc, name, at) || d->n != before || !se.job || !kind_ok) goto done;
  if ((rc = grow((void **)&loc->sensors, loc->n_sensors, sizeof se))) goto done;
  loc->sensors[loc->n_sensors++] = se;
  return WEFT_OK;
nomem:
  rc = WEFT_ENOMEM;
done:
  weft__sensor_release(&se);
  return rc;
}

/* A schedules/ or sensors/ file: one mapping (named by `name:` or the file's
 * base name) or a list of mappings. */
int weft__dsl_parse_trigger_file(struct weft_diags *d, struct weft_location *loc,
                                 const char *file, const struct weft__ynode *root,
                                 int sensors) {
  if (weft__ynode_is_null(root)) return WEFT_OK;
  if (root->kind == WEFT__Y_SEQ) {
    int rc = WEFT_OK;
    for (size_t i = 0; i < root->u.seq.n && !rc; i++)
      rc = sensors ? parse_sensor(d, loc, root->u.seq.items[i], NULL)
                   : parse_schedule(d, loc, root->u.seq.items[i], NULL, NULL);
    return rc;
  }
  char *base = weft__dsl_base_name(file);
  NOMEM_IF(!base);
  int rc = sensors ? parse_sensor(d, loc, root, base) : parse_schedule(d, loc, root, NULL, base);
  free(base);
  return rc;
}

void weft__dsl_check_trigger_names(struct weft_workspace *ws) {
  for (size_t a = 0; a < ws->n_locations; a++) {
    const struct weft_location *la = ws->locations[a];
    for (size_t i = 0; i < la->n_schedules + la->n_sensors; i++) {
      int is_sc = i < la->n_schedules;
      const char *name = is_sc ? la->schedules[i].name : la->sensors[i - la->n_schedules].name;
      struct weft_mark m = is_sc ? la->schedules[i].mark : la->sensors[i - la->n_schedules].mark;
      for (size_t b = 0; b < a; b++) {
        const struct weft_location *lb = ws->locations[b];
        const struct weft_mark *first = NULL;
        for (size_t j = 0; j < lb->n_schedules && !first; j++)
          if (!strcmp(lb->schedules[j].name, name)) first = &lb->schedules[j].mark;
        for (size_t j = 0; j < lb->n_sensors && !first; j++)
          if (!strcmp(lb->sensors[j].name, name)) first = &lb->sensors[j].mark;
        if (first) {
          weft_diags_addf(&ws->diags, m.file, m.line, m.col,
                          "duplicate %s name '%s' in code location '%s' (also in code "
                          "location '%s' at %s:%d:%d); names must be unique in the workspace",
                          is_sc ? "schedule" : "sensor", name, la->name, lb->name, first->file,
                          first->line, first->col);
          break;
        }
      }
    }
  }
}
