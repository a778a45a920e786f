/* store_lease.c: the wrappers of the run lease methods (which coordinator
 * drives a run, until when) and the release of lease rows. */
#include <stdlib.h>

#include "store/store.h"

#define REQUIRE(cond, what)                                              \
  do {                                                                   \
    if (!(cond)) return weft_error_set(err, WEFT_EINVALID, "%s", what); \
  } while (0)

void weft_run_lease_release(struct weft_run_lease *l) {
  if (!l) return;
  free(l->run_id);
  free(l->owner);
  l->run_id = l->owner = NULL;
}

void weft_run_lease_list_release(struct weft_run_lease_list *l) {
  for (size_t i = 0; l && i < l->n; i++) weft_run_lease_release(&l->v[i]);
  if (l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
  }
}

int weft_store_lease_claim(struct weft_store *s, const char *run_id, const char *owner,
                           const char *steal_from, int64_t now_ms, int64_t ttl_ms,
                           weft_error *err) {
  REQUIRE(run_id && *run_id && owner && *owner, "run lease: no run id or owner");
  REQUIRE(ttl_ms > 0, "run lease: the lease length must be positive");
  return s->m->xLeaseClaim(s, run_id, owner, steal_from, now_ms, ttl_ms, err);
}

int weft_store_lease_renew(struct weft_store *s, const char *owner, int64_t now_ms,
                           int64_t ttl_ms, struct weft_run_lease_list *held, weft_error *err) {
  held->v = NULL;
  held->n = 0;
  REQUIRE(owner && *owner, "run lease: no owner");
  REQUIRE(ttl_ms > 0, "run lease: the lease length must be positive");
  return s->m->xLeaseRenew(s, owner, now_ms, ttl_ms, held, err);
}

int weft_store_lease_release(struct weft_store *s, const char *run_id, const char *owner,
                             weft_error *err) {
  REQUIRE(run_id && *run_id && owner && *owner, "run lease: no run id or owner");
  return s->m->xLeaseRelease(s, run_id, owner, err);
}

/* xLeaseClaimMany's fallback: each run read, then claimed, in the
 * caller's transaction or one of its own. */
static int claim_each(struct weft_store *s, const char *const *run_ids, size_t n,
                      const char *owner, int64_t now_ms, int64_t ttl_ms,
                      unsigned char *outcome, weft_error *err) {
  int rc = weft_store_begin(s, err);
  for (size_t i = 0; !rc && i < n; i++) {
    struct weft_run_row row = {0};
    rc = weft_store_run_get(s, run_ids[i], &row, err);
    int queued = !rc && row.status == WEFT_RUN_QUEUED;
    weft_run_row_release(&row);
    if (rc == WEFT_ENOTFOUND || (!rc && !queued)) {
      outcome[i] = WEFT_LEASE_NOT_QUEUED;
      rc = WEFT_OK;
      continue;
    }
    if (!rc) rc = s->m->xLeaseClaim(s, run_ids[i], owner, NULL, now_ms, ttl_ms, err);
    outcome[i] = rc ? WEFT_LEASE_HELD : WEFT_LEASE_CLAIMED;
    if (rc == WEFT_ECONFLICT) rc = WEFT_OK;
  }
  if (rc) weft_store_rollback(s);
  return rc ? rc : weft_store_commit(s, err);
}

int weft_store_lease_claim_many(struct weft_store *s, const char *const *run_ids, size_t n,
                                const char *owner, int64_t now_ms, int64_t ttl_ms,
                                unsigned char *outcome, weft_error *err) {
  REQUIRE(!n || (run_ids && outcome), "run lease: no run ids or outcomes");
  REQUIRE(owner && *owner, "run lease: no owner");
  REQUIRE(ttl_ms > 0, "run lease: the lease length must be positive");
  for (size_t i = 0; i < n; i++) REQUIRE(run_ids[i] && *run_ids[i], "run lease: no run id");
  if (!n) return WEFT_OK;
  if (s->m->xLeaseClaimMany)
    return s->m->xLeaseClaimMany(s, run_ids, n, owner, now_ms, ttl_ms, outcome, err);
  return claim_each(s, run_ids, n, owner, now_ms, ttl_ms, outcome, err);
}

int weft_store_lease_release_many(struct weft_store *s, const char *const *run_ids, size_t n,
                                  const char *owner, weft_error *err) {
  REQUIRE(!n || run_ids, "run lease: no run ids");
  REQUIRE(owner && *owner, "run lease: no owner");
  for (size_t i = 0; i < n; i++) REQUIRE(run_ids[i] && *run_ids[i], "run lease: no run id");
  if (!n) return WEFT_OK;
  if (s->m->xLeaseReleaseMany) return s->m->xLeaseReleaseMany(s, run_ids, n, owner, err);
  int rc = weft_store_begin(s, err);
  for (size_t i = 0; !rc && i < n; i++) rc = s->m->xLeaseRelease(s, run_ids[i], owner, err);
  if (rc) weft_store_rollback(s);
  return rc ? rc : weft_store_commit(s, err);
}

int weft_store_lease_get(struct weft_store *s, const char *run_id, struct weft_run_lease *out,
                         weft_error *err) {
  out->run_id = out->owner = NULL;
  out->expires_ms = out->acquired_ms = 0;
  REQUIRE(run_id && *run_id, "run lease: no run id");
  return s->m->xLeaseGet(s, run_id, out, err);
}
