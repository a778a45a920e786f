/* code_snapshot.h: the code a run executes: a content-addressed copy of its
 * location folder under $WEFT_HOME/code, shared by every run of a version.
 *
 *   $WEFT_HOME/code/VERSION/     the files of code version VERSION
 *                                (code_version.h), read-only
 *   $WEFT_HOME/code/tmp.XXXXXX/  a copy being made (renamed when complete)
 *
 * A snapshot is made once: copied into a temporary folder while hashing
 * the bytes copied, then renamed to its version, so a VERSION folder is
 * always complete and holds exactly the bytes its name hashes. Two
 * creators racing make the same folder; the loser removes its copy. A
 * launch whose version already exists only hashes the location and
 * touches the folder (its mtime is what `gc` treats as recent use). */
#ifndef WEFT_ENGINE_CODE_SNAPSHOT_H
#define WEFT_ENGINE_CODE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/code_version.h"
#include "engine/engine.h"

/* HOME/code/VERSION; NULL when version is not a valid code version or out
 * of memory. Caller frees. */
char *weft_code_dir(const char *home, const char *version);

/* Makes sure HOME/code holds a snapshot of the location folder src (the
 * instance home itself left out when it lies inside src): version
 * receives its code version, *dir (caller frees) its folder. */
int weft_code_snapshot(const char *home, const char *src,
                       char version[WEFT_CODE_VERSION_LEN + 1], char **dir, weft_error *err);

/* The code versions of the locations that launches made together (a
 * scheduler turn's, a server's launch batch) run: each location is
 * snapshotted at its first launch, and the others reuse its version
 * (weft_launch.code_version), so a thousand launches hash the folder once.
 * Its user resets it when a change to the folder must be seen: between
 * scheduler turns, and in the server at least every 100 ms and at every
 * reload of the workspace (launch_batch.c). */
struct weft_code_memo {
  struct {
    const struct weft_location *loc;
    char version[WEFT_CODE_VERSION_LEN + 1];
  } v[16];
  size_t n;
};
/* loc's version for this batch; NULL (the launch snapshots on its own and
 * reports what failed) when loc has no folder, the memo is full or the
 * snapshot failed. */
const char *weft_code_memo_version(struct weft_code_memo *m, const char *home,
                                   const struct weft_location *loc);
static inline void weft_code_memo_reset(struct weft_code_memo *m) { m->n = 0; }

/* Uses an existing snapshot (re-execution with its parent's code): touches
 * it so a concurrent gc keeps it, and returns its folder in *dir (caller
 * frees). A snapshot missing here is restored from the instance's artifact
 * store when that has it (code_ship.h: made on another machine, or removed
 * since). WEFT_ENOTFOUND, with a message saying so, when it is gone. */
int weft_code_reuse(const char *home, const char *version, char **dir, weft_error *err);

/* Loads location `name` as the snapshot of version holds it (caller frees
 * *out with weft_location_free): its errors, if any, are in its diags. It
 * carries the settings described below. */
int weft_code_load_location(const char *home, const char *version, const char *name,
                            const struct weft_location *settings,
                            struct weft_location **out, weft_error *err);

/* Loads location `name` as the snapshot of version holds it, and finds job
 * job_name in it. The location carries the per-location settings of
 * settings (may be NULL: none): env, python, image and workdir (a relative
 * workdir is resolved against settings->path, the live folder, as before),
 * and its env gains WEFT_CODE_DIR (the snapshot folder), WEFT_CODE_VERSION
 * and, with settings, WEFT_LOCATION_DIR (settings->path: the live folder,
 * for data kept next to the code). Returns WEFT_OK with *loc_out (caller frees with
 * weft_location_free) and *job_out (borrowed from it); WEFT_ENOTFOUND when
 * the snapshot is gone; WEFT_EINVALID when the job is absent from it or has
 * errors there (the first one, as file:line:col, in err). Only the ops and
 * jobs are loaded: *loc_out has no schedules or sensors. */
int weft_code_load_job(const char *home, const char *version, const char *name,
                       const char *job_name, const struct weft_location *settings,
                       struct weft_location **loc_out, const struct weft_job **job_out,
                       weft_error *err);

/* weft_code_load_job for a recorded run (its code version, location and
 * job), with the settings of its location in the registry (locreg.h) when
 * use_registry (a caller given no -w FILE or folders) and the registry has
 * it; otherwise none but the folder the run was launched from (its
 * run_queued event's location_path), as for a location loaded from a
 * folder. */
int weft_code_load_run_job(struct weft_instance *inst, const struct weft_run_row *run,
                           int use_registry, struct weft_location **loc_out,
                           const struct weft_job **job_out, weft_error *err);

/* The live folder of loc: its path, or when it was loaded from a snapshot
 * its WEFT_LOCATION_DIR (NULL when unknown). Borrowed from loc. */
const char *weft_code_live_path(const struct weft_location *loc);

/* 1 when loc was loaded from the snapshot folder of version. */
int weft_code_is_snapshot(const char *home, const char *version,
                          const struct weft_location *loc);

/* ---- a run's code, for its coordinator ----
 *
 * weft_run_execute drives a run with the job as the snapshot of the run's
 * code version holds it, whatever the caller loaded: the definitions, the
 * run config rebuilt from the run row against them (so config defaults are
 * the snapshot's), and steps started in the snapshot folder. */
struct weft_run_code {
  struct weft_location *loc; /* loaded from the snapshot, or NULL */
  struct weft_run_config rc; /* rebuilt against loc's job (when loc) */
  int have_rc;
  unsigned char *in_run;     /* l->in_run mapped onto loc's job by name */
  struct weft_launch launch; /* l with the above */
};

/* Fills code and points *use at the launch to drive run_id with: l itself
 * when the run has no code version, is no longer queued, or l->job already
 * comes from its snapshot; else code->launch. Steps of the snapshot's job
 * that l->in_run does not know run again. Fails when the snapshot is gone
 * or its job does not fit the run. Release code with weft_run_code_release
 * (also after a failure). */
int weft_run_code_prepare(struct weft_instance *inst, const char *run_id,
                          const struct weft_launch *l, struct weft_run_code *code,
                          const struct weft_launch **use, weft_error *err);
void weft_run_code_release(struct weft_run_code *code);

/* Removes the snapshots under HOME/code that no run references: versions
 * that no run row names (with include_final, that no unfinished run
 * names), unless used within the last min_age_ms; temporary folders left by
 * a crash older than max(min_age_ms, 10 min). A snapshot is first renamed
 * away, then checked for recent use again, so a launch reusing it at that
 * moment either keeps it or makes it anew. dry_run only counts. on_remove
 * (may be NULL) is called with each version removed. A removed version's
 * archive in the artifact store (code_ship.h) is deleted too. */
struct weft_code_gc_stats {
  size_t removed, kept;
  uint64_t bytes_removed;
};
int weft_code_gc(struct weft_instance *inst, int64_t min_age_ms, int include_final,
                 int dry_run, void (*on_remove)(void *data, const char *version),
                 void *data, struct weft_code_gc_stats *stats, weft_error *err);

#endif
