/* yaml_emit.c: prints JSON documents as YAML through libyaml's emitter, so
 * quoting and escaping follow the YAML spec instead of a hand-made printer. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "dsl/dsl.h"

/* Whether a plain scalar with this text would be read back as something
 * other than a string (YAML 1.1 booleans and nulls included, since YAML
 * readers still resolve them). */
static int looks_typed(const char *s) {
  static const char *const words[] = {"~",   "null", "true", "false", "yes",
                                      "no",  "on",   "off",  "y",     "n",
                                      ".inf", "-.inf", "+.inf", ".nan"};
  char *end;
  if (!*s) return 1;
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcasecmp(s, words[i])) return 1;
  if (isdigit((unsigned char)s[0]) || strchr("+-.", s[0])) {
    (void)strtod(s, &end);
    if (!*end) return 1;
  }
  return 0;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, int is_string) {
  yaml_event_t ev;
  int plain = !is_string || !looks_typed(text);
  if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text,
                                    (int)strlen(text), plain, 1,
                                    YAML_ANY_SCALAR_STYLE))
    return 0;
  return yaml_emitter_emit(em, &ev);
}

/* Shortest "%g" text that reads back as the same double, with a '.' so it
 * stays a float. */
static void format_real(double d, char *out, size_t len) {
  if (!isfinite(d)) {
    snprintf(out, len, "%s", isnan(d) ? ".nan" : d > 0 ? ".inf" : "-.inf");
    return;
  }
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, len, "%.*g", prec, d);
    if (strtod(out, NULL) == d) break;
  }
  if (!strpbrk(out, ".eE")) strncat(out, ".0", len - strlen(out) - 1);
}

static int emit_value(yaml_emitter_t *em, const json_t *v) {
  yaml_event_t ev;
  char num[64];
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      const char *key;
      json_t *item;
      if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                               YAML_BLOCK_MAPPING_STYLE) ||
          !yaml_emitter_emit(em, &ev))
        return 0;
      json_object_foreach((json_t *)v, key, item) {
        if (!emit_scalar(em, key, 1) || !emit_value(em, item)) return 0;
      }
      return yaml_mapping_end_event_initialize(&ev) &&
             yaml_emitter_emit(em, &ev);
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *item;
      if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                YAML_BLOCK_SEQUENCE_STYLE) ||
          !yaml_emitter_emit(em, &ev))
        return 0;
      json_array_foreach((json_t *)v, i, item) {
        if (!emit_value(em, item)) return 0;
      }
      return yaml_sequence_end_event_initialize(&ev) &&
             yaml_emitter_emit(em, &ev);
    }
    case JSON_STRING:
      return emit_scalar(em, json_string_value(v), 1);
    case JSON_INTEGER:
      snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
      return emit_scalar(em, num, 0);
    case JSON_REAL:
      format_real(json_real_value(v), num, sizeof num);
      return emit_scalar(em, num, 0);
    case JSON_TRUE:
      return emit_scalar(em, "true", 0);
    case JSON_FALSE:
      return emit_scalar(em, "false", 0);
    case JSON_NULL:
      return emit_scalar(em, "null", 0);
  }
  return 0;
}

int weft_dsl_emit_yaml(const json_t *value, FILE *out, weft_error *err) {
  yaml_emitter_t em;
  yaml_event_t ev;
  int ok;
  if (!yaml_emitter_initialize(&em))
    return weft_error_set(err, WEFT_ENOMEM, "yaml: out of memory");
  yaml_emitter_set_output_file(&em, out);
  yaml_emitter_set_unicode(&em, 1);
  yaml_emitter_set_width(&em, 100);
  ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
       yaml_emitter_emit(&em, &ev) &&
       yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
       yaml_emitter_emit(&em, &ev) && emit_value(&em, value) &&
       yaml_document_end_event_initialize(&ev, 1) &&
       yaml_emitter_emit(&em, &ev) && yaml_stream_end_event_initialize(&ev) &&
       yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
  if (!ok) {
    weft_error_set(err, WEFT_EIO, "writing YAML: %s",
                   em.problem ? em.problem : "output error");
    yaml_emitter_delete(&em);
    return WEFT_EIO;
  }
  yaml_emitter_delete(&em);
  return WEFT_OK;
}
