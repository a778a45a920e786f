/* executor_int.h: private to the "queue" executor (executor.c publishes and
 * cancels, executor_results.c takes notices and results back). */
#ifndef WEFT_QUEUE_EXECUTOR_INT_H
#define WEFT_QUEUE_EXECUTOR_INT_H

#include "queue/queue_int.h"
#include "util/map.h"

#define POLL_MS 500
#define POLL_BATCH 32
#define LOST_NOTICE_MS 1000
#define CANCEL_WAIT_MS 20000
#define CANCEL_RESEND_MS 1000
#define INLINE_INPUT_MAX (64 * 1024)

struct pending {
  void *user;
  char *attempt_id, *queue, *work_dir, *worker;
  json_t *msg; /* the step message, dumped when published (batches share fields) */
  size_t id_hash; /* weft_map_hash(attempt_id): a run's ids share a long prefix */
  int published, started, cancel;
  int c_op; /* a C-function op: may share a message with others (batch) */
  int64_t cancel_deadline; /* monotonic */
  int64_t cancel_sent_ms;  /* monotonic, the last cancel published */
  char *cancel_reason;
  int64_t published_ms;    /* monotonic */
  int64_t started_ms;      /* monotonic, when the "started" notice came */
  size_t chunks_seen[2];   /* live log chunks mirrored into WORK/ */
  /* Taken over from a dead coordinator (executor_attach.c): */
  int attached;
  int64_t attach_check_ms;    /* monotonic: the next look at it */
  int64_t attach_missing_ms;  /* monotonic: since when its worker has not listed it */
  int64_t attach_deadline_ms; /* wall: no result by then is a loss (0: none) */
  int64_t attach_wall_ms;     /* wall: when it was taken over */
};

struct ready {
  struct weft_step_result res;
};

struct qexec {
  struct weft_executor base;
  struct weft_instance *inst;
  struct weft_executor_callbacks cb;
  struct weft_broker *pub, *sub; /* confirmed publishes; the reply queue */
  struct weft_qsig_key *key;     /* signs step messages, checks notices */
  char *url, *reply_to;
  char *run_id; /* the run this executor serves (one per coordinator), from start() */
  /* Random bytes for attempt ids, drawn by the block: one getrandom() a
   * step was a syscall on every start of a fan-out of thousands. */
  unsigned char rnd[256];
  size_t rnd_used; /* taken of rnd; sizeof rnd: draw again */
  char *code_published; /* the code version known to be in the artifact store */
  int max;
  struct pending *p;
  size_t n, cap;
  struct weft_step_result *done; /* results not yet returned by wait */
  size_t n_done, cap_done;
  struct weft_map ops; /* op name -> its "op" JSON, shared by its messages */
  size_t poll_next;
  size_t n_attached; /* attempts taken over, at the last check (or more) */
  int64_t next_poll_ms, next_live_log_ms;
};

/* executor.c */
struct pending *weft__qx_find_attempt(struct qexec *q, const char *id);
/* Room for one more pending attempt in q->p. */
int weft__qx_reserve(struct qexec *q, weft_error *err);
/* Forgets p (the last attempt takes its slot). */
void weft__qx_drop_pending(struct qexec *q, struct pending *p);
/* Queues *r (moved) for wait() to return. */
int weft__qx_push_done(struct qexec *q, struct weft_step_result *r);

/* Publishes a cancel of the attempt on the weft.cancel fanout (unconfirmed). */
void weft__qx_publish_cancel(struct qexec *q, const char *attempt_id, const char *reason);

/* executor_attach.c */
/* weft_executor_attach: an attempt a dead coordinator published. */
int weft__qx_attach(struct weft_executor *x, const struct weft_step_attach *a,
                    weft_error *err);
/* Taken-over attempts: their results, or their loss (a lost result). */
int weft__qx_check_attached(struct qexec *q, weft_error *err);

/* executor_results.c */
/* worker runs p (a "started" notice, a result, a redelivery found): the
 * coordinator hears of it (step_worker; a warning when it changed). */
void weft__qx_report_worker(struct qexec *q, struct pending *p, const char *worker, long pid);
/* The worker's result for p, as text (from storage) or a document (from a
 * "done" notice): feeds its events, fetches its files, queues the result. */
int weft__qx_complete(struct qexec *q, struct pending *p, const char *text, json_t *doc,
                      int fallback, weft_error *err);
/* Looks for p's result in storage; completes it when there is one. */
int weft__qx_poll_result(struct qexec *q, struct pending *p, int fallback, weft_error *err);
/* One notice from the reply queue. */
int weft__qx_on_notice(struct qexec *q, const struct weft_broker_msg *m, weft_error *err);
/* The fallback for lost notices: a few attempts per round. */
int weft__qx_poll_some(struct qexec *q, weft_error *err);
/* Running steps' uploaded log chunks, mirrored into their work folders. */
void weft__qx_mirror_live_logs(struct qexec *q);

#endif
