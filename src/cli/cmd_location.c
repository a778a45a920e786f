/* cmd_location.c: `weft location add|remove|list|reload`: the instance's
 * location registry (engine/locreg.h), changed without restarting anything. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "engine/locreg.h"
#include "util/fs.h"
#include "util/str.h"

#define SHOWN_ERRORS 3 /* per location in `list`; `weft validate` shows all */

static const char location_usage[] =
    "usage: weft location add NAME PATH [--env K=V ...] [--python VENV]\n"
    "                         [--image IMG] [--workdir DIR] [--if-version N]\n"
    "       weft location remove NAME [--if-version N]\n"
    "       weft location list\n"
    "       weft location reload NAME\n"
    "\n"
    "The code locations of the instance ($WEFT_HOME) live in its storage, so\n"
    "every server and command sharing it sees the same set, at once. When the\n"
    "registry has locations, it replaces workspace.yaml for the server and the\n"
    "job commands; `weft server` seeds an empty registry from workspace.yaml.\n"
    "\n"
    "  add      register the folder PATH as location NAME; its steps get the\n"
    "           --env variables, VENV/bin first in PATH, and DIR (relative to\n"
    "           PATH) as their working folder; IMG is kept for containers\n"
    "  remove   unregister NAME (runs in flight are not affected)\n"
    "  list     every location with its error count and first errors\n"
    "  reload   load NAME again, report its errors and tell every server\n"
    "\n"
    "Each change is compare-and-set on the registry's version: when two\n"
    "changes race, one fails with a message telling to retry. --if-version N\n"
    "refuses the change unless the registry is still at version N.\n";

static int fail(const char *cmd, const weft_error *err) {
  fprintf(stderr, "weft %s: %s\n", cmd, err->msg);
  return WEFT_EXIT_INVALID;
}

static int parse_version(const char *cmd, const char *text, int64_t *out) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (!*text || *end || v < 0)
    return weft_cli_usage_error(cmd, "--if-version needs a number, got '%s'", text);
  *out = v;
  return WEFT_EXIT_OK;
}

/* Appends "K=V" to e->env. */
static int add_env(const char *cmd, struct weft_locreg_entry *e, const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return weft_cli_usage_error(cmd, "--env needs K=V, got '%s'", kv);
  struct weft_kv *v = realloc(e->env.v, (e->env.n + 1) * sizeof *v);
  if (!v) return WEFT_EXIT_INVALID;
  e->env.v = v;
  v[e->env.n].key = strndup(kv, (size_t)(eq - kv));
  v[e->env.n].value = strdup(eq + 1);
  e->env.n++;
  return v[e->env.n - 1].key && v[e->env.n - 1].value ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
}

/* Steps run in another folder than this command: a relative virtualenv
 * path is made absolute while it still means what the user meant. */
static int abs_or_copy(const char *path, char **out) {
  free(*out);
  if (!(*out = realpath(path, NULL))) *out = strdup(path);
  return *out ? WEFT_EXIT_OK : WEFT_EXIT_INVALID;
}

static int location_add(int argc, char **argv, struct weft_instance *inst) {
  const char *cmd = "location add";
  struct weft_locreg_entry e = {0};
  const char *pos[2] = {NULL, NULL}, *v;
  size_t n_pos = 0;
  int64_t if_version = -1, version = 0;
  int rc = WEFT_EXIT_OK, m;
  for (int i = 1; i < argc && rc == WEFT_EXIT_OK; i++) {
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--env", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : add_env(cmd, &e, v);
    else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--python", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : abs_or_copy(v, &e.python);
    else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--image", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : ((e.image = strdup(v)) ? 0 : WEFT_EXIT_INVALID);
    else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--workdir", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : ((e.workdir = strdup(v)) ? 0 : WEFT_EXIT_INVALID);
    else if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--if-version", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : parse_version(cmd, v, &if_version);
    else if (argv[i][0] == '-')
      rc = weft_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    else if (n_pos == 2)
      rc = weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    else
      pos[n_pos++] = argv[i];
  }
  if (rc == WEFT_EXIT_OK && n_pos != 2) rc = weft_cli_usage_error(cmd, "needs NAME and PATH");
  if (rc != WEFT_EXIT_OK) goto done;
  if (!weft_fs_is_dir(pos[1])) {
    fprintf(stderr, "weft %s: '%s' is not a folder\n", cmd, pos[1]);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  e.name = (char *)pos[0];
  e.path = realpath(pos[1], NULL);
  weft_error err = WEFT_ERROR_INIT;
  if (!e.path || weft_locreg_add(inst->store, &e, if_version, &version, &err)) {
    rc = e.path ? fail(cmd, &err) : WEFT_EXIT_INVALID;
    goto done;
  }
  printf("added location %s (%s); registry version %lld\n", e.name, e.path,
         (long long)version);
done:
  e.name = NULL; /* borrowed from argv */
  free(e.path);
  free(e.python);
  free(e.image);
  free(e.workdir);
  for (size_t i = 0; i < e.env.n; i++) {
    free(e.env.v[i].key);
    free(e.env.v[i].value);
  }
  free(e.env.v);
  return rc;
}

static int location_remove(int argc, char **argv, struct weft_instance *inst) {
  const char *cmd = "location remove", *name = NULL, *v;
  int64_t if_version = -1, version = 0;
  int rc = WEFT_EXIT_OK, m;
  for (int i = 1; i < argc && rc == WEFT_EXIT_OK; i++) {
    if ((m = weft_cli_flag_value(cmd, argc, argv, &i, NULL, "--if-version", &v)) != 0)
      rc = m < 0 ? WEFT_EXIT_USAGE : parse_version(cmd, v, &if_version);
    else if (argv[i][0] == '-' || name)
      rc = weft_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    else
      name = argv[i];
  }
  if (rc == WEFT_EXIT_OK && !name) rc = weft_cli_usage_error(cmd, "needs NAME");
  if (rc != WEFT_EXIT_OK) return rc;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_locreg_remove(inst->store, name, if_version, &version, &err)) return fail(cmd, &err);
  printf("removed location %s; registry version %lld\n", name, (long long)version);
  return WEFT_EXIT_OK;
}

