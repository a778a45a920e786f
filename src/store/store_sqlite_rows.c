/* store_sqlite_rows.c: the SQLite backend's data methods: runs, steps, the
 * event log (append, read, wait) and key/value state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "store/store_sqlite.h"
#include "util/buf.h"
#include "util/clock.h"

#define Q(s) ((struct weft__sq_store *)(s))

/* Grows a list array by one zeroed slot; NULL when out of memory. */
static void bind_text(sqlite3_stmt *st, int i, const char *s) {
  sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* ---- runs ------------------------------------------------------------------ */

int weft__sq_run_create(struct weft_store *s, const struct weft_run_row *r,
                        weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_RUN_INSERT, &st, err);
  if (rc) return rc;
  bind_text(st, 1, r->id);
  bind_text(st, 2, r->job);
  bind_text(st, 3, r->location);
  bind_text(st, 4, weft_run_status_name(r->status));
  bind_text(st, 5, r->run_config ? r->run_config : "{}");
  bind_text(st, 6, r->tags ? r->tags : "{}");
  bind_text(st, 7, r->parent_run_id);
  bind_text(st, 8, r->root_run_id ? r->root_run_id : r->id);
  bind_text(st, 9, r->code_version);
  bind_text(st, 10, r->message);
  sqlite3_bind_int64(st, 11, r->created_ms ? r->created_ms : weft_clock_wall_ms());
  sqlite3_bind_int64(st, 12, r->started_ms);
  sqlite3_bind_int64(st, 13, r->ended_ms);
  bind_text(st, 14, r->coordinator);
  sqlite3_bind_int64(st, 15, r->heartbeat_ms);
  int src = sqlite3_step(st);
  if (src == SQLITE_CONSTRAINT_PRIMARYKEY) {
    rc = weft_error_set(err, WEFT_ECONFLICT, "sqlite %s: run create: run %s already exists",
                        Q(s)->path, r->id);
  } else if (src != SQLITE_DONE) {
    rc = weft__sq_error(Q(s), err, src, "run create %s", r->id);
  }
  weft__sq_done(st);
  return rc;
}

int weft__sq_run_update(struct weft_store *s, const struct weft_run_row *r,
                        weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_RUN_UPDATE, &st, err);
  if (rc) return rc;
  bind_text(st, 1, r->id);
  bind_text(st, 2, weft_run_status_name(r->status));
  bind_text(st, 3, r->message);
  sqlite3_bind_int64(st, 4, r->started_ms);
  sqlite3_bind_int64(st, 5, r->ended_ms);
  bind_text(st, 6, r->coordinator);
  sqlite3_bind_int64(st, 7, r->heartbeat_ms);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE)
    rc = weft__sq_error(Q(s), err, src, "run update %s", r->id);
  else if (sqlite3_changes(Q(s)->db) == 0)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "run update: no run %s", r->id);
  weft__sq_done(st);
  return rc;
}

int weft__sq_run_get(struct weft_store *s, const char *id, struct weft_run_row *out,
                     weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_RUN_GET, &st, err);
  if (rc) return rc;
  bind_text(st, 1, id);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    rc = weft__sq_read_run(Q(s), st, out, err);
  else if (src == SQLITE_DONE)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "no run %s", id);
  else
    rc = weft__sq_error(Q(s), err, src, "run get %s", id);
  weft__sq_done(st);
  return rc;
}

/* created_ms of run id, the page cursor of a run list. */
static int run_created(struct weft_store *s, const char *id, int64_t *created,
                       weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_RUN_CREATED, &st, err);
  if (rc) return rc;
  bind_text(st, 1, id);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    *created = sqlite3_column_int64(st, 0);
  else if (src == SQLITE_DONE)
    rc = weft_error_set(err, WEFT_ENOTFOUND, "run list: cursor run %s does not exist", id);
  else
    rc = weft__sq_error(Q(s), err, src, "run list: reading cursor run %s", id);
  weft__sq_done(st);
  return rc;
}

/* The filters vary per call, so the query is built each time (and kept
 * prepared by its text: few shapes recur); each filter is one indexed
 * condition rather than "(? IS NULL OR ...)", which would keep sqlite from
 * using the (job|status, created_ms) indexes. */
