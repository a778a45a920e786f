/* store_pg_notify.c: the PostgreSQL backend's waits on LISTEN/NOTIFY: for
 * events (weft_store_event_wait) and for channels (weft_store_notify_wait). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/clock.h"

#define LOST WEFT__PG_LOST
#define AGAIN WEFT__PG_AGAIN
#define NOTIFY_CHANNEL WEFT__PG_EVENTS_CHANNEL
#define is_lost weft__pg_transient

/* ---- waiting for events ------------------------------------------------------------------ */

/* Sleeps on the connection's socket until it is readable (1) or end
 * passes (0); < 0: poll failed. */
static int socket_wait(struct weft__pg_store *p, int64_t end, const char *what,
                       weft_error *err) {
  for (;;) {
    int64_t left = end - weft_clock_mono_ms();
    if (left <= 0) return 0;
    struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
    int n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR)
      return weft_error_set(err, WEFT_EIO, "%s: %s: poll: %s", p->where, what, strerror(errno));
  }
}

/* Subscribes (once per connection), then looks at the table; sleeps in
 * poll(2) on the socket until a notification or the end. Returns 1 (there
 * is a newer event), 0 (the end came), AGAIN, LOST or an error. */
static int wait_step(struct weft__pg_store *p, int64_t after_id, int64_t end, int *listening,
                     weft_error *err) {
  PGresult *r = NULL;
  PGnotify *note;
  int rc;
  if (!*listening) {
    if (weft__pg_simple(p, "LISTEN " NOTIFY_CHANNEL, &r) == LOST) return LOST;
    rc = weft__pg_result_ok(r) ? WEFT_OK : weft__pg_error(p, err, r, "event wait: listen");
    PQclear(r);
    if (rc) return rc;
    *listening = 1;
  }
  while ((note = PQnotifies(p->conn))) PQfreemem(note); /* older news */
  r = weft__pg_run_stmt(p, WEFT__PG_EVENT_MAX, 0, NULL);
  if (is_lost(p->conn, r)) {
    PQclear(r);
    return LOST;
  }
  if (!weft__pg_result_ok(r)) {
    rc = weft__pg_error(p, err, r, "event wait");
    PQclear(r);
    return rc;
  }
  int64_t max = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  if (max > after_id) return 1;
  for (;;) {
    int w = socket_wait(p, end, "event wait", err);
    if (w <= 0) return w;
    if (!PQconsumeInput(p->conn) || PQstatus(p->conn) == CONNECTION_BAD) return LOST;
    int got = 0;
    while ((note = PQnotifies(p->conn))) {
      got = 1;
      PQfreemem(note);
    }
    if (got) return AGAIN;
  }
}

/* LISTEN first, then look at the table: an append that commits after the
 * look sends a notification we are already subscribed to, and each
 * notification means "look again". No polling of the table. UNLISTEN at
 * the end, so an idle connection never holds back the server's
 * notification queue. */
int weft__pg_event_wait(struct weft_store *s, int64_t after_id, int timeout_ms,
                        weft_error *err) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  int64_t end = weft_clock_mono_ms() + timeout_ms;
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  int listening = 0, rc;
  for (;;) {
    if (!p->conn) {
      listening = 0;
      if ((rc = weft__pg_recover(p, &rt, NULL, "event wait", err))) return rc;
    }
    rc = wait_step(p, after_id, end, &listening, err);
    if (rc == LOST) {
      /* a link that worked (it got as far as LISTEN) and broke later is a
       * new outage: a long wait gets a fresh budget for each */
      if (listening) rt = (struct weft__pg_retry)WEFT__PG_RETRY_INIT;
      weft__pg_disconnect(p);
      continue;
    }
    if (rc != AGAIN) break;
  }
  if (listening && p->conn) {
    PGresult *r = NULL;
    if (weft__pg_simple(p, "UNLISTEN " NOTIFY_CHANNEL, &r) == LOST) weft__pg_disconnect(p);
    PQclear(r);
  }
  return rc;
}

/* ---- channels ------------------------------------------------------------------------ */

