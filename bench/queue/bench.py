"""bench.py: 2,000 no-op steps over 4 worker processes on one RabbitMQ, weft
(`weft worker`, execution queue) against Celery (python3-celery), in one run.

Two weft rows per storage: the op `run: "true"` (each step starts sh), and the
like-for-like one: a C op `noop` (c_function) that runs in-process on warm
workers built with weft_main (bench/queue/noop_worker.c), as Celery's no-op
task runs inside its warm worker.

Prints wall time, steps/s and per-step overhead side by side (median of N
repeats), the ratio to Celery, and the idle memory of one worker process.
Run with Debian's /usr/bin/python3 (Celery is importable only there); the
bench/queue/run script starts RabbitMQ (and PostgreSQL) and calls this.

Usage: bench.py --weft PATH --amqp URL --out DIR [--noop-worker PATH] [--pg URL] [--steps 2000]
                [--workers 4] [--repeats 3] [--celery-pool solo|prefork|both]
                [--baseline-weft PATH]

--baseline-weft: another build of weft (e.g. the commit before a change)
whose `true` row runs in the same session, so that a change is measured
against the same load as Celery and the new build.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    sys.stderr.write(f"  {msg}\n")
    sys.stderr.flush()


def rss_kb(pid):
    """Resident set of one process, in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def tree_rss_kb(pid):
    return rss_kb(pid) + sum(tree_rss_kb(c) for c in children(pid))


def stop_all(procs, grace=15.0):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.time() + grace
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- Celery ------------------------------------------------------------------

def celery_workers(a, pool, env):
    """Starts a.workers worker processes' worth of Celery; returns the Popens."""
    base = ["/usr/bin/python3", "-m", "celery", "-A", "celery_app", "worker",
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "-Q", "weftbench"]
    logf = open(os.path.join(a.out, f"celery-{pool}.log"), "w")
    if pool == "solo":
        return [subprocess.Popen(base + ["--pool", "solo", "-n", f"w{i}@bench"],
                                 cwd=HERE, env=env, stdout=logf, stderr=logf)
                for i in range(a.workers)]
    return [subprocess.Popen(base + ["--pool", "prefork", "--concurrency", str(a.workers),
                                     "-n", "w0@bench"],
                             cwd=HERE, env=env, stdout=logf, stderr=logf)]


def bench_celery(a, pool, task_name="noop"):
    env = dict(os.environ, BENCH_AMQP_URL=a.amqp, PYTHONPATH=HERE)
    sys.path.insert(0, HERE)
    os.environ["BENCH_AMQP_URL"] = a.amqp
    from celery import group  # noqa: E402  (Debian's python only)
    import celery_app  # noqa: E402
    app, task = celery_app.app, getattr(celery_app, task_name)

    app.control.purge()
    procs = celery_workers(a, pool, env)
    try:
        want = a.workers if pool == "solo" else 1
        deadline = time.time() + 60
        while True:
            replies = app.control.ping(timeout=0.5) or []
            if len(replies) >= want:
                break
            if time.time() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"celery workers ({pool}) did not come up; "
                                   f"see {a.out}/celery-{pool}.log")
        time.sleep(1)
        idle = [tree_rss_kb(p.pid) for p in procs]
        group(task.s() for _ in range(100)).apply_async().get(timeout=120)  # warm-up
        times = []
        for r in range(a.repeats):
            t0 = time.perf_counter()
            res = group(task.s() for _ in range(a.steps)).apply_async()
            res.get(timeout=600)
            t = time.perf_counter() - t0
            times.append(t)
            log(f"celery ({pool}, {task_name}) run {r + 1}: {t:.3f} s")
        busy = [tree_rss_kb(p.pid) for p in procs]
    finally:
        stop_all(procs)
    return statistics.median(times), sum(idle) / a.workers, sum(busy) / a.workers


# ---- weft --------------------------------------------------------------------

