/* when_expr.c: the `when:` expression language (grammar in when_expr.h): a
 * hand-written lexer and recursive-descent parser into a node array, name
 * resolution against a job, and evaluation over JSON values. */
#include "model/when_expr.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_kind { N_LIT, N_REF, N_NOT, N_AND, N_OR, N_CMP };
enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };
static const char *const cmp_text[] = {"==", "!=", "<", "<=", ">", ">="};

struct weft_when_node {
  enum node_kind kind;
  enum cmp_op op;
  size_t off;   /* where it starts in the text, for evaluation errors */
  json_t *lit;  /* N_LIT (owned) */
  size_t ref;   /* N_REF: index into refs */
  size_t a, b;  /* operands (node indexes) */
};

/* ---- lexer ----------------------------------------------------------------- */

enum tok {
  T_END, T_LPAREN, T_RPAREN, T_NOT, T_AND, T_OR, T_CMP, T_NUM, T_STR, T_PATH
};

struct parser {
  const char *s;
  size_t pos;      /* next byte to lex */
  enum tok tok;    /* current token */
  size_t tok_off;  /* its offset */
  enum cmp_op cmp; /* T_CMP */
  json_t *val;     /* T_NUM, T_STR: owned until taken */
  struct weft_when *w;
  size_t cap_nodes, cap_refs;
  int depth;
  int nomem;
  size_t bad_off;
  char *msg;
  size_t msg_size;
  int failed;
};

__attribute__((format(printf, 3, 4))) static void fail_at(struct parser *p, size_t off,
                                                          const char *fmt, ...) {
  if (p->failed) return;
  p->failed = 1;
  p->bad_off = off;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->msg, p->msg_size, fmt, ap);
  va_end(ap);
}

static int name_start(int c) { return isalpha(c) || c == '_'; }
static int name_char(int c) { return isalnum(c) || c == '_' || c == '-'; }

static void lex_string(struct parser *p) {
  char q = p->s[p->pos++];
  size_t cap = 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    p->nomem = 1;
    return;
  }
  for (;;) {
    char c = p->s[p->pos];
    if (!c) {
      free(buf);
      fail_at(p, p->tok_off, "unterminated string");
      return;
    }
    p->pos++;
    if (c == q) break;
    if (c == '\\') {
      char e = p->s[p->pos];
      if (e != '\\' && e != '\'' && e != '"') {
        free(buf);
        fail_at(p, p->pos - 1, "unknown escape in string (use \\\\, \\' or \\\")");
        return;
      }
      c = e;
      p->pos++;
    }
    if (n + 2 > cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        p->nomem = 1;
        return;
      }
      buf = nb;
    }
    buf[n++] = c;
  }
  buf[n] = 0;
  p->val = json_stringn(buf, n);
  free(buf);
  if (!p->val) {
    /* not UTF-8 (or out of memory): jansson only holds valid text */
    fail_at(p, p->tok_off, "string is not valid UTF-8");
    return;
  }
  p->tok = T_STR;
}

static void lex_number(struct parser *p) {
  const char *start = p->s + p->pos;
  size_t i = 0;
  int is_float = 0;
  if (start[i] == '-') i++;
  if (!isdigit((unsigned char)start[i])) {
    fail_at(p, p->pos, "unexpected '-' (a number must follow it)");
    return;
  }
  while (isdigit((unsigned char)start[i])) i++;
  if (start[i] == '.' && isdigit((unsigned char)start[i + 1])) {
    is_float = 1;
    i++;
    while (isdigit((unsigned char)start[i])) i++;
  }
  if (start[i] == 'e' || start[i] == 'E') {
    size_t j = i + 1;
    if (start[j] == '+' || start[j] == '-') j++;
    if (isdigit((unsigned char)start[j])) {
      is_float = 1;
      i = j;
      while (isdigit((unsigned char)start[i])) i++;
    }
  }
  if (name_char((unsigned char)start[i])) {
    fail_at(p, p->pos, "malformed number");
    return;
  }
  char tmp[64];
  if (i >= sizeof tmp) {
    fail_at(p, p->pos, "number too long");
    return;
  }
  memcpy(tmp, start, i);
  tmp[i] = 0;
  errno = 0;
  if (is_float) {
    double d = strtod(tmp, NULL);
    if (errno || !isfinite(d)) {
      fail_at(p, p->pos, "number out of range");
      return;
    }
    p->val = json_real(d);
  } else {
    long long v = strtoll(tmp, NULL, 10);
    if (errno) {
      fail_at(p, p->pos, "number out of range");
      return;
    }
    p->val = json_integer(v);
  }
  if (!p->val) p->nomem = 1;
  p->pos += i;
  p->tok = T_NUM;
}

