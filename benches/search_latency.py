#!/usr/bin/env python3
"""Query latency per search mode through `semclust serve`, as an application sees it: each
question of a question set sent to POST /v1/search once per mode, the modes alternating question
by question so that both meet the same conditions. Standard library only.

    semclust serve --index IDX --addr 127.0.0.1:18090 &
    python3 benches/search_latency.py http://127.0.0.1:18090 QUESTIONS.json [--modes dense,hybrid] [--limit N]

A mode written MODE@URL is sent to that server instead: `--modes dense@http://127.0.0.1:18091,hybrid`
compares another build's dense search (an older binary serving its own index of the same files)
with this one's hybrid, question by question.

A mode written MODE:model asks for the model's own vectors (`"neutral": false`) instead of the
language-neutral view: `--modes dense:model,dense,hybrid:model,hybrid` measures what the view
costs.

Prints, per mode, the median, 90th and 99th percentile in milliseconds, and the ratio of each
mode's median to the first mode's.
"""
import argparse
import json
import statistics
import time
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("questions")
    p.add_argument("--modes", default="dense,hybrid")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    qs = [q["q"] for q in json.load(open(a.questions))["questions"]]
    if a.limit:
        qs = qs[: a.limit]
    modes = a.modes.split(",")
    times = {m: [] for m in modes}
    for i, q in enumerate(qs):
        order = modes if i % 2 == 0 else list(reversed(modes))
        for m in order:
            mode, _, url = m.partition("@")
            mode, _, view = mode.partition(":")
            request = {"query": q, "k": a.k, "mode": mode}
            if view == "model":
                request["neutral"] = False
            body = json.dumps(request).encode()
            req = urllib.request.Request((url or a.url) + "/v1/search", body,
                                         {"Content-Type": "application/json"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=60) as r:
                r.read()
            times[m].append((time.perf_counter() - t0) * 1000)
    base = statistics.median(times[modes[0]])
    for m in modes:
        t = sorted(times[m])
        med = statistics.median(t)
        print(f"{m}: {len(t)} queries, median {med:.2f} ms, p90 {t[int(len(t) * 0.9)]:.2f} ms, "
              f"p99 {t[min(len(t) - 1, int(len(t) * 0.99))]:.2f} ms, median / {modes[0]} {med / base:.3f}")


if __name__ == "__main__":
    main()
