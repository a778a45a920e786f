/* mask.h: replaces known secret values with "***" in text and in byte
 * streams (compute logs), streaming-safe: a value cut across two writes is
 * still masked, because the stream holds back a possible start of a value
 * until the next bytes say whether it is one.
 *
 *   feed("...tok")  -> emits "..."        holds "tok" (a prefix of "token1")
 *   feed("en1 ok")  -> emits "*** ok"     holds nothing
 *   finish()        -> emits what is held (an unfinished prefix is no value)
 *
 * A value of several lines is masked whole and also line by line (a step
 * printing one line of a PEM key shows "***" for it). The longest value
 * wins where values overlap. Feeding allocates nothing, so the stream can
 * run in a forked child of a threaded process. */
#ifndef WEFT_UTIL_MASK_H
#define WEFT_UTIL_MASK_H

#include <stddef.h>

#define WEFT_MASK_TEXT "***"

struct weft_mask;

/* An empty set (masks nothing); NULL when out of memory. */
struct weft_mask *weft_mask_new(void);
void weft_mask_free(struct weft_mask *m); /* NULL is a no-op */
/* Adds a value (copied; an empty one, or one already there, is ignored).
 * WEFT_OK or WEFT_ENOMEM. */
int weft_mask_add(struct weft_mask *m, const char *value, size_t len);
/* Adds every value of other to m. WEFT_OK or WEFT_ENOMEM. */
int weft_mask_add_all(struct weft_mask *m, const struct weft_mask *other);
/* How many values m holds (lines of a value count apart); 0 for NULL. */
size_t weft_mask_count(const struct weft_mask *m);
/* The longest value's length (0 when empty or NULL). */
size_t weft_mask_max_len(const struct weft_mask *m);

/* A copy of text (len bytes) with every value replaced by "***", NUL
 * terminated, *out_len (may be NULL) its length; caller frees. NULL only
 * when out of memory. m may be NULL (a plain copy). */
char *weft_mask_bytes(const struct weft_mask *m, const char *text, size_t len, size_t *out_len);
/* Same for a C string. */
char *weft_mask_text(const struct weft_mask *m, const char *text);
/* Whether text (len bytes) holds any value of m. */
int weft_mask_hits(const struct weft_mask *m, const char *text, size_t len);

/* Where a stream's masked bytes go: returns 0, or -1 to stop the stream
 * (feed and finish then return WEFT_EIO). */
typedef int (*weft_mask_sink)(void *ctx, const char *data, size_t n);

struct weft_mask_stream {
  const struct weft_mask *m; /* borrowed; must outlive the stream */
  char *work;                /* held bytes, then the bytes being looked at */
  size_t held, cap, chunk;
};
/* Prepares a stream that takes at most chunk bytes per look (larger feeds
 * are cut up). WEFT_OK or WEFT_ENOMEM. m may be NULL or empty: bytes then
 * pass through unchanged. */
int weft_mask_stream_init(struct weft_mask_stream *s, const struct weft_mask *m, size_t chunk);
int weft_mask_stream_feed(struct weft_mask_stream *s, const char *data, size_t n,
                          weft_mask_sink sink, void *ctx);
/* Emits what the stream still holds; the stream is then empty (reusable). */
int weft_mask_stream_finish(struct weft_mask_stream *s, weft_mask_sink sink, void *ctx);
void weft_mask_stream_release(struct weft_mask_stream *s);

#endif
