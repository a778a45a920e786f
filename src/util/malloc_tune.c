/* malloc_tune.c: glibc malloc settings for weft's processes (malloc_tune.h):
 * a trim threshold that stops heaps shrinking and growing back per request. */
#include "util/malloc_tune.h"

#include <malloc.h>

#define TRIM_THRESHOLD (8 << 20)

void weft_malloc_tune(void) { mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD); }
