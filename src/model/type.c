/* type.c: the value types of op inputs, outputs and config fields.
 * One table maps names to types, so parsing and printing cannot disagree. */
#include <string.h>

#include "model/model.h"

static const char *const type_names[] = {
    [WEFT_TYPE_ANY] = "any",       [WEFT_TYPE_BOOL] = "bool",
    [WEFT_TYPE_INT] = "int",       [WEFT_TYPE_FLOAT] = "float",
    [WEFT_TYPE_STRING] = "string", [WEFT_TYPE_LIST] = "list",
    [WEFT_TYPE_DICT] = "dict",     [WEFT_TYPE_PATH] = "path",
};

#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *weft_type_name(enum weft_type t) {
  return (unsigned)t < N_TYPES ? type_names[t] : "?";
}

int weft_type_parse(const char *s, enum weft_type *out) {
  for (size_t i = 0; s && i < N_TYPES; i++) {
    if (!strcmp(s, type_names[i])) {
      *out = (enum weft_type)i;
      return WEFT_OK;
    }
  }
  return WEFT_EINVALID;
}

int weft_type_assignable(enum weft_type from, enum weft_type to) {
  if (from == WEFT_TYPE_ANY || to == WEFT_TYPE_ANY || from == to) return 1;
  return from == WEFT_TYPE_INT && to == WEFT_TYPE_FLOAT;
}

int weft_type_check_json(enum weft_type t, const json_t *v) {
  if (!v) return 0;
  switch (t) {
    case WEFT_TYPE_ANY:
      return 1;
    case WEFT_TYPE_BOOL:
      return json_is_boolean(v);
    case WEFT_TYPE_INT:
      return json_is_integer(v);
    case WEFT_TYPE_FLOAT:
      return json_is_number(v); /* int widens to float */
    case WEFT_TYPE_STRING:
    case WEFT_TYPE_PATH:
      return json_is_string(v);
    case WEFT_TYPE_LIST:
      return json_is_array(v);
    case WEFT_TYPE_DICT:
      return json_is_object(v);
  }
  return 0;
}

static const char *const trigger_names[] = {"all_success", "all_done", "one_failed",
                                            "none_failed", "all_skipped"};

const char *weft_trigger_name(enum weft_trigger t) {
  return (unsigned)t < sizeof trigger_names / sizeof *trigger_names ? trigger_names[t] : "?";
}

int weft_trigger_parse(const char *s, enum weft_trigger *out) {
  for (size_t i = 0; s && i < sizeof trigger_names / sizeof *trigger_names; i++)
    if (!strcmp(s, trigger_names[i])) {
      *out = (enum weft_trigger)i;
      return WEFT_OK;
    }
  return WEFT_EINVALID;
}
