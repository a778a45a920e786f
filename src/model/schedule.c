/* schedule.c: ownership and lookups of schedules and sensors, which the DSL
 * collects per code location (jobs' `schedules:`, schedules/, sensors/). */
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

const char *weft_sensor_kind_name(enum weft_sensor_kind k) {
  switch (k) {
  case WEFT_SENSOR_FILE: return "file";
  case WEFT_SENSOR_COMMAND: return "command";
  case WEFT_SENSOR_RUN_STATUS: return "run_status";
  case WEFT_SENSOR_ASSET: return "asset";
  }
  return "unknown";
}

void weft__schedule_release(struct weft_schedule *sc) {
  free(sc->name);
  free(sc->job);
  free(sc->cron);
  free(sc->timezone);
  json_decref(sc->config);
  weft__kvs_release(&sc->tags);
  free(sc->description);
  memset(sc, 0, sizeof *sc);
}

void weft__sensor_release(struct weft_sensor *se) {
  free(se->name);
  free(se->job);
  free(se->glob);
  free(se->run);
  if (se->argv)
    for (char **a = se->argv; *a; a++) free(*a);
  free(se->argv);
  free(se->watch_job);
  free(se->watch_status);
  free(se->asset);
  json_decref(se->config);
  weft__kvs_release(&se->tags);
  free(se->description);
  memset(se, 0, sizeof *se);
}

const struct weft_schedule *weft_workspace_find_schedule(const struct weft_workspace *ws,
                                                         const char *name) {
  for (size_t l = 0; ws && name && l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t i = 0; i < loc->n_schedules; i++)
      if (!strcmp(loc->schedules[i].name, name)) return &loc->schedules[i];
  }
  return NULL;
}

const struct weft_sensor *weft_workspace_find_sensor(const struct weft_workspace *ws,
                                                     const char *name) {
  for (size_t l = 0; ws && name && l < ws->n_locations; l++) {
    const struct weft_location *loc = ws->locations[l];
    for (size_t i = 0; i < loc->n_sensors; i++)
      if (!strcmp(loc->sensors[i].name, name)) return &loc->sensors[i];
  }
  return NULL;
}
