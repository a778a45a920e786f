/* run_config_set.c: `--set PATH=VALUE` overrides, applied to the run-config
 * tree before checking, so diagnostics about those values name the override. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"

/* Marks of the override's nodes: the label as "file", no line. */
static void relabel(struct weft__ynode *n, const char *label) {
  n->mark = (struct weft_mark){label, 0, 0};
  if (n->kind == WEFT__Y_SEQ)
    for (size_t i = 0; i < n->u.seq.n; i++) relabel(n->u.seq.items[i], label);
  else if (n->kind == WEFT__Y_MAP)
    for (size_t i = 0; i < n->u.map.n; i++) {
      relabel(n->u.map.pairs[i].key, label);
      relabel(n->u.map.pairs[i].value, label);
    }
}

/* Parses VALUE as YAML (scalar or flow); NULL with a diagnostic when it is
 * not valid. *nomem is set when memory ran out. */
static struct weft__ynode *parse_value(struct weft__ydoc *doc,
                                       const char *label, const char *value,
                                       struct weft_diags *d, int *nomem) {
  struct weft_diags scratch = WEFT_DIAGS_INIT;
  struct weft__ynode *root = NULL;
  int rc = weft__yaml_parse(doc, label, value, strlen(value), &root, &scratch);
  struct weft_mark at = {label, 0, 0};
  if (rc == WEFT_ENOMEM) {
    *nomem = 1;
  } else if (rc || scratch.n) {
    weft__dsl_error(d, at,
                    "malformed override: its value is not valid YAML: %s",
                    scratch.n ? scratch.v[0].msg : "?");
    root = NULL;
  } else if (!root && !(root = weft__ynode_new_scalar(doc, at, "", 0))) {
    *nomem = 1; /* an empty VALUE is YAML's null */
  }
  weft_diags_release(&scratch);
  if (root) relabel(root, label);
  return root;
}

static int apply_one(struct weft__ydoc *doc, struct weft__ynode *root,
                     const char *text, const char *label,
                     struct weft_diags *d) {
  struct weft_mark at = {label, 0, 0};
  const char *eq = strchr(text, '=');
  if (!eq || eq == text) {
    weft__dsl_error(d, at,
                    "malformed override: expected PATH=VALUE, such as "
                    "ops.NAME.config.KEY=VALUE");
    return WEFT_OK;
  }
  char *path = strndup(text, (size_t)(eq - text));
  if (!path) return WEFT_ENOMEM;
  /* split PATH on dots; a tag name keeps its dots (tags.team.owner=x) */
  char *segs[64];
  size_t n = 0;
  int bad = 0;
  for (char *s = path; s && n < 64;) {
    char *dot = strchr(s, '.');
    if (n == 1 && !strcmp(segs[0], "tags")) dot = NULL;
    if (dot) *dot = 0;
    if (!*s) bad = 1;
    segs[n++] = s;
    s = dot ? dot + 1 : NULL;
  }
  if (bad || n >= 64) {
    weft__dsl_error(
        d, at, "malformed override: empty or too many parts in path '%.*s'",
        (int)(eq - text), text);
    free(path);
    return WEFT_OK;
  }
  /* ops.* and solids.* go to whichever of the two the document uses */
  if (!strcmp(segs[0], "ops") || !strcmp(segs[0], "solids")) {
    int has_ops = weft__ymap_get(root, "ops", NULL) != NULL;
    int has_solids = weft__ymap_get(root, "solids", NULL) != NULL;
    segs[0] = has_solids && !has_ops ? "solids" : "ops";
  }
  int nomem = 0;
  struct weft__ynode *value = parse_value(doc, label, eq + 1, d, &nomem);
  struct weft__ynode *cur = root;
  int rc = nomem ? WEFT_ENOMEM : WEFT_OK;
  for (size_t i = 0; value && !rc && i < n; i++) {
    struct weft__ynode *key = weft__ynode_new_scalar(doc, at, segs[i], 1);
    if (!key) {
      rc = WEFT_ENOMEM;
      break;
    }
    if (i + 1 == n) {
      rc = weft__ymap_set(doc, cur, key, value);
      break;
    }
    struct weft__ynode *next = weft__ymap_get(cur, segs[i], NULL);
    if (next && next->kind != WEFT__Y_MAP && !weft__ynode_is_null(next)) {
      weft__dsl_error(d, at, "cannot apply override: '%s' is %s, not a mapping",
                      segs[i], weft__ynode_describe(next));
      break;
    }
    if (!next || next->kind != WEFT__Y_MAP) {
      if (!(next = weft__ynode_new_map(doc, at)) ||
          weft__ymap_set(doc, cur, key, next)) {
        rc = WEFT_ENOMEM;
        break;
      }
    }
    cur = next;
  }
  free(path);
  return rc;
}

int weft__rc_apply_overrides(struct weft__ydoc *doc, struct weft__ynode *root,
                             const char *const *overrides, size_t n,
                             char ***labels, size_t *n_labels,
                             struct weft_diags *d) {
  for (size_t i = 0; i < n; i++) {
    char **v = realloc(*labels, (*n_labels + 1) * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    *labels = v;
    char *label = NULL;
    if (asprintf(&label, "override '%s'", overrides[i] ? overrides[i] : "") < 0)
      return WEFT_ENOMEM;
    v[(*n_labels)++] = label;
    int rc = apply_one(doc, root, overrides[i] ? overrides[i] : "", label, d);
    if (rc) return rc;
  }
  return WEFT_OK;
}
