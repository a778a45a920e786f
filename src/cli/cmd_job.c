/* cmd_job.c: `weft job list | show | check-config`: what the code locations
 * define, one job in detail, and a run config checked against a job. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "dsl/dsl.h"
#include "model/model.h"
#include "util/buf.h"
#include "util/fs.h"

static const char job_usage[] =
    "usage: weft job list [-w FILE | LOCATION...] [--format text|json]\n"
    "       weft job show JOB [-w FILE | -l LOCATION...] [--format text|json|dot]\n"
    "       weft job check-config JOB [-c RUN_CONFIG] [--set ops.OP.config.KEY=VALUE...]\n"
    "                             [-w FILE | -l LOCATION...] [--format yaml|json]\n"
    "\n"
    "JOB is a job name, or LOCATION:JOB when several locations define it.\n"
    "Run 'weft job SUBCOMMAND --help' for details.\n";

static const char list_usage[] =
    "usage: weft job list [-w FILE | LOCATION...] [--format text|json]\n"
    "\n"
    "Lists the jobs of every code location: location, job, number of ops and\n"
    "description. Jobs with errors are marked (invalid); 'weft validate'\n"
    "tells why.\n"
    "\n"
    "options:\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  --format text|json    output format (default: text)\n"
    "  -h, --help            show this help\n";

static const char show_usage[] =
    "usage: weft job show JOB [-w FILE | -l LOCATION...] [--format text|json|dot]\n"
    "\n"
    "Shows a job's ops in topological order, grouped by level: the op each\n"
    "invocation uses, its inputs and what they are wired to, its config\n"
    "schema with defaults and its outputs. --format json prints a stable\n"
    "machine-readable document; --format dot a Graphviz digraph\n"
    "(weft job show JOB --format dot | dot -Tsvg > job.svg).\n"
    "\n"
    "options:\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  --format FORMAT       text (default), json or dot\n"
    "  -h, --help            show this help\n";

static const char check_usage[] =
    "usage: weft job check-config JOB [-c RUN_CONFIG] [--set PATH=VALUE...]\n"
    "                             [-w FILE | -l LOCATION...] [--format yaml|json]\n"
    "\n"
    "Checks a run config (YAML or JSON; '-' reads standard input) against a\n"
    "job and prints it resolved, with every schema default filled in, or\n"
    "prints each error as 'file:line:col: error: message'.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE     the run config (default: an empty one)\n"
    "  --set PATH=VALUE      override a value, e.g. ops.add_x.config.x=3\n"
    "                        (VALUE is read as YAML; repeatable)\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "                        (default: ./workspace.yaml)\n"
    "  -l, --location DIR    read this code location (repeatable)\n"
    "  --format yaml|json    output format (default: yaml)\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 when the run config is valid, 1 when not, 2 on a usage\n"
    "error.\n";

/* Which flags a subcommand accepts. */
enum {
  F_LOCATION = 1, /* -l DIR */
  F_CONFIG = 2,   /* -c FILE and --set */
  F_JOB = 4,      /* one positional JOB (else positionals are locations) */
};

struct job_args {
  const char *cmd; /* "job list", ... for messages */
  const char *ws_file;
  char **locations; /* borrowed from argv; the array is owned */
  size_t n_locations;
  const char *job;
  const char *format;
  const char *config_file;
  const char **sets; /* borrowed from argv; the array is owned */
  size_t n_sets;
  int help;
};

static void job_args_release(struct job_args *a) {
  free(a->locations);
  free(a->sets);
}

/* Parses argv (argv[0] is the subcommand) into a; returns WEFT_EXIT_OK or
 * WEFT_EXIT_USAGE after printing the problem. */
static int parse_args(int argc, char **argv, unsigned flags,
                      struct job_args *a) {
  const char *v;
  int m;
  a->locations = calloc((size_t)argc, sizeof *a->locations);
  a->sets = calloc((size_t)argc, sizeof *a->sets);
  if (!a->locations || !a->sets) {
    fprintf(stderr, "weft %s: out of memory\n", a->cmd);
    return WEFT_EXIT_INVALID;
  }
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (arg[0] != '-' || !arg[1]) {
      if (!(flags & F_JOB)) {
        a->locations[a->n_locations++] = argv[i];
      } else if (!a->job) {
        a->job = arg;
      } else {
        return weft_cli_usage_error(a->cmd, "unexpected argument '%s'", arg);
      }
      continue;
    }
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if ((m = weft_cli_flag_value(a->cmd, argc, argv, &i, "-w", "--workspace",
                                 &a->ws_file)) != 0)
      goto matched;
    if ((m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--format",
                                 &a->format)) != 0)
      goto matched;
    if ((flags & F_LOCATION) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, "-l", "--location",
                                 &v)) != 0) {
      if (m > 0) a->locations[a->n_locations++] = (char *)v;
      goto matched;
    }
    if ((flags & F_CONFIG) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, "-c", "--config",
                                 &a->config_file)) != 0)
      goto matched;
    if ((flags & F_CONFIG) &&
        (m = weft_cli_flag_value(a->cmd, argc, argv, &i, NULL, "--set", &v)) !=
            0) {
      if (m > 0) a->sets[a->n_sets++] = v;
      goto matched;
    }
    return weft_cli_usage_error(a->cmd, "unknown option '%s'", arg);
  matched:
    if (m < 0) return WEFT_EXIT_USAGE;
  }
  if ((flags & F_JOB) && !a->job)
    return weft_cli_usage_error(a->cmd, "missing JOB argument");
  return WEFT_EXIT_OK;
}