/* Moves to the next token. */
static void next(struct parser *p) {
  json_decref(p->val);
  p->val = NULL;
  if (p->failed || p->nomem) {
    p->tok = T_END;
    return;
  }
  while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
         p->s[p->pos] == '\r')
    p->pos++;
  p->tok_off = p->pos;
  const char *c = p->s + p->pos;
  switch (c[0]) {
    case 0: p->tok = T_END; return;
    case '(': p->tok = T_LPAREN; p->pos++; return;
    case ')': p->tok = T_RPAREN; p->pos++; return;
    case '\'':
    case '"': lex_string(p); return;
    default: break;
  }
  if (c[0] == '&' && c[1] == '&') { p->tok = T_AND; p->pos += 2; return; }
  if (c[0] == '|' && c[1] == '|') { p->tok = T_OR; p->pos += 2; return; }
  if (c[0] == '!' && c[1] != '=') { p->tok = T_NOT; p->pos++; return; }
  static const struct { const char *t; enum cmp_op op; } ops[] = {
      {"==", C_EQ}, {"!=", C_NE}, {"<=", C_LE}, {">=", C_GE}, {"<", C_LT}, {">", C_GT}};
  for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
    size_t n = strlen(ops[k].t);
    if (!strncmp(c, ops[k].t, n)) {
      p->tok = T_CMP;
      p->cmp = ops[k].op;
      p->pos += n;
      return;
    }
  }
  if (isdigit((unsigned char)c[0]) || c[0] == '-') {
    lex_number(p);
    return;
  }
  if (name_start((unsigned char)c[0])) {
    p->tok = T_PATH; /* read by parse_path, which knows the segments */
    return;
  }
  if (c[0] == '=')
    fail_at(p, p->pos, "unexpected '=' (compare with '==')");
  else if (c[0] == '&' || c[0] == '|')
    fail_at(p, p->pos, "unexpected '%c' (use '%c%c')", c[0], c[0], c[0]);
  else if ((unsigned char)c[0] >= 0x20 && (unsigned char)c[0] < 0x7f)
    fail_at(p, p->pos, "unexpected '%c'", c[0]);
  else
    fail_at(p, p->pos, "unexpected byte 0x%02x", (unsigned char)c[0]);
}

/* ---- parser ------------------------------------------------------------------ */

static size_t add_node(struct parser *p, enum node_kind kind, size_t off) {
  struct weft_when *w = p->w;
  if (w->n_nodes == p->cap_nodes) {
    size_t cap = p->cap_nodes ? 2 * p->cap_nodes : 8;
    struct weft_when_node *nn = realloc(w->nodes, cap * sizeof *nn);
    if (!nn) {
      p->nomem = 1;
      return 0;
    }
    w->nodes = nn;
    p->cap_nodes = cap;
  }
  struct weft_when_node *n = &w->nodes[w->n_nodes];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->off = off;
  return w->n_nodes++;
}

static const char *tok_name(const struct parser *p) {
  switch (p->tok) {
    case T_END: return "the end";
    case T_LPAREN: return "'('";
    case T_RPAREN: return "')'";
    case T_NOT: return "'!'";
    case T_AND: return "'&&'";
    case T_OR: return "'||'";
    case T_CMP: return "a comparison";
    case T_NUM: return "a number";
    case T_STR: return "a string";
    case T_PATH: return "a name";
  }
  return "?";
}

static size_t parse_or(struct parser *p);

