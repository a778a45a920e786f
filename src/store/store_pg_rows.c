/* store_pg_rows.c: the PostgreSQL backend's data methods: runs, steps, the
 * event log (append, read) and key/value state, with the same results and
 * error codes as SQLite's (store_sqlite_rows.c).
 *
 * Reads go through weft__pg_exec alone; every write is wrapped in
 * weft__pg_write_begin/end, which gives a lone call its own write
 * transaction (with the same exactly-once protection as an explicit one).
 * No statement is written to fail on an expected condition (a duplicate id,
 * a missing run): postgres aborts the whole transaction on any error, SQLite
 * does not, so these come back as "no row changed" instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_pg.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/map.h"

#define P(s) ((struct weft__pg_store *)(s))

const char *weft__pg_i64(char buf[24], int64_t v) {
  snprintf(buf, 24, "%lld", (long long)v);
  return buf;
}

int64_t weft__pg_get_i64(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int weft__pg_get_dup(const PGresult *r, int row, int col, char **out) {
  *out = NULL;
  if (PQgetisnull(r, row, col)) return 0;
  *out = strdup(PQgetvalue(r, row, col));
  return *out == NULL;
}

static int changed_rows(const PGresult *r) { return atoi(PQcmdTuples((PGresult *)r)); }

/* Grows a list array by one zeroed slot; NULL when out of memory. */
static int nomem(struct weft__pg_store *p, weft_error *err, const char *op) {
  return weft_error_set(err, WEFT_ENOMEM, "%s: %s: out of memory", p->where, op);
}

/* ---- runs ------------------------------------------------------------------- */

int weft__pg_read_run(struct weft__pg_store *p, const PGresult *r, int row,
                      struct weft_run_row *out, weft_error *err) {
  memset(out, 0, sizeof *out);
  if (weft__pg_get_dup(r, row, 0, &out->id) || weft__pg_get_dup(r, row, 1, &out->job) ||
      weft__pg_get_dup(r, row, 2, &out->location) || weft__pg_get_dup(r, row, 4, &out->run_config) ||
      weft__pg_get_dup(r, row, 5, &out->tags) || weft__pg_get_dup(r, row, 6, &out->parent_run_id) ||
      weft__pg_get_dup(r, row, 7, &out->root_run_id) || weft__pg_get_dup(r, row, 8, &out->code_version) ||
      weft__pg_get_dup(r, row, 9, &out->message) || weft__pg_get_dup(r, row, 13, &out->coordinator)) {
    weft_run_row_release(out);
    return nomem(p, err, "reading a run");
  }
  out->created_ms = weft__pg_get_i64(r, row, 10);
  out->started_ms = weft__pg_get_i64(r, row, 11);
  out->ended_ms = weft__pg_get_i64(r, row, 12);
  out->heartbeat_ms = weft__pg_get_i64(r, row, 14);
  const char *status = PQgetvalue(r, row, 3);
  if (weft_run_status_parse(status, &out->status)) {
    int rc = weft_error_set(err, WEFT_ESTORE, "%s: run %s has unknown status '%s'", p->where,
                            out->id ? out->id : "?", status);
    weft_run_row_release(out);
    return rc;
  }
  return WEFT_OK;
}


/* Row i's value of column c of a many-row statement (NULL: SQL NULL; num:
 * room for a number's text). */
typedef const char *cell_fn(const void *ctx, size_t i, int c, char num[24]);

/* Fills arrays[0..ncols) with the text-array literals of n rows' columns
 * (cell(ctx, i, c, num) each), one statement's parameters for many rows.
 * WEFT_ENOMEM when out of memory (the caller frees what was filled). */
static int column_arrays(size_t n, int ncols, cell_fn *cell, const void *ctx, char **arrays) {
  const char **col = calloc(n, sizeof *col);
  char(*num)[24] = malloc(n * sizeof *num);
  int rc = col && num ? WEFT_OK : WEFT_ENOMEM;
  for (int c = 0; c < ncols && !rc; c++) {
    for (size_t i = 0; i < n; i++) col[i] = cell(ctx, i, c, num[i]);
    if (!(arrays[c] = weft__pg_text_array(col, n))) rc = WEFT_ENOMEM;
  }
  free(col);
  free(num);
  return rc;
}

