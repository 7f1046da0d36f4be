//! Prometheus metrics in the text exposition format (version 0.0.4), kept by hand: a handful of
//! counters and histograms do not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const LATENCY_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const BATCH_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const TOKEN_BOUNDS: &[f64] = &[16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative); the last one is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c;
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    batch_size: Histogram,
    batch_tokens: Histogram,
    forward: Histogram,
    queue_depth: usize,
    rejected_full: u64,
    rejected_connections: u64,
    cancelled: u64,
    themes_cached: usize,
    passages_indexed: u64,
    /// Requests received and not yet answered.
    in_flight: u64,
}

/// Everything `/metrics` reports, updated by the handlers and the model thread.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                requests: BTreeMap::new(),
                latency: BTreeMap::new(),
                batch_size: Histogram::new(BATCH_BOUNDS),
                batch_tokens: Histogram::new(TOKEN_BOUNDS),
                forward: Histogram::new(LATENCY_BOUNDS),
                queue_depth: 0,
                rejected_full: 0,
                rejected_connections: 0,
                cancelled: 0,
                themes_cached: 0,
                passages_indexed: 0,
                in_flight: 0,
            }),
        }
    }
}

/// Label values are route templates and methods (ours), but escape them anyway.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A panic while holding the lock cannot leave counters inconsistent in a harmful way.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// A request came in (`finished: false`) or was answered (`true`).
    pub fn in_flight(&self, finished: bool) {
        self.with(|m| {
            m.in_flight = if finished {
                m.in_flight.saturating_sub(1)
            } else {
                m.in_flight + 1
            }
        })
    }

    /// One finished request; `route` is the route template (`/v1/passages/{id}`), not the path.
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.with(|m| {
            *m.requests
                .entry((route.to_string(), method.to_string(), status))
                .or_default() += 1;
            m.latency
                .entry(route.to_string())
                .or_insert_with(|| Histogram::new(LATENCY_BOUNDS))
                .observe(elapsed.as_secs_f64());
        })
    }

    /// One forward pass of `texts` texts and about `tokens` tokens.
    pub fn batch(&self, texts: usize, tokens: usize, elapsed: Duration) {
        self.with(|m| {
            m.batch_size.observe(texts as f64);
            m.batch_tokens.observe(tokens as f64);
            m.forward.observe(elapsed.as_secs_f64());
        })
    }

    pub fn queue_depth(&self, depth: usize) {
        self.with(|m| m.queue_depth = depth)
    }

    /// Work stopped because its request went away (timed out, or its client closed).
    pub fn cancelled(&self) {
        self.with(|m| m.cancelled += 1);
    }

    /// Theme results held in the cache now.
    pub fn themes_cached(&self, n: usize) {
        self.with(|m| m.themes_cached = n);
    }

    /// A connection over `--max-connections`, answered 503 and closed.
    pub fn rejected_connection(&self) {
        self.with(|m| m.rejected_connections += 1);
    }

    pub fn rejected_full(&self) {
        self.with(|m| m.rejected_full += 1)
    }

    pub fn passages_indexed(&self, n: usize) {
        self.with(|m| m.passages_indexed += n as u64)
    }

    /// The exposition text; `index_passages` is the index's current size.
    pub fn render(&self, queue_depth: usize, index_passages: Option<usize>) -> String {
        let m = self.with(|m| {
            m.queue_depth = queue_depth;
            (
                m.requests.clone(),
                m.latency.clone(),
                m.batch_size.clone(),
                m.batch_tokens.clone(),
                m.forward.clone(),
                (
                    m.rejected_full,
                    m.rejected_connections,
                    m.cancelled,
                    m.themes_cached,
                ),
                (m.passages_indexed, m.in_flight),
            )
        });
        let (requests, latency, batch_size, batch_tokens, forward, rejected, (indexed, in_flight)) =
            m;
        let (rejected, rejected_connections, cancelled, themes_cached) = rejected;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP semclust_http_requests_total HTTP requests by route template, method and status."
        );
        let _ = writeln!(out, "# TYPE semclust_http_requests_total counter");
        for ((route, method, status), n) in &requests {
            let _ = writeln!(
                out,
                "semclust_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        let _ = writeln!(
            out,
            "# HELP semclust_http_request_duration_seconds Time from request to response, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE semclust_http_request_duration_seconds histogram"
        );
        for (route, h) in &latency {
            h.write(
                &mut out,
                "semclust_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        let _ = writeln!(
            out,
            "# HELP semclust_batch_size Texts per forward pass of the model."
        );
        let _ = writeln!(out, "# TYPE semclust_batch_size histogram");
        batch_size.write(&mut out, "semclust_batch_size", "");
        let _ = writeln!(
            out,
            "# HELP semclust_batch_tokens Tokens per forward pass of the model (special tokens included)."
        );
        let _ = writeln!(out, "# TYPE semclust_batch_tokens histogram");
        batch_tokens.write(&mut out, "semclust_batch_tokens", "");
        let _ = writeln!(
            out,
            "# HELP semclust_forward_seconds Time of one forward pass of the model."
        );
        let _ = writeln!(out, "# TYPE semclust_forward_seconds histogram");
        forward.write(&mut out, "semclust_forward_seconds", "");
        let scalars: [(&str, &str, &str, Option<u64>); 8] = [
            (
                "semclust_http_requests_in_flight",
                "gauge",
                "Requests received and not yet answered (this one included).",
                Some(in_flight),
            ),
            (
                "semclust_queue_depth",
                "gauge",
                "Jobs waiting for the model thread.",
                Some(queue_depth as u64),
            ),
            (
                "semclust_queue_rejected_total",
                "counter",
                "Requests refused with 429 because the queue was full.",
                Some(rejected),
            ),
            (
                "semclust_connections_rejected_total",
                "counter",
                "Connections refused with 503 because --max-connections were open.",
                Some(rejected_connections),
            ),
            (
                "semclust_cancelled_total",
                "counter",
                "Work stopped because its request timed out or its client went away.",
                Some(cancelled),
            ),
            (
                "semclust_themes_cached",
                "gauge",
                "Theme results held in memory (at most --themes-cache-entries).",
                Some(themes_cached as u64),
            ),
            (
                "semclust_passages_indexed_total",
                "counter",
                "Passages added or updated through POST /v1/index.",
                Some(indexed),
            ),
            (
                "semclust_index_passages",
                "gauge",
                "Passages in the index.",
                index_passages.map(|n| n as u64),
            ),
        ];
        for (name, kind, help, value) in scalars {
            if let Some(v) = value {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::new(&[1.0, 2.0]);
        for v in [0.5, 1.5, 1.7, 9.0] {
            h.observe(v);
        }
        let mut s = String::new();
        h.write(&mut s, "x", "a=\"b\"");
        assert!(s.contains("x_bucket{a=\"b\",le=\"1\"} 1\n"));
        assert!(s.contains("x_bucket{a=\"b\",le=\"2\"} 3\n"));
        assert!(s.contains("x_bucket{a=\"b\",le=\"+Inf\"} 4\n"));
        assert!(s.contains("x_count{a=\"b\"} 4\n"));
    }
}