static size_t parse_path(struct parser *p) {
  size_t off = p->pos, n_seg = 0, cap = 4;
  char **seg = malloc(cap * sizeof *seg);
  if (!seg) {
    p->nomem = 1;
    return 0;
  }
  for (;;) {
    size_t start = p->pos;
    if (!name_start((unsigned char)p->s[p->pos])) {
      fail_at(p, p->pos, "a name must follow '.'");
      break;
    }
    while (name_char((unsigned char)p->s[p->pos])) p->pos++;
    if (n_seg == cap) {
      char **ns = realloc(seg, (cap *= 2) * sizeof *ns);
      if (!ns) {
        p->nomem = 1;
        break;
      }
      seg = ns;
    }
    if (!(seg[n_seg] = strndup(p->s + start, p->pos - start))) {
      p->nomem = 1;
      break;
    }
    n_seg++;
    if (p->s[p->pos] != '.') break;
    p->pos++;
  }
  size_t id = 0;
  if (!p->failed && !p->nomem && n_seg == 1 &&
      (!strcmp(seg[0], "true") || !strcmp(seg[0], "false") || !strcmp(seg[0], "null"))) {
    id = add_node(p, N_LIT, off);
    if (!p->nomem)
      p->w->nodes[id].lit = seg[0][0] == 'n' ? json_null() : json_boolean(seg[0][0] == 't');
  } else if (!p->failed && !p->nomem) {
    struct weft_when *w = p->w;
    if (w->n_refs == p->cap_refs) {
      size_t c2 = p->cap_refs ? 2 * p->cap_refs : 4;
      struct weft_when_ref *nr = realloc(w->refs, c2 * sizeof *nr);
      if (!nr) p->nomem = 1;
      else {
        w->refs = nr;
        p->cap_refs = c2;
      }
    }
    if (!p->nomem) {
      id = add_node(p, N_REF, off);
      if (!p->nomem) {
        struct weft_when_ref *r = &w->refs[w->n_refs];
        memset(r, 0, sizeof *r);
        r->path = seg;
        r->n_path = n_seg;
        r->off = off;
        p->w->nodes[id].ref = w->n_refs++;
        seg = NULL;
      }
    }
  }
  for (size_t k = 0; seg && k < n_seg; k++) free(seg[k]);
  free(seg);
  next(p);
  return id;
}

static size_t parse_primary(struct parser *p) {
  size_t off = p->tok_off;
  switch (p->tok) {
    case T_LPAREN: {
      next(p);
      size_t e = parse_or(p);
      if (p->failed || p->nomem) return 0;
      if (p->tok != T_RPAREN) {
        fail_at(p, p->tok_off, "expected ')' to close the '(' at column %zu, got %s",
                off + 1, tok_name(p));
        return 0;
      }
      next(p);
      return e;
    }
    case T_NUM:
    case T_STR: {
      size_t id = add_node(p, N_LIT, off);
      if (p->nomem) return 0;
      p->w->nodes[id].lit = p->val;
      p->val = NULL;
      next(p);
      return id;
    }
    case T_PATH: return parse_path(p);
    default:
      fail_at(p, p->tok_off, "expected a value (a name, number, string, true, false, "
              "null or '('), got %s", tok_name(p));
      return 0;
  }
}

static size_t parse_cmp(struct parser *p) {
  size_t a = parse_primary(p);
  if (p->failed || p->nomem || p->tok != T_CMP) return a;
  enum cmp_op op = p->cmp;
  size_t off = p->tok_off;
  next(p);
  size_t b = parse_primary(p);
  if (p->failed || p->nomem) return 0;
  if (p->tok == T_CMP) {
    fail_at(p, p->tok_off, "comparisons do not chain: use '&&' (a < b && b < c)");
    return 0;
  }
  size_t id = add_node(p, N_CMP, off);
  if (p->nomem) return 0;
  p->w->nodes[id].op = op;
  p->w->nodes[id].a = a;
  p->w->nodes[id].b = b;
  return id;
}

static size_t parse_unary(struct parser *p) {
  if (p->tok != T_NOT) return parse_cmp(p);
  size_t off = p->tok_off;
  if (++p->depth > WEFT_WHEN_MAX_DEPTH) {
    fail_at(p, off, "expression nested too deeply (at most %d levels)", WEFT_WHEN_MAX_DEPTH);
    return 0;
  }
  next(p);
  size_t a = parse_unary(p);
  p->depth--;
  if (p->failed || p->nomem) return 0;
  size_t id = add_node(p, N_NOT, off);
  if (!p->nomem) p->w->nodes[id].a = a;
  return id;
}

static size_t parse_binary(struct parser *p, enum tok t, enum node_kind kind,
                           size_t (*sub)(struct parser *)) {
  size_t a = sub(p);
  while (!p->failed && !p->nomem && p->tok == t) {
    size_t off = p->tok_off;
    next(p);
    size_t b = sub(p);
    if (p->failed || p->nomem) return 0;
    size_t id = add_node(p, kind, off);
    if (p->nomem) return 0;
    p->w->nodes[id].a = a;
    p->w->nodes[id].b = b;
    a = id;
  }
  return a;
}