/* The first of n rows whose column 0 (as cell gives it: a run id, a key) no
 * row of res holds in its own column 0: a row the statement left out. 0
 * when all came back (a caller asks only when some did not). */
static size_t first_left_out(const PGresult *res, size_t n, cell_fn *cell, const void *ctx) {
  char num[24];
  for (size_t i = 0; i < n; i++) {
    const char *id = cell(ctx, i, 0, num);
    int found = 0;
    for (int r = 0; r < PQntuples(res) && !found; r++) found = !strcmp(PQgetvalue(res, r, 0), id);
    if (!found) return i;
  }
  return 0;
}

/* Names the error of row i, which a many-row statement left out; returns
 * its code. */
typedef int left_out_fn(struct weft__pg_store *p, const void *ctx, size_t i, weft_error *err);

/* n rows (ncols columns as cell gives them, then extra as one more
 * parameter when not NULL) with statement stmt in a write transaction of
 * its own or the caller's. A row the statement left out (its result lacks
 * the row's column 0) fails it all, as left_out names it. */
static int write_rows(struct weft__pg_store *p, int stmt, int ncols, cell_fn *cell,
                      const void *ctx, size_t n, const char *extra, const char *op,
                      left_out_fn *left_out, weft_error *err) {
  char *arrays[16] = {NULL};
  PGresult *res = NULL;
  int implicit = 0, rc;
  if (column_arrays(n, ncols, cell, ctx, arrays)) {
    rc = nomem(p, err, op);
    goto done;
  }
  arrays[ncols] = (char *)extra; /* not freed: the caller's */
  if ((rc = weft__pg_write_begin(p, &implicit, err))) goto done;
  rc = weft__pg_exec(p, stmt, ncols + (extra != NULL), (const char *const *)arrays, &res, op, err);
  if (!rc && (size_t)PQntuples(res) != n)
    rc = left_out(p, ctx, first_left_out(res, n, cell, ctx), err);
  rc = weft__pg_write_end(p, implicit, rc, &res, err);
done:
  PQclear(res);
  for (int c = 0; c < ncols; c++) free(arrays[c]);
  return rc;
}

int weft__pg_run_update(struct weft_store *s, const struct weft_run_row *r, weft_error *err) {
  char started[24], ended[24], hb[24];
  const char *params[7] = {r->id,
                           weft_run_status_name(r->status),
                           r->message,
                           weft__pg_i64(started, r->started_ms),
                           weft__pg_i64(ended, r->ended_ms),
                           r->coordinator,
                           weft__pg_i64(hb, r->heartbeat_ms)};
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(P(s), &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(P(s), WEFT__PG_RUN_UPDATE, 7, params, &res, "run update", err);
  if (!rc && changed_rows(res) == 0)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "run update: no run %s", r->id);
  rc = weft__pg_write_end(P(s), implicit, rc, &res, err);
  PQclear(res);
  return rc;
}

/* Column c of run row i, in WEFT__PG_RUN_UPDATE_MANY's order. */
static const char *run_cell(const void *ctx, size_t i, int c, char num[24]) {
  const struct weft_run_row *r = (const struct weft_run_row *)ctx + i;
  switch (c) {
    case 0: return r->id;
    case 1: return weft_run_status_name(r->status);
    case 2: return r->message;
    case 3: return weft__pg_i64(num, r->started_ms);
    case 4: return weft__pg_i64(num, r->ended_ms);
    case 5: return r->coordinator;
    default: return weft__pg_i64(num, r->heartbeat_ms);
  }
}

static int no_run(struct weft__pg_store *p, const void *ctx, size_t i, weft_error *err) {
  (void)p;
  return weft_error_set(err, WEFT_ENOTFOUND, "run update: no run %s",
                        ((const struct weft_run_row *)ctx)[i].id);
}

int weft__pg_run_update_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                             weft_error *err) {
  return write_rows(P(s), WEFT__PG_RUN_UPDATE_MANY, 7, run_cell, rows, n, NULL, "run update",
                    no_run, err);
}

