/* cmd_run_logs.c: `weft run logs`: the compute logs (stdout/stderr files) of
 * a run's steps, found through the step_started events; --follow tails them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_view.h"
#include "engine/engine.h"
#include "util/buf.h"
#include "util/str.h"

static const char logs_usage[] =
    "usage: weft run logs ID [STEP] [--stderr] [--attempt N] [--follow]\n"
    "\n"
    "Prints the compute log (what the step's process wrote to stdout, or to\n"
    "stderr with --stderr) of STEP's last attempt, or of attempt N. Without\n"
    "STEP, prints the log of every step that ran, in the order they started,\n"
    "each after a '==> STEP (attempt N) <==' line.\n"
    "\n"
    "options:\n"
    "  --stderr       print the stderr log instead of stdout\n"
    "  --attempt N    this attempt of STEP rather than the last one\n"
    "  -f, --follow   keep printing as the log grows (tail -f) until the step\n"
    "                 (or, without STEP, the run) ends; waits for a step that\n"
    "                 has not started yet\n"
    "  -h, --help     show this help\n";

/* How often the logs are polled while following. */
#define POLL_MS 100

/* One attempt's log file. */
struct log_src {
  char *step;
  int attempt;
  char *path; /* NULL when the event named none */
  off_t off;  /* bytes already printed */
  int ended;  /* the attempt ended: the file is complete */
  int skip;   /* not selected: an earlier attempt, or not --attempt */
};

/* What the log says about one step, to explain a missing log. */
struct step_state {
  char *step;
  const char *end;   /* final event type (static string), or NULL */
  char *detail;      /* its message, or the run its outputs came from */
  int last_attempt;  /* highest attempt started, 0 when none */
};

struct logs {
  const char *run_id;
  const char *step; /* NULL: every step */
  int attempt;      /* 0: the last */
  int use_stderr, follow;
  struct log_src *src;
  size_t n_src;
  struct step_state *st;
  size_t n_st;
  long last_out;  /* index of the source printed last, -1 before any */
  int last_char;  /* last byte printed, to start headers on a new line */
  int failed;     /* a log could not be read */
};

/* ---- reading the event log ------------------------------------------------- */

static struct step_state *step_state(struct logs *L, const char *step) {
  for (size_t i = 0; i < L->n_st; i++)
    if (!strcmp(L->st[i].step, step)) return &L->st[i];
  struct step_state *nv = realloc(L->st, (L->n_st + 1) * sizeof *nv);
  if (!nv) return NULL;
  L->st = nv;
  struct step_state *s = &L->st[L->n_st];
  memset(s, 0, sizeof *s);
  if (!(s->step = strdup(step))) return NULL;
  L->n_st++;
  return s;
}

static struct log_src *find_src(struct logs *L, const char *step, int attempt) {
  for (size_t i = 0; i < L->n_src; i++)
    if (L->src[i].attempt == attempt && !strcmp(L->src[i].step, step)) return &L->src[i];
  return NULL;
}

static int add_src(struct logs *L, const char *step, int attempt, const char *path) {
  struct log_src *nv = realloc(L->src, (L->n_src + 1) * sizeof *nv);
  if (!nv) return WEFT_ENOMEM;
  L->src = nv;
  struct log_src *s = &L->src[L->n_src];
  memset(s, 0, sizeof *s);
  s->step = strdup(step);
  s->path = path ? strdup(path) : NULL;
  s->attempt = attempt;
  s->skip = L->attempt && attempt != L->attempt;
  if (!s->step || (path && !s->path)) {
    free(s->step);
    free(s->path);
    return WEFT_ENOMEM;
  }
  L->n_src++;
  return WEFT_OK;
}

/* Records what one event says about the logs. */
static int logs_event(struct logs *L, const struct weft_event_row *ev) {
  static const char *const finals[] = {"step_succeeded", "step_failed", "step_skipped",
                                       "step_canceled", "step_reused"};
  if (!ev->step) return WEFT_OK;
  /* Every step is known, the others too, to name them when STEP is wrong. */
  struct step_state *st = step_state(L, ev->step);
  if (!st) return WEFT_ENOMEM;
  if (L->step && strcmp(L->step, ev->step)) return WEFT_OK;
  json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
  int attempt = (int)json_integer_value(json_object_get(p, "attempt"));
  int rc = WEFT_OK;
  if (!strcmp(ev->type, "step_started")) {
    const char *path = json_string_value(json_object_get(p, L->use_stderr ? "stderr" : "stdout"));
    if (attempt > st->last_attempt) st->last_attempt = attempt;
    if (!find_src(L, ev->step, attempt)) rc = add_src(L, ev->step, attempt, path);
    goto done;
  }
  struct log_src *s = attempt ? find_src(L, ev->step, attempt) : NULL;
  if (s && (!strcmp(ev->type, "step_up_for_retry") || !strcmp(ev->type, "step_succeeded") ||
            !strcmp(ev->type, "step_failed") || !strcmp(ev->type, "step_canceled")))
    s->ended = 1;
  for (size_t i = 0; i < sizeof finals / sizeof *finals; i++) {
    if (strcmp(ev->type, finals[i])) continue;
    st->end = finals[i];
    free(st->detail);
    st->detail = weft_str_dup(json_string_value(
        json_object_get(p, !strcmp(ev->type, "step_reused") ? "from_run" : "message")));
  }
done:
  json_decref(p);
  return rc;
}