/* Checks --format against the allowed names (NULL-terminated, first is the
 * default) and returns the index of the chosen one, or -1 after a usage
 * error. */
static int pick_format(const struct job_args *a, const char *const *names) {
  if (!a->format) return 0;
  for (int i = 0; names[i]; i++)
    if (!strcmp(a->format, names[i])) return i;
  struct weft_buf all = WEFT_BUF_INIT;
  for (int i = 0; names[i]; i++)
    weft_buf_addf(&all, "%s%s", i ? ", " : "", names[i]);
  weft_cli_usage_error(a->cmd, "unknown format '%s' (expected %s)", a->format,
                       all.ptr);
  weft_buf_release(&all);
  return -1;
}

static void print_json(json_t *doc, FILE *out) {
  json_dumpf(doc, out, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
  fputc('\n', out);
}

/* ---- list ---------------------------------------------------------------- */

/* The first line of a description, cut to max bytes on a UTF-8 boundary;
 * caller frees. */
static char *one_line(const char *s, size_t max) {
  size_t n = strcspn(s, "\n");
  int cut = n > max;
  if (cut) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  struct weft_buf b = WEFT_BUF_INIT;
  if (weft_buf_add(&b, s, n) || (cut && weft_buf_adds(&b, "...")))
    weft_buf_release(&b);
  return weft_buf_detach(&b, NULL);
}

static int list_json(const struct weft_workspace *ws) {
  json_t *doc = json_object(), *jobs = json_array();
  int rc = WEFT_EXIT_OK;
  if (!doc || !jobs || json_object_set(doc, "jobs", jobs)) goto oom;
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t j = 0; j < loc->n_jobs; j++) {
      const struct weft_job *job = &loc->jobs[j];
      json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:o, s:o}", "location",
                            loc->name, "job", job->name, "ops",
                            (json_int_t)job->n_ops, "valid", job->valid,
                            "description",
                            job->description ? json_string(job->description)
                                             : json_null(),
                            "file",
                            job->mark.file ? json_string(job->mark.file)
                                           : json_null());
      if (!o || json_array_append_new(jobs, o)) goto oom;
    }
  }
  print_json(doc, stdout);
  goto done;
oom:
  fprintf(stderr, "weft job list: out of memory\n");
  rc = WEFT_EXIT_INVALID;
done:
  json_decref(jobs);
  json_decref(doc);
  return rc;
}

static int list_text(const struct weft_workspace *ws) {
  static const char invalid_mark[] = " (invalid)";
  size_t wl = strlen("LOCATION"), wj = strlen("JOB"), n_invalid = 0;
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    if (strlen(loc->name) > wl) wl = strlen(loc->name);
    for (size_t j = 0; j < loc->n_jobs; j++) {
      size_t n = strlen(loc->jobs[j].name) +
                 (loc->jobs[j].valid ? 0 : strlen(invalid_mark));
      if (n > wj) wj = n;
    }
  }
  printf("%-*s  %-*s  %5s  %s\n", (int)wl, "LOCATION", (int)wj, "JOB", "OPS",
         "DESCRIPTION");
  for (size_t l = 0; l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t j = 0; j < loc->n_jobs; j++) {
      const struct weft_job *job = &loc->jobs[j];
      char *desc = one_line(job->description ? job->description : "", 72);
      int pad = (int)(wj - strlen(job->name));
      printf("%-*s  %s%-*s  %5zu", (int)wl, loc->name, job->name, pad,
             job->valid ? "" : invalid_mark, job->n_ops);
      if (desc && *desc) printf("  %s", desc);
      putchar('\n');
      free(desc);
      n_invalid += !job->valid;
    }
  }
  if (n_invalid)
    fprintf(stderr, "%zu %s errors: run 'weft validate' to see them\n",
            n_invalid, n_invalid == 1 ? "job has" : "jobs have");
  return WEFT_EXIT_OK;
}

