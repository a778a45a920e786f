/* audit.h: the audit log: who did what to an instance, when and from where,
 * kept in the store's kv state so every server and CLI of the instance
 * writes to one log, read by `weft audit` and GET /api/v1/audit.
 *
 *   kv "weft.audit.MS.SEQ.RAND"  {"ms", "who", "action", "status",
 *                                 "source", "detail"?}
 *
 * MS is the wall-clock time in ms, zero-padded to 15 digits, so the kv's
 * byte order is time order; SEQ orders one process's entries within a ms,
 * RAND keeps other processes' apart. */
#ifndef WEFT_ENGINE_AUDIT_H
#define WEFT_ENGINE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct weft_audit_entry {
  int64_t ms;
  char *who;    /* "user:NAME", "token:ID", "cli:USER", or "" (nobody) */
  char *action; /* "POST /api/v1/runs/ID/cancel", "user add alice", ... */
  int status;   /* the HTTP status, or 0 (done) / 1 (failed) for the CLI */
  char *source; /* the client's address, or "local" */
  char *detail; /* why it failed, or NULL */
};

/* Appends one entry (strings borrowed; detail may be NULL). */
int weft_audit_record(struct weft_store *s, const char *who, const char *action, int status,
                      const char *source, const char *detail, weft_error *err);
/* The newest limit entries (0: all), oldest first; release with
 * weft_audit_entries_release. */
int weft_audit_list(struct weft_store *s, size_t limit, struct weft_audit_entry **out,
                    size_t *n, weft_error *err);
void weft_audit_entries_release(struct weft_audit_entry *v, size_t n);

#endif