/* "N errors" then the first few as file:line:col lines, indented. */
static void print_errors(struct weft_location *loc) {
  weft_diags_sort(&loc->diags);
  for (size_t i = 0; i < loc->diags.n && i < SHOWN_ERRORS; i++) {
    const struct weft_diag *d = &loc->diags.v[i];
    printf("    %s:%d:%d: %s\n", d->file ? d->file : loc->path, d->line, d->col, d->msg);
  }
  if (loc->diags.n > SHOWN_ERRORS)
    printf("    ... %zu more (see 'weft validate %s')\n", loc->diags.n - SHOWN_ERRORS,
           loc->path);
}

static void print_location(const struct weft_locreg_entry *e, struct weft_location *loc) {
  printf("%-16s %s  %zu %s, %zu %s", e->name, e->path, loc->n_jobs,
         loc->n_jobs == 1 ? "job" : "jobs", loc->diags.n, loc->diags.n == 1 ? "error" : "errors");
  if (e->python) printf("  python=%s", e->python);
  if (e->image) printf("  image=%s", e->image);
  if (e->workdir) printf("  workdir=%s", e->workdir);
  for (size_t i = 0; i < e->env.n; i++) printf("  %s=%s", e->env.v[i].key, e->env.v[i].value);
  printf("\n");
  print_errors(loc);
}

static int location_list(int argc, char **argv, struct weft_instance *inst) {
  if (argc > 1) return weft_cli_usage_error("location list", "unexpected argument '%s'", argv[1]);
  struct weft_locreg reg;
  weft_error err = WEFT_ERROR_INIT;
  if (weft_locreg_read(inst->store, &reg, &err)) return fail("location list", &err);
  int rc = WEFT_EXIT_OK;
  printf("registry version %lld, %zu %s\n", (long long)reg.version, reg.n,
         reg.n == 1 ? "location" : "locations");
  for (size_t i = 0; i < reg.n && rc == WEFT_EXIT_OK; i++) {
    struct weft_location *loc = NULL;
    if (weft_locreg_load_entry(&reg.v[i], &loc, &err)) {
      rc = fail("location list", &err);
      break;
    }
    print_location(&reg.v[i], loc);
    weft_location_free(loc);
  }
  weft_locreg_release(&reg);
  return rc;
}

static int location_reload(int argc, char **argv, struct weft_instance *inst) {
  const char *cmd = "location reload";
  if (argc != 2) return weft_cli_usage_error(cmd, "needs NAME");
  struct weft_locreg reg;
  weft_error err = WEFT_ERROR_INIT;
  struct weft_location *loc = NULL;
  int64_t version = 0;
  int rc = WEFT_EXIT_INVALID;
  if (weft_locreg_read(inst->store, &reg, &err)) return fail(cmd, &err);
  const struct weft_locreg_entry *e = weft_locreg_find(&reg, argv[1]);
  if (!e) {
    fprintf(stderr, "weft %s: no location '%s' in the registry\n", cmd, argv[1]);
    goto done;
  }
  if (weft_locreg_load_entry(e, &loc, &err)) {
    fail(cmd, &err);
    goto done;
  }
  /* Bumping the version is what tells the servers to load it again. */
  if (weft_locreg_touch(inst->store, e->name, &version, &err)) {
    fail(cmd, &err);
    goto done;
  }
  print_location(e, loc);
  printf("reloaded; registry version %lld\n", (long long)version);
  rc = loc->diags.n ? WEFT_EXIT_INVALID : WEFT_EXIT_OK;
done:
  weft_location_free(loc);
  weft_locreg_release(&reg);
  return rc;
}

int cmd_location(int argc, char **argv) {
  static const struct {
    const char *name;
    int (*fn)(int, char **, struct weft_instance *);
  } subs[] = {{"add", location_add},
              {"remove", location_remove},
              {"list", location_list},
              {"reload", location_reload}};
  if (argc < 2 || weft_cli_is_help(argv[1])) {
    fputs(location_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? WEFT_EXIT_USAGE : WEFT_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
    if (strcmp(argv[1], subs[i].name)) continue;
    for (int a = 2; a < argc; a++)
      if (weft_cli_is_help(argv[a])) {
        fputs(location_usage, stdout);
        return WEFT_EXIT_OK;
      }
    struct weft_instance *inst = NULL;
    weft_error err = WEFT_ERROR_INIT;
    if (weft_instance_open(NULL, &inst, &err)) return fail("location", &err);
    int rc = subs[i].fn(argc - 1, argv + 1, inst);
    weft_instance_close(inst);
    return rc;
  }
  return weft_cli_usage_error("location", "unknown subcommand '%s' (add, remove, list, reload)",
                              argv[1]);
}
