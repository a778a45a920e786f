/* yaml_tree.c: builds the marked YAML node tree from libyaml's event API.
 * Iterative (a frame stack) so deep input cannot overflow the C stack. */

/* Aliases share nodes; their expanded size is charged to a budget. */
#include "dsl/yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/map.h"

/* ---- arena --------------------------------------------------------------- */

struct block {
  struct block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

#define BLOCK_SIZE 65536

static void *arena_alloc(struct weft__ydoc *doc, size_t size) {
  size = (size + 15) & ~(size_t)15;
  struct block *head = doc->blocks;
  if (head && head->cap - head->used >= size) {
    void *p = head->data + head->used;
    head->used += size;
    return p;
  }
  /* Big requests get a block of their own behind the head, so the head's
   * free space is not thrown away. */
  int own = size > BLOCK_SIZE / 4;
  size_t cap = own ? size : BLOCK_SIZE;
  struct block *b = malloc(sizeof *b + cap);
  if (!b) return NULL;
  b->used = size;
  b->cap = cap;
  if (own && head) {
    b->next = head->next;
    head->next = b;
  } else {
    b->next = head;
    doc->blocks = b;
  }
  return b->data;
}

static char *arena_strndup(struct weft__ydoc *doc, const char *s, size_t len) {
  char *p = arena_alloc(doc, len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = 0;
  return p;
}

void weft__ydoc_release(struct weft__ydoc *doc) {
  struct block *b = doc->blocks;
  while (b) {
    struct block *next = b->next;
    free(b);
    b = next;
  }
  doc->blocks = NULL;
  doc->alias_nodes = 0;
}

/* ---- builder --------------------------------------------------------------
 */

struct frame {
  struct weft__ynode *node;
  size_t start;       /* first pending child of this collection */
  const char *anchor; /* arena copy, or NULL */
};

struct builder {
  struct weft__ydoc *doc;
  const char *file;
  struct weft_diags *diags;
  struct weft__ynode **pending; /* children of the open collections */
  size_t n_pending, cap_pending;
  struct frame *frames;
  size_t n_frames, cap_frames;
  struct weft_map anchors; /* arena anchor name -> node */
  struct weft__ynode *root;
};

static struct weft_mark mark_of(const struct builder *b, yaml_mark_t m) {
  return (struct weft_mark){b->file, (int)m.line + 1, (int)m.column + 1};
}

static int push_value(struct builder *b, struct weft__ynode *n) {
  if (!b->n_frames) {
    b->root = n;
    return WEFT_OK;
  }
  if (b->n_pending == b->cap_pending) {
    size_t cap = b->cap_pending ? 2 * b->cap_pending : 64;
    struct weft__ynode **p = realloc(b->pending, cap * sizeof *p);
    if (!p) return WEFT_ENOMEM;
    b->pending = p;
    b->cap_pending = cap;
  }
  b->pending[b->n_pending++] = n;
  return WEFT_OK;
}

static int set_anchor(struct builder *b, const char *anchor,
                      struct weft__ynode *n) {
  if (!anchor) return WEFT_OK;
  /* A later anchor of the same name replaces the earlier one (YAML 1.2). */
  return weft_map_set(&b->anchors, anchor, n);
}

static const char *copy_anchor(struct builder *b, const yaml_char_t *anchor,
                               int *rc) {
  if (!anchor) return NULL;
  const char *a =
      arena_strndup(b->doc, (const char *)anchor, strlen((const char *)anchor));
  if (!a) *rc = WEFT_ENOMEM;
  return a;
}

static int add_scalar(struct builder *b, const yaml_event_t *ev) {
  int rc = WEFT_OK;
  struct weft__ynode *n = arena_alloc(b->doc, sizeof *n);
  if (!n) return WEFT_ENOMEM;
  memset(n, 0, sizeof *n);
  n->kind = WEFT__Y_SCALAR;
  n->mark = mark_of(b, ev->start_mark);
  n->weight = 1;
  n->height = 1;
  n->u.scalar.len = ev->data.scalar.length;
  n->u.scalar.text = arena_strndup(b->doc, (const char *)ev->data.scalar.value,
                                   ev->data.scalar.length);
  if (!n->u.scalar.text) return WEFT_ENOMEM;
  const char *tag = (const char *)ev->data.scalar.tag;
  n->u.scalar.quoted =
      ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
      (tag && (!strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG)));
  const char *anchor = copy_anchor(b, ev->data.scalar.anchor, &rc);
  if (rc) return rc;
  if ((rc = set_anchor(b, anchor, n))) return rc;
  return push_value(b, n);
}

static int open_collection(struct builder *b, const yaml_event_t *ev,
                           enum weft__ykind kind) {
  if (b->n_frames >= WEFT__YAML_MAX_DEPTH) {
    weft_diags_addf(b->diags, b->file, (int)ev->start_mark.line + 1,
                    (int)ev->start_mark.column + 1,
                    "YAML error: nesting deeper than %d levels",
                    WEFT__YAML_MAX_DEPTH);
    return WEFT_EINVALID;
  }
  int rc = WEFT_OK;
  struct weft__ynode *n = arena_alloc(b->doc, sizeof *n);
  if (!n) return WEFT_ENOMEM;
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->mark = mark_of(b, ev->start_mark);
  const yaml_char_t *anchor = kind == WEFT__Y_MAP
                                  ? ev->data.mapping_start.anchor
                                  : ev->data.sequence_start.anchor;
  const char *a = copy_anchor(b, anchor, &rc);
  if (rc) return rc;
  if (b->n_frames == b->cap_frames) {
    size_t cap = b->cap_frames ? 2 * b->cap_frames : 16;
    struct frame *f = realloc(b->frames, cap * sizeof *f);
    if (!f) return WEFT_ENOMEM;
    b->frames = f;
    b->cap_frames = cap;
  }
  b->frames[b->n_frames++] = (struct frame){n, b->n_pending, a};
  return WEFT_OK;
}

static void account_child(struct weft__ynode *parent,
                          const struct weft__ynode *c) {
  parent->weight += c->weight;
  if (c->height + 1 > parent->height) parent->height = c->height + 1;
}

/* Keys already seen in one mapping; a hash map only for big mappings, where
 * a linear scan would make a 10,000-entry graph quadratic. */
static int find_dup(struct weft_map *seen, struct weft__ypair *pairs, size_t n,
                    const char *key, struct weft__ynode **first, int *rc) {
  void *v = NULL;
  if (n < 16) {
    for (size_t i = 0; i < n; i++)
      if (!strcmp(pairs[i].key->u.scalar.text, key)) {
        *first = pairs[i].key;
        return 1;
      }
    return 0;
  }
  if (n == 16) {
    for (size_t i = 0; i < n; i++)
      if (weft_map_put(seen, pairs[i].key->u.scalar.text, pairs[i].key) ==
          WEFT_ENOMEM) {
        *rc = WEFT_ENOMEM;
        return 0;
      }
  }
  if (weft_map_find(seen, key, &v)) {
    *first = v;
    return 1;
  }
  return 0;
}

static int close_collection(struct builder *b) {
  struct frame f = b->frames[--b->n_frames];
  struct weft__ynode *n = f.node;
  size_t nk = b->n_pending - f.start;
  /* pending is still NULL when no collection had a child yet */
  struct weft__ynode **kids = nk ? b->pending + f.start : NULL;
  int rc = WEFT_OK;
  n->weight = 1;
  n->height = 1;
  if (n->kind == WEFT__Y_SEQ) {
    n->u.seq.items = arena_alloc(b->doc, (nk ? nk : 1) * sizeof *kids);
    if (!n->u.seq.items) return WEFT_ENOMEM;
    for (size_t i = 0; i < nk; i++) {
      n->u.seq.items[i] = kids[i];
      account_child(n, kids[i]);
    }
    n->u.seq.n = nk;
  } else {
    struct weft_map seen = WEFT_MAP_INIT;
    struct weft__ypair *pairs =
        arena_alloc(b->doc, (nk / 2 + 1) * sizeof *pairs);
    size_t np = 0;
    if (!pairs) return WEFT_ENOMEM;
    for (size_t i = 0; i + 1 < nk && !rc; i += 2) {
      struct weft__ynode *k = kids[i], *v = kids[i + 1], *first = NULL;
      if (k->kind != WEFT__Y_SCALAR) {
        weft_diags_addf(b->diags, k->mark.file, k->mark.line, k->mark.col,
                        "mapping keys must be plain names, not %s",
                        weft__ynode_describe(k));
        continue;
      }
      if (strlen(k->u.scalar.text) != k->u.scalar.len) {
        /* C strings would cut the key short and merge it with another */
        weft_diags_addf(b->diags, k->mark.file, k->mark.line, k->mark.col,
                        "mapping key '%s...' contains a NUL character",
                        k->u.scalar.text);
        continue;
      }
      if (find_dup(&seen, pairs, np, k->u.scalar.text, &first, &rc)) {
        weft_diags_addf(
            b->diags, k->mark.file, k->mark.line, k->mark.col,
            "duplicate key '%s' (first defined at line %d, column %d)",
            k->u.scalar.text, first->mark.line, first->mark.col);
        continue;
      }
      if (np >= 16 && weft_map_put(&seen, k->u.scalar.text, k) == WEFT_ENOMEM)
        rc = WEFT_ENOMEM;
      pairs[np++] = (struct weft__ypair){k, v};
      account_child(n, k);
      account_child(n, v);
    }
    weft_map_release(&seen);
    if (rc) return rc;
    n->u.map.pairs = pairs;
    n->u.map.n = np;
  }
  b->n_pending = f.start;
  if ((rc = set_anchor(b, f.anchor, n))) return rc;
  return push_value(b, n);
}

static int add_alias(struct builder *b, const yaml_event_t *ev) {
  const char *name = (const char *)ev->data.alias.anchor;
  struct weft__ynode *target = weft_map_get(&b->anchors, name);
  int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
  if (!target) {
    /* Anchors register when their node is complete, which also rejects a
     * collection that contains an alias of itself. */
    weft_diags_addf(b->diags, b->file, line, col,
                    "YAML syntax error: found undefined alias '%s'", name);
    return WEFT_EINVALID;
  }
  b->doc->alias_nodes += target->weight;
  if (b->doc->alias_nodes > WEFT__YAML_MAX_ALIAS_NODES) {
    weft_diags_addf(b->diags, b->file, line, col,
                    "YAML error: aliases expand to more than %d nodes",
                    WEFT__YAML_MAX_ALIAS_NODES);
    return WEFT_EINVALID;
  }
  if (b->n_frames + (size_t)target->height > WEFT__YAML_MAX_DEPTH) {
    weft_diags_addf(b->diags, b->file, line, col,
                    "YAML error: alias '%s' nests deeper than %d levels", name,
                    WEFT__YAML_MAX_DEPTH);
    return WEFT_EINVALID;
  }
  return push_value(b, target);
}

static void syntax_error(struct builder *b, const yaml_parser_t *p) {
  yaml_mark_t m = p->problem_mark;
  if (p->error == YAML_READER_ERROR) {
    /* reader errors carry a byte offset, not a mark */
    weft_diags_addf(
        b->diags, b->file, 0, 0, "YAML syntax error: %s at byte %zu",
        p->problem ? p->problem : "unreadable input", p->problem_offset);
    return;
  }
  if (p->context)
    weft_diags_addf(b->diags, b->file, (int)m.line + 1, (int)m.column + 1,
                    "YAML syntax error: %s (%s at line %d, column %d)",
                    p->problem ? p->problem : "invalid YAML", p->context,
                    (int)p->context_mark.line + 1,
                    (int)p->context_mark.column + 1);
  else
    weft_diags_addf(b->diags, b->file, (int)m.line + 1, (int)m.column + 1,
                    "YAML syntax error: %s",
                    p->problem ? p->problem : "invalid YAML");
}

int weft__yaml_parse(struct weft__ydoc *doc, const char *file, const char *text,
                     size_t len, struct weft__ynode **root,
                     struct weft_diags *diags) {
  struct builder b = {.doc = doc, .file = file, .diags = diags};
  yaml_parser_t parser;
  int rc = WEFT_OK, docs = 0, done = 0;
  *root = NULL;
  if (!yaml_parser_initialize(&parser)) return WEFT_ENOMEM;
  yaml_parser_set_input_string(
      &parser, (const unsigned char *)(text ? text : ""), text ? len : 0);
  while (!done && !rc) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      if (parser.error == YAML_MEMORY_ERROR) {
        rc = WEFT_ENOMEM;
      } else {
        syntax_error(&b, &parser);
        rc = WEFT_EINVALID;
      }
      break;
    }
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        done = 1;
        break;
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1) {
          weft_diags_addf(diags, file, (int)ev.start_mark.line + 1,
                          (int)ev.start_mark.column + 1,
                          "YAML error: a second document in the file "
                          "(weft reads one document per file)");
          rc = WEFT_EINVALID;
        }
        break;
      case YAML_ALIAS_EVENT:
        rc = add_alias(&b, &ev);
        break;
      case YAML_SCALAR_EVENT:
        rc = add_scalar(&b, &ev);
        break;
      case YAML_SEQUENCE_START_EVENT:
        rc = open_collection(&b, &ev, WEFT__Y_SEQ);
        break;
      case YAML_MAPPING_START_EVENT:
        rc = open_collection(&b, &ev, WEFT__Y_MAP);
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        rc = b.n_frames ? close_collection(&b) : WEFT_EINVALID;
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  free(b.pending);
  free(b.frames);
  weft_map_release(&b.anchors);
  if (!rc) *root = b.root;
  return rc;
}

