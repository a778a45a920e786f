/* fuzz_when.c: libFuzzer harness for `when:` conditions (src/model/
 * when_expr.c): any text through weft_when_parse; a parsed condition is
 * copied and evaluated against outputs of every JSON kind.
 *
 * What must hold: a refusal points inside the text (or just past its end)
 * with a message; a parsed condition's copy has the same refs; evaluation
 * either gives 0/1 or a message naming a column, and never crashes or
 * leaks, whatever the nesting or the values compared. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/when_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each output name picks a JSON value of another kind. */
static int get(void *d, const char *step, const char *output, json_t **out, char *msg,
               size_t n) {
  (void)d;
  (void)step;
  static const char *const values[] = {"null", "true", "0", "-3", "2.5", "\"x\"", "\"\"",
                                       "[1, \"a\"]", "{\"k\": {\"v\": 1}}", "{}"};
  size_t h = strlen(output);
  for (const char *c = output; *c; c++) h = h * 31 + (unsigned char)*c;
  if (h % 11 == 10) {
    snprintf(msg, n, "%s has no value to compare", output);
    return -1;
  }
  *out = json_loads(values[h % 10], JSON_DECODE_ANY, NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2 * WEFT_WHEN_MAX_LEN) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t len = strlen(text), bad = 0;
  char msg[256];
  struct weft_when *w = NULL;
  int rc = weft_when_parse(text, &w, &bad, msg, sizeof msg);
  if (rc != WEFT_OK) {
    if (w || bad > len || !msg[0]) abort();
    free(text);
    return 0;
  }
  /* Resolve by hand as the DSL would: STEP.OUTPUT.fields, config.KEY... */
  for (size_t i = 0; i < w->n_refs; i++) {
    struct weft_when_ref *r = &w->refs[i];
    if (r->n_path == 0 || r->off > len) abort();
    if (!strcmp(r->path[0], "config")) {
      r->is_config = 1;
      r->field_at = 2;
      continue;
    }
    r->step = strdup(r->path[0]);
    r->output = strdup(r->n_path > 1 ? r->path[1] : "result");
    r->field_at = r->n_path > 1 ? 2 : 1;
  }
  struct weft_when *copy = weft_when_dup(w);
  if (!copy || copy->n_refs != w->n_refs || strcmp(copy->text, w->text)) abort();
  json_t *cfg = json_loads("{\"mode\": \"dry\", \"n\": 3, \"d\": {\"x\": [1]}}", 0, NULL);
  int yes = 0, again = 0;
  char m1[512], m2[512];
  int r1 = weft_when_eval(w, cfg, get, NULL, &yes, m1, sizeof m1);
  int r2 = weft_when_eval(copy, cfg, get, NULL, &again, m2, sizeof m2);
  if (r1 != r2 || (r1 == WEFT_OK && yes != again) || (yes != 0 && yes != 1)) abort();
  if (r1 != WEFT_OK && !strstr(m1, "when: ")) abort();
  json_decref(cfg);
  weft_when_free(copy);
  weft_when_free(w);
  free(text);
  return 0;
}
