/* store_int.h: declarations shared by the files of src/store only: the
 * built-in backends and their schemas (the migrations, for tests). */
#ifndef WEFT_STORE_STORE_INT_H
#define WEFT_STORE_STORE_INT_H

#include <stddef.h>

#include "store/store.h"

/* The SQLite backend (store_sqlite.c), registered by store.c at first use. */
extern const struct weft_store_methods weft__store_sqlite_methods;

/* The SQLite schema as forward migrations (store_sqlite_schema.c):
 * weft__sqlite_migrations[i] brings a database from version i to i + 1, so
 * weft__sqlite_migration_count is the version this binary writes. Released
 * migrations never change; a schema change is a new entry at the end. */
extern const char *const weft__sqlite_migrations[];
extern const int weft__sqlite_migration_count;

/* The PostgreSQL backend (store_pg.c) and its schema (store_pg_schema.c),
 * with the same versions as SQLite's. */
extern const struct weft_store_methods weft__store_pg_methods;
extern const char *const weft__pg_migrations[];
extern const int weft__pg_migration_count;

/* store.c: appends one zeroed element of size elem to the array *v of *n
 * (capacity 8, then doubling at each power of two); NULL when out of
 * memory, *v and *n unchanged. The row lists of every backend grow so. */
void *weft__store_list_push(void **v, size_t *n, size_t elem);

/* store.c: an upper bound of every key that starts with prefix (the
 * caller frees it; NULL: out of memory), so a prefix query reads one range
 * of the key index (`key >= prefix AND key < bound`) instead of every key
 * after the prefix. *ascii (unless NULL) says it is the prefix with its
 * last byte, ASCII, raised by one: exact (all of weft's prefixes, as
 * "coordinator/inbox/").
 * Otherwise it is the prefix followed by U+10FFFF, which bounds every
 * valid UTF-8 key continuing the prefix but a database in another encoding
 * may not hold (PostgreSQL then reads from the prefix on, unbounded). The
 * prefix test stays in the query either way. */
char *weft__store_prefix_end(const char *prefix, int *ascii);

#endif
