/* storage_bench.c: the storage benchmark's driver (bench/storage builds and
 * runs it): fills each store with RUNS runs and EVENTS events, then times
 * event appends, run lists and cursor reads, and prints both side by side.
 *
 * Usage: storage_bench [--runs N] [--events N] [--keys N] NAME=URL...   */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/clock.h"

#define MAX_BACKENDS 4
#define SAMPLES 200
#define N_JOBS 10

enum metric {
  M_FILL_S,
  M_APPEND_1,
  M_APPEND_100,
  M_APPEND_1000,
  M_LIST_P50,
  M_LIST_P95,
  M_LIST_JOB_P50,
  M_LIST_JOB_P95,
  M_LIST_STATUS_P50,
  M_LIST_STATUS_P95,
  M_LIST_BOTH_P50,
  M_LIST_BOTH_P95,
  M_LIST_PAGE3_P50,
  M_READ_RUN_P50,
  M_READ_RUN_P95,
  M_READ_PAGE_P50,
  M_READ_PAGE_P95,
  M_READ_SCAN,
  M_KV_FILL,
  M_KV_EMPTY_P50,
  M_KV_PAGE_P50,
  M_KV_DELETE_EMPTY_P50,
  M__COUNT
};

static const struct {
  const char *label, *unit;
} metric_info[M__COUNT] = {
    [M_FILL_S] = {"fill (runs + events)", "s"},
    [M_APPEND_1] = {"append, 1 event per call", "ev/s"},
    [M_APPEND_100] = {"append, 100 events per call", "ev/s"},
    [M_APPEND_1000] = {"append, 1000 events per call", "ev/s"},
    [M_LIST_P50] = {"run list, first page p50", "ms"},
    [M_LIST_P95] = {"run list, first page p95", "ms"},
    [M_LIST_JOB_P50] = {"run list, job p50", "ms"},
    [M_LIST_JOB_P95] = {"run list, job p95", "ms"},
    [M_LIST_STATUS_P50] = {"run list, status p50", "ms"},
    [M_LIST_STATUS_P95] = {"run list, status p95", "ms"},
    [M_LIST_BOTH_P50] = {"run list, job+status p50", "ms"},
    [M_LIST_BOTH_P95] = {"run list, job+status p95", "ms"},
    [M_LIST_PAGE3_P50] = {"run list, 3rd page p50", "ms"},
    [M_READ_RUN_P50] = {"event read, a run (100) p50", "ms"},
    [M_READ_RUN_P95] = {"event read, a run (100) p95", "ms"},
    [M_READ_PAGE_P50] = {"event read, 1000 after cursor p50", "ms"},
    [M_READ_PAGE_P95] = {"event read, 1000 after cursor p95", "ms"},
    [M_READ_SCAN] = {"event read, scan by cursor", "ev/s"},
    [M_KV_FILL] = {"kv set, 1000 per commit", "keys/s"},
    [M_KV_EMPTY_P50] = {"kv list, empty prefix p50", "ms"},
    [M_KV_PAGE_P50] = {"kv list, prefix of 100 p50", "ms"},
    [M_KV_DELETE_EMPTY_P50] = {"kv delete-prefix, none p50", "ms"},
};

static double metric[MAX_BACKENDS][M__COUNT];
static int n_runs = 10000, n_events = 1000000, n_keys = 100000;
static char **run_ids;