/* Column c of run row i with its defaults, in the order of
 * WEFT__PG_RUN_INSERT and WEFT__PG_RUN_INSERT_MANY. */
static const char *new_run_cell(const void *ctx, size_t i, int c, char num[24]) {
  const struct weft_run_row *r = (const struct weft_run_row *)ctx + i;
  switch (c) {
    case 0: return r->id;
    case 1: return r->job;
    case 2: return r->location;
    case 3: return weft_run_status_name(r->status);
    case 4: return r->run_config ? r->run_config : "{}";
    case 5: return r->tags ? r->tags : "{}";
    case 6: return r->parent_run_id;
    case 7: return r->root_run_id ? r->root_run_id : r->id;
    case 8: return r->code_version;
    case 9: return r->message;
    case 10: return weft__pg_i64(num, r->created_ms ? r->created_ms : weft_clock_wall_ms());
    case 11: return weft__pg_i64(num, r->started_ms);
    case 12: return weft__pg_i64(num, r->ended_ms);
    case 13: return r->coordinator;
    default: return weft__pg_i64(num, r->heartbeat_ms);
  }
}

static int run_exists(struct weft__pg_store *p, const void *ctx, size_t i, weft_error *err) {
  return weft_error_set(err, WEFT_ECONFLICT, "%s: run create: run %s already exists", p->where,
                        ((const struct weft_run_row *)ctx)[i].id);
}

int weft__pg_run_create(struct weft_store *s, const struct weft_run_row *r, weft_error *err) {
  char num[15][24];
  const char *params[15];
  for (int c = 0; c < 15; c++) params[c] = new_run_cell(r, 0, c, num[c]);
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(P(s), &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(P(s), WEFT__PG_RUN_INSERT, 15, params, &res, "run create", err);
  if (!rc && changed_rows(res) == 0) rc = run_exists(P(s), r, 0, err);
  rc = weft__pg_write_end(P(s), implicit, rc, &res, err);
  PQclear(res);
  return rc;
}

int weft__pg_run_create_many(struct weft_store *s, const struct weft_run_row *rows, size_t n,
                             weft_error *err) {
  return write_rows(P(s), WEFT__PG_RUN_INSERT_MANY, 15, new_run_cell, rows, n, NULL,
                    "run create", run_exists, err);
}

int weft__pg_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                     weft_error *err) {
  PGresult *res = NULL;
  const char *params[1] = {id};
  int rc = weft__pg_exec(P(s), WEFT__PG_RUN_GET, 1, params, &res, "run get", err);
  if (rc) return rc;
  if (PQntuples(res) == 0)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no run %s", id);
  else
    rc = weft__pg_read_run(P(s), res, 0, out, err);
  PQclear(res);
  return rc;
}

int weft__pg_run_list(struct weft_store *s, const struct weft_run_filter *f,
                      struct weft_run_list *out, weft_error *err) {
  const char *params[6];
  char created[24], limit[24], *statuses = NULL;
  const char *names[WEFT_RUN__COUNT];
  PGresult *res = NULL;
  int n = 0, mask = 0, rc = WEFT_OK;
  if (f->before_id) {
    const char *cp[1] = {f->before_id};
    if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_CREATED, 1, cp, &res, "run list", err)))
      goto done;
    if (PQntuples(res) == 0) {
      rc = weft_error_set(err, WEFT_ENOTFOUND, "run list: cursor run %s does not exist",
                          f->before_id);
      goto done;
    }
    weft__pg_i64(created, weft__pg_get_i64(res, 0, 0));
    PQclear(res);
    res = NULL;
  }
  if (f->job) {
    mask |= WEFT__PG_RL_JOB;
    params[n++] = f->job;
  }
  if (f->location) {
    mask |= WEFT__PG_RL_LOCATION;
    params[n++] = f->location;
  }
  if (f->status_mask) {
    size_t k = 0;
    for (int i = 0; i < WEFT_RUN__COUNT; i++)
      if (f->status_mask & (1 << i)) names[k++] = weft_run_status_name((enum weft_run_status)i);
    if (!(statuses = weft__pg_text_array(names, k))) {
      rc = nomem(P(s), err, "run list");
      goto done;
    }
    mask |= WEFT__PG_RL_STATUS;
    params[n++] = statuses;
  }
  if (f->before_id) {
    mask |= WEFT__PG_RL_BEFORE;
    params[n++] = created;
    params[n++] = f->before_id;
  }
  params[n++] = weft__pg_i64(limit, f->limit > 0 ? f->limit : 50);
  if ((rc = weft__pg_exec(P(s), WEFT__PG_RUN_LIST + mask, n, params, &res, "run list", err)))
    goto done;
  for (int i = 0; i < PQntuples(res); i++) {
    struct weft_run_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r) {
      rc = nomem(P(s), err, "run list");
      goto done;
    }
    if ((rc = weft__pg_read_run(P(s), res, i, r, err))) goto done;
  }
