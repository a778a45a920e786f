/* test_model_when.c: the `when:` expression language (src/model/when_expr.c):
 * every operator and literal, truthiness, field access, missing values, the
 * evaluation errors, and every syntax error with the column it points at. */
#include <stdlib.h>
#include <string.h>

#include "model/when_expr.h"
#include "test.h"

/* Outputs of a pretend run: check.ok = true, check.rows = 12, check.name =
 * "north", check.info = {"n": 2.5, "tags": {"x": "y"}}, check.big: no value
 * at hand (an artifact), anything else: no value (null). */
static int get(void *data, const char *step, const char *output, json_t **out, char *msg,
               size_t size) {
  (void)data;
  *out = NULL;
  if (strcmp(step, "check") && strcmp(step, "sub.check")) return 0;
  if (!strcmp(output, "ok")) *out = json_true();
  if (!strcmp(output, "rows")) *out = json_integer(12);
  if (!strcmp(output, "name")) *out = json_string("north");
  if (!strcmp(output, "info")) *out = json_loads("{\"n\": 2.5, \"tags\": {\"x\": \"y\"}}", 0, NULL);
  if (!strcmp(output, "big")) {
    snprintf(msg, size, "check.big has no value to compare");
    return -1;
  }
  return 0;
}

/* Resolves every ref by hand as the DSL does: STEP.OUTPUT.fields... */
static void resolve(struct weft_when *w) {
  for (size_t i = 0; i < w->n_refs; i++) {
    struct weft_when_ref *r = &w->refs[i];
    if (!strcmp(r->path[0], "config")) {
      r->is_config = 1;
      r->field_at = 2;
      continue;
    }
    r->step = strdup(r->path[0]);
    r->output = strdup(r->n_path > 1 ? r->path[1] : "result");
    r->field_at = r->n_path > 1 ? 2 : 1;
  }
}

/* 1 true, 0 false, -1 evaluation error (msg in last_msg). */
static char last_msg[512];
static int eval(const char *text) {
  struct weft_when *w = NULL;
  size_t bad = 0;
  char msg[256];
  if (weft_when_parse(text, &w, &bad, msg, sizeof msg)) {
    fprintf(stderr, "# cannot parse %s: %s at %zu\n", text, msg, bad);
    return -2;
  }
  resolve(w);
  json_t *cfg = json_loads("{\"mode\": \"dry\", \"n\": 3, \"opts\": {\"deep\": true}}", 0, NULL);
  int yes = 0;
  int rc = weft_when_eval(w, cfg, get, NULL, &yes, last_msg, sizeof last_msg);
  json_decref(cfg);
  weft_when_free(w);
  return rc ? -1 : yes;
}

/* The syntax error of text: "COL: message" (COL 1-based), static storage. */
static const char *syntax(const char *text) {
  static char out[400];
  struct weft_when *w = NULL;
  size_t bad = 0;
  char msg[256];
  int rc = weft_when_parse(text, &w, &bad, msg, sizeof msg);
  if (rc == WEFT_OK) {
    weft_when_free(w);
    return "parsed";
  }
  snprintf(out, sizeof out, "%zu: %s", bad + 1, msg);
  return out;
}

TEST(literals_and_comparisons) {
  ASSERT_EQ(eval("true"), 1);
  ASSERT_EQ(eval("false"), 0);
  ASSERT_EQ(eval("null"), 0);
  ASSERT_EQ(eval("1 == 1"), 1);
  ASSERT_EQ(eval("1 == 1.0"), 1); /* numbers compare by value */
  ASSERT_EQ(eval("1 != 2"), 1);
  ASSERT_EQ(eval("2 < 10"), 1);
  ASSERT_EQ(eval("10 <= 10"), 1);
  ASSERT_EQ(eval("-3 > -4"), 1);
  ASSERT_EQ(eval("1.5e1 >= 15"), 1);
  ASSERT_EQ(eval("'abc' < 'abd'"), 1);  /* strings compare by bytes */
  ASSERT_EQ(eval("\"b\" > 'a'"), 1);
  ASSERT_EQ(eval("'it\\'s' == \"it's\""), 1);
  ASSERT_EQ(eval("'1' == 1"), 0); /* no conversions */
  ASSERT_EQ(eval("null == null"), 1);
  ASSERT_EQ(eval("true != false"), 1);
  return 0;
}

TEST(logic_and_precedence) {
  ASSERT_EQ(eval("true && false"), 0);
  ASSERT_EQ(eval("true || false"), 1);
  ASSERT_EQ(eval("!false"), 1);
  ASSERT_EQ(eval("!!1"), 1);
  ASSERT_EQ(eval("false && true || true"), 1);  /* && binds tighter */
  ASSERT_EQ(eval("false && (true || true)"), 0);
  ASSERT_EQ(eval("!(1 == 2) && 2 == 2"), 1);
  /* Short-circuit: the unreadable output is never asked for. */
  ASSERT_EQ(eval("false && check.big == 1"), 0);
  ASSERT_EQ(eval("true || check.big == 1"), 1);
  /* Python's truthiness. */
  ASSERT_EQ(eval("0"), 0);
  ASSERT_EQ(eval("''"), 0);
  ASSERT_EQ(eval("'x'"), 1);
  ASSERT_EQ(eval("0.0 || 2"), 1);
  return 0;
}

