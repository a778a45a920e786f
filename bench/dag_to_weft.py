#!/usr/bin/env python3
"""Convert the neutral benchmark graphs (bench/gen_dag.py's W*.dag) into
weft code locations, so weft runs exactly the graphs make, ninja and snakemake run.

Every task becomes an invocation of one op `noop` (`run: "true"`); a task's
dependencies become ordering-only edges (`after:`), as in Argo's
`dependencies:`. Usage: dag_to_weft.py OUTDIR W1.dag [W2.dag ...]
"""
import os
import sys


def read_dag(path):
    dag = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts:
                dag.append((parts[0], parts[1:]))
    return dag


def write_location(outdir, name, dag):
    loc = os.path.join(outdir, name)
    os.makedirs(os.path.join(loc, "ops"), exist_ok=True)
    os.makedirs(os.path.join(loc, "jobs"), exist_ok=True)
    with open(os.path.join(loc, "ops", "noop.yaml"), "w") as f:
        f.write("noop:\n  description: does nothing (the benchmark's unit of work)\n"
                "  run: \"true\"\n")
    with open(os.path.join(loc, "jobs", name + ".yaml"), "w") as f:
        f.write(f"description: benchmark graph {name} ({len(dag)} tasks)\ngraph:\n")
        for task, deps in dag:
            if deps:
                f.write(f"  {task}: {{uses: noop, after: [{', '.join(deps)}]}}\n")
            else:
                f.write(f"  {task}: noop\n")
    return loc


def write_snakefile(path, dag):
    # Snakemake needs files: each task touches a flag file once its deps' exist.
    with open(path, "w") as f:
        sinks = set(t for t, _ in dag) - {d for _, ds in dag for d in ds}
        f.write("rule all:\n    input: [" +
                ", ".join(f"'flags/{t}'" for t in sorted(sinks)) + "]\n")
        for task, deps in dag:
            f.write(f"rule {task}:\n")
            if deps:
                f.write("    input: [" + ", ".join(f"'flags/{d}'" for d in deps) + "]\n")
            f.write(f"    output: 'flags/{task}'\n    shell: 'true && touch {{output}}'\n")


def main():
    outdir = sys.argv[1]
    names = []
    for dag_path in sys.argv[2:]:
        name = os.path.splitext(os.path.basename(dag_path))[0]
        dag = read_dag(dag_path)
        write_location(outdir, name, dag)
        write_snakefile(os.path.join(os.path.dirname(dag_path), name, "Snakefile"), dag)
        names.append(name)
    with open(os.path.join(outdir, "workspace.yaml"), "w") as f:
        f.write("locations:\n" + "".join(f"  - {n}\n" for n in names))


if __name__ == "__main__":
    main()