def write_location(root, n):
    loc = os.path.join(root, "loc")
    os.makedirs(os.path.join(loc, "ops"), exist_ok=True)
    os.makedirs(os.path.join(loc, "jobs"), exist_ok=True)
    with open(os.path.join(loc, "ops", "noop.yaml"), "w") as f:
        f.write("noop:\n  description: does nothing (the benchmark's unit of work)\n"
                "  run: \"true\"\n"
                "cnoop:\n  description: does nothing, in-process (a C op of noop_worker)\n"
                "  c_function: noop\n")
    # The function Celery runs, as a weft Python op: a warm pool child runs
    # its steps one after another (steps_per_child), as a prefork child does.
    with open(os.path.join(loc, "ops", "pynoop.py"), "w") as f:
        f.write("from weft import op\n\n\n@op(steps_per_child=100000)\n"
                "def pynoop() -> None:\n    return None\n")
    for name, count, op in (("fanout", n, "noop"), ("warmup", 20, "noop"),
                            ("fanout_c", n, "cnoop"), ("warmup_c", 20, "cnoop"),
                            ("fanout_py", n, "pynoop"), ("warmup_py", 20, "pynoop")):
        with open(os.path.join(loc, "jobs", name + ".yaml"), "w") as f:
            f.write(f"description: {count} independent no-op steps\ngraph:\n")
            for i in range(count):
                f.write(f"  s{i:05d}: {op}\n")
    with open(os.path.join(root, "workspace.yaml"), "w") as f:
        f.write("locations:\n  - loc\n")
    with open(os.path.join(root, "queue.yaml"), "w") as f:
        f.write("execution:\n  queue: {}\n")
    return os.path.join(root, "workspace.yaml"), os.path.join(root, "queue.yaml")


def weft_home(a, name, storage):
    home = os.path.join(a.out, "home-" + name)
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(home)
    with open(os.path.join(home, "weft.yaml"), "w") as f:
        f.write(f"storage:\n{storage}artifacts:\n  filesystem:\n    path: artifacts\n"
                f"broker:\n  rabbitmq:\n    url: {a.amqp}\n")
    return home


