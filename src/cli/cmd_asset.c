/* cmd_asset.c: `weft asset list | show KEY | history KEY`: the asset catalog
 * (engine/catalog.h) from the instance's store and the code locations. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/catalog.h"
#include "engine/engine.h"
#include "engine/locreg.h"
#include "util/clock.h"
#include "util/fs.h"

static const char asset_usage[] =
    "usage: weft asset list [--group G] [--search TEXT] [--limit N] [--json]\n"
    "       weft asset show KEY [--json]\n"
    "       weft asset history KEY [--limit N] [--kind K] [--json]\n"
    "       (each takes [-w FILE | -l LOCATION...])\n"
    "\n"
    "The asset catalog: the assets ops declare (assets: in ops/*.yaml) and\n"
    "every asset a step reported materializing, declared or not.\n"
    "\n"
    "  list     one line per asset: key, group, when it was last materialized,\n"
    "           how many times, and STALE when an upstream asset was\n"
    "           materialized after it or its location's code changed since\n"
    "  show     an asset: producing job and op, upstream and downstream\n"
    "           assets, latest metadata, staleness and why, freshness,\n"
    "           partitions materialized and missing, checks\n"
    "  history  its materializations, checks and missed freshness, newest\n"
    "           first\n"
    "\n"
    "options:\n"
    "  --group G             list: only assets of group G\n"
    "  --search TEXT         list: only keys containing TEXT\n"
    "  --limit N             at most N rows (default 100; list at most 1000)\n"
    "  --kind K              history: materialization, check or freshness_missed\n"
    "  --json                the API's JSON (GET /api/v1/assets...)\n"
    "  -w, --workspace FILE  read the locations from this workspace file\n"
    "  -l, --location DIR    read this code location (repeatable); default:\n"
    "                        the instance's locations, else ./workspace.yaml\n"
    "  -h, --help            show this help\n"
    "\n"
    "Exit status: 0 success, 1 an unknown asset or an unreadable store, 2 a\n"
    "usage error.\n";

struct asset_args {
  const char *sub, *key, *group, *search, *kind, *ws_file;
  char **locations;
  size_t n_locations;
  long limit;
  int json, help;
};

static int parse_args(int argc, char **argv, struct asset_args *a) {
  const char *v;
  int m;
  if (!(a->locations = calloc((size_t)argc, sizeof *a->locations))) return WEFT_EXIT_INVALID;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (weft_cli_is_help(arg)) {
      a->help = 1;
      return WEFT_EXIT_OK;
    }
    if (!strcmp(arg, "--json")) {
      a->json = 1;
      continue;
    }
    if (arg[0] != '-' || !arg[1]) {
      if (!a->sub) a->sub = arg;
      else if (!a->key) a->key = arg;
      else return weft_cli_usage_error("asset", "unexpected argument '%s'", arg);
      continue;
    }
    if ((m = weft_cli_flag_value("asset", argc, argv, &i, NULL, "--group", &a->group)) ||
        (m = weft_cli_flag_value("asset", argc, argv, &i, NULL, "--search", &a->search)) ||
        (m = weft_cli_flag_value("asset", argc, argv, &i, NULL, "--kind", &a->kind)) ||
        (m = weft_cli_flag_value("asset", argc, argv, &i, "-w", "--workspace", &a->ws_file))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      continue;
    }
    if ((m = weft_cli_flag_value("asset", argc, argv, &i, NULL, "--limit", &v))) {
      char *end;
      if (m < 0) return WEFT_EXIT_USAGE;
      a->limit = strtol(v, &end, 10);
      if (*end || a->limit < 1 || a->limit > 1000)
        return weft_cli_usage_error("asset", "--limit wants a number from 1 to 1000, got '%s'", v);
      continue;
    }
    if ((m = weft_cli_flag_value("asset", argc, argv, &i, "-l", "--location", &v))) {
      if (m < 0) return WEFT_EXIT_USAGE;
      a->locations[a->n_locations++] = (char *)v;
      continue;
    }
    return weft_cli_usage_error("asset", "unknown option '%s'", arg);
  }
  if (!a->sub) return weft_cli_usage_error("asset", "missing subcommand: list, show or history");
  if (strcmp(a->sub, "list") && strcmp(a->sub, "show") && strcmp(a->sub, "history"))
    return weft_cli_usage_error("asset", "unknown subcommand '%s' (list, show, history)", a->sub);
  if (!strcmp(a->sub, "list") && a->key)
    return weft_cli_usage_error("asset list", "unexpected argument '%s'", a->key);
  if (strcmp(a->sub, "list") && !a->key)
    return weft_cli_usage_error("asset", "%s: missing asset KEY", a->sub);
  if (a->kind && strcmp(a->kind, "materialization") && strcmp(a->kind, "check") &&
      strcmp(a->kind, "freshness_missed"))
    return weft_cli_usage_error("asset", "--kind wants materialization, check or "
                                "freshness_missed, got '%s'", a->kind);
  return WEFT_EXIT_OK;
}

/* -w/-l, else the instance's registered locations, else ./workspace.yaml,
 * else none (the catalog then shows undeclared assets only). */
