/* mask.c: the set of secret values to hide and the scanner that hides
 * them, in whole texts and in streams (mask.h). The scanner looks only at
 * positions whose byte can start a value (a 256-bit table), so text that
 * holds no value costs one table lookup per byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mask.h"
#include "weft.h"

/* Lines of a multi-line value shorter than this are not masked alone: a
 * lone "}" or "" would hide half of every log. */
#define LINE_MIN 4

struct mask_value {
  char *s;
  size_t len;
};

struct weft_mask {
  struct mask_value *v; /* longest first */
  size_t n, cap;
  uint8_t first[32];    /* bit c: some value starts with byte c */
};

struct weft_mask *weft_mask_new(void) { return calloc(1, sizeof(struct weft_mask)); }

void weft_mask_free(struct weft_mask *m) {
  if (!m) return;
  for (size_t i = 0; i < m->n; i++) {
    /* The values are secrets: do not leave them in freed memory. */
    memset(m->v[i].s, 0, m->v[i].len);
    free(m->v[i].s);
  }
  free(m->v);
  free(m);
}

size_t weft_mask_count(const struct weft_mask *m) { return m ? m->n : 0; }

size_t weft_mask_max_len(const struct weft_mask *m) { return m && m->n ? m->v[0].len : 0; }

/* Inserts one value, keeping the longest first. */
static int add_one(struct weft_mask *m, const char *value, size_t len) {
  if (!len) return WEFT_OK;
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].len == len && !memcmp(m->v[i].s, value, len)) return WEFT_OK;
  if (m->n == m->cap) {
    size_t cap = m->cap ? 2 * m->cap : 8;
    struct mask_value *v = realloc(m->v, cap * sizeof *v);
    if (!v) return WEFT_ENOMEM;
    m->v = v;
    m->cap = cap;
  }
  char *copy = malloc(len);
  if (!copy) return WEFT_ENOMEM;
  memcpy(copy, value, len);
  size_t at = 0;
  while (at < m->n && m->v[at].len >= len) at++;
  memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof *m->v);
  m->v[at].s = copy;
  m->v[at].len = len;
  m->n++;
  unsigned char c = (unsigned char)value[0];
  m->first[c >> 3] |= (uint8_t)(1u << (c & 7));
  return WEFT_OK;
}

int weft_mask_add(struct weft_mask *m, const char *value, size_t len) {
  int rc = add_one(m, value, len);
  if (rc || !memchr(value, '\n', len)) return rc;
  /* Each line too: a step may print one line of a multi-line value. */
  for (size_t start = 0; start < len && !rc;) {
    const char *nl = memchr(value + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - value) : len, stop = end;
    if (stop > start && value[stop - 1] == '\r') stop--;
    if (stop - start >= LINE_MIN) rc = add_one(m, value + start, stop - start);
    start = end + 1;
  }
  return rc;
}

int weft_mask_add_all(struct weft_mask *m, const struct weft_mask *other) {
  for (size_t i = 0; other && i < other->n; i++) {
    int rc = add_one(m, other->v[i].s, other->v[i].len);
    if (rc) return rc;
  }
  return WEFT_OK;
}

/* Masks p[0, n) into sink. Not final: stops at a position where the bytes
 * left are the start of a value (*used says where; the caller keeps the
 * rest for the next call). Final: an unfinished start is plain text. */
static int scan(const struct weft_mask *m, const char *p, size_t n, int final,
                weft_mask_sink sink, void *ctx, size_t *used) {
  size_t i = 0, run = 0;
  while (i < n) {
    unsigned char c = (unsigned char)p[i];
    if (!(m->first[c >> 3] & (1u << (c & 7)))) {
      i++;
      continue;
    }
    size_t avail = n - i, hit_len = 0;
    int partial = 0;
    /* Longest first: a longer value that may still be coming is waited
     * for even when a shorter one is complete here. */
    for (size_t k = 0; k < m->n && !hit_len && !partial; k++) {
      const struct mask_value *v = &m->v[k];
      if ((unsigned char)v->s[0] != c) continue;
      if (avail >= v->len) {
        if (!memcmp(p + i, v->s, v->len)) hit_len = v->len;
      } else if (!final && !memcmp(p + i, v->s, avail)) {
        partial = 1;
      }
    }
    if (!hit_len && !partial) {
      i++;
      continue;
    }
    if (i > run && sink(ctx, p + run, i - run)) return WEFT_EIO;
    if (partial) {
      *used = i;
      return WEFT_OK;
    }
    if (sink(ctx, WEFT_MASK_TEXT, sizeof WEFT_MASK_TEXT - 1)) return WEFT_EIO;
    i += hit_len;
    run = i;
  }
  if (n > run && sink(ctx, p + run, n - run)) return WEFT_EIO;
  *used = n;
  return WEFT_OK;
}

static int buf_sink(void *ctx, const char *data, size_t n) {
  return weft_buf_add(ctx, data, n) ? -1 : 0;
}

char *weft_mask_bytes(const struct weft_mask *m, const char *text, size_t len, size_t *out_len) {
  struct weft_buf b = WEFT_BUF_INIT;
  size_t used = 0;
  int rc = m && m->n ? scan(m, text, len, 1, buf_sink, &b, &used) : weft_buf_add(&b, text, len);
  char *out = rc ? NULL : weft_buf_detach(&b, out_len);
  weft_buf_release(&b);
  return out;
}

char *weft_mask_text(const struct weft_mask *m, const char *text) {
  return weft_mask_bytes(m, text, strlen(text), NULL);
}

int weft_mask_hits(const struct weft_mask *m, const char *text, size_t len) {
  if (!m || !m->n) return 0;
  for (size_t k = 0; k < m->n; k++)
    if (m->v[k].len <= len && memmem(text, len, m->v[k].s, m->v[k].len)) return 1;
  return 0;
}

int weft_mask_stream_init(struct weft_mask_stream *s, const struct weft_mask *m, size_t chunk) {
  memset(s, 0, sizeof *s);
  s->m = m;
  s->chunk = chunk ? chunk : 65536;
  size_t max = weft_mask_max_len(m);
  if (!max) return WEFT_OK;
  s->cap = max - 1 + s->chunk;
  return (s->work = malloc(s->cap)) ? WEFT_OK : WEFT_ENOMEM;
}

int weft_mask_stream_feed(struct weft_mask_stream *s, const char *data, size_t n,
                          weft_mask_sink sink, void *ctx) {
  if (!s->work) return n && sink(ctx, data, n) ? WEFT_EIO : WEFT_OK;
  while (n) {
    size_t take = n < s->chunk ? n : s->chunk, used = 0;
    memcpy(s->work + s->held, data, take);
    size_t total = s->held + take;
    int rc = scan(s->m, s->work, total, 0, sink, ctx, &used);
    if (rc) return rc;
    /* What is held is a strict prefix of a value: shorter than the
     * longest, so it and the next chunk always fit in work. */
    memmove(s->work, s->work + used, total - used);
    s->held = total - used;
    data += take;
    n -= take;
  }
  return WEFT_OK;
}

int weft_mask_stream_finish(struct weft_mask_stream *s, weft_mask_sink sink, void *ctx) {
  size_t used = 0;
  if (!s->work || !s->held) return WEFT_OK;
  int rc = scan(s->m, s->work, s->held, 1, sink, ctx, &used);
  s->held = 0;
  return rc;
}

void weft_mask_stream_release(struct weft_mask_stream *s) {
  if (s->work) memset(s->work, 0, s->cap);
  free(s->work);
  memset(s, 0, sizeof *s);
}