/* After the log so far: only each step's last attempt stays selected (or
 * the one --attempt names, which add_src already picked). */
static void select_last(struct logs *L) {
  if (L->attempt) return;
  for (size_t i = 0; i < L->n_src; i++)
    for (size_t k = i + 1; k < L->n_src; k++)
      if (!strcmp(L->src[i].step, L->src[k].step) && L->src[k].attempt > L->src[i].attempt)
        L->src[i].skip = 1;
}

/* ---- printing ------------------------------------------------------------------- */

static void header(struct logs *L, size_t i, int always) {
  if (L->last_out == (long)i) return;
  /* One step's one attempt needs no header until another one follows. */
  if (always || L->last_out >= 0) {
    if (L->last_out >= 0) fputs(L->last_char == '\n' ? "\n" : "\n\n", stdout);
    printf("==> %s (attempt %d) <==\n", L->src[i].step, L->src[i].attempt);
    L->last_char = '\n';
  }
  L->last_out = (long)i;
}

/* Prints what src i gained since the last call. A missing file is an empty
 * log: nothing written yet, or nothing at all (a step that printed nothing
 * may have no log file, exec.h). */
static void pump(struct logs *L, size_t i, int always_header) {
  struct log_src *s = &L->src[i];
  int fd = s->path ? open(s->path, O_RDONLY | O_CLOEXEC) : -1;
  if (fd < 0) {
    if (s->path && errno != ENOENT) {
      fprintf(stderr, "weft run logs: cannot read %s: %s\n", s->path, strerror(errno));
      L->failed = 1;
      s->skip = 1; /* say it once */
    } else if (always_header) {
      header(L, i, 1);
    }
    return;
  }
  if (always_header) header(L, i, 1);
  char buf[1 << 16];
  ssize_t n;
  if (lseek(fd, s->off, SEEK_SET) == s->off) {
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      header(L, i, !L->step);
      fwrite(buf, 1, (size_t)n, stdout);
      s->off += n;
      L->last_char = (unsigned char)buf[n - 1];
    }
  }
  close(fd);
  fflush(stdout);
}

/* ---- explaining an absent log ----------------------------------------------------- */

static void explain_step(const struct logs *L, int run_ended) {
  const char *step = L->step;
  const struct step_state *st = NULL;
  for (size_t i = 0; i < L->n_st; i++)
    if (!strcmp(L->st[i].step, step)) st = &L->st[i];
  const char *detail = st && st->detail ? st->detail : "";
  if (!st && run_ended) {
    const char **names = calloc(L->n_st + 1, sizeof *names);
    struct weft_buf all = WEFT_BUF_INIT;
    for (size_t i = 0; names && i < L->n_st; i++) {
      names[i] = L->st[i].step;
      weft_buf_addf(&all, "%s%s", i ? ", " : "", names[i]);
    }
    const char *hint = names ? weft_str_suggest(step, names, L->n_st) : NULL;
    fprintf(stderr, "weft run logs: run %s has no step '%s'%s%s%s (its steps: %s)\n",
            L->run_id, step, hint ? "; did you mean '" : "", hint ? hint : "",
            hint ? "'?" : "", L->n_st ? all.ptr : "none");
    weft_buf_release(&all);
    free(names);
  } else if (L->attempt && st && st->last_attempt && L->attempt > st->last_attempt)
    fprintf(stderr, "weft run logs: step '%s' of run %s has no attempt %d (it ran %d)\n",
            step, L->run_id, L->attempt, st->last_attempt);
  else if (st && st->end && !strcmp(st->end, "step_skipped"))
    fprintf(stderr, "weft run logs: step '%s' was skipped (%s): it never ran, so it has "
                    "no compute log\n", step, detail);
  else if (st && st->end && !strcmp(st->end, "step_reused"))
    fprintf(stderr, "weft run logs: step '%s' did not run in run %s: its outputs were "
                    "reused from run %s (see 'weft run logs %s %s')\n",
            step, L->run_id, detail, detail, step);
  else if (st && st->end)
    fprintf(stderr, "weft run logs: step '%s' ended (%s) before it started: it has no "
                    "compute log\n", step, st->end + 5);
  else if (run_ended)
    fprintf(stderr, "weft run logs: step '%s' of run %s never started: it has no "
                    "compute log\n", step, L->run_id);
  else
    fprintf(stderr, "weft run logs: step '%s' of run %s has not started yet, so it has no "
                    "compute log yet ('--follow' waits for it)\n", step, L->run_id);
}

static size_t n_selected(const struct logs *L) {
  size_t n = 0;
  for (size_t i = 0; i < L->n_src; i++) n += !L->src[i].skip;
  return n;
}