static int job_list(int argc, char **argv) {
  static const char *const formats[] = {"text", "json", NULL};
  struct job_args a = {.cmd = "job list"};
  struct weft_workspace *ws = NULL;
  int rc = parse_args(argc, argv, 0, &a), format;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(list_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a, formats)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  rc = weft_cli_load_workspace(a.cmd, a.ws_file, a.locations, a.n_locations,
                               &ws);
  if (rc != WEFT_EXIT_OK) goto done;
  /* The workspace file's own errors can hide whole locations. */
  if (ws->diags.n) {
    weft_diags_print(&ws->diags, stderr);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  rc = format == 1 ? list_json(ws) : list_text(ws);
done:
  weft_workspace_free(ws);
  job_args_release(&a);
  return rc;
}

/* ---- show ------------------------------------------------------------------- */

static int job_show(int argc, char **argv) {
  static const char *const formats[] = {"text", "json", "dot", NULL};
  struct job_args a = {.cmd = "job show"};
  struct weft_workspace *ws = NULL;
  const struct weft_job *job;
  json_t *doc = NULL;
  int rc = parse_args(argc, argv, F_JOB | F_LOCATION, &a), format, wrc;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(show_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a, formats)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  if ((rc = weft_cli_find_job(a.cmd, a.ws_file, a.locations, a.n_locations,
                              a.job, &ws, &job)) != WEFT_EXIT_OK)
    goto done;
  if (format == 1) {
    doc = weft_job_to_json(job);
    wrc = doc ? WEFT_OK : WEFT_ENOMEM;
    if (doc) print_json(doc, stdout);
  } else if (format == 2) {
    wrc = weft_render_job_dot(job, stdout);
  } else {
    wrc = weft_render_job_text(job, stdout);
  }
  if (wrc != WEFT_OK) {
    fprintf(stderr, "weft job show: %s\n", weft_strerror(wrc));
    rc = WEFT_EXIT_INVALID;
  }
done:
  json_decref(doc);
  weft_workspace_free(ws);
  job_args_release(&a);
  return rc;
}

/* ---- check-config --------------------------------------------------------------- */

static int job_check_config(int argc, char **argv) {
  static const char *const formats[] = {"yaml", "json", NULL};
  struct job_args a = {.cmd = "job check-config"};
  struct weft_workspace *ws = NULL;
  const struct weft_job *job;
  struct weft_run_config run = {0};
  weft_error err = WEFT_ERROR_INIT;
  json_t *doc = NULL;
  int rc = parse_args(argc, argv, F_JOB | F_LOCATION | F_CONFIG, &a), format;
  int built = 0;
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(check_usage, stdout);
    goto done;
  }
  if ((format = pick_format(&a, formats)) < 0) {
    rc = WEFT_EXIT_USAGE;
    goto done;
  }
  if ((rc = weft_cli_find_job(a.cmd, a.ws_file, a.locations, a.n_locations,
                              a.job, &ws, &job)) != WEFT_EXIT_OK)
    goto done;
  if ((rc = weft_cli_build_run_config(a.cmd, job, a.config_file, a.sets, a.n_sets,
                                      &run)) != WEFT_EXIT_OK)
    goto done;
  built = 1;
  if (!(doc = weft_run_config_to_json(job, &run))) {
    fprintf(stderr, "weft %s: out of memory\n", a.cmd);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if (format == 1) {
    print_json(doc, stdout);
  } else if (weft_dsl_emit_yaml(doc, stdout, &err) != WEFT_OK) {
    fprintf(stderr, "weft %s: %s\n", a.cmd, err.msg);
    rc = WEFT_EXIT_INVALID;
  }
done:
  json_decref(doc);
  if (built) weft_run_config_release(&run);
  weft_workspace_free(ws);
  job_args_release(&a);
  return rc;
}

/* ---- dispatch ---------------------------------------------------------------------- */

int cmd_job(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
  } subs[] = {
      {"list", job_list},
      {"show", job_show},
      {"check-config", job_check_config},
  };
  if (argc < 2) {
    fputs(job_usage, stderr);
    return WEFT_EXIT_USAGE;
  }
  if (weft_cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
    fputs(job_usage, stdout);
    return WEFT_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
  if (argv[1][0] == '-')
    return weft_cli_usage_error("job", "unknown option '%s'", argv[1]);
  return weft_cli_usage_error("job", "unknown subcommand '%s' (list, show, check-config)",
                              argv[1]);
}