void weft__pg_inbox_channel_set(struct weft__pg_store *p, const char *schema) {
  /* an identifier's most is 63 bytes: a longer one is cut, as postgres
   * would cut it */
  snprintf(p->inbox_name, sizeof p->inbox_name, "weft_inbox/%s", schema);
  size_t o = 0;
  p->inbox_channel[o++] = '"';
  for (const char *c = p->inbox_name; *c; c++) {
    if (*c == '"') p->inbox_channel[o++] = '"';
    p->inbox_channel[o++] = *c;
  }
  p->inbox_channel[o++] = '"';
  p->inbox_channel[o] = 0;
}

const char *weft__pg_commit_sql(const struct weft__pg_store *p, int mask, char *buf,
                                size_t cap) {
  size_t n = 0;
  buf[0] = 0;
  if (mask & WEFT__PG_NOTE_EVENTS)
    n += (size_t)snprintf(buf + n, cap - n, "NOTIFY " NOTIFY_CHANNEL "; ");
  if ((mask & WEFT__PG_NOTE_INBOX) && p->inbox_channel[0] && n < cap)
    n += (size_t)snprintf(buf + n, cap - n, "NOTIFY %s; ", p->inbox_channel);
  if (n < cap) snprintf(buf + n, cap - n, "COMMIT");
  return buf;
}

/* The channel's quoted name, as LISTEN and NOTIFY take it. */
static const char *channel_name(const struct weft__pg_store *p, enum weft_store_channel ch) {
  switch (ch) {
  case WEFT_STORE_CHANNEL_INBOX:
    return p->inbox_channel[0] ? p->inbox_channel : NULL;
  }
  return NULL;
}

int weft__pg_notify(struct weft_store *s, enum weft_store_channel ch, weft_error *err) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  int implicit, rc;
  if (!channel_name(p, ch)) return weft_error_set(err, WEFT_EINVALID, "notify: no such channel");
  /* Outside a transaction: an empty write transaction of its own, whose
   * commit rings (reconnecting as any write does). */
  if ((rc = weft__pg_write_begin(p, &implicit, err))) return rc;
  p->tx_notify |= WEFT__PG_NOTE_INBOX;
  return weft__pg_write_end(p, implicit, WEFT_OK, NULL, err);
}

/* Reads what the socket has; 1 when the channel named name (unquoted)
 * rang, LOST, or 0. */
static int drain(struct weft__pg_store *p, const char *name) {
  PGnotify *note;
  int got = 0;
  if (!PQconsumeInput(p->conn) || PQstatus(p->conn) == CONNECTION_BAD) return LOST;
  while ((note = PQnotifies(p->conn))) {
    got |= !strcmp(note->relname, name);
    PQfreemem(note);
  }
  return got;
}

/* The handle stays subscribed between calls (a waiter's handle is its
 * own: weft_store_notify_wait's callers wait in a loop), so nothing rung
 * between two calls is missed; a new connection subscribes again and
 * returns 1, as what rang while there was none is unknown. */
int weft__pg_notify_wait(struct weft_store *s, enum weft_store_channel ch, int timeout_ms,
                         weft_error *err) {
  struct weft__pg_store *p = (struct weft__pg_store *)s;
  const char *name = channel_name(p, ch);
  int64_t end = weft_clock_mono_ms() + timeout_ms;
  struct weft__pg_retry rt = WEFT__PG_RETRY_INIT;
  int rc;
  if (!name) return weft_error_set(err, WEFT_EINVALID, "notify wait: no such channel");
  for (;;) {
    if (!p->conn) {
      p->listening = 0;
      if ((rc = weft__pg_recover(p, &rt, NULL, "notify wait", err))) return rc;
    }
    if (!(p->listening & (unsigned)WEFT__PG_NOTE_INBOX)) {
      char sql[160];
      PGresult *r = NULL;
      snprintf(sql, sizeof sql, "LISTEN %s", name);
      if (weft__pg_simple(p, sql, &r) == LOST) {
        weft__pg_disconnect(p);
        continue;
      }
      rc = weft__pg_result_ok(r) ? WEFT_OK : weft__pg_error(p, err, r, "notify wait: listen");
      PQclear(r);
      if (rc) return rc;
      p->listening |= WEFT__PG_NOTE_INBOX;
      return 1;
    }
    rc = drain(p, p->inbox_name);
    while (!rc) {
      int w = socket_wait(p, end, "notify wait", err);
      if (w <= 0) return w;
      rc = drain(p, p->inbox_name);
    }
    if (rc != LOST) return 1;
    weft__pg_disconnect(p);
  }
}