/* Single step: whether the step (or the attempt asked for) is over. */
static int step_over(const struct logs *L) {
  for (size_t i = 0; i < L->n_st; i++)
    if (!strcmp(L->st[i].step, L->step) && L->st[i].end) return 1;
  for (size_t i = 0; L->attempt && i < L->n_src; i++)
    if (!L->src[i].skip && L->src[i].ended) return 1;
  return 0;
}

/* ---- the command ---------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, const char **id, struct logs *L, int *help) {
  const char *v;
  int m;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || !arg[1]) {
      if (!*id)
        *id = arg;
      else if (!L->step)
        L->step = arg;
      else
        return weft_cli_usage_error("run logs", "unexpected argument '%s'", arg);
    } else if (weft_cli_is_help(arg)) {
      *help = 1;
      return WEFT_EXIT_OK;
    } else if (!strcmp(arg, "--stderr")) {
      L->use_stderr = 1;
    } else if (!strcmp(arg, "--stdout")) {
      L->use_stderr = 0;
    } else if (!strcmp(arg, "--follow") || !strcmp(arg, "-f")) {
      L->follow = 1;
    } else if ((m = weft_cli_flag_value("run logs", argc, argv, &i, NULL, "--attempt", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      char *end;
      long n = strtol(v, &end, 10);
      if (!*v || *end || n < 1 || n > 1000000)
        return weft_cli_usage_error("run logs", "--attempt wants a number from 1, got '%s'",
                                    v);
      L->attempt = (int)n;
    } else {
      return weft_cli_usage_error("run logs", "unknown option '%s'", arg);
    }
  }
  if (!*id) return weft_cli_usage_error("run logs", "missing run ID");
  if (L->attempt && !L->step)
    return weft_cli_usage_error("run logs", "--attempt needs a STEP");
  return WEFT_EXIT_OK;
}

/* Reads the next batch of events into L; -1 after printing an error. */
static int feed(struct logs *L, struct weft_run_feed *f, int wait_ms) {
  struct weft_event_list batch = {0};
  weft_error err = WEFT_ERROR_INIT;
  int rc = weft_run_feed_next(f, &batch, wait_ms, &err);
  for (size_t i = 0; !rc && i < batch.n; i++) {
    rc = logs_event(L, &batch.v[i]);
    if (rc) weft_error_set(&err, rc, "%s", weft_strerror(rc));
  }
  weft_event_list_release(&batch);
  if (rc) fprintf(stderr, "weft run logs: %s\n", err.msg);
  return rc ? -1 : 0;
}

/* Prints the selected logs whole, in the order their steps first appeared. */
static void print_all(struct logs *L) {
  for (size_t k = 0; k < L->n_st; k++)
    for (size_t i = 0; i < L->n_src; i++)
      if (!L->src[i].skip && !strcmp(L->src[i].step, L->st[k].step)) pump(L, i, !L->step);
}

static int follow(struct logs *L, struct weft_run_feed *f) {
  for (;;) {
    int over = f->ended || (L->step && step_over(L));
    for (size_t i = 0; i < L->n_src; i++)
      if (!L->src[i].skip) pump(L, i, 0);
    /* Everything was printed after the end was seen: the files are whole. */
    if (over) return WEFT_EXIT_OK;
    if (feed(L, f, POLL_MS)) return WEFT_EXIT_INVALID;
  }
}

int cmd_run_logs(int argc, char **argv) {
  struct logs L = {.last_out = -1, .last_char = '\n'};
  const char *id = NULL;
  struct weft_instance *inst = NULL;
  struct weft_run_row run = {0};
  struct weft_run_feed f;
  weft_error err = WEFT_ERROR_INIT;
  int help = 0;
  int rc = parse_args(argc, argv, &id, &L, &help);
  if (rc != WEFT_EXIT_OK) goto done;
  if (help) {
    fputs(logs_usage, stdout);
    goto done;
  }
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft run logs: %s\n", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if ((rc = weft_cli_resolve_run("run logs", inst, id, &run))) goto done;
  L.run_id = run.id;
  weft_run_feed_init(&f, inst, run.id);
  rc = WEFT_EXIT_INVALID;
  if (feed(&L, &f, 0)) goto done;
  select_last(&L);
  if (L.follow) {
    rc = follow(&L, &f);
  } else {
    print_all(&L);
    rc = WEFT_EXIT_OK;
  }
  if (rc == WEFT_EXIT_OK && !n_selected(&L) && !L.failed) {
    rc = WEFT_EXIT_INVALID;
    if (L.step)
      explain_step(&L, f.ended);
    else
      fprintf(stderr, "weft run logs: run %s has no compute logs%s\n", run.id,
              f.ended ? ": none of its steps ran" : " yet: no step has started");
  }
  if (L.failed) rc = WEFT_EXIT_INVALID;
done:
  for (size_t i = 0; i < L.n_src; i++) {
    free(L.src[i].step);
    free(L.src[i].path);
  }
  for (size_t i = 0; i < L.n_st; i++) {
    free(L.st[i].step);
    free(L.st[i].detail);
  }
  free(L.src);
  free(L.st);
  weft_run_row_release(&run);
  weft_instance_close(inst);
  return rc;
}