done:
  PQclear(res);
  free(statuses);
  if (rc) weft_run_list_release(out);
  return rc;
}

int weft__pg_run_count(struct weft_store *s, int64_t counts[], weft_error *err) {
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), WEFT__PG_RUN_COUNT, 0, NULL, &res, "run count", err);
  if (rc) return rc;
  for (int i = 0; i < PQntuples(res) && !rc; i++) {
    enum weft_run_status status;
    const char *name = PQgetvalue(res, i, 0);
    if (weft_run_status_parse(name, &status))
      rc = weft_error_set(err, WEFT_ESTORE, "%s: run count: unknown status '%s'",
                          P(s)->where, name);
    else
      counts[status] = weft__pg_get_i64(res, i, 1);
  }
  PQclear(res);
  return rc;
}

/* ---- steps ------------------------------------------------------------------------ */

/* Column c of step row i, in WEFT__PG_STEP_PUT's order. */
static const char *step_cell(const void *ctx, size_t i, int c, char num[24]) {
  const struct weft_step_row *st = (const struct weft_step_row *)ctx + i;
  switch (c) {
    case 0: return st->run_id;
    case 1: return st->step;
    case 2: return weft__pg_i64(num, st->attempt);
    case 3: return weft_step_status_name(st->status);
    case 4: return weft__pg_i64(num, st->started_ms);
    case 5: return weft__pg_i64(num, st->ended_ms);
    case 6: return weft__pg_i64(num, st->pid);
    case 7: return st->message;
    default: return st->worker;
  }
}

static int no_step_run(struct weft__pg_store *p, const void *ctx, size_t i, weft_error *err) {
  (void)p;
  const struct weft_step_row *m = (const struct weft_step_row *)ctx + i;
  return weft_error_set(err, WEFT_ENOTFOUND, "step put %s#%d: no run %s", m->step, m->attempt,
                        m->run_id);
}

int weft__pg_step_put(struct weft_store *s, const struct weft_step_row *st, size_t n,
                      weft_error *err) {
  return write_rows(P(s), WEFT__PG_STEP_PUT, 9, step_cell, st, n, NULL, "step put", no_step_run,
                    err);
}

int weft__pg_step_list(struct weft_store *s, const char *run_id, struct weft_step_list *out,
                       weft_error *err) {
  PGresult *res = NULL;
  const char *params[1] = {run_id};
  int rc = weft__pg_exec(P(s), WEFT__PG_STEP_LIST, 1, params, &res, "step list", err);
  if (rc) return rc;
  for (int i = 0; i < PQntuples(res) && !rc; i++) {
    struct weft_step_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r || weft__pg_get_dup(res, i, 0, &r->run_id) || weft__pg_get_dup(res, i, 1, &r->step) ||
        weft__pg_get_dup(res, i, 7, &r->message) || weft__pg_get_dup(res, i, 8, &r->worker)) {
      rc = nomem(P(s), err, "step list");
      break;
    }
    r->attempt = (int)weft__pg_get_i64(res, i, 2);
    r->started_ms = weft__pg_get_i64(res, i, 4);
    r->ended_ms = weft__pg_get_i64(res, i, 5);
    r->pid = (int)weft__pg_get_i64(res, i, 6);
    if (weft_step_status_parse(PQgetvalue(res, i, 3), &r->status)) {
      rc = weft_error_set(err, WEFT_ESTORE, "%s: step %s/%s has unknown status '%s'",
                          P(s)->where, r->run_id, r->step, PQgetvalue(res, i, 3));
    }
  }
  PQclear(res);
  if (rc) weft_step_list_release(out);
  return rc;
}

