#!/usr/bin/env python3
"""Indexing time of two semclust builds on the same files, runs alternating (A B A B ...) so both
meet the same machine; each run indexes into a fresh folder. Standard library only.

    git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release)
    python3 benches/index_before_after.py /tmp/before/target/release/semclust \\
        target/release/semclust ../shared/corpus [--runs 7]

Prints per build the median wall and CPU seconds and passages per second, then the median of
the per-pair ratios after / before (wall and CPU). Extra arguments after `--` go to both
`semclust index` commands (for example `-- --no-hub`).
"""
import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(binary, paths, extra, folder):
    shutil.rmtree(folder, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([binary, "index", *paths, "--index", folder, "-q", "--json", *extra],
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out)["passages"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("paths", nargs="+")
    p.add_argument("--runs", type=int, default=7)
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a = p.parse_args(argv[:cut])
    extra = argv[cut + 1:]
    with tempfile.TemporaryDirectory() as tmp:
        folder = tmp + "/index"
        run(a.before, a.paths, extra, folder)  # warm-up: page cache, model files
        run(a.after, a.paths, extra, folder)
        res = {"before": [], "after": []}
        for i in range(a.runs):
            order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
            for name in order:
                res[name].append(run(getattr(a, name), a.paths, extra, folder))
    for name in ("before", "after"):
        r = res[name]
        wall = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        print(f"{name}: {r[0][2]} passages, wall {wall:.3f} s (min {min(x[0] for x in r):.3f}, "
              f"max {max(x[0] for x in r):.3f}), cpu {cpu:.3f} s, {r[0][2] / wall:.1f} passages/s")
    pw = statistics.median(a_[0] / b_[0] for a_, b_ in zip(res["after"], res["before"]))
    pc = statistics.median(a_[1] / b_[1] for a_, b_ in zip(res["after"], res["before"]))
    print(f"after / before, median of {a.runs} pairs: wall {pw:.3f}, cpu {pc:.3f}")


if __name__ == "__main__":
    main()
