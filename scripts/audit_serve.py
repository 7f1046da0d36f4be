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

Heading words and paragraphs come from a real text (GPL-3). Meanwhile a thread polls GET /health
every 200 ms (2 s timeout), recording the slowest answer and every failure, and another samples
the server's RSS (/proc/PID/status). A dead server is reported; later attacks are marked skipped.
JSON summary on stdout, a short log on stderr. Exit 0 only when the server survived, /health
never failed, and RSS after the attacks (given ~10 s to settle) is <= 1.2 x RSS after warm-up.

  python3 scripts/audit_serve.py --bin target/release/semclust [--index DIR] [--port N]
      [--api-key K] [--timeout-per-request S] [--only deep-html,deep-lists,heading,unauth]
"""
import argparse, http.client, json, os, re, shutil, signal, socket, subprocess, sys
import tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

ATTACKS = ["deep-html", "deep-lists", "deep-lists-2x", "heading", "unauth"]
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

    def request(self, method, path, obj=None, auth=True, timeout=None):
        """One request on its own connection: {status, seconds, body|error}."""
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
            return {"status": r.status, "seconds": round(time.monotonic() - t, 3),
                    "body": data[:240].decode(errors="replace")}
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
    by_status = {str(st): sum(r["status"] == st for r in rs) for st in {r["status"] for r in rs}}
    secs = sorted(r["seconds"] for r in rs)
    return [{"label": f"{n} x 4 MiB, no key", "status": by_status, "seconds": secs[-1],
             "median_seconds": secs[len(secs) // 2],
             "full_body_sent": sum(r["body_sent"] == len(body) for r in rs),
             "errors": sorted({r["error"] for r in rs if r.get("error")})[:5]}]


def run_attacks(srv, mon, names, text_source):
    runners = {"deep-html": attack_deep_html, "deep-lists": attack_deep_lists,
               "deep-lists-2x": attack_deep_lists_2x, "unauth": attack_unauth,
               "heading": lambda s: attack_heading(s, text_source)}
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
            log(f"{name} {r['label']}: {r['status']} in {r['seconds']} s {extra}".rstrip())
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
        summary["attacks"] = run_attacks(srv, mon, [a for a in ATTACKS if a in only],
                                         args.text_source)
        end_rss, t = None, time.monotonic()  # let the allocator settle, up to ~10 s
        while srv.alive() and time.monotonic() - t < 10:
            end_rss = rss_mb(srv.proc.pid)
            if end_rss is not None and end_rss <= 1.2 * start_rss:
                break
            time.sleep(0.5)
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
