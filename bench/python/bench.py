# bench/python/bench.py: the per-step overhead of a no-op Python op, side by
# side: a cold `/usr/bin/python3 -c pass`, weft isolated, weft's warm pool
# (a fork a step, and children reused for many steps: steps_per_child), dask threaded and dask distributed (fan-out), and the load time of a
# location of 200 Python jobs.
"""Usage: bench.py --weft BIN --out DIR [--steps N] [--fanout N] [--jobs N]
                [--repeats N] [--no-isolated-fanout]

Every weft figure is `weft launch` of a generated job, run at
max_concurrent 1 (per-step overhead, the launch's fixed cost taken out by
a 1-step run) and at the machine's core count (a fan-out of --fanout
independent steps, the shape dask is measured on). The location's python
is /usr/bin/python3 (`weft location add ... --python /usr`, and first on
PATH), as is the cold floor's.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

PY = "/usr/bin/python3"

OPS = '''import os
from weft import op


@op
def noop() -> int:
    return 0


@op(isolated=True)
def noop_isolated() -> int:
    return 0


@op(steps_per_child=1000)
def noop_reuse() -> int:
    return 0
'''


CPU = [0.0]  # CPU seconds (user + system) of the last sh(), its whole tree


def _children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def sh(cmd, env, cwd=None):
    """Wall seconds of cmd; CPU[0] gets the CPU seconds of its process tree
    (every process reaped under it counts: steps, pool servers, children),
    which a loaded machine inflates far less than wall time."""
    c = _children_cpu()
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.exit("bench: %s failed:\n%s" % (" ".join(cmd), r.stdout[-3000:]))
    CPU[0] = _children_cpu() - c
    return time.perf_counter() - t


def make_location(d, n_steps, fanout):
    os.makedirs(os.path.join(d, "ops"))
    os.makedirs(os.path.join(d, "jobs"))
    with open(os.path.join(d, "ops", "noops.py"), "w") as f:
        f.write(OPS)
    with open(os.path.join(d, "ops", "shell.yaml"), "w") as f:
        f.write("shell:\n  run: 'true'\n")
    for op in ("noop", "noop_isolated", "noop_reuse", "shell"):
        for n in sorted(set((1, n_steps, fanout))):
            with open(os.path.join(d, "jobs", "%s_%d.yaml" % (op, n)), "w") as f:
                f.write("ops:\n")
                for i in range(n):
                    f.write("  s%d: {uses: %s}\n" % (i, op))


def make_jobs_location(d, n_jobs):
    os.makedirs(os.path.join(d, "ops"))
    os.makedirs(os.path.join(d, "jobs"))
    with open(os.path.join(d, "ops", "math.py"), "w") as f:
        f.write("from weft import op\n\n\n@op\ndef add_one(num: int = 0) -> int:\n"
                "    return num + 1\n\n\n@op\ndef double(num: int) -> int:\n"
                "    return 2 * num\n")
    for i in range(n_jobs):
        with open(os.path.join(d, "jobs", "job_%03d.py" % i), "w") as f:
            f.write("from weft import job\nfrom ops.math import add_one, double\n\n\n"
                    "@job\ndef job_%03d():\n    double(add_one())\n" % i)


def launch(weft, env, job, conc):
    return sh([weft, "launch", job, "--set",
               "execution.multiprocess.max_concurrent=%d" % conc], env)


def best(f, repeats):
    """The fastest of repeats calls of f: (wall s, CPU s of that call)."""
    runs = []
    for _ in range(repeats):
        runs.append((f(), CPU[0]))
    return min(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--fanout", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-isolated-fanout", action="store_true",
                    help="skip weft isolated on the fan-out (minutes on a loaded machine)")
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    home, loc, jobs = (os.path.join(out, x) for x in ("home", "loc", "jobs200"))
    make_location(loc, a.steps, a.fanout)
    make_jobs_location(jobs, a.jobs)
    # python3 is /usr/bin/python3 for weft and its steps: first on PATH (an
    # argv op's program is looked up on weft's own PATH) as well as the
    # location's --python.
    bindir = os.path.join(out, "bin")
    os.makedirs(bindir)
    os.symlink(PY, os.path.join(bindir, "python3"))
    env = dict(os.environ, WEFT_HOME=home, PATH=bindir + ":" + os.environ.get("PATH", ""))
    env.pop("WEFT_PYPOOL", None)
    sh([a.weft, "location", "add", "bench", loc, "--python", "/usr"], env)
    cores = os.cpu_count() or 1
    rows = []

    # 1. the floor: a cold interpreter that does nothing
    n = 50

    def cold_batch():
        w = c = 0.0
        for _ in range(n):
            w += sh([PY, "-c", "pass"], env)
            c += CPU[0]
        CPU[0] = c
        return w
    t, tc = best(cold_batch, a.repeats)
    cold, cold_cpu = t / n * 1000, tc / n * 1000
    rows.append(("cold `%s -c pass` (floor)" % PY, cold, cold_cpu))

    # 2, 3. weft: per-step overhead at max_concurrent 1, launch cost taken out
    per, per_cpu = {}, {}
    for label, op in (("weft, shell `true` steps (weft's own cost)", "shell"),
                      ("weft isolated (a fresh interpreter a step)", "noop_isolated"),
                      ("weft warm pool (a fork a step)", "noop"),
                      ("weft warm pool, steps_per_child: 1000 (reused)", "noop_reuse")):
        one, one_c = best(lambda: launch(a.weft, env, "%s_1" % op, 1), a.repeats)
        many, many_c = best(lambda: launch(a.weft, env, "%s_%d" % (op, a.steps), 1), a.repeats)
        per[op] = (many - one) / (a.steps - 1) * 1000
        per_cpu[op] = (many_c - one_c) / (a.steps - 1) * 1000
        rows.append(("%s, %d in a row" % (label, a.steps), per[op], per_cpu[op]))

    # 4. fan-out: weft warm pool and isolated at `cores` steps at once; dask threaded
    fan = {}
    for op in ("noop", "noop_reuse") if a.no_isolated_fanout else \
            ("noop", "noop_reuse", "noop_isolated"):
        fan[op] = best(lambda: launch(a.weft, env, "%s_%d" % (op, a.fanout), cores),
                       a.repeats)[0]
    dask_s = None
    dask_code = ("import time, dask\n"
                 "def noop(): return 0\n"
                 "tasks = [dask.delayed(noop)() for _ in range(%d)]\n"
                 "t = time.perf_counter()\n"
                 "dask.compute(*tasks, scheduler='threads', num_workers=%d)\n"
                 "print(time.perf_counter() - t)\n" % (a.fanout, cores))
    r = subprocess.run([PY, "-c", dask_code], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode == 0:
        dask_s = min(float(subprocess.run([PY, "-c", dask_code], stdout=subprocess.PIPE,
                                          text=True).stdout) for _ in range(a.repeats))

    # dask distributed: a local cluster of `cores` worker processes (one
    # thread each), started before the clock; the same fan-out through it.
    dist_s = None
    dist_code = ("import time, dask\n"
                 "from dask.distributed import Client, LocalCluster\n"
                 "def noop(): return 0\n"
                 "if __name__ == '__main__':\n"
                 "    with LocalCluster(n_workers=%d, threads_per_worker=1, processes=True,\n"
                 "                      dashboard_address=None) as c, Client(c) as cl:\n"
                 "        best = None\n"
                 "        for _ in range(%d):\n"
                 "            tasks = [dask.delayed(noop, pure=False)() for _ in range(%d)]\n"
                 "            t = time.perf_counter()\n"
                 "            dask.compute(*tasks)\n"
                 "            d = time.perf_counter() - t\n"
                 "            best = d if best is None else min(best, d)\n"
                 "        print(best)\n" % (cores, a.repeats, a.fanout))
    dist_file = os.path.join(out, "dask_distributed.py")
    with open(dist_file, "w") as f:
        f.write(dist_code)
    rd = subprocess.run([PY, dist_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
    if rd.returncode == 0:
        dist_s = float(rd.stdout.strip().splitlines()[-1])

    # 5. loading a location of 200 Python jobs: cold (no cache) and cached
    venv = dict(env, WEFT_PYTHON=PY, WEFT_PYTHON_CACHE=os.path.join(out, "pycache"))
    cold_load = sh([a.weft, "validate", jobs], venv)
    warm_load = best(lambda: sh([a.weft, "validate", jobs], venv), a.repeats)[0]
    nocache = dict(venv, WEFT_PYTHON_CACHE="off")
    off_load = best(lambda: sh([a.weft, "validate", jobs], nocache), a.repeats)[0]

    load = os.getloadavg()[0]
    lines = ["bench/python: %d cores, load average %.1f; best of %d" % (cores, load, a.repeats),
             "(CPU ms: user + system of every process of the run, steps and pool"
             " servers included: what a loaded machine inflates least)", "",
             "%-62s %10s %10s" % ("per-step overhead of a no-op Python op", "wall ms", "CPU ms")]
    for label, ms, cpu in rows:
        lines.append("%-62s %10.2f %10.2f" % (label, ms, cpu))
    warm, warm_cpu = per["noop"], per_cpu["noop"]

    def ratio(x, y):
        return x / y if y > 0 else float("inf")
    lines.append("")
    lines.append("warm pool vs cold interpreter: %.1fx faster (wall), %.1fx (CPU); "
                 "vs weft isolated: %.1fx (wall)"
                 % (ratio(cold, warm), ratio(cold_cpu, warm_cpu),
                    ratio(per["noop_isolated"], warm)))
    lines.append("warm pool beyond weft's own per-step cost (shell `true`): %.2f ms wall, "
                 "%.2f ms CPU" % (warm - per["shell"], warm_cpu - per_cpu["shell"]))
    lines.append("target: warm pool <= 2 ms/step: %s; >= 10x faster than cold: %s"
                 % ("met" if warm <= 2 else "NOT met",
                    "met" if ratio(cold, warm) >= 10 else "NOT met"))
    reuse, reuse_cpu = per["noop_reuse"], per_cpu["noop_reuse"]
    lines.append("reused children vs a fork a step: %.1fx faster (wall), %.1fx (CPU); vs cold: "
                 "%.1fx (wall); minus a shell `true` step (which pays a fork and exec of sh): %.2f ms wall"
                 % (ratio(warm, reuse), ratio(warm_cpu, reuse_cpu), ratio(cold, reuse),
                    reuse - per["shell"]))
    lines.append("target with reuse: <= 2 ms/step: %s; >= 10x faster than cold: %s"
                 % ("met" if reuse <= 2 else "NOT met",
                    "met" if ratio(cold, reuse) >= 10 else "NOT met"))
    lines.append("")
    lines.append("%-62s %10s %10s" % ("fan-out of %d no-op tasks, %d at once" % (a.fanout, cores),
                                      "total s", "ms/task"))
    lines.append("%-62s %10.2f %10.2f" % ("weft warm pool (a fork a step)", fan["noop"],
                                          fan["noop"] / a.fanout * 1000))
    lines.append("%-62s %10.2f %10.2f" % ("weft warm pool, reused children", fan["noop_reuse"],
                                          fan["noop_reuse"] / a.fanout * 1000))
    if "noop_isolated" in fan:
        lines.append("%-62s %10.2f %10.2f" % ("weft isolated", fan["noop_isolated"],
                                              fan["noop_isolated"] / a.fanout * 1000))
    if dask_s is not None:
        lines.append("%-62s %10.2f %10.2f" % ("dask threaded (in one process, no isolation)",
                                              dask_s, dask_s / a.fanout * 1000))
    else:
        lines.append("dask threaded: not measured (python3-dask is not installed: %s)"
                     % r.stderr.strip().splitlines()[-1:])
    if dist_s is not None:
        lines.append("%-62s %10.2f %10.2f" % ("dask distributed (%d worker processes, local)"
                                              % cores, dist_s, dist_s / a.fanout * 1000))
        lines.append("weft warm pool vs dask distributed (fan-out): %.1fx the time (target <= 2x);"
                     " reused children: %.1fx"
                     % (ratio(fan["noop"], dist_s), ratio(fan["noop_reuse"], dist_s)))
    else:
        lines.append("dask distributed: not measured (python3-distributed: %s)"
                     % rd.stderr.strip().splitlines()[-1:])
    lines.append("")
    lines.append("%-62s %10s" % ("load a location of %d Python jobs (weft validate)" % a.jobs, "s"))
    lines.append("%-62s %10.2f" % ("no description cache (WEFT_PYTHON_CACHE=off)", off_load))
    lines.append("%-62s %10.2f" % ("first load, cache empty", cold_load))
    lines.append("%-62s %10.2f" % ("unchanged location, cache warm", warm_load))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
