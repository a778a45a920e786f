/* store_purge.c: the wrappers of the search and retention methods (runs
 * search with a cursor, candidates for purging, pins, event purges, run
 * deletion, the materialization summary) and the cursor's text form. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/str.h"

/* Ends the transaction weft_store_begin opened around a call whose result is rc:
 * several statements of one call (a batch's copy and delete) commit at
 * once. */
static int end_tx(struct weft_store *s, int rc, weft_error *err) {
  if (rc) {
    weft_store_rollback(s);
    return rc;
  }
  return weft_store_commit(s, err);
}

#define REQUIRE(cond, what)                                              \
  do {                                                                   \
    if (!(cond)) return weft_error_set(err, WEFT_EINVALID, "%s", what); \
  } while (0)

void weft_retention_cand_list_release(struct weft_retention_cand_list *l) {
  for (size_t i = 0; l && i < l->n; i++) {
    free(l->v[i].id);
    free(l->v[i].job);
    free(l->v[i].parent_run_id);
  }
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

int weft_store_run_search(struct weft_store *s, const struct weft_run_search *q,
                          struct weft_run_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(q && q->limit >= 0, "run search: negative limit");
  REQUIRE(!(q->status_mask & ~((1 << WEFT_RUN__COUNT) - 1)),
          "run search: the status mask has bits of no run status");
  for (size_t i = 0; i < q->n_tags; i++)
    REQUIRE(q->tag_keys[i] && *q->tag_keys[i] && q->tag_values[i] &&
                !strpbrk(q->tag_keys[i], "\"\\"),
            "run search: a tag filter needs a key (without quotes or backslashes) and a "
            "value");
  return s->m->xRunSearch(s, q, out, err);
}

int weft_store_retention_scan(struct weft_store *s, int64_t ended_before,
                              int64_t after_ended_ms, const char *after_id, int limit,
                              struct weft_retention_cand_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(limit > 0, "retention scan: the limit must be positive");
  return s->m->xRetentionScan(s, ended_before, after_ended_ms, after_id, limit, out, err);
}

int weft_store_run_mark_get(struct weft_store *s, const char *run_id, int *pinned,
                            unsigned *purged, weft_error *err) {
  *pinned = 0;
  *purged = 0;
  REQUIRE(run_id && *run_id, "run marks: no run id");
  return s->m->xRunMarkGet(s, run_id, pinned, purged, err);
}

int weft_store_run_mark_set(struct weft_store *s, const char *run_id, int pinned,
                            unsigned purged_add, weft_error *err) {
  REQUIRE(run_id && *run_id, "run marks: no run id");
  return s->m->xRunMarkSet(s, run_id, pinned, purged_add, err);
}

int weft_store_event_purge(struct weft_store *s, const char *run_id,
                           enum weft_event_purge_kind kind, int limit, int64_t *n,
                           weft_error *err) {
  *n = 0;
  REQUIRE(run_id && *run_id, "event purge: no run id");
  REQUIRE(limit > 0, "event purge: the limit must be positive");
  REQUIRE(kind == WEFT_EVENTS_ALL || kind == WEFT_EVENTS_DEBUG, "event purge: bad kind");
  int rc = weft_store_begin(s, err);
  if (rc) return rc;
  return end_tx(s, s->m->xEventPurge(s, run_id, kind, limit, n, err), err);
}

int weft_store_event_count(struct weft_store *s, const char *run_id,
                           enum weft_event_purge_kind kind, int64_t *n, weft_error *err) {
  *n = 0;
  REQUIRE(run_id && *run_id, "event count: no run id");
  REQUIRE(kind == WEFT_EVENTS_ALL || kind == WEFT_EVENTS_DEBUG, "event count: bad kind");
  return s->m->xEventCount(s, run_id, kind, n, err);
}

int weft_store_run_delete(struct weft_store *s, const char *run_id, int64_t *n_steps,
                          weft_error *err) {
  int64_t ignored;
  REQUIRE(run_id && *run_id, "run delete: no run id");
  int rc = weft_store_begin(s, err);
  if (rc) return rc;
  return end_tx(s, s->m->xRunDelete(s, run_id, n_steps ? n_steps : &ignored, err), err);
}

int weft_store_materialization_list(struct weft_store *s, const char *asset,
                                    int64_t after_id, int limit,
                                    struct weft_event_list *out, weft_error *err) {
  out->v = NULL;
  out->n = 0;
  REQUIRE(limit >= 0, "materialization list: negative limit");
  return s->m->xMaterializationList(s, asset, after_id, limit, out, err);
}

char *weft_run_cursor_format(const struct weft_run_row *last) {
  return weft_str_printf("%" PRId64 ".%s", last->created_ms, last->id);
}

int weft_run_cursor_parse(const char *text, int64_t *created_ms, const char **id) {
  char *end = NULL;
  *created_ms = 0;
  *id = NULL;
  if (!text || *text < '0' || *text > '9') return WEFT_EINVALID;
  long long v = strtoll(text, &end, 10);
  if (*end != '.' || !end[1] || v < 0) return WEFT_EINVALID;
  for (const char *p = end + 1; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          *p == '-' || *p == '_'))
      return WEFT_EINVALID;
  *created_ms = v;
  *id = end + 1;
  return WEFT_OK;
}

int weft_run_time_parse(const char *text, int64_t now_ms, int64_t *out) {
  size_t len = text ? strlen(text) : 0;
  char *end = NULL;
  *out = 0;
  if (!len || len > 40 || *text < '0' || *text > '9') return WEFT_EINVALID;
  long long v = strtoll(text, &end, 10);
  if (!*end && len >= 13) {
    *out = v;
    return WEFT_OK;
  }
  if (end[0] && !end[1] && v >= 0 && end != text) {
    int64_t unit = end[0] == 's' ? 1000 : end[0] == 'm' ? 60000 : end[0] == 'h' ? 3600000
                 : end[0] == 'd' ? 86400000 : 0;
    if (!unit || v > 100LL * 366 * 86400) return WEFT_EINVALID;
    *out = now_ms - v * unit;
    return WEFT_OK;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) return WEFT_EINVALID;
  const char *t = text + 10;
  if (*t == 'T' || *t == ' ') {
    int n2 = 0;
    if (sscanf(t + 1, "%2d:%2d%n", &h, &mi, &n2) != 2 || n2 != 5) return WEFT_EINVALID;
    t += 1 + n2;
    if (*t == ':') {
      if (sscanf(t + 1, "%2d%n", &sec, &n2) != 1 || n2 != 2) return WEFT_EINVALID;
      t += 3;
    }
    if (*t == 'Z') t++;
  }
  if (*t || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
    return WEFT_EINVALID;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                  .tm_min = mi, .tm_sec = sec};
  time_t secs = timegm(&tm);
  if (secs == (time_t)-1) return WEFT_EINVALID;
  *out = (int64_t)secs * 1000;
  return WEFT_OK;
}