/* ---- events ------------------------------------------------------------------------- */

/* A batch of events as column_arrays reads it. */
struct event_cells {
  const struct weft_event_row *ev;
  int64_t now; /* the time of an event given none */
};

/* Column c of event i, in WEFT__PG_EVENT_APPEND's order. */
static const char *event_cell(const void *ctx, size_t i, int c, char num[24]) {
  const struct event_cells *x = ctx;
  const struct weft_event_row *e = &x->ev[i];
  switch (c) {
    case 0: return e->run_id;
    case 1: return e->step;
    case 2: return e->type;
    case 3: return weft__pg_i64(num, e->ts_ms ? e->ts_ms : x->now);
    default: return e->payload ? e->payload : "{}";
  }
}

/* Sorts the ids of a batch ascending in place (insertion sort: a result
 * already comes back in order, so this is one pass). */
static void sort_ids(struct weft_event_row *ev, size_t n) {
  for (size_t i = 1; i < n; i++) {
    int64_t v = ev[i].id;
    size_t j = i;
    for (; j > 0 && ev[j - 1].id > v; j--) ev[j].id = ev[j - 1].id;
    ev[j].id = v;
  }
}

int weft__pg_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                          weft_error *err) {
  struct weft__pg_store *p = P(s);
  char *arrays[5] = {NULL};
  PGresult *res = NULL;
  int implicit = 0, rc;
  struct event_cells cells = {ev, weft_clock_wall_ms()};
  if (column_arrays(n, 5, event_cell, &cells, arrays)) {
    rc = nomem(p, err, "event append");
    goto done;
  }
  if ((rc = weft__pg_write_begin(p, &implicit, err))) goto done;
  rc = weft__pg_exec(p, WEFT__PG_EVENT_APPEND, 5, (const char *const *)arrays, &res,
                     "event append", err);
  if (!rc && PQntuples(res) > 0 && !PQgetisnull(res, 0, 1)) {
    const char *missing = PQgetvalue(res, 0, 1), *type = ev[0].type;
    for (size_t i = 0; i < n; i++)
      if (!strcmp(ev[i].run_id, missing)) type = ev[i].type;
    rc = weft_error_set(err, WEFT_ENOTFOUND, "event append %s: no run %s", type, missing);
  } else if (!rc && (size_t)PQntuples(res) != n) {
    rc = weft_error_set(err, WEFT_ESTORE, "%s: event append: %d ids for %zu events", p->where,
                        PQntuples(res), n);
  }
  if (!rc) p->tx_notify |= WEFT__PG_NOTE_EVENTS;
  rc = weft__pg_write_end(p, implicit, rc, &res, err);
  /* ids were drawn in the batch's order, so ascending ids are ev[0], ev[1]... */
  if (!rc) {
    for (size_t i = 0; i < n; i++) ev[i].id = weft__pg_get_i64(res, (int)i, 0);
    sort_ids(ev, n);
  }
done:
  if (rc)
    for (size_t i = 0; i < n; i++) ev[i].id = 0; /* none of them is in the log */
  PQclear(res);
  for (int c = 0; c < 5; c++) free(arrays[c]);
  return rc;
}