static size_t parse_and(struct parser *p) { return parse_binary(p, T_AND, N_AND, parse_unary); }

static size_t parse_or(struct parser *p) {
  /* Parentheses and '!' are the only ways to nest: bound them, so a
   * hostile condition cannot exhaust the stack. */
  if (++p->depth > WEFT_WHEN_MAX_DEPTH) {
    fail_at(p, p->tok_off, "expression nested too deeply (at most %d levels)",
            WEFT_WHEN_MAX_DEPTH);
    return 0;
  }
  size_t r = parse_binary(p, T_OR, N_OR, parse_and);
  p->depth--;
  return r;
}

void weft_when_free(struct weft_when *w) {
  if (!w) return;
  for (size_t i = 0; i < w->n_refs; i++) {
    for (size_t k = 0; k < w->refs[i].n_path; k++) free(w->refs[i].path[k]);
    free(w->refs[i].path);
    free(w->refs[i].step);
    free(w->refs[i].output);
  }
  for (size_t i = 0; i < w->n_nodes; i++) json_decref(w->nodes[i].lit);
  free(w->refs);
  free(w->nodes);
  free(w->text);
  free(w);
}

int weft_when_parse(const char *text, struct weft_when **out, size_t *bad_off, char *msg,
                    size_t msg_size) {
  *out = NULL;
  if (bad_off) *bad_off = 0;
  if (msg_size) msg[0] = 0;
  struct parser p = {0};
  p.s = text;
  p.msg = msg;
  p.msg_size = msg_size;
  if (strlen(text) > WEFT_WHEN_MAX_LEN) {
    snprintf(msg, msg_size, "condition longer than %d bytes", WEFT_WHEN_MAX_LEN);
    return WEFT_EINVALID;
  }
  if (!(p.w = calloc(1, sizeof *p.w)) || !(p.w->text = strdup(text))) {
    free(p.w);
    return WEFT_ENOMEM;
  }
  next(&p);
  if (p.tok == T_END && !p.failed && !p.nomem)
    fail_at(&p, 0, "empty condition");
  size_t root = p.failed ? 0 : parse_or(&p);
  if (!p.failed && !p.nomem && p.tok != T_END)
    fail_at(&p, p.tok_off, "unexpected %s after the condition%s", tok_name(&p),
            p.tok == T_PATH || p.tok == T_NUM || p.tok == T_STR
                ? " (join conditions with '&&' or '||')" : "");
  json_decref(p.val);
  if (p.nomem || p.failed) {
    weft_when_free(p.w);
    if (bad_off) *bad_off = p.bad_off;
    return p.nomem ? WEFT_ENOMEM : WEFT_EINVALID;
  }
  p.w->root = root;
  *out = p.w;
  return WEFT_OK;
}

struct weft_when *weft_when_dup(const struct weft_when *w) {
  struct weft_when *c = NULL;
  char msg[8];
  if (weft_when_parse(w->text, &c, NULL, msg, sizeof msg)) return NULL;
  c->mark = w->mark;
  for (size_t i = 0; i < w->n_refs; i++) {
    if (w->refs[i].step && !(c->refs[i].step = strdup(w->refs[i].step))) goto nomem;
    if (w->refs[i].output && !(c->refs[i].output = strdup(w->refs[i].output))) goto nomem;
    c->refs[i].is_config = w->refs[i].is_config;
    c->refs[i].is_item = w->refs[i].is_item;
    c->refs[i].field_at = w->refs[i].field_at;
  }
  return c;
nomem:
  weft_when_free(c);
  return NULL;
}

/* ---- resolution -------------------------------------------------------------- */

static char *join(char **seg, size_t n) {
  size_t len = 0;
  for (size_t k = 0; k < n; k++) len += strlen(seg[k]) + 1;
  char *s = malloc(len ? len : 1), *o = s;
  if (!s) return NULL;
  for (size_t k = 0; k < n; k++) {
    size_t l = strlen(seg[k]);
    memcpy(o, seg[k], l);
    o += l;
    *o++ = k + 1 < n ? '.' : 0;
  }
  if (!n) *s = 0;
  return s;
}