/* ---- editing --------------------------------------------------------------
 */

struct weft__ynode *weft__ynode_new_map(struct weft__ydoc *doc,
                                        struct weft_mark mark) {
  struct weft__ynode *n = arena_alloc(doc, sizeof *n);
  if (!n) return NULL;
  memset(n, 0, sizeof *n);
  n->kind = WEFT__Y_MAP;
  n->mark = mark;
  n->weight = n->height = 1;
  return n;
}

struct weft__ynode *weft__ynode_new_scalar(struct weft__ydoc *doc,
                                           struct weft_mark mark,
                                           const char *text, int quoted) {
  struct weft__ynode *n = arena_alloc(doc, sizeof *n);
  if (!n) return NULL;
  memset(n, 0, sizeof *n);
  n->kind = WEFT__Y_SCALAR;
  n->mark = mark;
  n->weight = n->height = 1;
  n->u.scalar.len = strlen(text);
  n->u.scalar.quoted = quoted;
  if (!(n->u.scalar.text = arena_strndup(doc, text, n->u.scalar.len)))
    return NULL;
  return n;
}

int weft__ymap_set(struct weft__ydoc *doc, struct weft__ynode *map,
                   struct weft__ynode *key, struct weft__ynode *value) {
  for (size_t i = 0; i < map->u.map.n; i++) {
    if (!strcmp(map->u.map.pairs[i].key->u.scalar.text, key->u.scalar.text)) {
      map->u.map.pairs[i].value = value;
      return WEFT_OK;
    }
  }
  struct weft__ypair *p = arena_alloc(doc, (map->u.map.n + 1) * sizeof *p);
  if (!p) return WEFT_ENOMEM;
  if (map->u.map.n) memcpy(p, map->u.map.pairs, map->u.map.n * sizeof *p);
  p[map->u.map.n++] = (struct weft__ypair){key, value};
  map->u.map.pairs = p;
  map->weight += key->weight + value->weight;
  if (value->height + 1 > map->height) map->height = value->height + 1;
  return WEFT_OK;
}

