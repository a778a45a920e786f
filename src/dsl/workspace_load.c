/* workspace_load.c: workspace.yaml (`locations:` of paths or {name, path})
 * and workspaces built from folder paths; each location loads independently. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "dsl/dsl_int.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/str.h"

static const char *const ws_keys[] = {"locations", NULL};
static const char *const loc_keys[] = {"name", "path", NULL};

static int add_location(struct weft_workspace *ws, struct weft_location *loc) {
  struct weft_location **v =
      realloc(ws->locations, (ws->n_locations + 1) * sizeof *v);
  if (!v) return WEFT_ENOMEM;
  ws->locations = v;
  v[ws->n_locations++] = loc;
  return WEFT_OK;
}

/* Name of a location folder: its last path component. Caller frees. */
static char *folder_name(const char *path) {
  char *copy = strdup(path), *name = NULL;
  if (copy) {
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/') copy[--len] = 0;
    char *abs = realpath(copy, NULL);
    const char *src = abs ? abs : copy;
    const char *slash = strrchr(src, '/');
    name = strdup(slash && slash[1] ? slash + 1 : src);
    free(abs);
  }
  free(copy);
  return name;
}

/* One entry of `locations:`; problems become diagnostics at the entry. */
static int load_entry(struct weft_workspace *ws, const char *ws_dir,
                      const struct weft__ynode *item, struct weft_map *names) {
  const struct weft__ynode *path_node = item, *name_node = NULL;
  struct weft_diags *d = &ws->diags;
  if (item->kind == WEFT__Y_MAP) {
    weft__dsl_check_keys(d, item, loc_keys, "a workspace location");
    path_node = weft__ymap_get(item, "path", NULL);
    name_node = weft__ymap_get(item, "name", NULL);
    if (!path_node) {
      weft__dsl_error(d, item->mark, "workspace location needs a 'path:'");
      return WEFT_OK;
    }
  }
  const char *rel = weft__ynode_text(path_node);
  if (!rel || path_node->kind != WEFT__Y_SCALAR) {
    weft__dsl_error(
        d, path_node->mark,
        "a workspace location must be a path or a mapping with 'name' and "
        "'path', got %s",
        weft__ynode_describe(path_node));
    return WEFT_OK;
  }
  const char *name = NULL;
  if (name_node) {
    name = weft__ynode_text(name_node);
    if (!name || !weft_str_is_identifier(name)) {
      char got[96];
      weft__dsl_error(
          d, name_node->mark,
          "invalid code location name %s (use letters, digits, '_' and '-', "
          "starting with a letter or '_')",
          weft__dsl_got(got, sizeof got, name_node));
      return WEFT_OK;
    }
  }
  int rc = WEFT_OK;
  char *full = rel[0] == '/' ? strdup(rel) : weft_fs_join(ws_dir, rel);
  char *derived = NULL;
  struct weft_location *loc = NULL;
  if (!full) return WEFT_ENOMEM;
  if (!weft_fs_is_dir(full)) {
    weft__dsl_error(
        d, path_node->mark, "code location path '%s' %s (looked for %s)", rel,
        weft_fs_exists(full) ? "is not a folder" : "does not exist", full);
    goto done;
  }
  if (!name) {
    if (!(derived = folder_name(full))) {
      rc = WEFT_ENOMEM;
      goto done;
    }
    name = derived;
    if (!weft_str_is_identifier(name)) {
      weft__dsl_error(
          d, path_node->mark,
          "code location folder name '%s' is not a valid name; give it one "
          "with {name: NAME, path: %s}",
          name, rel);
      goto done;
    }
  }
  const struct weft__ynode *first = weft_map_get(names, name);
  if (first) {
    weft__dsl_error(
        d, (name_node ? name_node : path_node)->mark,
        "duplicate code location name '%s' (first at line %d, column %d)", name,
        first->mark.line, first->mark.col);
    goto done;
  }
  weft_error err = WEFT_ERROR_INIT;
  rc = weft_location_load(full, name, &loc, &err);
  if (rc == WEFT_ENOMEM) goto done;
  if (rc) {
    weft__dsl_error(d, path_node->mark, "cannot load code location '%s': %s",
                    name, err.msg);
    rc = WEFT_OK;
    goto done;
  }
  if ((rc = add_location(ws, loc))) goto done;
  /* the key is the location's own name, which lives as long as ws */
  rc = weft_map_put(names, loc->name,
                    (void *)(name_node ? name_node : path_node));
  loc = NULL;
  if (rc == WEFT_ECONFLICT) rc = WEFT_OK;
done:
  weft_location_free(loc);
  free(full);
  free(derived);
  return rc;
}

