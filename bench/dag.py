#!/usr/bin/env python3
"""Run the shared benchmark graphs with weft, make, ninja and snakemake in one
run and print wall time and per-step overhead side by side (median of N).

Usage: dag.py --weft PATH [--repeats 3] [--only W1,W2] [--skip-snakemake]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = [os.path.join(HERE, "gen_dag.py")]
TASKS = {"W1": 200, "W2": 1002, "W3": 1000}


def timed(cmd, prep=None, env=None, repeats=3):
    times = []
    for _ in range(repeats):
        if prep:
            prep()
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        t1 = time.perf_counter()
        if r.returncode != 0:
            sys.stderr.write(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}\n")
            return None
        times.append(t1 - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weft", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="W1,W2,W3")
    ap.add_argument("--skip-snakemake", action="store_true")
    ap.add_argument("--out", default=os.path.join(HERE, "out", "dag"))
    a = ap.parse_args()

    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    gen = next(p for p in GEN if os.path.exists(p))
    subprocess.run([sys.executable, gen, a.out], check=True, stdout=subprocess.DEVNULL)
    graphs = a.only.split(",")
    subprocess.run([sys.executable, os.path.join(HERE, "dag_to_weft.py"),
                    os.path.join(a.out, "weft")] +
                   [os.path.join(a.out, g + ".dag") for g in graphs], check=True)
    env = dict(os.environ, WEFT_HOME=os.path.join(a.out, "home"))
    ws = os.path.join(a.out, "weft", "workspace.yaml")

    rows = []
    for g in graphs:
        d = os.path.join(a.out, g)
        n = TASKS[g]
        engines = [
            ("make -j2", ["make", "-s", "-j2", "-C", d], None),
            ("ninja -j2", ["ninja", "-j2", "-C", d], None),
            ("weft (sqlite, 2 slots)",
             [a.weft, "launch", "-w", ws, g, "--quiet",
              "--set", "execution.multiprocess.max_concurrent=2"], None),
        ]
        if not a.skip_snakemake and shutil.which("snakemake"):
            def snake_prep(d=d):
                shutil.rmtree(os.path.join(d, "flags"), ignore_errors=True)
                shutil.rmtree(os.path.join(d, ".snakemake"), ignore_errors=True)
            engines.append(("snakemake -j2",
                            ["snakemake", "-j2", "--quiet", "-d", d, "-s",
                             os.path.join(d, "Snakefile")], snake_prep))
        for name, cmd, prep in engines:
            t = timed(cmd, prep, env, a.repeats)
            rows.append((g, name, t, None if t is None else t * 1000 / n))
            sys.stderr.write(f"  {g} {name}: {'failed' if t is None else f'{t:.3f} s'}\n")

    print(f"{'graph':<6}{'engine':<24}{'wall (s)':>10}{'per step (ms)':>15}{'vs ninja':>10}")
    for g in graphs:
        base = next((r[3] for r in rows if r[0] == g and r[1].startswith("ninja")), None)
        for r in rows:
            if r[0] != g:
                continue
            if r[2] is None:
                print(f"{g:<6}{r[1]:<24}{'failed':>10}")
                continue
            ratio = f"{r[3] / base:.1f}x" if base else "-"
            print(f"{g:<6}{r[1]:<24}{r[2]:>10.3f}{r[3]:>15.3f}{ratio:>10}")
    return 0 if all(r[2] is not None for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