/* ---- reading ------------------------------------------------------------- */

struct weft__ynode *weft__ymap_get(const struct weft__ynode *map,
                                   const char *key,
                                   struct weft__ynode **key_node) {
  if (key_node) *key_node = NULL;
  if (!map || map->kind != WEFT__Y_MAP) return NULL;
  for (size_t i = 0; i < map->u.map.n; i++) {
    if (!strcmp(map->u.map.pairs[i].key->u.scalar.text, key)) {
      if (key_node) *key_node = map->u.map.pairs[i].key;
      return map->u.map.pairs[i].value;
    }
  }
  return NULL;
}

static int all_of(const char *s, const char *set) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!strchr(set, *s)) return 0;
  return 1;
}

static int is_decimal_float(const char *s) {
  if (*s == '-' || *s == '+') s++;
  size_t digits = 0;
  while (*s >= '0' && *s <= '9') s++, digits++;
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') s++, digits++;
  }
  if (!digits) return 0;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+') s++;
    if (!(*s >= '0' && *s <= '9')) return 0;
    while (*s >= '0' && *s <= '9') s++;
  }
  return *s == 0;
}

enum weft__yscalar weft__yscalar_kind(const struct weft__ynode *n) {
  if (!n || n->kind != WEFT__Y_SCALAR || n->u.scalar.quoted)
    return WEFT__YS_STRING;
  const char *t = n->u.scalar.text;
  if (!*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
      !strcmp(t, "NULL"))
    return WEFT__YS_NULL;
  if (!strcmp(t, "true") || !strcmp(t, "True") || !strcmp(t, "TRUE") ||
      !strcmp(t, "false") || !strcmp(t, "False") || !strcmp(t, "FALSE"))
    return WEFT__YS_BOOL;
  const char *d = (*t == '-' || *t == '+') ? t + 1 : t;
  if (all_of(d, "0123456789")) return WEFT__YS_INT;
  if (!strncmp(t, "0o", 2) && all_of(t + 2, "01234567")) return WEFT__YS_INT;
  if (!strncmp(t, "0x", 2) && all_of(t + 2, "0123456789abcdefABCDEF"))
    return WEFT__YS_INT;
  if (is_decimal_float(t)) return WEFT__YS_FLOAT;
  if (!strcmp(d, ".inf") || !strcmp(d, ".Inf") || !strcmp(d, ".INF") ||
      !strcmp(t, ".nan") || !strcmp(t, ".NaN") || !strcmp(t, ".NAN"))
    return WEFT__YS_FLOAT;
  return WEFT__YS_STRING;
}

