#!/usr/bin/env python3
"""Hostile-client audit of `semclust serve` (Python 3 standard library only).

Starts ONE `semclust serve` (fresh temporary index, `--api-key`) and sends it input that costs a
careless parser or server dearly, checking that it stays up, keeps answering /health, and gives
its memory back:

  deep-html      POST /v1/index: HTML nested 3,000 and 10,000 <div>s deep (a recursive tree
                 walk overflows the stack, which kills the whole process).
  deep-lists     POST /v1/index: Markdown `- - - ... item` of 20, 40 and 80 KB (nesting grows
                 with the text: quadratic time and memory in the parser).
  deep-lists-2x  two of the 80 KB lists at once.
  heading        a `## ` heading of 20 KB of words, then 20 short paragraphs (a heading copied
                 into each passage's context multiplies the work).
  unauth         100 concurrent 4 MiB POSTs to /v1/search and /v1/embeddings without a key:
                 each should get 401, best before its body is read (else 400 MB is buffered).
  bulk-latency   ~600 licence paragraphs in ONE POST /v1/index while single-text embeddings and
                 k=5 searches take turns every ~100 ms: their latency during the indexing against
                 a baseline of 10 of each just before (bulk work sent to the model whole made
                 each wait 4-5.5 s). A smaller licence is indexed first: search needs an index.
  themes-fair    GET /v1/themes?k=90&restarts=100 and, 1 s later, ?k=3&restarts=1 (licences
                 indexed first if the index holds < 100 passages): the cheap one should answer
                 in seconds, not wait for the expensive one (which may end 504 at --timeout 30 s).

Heading words and paragraphs come from a real text (GPL-3); bulk-latency and themes-fair index
the paragraphs (>= 8 words) of the licences in /usr/share/common-licenses, one document each.
Meanwhile a thread polls GET /health every 200 ms (2 s timeout), recording the slowest answer
and every failure, and another samples the server's RSS (/proc/PID/status). A dead server is
reported; later attacks are marked skipped. JSON summary on stdout, a short log on stderr.
Exit 0 only when the server survived, /health never failed, and RSS after the hostile attacks
(given ~10 s to settle) is <= 1.2 x RSS after warm-up; bulk-latency and themes-fair run after
that check (they grow the index by ~660 passages) and their RSS is reported apart.

  python3 scripts/audit_serve.py --bin target/release/semclust [--index DIR] [--port N]
      [--api-key K] [--timeout-per-request S] [--licences DIR]
      [--only deep-html,deep-lists,deep-lists-2x,heading,unauth,bulk-latency,themes-fair]
"""
import argparse, http.client, json, math, os, re, shutil, signal, socket, statistics, subprocess
import sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

ATTACKS = ["deep-html", "deep-lists", "deep-lists-2x", "heading", "unauth", "bulk-latency",
           "themes-fair"]