int weft_when_resolve(struct weft_when *w, const struct weft_job *job,
                      const struct weft_invocation *inv,
                      long (*find)(void *data, const char *name), void *data, int defer,
                      struct weft_diags *d) {
  for (size_t i = 0; i < w->n_refs; i++) {
    struct weft_when_ref *r = &w->refs[i];
    int line = w->mark.line, col = w->mark.col + (int)r->off;
    /* Resolved already: a composed step's copy, whose names are prefixed. */
    if (r->step || r->is_config || r->is_item) continue;
    /* A mapped step's own item: it wins over a step named `item`, which its
     * condition cannot name (the map's upstreams can be named otherwise). */
    if (inv->mapped && !strcmp(r->path[0], "item")) {
      r->is_item = 1;
      r->field_at = 1;
      continue;
    }
    if (!strcmp(r->path[0], "config")) {
      r->is_config = 1;
      r->field_at = 2; /* path[1] is the key */
      if (r->n_path < 2) {
        weft_diags_addf(d, w->mark.file, line, col,
                        "op '%s': when: 'config' needs a key (config.KEY)", inv->name);
      } else if (inv->def && !weft_op_def_find_config(inv->def, r->path[1])) {
        weft_diags_addf(d, w->mark.file, line, col,
                        "op '%s': when: unknown config key '%s' (op definition '%s' %s)",
                        inv->name, r->path[1], inv->def->name,
                        inv->def->n_config ? "does not declare it" : "declares no config");
      }
      continue;
    }
    /* The longest prefix that names a step: composed steps hold dots. */
    long idx = -1;
    size_t k = r->n_path;
    char *name = NULL;
    for (; k >= 1; k--) {
      if (!(name = join(r->path, k))) return WEFT_ENOMEM;
      if ((idx = find(data, name)) >= 0) break;
      free(name);
      name = NULL;
    }
    if (idx < 0) {
      /* A step of a sub-job not flattened yet: compose.c resolves it. */
      if (defer) {
        long top = find(data, r->path[0]);
        if (top >= 0 && job->ops[top].sub_job) continue;
      }
      if (!strcmp(r->path[0], "item"))
        weft_diags_addf(d, w->mark.file, line, col,
                        "op '%s': when: 'item' is the item of a mapped step, and this step "
                        "has no map:", inv->name);
      else
        weft_diags_addf(d, w->mark.file, line, col, "op '%s': when: unknown step '%s'",
                        inv->name, r->path[0]);
      continue;
    }
    const struct weft_invocation *up = &job->ops[idx];
    if (up == inv) {
      weft_diags_addf(d, w->mark.file, line, col,
                      "op '%s': when: a step's condition cannot use its own outputs",
                      inv->name);
      free(name);
      continue;
    }
    if (up->sub_job) {
      free(name);
      if (defer) continue;
      weft_diags_addf(d, w->mark.file, line, col,
                      "op '%s': when: '%s' is a sub-job: name one of its steps (%s.STEP.OUTPUT)",
                      inv->name, up->name, up->name);
      continue;
    }
    const char *out = k < r->n_path ? r->path[k] : "result";
    if (up->def && !weft_op_def_find_output(up->def, out)) {
      weft_diags_addf(d, w->mark.file, line, col, "op '%s': when: step '%s' has no output '%s'",
                      inv->name, name, out);
      free(name);
      continue;
    }
    r->step = name;
    if (!(r->output = strdup(out))) return WEFT_ENOMEM;
    r->field_at = k < r->n_path ? k + 1 : k;
  }
  return WEFT_OK;
}

size_t weft_when_step_refs(const struct weft_when *w, size_t *out) {
  size_t n = 0;
  for (size_t i = 0; i < w->n_refs; i++) {
    if (!w->refs[i].step) continue;
    size_t k = 0;
    while (k < n && strcmp(w->refs[out[k]].step, w->refs[i].step)) k++;
    if (k == n) out[n++] = i;
  }
  return n;
}

/* ---- evaluation -------------------------------------------------------------- */

struct evaluator {
  const struct weft_when *w;
  const json_t *config;
  const json_t *item;
  weft_when_output_fn get;
  void *data;
  char *msg;
  size_t msg_size;
  int failed;
};

static int truthy(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0;
    case JSON_STRING: return json_string_length(v) != 0;
    case JSON_ARRAY: return json_array_size(v) != 0;
    case JSON_OBJECT: return json_object_size(v) != 0;
  }
  return 0;
}

static const char *kind(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a bool";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "a list";
    case JSON_OBJECT: return "a dict";
  }
  return "?";
}