def run_weft(a, env, args, what):
    t0 = time.perf_counter()
    r = subprocess.run([a.weft] + args, env=env, cwd=a.out, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    t = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{what} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    return t


def wait_consumers(a, env, want):
    """Waits until the default queue has `want` consumers (weft queue stats)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        r = subprocess.run([a.weft, "queue", "stats", "--format", "json"], env=env,
                           cwd=a.out, capture_output=True, text=True)
        if r.returncode == 0:
            try:
                qs = json.loads(r.stdout).get("queues", [])
                if any(q.get("name") == "default" and q.get("consumers", 0) >= want
                       for q in qs):
                    return
            except ValueError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"{want} weft workers did not attach to queue 'default'")


def cpu_s(pid):
    """utime + stime of one process (s), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def bench_weft(a, name, storage, worker_bin=None, job="fanout", local=True, warm=None):
    """worker_bin None: `weft worker` and the `true` op; else that binary's
    worker and job (C ops in-process). Returns the median wall time, idle and
    busy RSS, the multiprocess time (only for `true`) and CPU ms/step of the
    workers and of the coordinator in the last repeat."""
    home = weft_home(a, name, storage)
    env = dict(os.environ, WEFT_HOME=home)
    ws, cfg = a.ws, a.queue_cfg
    run_weft(a, env, ["instance", "migrate"], "weft instance migrate")
    logf = open(os.path.join(a.out, f"weft-{name}-workers.log"), "w")
    procs = [subprocess.Popen([worker_bin or a.weft, "worker", "--queue", "default",
                               "--concurrency", "1",
                               "--broker", a.amqp], env=env, cwd=a.out,
                              stdout=logf, stderr=logf)
             for _ in range(a.workers)]
    try:
        wait_consumers(a, env, a.workers)
        time.sleep(1)
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a weft worker exited; see {logf.name}")
        idle = [rss_kb(p.pid) for p in procs]
        warm = warm or ("warmup_c" if worker_bin else "warmup")
        run_weft(a, env, ["launch", "-w", ws, warm, "--quiet", "-c", cfg], "warm-up")
        times = []
        for r in range(a.repeats):
            w0 = sum(cpu_s(p.pid) for p in procs)
            c0 = os.times()
            t = run_weft(a, env, ["launch", "-w", ws, job, "--quiet", "-c", cfg],
                         f"weft launch ({name}, {job})")
            c1 = os.times()
            cpu = ((sum(cpu_s(p.pid) for p in procs) - w0) * 1000 / a.steps,
                   (c1.children_user + c1.children_system - c0.children_user
                    - c0.children_system) * 1000 / a.steps)
            times.append(t)
            log(f"weft queue ({name}, {job}) run {r + 1}: {t:.3f} s; CPU ms/step: "
                f"workers {cpu[0]:.3f}, coordinator {cpu[1]:.3f}")
        busy = [rss_kb(p.pid) for p in procs]
    finally:
        stop_all(procs)
    if worker_bin or not local:
        return (statistics.median(times), sum(idle) / a.workers, sum(busy) / a.workers,
                None, cpu)
    local = []
    for r in range(a.repeats):
        local.append(run_weft(a, env, ["launch", "-w", ws, "fanout", "--quiet", "--set",
                                       f"execution.multiprocess.max_concurrent={a.workers}"],
                              f"weft multiprocess ({name})"))
    log(f"weft multiprocess ({name}): {statistics.median(local):.3f} s")
    return (statistics.median(times), sum(idle) / a.workers, sum(busy) / a.workers,
            statistics.median(local), cpu)


# ---- report ------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--amqp", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pg")
    ap.add_argument("--noop-worker", help="bench/queue/noop_worker built (weft_main + C op noop)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--celery-pool", default="both", choices=["solo", "prefork", "both"])
    ap.add_argument("--skip-celery", action="store_true")
    ap.add_argument("--skip-weft", action="store_true")
    ap.add_argument("--baseline-weft", help="another weft build: its `true` row, same run")
    a = ap.parse_args()
    a.weft, a.out = os.path.abspath(a.weft), os.path.abspath(a.out)
    if a.baseline_weft:
        a.baseline_weft = os.path.abspath(a.baseline_weft)
    if a.noop_worker:
        a.noop_worker = os.path.abspath(a.noop_worker)
    os.makedirs(a.out, exist_ok=True)
    a.ws, a.queue_cfg = write_location(a.out, a.steps)

    load_before = os.getloadavg()[0]
    rows, rss = [], []
    pools = [] if a.skip_celery else (["solo", "prefork"] if a.celery_pool == "both"
                                      else [a.celery_pool])
    for pool in pools:
        label = (f"celery, {a.workers} solo workers" if pool == "solo"
                 else f"celery, prefork x{a.workers}")
        t, idle, busy = bench_celery(a, pool)
        rows.append((label, t, "celery"))
        rss.append((label + (" (per process)" if pool == "solo"
                             else " (whole pool / 4)"), idle, busy))
    if pools:
        # like for like: weft's steps fork and exec `true`; so does this task
        t, _, _ = bench_celery(a, pools[0], "run_true")
        rows.append((f"celery, {pools[0]}, task runs `true`", t, "celery-exec"))
    stores = [("sqlite", "  sqlite:\n    path: weft.db\n")]
    if a.skip_weft:
        stores = []
    elif a.pg:
        stores.append(("postgres", f"  postgres:\n    url: {a.pg}\n"))
    cpus = []
    for name, storage in stores:
        t, idle, busy, local, cpu = bench_weft(a, name, storage)
        rows.append((f"weft queue, {name}, op runs `true` (sh)", t, "weft"))
        rows.append((f"weft multiprocess x{a.workers}, {name} (no broker)", local, "local"))
        rss.append((f"weft worker ({name}, per process)", idle, busy))
        cpus.append((f"weft queue, {name}, `true`", cpu))
        if a.baseline_weft:
            new, a.weft = a.weft, a.baseline_weft
            try:
                t, _, _, _, cpu = bench_weft(a, name + "-baseline", storage, local=False)
            finally:
                a.weft = new
            rows.append((f"weft queue, {name}, `true`, baseline", t, "weft-base"))
            cpus.append((f"weft queue, {name}, `true`, baseline", cpu))
        t, _, _, _, cpu = bench_weft(a, name + "-py", storage, job="fanout_py", local=False,
                                     warm="warmup_py")
        rows.append((f"weft queue, {name}, Python no-op op (pool)", t, "weft-py"))
        cpus.append((f"weft queue, {name}, Python no-op (pool)", cpu))
        if a.noop_worker:
            t, idle, busy, _, cpu = bench_weft(a, name + "-c", storage, a.noop_worker,
                                               "fanout_c")
            rows.append((f"weft queue, {name}, C no-op op in-process", t, "weft-c"))
            rss.append((f"noop_worker ({name}, per process)", idle, busy))
            cpus.append((f"weft queue, {name}, C no-op in-process", cpu))

    celery_best = min((r[1] for r in rows if r[2] == "celery"), default=None)
    n = a.steps
    print(f"\n{n} independent no-op steps, {a.workers} worker processes, one RabbitMQ, "
          f"median of {a.repeats} ({os.cpu_count()} CPUs, load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    print(f"{'engine':<44}{'wall (s)':>10}{'steps/s':>10}{'per step (ms)':>15}{'vs celery':>11}")
    for label, t, _ in rows:
        ratio = f"{celery_best / t:.1f}x" if celery_best else "-"
        print(f"{label:<44}{t:>10.3f}{n / t:>10.0f}{t * 1000 / n:>15.3f}{ratio:>11}")
    print(f"\n{'worker memory (RSS, MiB)':<44}{'idle':>10}{'after':>10}")
    for label, idle, busy in rss:
        print(f"{label:<44}{idle / 1024:>10.1f}{busy / 1024:>10.1f}")
    if cpus:
        print(f"\n{'CPU per step (ms), last repeat':<44}{'workers':>10}{'coord.':>10}")
        for label, (wk, co) in cpus:
            print(f"{label:<44}{wk:>10.3f}{co:>10.3f}")
    weft_c = [r[1] for r in rows if r[2] == "weft-c"]
    weft_q = [r[1] for r in rows if r[2] == "weft"]
    weft_base = [r[1] for r in rows if r[2] == "weft-base"]
    celery_exec = [r[1] for r in rows if r[2] == "celery-exec"]
    if celery_best and weft_c:
        print("\ntarget 10x, like for like (no-op in a warm worker): weft C op in-process vs "
              "the fastest Celery no-op, per storage:")
        for label, t, kind in rows:
            if kind == "weft-c":
                ratio = celery_best / t
                print(f"  {label}: {ratio:.1f}x ({'met' if ratio >= 10 else 'MISSED'})")
    if celery_best and weft_q:
        print(f"weft `true` (starts sh per step) vs the fastest Celery no-op: "
              f"{celery_best / min(weft_q):.1f}x"
              + (f"; vs Celery running `true`: {min(celery_exec) / min(weft_q):.1f}x"
                 if celery_exec else ""))
    weft_py = [r for r in rows if r[2] == "weft-py"]
    if celery_best and weft_py:
        print("the same no-op Python function, weft's warm pool (children reused) vs the "
              "fastest Celery pool:")
        for label, t, _ in weft_py:
            print(f"  {label}: {celery_best / t:.2f}x")
    if celery_exec and weft_q:
        print("target 2x: weft `true` vs Celery running `true`, per storage:")
        for label, t, kind in rows:
            if kind in ("weft", "weft-base"):
                ratio = min(celery_exec) / t
                print(f"  {label}: {ratio:.2f}x ({'met' if ratio >= 2 else 'MISSED'})")
    if weft_base and weft_q:
        print(f"weft `true` against the baseline build: {min(weft_base) / min(weft_q):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