int weft__sq_run_list(struct weft_store *s, const struct weft_run_filter *f,
                      struct weft_run_list *out, weft_error *err) {
  struct weft_buf sql = WEFT_BUF_INIT;
  sqlite3_stmt *st = NULL;
  int64_t cursor_created = 0;
  int rc = WEFT_OK, src, n_bind = 0;
  if (f->before_id && (rc = run_created(s, f->before_id, &cursor_created, err)))
    goto done;
  weft_buf_adds(&sql, "SELECT " WEFT__SQ_RUN_COLUMNS " FROM runs WHERE 1");
  if (f->job) weft_buf_adds(&sql, " AND job = ?");
  if (f->location) weft_buf_adds(&sql, " AND location = ?");
  if (f->status_mask) {
    weft_buf_adds(&sql, " AND status IN (''");
    for (int i = 0; i < WEFT_RUN__COUNT; i++)
      if (f->status_mask & (1 << i)) weft_buf_adds(&sql, ", ?");
    weft_buf_adds(&sql, ")");
  }
  if (f->before_id)
    weft_buf_adds(&sql, " AND (created_ms, id) < (?, ?)"); /* an index range */
  if (weft_buf_adds(&sql, " ORDER BY created_ms DESC, id DESC LIMIT ?")) {
    rc = weft_error_set(err, WEFT_ENOMEM, "run list: out of memory");
    goto done;
  }
  if ((rc = weft__sq_stmt_text(Q(s), sql.ptr, &st, err))) goto done;
  if (f->job) bind_text(st, ++n_bind, f->job);
  if (f->location) bind_text(st, ++n_bind, f->location);
  for (int i = 0; f->status_mask && i < WEFT_RUN__COUNT; i++)
    if (f->status_mask & (1 << i))
      bind_text(st, ++n_bind, weft_run_status_name((enum weft_run_status)i));
  if (f->before_id) {
    sqlite3_bind_int64(st, ++n_bind, cursor_created);
    bind_text(st, ++n_bind, f->before_id);
  }
  sqlite3_bind_int(st, ++n_bind, f->limit > 0 ? f->limit : 50);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_run_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r) {
      rc = weft_error_set(err, WEFT_ENOMEM, "run list: out of memory");
      goto done;
    }
    if ((rc = weft__sq_read_run(Q(s), st, r, err))) goto done;
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run list");
done:
  weft__sq_done(st);
  weft_buf_release(&sql);
  if (rc) weft_run_list_release(out);
  return rc;
}

int weft__sq_run_count(struct weft_store *s, int64_t counts[], weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_RUN_COUNT, &st, err);
  if (rc) return rc;
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    enum weft_run_status status;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (weft_run_status_parse(name, &status)) {
      rc = weft_error_set(err, WEFT_ESTORE, "sqlite %s: run count: unknown status '%s'",
                          Q(s)->path, name ? name : "(null)");
      break;
    }
    counts[status] = sqlite3_column_int64(st, 1);
  }
  if (!rc && src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "run count");
  weft__sq_done(st);
  return rc;
}

/* ---- steps ---------------------------------------------------------------------- */

/* Outside a caller's transaction a batch of n rows still commits as one:
 * batch_begin opens one when there is none (*own says so), batch_end
 * commits it, or rolls it back when rc is an error. what names the batch
 * in errors ("step put: commit"). */
static int batch_begin(struct weft__sq_store *q, size_t n, const char *what, int *own,
                       weft_error *err) {
  char op[64];
  *own = n > 1 && sqlite3_get_autocommit(q->db);
  snprintf(op, sizeof op, "%s: begin", what);
  return *own ? weft__sq_exec_cached(q, WEFT__SQ_BEGIN, op, err) : WEFT_OK;
}

static int batch_end(struct weft__sq_store *q, int own, int rc, const char *what,
                     weft_error *err) {
  char op[64];
  if (!own) return rc;
  if (!rc) {
    snprintf(op, sizeof op, "%s: commit", what);
    if (!(rc = weft__sq_exec_cached(q, WEFT__SQ_COMMIT, op, err))) return WEFT_OK;
  }
  snprintf(op, sizeof op, "%s: rollback", what);
  weft__sq_exec_cached(q, WEFT__SQ_ROLLBACK, op, NULL);
  return rc;
}

static int step_put_one(struct weft_store *s, const struct weft_step_row *row,
                        weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_STEP_PUT, &st, err);
  if (rc) return rc;
  bind_text(st, 1, row->run_id);
  bind_text(st, 2, row->step);
  sqlite3_bind_int(st, 3, row->attempt);
  bind_text(st, 4, weft_step_status_name(row->status));
  sqlite3_bind_int64(st, 5, row->started_ms);
  sqlite3_bind_int64(st, 6, row->ended_ms);
  sqlite3_bind_int(st, 7, row->pid);
  bind_text(st, 8, row->message);
  bind_text(st, 9, row->worker);
  int src = sqlite3_step(st);
  if (src == SQLITE_CONSTRAINT_FOREIGNKEY) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "step put %s#%d: no run %s", row->step,
                        row->attempt, row->run_id);
  } else if (src != SQLITE_DONE) {
    rc = weft__sq_error(Q(s), err, src, "step put %s/%s#%d", row->run_id, row->step,
                        row->attempt);
  }
  weft__sq_done(st);
  return rc;
}