# Legitimate heavy use rather than attacks: they grow the index, so the RSS check stops before.
LOAD = ["bulk-latency", "themes-fair"]
LICENCE_ORDER = ["GPL-3", "GPL-2", "LGPL-2.1", "Apache-2.0", "Artistic", "MPL-2.0"]  # then the rest
T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def rss_mb(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None


class Server:
    def __init__(self, args):
        self.host, self.key, self.timeout = "127.0.0.1", args.api_key, args.timeout_per_request
        self.cmd = [args.bin, "serve", "--index", args.index, "--addr",
                    f"{self.host}:{args.port}", "--api-key", args.api_key]
        # The model cache the test suite fills, unless SEMCLUST_CACHE names another.
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {"SEMCLUST_CACHE": os.path.join(repo, "target", "tmp", "semclust-cache"),
               **os.environ}
        self.stderr_path = os.path.join(args.workdir, "server.stderr")
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=open(self.stderr_path, "wb"), text=True)
        self.port, ready = None, threading.Event()

        def read_stdout():  # the server prints `semclust: listening on http://ADDR`
            for line in self.proc.stdout:
                m = re.search(r"listening on http://[^\s]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
        threading.Thread(target=read_stdout, daemon=True).start()
        self.ready = ready

    def alive(self, grace=0.0):
        """Still running; `grace` seconds let a process that just dropped a connection finish dying."""
        try:
            self.proc.wait(grace) if grace else None
        except subprocess.TimeoutExpired:
            pass
        return self.proc.poll() is None

    def exit_info(self):
        rc = self.proc.poll()
        sig = signal.Signals(-rc).name if rc is not None and rc < 0 else None
        return rc if rc is None else {"returncode": rc, "signal": sig}

    def stderr_tail(self, n=8):
        try:
            with open(self.stderr_path, errors="replace") as f:
                return [l.rstrip() for l in f.readlines()[-n:]]
        except OSError:
            return []

    def request(self, method, path, obj=None, auth=True, timeout=None, parse=False):
        """One request on its own connection: {status, seconds, body|error} (+ json: `parse`)."""
        body = None if obj is None else json.dumps(obj).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            headers["Authorization"] = f"Bearer {self.key}"
        t = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.request(method, path, body, headers)
            r = conn.getresponse()
            data = r.read()
            out = {"status": r.status, "seconds": round(time.monotonic() - t, 3),
                   "body": data[:240].decode(errors="replace")}
            if parse:
                try:
                    out["json"] = json.loads(data)
                except ValueError:
                    pass
            return out
        except Exception as e:  # dead server, reset, timeout: all are findings
            return {"status": None, "seconds": round(time.monotonic() - t, 3),
                    "error": f"{type(e).__name__}: {e}"}
        finally:
            conn.close()


class Monitor(threading.Thread):
    """Polls /health every 200 ms and samples RSS every 50 ms until stopped."""

    def __init__(self, srv, start_rss):
        super().__init__(daemon=True)
        self.srv, self.stop_ev = srv, threading.Event()
        self.polls, self.failures, self.max_latency = 0, [], 0.0
        self.peak = self.phase_peak = start_rss
        threading.Thread(target=self.sample_rss, daemon=True).start()

    def sample_rss(self):
        while not self.stop_ev.is_set():
            r = rss_mb(self.srv.proc.pid) if self.srv.alive() else None
            if r is not None:
                self.peak, self.phase_peak = max(self.peak, r), max(self.phase_peak, r)
            time.sleep(0.05)

    def poll_once(self):
        r = self.srv.request("GET", "/health", auth=False, timeout=2.0)
        self.polls += 1
        self.max_latency = max(self.max_latency, r["seconds"])
        if r["status"] != 200:
            self.failures.append({"t": round(time.monotonic() - T0, 1), "status": r["status"],
                                  "error": r.get("error"), "seconds": r["seconds"]})
            if len(self.failures) in (1, 10, 100):
                log(f"/health failed ({len(self.failures)}): {r.get('error') or r['status']}")

    def run(self):
        while not self.stop_ev.is_set():
            self.poll_once()
            self.stop_ev.wait(0.2)


def index_doc(name, text, fmt):
    return {"documents": [{"name": name, "format": fmt, "text": text}]}


def parallel(fns):
    with ThreadPoolExecutor(len(fns)) as ex:
        return list(ex.map(lambda f: f(), fns))


def index_one_by_one(srv, docs):
    """POST each (label, name, text, format) to /v1/index in turn, stopping if the server dies."""
    res = []
    for label, name, text, fmt in docs:
        r = srv.request("POST", "/v1/index", index_doc(name, text, fmt))
        res.append({"label": f"{label} ({len(text) // 1024} KB)", **r})
        if r["status"] is None and not srv.alive(2.0):
            break
    return res


def attack_deep_html(srv):
    return index_one_by_one(srv, [(f"depth {d}", f"deep-html-{d}", "<div>" * d + "x" + "</div>" * d,
                                   "html") for d in (3000, 10000)])


def lists_text(kb):
    return "- " * ((kb * 1024 - 4) // 2) + "item"


def attack_deep_lists(srv):
    return index_one_by_one(srv, [(f"depth {len(lists_text(kb)) // 2}", f"deep-list-{kb}k",
                                   lists_text(kb), "markdown") for kb in (20, 40, 80)])


def attack_deep_lists_2x(srv):
    text = lists_text(80)
    fns = [lambda i=i: srv.request("POST", "/v1/index", index_doc(f"deep-list-80k-{i}", text, "markdown"))
           for i in (1, 2)]
    return [{"label": f"80 KB, concurrent #{i + 1}", **r} for i, r in enumerate(parallel(fns))]


def attack_heading(srv, source):
    with open(source, errors="replace") as f:
        lines = [l.strip() for l in f]
    words = " ".join(lines).split()
    heading = []
    while len(" ".join(heading)) < 20 * 1024:
        heading.append(words[len(heading) % len(words)])
    paras = [l for l in dict.fromkeys(lines) if 40 <= len(l) <= 100 and not l.startswith("#")][:20]
    text = "## " + " ".join(heading) + "\n\n" + "\n\n".join(paras) + "\n"
    r = srv.request("POST", "/v1/index", index_doc("huge-heading", text, "markdown"))
    return [{"label": f"20 KB heading + {len(paras)} paragraphs ({len(text) // 1024} KB)", **r}]


def unauth_one(srv, path, body, barrier):
    head = (f"POST {path} HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    out = {"path": path, "status": None, "body_sent": 0}
    try:
        s = socket.create_connection((srv.host, srv.port), timeout=srv.timeout)
    except OSError as e:
        s, out["error"] = None, f"connect: {e}"
    barrier.wait()  # all connections open before any sends
    if s is None:
        return {**out, "seconds": 0.0}
    t = time.monotonic()

    def send():  # in its own thread: the answer may come before the body is read
        try:
            s.sendall(head)
            for off in range(0, len(body), 1 << 16):
                s.sendall(body[off:off + (1 << 16)])
                out["body_sent"] = min(off + (1 << 16), len(body))
        except OSError:
            pass
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        m = re.match(rb"HTTP/1\.[01] (\d{3})", s.recv(1 << 16))
        out["status"] = int(m.group(1)) if m else None
        out["error"] = None if m else "closed without a response"
    except OSError as e:
        out["error"] = f"{type(e).__name__}: {e}"
    out["seconds"] = round(time.monotonic() - t, 3)
    try:
        s.shutdown(socket.SHUT_RDWR)  # stops the sender if it is still writing
    except OSError:
        pass
    sender.join(5)
    s.close()
    return out


def attack_unauth(srv, n=100):
    size = 4 << 20
    prefix, suffix = b'{"query": "', b'"}'
    body = prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix
    barrier = threading.Barrier(n)
    paths = ["/v1/search", "/v1/embeddings"]
    rs = parallel([lambda i=i: unauth_one(srv, paths[i % 2], body, barrier) for i in range(n)])
    secs = sorted(r["seconds"] for r in rs)
    return [{"label": f"{n} x 4 MiB, no key", "status": count_status(rs), "seconds": secs[-1],
             "median_seconds": secs[len(secs) // 2],
             "full_body_sent": sum(r["body_sent"] == len(body) for r in rs),
             "errors": sorted({r["error"] for r in rs if r.get("error")})[:5]}]


def licence_docs(folder, target=600):
    """(bulk, rest, n): one "text" document per licence of its paragraphs of >= 8 words, `bulk`
    the first n = `target` passages (LICENCE_ORDER first), `rest` the whole licences left over."""
    bulk, rest, n, seen = [], [], 0, set()
    for name in sorted(os.listdir(folder), key=lambda f: ((LICENCE_ORDER + [f]).index(f), f)):
        path = os.path.realpath(os.path.join(folder, name))  # GPL -> GPL-3: once
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        with open(path, errors="replace") as f:
            paras = [p for p in (" ".join(b.split()) for b in re.split(r"\n\s*\n", f.read()))
                     if len(p.split()) >= 8]
        take = paras[:target - n]
        doc = {"name": "licence-" + os.path.basename(path).lower(), "format": "text",
               "text": "\n\n".join(take or paras) + "\n"}
        if take:
            bulk.append(doc)
            n += len(take)
        elif paras:
            rest.append(doc)
    return bulk, rest, n


def index_entry(srv, label, docs):
    """POST `docs` to /v1/index in one request (no client time limit to speak of)."""
    r = srv.request("POST", "/v1/index", {"documents": docs}, timeout=max(srv.timeout, 900),
                    parse=True)
    j = r.pop("json", None) or {}
    r.update(added=j.get("added"), embedded=j.get("embedded"), passages_in_index=j.get("passages"),
             note=f"added {j.get('added')}, embedded {j.get('embedded')}")
    return {"label": label, **r}


def interactive(srv, sentences, first, n=0, until=None):
    """Single-text embeddings and k=5 searches by turns, ~100 ms apart: n, or until `until`."""
    rs = []
    while len(rs) < n if until is None else not until.is_set():
        s, emb = sentences[(first + len(rs)) % len(sentences)], len(rs) % 2 == 0
        r = srv.request("POST", "/v1/embeddings" if emb else "/v1/search",
                        {"input": s} if emb else {"query": s, "k": 5})
        rs.append({"kind": "embeddings" if emb else "search", **r})
        time.sleep(0.1)
    return rs


def latency(label, rs):
    s = sorted(r["seconds"] for r in rs) or [0.0]
    med = {k: round(statistics.median([r["seconds"] for r in rs if r["kind"] == k] or [0]), 3)
           for k in ("embeddings", "search")}
    out = {"label": label, "status": count_status(rs), "n": len(rs), "seconds": s[-1],
           "median_seconds": round(statistics.median(s), 3),
           "p90_seconds": s[max(0, math.ceil(0.9 * len(s)) - 1)], "median_by_kind": med,
           "errors": sorted({r["error"] for r in rs if r.get("error")})[:5]}
    out["note"] = f"n {len(rs)}, median {out['median_seconds']} s, p90 {out['p90_seconds']} s, max"
    return out


def attack_bulk_latency(srv, licences):
    bulk, rest, n = licence_docs(licences)
    sentences = list(dict.fromkeys(s for d in bulk for s in re.split(r"(?<=[.;])\s+|\n+",
                                                                     d["text"])
                                   if 6 <= len(s.split()) <= 20))
    out = [index_entry(srv, f"first: {rest[-1]['name']}", rest[-1:])] if rest else []
    base = interactive(srv, sentences, 0, n=20)
    done, during = threading.Event(), []
    th = threading.Thread(target=lambda: during.extend(interactive(srv, sentences, 20, until=done)),
                          daemon=True)
    th.start()
    out.append(index_entry(srv, f"{n} passages in {len(bulk)} documents, one request", bulk))
    done.set()
    th.join(srv.timeout + 5)
    return out + [latency("baseline: 10 embeddings + 10 searches", base),
                  latency("embeddings + searches during the indexing", during)]


def attack_themes_fair(srv, licences):
    h = srv.request("GET", "/health", auth=False, parse=True).get("json") or {}
    out = []
    if ((h.get("index") or {}).get("passages") or 0) < 100:
        bulk, rest, n = licence_docs(licences)
        out.append(index_entry(srv, f"first: {len(bulk + rest)} licences", bulk + rest))
    t = max(srv.timeout, 60.0)

    def cheap():
        time.sleep(1.0)
        return srv.request("GET", "/v1/themes?k=3&restarts=1", timeout=t)
    big, small = parallel([lambda: srv.request("GET", "/v1/themes?k=90&restarts=100", timeout=t),
                           cheap])
    small["finished_first"] = 1.0 + small["seconds"] < big["seconds"]
    small["note"] = f"finished before the k=90 one: {small['finished_first']}"
    return out + [{"label": "k=90 restarts=100", **big},
                  {"label": "k=3 restarts=1, sent 1 s later", **small}]


def count_status(rs):
    return {str(st): sum(r["status"] == st for r in rs) for st in {r["status"] for r in rs}}


def run_attacks(srv, mon, names, args):
    runners = {"deep-html": attack_deep_html, "deep-lists": attack_deep_lists,
               "deep-lists-2x": attack_deep_lists_2x, "unauth": attack_unauth,
               "heading": lambda s: attack_heading(s, args.text_source),
               "bulk-latency": lambda s: attack_bulk_latency(s, args.licences),
               "themes-fair": lambda s: attack_themes_fair(s, args.licences)}
    results = {}
    for name in names:
        if not srv.alive():
            results[name] = {"skipped": "server dead"}
            log(f"{name}: skipped, server dead")
            continue
        mon.phase_peak, t = rss_mb(srv.proc.pid) or 0.0, time.monotonic()
        reqs = runners[name](srv)
        alive = srv.alive(2.0 if any(r.get("error") or r.get("errors") for r in reqs) else 0)
        results[name] = {"requests": reqs, "seconds": round(time.monotonic() - t, 2),
                         "rss_peak_mb": round(mon.phase_peak), "alive_after": alive}
        for r in reqs:
            extra = r.get("error") or (r.get("body", "")[:100] if r["status"] != 200 else "")
            note = f"({r.pop('note')}) " if "note" in r else ""
            log(f"{name} {r['label']}: {r['status']} {note}in {r['seconds']} s {extra}".rstrip())
        log(f"{name}: RSS peak {mon.phase_peak:.0f} MB, server {'alive' if alive else 'DEAD'}")
        if not alive:
            log(f"server exit {srv.exit_info()}; stderr: {srv.stderr_tail(3)}")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the semclust binary")
    ap.add_argument("--index", help="index folder (default: a fresh temporary one)")
    ap.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    ap.add_argument("--api-key", default="audit-" + os.urandom(8).hex())
    ap.add_argument("--timeout-per-request", type=float, default=120.0)
    ap.add_argument("--startup-timeout", type=float, default=900.0,
                    help="seconds to wait for the server (the first run may fetch the model)")
    ap.add_argument("--only", help="comma-separated subset of " + ",".join(ATTACKS))
    ap.add_argument("--text-source", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("--licences", default="/usr/share/common-licenses",
                    help="folder of the licences bulk-latency and themes-fair index")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else ATTACKS
    if set(only) - set(ATTACKS):
        ap.error(f"unknown attack in --only: {sorted(set(only) - set(ATTACKS))}")
    args.workdir = tempfile.mkdtemp(prefix="semclust-audit-")
    args.index = args.index or os.path.join(args.workdir, "index")

    srv = Server(args)
    summary = {"binary": args.bin, "command": srv.cmd[:-1] + ["***"], "pid": srv.proc.pid}
    log(f"started pid {srv.proc.pid}: {' '.join(summary['command'])}")
    deadline = time.monotonic() + args.startup_timeout
    while srv.alive() and time.monotonic() < deadline and not srv.ready.wait(0.5):
        pass
    ok = srv.port is not None and srv.request("GET", "/health", auth=False)["status"] == 200
    warm = srv.request("POST", "/v1/embeddings", {"input": ["warm-up text"]}) if ok else {}
    start_rss = rss_mb(srv.proc.pid)
    summary["started"] = warm.get("status") == 200 and start_rss is not None
    if summary["started"]:
        log(f"listening on port {srv.port}; warm-up {warm['seconds']} s; RSS {start_rss:.0f} MB")
        mon = Monitor(srv, start_rss)
        mon.start()
        # The RSS check covers the hostile requests, which must leave nothing behind; the load
        # attacks after them add ~660 passages to the index (vectors, SQLite pages, lexical
        # index, cached themes), memory that belongs to the data: their RSS is reported apart.
        hostile = [a for a in ATTACKS if a in only and a not in LOAD]
        summary["attacks"] = run_attacks(srv, mon, hostile, args)
        end_rss, t = None, time.monotonic()  # let the allocator settle, up to ~10 s
        while srv.alive() and time.monotonic() - t < 10:
            end_rss = rss_mb(srv.proc.pid)
            if end_rss is not None and end_rss <= 1.2 * start_rss:
                break
            time.sleep(0.5)
        load = [a for a in LOAD if a in only]
        if load:
            summary["attacks"].update(run_attacks(srv, mon, load, args))
            summary["rss_mb_after_load"] = round(rss_mb(srv.proc.pid) or 0)
            log(f"after {', '.join(load)}: RSS {summary['rss_mb_after_load']} MB (index grown)")
        hwm = rss_mb(srv.proc.pid, "VmHWM")
        mon.stop_ev.set()
        mon.join(5)
        mon.poll_once()  # a last poll, so that a server that died between polls is seen failing
        within = end_rss is not None and end_rss <= 1.2 * start_rss
        summary["health"] = {"polls": mon.polls, "failures": len(mon.failures),
                             "max_latency_s": round(mon.max_latency, 3),
                             "first_failures": mon.failures[:5]}
        summary["rss_mb"] = {"start": round(start_rss), "peak_sampled": round(mon.peak),
                             "peak_vmhwm": hwm and round(hwm), "end": end_rss and round(end_rss),
                             "end_within_20pct": within}
    else:
        log(f"server did not start (warm-up: {warm}); see server_stderr_tail")
    survived = summary["server_alive_at_end"] = srv.alive()
    if survived:  # SIGTERM: the server finishes what is in flight (--shutdown-timeout, 20 s)
        t = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM if summary["started"] else signal.SIGKILL)
        try:
            srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait()
        summary["shutdown_seconds"] = round(time.monotonic() - t, 2)
    summary["server_exit"], summary["server_stderr_tail"] = srv.exit_info(), srv.stderr_tail()
    summary["passed"] = bool(summary["started"] and survived and not mon.failures and within)
    if summary["started"]:
        log(f"survived={survived} health failures={len(mon.failures)} max /health "
            f"{mon.max_latency:.2f} s; RSS start {start_rss:.0f} peak {mon.peak:.0f} "
            f"end {end_rss or 0:.0f} MB -> {'PASS' if summary['passed'] else 'FAIL'}")
    print(json.dumps(summary, indent=2))
    shutil.rmtree(args.workdir, ignore_errors=True)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
