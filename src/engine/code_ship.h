/* code_ship.h: code snapshots (code_snapshot.h) travel to workers through the
 * instance's artifact store, so a worker never needs the coordinator's disk.
 *
 *   artifact store  code/VERSION.tar.gz   the snapshot of VERSION, a gzip'd
 *                                         tar of its files, folders and links
 *                                         (published once: head, then put)
 *   worker cache    DIR/VERSION/          unpacked, verified, read-only
 *                   DIR/VERSION.lock      flock: shared while a step uses
 *                                         VERSION, exclusive to fetch or evict
 *                   DIR/tmp.XXXXXX/       a fetch under way (renamed when
 *                                         complete and verified)
 *
 * A fetched archive is trusted only after its unpacked files hash to the
 * version it was fetched for (code_version.h), and only if it holds nothing
 * a snapshot cannot hold (hidden names, build folders, links that point out,
 * hard links, devices): a corrupt or tampered archive fails the step with a
 * message naming the version and what is wrong. */
#ifndef WEFT_ENGINE_CODE_SHIP_H
#define WEFT_ENGINE_CODE_SHIP_H

#include <stdint.h>

#include "artifacts/artifacts.h"
#include "engine/code_version.h"

/* "code/VERSION.tar.gz" (caller frees); NULL when version is not a code
 * version or out of memory. */
char *weft_code_archive_key(const char *version);

/* Packs the files, folders and links under dir into a gzip'd tar at archive
 * (created or replaced), paths relative to dir, sorted. */
int weft_code_pack(const char *dir, const char *archive, weft_error *err);

/* Unpacks archive into dir (an existing, empty folder): files 0444 (0555
 * with an execute bit), folders writable until weft_code_seal. Refuses
 * (WEFT_EINVALID, naming the entry) what a snapshot cannot hold, and
 * stops at max_bytes of file contents (0: no bound). */
int weft_code_unpack(const char *archive, const char *dir, uint64_t max_bytes,
                     weft_error *err);

/* WEFT_OK when the files under dir hash to version, else WEFT_EINVALID
 * saying which version the files are. */
int weft_code_verify(const char *dir, const char *version, weft_error *err);

/* Makes every folder under dir (and dir) read-only: chmod a-w. */
int weft_code_seal(const char *dir, weft_error *err);

/* rm -rf of a sealed tree (its folders made writable first). */
int weft_code_remove(const char *dir, weft_error *err);

/* Publishes the snapshot folder dir of version under its key unless the
 * store has it (one head request then). The archive is built in tmp_dir.
 * *uploaded (may be NULL) is 1 when it was put. */
int weft_code_publish(struct weft_artifacts *a, const char *dir, const char *version,
                      const char *tmp_dir, int *uploaded, weft_error *err);

/* Publishes the snapshot dir of version, just made or reused by a launch,
 * when machines other than this one may need it: the instance (HOME's
 * weft.yaml) names a broker (or $WEFT_BROKER_URL is set) or an artifact
 * store that is not a local folder. Done once per version and machine:
 * HOME/code/VERSION.published marks it (a stat on later launches). */
int weft_code_share(const char *home, const char *version, const char *dir, weft_error *err);

/* Removes the mark of weft_code_share (gc removes the version). */
void weft__code_forget_published(const char *home, const char *version);

/* Makes HOME/code/VERSION again from the instance's artifact store (HOME's
 * weft.yaml names it) when a coordinator lacks a snapshot it needs: one
 * made on another machine (a server replica, a scheduler elsewhere) or
 * removed since. Verified as a worker's fetch is; the folder appears by
 * rename, complete. WEFT_ENOTFOUND when the store does not have it. */
int weft_code_restore(const char *home, const char *version, weft_error *err);

/* ---- a worker's cache of code versions ------------------------------------ */

struct weft_code_cache;

struct weft_code_cache_stats {
  uint64_t hits;      /* acquires served from the folder */
  uint64_t fetches;   /* versions this process fetched */
  uint64_t waits;     /* fetches found done by another process meanwhile */
  uint64_t evictions; /* versions this process removed */
};

/* Opens (creating) the cache folder dir, bounded to max_bytes of unpacked
 * files (0: no bound). Several processes may share one folder. */
int weft_code_cache_open(const char *dir, uint64_t max_bytes, struct weft_code_cache **out,
                         weft_error *err);
void weft_code_cache_close(struct weft_code_cache *c); /* NULL is a no-op */

/* Makes version's code available under the cache and holds it (a shared
 * lock: no process evicts it) until weft_code_cache_release. Fetches it
 * from a when absent (one fetcher per version at a time: the others wait
 * for it), verifies it and, after a fetch, evicts the least recently used
 * versions nobody holds until the cache fits its bound. *path (borrowed,
 * valid until the release) is its folder; *fetched (may be NULL) 1 when
 * this call downloaded it. WEFT_ENOTFOUND when the store lacks it. */
int weft_code_cache_acquire(struct weft_code_cache *c, struct weft_artifacts *a,
                            const char *version, const char **path, int *fetched,
                            weft_error *err);
void weft_code_cache_release(struct weft_code_cache *c, const char *version);

const struct weft_code_cache_stats *weft_code_cache_stats(const struct weft_code_cache *c);

/* Runs eviction now (what acquire does after a fetch); keep (may be NULL)
 * is never evicted. Bytes the cache holds afterwards in *bytes (may be
 * NULL). */
int weft_code_cache_trim(struct weft_code_cache *c, const char *keep, uint64_t *bytes,
                         weft_error *err);

#endif
