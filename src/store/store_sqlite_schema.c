/* store_sqlite_schema.c: the SQLite schema as an ordered list of forward
 * migrations; entry i takes a database from version i to i + 1. Never edit a
 * released entry: append a new one (postgres keeps the same tables). */
#include "store/store_int.h"

const char *const weft__sqlite_migrations[] = {
    /* 1: runs, their steps and event log, and key/value state. Statuses are
     * stored by name so the database reads well in the sqlite3 shell. */
    "CREATE TABLE schema_version (version INTEGER NOT NULL);\n"
    "CREATE TABLE runs (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  job TEXT NOT NULL,\n"
    "  location TEXT,\n"
    "  status TEXT NOT NULL,\n"
    "  run_config TEXT NOT NULL DEFAULT '{}',\n"
    "  tags TEXT NOT NULL DEFAULT '{}',\n"
    "  parent_run_id TEXT,\n"
    "  root_run_id TEXT,\n"
    "  code_version TEXT,\n"
    "  message TEXT,\n"
    "  created_ms INTEGER NOT NULL,\n"
    "  started_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  coordinator TEXT,\n"
    "  heartbeat_ms INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX runs_created ON runs (created_ms, id);\n"
    "CREATE INDEX runs_job_created ON runs (job, created_ms, id);\n"
    "CREATE INDEX runs_status_created ON runs (status, created_ms, id);\n"
    "CREATE TABLE steps (\n"
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  step TEXT NOT NULL,\n"
    "  attempt INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL,\n"
    "  started_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  ended_ms INTEGER NOT NULL DEFAULT 0,\n"
    "  pid INTEGER NOT NULL DEFAULT 0,\n"
    "  message TEXT,\n"
    "  worker TEXT,\n"
    "  PRIMARY KEY (run_id, step, attempt)\n"
    ") WITHOUT ROWID;\n"
    /* AUTOINCREMENT: ids are never reused, even after deletes, so an id
     * stays a valid cursor for readers. */
    "CREATE TABLE events (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,\n"
    "  step TEXT,\n"
    "  type TEXT NOT NULL,\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  payload TEXT NOT NULL DEFAULT '{}'\n"
    ");\n"
    "CREATE INDEX events_run_id ON events (run_id, id);\n"
    "CREATE TABLE kv (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL,\n"
    "  updated_ms INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n",

    /* 2: state of the scheduler (schedules, their ticks, sensor cursors) and
     * the worker registry. UNIQUE (schedule, tick_ms) makes a tick
     * idempotent: two schedulers cannot both launch the same tick. */
    "CREATE TABLE schedules (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  location TEXT,\n"
    "  job TEXT NOT NULL,\n"
    "  state TEXT NOT NULL DEFAULT 'running',\n"
    "  cursor TEXT,\n"
    "  updated_ms INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE ticks (\n"
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "  schedule TEXT NOT NULL,\n"
    "  tick_ms INTEGER NOT NULL,\n"
    "  status TEXT NOT NULL,\n"
    "  run_id TEXT,\n"
    "  message TEXT,\n"
    "  UNIQUE (schedule, tick_ms)\n"
    ");\n"
    "CREATE TABLE sensor_cursors (\n"
    "  name TEXT PRIMARY KEY,\n"
    "  cursor TEXT,\n"
    "  updated_ms INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE workers (\n"
    "  id TEXT PRIMARY KEY,\n"
    "  host TEXT,\n"
    "  queues TEXT NOT NULL DEFAULT '[]',\n"
    "  concurrency INTEGER NOT NULL DEFAULT 1,\n"
    "  running INTEGER NOT NULL DEFAULT 0,\n"
    "  heartbeat_ms INTEGER NOT NULL DEFAULT 0\n"
    ");\n",

    /* 3: retention. run_marks: a run's pin and which parts retention
     * already removed; materializations: summary rows of the
     * materialization events of purged runs (keyed by the event's id), so
     * an asset's history outlives its runs. runs_ended serves the scan for
     * purge candidates, runs_parent the "has a re-execution" test. */
    "CREATE TABLE run_marks (\n"
    "  run_id TEXT PRIMARY KEY,\n"
    "  pinned INTEGER NOT NULL DEFAULT 0,\n"
    "  purged INTEGER NOT NULL DEFAULT 0,\n"
    "  updated_ms INTEGER NOT NULL DEFAULT 0\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE materializations (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  asset TEXT NOT NULL,\n"
    "  run_id TEXT NOT NULL,\n"
    "  job TEXT,\n"
    "  step TEXT,\n"
    "  ts_ms INTEGER NOT NULL,\n"
    "  payload TEXT NOT NULL DEFAULT '{}'\n"
    ");\n"
    "CREATE INDEX materializations_asset ON materializations (asset, id);\n"
    "CREATE INDEX runs_ended ON runs (ended_ms, id);\n"
    "CREATE INDEX runs_parent ON runs (parent_run_id);\n",

    /* 4: run leases. The coordinator that drives a run holds it by a
     * lease (owner, expiry) renewed in its group commits; a sweep adopts
     * a run whose lease expired (engine/run_adopt.c). No foreign key: a
     * lease outlives nothing, the run's end releases it. */
    "CREATE TABLE run_leases (\n"
    "  run_id TEXT PRIMARY KEY,\n"
    "  owner TEXT NOT NULL,\n"
    "  expires_ms INTEGER NOT NULL,\n"
    "  acquired_ms INTEGER NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE INDEX run_leases_owner ON run_leases (owner);\n",
};

const int weft__sqlite_migration_count =
    (int)(sizeof weft__sqlite_migrations / sizeof weft__sqlite_migrations[0]);
