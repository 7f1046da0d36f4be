#!/usr/bin/env python3
"""Compare rules for choosing k on the sweeps `k_choice --dump` wrote (issue 34).

    for r in 1 3 10; do for s in 1 2 3 4 5 6 7 8; do
      cargo bench --bench k_choice -- --index IDX [--index IDX...] --seed $s --restarts $r \
        --dump target/k-sweeps.jsonl
    done; done
    python3 benches/k_choice_rules.py target/k-sweeps.jsonl

For every index and restart count, the k each rule picks at each seed, their mean and
standard deviation. Rules: the elbow (Kneedle: the point of the normalised curve farthest below
its chord) of the raw inertia points (`raw`, semclust's rule until 2026-12-07), of the
least-squares fit a + b ln k (`log`: on a curve of that shape the elbow depends on the range
alone), and of least-squares quadratic and cubic polynomials in ln k (`quad`, `cubic`; semclust
uses the cubic). `mean10` is each rule on the inertia averaged over every seed at the largest
restart count, the least noisy estimate of each rule's choice. Needs numpy.
"""
import collections
import json
import sys

import numpy as np


def kneedle(ks, y):
    ks = np.asarray(ks, float)
    y = np.asarray(y, float)
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    yn = (y - y.min()) / (y.max() - y.min())
    return int(ks[np.argmax(1 - x - yn)])


def poly_in_log(ks, y, degree):
    ln = np.log(np.asarray(ks, float))
    basis = np.stack([ln**d for d in range(degree + 1)], 1)
    coef = np.linalg.lstsq(basis, np.asarray(y, float), rcond=None)[0]
    return basis @ coef


RULES = {
    "raw": lambda ks, y: kneedle(ks, y),
    "log": lambda ks, y: kneedle(ks, poly_in_log(ks, y, 1)),
    "quad": lambda ks, y: kneedle(ks, poly_in_log(ks, y, 2)),
    "cubic": lambda ks, y: kneedle(ks, poly_in_log(ks, y, 3)),
}


def main(path):
    curves = collections.defaultdict(dict)
    for line in open(path):
        r = json.loads(line)
        if r.get("warm"):
            continue
        curves[(r["index"], r["restarts"], r["seed"])][r["k"]] = r["inertia"]
    indexes = sorted({key[0] for key in curves})
    restarts = sorted({key[1] for key in curves})
    for index in indexes:
        print(index)
        top = restarts[-1]
        runs = {key[2]: c for key, c in curves.items() if key[0] == index and key[1] == top}
        ks = sorted(next(iter(runs.values())))
        mean = np.mean([[c[k] for k in ks] for c in runs.values()], 0)
        print(f"  mean10 ({top} restarts, {len(runs)} seeds):",
              ", ".join(f"{n} {f(ks, mean)}" for n, f in RULES.items()))
        for r in restarts:
            seeds = sorted(key[2] for key in curves if key[0] == index and key[1] == r)
            for name, rule in RULES.items():
                chosen = [rule(ks, [curves[(index, r, s)][k] for k in ks]) for s in seeds]
                print(f"  {r:2d} restarts  {name:5s} {chosen}  mean {np.mean(chosen):.1f}"
                      f"  sd {np.std(chosen):.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/k-sweeps.jsonl")