static int load_ws(struct asset_args *a, struct weft_instance *inst, struct weft_workspace **ws) {
  struct weft_locreg reg = {0};
  weft_error err = WEFT_ERROR_INIT;
  if (a->ws_file || a->n_locations || access("workspace.yaml", F_OK) == 0)
    return weft_cli_load_workspace("asset", a->ws_file, a->locations, a->n_locations, ws);
  int rc = weft_locreg_read(inst->store, &reg, &err);
  if (!rc && reg.n) rc = weft_locreg_workspace(&reg, ws, &err);
  else if (!rc && !(*ws = calloc(1, sizeof **ws))) rc = WEFT_ENOMEM;
  weft_locreg_release(&reg);
  if (rc) {
    fprintf(stderr, "weft asset: %s\n", err.msg[0] ? err.msg : "out of memory");
    return WEFT_EXIT_INVALID;
  }
  return WEFT_EXIT_OK;
}

static void print_ago(int64_t now, int64_t ts) {
  int64_t s = (now - ts) / 1000;
  if (s < 120) printf("%" PRId64 "s ago", s < 0 ? 0 : s);
  else if (s < 7200) printf("%" PRId64 "m ago", s / 60);
  else if (s < 172800) printf("%" PRId64 "h ago", s / 3600);
  else printf("%" PRId64 "d ago", s / 86400);
}

static const char *str(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "-";
}

static void print_reasons(const json_t *reasons, const char *indent) {
  size_t i;
  json_t *r;
  json_array_foreach(reasons, i, r) {
    if (!strcmp(str(r, "kind"), "upstream"))
      printf("%supstream %s was materialized after it\n", indent, str(r, "asset"));
    else
      printf("%scode of location %s changed since (%s, now %s)\n", indent, str(r, "location"),
             str(r, "materialized_with"), str(r, "current"));
  }
}

static void print_list(const json_t *doc, int64_t now) {
  size_t i;
  json_t *it;
  printf("%-32s %-12s %-14s %6s  %s\n", "ASSET", "GROUP", "MATERIALIZED", "COUNT", "STATUS");
  json_array_foreach(json_object_get(doc, "assets"), i, it) {
    const json_t *l = json_object_get(it, "latest");
    printf("%-32s %-12s ", str(it, "key"), str(it, "group"));
    if (json_is_object(l)) {
      char when[32];
      int n = 0;
      int64_t s = (now - json_integer_value(json_object_get(l, "ts_ms"))) / 1000;
      if (s < 120) n = snprintf(when, sizeof when, "%llds ago", (long long)(s < 0 ? 0 : s));
      else if (s < 7200) n = snprintf(when, sizeof when, "%lldm ago", (long long)s / 60);
      else if (s < 172800) n = snprintf(when, sizeof when, "%lldh ago", (long long)s / 3600);
      else n = snprintf(when, sizeof when, "%lldd ago", (long long)s / 86400);
      (void)n;
      printf("%-14s ", when);
    } else {
      printf("%-14s ", "never");
    }
    json_t *f = json_object_get(it, "freshness");
    printf("%6lld  %s%s%s\n", (long long)json_integer_value(json_object_get(it, "materializations")),
           json_is_true(json_object_get(it, "stale")) ? "STALE" : json_is_object(l) ? "fresh" : "missing",
           json_is_true(json_object_get(f, "overdue")) ? " OVERDUE" : "",
           json_is_true(json_object_get(it, "declared")) ? "" : " (undeclared)");
  }
  if (json_is_string(json_object_get(doc, "next_cursor")))
    printf("(more: weft asset list --limit N, or GET /api/v1/assets?cursor=%s)\n",
           str(doc, "next_cursor"));
}