static void die(const char *what, const weft_error *err) {
  fprintf(stderr, "storage_bench: %s: %s\n", what, err ? err->msg : "");
  exit(1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* p50 and p95 of n samples (seconds) into out[0], out[1] (ms). */
static void percentiles(double *v, int n, double *p50, double *p95) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  *p50 = v[n / 2] * 1000;
  *p95 = v[(n * 95) / 100] * 1000;
}

static enum weft_run_status status_of(int i) {
  static const enum weft_run_status mix[20] = {
      WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS,
      WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS,
      WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS,
      WEFT_RUN_SUCCESS, WEFT_RUN_SUCCESS, WEFT_RUN_FAILURE, WEFT_RUN_FAILURE,
      WEFT_RUN_STARTED, WEFT_RUN_QUEUED,  WEFT_RUN_CANCELED, WEFT_RUN_FAILURE};
  return mix[i % 20];
}

/* Appends count events in calls of batch, to runs in turn; events/s. */
static double append(struct weft_store *s, int count, int batch, int run_from) {
  struct weft_event_row *ev = calloc((size_t)batch, sizeof *ev);
  char(*payload)[64] = malloc((size_t)batch * sizeof *payload);
  weft_error err = WEFT_ERROR_INIT;
  double busy = 0;
  if (!ev || !payload) die("out of memory", NULL);
  for (int done = 0; done < count; done += batch) {
    int n = count - done < batch ? count - done : batch;
    for (int i = 0; i < n; i++) {
      int k = done + i;
      memset(&ev[i], 0, sizeof ev[i]);
      /* 100 consecutive events per run, as a run's log grows */
      ev[i].run_id = run_ids[(run_from + k / 100) % n_runs];
      ev[i].step = k % 3 ? "transform" : NULL;
      ev[i].type = k % 3 ? "log" : "step_succeeded";
      snprintf(payload[i], sizeof payload[i], "{\"msg\":\"line %d\",\"level\":\"info\"}", k);
      ev[i].payload = payload[i];
    }
    double t0 = weft_clock_mono_s();
    if (weft_store_event_append(s, ev, (size_t)n, &err)) die("event append", &err);
    busy += weft_clock_mono_s() - t0;
  }
  free(ev);
  free(payload);
  return count / busy;
}

static void fill_runs(struct weft_store *s) {
  weft_error err = WEFT_ERROR_INIT;
  int64_t base = 1700000000000;
  for (int i = 0; i < n_runs; i++) {
    if (i % 1000 == 0 && weft_store_begin(s, &err)) die("begin", &err);
    struct weft_run_row r = {0};
    char job[16];
    snprintf(job, sizeof job, "job%d", i % N_JOBS);
    r.id = run_ids[i];
    r.job = job;
    r.location = "bench";
    r.status = status_of(i / N_JOBS); /* every job gets the whole mix */
    r.run_config = "{\"ops\":{\"extract\":{\"config\":{\"rows\":1000}}}}";
    r.tags = "{\"team\":\"data\"}";
    r.created_ms = base + i * 1000LL;
    r.started_ms = r.created_ms + 10;
    r.ended_ms = r.status == WEFT_RUN_STARTED ? 0 : r.created_ms + 5000;
    if (weft_store_run_create(s, &r, &err)) die("run create", &err);
    if ((i % 1000 == 999 || i == n_runs - 1) && weft_store_commit(s, &err)) die("commit", &err);
  }
}

/* SAMPLES run lists with filter f; p50/p95 (ms) into out[0..1]. */
static void time_list(struct weft_store *s, struct weft_run_filter *f, double *p50,
                      double *p95) {
  double t[SAMPLES];
  weft_error err = WEFT_ERROR_INIT;
  for (int i = 0; i < SAMPLES; i++) {
    struct weft_run_list l = {0};
    double t0 = weft_clock_mono_s();
    if (weft_store_run_list(s, f, &l, &err)) die("run list", &err);
    t[i] = weft_clock_mono_s() - t0;
    if (l.n == 0) die("run list: empty page", NULL);
    weft_run_list_release(&l);
  }
  percentiles(t, SAMPLES, p50, p95);
}

static void time_reads(struct weft_store *s, double *m) {
  double t[SAMPLES];
  weft_error err = WEFT_ERROR_INIT;
  struct weft_event_list l = {0};
  /* one run's whole log, as `weft run events` shows it */
  for (int i = 0; i < SAMPLES; i++) {
    struct weft_event_filter f = {.run_id = run_ids[(i * 37) % n_runs]};
    double t0 = weft_clock_mono_s();
    if (weft_store_event_read(s, &f, &l, &err)) die("event read", &err);
    t[i] = weft_clock_mono_s() - t0;
    weft_event_list_release(&l);
  }
  percentiles(t, SAMPLES, &m[M_READ_RUN_P50], &m[M_READ_RUN_P95]);
  /* a page of 1000 after cursors spread over the log */
  for (int i = 0; i < SAMPLES; i++) {
    struct weft_event_filter f = {.after_id = ((int64_t)i * 4999) % (n_events - 2000),
                                  .limit = 1000};
    double t0 = weft_clock_mono_s();
    if (weft_store_event_read(s, &f, &l, &err)) die("event read", &err);
    t[i] = weft_clock_mono_s() - t0;
    if (l.n != 1000) die("event read: short page", NULL);
    weft_event_list_release(&l);
  }
  percentiles(t, SAMPLES, &m[M_READ_PAGE_P50], &m[M_READ_PAGE_P95]);
  /* a follower catching up on 200,000 events, 1000 at a time */
  int64_t cursor = 0;
  long got = 0;
  double t0 = weft_clock_mono_s();
  while (got < 200000) {
    struct weft_event_filter f = {.after_id = cursor, .limit = 1000};
    if (weft_store_event_read(s, &f, &l, &err)) die("event read", &err);
    if (!l.n) break;
    got += (long)l.n;
    cursor = l.v[l.n - 1].id;
    weft_event_list_release(&l);
  }
  m[M_READ_SCAN] = got / (weft_clock_mono_s() - t0);
}

/* The key/value table as a busy instance has it (N_KEYS queue results,
 * plus 100 keys of one more prefix), then what a coordinator does every
 * few milliseconds: list a prefix with nothing under it (its inbox); and a
 * page of a prefix, and a delete-prefix that finds nothing (a run's end). */
static void time_kv(struct weft_store *s, double *m) {
  double t[SAMPLES];
  weft_error err = WEFT_ERROR_INIT;
  char key[64];
  double t0 = weft_clock_mono_s();
  for (int i = 0; i < n_keys + 100; i++) {
    if (i % 1000 == 0 && weft_store_begin(s, &err)) die("begin", &err);
    if (i < n_keys)
      snprintf(key, sizeof key, "queue/results/%08d", i);
    else
      snprintf(key, sizeof key, "hooks/r%03d", i - n_keys);
    if (weft_store_kv_set(s, key, "{\"status\":\"success\"}", &err)) die("kv set", &err);
    if ((i % 1000 == 999 || i == n_keys + 99) && weft_store_commit(s, &err)) die("commit", &err);
  }
  m[M_KV_FILL] = (n_keys + 100) / (weft_clock_mono_s() - t0);
  for (int pass = 0; pass < 3; pass++) {
    const char *prefix = pass == 0 ? "coordinator/inbox/" : pass == 1 ? "hooks/" : "hooks/r9";
    for (int i = 0; i < SAMPLES; i++) {
      struct weft_kv_list l = {0};
      double t1 = weft_clock_mono_s();
      if (pass < 2 ? weft_store_kv_list(s, prefix, NULL, 500, &l, &err)
                   : weft_store_kv_delete_prefix(s, "coordinator/taken/", &err))
        die("kv list", &err);
      t[i] = weft_clock_mono_s() - t1;
      if (pass < 2 && l.n != (pass == 0 ? 0u : 100u)) die("kv list: wrong count", NULL);
      weft_kv_list_release(&l);
    }
    double unused;
    percentiles(t, SAMPLES,
                &m[pass == 0 ? M_KV_EMPTY_P50 : pass == 1 ? M_KV_PAGE_P50 : M_KV_DELETE_EMPTY_P50],
                &unused);
  }
}

static void bench(int b, const char *name, const char *url) {
  struct weft_store *s = NULL;
  weft_error err = WEFT_ERROR_INIT;
  double *m = metric[b];
  if (weft_store_open(url, &s, &err)) die("open", &err);
  fprintf(stderr, "storage_bench: %s: filling %d runs and %d events\n", name, n_runs,
          n_events);
  double t0 = weft_clock_mono_s();
  fill_runs(s);
  /* the fill is the batched figure: 1000 events per call, 100 per run */
  int fill_events = n_events - 2000 - 20000;
  m[M_APPEND_1000] = append(s, fill_events, 1000, 0);
  m[M_APPEND_100] = append(s, 20000, 100, fill_events / 100);
  m[M_APPEND_1] = append(s, 2000, 1, (fill_events + 20000) / 100);
  m[M_FILL_S] = weft_clock_mono_s() - t0;
  fprintf(stderr, "storage_bench: %s: timing reads\n", name);

  struct weft_run_filter f = {0};
  time_list(s, &f, &m[M_LIST_P50], &m[M_LIST_P95]);
  f.job = "job3";
  time_list(s, &f, &m[M_LIST_JOB_P50], &m[M_LIST_JOB_P95]);
  f.job = NULL;
  f.status_mask = 1 << WEFT_RUN_FAILURE;
  time_list(s, &f, &m[M_LIST_STATUS_P50], &m[M_LIST_STATUS_P95]);
  f.job = "job3";
  f.status_mask = (1 << WEFT_RUN_FAILURE) | (1 << WEFT_RUN_CANCELED);
  time_list(s, &f, &m[M_LIST_BOTH_P50], &m[M_LIST_BOTH_P95]);
  /* the third page of everything: the cursor is the 100th newest run */
  struct weft_run_filter page = {.before_id = run_ids[n_runs - 100]};
  double unused;
  time_list(s, &page, &m[M_LIST_PAGE3_P50], &unused);
  time_reads(s, m);
  fprintf(stderr, "storage_bench: %s: %d keys\n", name, n_keys);
  time_kv(s, m);
  weft_store_close(s);
}

static void print_table(char **names, int n) {
  printf("\nweft storage: %d runs, %d events stored\n\n", n_runs, n_events);
  printf("%-36s", "");
  for (int b = 0; b < n; b++) printf(" %14s", names[b]);
  printf("\n");
  for (int i = 0; i < M__COUNT; i++) {
    printf("%-36s", metric_info[i].label);
    for (int b = 0; b < n; b++) {
      double v = metric[b][i];
      if (!strcmp(metric_info[i].unit, "ms"))
        printf(" %11.3f ms", v);
      else if (!strcmp(metric_info[i].unit, "s"))
        printf(" %12.1f s", v);
      else
        printf(" %*.0f %s", 13 - (int)strlen(metric_info[i].unit), v, metric_info[i].unit);
    }
    printf("\n");
  }
}

int main(int argc, char **argv) {
  char *names[MAX_BACKENDS], *urls[MAX_BACKENDS];
  int n = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      n_runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--events") && i + 1 < argc)
      n_events = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--keys") && i + 1 < argc)
      n_keys = atoi(argv[++i]);
    else if (strchr(argv[i], '=') && n < MAX_BACKENDS) {
      names[n] = strdup(argv[i]);
      *strchr(names[n], '=') = 0;
      urls[n] = strchr(argv[i], '=') + 1;
      n++;
    } else {
      fprintf(stderr, "usage: storage_bench [--runs N] [--events N] [--keys N] NAME=URL...\n");
      return 2;
    }
  }
  if (!n || n_runs < 200 || n_events < n_runs * 100 / 2 || n_events < 50000) {
    fprintf(stderr, "storage_bench: need a store, >= 200 runs and >= 50,000 events\n");
    return 2;
  }
  if (!(run_ids = calloc((size_t)n_runs, sizeof *run_ids))) return 1;
  for (int i = 0; i < n_runs; i++)
    if (!(run_ids[i] = weft_store_new_run_id())) return 1;
  for (int b = 0; b < n; b++) bench(b, names[b], urls[b]);
  print_table(names, n);
  for (int i = 0; i < n_runs; i++) free(run_ids[i]);
  free(run_ids);
  for (int b = 0; b < n; b++) free(names[b]);
  return 0;
}