int weft__sq_step_put(struct weft_store *s, const struct weft_step_row *rows, size_t n,
                      weft_error *err) {
  struct weft__sq_store *q = Q(s);
  int own, rc = batch_begin(q, n, "step put", &own, err);
  if (rc) return rc;
  for (size_t i = 0; !rc && i < n; i++) rc = step_put_one(s, &rows[i], err);
  return batch_end(q, own, rc, "step put", err);
}

static int read_step(struct weft__sq_store *q, sqlite3_stmt *st, struct weft_step_row *r,
                     weft_error *err) {
  char *status = NULL;
  int rc = WEFT_OK;
  if (weft__sq_column_dup(st, 0, &r->run_id) || weft__sq_column_dup(st, 1, &r->step) ||
      weft__sq_column_dup(st, 3, &status) || weft__sq_column_dup(st, 7, &r->message) ||
      weft__sq_column_dup(st, 8, &r->worker)) {
    rc = weft_error_set(err, WEFT_ENOMEM, "step list: out of memory");
    goto done;
  }
  r->attempt = sqlite3_column_int(st, 2);
  r->started_ms = sqlite3_column_int64(st, 4);
  r->ended_ms = sqlite3_column_int64(st, 5);
  r->pid = sqlite3_column_int(st, 6);
  if (weft_step_status_parse(status, &r->status)) {
    rc = weft_error_set(err, WEFT_ESTORE, "sqlite %s: step %s/%s has unknown status '%s'",
                        q->path, r->run_id, r->step, status ? status : "(null)");
  }
done:
  free(status);
  return rc;
}

int weft__sq_step_list(struct weft_store *s, const char *run_id,
                       struct weft_step_list *out, weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_STEP_LIST, &st, err);
  if (rc) return rc;
  bind_text(st, 1, run_id);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_step_row *r = weft__store_list_push((void **)&out->v, &out->n, sizeof *r);
    if (!r) {
      rc = weft_error_set(err, WEFT_ENOMEM, "step list: out of memory");
      break;
    }
    if ((rc = read_step(Q(s), st, r, err))) break;
  }
  if (!rc && src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "step list %s", run_id);
  weft__sq_done(st);
  if (rc) weft_step_list_release(out);
  return rc;
}

/* ---- events ------------------------------------------------------------------------ */

int weft__sq_event_append(struct weft_store *s, struct weft_event_row *ev, size_t n,
                          weft_error *err) {
  struct weft__sq_store *q = Q(s);
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(q, WEFT__SQ_EVENT_INSERT, &st, err);
  if (rc) return rc;
  int own;
  if ((rc = batch_begin(q, n, "event append", &own, err))) return rc;
  int64_t now = weft_clock_wall_ms();
  size_t i;
  for (i = 0; i < n; i++) {
    bind_text(st, 1, ev[i].run_id);
    bind_text(st, 2, ev[i].step);
    bind_text(st, 3, ev[i].type);
    sqlite3_bind_int64(st, 4, ev[i].ts_ms ? ev[i].ts_ms : now);
    bind_text(st, 5, ev[i].payload ? ev[i].payload : "{}");
    int src = sqlite3_step(st);
    if (src == SQLITE_CONSTRAINT_FOREIGNKEY) {
      rc = weft_error_set(err, WEFT_ENOTFOUND, "event append %s: no run %s", ev[i].type,
                          ev[i].run_id);
    } else if (src != SQLITE_DONE) {
      rc = weft__sq_error(q, err, src, "event append %s to run %s", ev[i].type,
                          ev[i].run_id);
    }
    weft__sq_done(st);
    if (rc) break;
    ev[i].id = sqlite3_last_insert_rowid(q->db);
  }
  if ((rc = batch_end(q, own, rc, "event append", err)))
    for (i = 0; i < n; i++) ev[i].id = 0; /* none of them is in the log */
  return rc;
}

