#!/usr/bin/env python3
"""bench/runs' API client: launches N one-step runs of JOB through
POST /api/v1/jobs/LOC/JOB/launch from THREADS threads (keep-alive), then
waits until every run is final. Prints one line of key=value figures:
runs_per_min counts until this client saw the last run final (its polling
included: one GET per run); server_runs_per_min until the last run's end
as the server recorded it (ended_ms)."""
import http.client, json, sys, threading, time, urllib.parse

url, loc, job, n, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
body = json.dumps({"run_config": json.loads(sys.argv[6])} if len(sys.argv) > 6 else {}).encode()
u = urllib.parse.urlparse(url)
ids, lock = [], threading.Lock()

def worker(k):
    c = http.client.HTTPConnection(u.hostname, u.port)
    for _ in range(k):
        c.request("POST", f"/api/v1/jobs/{loc}/{job}/launch", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        d = json.loads(r.read())
        with lock:
            ids.append(d.get("run_id"))

t0 = time.monotonic()
t0_wall_ms = time.time() * 1000
ts = [threading.Thread(target=worker, args=(n // threads + (i < n % threads),)) for i in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
t1 = time.monotonic()
c = http.client.HTTPConnection(u.hostname, u.port)
pending = set(i for i in ids if i)
status = {}
last_end_ms = 0
while pending and time.monotonic() - t1 < 600:
    for rid in list(pending)[:200]:
        c.request("GET", f"/api/v1/runs/{rid}")
        run = json.loads(c.getresponse().read()).get("run", {})
        st = run.get("status")
        if st in ("success", "failure", "canceled"):
            last_end_ms = max(last_end_ms, run.get("ended_ms") or 0)
            status[st] = status.get(st, 0) + 1
            pending.discard(rid)
    if pending: time.sleep(0.05)
t2 = time.monotonic()
print(f"runs={n} launched_s={t1 - t0:.2f} all_final_s={t2 - t0:.2f} "
      f"runs_per_min={n / (t2 - t0) * 60:.0f} "
      f"server_runs_per_min={n / max(1, last_end_ms - t0_wall_ms) * 60000:.0f} "
      f"statuses={json.dumps(status, separators=(',', ':'))} "
      f"not_final={len(pending)}")
