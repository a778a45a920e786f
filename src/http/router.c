/* router.c: the route table of API.md (method, path pattern, handler, the
 * access it needs) and the dispatch, which passes every request through
 * http_authorize (guard.c) and answers 404 for no route and 405 for a wrong
 * method. */
#include <stdlib.h>
#include <string.h>

#include "http/api_retention.h"
#include "http/http_int.h"
#include "util/buf.h"

/* A pattern is a path whose segments are literal, "*" (any one segment) or
 * a final "**" (any rest, none included). */
struct route {
  const char *method;
  const char *pattern;
  http_handler fn;
  enum http_access need; /* checked by http_authorize (guard.c) */
};

static const struct route routes[] = {
    {"GET", "/healthz", http_api_healthz, HTTP_OPEN},
    {"GET", "/metrics", http_api_metrics, HTTP_READ},
    {"GET", "/api/v1/openapi.json", http_api_openapi, HTTP_READ},
    {"GET", "/api/v1/locations", http_api_locations, HTTP_READ},
    {"POST", "/api/v1/locations", http_api_location_add, HTTP_ADMIN},
    {"POST", "/api/v1/locations/reload", http_api_reload, HTTP_ADMIN},
    {"DELETE", "/api/v1/locations/*", http_api_location_remove, HTTP_ADMIN},
    {"POST", "/api/v1/locations/*/reload", http_api_location_reload, HTTP_ADMIN},
    {"GET", "/api/v1/jobs", http_api_jobs, HTTP_READ},
    {"GET", "/api/v1/jobs/*/*", http_api_job, HTTP_READ},
    {"POST", "/api/v1/jobs/*/*/validate", http_api_validate, HTTP_LAUNCH},
    {"POST", "/api/v1/jobs/*/*/launch", http_api_launch, HTTP_LAUNCH},
    {"GET", "/api/v1/runs", http_api_runs, HTTP_READ},
    {"GET", "/api/v1/runs/*", http_api_run, HTTP_READ},
    {"GET", "/api/v1/runs/*/events", http_api_events, HTTP_READ},
    {"GET", "/api/v1/runs/*/events/stream", http_api_events_stream, HTTP_READ},
    {"GET", "/api/v1/runs/*/logs/*", http_api_log, HTTP_READ},
    {"GET", "/api/v1/runs/*/logs/*/stream", http_api_log_stream, HTTP_READ},
    {"POST", "/api/v1/runs/*/cancel", http_api_cancel, HTTP_LAUNCH},
    {"POST", "/api/v1/runs/*/reexecute", http_api_reexecute, HTTP_LAUNCH},
    {"GET", "/api/v1/runs/*/outputs/*/*", http_api_run_output, HTTP_READ},
    {"POST", "/api/v1/runs/bulk", http_api_runs_bulk, HTTP_LAUNCH},
    {"DELETE", "/api/v1/runs/*", http_api_run_delete, HTTP_OPERATE},
    {"POST", "/api/v1/runs/*/pin", http_api_run_pin, HTTP_OPERATE},
    {"POST", "/api/v1/runs/*/unpin", http_api_run_unpin, HTTP_OPERATE},
    {"GET", "/api/v1/schedules", http_api_schedules, HTTP_READ},
    {"GET", "/api/v1/schedules/*", http_api_schedule, HTTP_READ},
    {"GET", "/api/v1/schedules/*/ticks", http_api_schedule_ticks, HTTP_READ},
    {"POST", "/api/v1/schedules/*/on", http_api_schedule_on, HTTP_OPERATE},
    {"POST", "/api/v1/schedules/*/off", http_api_schedule_off, HTTP_OPERATE},
    {"GET", "/api/v1/sensors", http_api_sensors, HTTP_READ},
    {"GET", "/api/v1/sensors/*", http_api_sensor, HTTP_READ},
    {"GET", "/api/v1/sensors/*/ticks", http_api_sensor_ticks, HTTP_READ},
    {"POST", "/api/v1/sensors/*/on", http_api_sensor_on, HTTP_OPERATE},
    {"POST", "/api/v1/sensors/*/off", http_api_sensor_off, HTTP_OPERATE},
    {"GET", "/api/v1/backfills", http_api_backfills, HTTP_READ},
    {"POST", "/api/v1/backfills", http_api_backfill_create, HTTP_OPERATE},
    {"GET", "/api/v1/backfills/*", http_api_backfill, HTTP_READ},
    {"GET", "/api/v1/assets", http_api_assets, HTTP_READ},
    {"GET", "/api/v1/assets/*", http_api_asset, HTTP_READ},
    {"GET", "/api/v1/assets/*/history", http_api_asset_history, HTTP_READ},
    {"POST", "/api/v1/assets/*/materialize", http_api_asset_materialize, HTTP_OPERATE},
    {"GET", "/api/v1/instance/storage", http_api_instance_storage, HTTP_READ},
    {"GET", "/api/v1/workers", http_api_workers, HTTP_READ},
    {"GET", "/api/v1/queues", http_api_queues, HTTP_READ},
    {"GET", "/api/v1/audit", http_api_audit, HTTP_ADMIN},
    {"GET", "/api/v1/secrets", http_api_secrets, HTTP_ADMIN},
    {"DELETE", "/api/v1/secrets/*", http_api_secret_remove, HTTP_ADMIN},
    {"GET", "/api/v1/variables", http_api_variables, HTTP_ADMIN},
    {"GET", "/api/v1/variables/*", http_api_variable, HTTP_ADMIN},
    {"PUT", "/api/v1/variables/*", http_api_variable_put, HTTP_ADMIN},
    {"DELETE", "/api/v1/variables/*", http_api_variable_remove, HTTP_ADMIN},
    {"GET", "/api/v1/me", http_api_me, HTTP_READ},
    {"POST", "/api/v1/login", http_api_login, HTTP_PUBLIC},
    {"POST", "/api/v1/logout", http_api_logout, HTTP_PUBLIC},
    /* The UI's files hold no data, and its login page must load. */
    {"GET", "/", http_api_static, HTTP_PUBLIC},
    {"GET", "/ui", http_api_static, HTTP_PUBLIC},
    {"GET", "/ui/**", http_api_static, HTTP_PUBLIC},
};

