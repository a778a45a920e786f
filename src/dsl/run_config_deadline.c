/* run_config_deadline.c: the run deadlines, `timeout:` and `sla:` of a job and
 * of a run config's `execution:`: a duration, its spelling kept for messages. */
#include <stdio.h>
#include <string.h>

#include "dsl/dsl_int.h"

int weft_dsl_parse_deadline(const char *text, struct weft_deadline *out) {
  double s;
  if (!text || weft_dsl_parse_duration(text, &s) || !(s >= 0.001) || s > WEFT_DEADLINE_MAX_S)
    return WEFT_EINVALID;
  while (*text == ' ' || *text == '\t') text++;
  size_t len = strlen(text);
  while (len && (text[len - 1] == ' ' || text[len - 1] == '\t')) len--;
  /* A bare number means seconds; the messages say so. */
  const char *last = len ? text + len - 1 : text;
  int bare = *last >= '0' && *last <= '9';
  int n = snprintf(out->text, sizeof out->text, "%.*s%s", (int)len, text, bare ? "s" : "");
  if (n < 0 || (size_t)n >= sizeof out->text) snprintf(out->text, sizeof out->text, "%gs", s);
  out->s = s;
  return WEFT_OK;
}

void weft__dsl_parse_deadline_node(struct weft_diags *d, const struct weft__ynode *n,
                                   const char *owner, const char *key,
                                   struct weft_deadline *out) {
  if (!n || weft__ynode_is_null(n)) return;
  if (n->kind == WEFT__Y_SCALAR && !weft_dsl_parse_deadline(weft__ynode_text(n), out)) return;
  char got[96];
  weft__dsl_error(d, n->mark,
                  "%s: %s must be a duration from 1ms to 366d such as \"90s\", \"2h\" or "
                  "\"1h30m\", got %s",
                  owner, key, weft__dsl_got(got, sizeof got, n));
}

void weft_run_config_deadline(const struct weft_run_config *rc, const char *key,
                              struct weft_deadline *out) {
  memset(out, 0, sizeof *out);
  json_t *v = rc && rc->raw ? json_object_get(json_object_get(rc->raw, "execution"), key) : NULL;
  char num[32];
  const char *text = json_string_value(v);
  if (json_is_integer(v)) {
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    text = num;
  } else if (json_is_real(v)) {
    /* Seconds to the millisecond, as written: "1.5", not "1.5000". */
    snprintf(num, sizeof num, "%.3f", json_real_value(v));
    size_t n = strlen(num);
    while (n > 1 && num[n - 1] == '0') num[--n] = 0;
    if (n > 1 && num[n - 1] == '.') num[--n] = 0;
    text = num;
  }
  if (text && weft_dsl_parse_deadline(text, out)) memset(out, 0, sizeof *out);
}