int weft__pg_event_read(struct weft_store *s, const struct weft_event_filter *f,
                        struct weft_event_list *out, weft_error *err) {
  char after[24], limit[24];
  const char *params[4] = {weft__pg_i64(after, f->after_id), f->limit > 0 ? weft__pg_i64(limit, f->limit) : NULL,
                           NULL, NULL};
  int id, n = 2;
  if (f->run_id && f->step) {
    id = WEFT__PG_EVENT_READ_RUN_STEP;
    params[n++] = f->run_id;
    params[n++] = f->step;
  } else if (f->run_id) {
    id = WEFT__PG_EVENT_READ_RUN;
    params[n++] = f->run_id;
  } else if (f->step) {
    id = WEFT__PG_EVENT_READ_STEP;
    params[n++] = f->step;
  } else {
    id = WEFT__PG_EVENT_READ_ALL;
  }
  PGresult *res = NULL;
  int rc = weft__pg_exec(P(s), id, n, params, &res, "event read", err);
  if (rc) return rc;
  int rows = PQntuples(res);
  if (rows > 0 && !(out->v = calloc((size_t)rows, sizeof *out->v))) rc = nomem(P(s), err, "event read");
  for (int i = 0; i < rows && !rc; i++) {
    struct weft_event_row *e = &out->v[out->n++];
    if (weft__pg_get_dup(res, i, 1, &e->run_id) || weft__pg_get_dup(res, i, 2, &e->step) ||
        weft__pg_get_dup(res, i, 3, &e->type) || weft__pg_get_dup(res, i, 5, &e->payload))
      rc = nomem(P(s), err, "event read");
    e->id = weft__pg_get_i64(res, i, 0);
    e->ts_ms = weft__pg_get_i64(res, i, 4);
  }
  PQclear(res);
  if (rc) weft_event_list_release(out);
  return rc;
}

/* ---- key/value ---------------------------------------------------------------------------- */

int weft__pg_kv_get(struct weft_store *s, const char *key, char **value, weft_error *err) {
  PGresult *res = NULL;
  const char *params[1] = {key};
  int rc = weft__pg_exec(P(s), WEFT__PG_KV_GET, 1, params, &res, "kv get", err);
  if (rc) return rc;
  if (PQntuples(res) == 0)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "kv get: no key %s", key);
  else if (weft__pg_get_dup(res, 0, 0, value) || !*value)
    rc = weft_error_set(err, WEFT_ENOMEM, "kv get %s: out of memory", key);
  PQclear(res);
  return rc;
}

/* Runs one key/value write in a write transaction; *changed receives the
 * number of rows it touched. */
static int kv_write(struct weft__pg_store *p, int id, const char *op, const char *key,
                    const char *value, const char *expected, int *changed, weft_error *err) {
  char now[24];
  const char *params[4] = {key, value, weft__pg_i64(now, weft_clock_wall_ms()), expected};
  int n = expected ? 4 : value ? 3 : 1;
  PGresult *res = NULL;
  int implicit, rc = weft__pg_write_begin(p, &implicit, err);
  if (rc) return rc;
  rc = weft__pg_exec(p, id, n, params, &res, op, err);
  if (!rc && changed) *changed = changed_rows(res);
  /* a compare-set that changed nothing is still a finished transaction */
  rc = weft__pg_write_end(p, implicit, rc, &res, err);
  PQclear(res);
  return rc;
}

int weft__pg_kv_set(struct weft_store *s, const char *key, const char *value,
                    weft_error *err) {
  return kv_write(P(s), WEFT__PG_KV_SET, "kv set", key, value, NULL, NULL, err);
}

int weft__pg_kv_delete(struct weft_store *s, const char *key, weft_error *err) {
  return kv_write(P(s), WEFT__PG_KV_DELETE, "kv delete", key, NULL, NULL, NULL, err);
}

int weft__pg_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err) {
  struct weft__pg_store *p = P(s);
  int ascii;
  char *end = weft__store_prefix_end(prefix, &ascii);
  const char *params[2] = {prefix, end};
  PGresult *res = NULL;
  int implicit, rc;
  if (!end) return weft_error_set(err, WEFT_ENOMEM, "kv delete-prefix %s: out of memory", prefix);
  if (!(rc = weft__pg_write_begin(p, &implicit, err))) {
    rc = ascii ? weft__pg_exec(p, WEFT__PG_KV_DELETE_PREFIX, 2, params, &res, "kv delete-prefix",
                               err)
               : weft__pg_exec(p, WEFT__PG_KV_DELETE_PREFIX_ANY, 1, params, &res,
                               "kv delete-prefix", err);
    rc = weft__pg_write_end(p, implicit, rc, &res, err);
  }
  PQclear(res);
  free(end);
  return rc;
}

