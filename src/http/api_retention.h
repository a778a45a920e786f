/* api_retention.h: the routes of run outputs, runs search helpers, bulk
 * actions, deletion and pins (api_run_outputs.c, api_runs_bulk.c), and the
 * re-execution core api_runs.c shares with the bulk route. */
#ifndef WEFT_HTTP_API_RETENTION_H
#define WEFT_HTTP_API_RETENTION_H

#include "http/http_int.h"

/* GET /api/v1/runs/{id}/outputs/{step}/{output}: the stored output. */
enum MHD_Result http_api_run_output(struct http_req *r);
/* POST /api/v1/runs/bulk {"action","ids",...}: one result per id. */
enum MHD_Result http_api_runs_bulk(struct http_req *r);
/* DELETE /api/v1/runs/{id}: under retention's rules. */
enum MHD_Result http_api_run_delete(struct http_req *r);
/* POST /api/v1/runs/{id}/pin and /unpin. */
enum MHD_Result http_api_run_pin(struct http_req *r);
enum MHD_Result http_api_run_unpin(struct http_req *r);

/* Re-executes run id (api_runs.c): records the new run in the queue and
 * sets *run_id (caller frees). Returns the HTTP status: 201, or the error's
 * with *msg (caller frees) and *details (may stay NULL) set. Starting the
 * coordinator is the caller's (http_start_coordinator, or one queue turn
 * for many). */
unsigned http_reexecute_one(struct http_req *r, const char *id, int from_failure,
                            int latest_code, const char *const *steps, size_t n_steps,
                            char **run_id, char **msg, json_t **details);

#endif
