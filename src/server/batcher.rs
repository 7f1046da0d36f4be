//! Dynamic batching: the model runs on one thread of its own, and requests queue for it. The
//! thread takes the oldest job, then keeps gathering jobs until the batch holds
//! [`BatchConfig::max_batch_tokens`] tokens or [`BatchConfig::max_wait`] has passed, and runs
//! them as one forward pass: sixty-four clients sending one short text each share a few passes
//! instead of queueing for sixty-four. The queue is bounded ([`BatchConfig::queue_capacity`]
//! jobs); a request that finds it full is refused at once ([`Submit::Full`], HTTP 429) rather
//! than held in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::metrics::Metrics;
use crate::embed::{Embeddings, Encode, InputKind, TokenEncoder, Tokenized};
use crate::error::{Error, Result};

/// How requests are gathered into forward passes.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Tokens (special tokens included) one forward pass gathers at most; a single larger job
    /// runs alone.
    pub max_batch_tokens: usize,
    /// How long the first job of a batch waits for others to join it.
    pub max_wait: Duration,
    /// Jobs waiting for the model at most.
    pub queue_capacity: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max_batch_tokens: 8192,
            max_wait: Duration::from_millis(2),
            queue_capacity: 256,
        }
    }
}

struct Job {
    tokens: Tokenized,
    /// Estimated tokens of the job (content + special tokens per text).
    cost: usize,
    /// A piece of bulk work (indexing, themes' labels): it runs after the interactive jobs
    /// waiting, and never in their forward pass.
    bulk: bool,
    reply: oneshot::Sender<Result<Embeddings>>,
}

/// Why a job was not queued.
pub enum Submit {
    /// The queue is full: try again later.
    Full,
    /// The model thread has stopped (the server is shutting down).
    Closed,
}

/// The handle requests use to reach the model thread.
pub struct Batcher {
    embedder: Arc<dyn TokenEncoder>,
    tx: Option<SyncSender<Job>>,
    depth: Arc<AtomicUsize>,
    capacity: usize,
    metrics: Arc<Metrics>,
    worker: Option<JoinHandle<()>>,
}

impl Batcher {
    /// Start the model thread.
    pub fn start(
        embedder: Arc<dyn TokenEncoder>,
        config: BatchConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Job>(config.queue_capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let worker = {
            let embedder = embedder.clone();
            let depth = depth.clone();
            let metrics = metrics.clone();
            std::thread::Builder::new()
                .name("semclust-model".into())
                .spawn(move || run(&*embedder, &rx, config, &depth, &metrics))
                .ok()
        };
        Self {
            embedder,
            tx: Some(tx),
            depth,
            capacity: config.queue_capacity.max(1),
            metrics,
            worker,
        }
    }

    pub fn embedder(&self) -> &dyn TokenEncoder {
        &*self.embedder
    }

    /// Jobs waiting for the model.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Whether a job would be refused now: checked before a request is tokenised, so that
    /// refusing work under overload costs next to nothing.
    pub fn is_full(&self) -> bool {
        self.queue_depth() >= self.capacity
    }

    fn job(&self, tokens: Tokenized, bulk: bool) -> (Job, oneshot::Receiver<Result<Embeddings>>) {
        let cost = (0..tokens.len()).map(|i| tokens.content_len(i) + 2).sum();
        let (reply, rx) = oneshot::channel();
        (
            Job {
                tokens,
                cost,
                bulk,
                reply,
            },
            rx,
        )
    }

    /// Queue tokenised texts without waiting for room; the receiver gets the embeddings.
    pub fn try_submit(
        &self,
        tokens: Tokenized,
    ) -> std::result::Result<oneshot::Receiver<Result<Embeddings>>, Submit> {
        let tx = self.tx.as_ref().ok_or(Submit::Closed)?;
        let (job, rx) = self.job(tokens, false);
        self.depth.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(job) {
            Ok(()) => {
                self.metrics.queue_depth(self.queue_depth());
                Ok(rx)
            }
            Err(e) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(match e {
                    TrySendError::Full(_) => Submit::Full,
                    TrySendError::Disconnected(_) => Submit::Closed,
                })
            }
        }
    }