int weft__pg_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                            weft_error *err) {
  struct weft__pg_store *p = P(s);
  char *k = weft__pg_text_array(keys, n);
  const char *params[1] = {k};
  PGresult *res = NULL;
  int implicit = 0, rc;
  if (!k) return nomem(p, err, "kv delete-many");
  if (!(rc = weft__pg_write_begin(p, &implicit, err))) {
    rc = weft__pg_exec(p, WEFT__PG_KV_DELETE_MANY, 1, params, &res, "kv delete-many", err);
    rc = weft__pg_write_end(p, implicit, rc, &res, err);
  }
  PQclear(res);
  free(k);
  return rc;
}

int weft__pg_kv_insert_many(struct weft_store *s, const char *const *keys,
                            const char *const *values, size_t n, unsigned char *inserted,
                            weft_error *err) {
  struct weft__pg_store *p = P(s);
  char now[24];
  char *k = weft__pg_text_array(keys, n), *v = weft__pg_text_array(values, n);
  const char *params[3] = {k, v, weft__pg_i64(now, weft_clock_wall_ms())};
  PGresult *res = NULL;
  int implicit = 0, rc;
  memset(inserted, 0, n);
  if (!k || !v) {
    rc = nomem(p, err, "kv insert-many");
    goto done;
  }
  if ((rc = weft__pg_write_begin_kv_insert(p, &implicit, err))) goto done;
  rc = weft__pg_exec(p, WEFT__PG_KV_INSERT_MANY, 3, params, &res, "kv insert-many", err);
  rc = weft__pg_write_end(p, implicit, rc, &res, err);
  /* The returned keys went in; a key given twice went in the first time
   * (weft_map_put keeps a key's first index). */
  struct weft_map first = WEFT_MAP_INIT;
  for (size_t i = 0; !rc && i < n; i++)
    if (weft_map_put(&first, keys[i], (void *)(uintptr_t)(i + 1)) == WEFT_ENOMEM)
      rc = nomem(p, err, "kv insert-many");
  for (int r = 0; !rc && r < PQntuples(res); r++) {
    uintptr_t i = (uintptr_t)weft_map_get(&first, PQgetvalue(res, r, 0));
    if (i) inserted[i - 1] = 1;
  }
  weft_map_release(&first);
done:
  PQclear(res);
  free(k);
  free(v);
  return rc;
}

/* One statement either way, under the write lock: the check and the write
 * are atomic across processes (the UPDATE's WHERE is also re-checked by
 * postgres against a concurrently updated row). */
int weft__pg_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                            const char *value, weft_error *err) {
  int changed = 0;
  int rc = expected ? kv_write(P(s), WEFT__PG_KV_SWAP, "kv compare-set", key, value, expected,
                               &changed, err)
                    : kv_write(P(s), WEFT__PG_KV_INSERT_NEW, "kv compare-set", key, value,
                               NULL, &changed, err);
  if (!rc && !changed) {
    rc = weft_error_set(err, WEFT_ECONFLICT,
                        expected ? "kv compare-set %s: the value is not the expected one"
                                 : "kv compare-set %s: the key already exists",
                        key);
  }
  return rc;
}

/* Column c of swap i: key, expected value, new value. */
struct kv_swaps {
  const char *const *keys, *const *expected, *const *values;
};

static const char *kv_swap_cell(const void *ctx, size_t i, int c, char num[24]) {
  (void)num;
  const struct kv_swaps *sw = ctx;
  return c == 0 ? sw->keys[i] : c == 1 ? sw->expected[i] : sw->values[i];
}

static int not_expected(struct weft__pg_store *p, const void *ctx, size_t i, weft_error *err) {
  (void)p;
  return weft_error_set(err, WEFT_ECONFLICT, "kv compare-set %s: the value is not the expected one",
                        ((const struct kv_swaps *)ctx)->keys[i]);
}

/* Keys expected absent go in with one insert, the others with one swap,
 * both in one write of its own or the caller's. */
