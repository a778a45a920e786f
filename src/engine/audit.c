/* audit.c: the audit log (audit.h) as time-ordered kv entries; appending
 * never conflicts, reading takes the newest entries. */
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/audit.h"
#include "util/clock.h"
#include "util/str.h"

#define AUDIT_PREFIX "weft.audit."

int weft_audit_record(struct weft_store *s, const char *who, const char *action, int status,
                      const char *source, const char *detail, weft_error *err) {
  char key[64];
  int64_t now = weft_clock_wall_ms();
  if (sodium_init() < 0) return weft_error_set(err, WEFT_EIO, "libsodium cannot start");
  /* Within one ms, this process's entries in the order it made them; the
   * random part keeps other processes' (other machines') apart. */
  static atomic_uint seq;
  snprintf(key, sizeof key, AUDIT_PREFIX "%015lld.%08x.%08x", (long long)now,
           atomic_fetch_add(&seq, 1), (unsigned)randombytes_random());
  json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s?}", "ms", (json_int_t)now, "who",
                        who ? who : "", "action", action, "status", status, "source",
                        source ? source : "", "detail", detail);
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(o);
  if (!text) return weft_error_set(err, WEFT_ENOMEM, "out of memory");
  int rc = weft_store_kv_compare_set(s, key, NULL, text, err);
  free(text);
  return rc;
}

static char *dup_field(const json_t *o, const char *key) {
  const char *v = json_string_value(json_object_get(o, key));
  return v ? weft_str_dup(v) : NULL;
}

int weft_audit_list(struct weft_store *s, size_t limit, struct weft_audit_entry **out,
                    size_t *n, weft_error *err) {
  struct weft_kv_list l = {0};
  *out = NULL;
  *n = 0;
  int rc = weft_store_kv_list(s, AUDIT_PREFIX, NULL, 0, &l, err);
  if (rc) return rc;
  size_t first = limit && l.n > limit ? l.n - limit : 0;
  if (l.n > first && !(*out = calloc(l.n - first, sizeof **out))) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = first; i < l.n; i++) {
    json_t *o = json_loads(l.v[i].value, 0, NULL);
    struct weft_audit_entry *e = &(*out)[(*n)++];
    e->ms = (int64_t)json_integer_value(json_object_get(o, "ms"));
    e->status = (int)json_integer_value(json_object_get(o, "status"));
    e->who = dup_field(o, "who");
    e->action = dup_field(o, "action");
    e->source = dup_field(o, "source");
    e->detail = dup_field(o, "detail");
    json_decref(o);
    if (!e->who || !e->action || !e->source) {
      rc = weft_error_set(err, WEFT_ESTORE, "audit entry %s is corrupt", l.v[i].key);
      break;
    }
  }
done:
  weft_kv_list_release(&l);
  if (rc) {
    weft_audit_entries_release(*out, *n);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

void weft_audit_entries_release(struct weft_audit_entry *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].who);
    free(v[i].action);
    free(v[i].source);
    free(v[i].detail);
  }
  free(v);
}
