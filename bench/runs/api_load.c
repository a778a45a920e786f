/* api_load.c: bench/runs' API load generator: N launches of a one-step job
 * through POST /api/v1/jobs/LOC/JOB/launch from T threads, then a wait for
 * every run to be final. A C client, so that the machine's cores go to the
 * server measured rather than to a Python client's interpreter (the
 * Python client, api_client.py, took a third of a 2-core machine).
 *
 * Usage: bench_runs_api URL LOC JOB N THREADS [RUN_CONFIG_JSON]
 * Prints one line of key=value figures, as api_client.py does:
 * runs_per_min counts until this client saw the last run final (one GET a
 * run while polling); server_runs_per_min until the last run's end as the
 * server recorded it (ended_ms); client_cpu_s is this process's CPU. */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct body {
  char *p;
  size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud) {
  struct body *b = ud;
  size_t k = size * nmemb;
  char *np = realloc(b->p, b->n + k + 1);
  if (!np) return 0;
  memcpy(np + b->n, ptr, k);
  b->p = np;
  b->n += k;
  b->p[b->n] = 0;
  return k;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long long wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct launcher {
  pthread_t th;
  const char *url;     /* the launch route */
  const char *payload; /* the request body */
  int from, count;     /* its share of the run ids */
  char **ids;          /* shared: each thread writes its own slots */
  int failed;
};

/* One GET or POST on handle h (keep-alive: the handle keeps its
 * connection); the answer's JSON, or NULL with a message on stderr. */
static json_t *request(CURL *h, const char *url, const char *payload) {
  struct body b = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
  if (payload) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }
  CURLcode c = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  json_t *doc = c == CURLE_OK && b.p ? json_loads(b.p, 0, NULL) : NULL;
  if (!doc || code >= 300)
    fprintf(stderr, "api_load: %s: %s %ld %s\n", url, curl_easy_strerror(c), code,
            b.p ? b.p : "");
  free(b.p);
  if (code >= 300) {
    json_decref(doc);
    return NULL;
  }
  return doc;
}

static CURL *handle(struct curl_slist *headers) {
  CURL *h = curl_easy_init();
  if (!h) return NULL;
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  return h;
}

static void *launch_main(void *arg) {
  struct launcher *w = arg;
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  CURL *h = handle(headers);
  for (int i = 0; h && i < w->count; i++) {
    json_t *doc = request(h, w->url, w->payload);
    const char *id = json_string_value(json_object_get(doc, "run_id"));
    w->ids[w->from + i] = id ? strdup(id) : NULL;
    w->failed += !id;
    json_decref(doc);
  }
  if (!h) w->failed = w->count;
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s URL LOC JOB N THREADS [RUN_CONFIG_JSON]\n", argv[0]);
    return 2;
  }
  const char *base = argv[1];
  int n = atoi(argv[4]), threads = atoi(argv[5]);
  if (n <= 0 || threads <= 0 || threads > 256) {
    fprintf(stderr, "api_load: N and THREADS must be positive (THREADS at most 256)\n");
    return 2;
  }
  char payload[4096], url[1024];
  snprintf(payload, sizeof payload, "{\"run_config\": %s}", argc > 6 ? argv[6] : "{}");
  snprintf(url, sizeof url, "%s/api/v1/jobs/%s/%s/launch", base, argv[2], argv[3]);
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
  char **ids = calloc((size_t)n, sizeof *ids);
  struct launcher *ws = calloc((size_t)threads, sizeof *ws);
  if (!ids || !ws) return 1;

  double t0 = now_s();
  long long t0_wall = wall_ms();
  for (int i = 0, from = 0; i < threads; i++) {
    ws[i] = (struct launcher){.url = url, .payload = payload, .from = from, .ids = ids};
    ws[i].count = n / threads + (i < n % threads);
    from += ws[i].count;
    if (pthread_create(&ws[i].th, NULL, launch_main, &ws[i])) return 1;
  }
  int failed = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ws[i].th, NULL);
    failed += ws[i].failed;
  }
  double t1 = now_s();

  /* Every run polled until final, oldest first, a pause between rounds
   * that found runs still going. */
  struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
  CURL *h = handle(headers);
  int pending = 0, success = 0, failure = 0, canceled = 0;
  long long last_end = 0;
  for (int i = 0; i < n; i++) pending += ids[i] != NULL;
  while (h && pending && now_s() - t1 < 600) {
    for (int i = 0; i < n; i++) {
      if (!ids[i]) continue;
      char rurl[1024];
      snprintf(rurl, sizeof rurl, "%s/api/v1/runs/%s", base, ids[i]);
      json_t *doc = request(h, rurl, NULL);
      json_t *run = json_object_get(doc, "run");
      const char *st = json_string_value(json_object_get(run, "status"));
      int final = st && (!strcmp(st, "success") || !strcmp(st, "failure") ||
                         !strcmp(st, "canceled"));
      if (final) {
        long long end = (long long)json_integer_value(json_object_get(run, "ended_ms"));
        if (end > last_end) last_end = end;
        success += !strcmp(st, "success");
        failure += !strcmp(st, "failure");
        canceled += !strcmp(st, "canceled");
        free(ids[i]);
        ids[i] = NULL;
        pending--;
      }
      json_decref(doc);
      if (!final) break; /* the later ones are no further along */
    }
    if (pending) nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
  double t2 = now_s();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  long long span = last_end - t0_wall;
  printf("runs=%d launched_s=%.2f all_final_s=%.2f runs_per_min=%.0f server_runs_per_min=%.0f "
         "statuses={\"success\":%d,\"failure\":%d,\"canceled\":%d} not_final=%d "
         "launch_errors=%d client_cpu_s=%.2f\n",
         n, t1 - t0, t2 - t0, n / (t2 - t0) * 60, n / (double)(span > 0 ? span : 1) * 60000,
         success, failure, canceled, pending, failed, cpu);
  for (int i = 0; i < n; i++) free(ids[i]);
  free(ids);
  free(ws);
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return failed || pending ? 1 : 0;
}
