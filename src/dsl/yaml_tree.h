/* yaml_tree.h: a small YAML node tree with file:line:col marks, built from
 * libyaml events, with bounded alias expansion and duplicate-key rejection. */
#ifndef WEFT_DSL_YAML_TREE_H
#define WEFT_DSL_YAML_TREE_H

#include <jansson.h>
#include <stddef.h>

#include "model/model.h"

/* Limits that keep hostile input cheap: nesting depth (so recursive walks
 * over the tree are safe) and the number of nodes aliases may add
 * (billion-laughs documents stop here instead of exploding). */
#define WEFT__YAML_MAX_DEPTH 200
#define WEFT__YAML_MAX_ALIAS_NODES 1000000

enum weft__ykind { WEFT__Y_SCALAR, WEFT__Y_SEQ, WEFT__Y_MAP };

/* What a scalar means under YAML 1.2's core schema. */
enum weft__yscalar {
  WEFT__YS_NULL,
  WEFT__YS_BOOL,
  WEFT__YS_INT,
  WEFT__YS_FLOAT,
  WEFT__YS_STRING
};

struct weft__ynode;

struct weft__ypair {
  struct weft__ynode *key; /* always a scalar */
  struct weft__ynode *value;
};

/* A node; several parents may share one through aliases, so the tree is
 * read-only in practice. All memory belongs to the weft__ydoc arena. */
struct weft__ynode {
  enum weft__ykind kind;
  struct weft_mark mark;
  size_t weight; /* nodes in the subtree with aliases expanded */
  int height;    /* 1 for a scalar */
  union {
    struct {
      char *text; /* NUL-terminated; may hold NULs from escapes */
      size_t len;
      int quoted; /* quoted, block or !!str: always a string */
    } scalar;
    struct {
      struct weft__ynode **items;
      size_t n;
    } seq;
    struct {
      struct weft__ypair *pairs;
      size_t n;
    } map;
  } u;
};

/* An arena owning every node of one or more parsed texts. */
struct weft__ydoc {
  void *blocks;       /* private */
  size_t alias_nodes; /* nodes added by aliases so far (budget) */
};

#define WEFT__YDOC_INIT \
  { NULL, 0 }

/* Parses one YAML text (a single document) into doc; *root is NULL for an
 * empty text. Syntax errors go to diags as "YAML syntax error: ..." and return
 * WEFT_EINVALID; duplicate keys and non-scalar keys are diagnosed, dropped, and
 * the parse goes on. file is borrowed into every mark and must outlive doc.
 * Returns WEFT_OK, WEFT_EINVALID or WEFT_ENOMEM. */
int weft__yaml_parse(struct weft__ydoc *doc, const char *file, const char *text,
                     size_t len, struct weft__ynode **root,
                     struct weft_diags *diags);
void weft__ydoc_release(struct weft__ydoc *doc);

/* Node builders for documents edited after parsing (run-config overrides).
 * NULL when out of memory. */
struct weft__ynode *weft__ynode_new_map(struct weft__ydoc *doc,
                                        struct weft_mark mark);
struct weft__ynode *weft__ynode_new_scalar(struct weft__ydoc *doc,
                                           struct weft_mark mark,
                                           const char *text, int quoted);
/* Sets key -> value in map, replacing an existing value. WEFT_OK/ENOMEM. */
int weft__ymap_set(struct weft__ydoc *doc, struct weft__ynode *map,
                   struct weft__ynode *key, struct weft__ynode *value);

/* Value of key in map (NULL when absent or map is not a mapping); the key
 * node goes to *key_node when asked. */
struct weft__ynode *weft__ymap_get(const struct weft__ynode *map,
                                   const char *key,
                                   struct weft__ynode **key_node);
enum weft__yscalar weft__yscalar_kind(const struct weft__ynode *n);
int weft__ynode_is_null(const struct weft__ynode *n);
/* Text of a scalar that is not null, else NULL. */
const char *weft__ynode_text(const struct weft__ynode *n);
/* "a mapping", "a list", "a string", "an integer", "a number", "a boolean",
 * "null": for "expected X, got Y" messages. */
const char *weft__ynode_describe(const struct weft__ynode *n);
/* Integer value of an int scalar; 0 when it is not one or overflows. */
int weft__ynode_int(const struct weft__ynode *n, long long *out);
/* Numeric value of an int or float scalar; 0 when it is neither. */
int weft__ynode_number(const struct weft__ynode *n, double *out);
/* Boolean value; 0 when it is not a bool scalar. */
int weft__ynode_bool(const struct weft__ynode *n, int *out);
/* The node as a new JSON value (core schema typing; .inf/.nan and integers
 * too large for a double stay strings). NULL when out of memory. */
json_t *weft__ynode_to_json(const struct weft__ynode *n);

#endif