TEST(outputs_config_fields) {
  ASSERT_EQ(eval("check.ok == true"), 1);
  ASSERT_EQ(eval("check.ok"), 1);
  ASSERT_EQ(eval("check.rows > 10 && check.rows < 13"), 1);
  ASSERT_EQ(eval("check.name == 'north'"), 1);
  ASSERT_EQ(eval("check.info.n == 2.5"), 1);
  ASSERT_EQ(eval("check.info.tags.x == 'y'"), 1);
  ASSERT_EQ(eval("check.info.missing == null"), 1);
  ASSERT_EQ(eval("check.rows.field == null"), 1); /* a field of a number */
  ASSERT_EQ(eval("other.out == null"), 1);        /* no value: null */
  ASSERT_EQ(eval("!other.out"), 1);
  ASSERT_EQ(eval("config.mode != 'dry'"), 0);
  ASSERT_EQ(eval("config.n >= 3"), 1);
  ASSERT_EQ(eval("config.opts.deep"), 1);
  ASSERT_EQ(eval("config.absent == null"), 1);
  ASSERT_EQ(eval("sub-step_2.x == null"), 1); /* names take '-' and '_' */
  return 0;
}

TEST(evaluation_errors) {
  ASSERT_EQ(eval("check.name < 3"), -1);
  ASSERT_STR_EQ(last_msg, "when: cannot compare a string with a number using '<' at column "
                          "12 of \"check.name < 3\"");
  ASSERT_EQ(eval("null >= 1"), -1);
  ASSERT_CONTAINS(last_msg, "cannot compare null with a number using '>='");
  ASSERT_EQ(eval("check.ok > false"), -1);
  ASSERT_CONTAINS(last_msg, "cannot compare a bool with a bool");
  ASSERT_EQ(eval("true && check.big == 1"), -1);
  ASSERT_STR_EQ(last_msg, "when: check.big has no value to compare at column 9 of "
                          "\"true && check.big == 1\"");
  return 0;
}

TEST(syntax_errors) {
  ASSERT_STR_EQ(syntax(""), "1: empty condition");
  ASSERT_STR_EQ(syntax("   "), "1: empty condition");
  ASSERT_STR_EQ(syntax("a.b = 1"), "5: unexpected '=' (compare with '==')");
  ASSERT_STR_EQ(syntax("a & b"), "3: unexpected '&' (use '&&')");
  ASSERT_STR_EQ(syntax("a | b"), "3: unexpected '|' (use '||')");
  ASSERT_STR_EQ(syntax("(a == 1"),
                "8: expected ')' to close the '(' at column 1, got the end");
  ASSERT_STR_EQ(syntax("a == 1)"), "7: unexpected ')' after the condition");
  ASSERT_STR_EQ(syntax("a b"),
                "3: unexpected a name after the condition (join conditions with '&&' or '||')");
  ASSERT_STR_EQ(syntax("a == "), "6: expected a value (a name, number, string, true, false, "
                                  "null or '('), got the end");
  ASSERT_STR_EQ(syntax("&& a"), "1: expected a value (a name, number, string, true, false, "
                                "null or '('), got '&&'");
  ASSERT_STR_EQ(syntax("a < b < c"), "7: comparisons do not chain: use '&&' (a < b && b < c)");
  ASSERT_STR_EQ(syntax("'open"), "1: unterminated string");
  ASSERT_STR_EQ(syntax("'a\\n'"), "3: unknown escape in string (use \\\\, \\' or \\\")");
  ASSERT_STR_EQ(syntax("a. == 1"), "3: a name must follow '.'");
  ASSERT_STR_EQ(syntax("12ab"), "1: malformed number");
  ASSERT_STR_EQ(syntax("- 1"), "1: unexpected '-' (a number must follow it)");
  ASSERT_STR_EQ(syntax("99999999999999999999"), "1: number out of range");
  ASSERT_STR_EQ(syntax("a == #"), "6: unexpected '#'");
  ASSERT_STR_EQ(syntax("a == \x01"), "6: unexpected byte 0x01");
  /* Nesting is bounded, so hostile input cannot exhaust the stack. */
  char deep[300];
  memset(deep, '(', 200);
  strcpy(deep + 200, "a");
  ASSERT_CONTAINS(syntax(deep), "expression nested too deeply");
  memset(deep, '!', 200);
  ASSERT_CONTAINS(syntax(deep), "expression nested too deeply");
  char *long_text = malloc(WEFT_WHEN_MAX_LEN + 10);
  ASSERT(long_text);
  memset(long_text, 'a', WEFT_WHEN_MAX_LEN + 9);
  long_text[WEFT_WHEN_MAX_LEN + 9] = 0;
  ASSERT_CONTAINS(syntax(long_text), "condition longer than 4096 bytes");
  free(long_text);
  return 0;
}

TEST(refs_and_dup) {
  struct weft_when *w = NULL;
  char msg[128];
  ASSERT_EQ(weft_when_parse("check.ok && (config.mode == 'x' || check.rows > 1)", &w, NULL,
                            msg, sizeof msg), WEFT_OK);
  ASSERT_EQ(w->n_refs, 3);
  ASSERT_EQ(w->refs[0].n_path, 2);
  ASSERT_STR_EQ(w->refs[0].path[1], "ok");
  ASSERT_EQ(w->refs[1].off, 13);
  resolve(w);
  size_t idx[3];
  ASSERT_EQ(weft_when_step_refs(w, idx), 1); /* check, once; config is no step */
  struct weft_when *c = weft_when_dup(w);
  ASSERT(c && c->n_refs == 3);
  ASSERT_STR_EQ(c->refs[2].step, "check");
  ASSERT_STR_EQ(c->text, w->text);
  weft_when_free(c);
  weft_when_free(w);
  weft_when_free(NULL);
  return 0;
}

TEST_MAIN(TEST_ENTRY(literals_and_comparisons) TEST_ENTRY(logic_and_precedence)
              TEST_ENTRY(outputs_config_fields) TEST_ENTRY(evaluation_errors)
              TEST_ENTRY(syntax_errors) TEST_ENTRY(refs_and_dup))