int weft__ynode_is_null(const struct weft__ynode *n) {
  return !n ||
         (n->kind == WEFT__Y_SCALAR && weft__yscalar_kind(n) == WEFT__YS_NULL);
}

const char *weft__ynode_text(const struct weft__ynode *n) {
  if (!n || n->kind != WEFT__Y_SCALAR || weft__ynode_is_null(n)) return NULL;
  /* a NUL from an escape would silently cut names and commands short */
  if (strlen(n->u.scalar.text) != n->u.scalar.len) return NULL;
  return n->u.scalar.text;
}

const char *weft__ynode_describe(const struct weft__ynode *n) {
  if (!n) return "nothing";
  if (n->kind == WEFT__Y_MAP) return "a mapping";
  if (n->kind == WEFT__Y_SEQ) return "a list";
  if (strlen(n->u.scalar.text) != n->u.scalar.len)
    return "a string with a NUL character";
  switch (weft__yscalar_kind(n)) {
    case WEFT__YS_NULL:
      return "null";
    case WEFT__YS_BOOL:
      return "a boolean";
    case WEFT__YS_INT:
      return "an integer";
    case WEFT__YS_FLOAT:
      return "a number";
    case WEFT__YS_STRING:
      break;
  }
  return "a string";
}

int weft__ynode_int(const struct weft__ynode *n, long long *out) {
  if (weft__yscalar_kind(n) != WEFT__YS_INT) return 0;
  const char *t = n->u.scalar.text;
  int base = 10;
  if (!strncmp(t, "0o", 2))
    t += 2, base = 8;
  else if (!strncmp(t, "0x", 2))
    t += 2, base = 16;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(t, &end, base);
  if (errno || !end || *end) return 0;
  *out = v;
  return 1;
}

