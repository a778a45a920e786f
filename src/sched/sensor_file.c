/* sensor_file.c: the file sensor: a glob under the code location; a file that
 * appears or changes (mtime or size) requests one run, run_key PATH@MTIME. */

/* The cursor is a JSON object {"relative/path": "MTIME_MS:SIZE"} of the files
 * matched at the last evaluation. */
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sched/sched_int.h"
#include "util/str.h"

int weft__sensor_eval_file(struct weft_scheduler *s, const struct weft_sensor *se,
                           const char *cursor, struct weft__sensor_result *res,
                           weft_error *err) {
  (void)s;
  const char *base = se->location && se->location->path ? se->location->path : ".";
  char *pattern = se->glob[0] == '/' ? weft_str_dup(se->glob)
                                     : weft_str_printf("%s/%s", base, se->glob);
  json_t *old = cursor ? json_loads(cursor, 0, NULL) : NULL, *now = json_object();
  glob_t g;
  int rc = WEFT_OK, grc;
  memset(&g, 0, sizeof g);
  if (!pattern || !now) {
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    goto done;
  }
  grc = glob(pattern, GLOB_NOSORT, NULL, &g);
  if (grc != 0 && grc != GLOB_NOMATCH) {
    res->failure = weft_str_printf("cannot read the files of '%s'", se->glob);
    goto done;
  }
  size_t blen = strlen(base);
  for (size_t i = 0; grc == 0 && i < g.gl_pathc && !rc; i++) {
    struct stat sb;
    const char *full = g.gl_pathv[i];
    if (stat(full, &sb) || !S_ISREG(sb.st_mode)) continue;
    const char *rel = !strncmp(full, base, blen) && full[blen] == '/' ? full + blen + 1 : full;
    long long mtime_ms = (long long)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    char *sig = weft_str_printf("%lld:%lld", mtime_ms, (long long)sb.st_size);
    char *run_key = weft_str_printf("%s@%lld", rel, mtime_ms);
    if (!sig || !run_key) {
      free(sig);
      free(run_key);
      rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
      break;
    }
    const char *was = json_string_value(json_object_get(old, rel));
    if (!was || strcmp(was, sig))
      rc = weft__sensor_result_add(res, run_key, NULL, json_pack("{s:s}", "weft/file", rel),
                                   full);
    if (rc) rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
    json_object_set_new(now, rel, json_string(sig));
    free(sig);
    free(run_key);
  }
  if (!rc && !(res->cursor = json_dumps(now, JSON_COMPACT | JSON_SORT_KEYS)))
    rc = weft_error_set(err, WEFT_ENOMEM, "out of memory");
done:
  if (g.gl_pathv) globfree(&g);
  json_decref(old);
  json_decref(now);
  free(pattern);
  return rc;
}
