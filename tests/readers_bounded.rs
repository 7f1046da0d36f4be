//! Every reader (Markdown, HTML, JSONL, plain text, reStructuredText, manual pages) against
//! input made to hurt: nesting
//! thousands deep and lines hundreds of KB long. Each read must end in bounded time, on a
//! small stack, allocating at most a constant factor of its input: no recursion per level of
//! nesting, and no text that grows faster than the source (a list nested 40,000 deep once
//! became a 1.6 GB passage; 10,000 nested `<div>` overflowed the server's stack).
//!
//! Memory is measured by this test binary's own allocator, per thread (each case runs on a
//! thread of its own). Time bounds are generous (the failures they catch took 24 s and more),
//! and hold for the release build the test suite runs in.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use semclust::corpus::{split, Format, ReadLimits, SourceFile};
use semclust::Error;

/// Counts the bytes live on the current thread, and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with`: the allocator also runs while a thread's locals are torn down.
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            count(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(p, l) };
        count(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            count(new as isize - l.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A stack smaller than any the readers run on (an async worker's is 2 MiB): recursion per
/// level of nesting overflows it within a few thousand levels.
const STACK: usize = 512 << 10;

/// What one read cost.
#[derive(Debug)]
struct Cost {
    outcome: Result<usize, String>,
    seconds: f64,
    peak_bytes: usize,
}

/// Split `text` as `format` on a thread of its own with a [`STACK`] stack.
fn read(text: String, format: Format, max_passage_bytes: usize) -> Cost {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let file = SourceFile {
                path: "x/doc".into(),
                key: "doc".into(),
                format,
            };
            let limits = ReadLimits {
                max_file_bytes: 64 << 20,
                max_passage_bytes,
            };
            let base = LIVE.with(Cell::get);
            PEAK.with(|p| p.set(base));
            let started = Instant::now();
            let outcome = match split(&text, &file, &limits) {
                Ok(ps) => Ok(ps.len()),
                Err(e @ Error::BadFile { .. }) => Err(e.to_string()),
                Err(e) => panic!("{format:?}: not a file error: {e}"),
            };
            let seconds = started.elapsed().as_secs_f64();
            let peak_bytes = (PEAK.with(Cell::get) - base).max(0) as usize;
            Cost {
                outcome,
                seconds,
                peak_bytes,
            }
        })
        .unwrap()
        .join()
        .expect("the reader panicked or overflowed its stack")
}

/// Bytes a read may allocate for `input` bytes: a DOM node per HTML element (about 200 bytes
/// per 5-byte `<div>`), the parser's state, the passages. Quadratic growth passes this at
/// tens of KB of input.
fn memory_bound(input: usize) -> usize {
    80 * input + (8 << 20)
}

const TIME_BOUND: Duration = Duration::from_secs(3);

fn assert_bounded(what: &str, input: usize, c: &Cost) {
    eprintln!(
        "{what}: {input} bytes in, {:.3} s, {} bytes at peak",
        c.seconds, c.peak_bytes
    );
    assert!(
        c.peak_bytes <= memory_bound(input),
        "{what}: {} bytes at peak for {input} bytes of input ({c:?})",
        c.peak_bytes
    );
    assert!(
        c.seconds <= TIME_BOUND.as_secs_f64(),
        "{what}: {:.2} s for {input} bytes of input",
        c.seconds
    );
}

/// Nesting constructs per format: the text opening one level, the text closing it, the text
/// inside.
fn nesting(format: Format) -> Vec<(&'static str, &'static str, &'static str)> {
    match format {
        Format::Markdown => vec![
            ("- ", "", "item"),
            ("> ", "", "quote"),
            ("1. ", "", "x"),
            ("* > ", "", "both"),
            ("[", "](u)", "link"),
            ("*", "*", "emphasis"),
            ("<div>", "</div>", "html"),
        ],
        Format::Html => vec![
            ("<div>", "</div>", "block"),
            ("<b>", "</b>", "inline"),
            ("<ul><li>", "</li></ul>", "list"),
            ("<table><tr><td>", "</td></tr></table>", "table"),
            ("<blockquote><p>", "</p></blockquote>", "quote"),
            ("<h2><span>", "</span></h2>", "heading"),
            ("<dl><dt>", "</dt></dl>", "definitions"),
        ],
        Format::Jsonl => vec![("{\"text\": \"x\", \"m\": ", "}", "[]")],
        Format::Text => vec![("\t", "", "indented")],
        Format::Rst => vec![
            ("  ", "", "- item"),
            ("`", "`_", "link"),
            ("*", "*", "emphasis"),
            ("- ", "", "item"),
            (".. ", "", "note::"),
        ],
        Format::Man => vec![
            ("\\fB", "\\fR", "bold"),
            (".RS\n", ".RE\n", "text\n"),
            (".TP\n", "", "tag\n"),
            ("\\(", "", "em"),
            ("\"", "\"", "quoted"),
        ],
        // Bytes, not text: its module's tests feed it hostile structures.
        Format::Pdf => unreachable!("PDF is not a text format"),
    }
}

fn nested(open: &str, close: &str, inner: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

/// The audit's own inputs, each read in bounded time and memory (and, for the list, refused
/// by the passage limit as it grows rather than built whole).
#[test]
fn the_audits_inputs_are_read_in_bounded_time_and_memory() {
    for depth in [3_000, 10_000, 100_000] {
        let text = nested("<div>", "</div>", "tief", depth);
        let c = read(text.clone(), Format::Html, 128 << 10);
        assert_eq!(c.outcome, Ok(1), "{depth} divs");
        assert_bounded(&format!("{depth} nested divs"), text.len(), &c);
    }
    for kb in [20, 40, 80] {
        let text = format!("{}item", "- ".repeat(kb * 512));
        let c = read(text.clone(), Format::Markdown, 128 << 10);
        assert!(c.outcome.is_err(), "{kb} KB list: {c:?}");
        assert_bounded(&format!("{kb} KB nested list"), text.len(), &c);
        // With the CLI's default passage limit (1 MiB) it is read, indent capped, and cut
        // into passages the model can read.
        let c = read(text.clone(), Format::Markdown, 1 << 20);
        assert!(c.outcome.is_ok(), "{kb} KB list: {c:?}");
        assert_bounded(&format!("{kb} KB nested list, 1 MiB limit"), text.len(), &c);
    }
}

/// Deep nesting of every construct of every reader, and long lines, drawn at random: each read
/// ends (a result or a one-line file error) in bounded time and memory, on a small stack.
#[test]
fn deep_nesting_and_long_lines_cost_at_most_linear_memory() {
    let format = prop::sample::select(vec![
        Format::Markdown,
        Format::Html,
        Format::Jsonl,
        Format::Text,
        Format::Rst,
        Format::Man,
    ]);
    let case = (
        format,
        0usize..8,
        0usize..20_000,
        0usize..300_000,
        any::<bool>(),
    );
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 96,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    runner
        .run(&case, |(format, which, depth, line, spaces)| {
            let constructs = nesting(format);
            let (open, close, inner) = constructs[which % constructs.len()];
            let word = if spaces { "wort " } else { "wort" };
            let long_line = word.repeat(line / word.len());
            let mut text = nested(open, close, inner, depth);
            text.push_str("\n\n");
            text.push_str(&long_line);
            text.push('\n');
            if format == Format::Jsonl {
                text = format!(
                    "{}\n{{\"text\": \"{long_line}\"}}\n",
                    nested(open, close, inner, depth.min(5_000))
                );
            }
            for limit in [128 << 10, 1 << 20] {
                let c = read(text.clone(), format, limit);
                let what =
                    format!("{format:?} {open:?} × {depth}, line of {line} bytes, limit {limit}");
                prop_assert!(
                    c.peak_bytes <= memory_bound(text.len()),
                    "{}: {} bytes at peak for {} bytes of input",
                    what,
                    c.peak_bytes,
                    text.len()
                );
                prop_assert!(
                    c.seconds <= TIME_BOUND.as_secs_f64(),
                    "{}: {:.2} s",
                    what,
                    c.seconds
                );
            }
            Ok(())
        })
        .unwrap();
}