int weft__pg_kv_compare_set_many(struct weft_store *s, const char *const *keys,
                                 const char *const *expected, const char *const *values,
                                 size_t n, weft_error *err) {
  struct weft__pg_store *p = P(s);
  const char **k = calloc(n, sizeof *k), **e = calloc(n, sizeof *e), **v = calloc(n, sizeof *v);
  unsigned char *in = calloc(n, 1);
  char now[24];
  size_t na = 0, j = 0;
  int implicit = 0, rc = k && e && v && in ? WEFT_OK : nomem(p, err, "kv compare-set");
  /* the absent ones first, then the swaps, each in the caller's order */
  for (int swap = 0; !rc && swap < 2; swap++)
    for (size_t i = 0; i < n; i++)
      if ((expected[i] != NULL) == swap) {
        k[j] = keys[i];
        e[j] = expected[i];
        v[j++] = values[i];
        na += !swap;
      }
  if (!rc && !(rc = weft__pg_write_begin(p, &implicit, err))) {
    if (na) rc = weft__pg_kv_insert_many(s, k, v, na, in, err);
    for (size_t i = 0; !rc && i < na; i++)
      if (!in[i])
        rc = weft_error_set(err, WEFT_ECONFLICT, "kv compare-set %s: the key already exists", k[i]);
    if (!rc && na < n) {
      struct kv_swaps sw = {k + na, e + na, v + na};
      rc = write_rows(p, WEFT__PG_KV_SWAP_MANY, 3, kv_swap_cell, &sw, n - na,
                      weft__pg_i64(now, weft_clock_wall_ms()), "kv compare-set", not_expected, err);
    }
    rc = weft__pg_write_end(p, implicit, rc, NULL, err);
  }
  free(k);
  free(e);
  free(v);
  free(in);
  return rc;
}

/* ---- arrays ------------------------------------------------------------------------------ */

char *weft__pg_text_array(const char *const *v, size_t n) {
  struct weft_buf b = WEFT_BUF_INIT;
  int rc = weft_buf_addc(&b, '{');
  for (size_t i = 0; !rc && i < n; i++) {
    if (i) rc |= weft_buf_addc(&b, ',');
    if (!v[i]) {
      rc |= weft_buf_adds(&b, "NULL");
      continue;
    }
    rc |= weft_buf_addc(&b, '"');
    for (const char *c = v[i]; !rc && *c; c++) {
      if (*c == '"' || *c == '\\') rc |= weft_buf_addc(&b, '\\');
      rc |= weft_buf_addc(&b, *c);
    }
    rc |= weft_buf_addc(&b, '"');
  }
  rc |= weft_buf_addc(&b, '}');
  if (rc) {
    weft_buf_release(&b);
    return NULL;
  }
  return weft_buf_detach(&b, NULL);
}

int weft__pg_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                     int limit, struct weft_kv_list *out, weft_error *err) {
  int ascii;
  char lim[24], *end = weft__store_prefix_end(prefix, &ascii);
  const char *params[4] = {prefix, after_key ? after_key : "", weft__pg_i64(lim, limit), end};
  PGresult *res = NULL;
  if (!end) return weft_error_set(err, WEFT_ENOMEM, "kv list %s: out of memory", prefix);
  int rc = weft__pg_exec(P(s), ascii ? WEFT__PG_KV_LIST : WEFT__PG_KV_LIST_ANY, ascii ? 4 : 3,
                         params, &res, "kv list", err);
  free(end);
  if (rc) return rc;
  int n = PQntuples(res);
  if (n > 0) {
    out->v = calloc((size_t)n, sizeof *out->v);
    if (!out->v) goto nomem;
  }
  for (int i = 0; i < n; i++) {
    struct weft_kv_row *r = &out->v[i];
    out->n++;
    if (weft__pg_get_dup(res, i, 0, &r->key) || weft__pg_get_dup(res, i, 1, &r->value) || !r->key ||
        !r->value)
      goto nomem;
    r->updated_ms = weft__pg_get_i64(res, i, 2);
  }
  PQclear(res);
  return WEFT_OK;
nomem:
  PQclear(res);
  weft_kv_list_release(out);
  return weft_error_set(err, WEFT_ENOMEM, "kv list %s: out of memory", prefix);
}
