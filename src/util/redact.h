/* redact.h: the one place that takes passwords out of storage and broker URLs
 * (and of messages that quote them) before they are printed anywhere. */
#ifndef WEFT_UTIL_REDACT_H
#define WEFT_UTIL_REDACT_H

#include <stddef.h>

/* s with every password in it replaced by "***":
 *   scheme://user:PASS@host/...   -> scheme://user:***@host/...
 *   ...?sslmode=x&password=PASS   -> ...?sslmode=x&password=***
 *   host=h password='a b' user=u  -> host=h password=*** user=u (libpq
 *                                    key/value conninfo, quoted or not)
 * anywhere in s (a message may hold several URLs). Caller frees; NULL when
 * s is NULL or out of memory. */
char *weft_redact(const char *s);

/* Replaces, in msg (a NUL-terminated text in cap bytes), each copy of a
 * password that url holds (as above) with "***": for messages a library
 * wrote, which may quote the password without the URL around it. */
void weft_redact_secrets_of(const char *url, char *msg, size_t cap);

#endif