static void print_show(const json_t *d, int64_t now) {
  size_t i;
  json_t *v;
  const char *k;
  printf("asset:        %s%s\n", str(d, "key"),
         json_is_true(json_object_get(d, "declared")) ? "" : " (undeclared)");
  if (json_is_string(json_object_get(d, "group"))) printf("group:        %s\n", str(d, "group"));
  if (json_is_string(json_object_get(d, "description")))
    printf("description:  %s\n", str(d, "description"));
  json_array_foreach(json_object_get(d, "producers"), i, v)
      printf("produced by:  %s/%s op %s\n", str(v, "location"), str(v, "job"), str(v, "op"));
  const json_t *l = json_object_get(d, "latest");
  if (json_is_object(l)) {
    printf("last:         ");
    print_ago(now, json_integer_value(json_object_get(l, "ts_ms")));
    printf(" by run %s step %s%s%s (%lld in all)\n", str(l, "run_id"), str(l, "step"),
           json_is_string(json_object_get(l, "partition")) ? " partition " : "",
           json_is_string(json_object_get(l, "partition")) ? str(l, "partition") : "",
           (long long)json_integer_value(json_object_get(d, "materializations")));
  } else {
    printf("last:         never materialized\n");
  }
  printf("status:       %s\n", json_is_true(json_object_get(d, "stale")) ? "STALE" : json_is_object(l) ? "fresh" : "missing");
  print_reasons(json_object_get(d, "stale_reasons"), "              ");
  json_t *f = json_object_get(d, "freshness");
  if (json_is_object(f))
    printf("freshness:    max age %s%s\n", str(f, "max_age"),
           json_is_true(json_object_get(f, "overdue")) ? ": OVERDUE" : "");
  printf("upstream:    ");
  json_array_foreach(json_object_get(d, "upstream"), i, v) printf(" %s", json_string_value(v));
  printf("\ndownstream:  ");
  json_array_foreach(json_object_get(d, "downstream"), i, v) printf(" %s", json_string_value(v));
  printf("\n");
  json_t *md = json_object_get(d, "metadata_latest");
  if (json_object_size(md)) printf("metadata:\n");
  json_object_foreach(md, k, v) {
    char *t = json_dumps(json_object_get(v, "value"), JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    printf("  %-20s %s\n", k, t ? t : "?");
    free(t);
  }
  json_t *p = json_object_get(d, "partitions");
  if (json_integer_value(json_object_get(p, "total")))
    printf("partitions:   %zu materialized, %lld missing of %lld\n",
           json_object_size(json_object_get(p, "materialized")),
           (long long)json_integer_value(json_object_get(p, "missing")),
           (long long)json_integer_value(json_object_get(p, "total")));
  json_t *checks = json_object_get(d, "checks");
  if (json_array_size(checks)) printf("checks:\n");
  json_array_foreach(checks, i, v) printf("  %-20s %s (run %s)\n", str(v, "name"),
                                          json_is_true(json_object_get(v, "passed")) ? "passed" : "FAILED",
                                          str(v, "run_id"));
}

static void print_history(const json_t *d) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(d, "events"), i, e) {
    weft_cli_print_time(json_integer_value(json_object_get(e, "ts_ms")));
    const char *kind = str(e, "kind");
    char *md = json_dumps(json_object_get(e, "metadata"), JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!strcmp(kind, "check"))
      printf("  check %s %s  run %s  %s\n", str(e, "name"),
             json_is_true(json_object_get(e, "passed")) ? "passed" : "FAILED", str(e, "run_id"),
             md ? md : "");
    else if (!strcmp(kind, "materialization"))
      printf("  materialized  run %s step %s%s%s  %s\n", str(e, "run_id"), str(e, "step"),
             json_is_string(json_object_get(e, "partition")) ? " partition " : "",
             json_is_string(json_object_get(e, "partition")) ? str(e, "partition") : "",
             md ? md : "");
    else
      printf("  %s\n", kind);
    free(md);
  }
}

int cmd_asset(int argc, char **argv) {
  struct asset_args a = {0};
  struct weft_instance *inst = NULL;
  struct weft_workspace *ws = NULL;
  struct weft_catalog cat = {0};
  weft_error err = WEFT_ERROR_INIT;
  json_t *doc = NULL;
  int built = 0, rc = parse_args(argc, argv, &a);
  if (rc != WEFT_EXIT_OK) goto done;
  if (a.help) {
    fputs(asset_usage, stdout);
    goto done;
  }
  if (weft_instance_open(NULL, &inst, &err)) {
    fprintf(stderr, "weft asset: %s\n", err.msg);
    rc = WEFT_EXIT_INVALID;
    goto done;
  }
  if ((rc = load_ws(&a, inst, &ws)) != WEFT_EXIT_OK) goto done;
  if (weft_catalog_build(ws, &cat, &err)) goto fail;
  built = 1;
  struct weft_catalog_ctx x = {&cat, inst->store, inst->home, weft_clock_wall_ms()};
  int wrc = !strcmp(a.sub, "list")
                ? weft_catalog_list_json(&x, a.search, a.group, NULL, (int)(a.limit ? a.limit : 100),
                                         &doc, &err)
            : !strcmp(a.sub, "show")
                ? weft_catalog_asset_json(&x, a.key, &doc, &err)
                : weft_catalog_history_json(&x, a.key, a.kind, 0, (int)(a.limit ? a.limit : 100),
                                            &doc, &err);
  if (wrc) goto fail;
  if (a.json) {
    char *t = json_dumps(doc, JSON_INDENT(2));
    if (t) puts(t);
    free(t);
  } else if (!strcmp(a.sub, "list")) {
    print_list(doc, x.now_ms);
  } else if (!strcmp(a.sub, "show")) {
    print_show(doc, x.now_ms);
  } else {
    print_history(doc);
  }
  rc = WEFT_EXIT_OK;
  goto done;
fail:
  fprintf(stderr, "weft asset: %s\n", err.msg);
  rc = WEFT_EXIT_INVALID;
done:
  json_decref(doc);
  if (built) weft_catalog_release(&cat);
  weft_workspace_free(ws);
  weft_instance_close(inst);
  free(a.locations);
  return rc;
}