    /// Stop taking jobs, let the model thread finish the queued ones, and wait for it.
    pub fn shutdown(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Tokens of one piece of bulk work (indexing, themes' labels) sent to the model at a time.
/// A query that arrives meanwhile waits for one such piece, not for the whole chunk: sent
/// whole, 64 passages with their context (up to 30,000 tokens) held searches and embeddings
/// for 4 to 5.5 s while 600 passages were indexed over HTTP. With pieces of 1,024 tokens the
/// queries sent meanwhile waited 0.47 s (median), and the indexing took 3.5 % longer
/// (benches/RESULTS.md, "Hostile requests, second round").
pub const BULK_PIECE_TOKENS: usize = 1024;

/// Indexing through the server: the same queue, waiting for room instead of refusing (a large
/// indexing request must not fail because searches are busy), sent a piece at a time so that
/// interactive requests queue between pieces instead of behind the whole chunk.
impl Encode for Batcher {
    fn encode(&self, texts: &[&str], kind: InputKind) -> Result<Embeddings> {
        let closed = || Error::Unavailable("the server is shutting down".into());
        let tokens = self.embedder.tokenize(texts, kind)?;
        // Pieces of texts of about one length, as the model sorts a whole call: a forward pass
        // pads every text to its longest. Rows come back in sorted order and are put back in
        // place. (Measured with scripts/audit_serve.py, bulk-latency: 600 passages indexed over
        // HTTP in 26.6 s against 25.7 s sent whole, while serving 50 queries instead of 10.)
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| tokens.content_len(i));
        let sorted = Tokenized::from_ids(order.iter().map(|&i| tokens.ids(i).to_vec()).collect());
        let mut data = Vec::new();
        let mut counts = Vec::with_capacity(texts.len());
        let mut dim = 0;
        for piece in sorted.into_runs(BULK_PIECE_TOKENS, 2) {
            let tx = self.tx.as_ref().ok_or_else(closed)?;
            let (job, rx) = self.job(piece, true);
            self.depth.fetch_add(1, Ordering::Relaxed);
            if tx.send(job).is_err() {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(closed());
            }
            let e = rx.blocking_recv().map_err(|_| closed())??;
            dim = e.dim();
            counts.extend_from_slice(e.token_counts());
            data.extend_from_slice(e.as_slice());
        }
        if counts.is_empty() {
            return Ok(Embeddings::from_parts(
                Vec::new(),
                self.embedder.info().dimension,
                Vec::new(),
            ));
        }
        let mut rows = vec![0f32; data.len()];
        let mut tokens_of = vec![0usize; counts.len()];
        for (k, &i) in order.iter().enumerate() {
            rows[i * dim..(i + 1) * dim].copy_from_slice(&data[k * dim..(k + 1) * dim]);
            tokens_of[i] = counts[k];
        }
        Ok(Embeddings::from_parts(rows, dim, tokens_of))
    }

    fn token_counts(&self, texts: &[&str], kind: InputKind) -> Result<Vec<usize>> {
        let t = self.embedder.tokenize(texts, kind)?;
        // Two special tokens per text, as the pieces above count them.
        Ok((0..t.len()).map(|i| t.content_len(i) + 2).collect())
    }
}

/// The model thread: jobs taken from the queue into `pending` (still counted as waiting), the
/// oldest interactive job first, else the oldest piece of bulk work; then others of the same
/// kind gathered into its forward pass, up to the token budget or the wait. A query never
/// shares a pass with bulk work, so it waits at most for the piece already running.
fn run(
    embedder: &dyn TokenEncoder,
    rx: &mpsc::Receiver<Job>,
    config: BatchConfig,
    depth: &AtomicUsize,
    metrics: &Metrics,
) {
    let mut pending: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
    let take = |pending: &mut std::collections::VecDeque<Job>, i: usize| {
        depth.fetch_sub(1, Ordering::Relaxed);
        pending.remove(i)
    };
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(j) => pending.push_back(j),
                Err(_) => return,
            }
        }
        pending.extend(rx.try_iter());
        let at = pending.iter().position(|j| !j.bulk).unwrap_or(0);
        let Some(first) = take(&mut pending, at) else {
            continue;
        };
        let bulk = first.bulk;
        let mut cost = first.cost;
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        'gather: while cost < config.max_batch_tokens {
            // A job of this pass's kind that fits, among those already taken from the queue.
            if let Some(i) = pending
                .iter()
                .position(|j| j.bulk == bulk && cost + j.cost <= config.max_batch_tokens)
            {
                if let Some(j) = take(&mut pending, i) {
                    cost += j.cost;
                    jobs.push(j);
                }
                continue;
            }
            if pending.iter().any(|j| j.bulk == bulk) {
                break; // the next of this kind does not fit: it leads the next pass
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // Past the deadline, still take whatever is already waiting.
            let next = if left.is_zero() {
                rx.try_recv().map_err(|_| RecvTimeoutError::Timeout)
            } else {
                rx.recv_timeout(left)
            };
            match next {
                Ok(j) => pending.push_back(j),
                Err(_) => break 'gather,
            }
        }
        metrics.queue_depth(depth.load(Ordering::Relaxed));
        // Callers that gave up (timeout, closed connection) need no forward pass.
        jobs.retain(|j| !j.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        let counts: Vec<usize> = jobs.iter().map(|j| j.tokens.len()).collect();
        let mut all = Tokenized::default();
        let mut replies = Vec::with_capacity(jobs.len());
        for j in jobs {
            all.extend(j.tokens);
            replies.push(j.reply);
        }
        let started = Instant::now();
        // A long job whose callers all gave up stops between forward passes, so that the
        // requests behind it do not wait for work nobody will read.
        let result = embedder.embed_tokens_while(&all, &|| replies.iter().any(|r| !r.is_closed()));
        metrics.batch(all.len(), cost, started.elapsed());
        match result {
            // Every caller went away: the timeout middleware (504) or the client.
            Ok(None) => metrics.cancelled(),
            Ok(Some(e)) => {
                for (reply, part) in replies.into_iter().zip(e.split_rows(&counts)) {
                    let _ = reply.send(Ok(part));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(Error::Internal(msg.clone())));
                }
            }
        }
    }
}