int weft__sq_event_read(struct weft_store *s, const struct weft_event_filter *f,
                        struct weft_event_list *out, weft_error *err) {
  enum weft__sq_stmt id = f->run_id ? (f->step ? WEFT__SQ_EVENT_READ_RUN_STEP
                                               : WEFT__SQ_EVENT_READ_RUN)
                                    : (f->step ? WEFT__SQ_EVENT_READ_STEP
                                               : WEFT__SQ_EVENT_READ_ALL);
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), id, &st, err);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, f->after_id);
  if (f->run_id) bind_text(st, 2, f->run_id);
  if (f->step) bind_text(st, 3, f->step);
  sqlite3_bind_int(st, 4, f->limit > 0 ? f->limit : -1);
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    struct weft_event_row *e = weft__store_list_push((void **)&out->v, &out->n, sizeof *e);
    if (!e || weft__sq_column_dup(st, 1, &e->run_id) ||
        weft__sq_column_dup(st, 2, &e->step) || weft__sq_column_dup(st, 3, &e->type) ||
        weft__sq_column_dup(st, 5, &e->payload)) {
      rc = weft_error_set(err, WEFT_ENOMEM, "event read: out of memory");
      break;
    }
    e->id = sqlite3_column_int64(st, 0);
    e->ts_ms = sqlite3_column_int64(st, 4);
  }
  if (!rc && src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "event read");
  weft__sq_done(st);
  if (rc) weft_event_list_release(out);
  return rc;
}

static int event_max_id(struct weft__sq_store *q, int64_t *max_id, weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(q, WEFT__SQ_EVENT_MAX, &st, err);
  if (rc) return rc;
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW)
    *max_id = sqlite3_column_int64(st, 0);
  else
    rc = weft__sq_error(q, err, src, "event wait");
  weft__sq_done(st);
  return rc;
}

/* SQLite has no way to notify another process of a commit (postgres has
 * LISTEN/NOTIFY), so waiting is polling. Checking the max id is one b-tree
 * descent (microseconds); the interval starts at 2 ms so a follower sees a
 * burst of events at once, and backs off to 50 ms so an idle follower costs
 * ~20 cheap queries a second. */
int weft__sq_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                        weft_error *err) {
  int64_t deadline = weft_clock_mono_ms() + timeout_ms, max_id = 0, interval = 2;
  for (;;) {
    int rc = event_max_id(Q(s), &max_id, err);
    if (rc) return rc;
    if (max_id > after_id) return 1;
    int64_t left = deadline - weft_clock_mono_ms();
    if (left <= 0) return 0;
    weft_clock_sleep_ms(interval < left ? interval : left);
    interval = interval * 2 > 50 ? 50 : interval * 2;
  }
}

/* ---- key/value ------------------------------------------------------------------------- */

int weft__sq_kv_get(struct weft_store *s, const char *key, char **value, weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_KV_GET, &st, err);
  if (rc) return rc;
  bind_text(st, 1, key);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) {
    if (weft__sq_column_dup(st, 0, value) || !*value)
      rc = weft_error_set(err, WEFT_ENOMEM, "kv get %s: out of memory", key);
  } else if (src == SQLITE_DONE) {
    rc = weft_error_set(err, WEFT_ENOTFOUND, "kv get: no key %s", key);
  } else {
    rc = weft__sq_error(Q(s), err, src, "kv get %s", key);
  }
  weft__sq_done(st);
  return rc;
}

/* Runs a key/value write; *changed receives the number of rows it touched. */
static int kv_write(struct weft__sq_store *q, enum weft__sq_stmt id, const char *op,
                    const char *key, const char *value, const char *expected,
                    int *changed, weft_error *err) {
  sqlite3_stmt *st;
  int rc = weft__sq_stmt(q, id, &st, err);
  if (rc) return rc;
  bind_text(st, 1, key);
  if (value) {
    bind_text(st, 2, value);
    sqlite3_bind_int64(st, 3, weft_clock_wall_ms());
  }
  if (expected) bind_text(st, 4, expected);
  int src = sqlite3_step(st);
  if (src != SQLITE_DONE)
    rc = weft__sq_error(q, err, src, "%s %s", op, key);
  else if (changed)
    *changed = sqlite3_changes(q->db);
  weft__sq_done(st);
  return rc;
}

int weft__sq_kv_set(struct weft_store *s, const char *key, const char *value,
                    weft_error *err) {
  return kv_write(Q(s), WEFT__SQ_KV_SET, "kv set", key, value, NULL, NULL, err);
}

int weft__sq_kv_delete(struct weft_store *s, const char *key, weft_error *err) {
  return kv_write(Q(s), WEFT__SQ_KV_DELETE, "kv delete", key, NULL, NULL, NULL, err);
}