__attribute__((format(printf, 3, 4))) static void eval_fail(struct evaluator *e, size_t off,
                                                            const char *fmt, ...) {
  if (e->failed) return;
  e->failed = 1;
  char what[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(e->msg, e->msg_size, "when: %s at column %zu of \"%s\"", what, off + 1,
           e->w->text);
}

static json_t *field(json_t *v, const struct weft_when_ref *r) {
  for (size_t k = r->field_at; v && k < r->n_path; k++) {
    json_t *f = json_is_object(v) ? json_object_get(v, r->path[k]) : NULL;
    json_incref(f);
    json_decref(v);
    v = f;
  }
  return v ? v : json_null();
}

/* A new reference, or NULL after eval_fail. */
static json_t *eval(struct evaluator *e, size_t id) {
  const struct weft_when_node *n = &e->w->nodes[id];
  switch (n->kind) {
    case N_LIT: return json_incref(n->lit);
    case N_REF: {
      const struct weft_when_ref *r = &e->w->refs[n->ref];
      json_t *v = NULL;
      if (r->is_config) {
        v = r->n_path > 1 ? json_incref(json_object_get(e->config, r->path[1])) : NULL;
      } else if (r->is_item) {
        v = json_incref((json_t *)e->item);
      } else if (!r->step) {
        eval_fail(e, n->off, "'%s' was not resolved", r->path[0]);
        return NULL;
      } else {
        char why[256] = "";
        if (e->get(e->data, r->step, r->output, &v, why, sizeof why)) {
          eval_fail(e, n->off, "%s", why);
          return NULL;
        }
      }
      return field(v, r);
    }
    case N_NOT: {
      json_t *a = eval(e, n->a);
      if (!a) return NULL;
      int t = truthy(a);
      json_decref(a);
      return json_boolean(!t);
    }
    case N_AND:
    case N_OR: {
      json_t *a = eval(e, n->a);
      if (!a) return NULL;
      int t = truthy(a);
      json_decref(a);
      if (n->kind == N_AND ? !t : t) return json_boolean(t);
      json_t *b = eval(e, n->b);
      if (!b) return NULL;
      t = truthy(b);
      json_decref(b);
      return json_boolean(t);
    }
    case N_CMP: {
      json_t *a = eval(e, n->a), *b = a ? eval(e, n->b) : NULL;
      json_t *r = NULL;
      if (!a || !b) goto out;
      int c = 0, ordered = 1;
      if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
          json_int_t x = json_integer_value(a), y = json_integer_value(b);
          c = x < y ? -1 : x > y;
        } else {
          double x = json_number_value(a), y = json_number_value(b);
          c = x < y ? -1 : x > y;
        }
      } else if (json_is_string(a) && json_is_string(b)) {
        c = strcmp(json_string_value(a), json_string_value(b));
        c = c < 0 ? -1 : c > 0;
      } else {
        ordered = 0;
        c = json_equal(a, b) ? 0 : 1;
      }
      if (!ordered && n->op != C_EQ && n->op != C_NE) {
        eval_fail(e, n->off, "cannot compare %s with %s using '%s'", kind(a), kind(b),
                  cmp_text[n->op]);
        goto out;
      }
      int res = 0;
      switch (n->op) {
        case C_EQ: res = c == 0; break;
        case C_NE: res = c != 0; break;
        case C_LT: res = c < 0; break;
        case C_LE: res = c <= 0; break;
        case C_GT: res = c > 0; break;
        case C_GE: res = c >= 0; break;
      }
      r = json_boolean(res);
    out:
      json_decref(a);
      json_decref(b);
      return r;
    }
  }
  return NULL;
}

int weft_when_eval(const struct weft_when *w, const json_t *config, weft_when_output_fn get,
                   void *data, int *result, char *msg, size_t msg_size) {
  return weft_when_eval_item(w, config, NULL, get, data, result, msg, msg_size);
}

int weft_when_uses_item(const struct weft_when *w) {
  for (size_t i = 0; w && i < w->n_refs; i++)
    if (w->refs[i].is_item) return 1;
  return 0;
}

int weft_when_eval_item(const struct weft_when *w, const json_t *config, const json_t *item,
                        weft_when_output_fn get, void *data, int *result, char *msg,
                        size_t msg_size) {
  struct evaluator e = {w, config, item, get, data, msg, msg_size, 0};
  *result = 0;
  if (msg_size) msg[0] = 0;
  json_t *v = eval(&e, w->root);
  if (!v) {
    if (!e.failed) snprintf(msg, msg_size, "when: out of memory");
    return WEFT_EINVALID;
  }
  *result = truthy(v);
  json_decref(v);
  return WEFT_OK;
}
