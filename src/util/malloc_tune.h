/* malloc_tune.h: glibc malloc settings for weft's long-lived processes,
 * set once at start (weft_main, and the benchmarks that stand in for it). */
#ifndef WEFT_UTIL_MALLOC_TUNE_H
#define WEFT_UTIL_MALLOC_TUNE_H

/* Heaps of threads' arenas are trimmed only past 8 MB free at their top.
 * glibc's default (128 KB, raised only by large frees) gave a server
 * launching runs on 8 threads 1,576 madvise(MADV_DONTNEED) calls for 500
 * runs, each a TLB shootdown across cores of about 0.2 ms on this VM, to
 * give back pages the next request took again; with it, 8. RSS with
 * 10,000 runs in flight did not move (57-60 MB either way). */
void weft_malloc_tune(void);

#endif