/* Whether the request's path matches pattern. */
static int path_matches(const struct http_req *r, const char *pattern) {
  const char *p = pattern + 1;
  size_t i = 0;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 2 && !strncmp(p, "**", 2)) return 1;
    if (i == r->n_segs) return 0;
    if (!(n == 1 && *p == '*') && (strlen(r->segs[i]) != n || strncmp(r->segs[i], p, n)))
      return 0;
    i++;
    p += n;
    if (*p == '/') p++;
  }
  return i == r->n_segs;
}

/* How many literal segments pattern has: among the patterns a path
 * matches, only the most literal ones count, so that a literal path such as
 * /api/v1/locations/reload is never taken by a "*" of another method. */
static int literals(const char *pattern) {
  int n = 0;
  for (const char *p = pattern + 1; *p;) {
    size_t len = strcspn(p, "/");
    if (p[0] != '*') n++;
    p += len;
    if (*p == '/') p++;
  }
  return n;
}

enum MHD_Result http_dispatch(struct http_req *r) {
  /* HEAD is a GET whose body MHD leaves out. */
  const char *method = strcmp(r->method, "HEAD") ? r->method : "GET";
  struct weft_buf allow = WEFT_BUF_INIT;
  int best = -1;
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
    if (literals(routes[i].pattern) > best && path_matches(r, routes[i].pattern))
      best = literals(routes[i].pattern);
  const struct route *route = NULL;
  for (size_t i = 0; i < sizeof routes / sizeof *routes && !route; i++)
    if (literals(routes[i].pattern) == best && path_matches(r, routes[i].pattern) &&
        !strcmp(routes[i].method, method))
      route = &routes[i];
  /* The one authorization point: nothing below runs for a refused request. */
  enum MHD_Result res = MHD_NO;
  if (!http_authorize(r, route ? route->need : HTTP_READ, route != NULL, &res)) return res;
  if (route) return route->fn(r);
  for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
    if (literals(routes[i].pattern) != best || !path_matches(r, routes[i].pattern)) continue;
    if (!strstr(allow.ptr, routes[i].method))
      weft_buf_addf(&allow, "%s%s%s", allow.len ? ", " : "", routes[i].method,
                    strcmp(routes[i].method, "GET") ? "" : ", HEAD");
  }
  if (!allow.len) {
    weft_buf_release(&allow);
    return http_send_error(r, 404, NULL, "no such path");
  }
  json_t *doc = json_pack("{s:s+, s:[]}", "error", "method not allowed; this path takes ",
                          allow.ptr, "details");
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  struct MHD_Response *resp =
      text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
  if (!resp) {
    free(text);
    weft_buf_release(&allow);
    return MHD_NO;
  }
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow.ptr);
  weft_buf_release(&allow);
  return http_queue(r, 405, resp);
}