int weft__ynode_number(const struct weft__ynode *n, double *out) {
  long long i;
  if (weft__ynode_int(n, &i)) {
    *out = (double)i;
    return 1;
  }
  if (weft__yscalar_kind(n) != WEFT__YS_FLOAT) return 0;
  errno = 0;
  char *end = NULL;
  double v = strtod(n->u.scalar.text, &end);
  /* .inf and .nan are YAML floats that strtod does not read (and JSON
   * cannot hold): not numbers here */
  if (errno || !end || *end || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

int weft__ynode_bool(const struct weft__ynode *n, int *out) {
  if (weft__yscalar_kind(n) != WEFT__YS_BOOL) return 0;
  *out = n->u.scalar.text[0] == 't' || n->u.scalar.text[0] == 'T';
  return 1;
}

static json_t *scalar_to_json(const struct weft__ynode *n) {
  long long i;
  double d;
  int b;
  switch (weft__yscalar_kind(n)) {
    case WEFT__YS_NULL:
      return json_null();
    case WEFT__YS_BOOL:
      weft__ynode_bool(n, &b);
      return json_boolean(b);
    case WEFT__YS_INT:
      if (weft__ynode_int(n, &i)) return json_integer(i);
      /* too big for 64 bits: a double keeps the magnitude */
      errno = 0;
      d = strtod(n->u.scalar.text, NULL);
      if (!errno && isfinite(d)) return json_real(d);
      break;
    case WEFT__YS_FLOAT:
      if (weft__ynode_number(n, &d)) return json_real(d);
      break; /* .inf and .nan have no JSON form */
    case WEFT__YS_STRING:
      break;
  }
  return json_stringn(n->u.scalar.text, n->u.scalar.len);
}

json_t *weft__ynode_to_json(const struct weft__ynode *n) {
  if (!n) return json_null();
  if (n->kind == WEFT__Y_SCALAR) return scalar_to_json(n);
  if (n->kind == WEFT__Y_SEQ) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n->u.seq.n; i++) {
      if (json_array_append_new(a, weft__ynode_to_json(n->u.seq.items[i]))) {
        json_decref(a);
        return NULL;
      }
    }
    return a;
  }
  json_t *o = json_object();
  for (size_t i = 0; o && i < n->u.map.n; i++) {
    const struct weft__ypair *p = &n->u.map.pairs[i];
    if (json_object_set_new(o, p->key->u.scalar.text,
                            weft__ynode_to_json(p->value))) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}