int weft__sq_kv_delete_prefix(struct weft_store *s, const char *prefix, weft_error *err) {
  char *end = weft__store_prefix_end(prefix, NULL); /* either end: SQLite compares bytes */
  sqlite3_stmt *st;
  int rc = end ? weft__sq_stmt(Q(s), WEFT__SQ_KV_DELETE_PREFIX, &st, err)
               : weft_error_set(err, WEFT_ENOMEM, "kv delete-prefix %s: out of memory", prefix);
  if (!rc) {
    bind_text(st, 1, prefix);
    bind_text(st, 2, end);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "kv delete-prefix %s", prefix);
    weft__sq_done(st);
  }
  free(end);
  return rc;
}

int weft__sq_kv_delete_many(struct weft_store *s, const char *const *keys, size_t n,
                            weft_error *err) {
  struct weft__sq_store *q = Q(s);
  int own, rc = batch_begin(q, n, "kv delete-many", &own, err);
  if (rc) return rc;
  for (size_t i = 0; !rc && i < n; i++)
    rc = kv_write(q, WEFT__SQ_KV_DELETE, "kv delete-many", keys[i], NULL, NULL, NULL, err);
  return batch_end(q, own, rc, "kv delete-many", err);
}

int weft__sq_kv_insert_many(struct weft_store *s, const char *const *keys,
                            const char *const *values, size_t n, unsigned char *inserted,
                            weft_error *err) {
  struct weft__sq_store *q = Q(s);
  int own, rc = batch_begin(q, n, "kv insert-many", &own, err);
  if (rc) return rc;
  for (size_t i = 0; !rc && i < n; i++) {
    int changed = 0;
    rc = kv_write(q, WEFT__SQ_KV_INSERT_NEW, "kv insert-many", keys[i], values[i], NULL,
                  &changed, err);
    inserted[i] = !rc && changed;
  }
  if ((rc = batch_end(q, own, rc, "kv insert-many", err))) memset(inserted, 0, n);
  return rc;
}

/* One statement either way, so the check and the write are atomic across
 * processes without an explicit transaction. */
int weft__sq_kv_compare_set(struct weft_store *s, const char *key, const char *expected,
                            const char *value, weft_error *err) {
  int changed = 0;
  int rc = expected ? kv_write(Q(s), WEFT__SQ_KV_SWAP, "kv compare-set", key, value,
                               expected, &changed, err)
                    : kv_write(Q(s), WEFT__SQ_KV_INSERT_NEW, "kv compare-set", key,
                               value, NULL, &changed, err);
  if (!rc && !changed) {
    rc = weft_error_set(err, WEFT_ECONFLICT,
                        expected ? "kv compare-set %s: the value is not the expected one"
                                 : "kv compare-set %s: the key already exists",
                        key);
  }
  return rc;
}

int weft__sq_kv_list(struct weft_store *s, const char *prefix, const char *after_key,
                     int limit, struct weft_kv_list *out, weft_error *err) {
  sqlite3_stmt *st;
  char *end = weft__store_prefix_end(prefix, NULL); /* either end: SQLite compares bytes */
  if (!end) return weft_error_set(err, WEFT_ENOMEM, "kv list %s: out of memory", prefix);
  int rc = weft__sq_stmt(Q(s), WEFT__SQ_KV_LIST, &st, err);
  if (rc) {
    free(end);
    return rc;
  }
  bind_text(st, 1, prefix);
  bind_text(st, 2, after_key ? after_key : "");
  sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
  bind_text(st, 4, end);
  size_t cap = 0;
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    if (out->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      struct weft_kv_row *nv = realloc(out->v, ncap * sizeof *nv);
      if (!nv) goto nomem;
      out->v = nv;
      cap = ncap;
    }
    struct weft_kv_row *r = &out->v[out->n];
    memset(r, 0, sizeof *r);
    out->n++;
    if (weft__sq_column_dup(st, 0, &r->key) || weft__sq_column_dup(st, 1, &r->value) ||
        !r->key || !r->value)
      goto nomem;
    r->updated_ms = sqlite3_column_int64(st, 2);
  }
  if (src != SQLITE_DONE) rc = weft__sq_error(Q(s), err, src, "kv list %s", prefix);
  weft__sq_done(st);
  free(end);
  if (rc) weft_kv_list_release(out);
  return rc;
nomem:
  weft__sq_done(st);
  free(end);
  weft_kv_list_release(out);
  return weft_error_set(err, WEFT_ENOMEM, "kv list %s: out of memory", prefix);
}