int weft_workspace_load_file(const char *path, struct weft_workspace **out,
                             weft_error *err) {
  struct weft_buf text = WEFT_BUF_INIT;
  struct weft__ydoc doc = WEFT__YDOC_INIT;
  struct weft__ynode *root = NULL;
  struct weft_map names = WEFT_MAP_INIT;
  struct weft_workspace *ws = NULL;
  char *dir = NULL;
  int rc;
  *out = NULL;
  if ((rc = weft_fs_read_file(path, &text, err))) goto done;
  ws = calloc(1, sizeof *ws);
  char *copy = strdup(path);
  dir = copy ? strdup(dirname(copy)) : NULL;
  free(copy);
  if (!ws || !dir) goto nomem;
  rc = weft__yaml_parse(&doc, path, text.ptr, text.len, &root, &ws->diags);
  if (rc == WEFT_ENOMEM) goto nomem;
  rc = WEFT_OK;
  if (root) {
    const struct weft__ynode *locs = weft__ymap_get(root, "locations", NULL);
    if (root->kind != WEFT__Y_MAP) {
      weft__dsl_error(
          &ws->diags, root->mark,
          "workspace file must be a mapping with 'locations:', got %s",
          weft__ynode_describe(root));
    } else {
      weft__dsl_check_keys(&ws->diags, root, ws_keys, "the workspace file");
      if (!locs)
        weft__dsl_error(
            &ws->diags, root->mark,
            "workspace file has no 'locations:' (a list of code location "
            "folders)");
    }
    if (locs && locs->kind != WEFT__Y_SEQ && !weft__ynode_is_null(locs)) {
      weft__dsl_error(
          &ws->diags, locs->mark,
          "locations must be a list of paths or {name, path} mappings, got %s",
          weft__ynode_describe(locs));
    } else if (locs && locs->kind == WEFT__Y_SEQ) {
      for (size_t i = 0; i < locs->u.seq.n && !rc; i++)
        rc = load_entry(ws, dir, locs->u.seq.items[i], &names);
      if (rc) goto nomem;
    }
  } else if (!ws->diags.n) {
    weft_diags_addf(
        &ws->diags, path, 0, 0,
        "workspace file is empty: list code locations under 'locations:'");
  }
  weft__dsl_check_trigger_names(ws);
  weft_diags_sort(&ws->diags);
  *out = ws;
  ws = NULL;
  goto done;
nomem:
  rc = weft_error_set(err, WEFT_ENOMEM, "out of memory loading workspace %s",
                      path);
done:
  weft_workspace_free(ws);
  weft_map_release(&names);
  weft__ydoc_release(&doc);
  weft_buf_release(&text);
  free(dir);
  return rc;
}

int weft_workspace_from_paths(const char *const *paths, size_t n,
                              struct weft_workspace **out, weft_error *err) {
  struct weft_workspace *ws = calloc(1, sizeof *ws);
  struct weft_map names = WEFT_MAP_INIT;
  int rc = WEFT_OK;
  *out = NULL;
  if (!ws) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  for (size_t i = 0; i < n && !rc; i++) {
    struct weft_location *loc = NULL;
    if ((rc = weft_location_load(paths[i], NULL, &loc, err))) break;
    void *first = NULL;
    if (weft_map_find(&names, loc->name, &first)) {
      weft_diags_addf(
          &ws->diags, paths[i], 0, 0,
          "duplicate code location name '%s' (also the name of %s); name "
          "them in a workspace.yaml",
          loc->name, (const char *)first);
    }
    if ((rc = add_location(ws, loc))) {
      weft_location_free(loc);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    if (weft_map_put(&names, loc->name, (void *)paths[i]) == WEFT_ENOMEM)
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
  }
  weft_map_release(&names);
  if (rc) {
    weft_workspace_free(ws);
    return rc;
  }
  weft__dsl_check_trigger_names(ws);
  *out = ws;
  return WEFT_OK;
}
