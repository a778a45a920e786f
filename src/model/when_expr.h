/* when_expr.h: the `when:` conditions of invocations: a small expression
 * language over upstream outputs and the step's config, parsed at load time
 * (errors point at a column) and evaluated when the step is ready.
 *
 * Grammar (lowest precedence first):
 *   expr    := and ('||' and)*
 *   and     := unary ('&&' unary)*
 *   unary   := '!' unary | cmp
 *   cmp     := primary (('=='|'!='|'<'|'<='|'>'|'>=') primary)?
 *   primary := '(' expr ')' | NUMBER | STRING | true | false | null | PATH
 *   PATH    := NAME ('.' NAME)*     NAME: [A-Za-z_][A-Za-z0-9_-]*
 * STRING is 'single' or "double" quoted with \\ \' \" escapes. A PATH is
 * `STEP.OUTPUT[.field...]` (STEP may itself hold dots: `sub.step.out`, a
 * step of a composed job; the longest prefix naming a step wins; `STEP`
 * alone is STEP.result) or `config.KEY[.field...]` (the step's own config)
 * or, on a mapped step only, `item[.field...]`: the item the step runs
 * for (the value its map INPUT receives), so the condition is checked per
 * item (engine/run_map.c).
 * Values are JSON: == and != compare numbers by value and the rest by JSON
 * equality; < <= > >= compare two numbers or two strings; && || ! and the
 * result use Python's truthiness (null, false, 0, "", [] and {} are false).
 * An output that has no value (its step was skipped or failed, or left an
 * optional output unwritten) is null; a field of a non-object is null. */
#ifndef WEFT_MODEL_WHEN_EXPR_H
#define WEFT_MODEL_WHEN_EXPR_H

#include <jansson.h>
#include <stddef.h>

#include "model/model.h"

#define WEFT_WHEN_MAX_LEN 4096
#define WEFT_WHEN_MAX_DEPTH 64

/* A name in the expression, resolved against the job by weft_when_resolve. */
struct weft_when_ref {
  char **path;   /* the dotted segments as written */
  size_t n_path;
  size_t off;    /* byte offset of the path in the text (errors) */
  int is_config; /* config.KEY...: fields from path[1] */
  int is_item;   /* item[.field...] on a mapped step: fields from path[1] */
  char *step;    /* resolved: the step it names (owned), or NULL */
  char *output;  /* resolved: its output */
  size_t field_at; /* path[field_at..] are fields inside the value */
};

struct weft_when {
  char *text;            /* as written */
  struct weft_mark mark; /* where text starts in its file */
  struct weft_when_ref *refs;
  size_t n_refs;
  struct weft_when_node *nodes; /* private: the syntax tree */
  size_t n_nodes, root;
};

/* Parses text. On a syntax error returns WEFT_EINVALID with *bad_off the
 * byte offset it was found at and msg filled; WEFT_ENOMEM when out of
 * memory. *out (freed with weft_when_free) is set on success only. */
int weft_when_parse(const char *text, struct weft_when **out, size_t *bad_off, char *msg,
                    size_t msg_size);
void weft_when_free(struct weft_when *w); /* NULL is a no-op */
/* A deep copy (compose.c copies a sub-job's steps); NULL when out of memory. */
struct weft_when *weft_when_dup(const struct weft_when *w);

/* Resolves every ref of inv->when not resolved yet against job (by name: job->ops may still
 * be in declaration order) and reports each unknown step, output or config
 * key at its file:line:col into d. find(data, name) gives the index of an
 * invocation in job->ops or -1. A ref to a step not yet flattened
 * (sub_job set) is left unresolved without a diagnostic when defer is set.
 * Returns WEFT_OK or WEFT_ENOMEM. */
int weft_when_resolve(struct weft_when *w, const struct weft_job *job,
                      const struct weft_invocation *inv,
                      long (*find)(void *data, const char *name), void *data, int defer,
                      struct weft_diags *d);

/* How the evaluator gets an output's value: *out is a new reference to it,
 * or NULL when it has none; a non-zero return with msg filled when it
 * cannot be read (the step then fails). */
typedef int (*weft_when_output_fn)(void *data, const char *step, const char *output,
                                   json_t **out, char *msg, size_t msg_size);

/* Evaluates w: *result 1 or 0. config is the step's resolved config
 * (borrowed, may be NULL). Returns WEFT_OK, or WEFT_EINVALID with msg
 * filled ("when: cannot compare a string with a number at column 12"). */
int weft_when_eval(const struct weft_when *w, const json_t *config, weft_when_output_fn get,
                   void *data, int *result, char *msg, size_t msg_size);

/* weft_when_eval with the value `item` stands for (borrowed; NULL: json
 * null): a mapped step's condition, evaluated once per item. */
int weft_when_eval_item(const struct weft_when *w, const json_t *config, const json_t *item,
                        weft_when_output_fn get, void *data, int *result, char *msg,
                        size_t msg_size);
/* Whether w names `item` (a per-item condition of a mapped step). */
int weft_when_uses_item(const struct weft_when *w);

/* The names of the steps w refers to (resolved refs), each once, in order
 * of appearance: indexes into w->refs; returns how many (<= n_refs). */
size_t weft_when_step_refs(const struct weft_when *w, size_t *out);

#endif
