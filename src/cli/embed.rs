//! `semclust embed`: one text per line in, one vector per line out, in input order.

use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use semclust::{Embedder, InputKind, LongTextPolicy};

use super::{notify, ModelArgs, RuntimeArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One JSON array per line.
    Jsonl,
    /// One NumPy (n, dim) float32 array.
    Npy,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Input file, one UTF-8 text per line; `-` or nothing reads standard input.
    pub input: Option<String>,
    /// Embed as search queries (the model's query prefix); default is passages.
    #[arg(long)]
    pub query: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Output file (default: standard output).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Cut texts at the model's maximum length instead of averaging overlapping windows.
    #[arg(long)]
    pub truncate: bool,
    /// Skip empty lines instead of failing on them (their rows are then absent from the output).
    #[arg(long)]
    pub skip_empty: bool,
    /// Largest text (one line), in bytes: a longer line is an error naming it, before anything
    /// is tokenised (a 50 MB line would take gigabytes and minutes).
    #[arg(long, default_value_t = semclust::corpus::ReadLimits::default().max_passage_bytes, value_name = "BYTES")]
    pub max_passage_bytes: usize,
    /// No progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Split input bytes into lines, checking UTF-8, emptiness and size line by line.
pub fn read_lines(
    bytes: &[u8],
    skip_empty: bool,
    max_line_bytes: usize,
) -> Result<Vec<String>, semclust::Error> {
    let mut out = Vec::new();
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Ok(out);
    }
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.len() > max_line_bytes {
            return Err(semclust::Error::Input {
                line,
                message: format!(
                    "{} bytes, over the limit of {max_line_bytes} per text (--max-passage-bytes); split the line or raise the limit",
                    raw.len()
                ),
            });
        }
        let text = std::str::from_utf8(raw).map_err(|e| semclust::Error::Input {
            line,
            message: format!(
                "not valid UTF-8 (byte {} of the line); convert the file to UTF-8",
                e.valid_up_to() + 1
            ),
        })?;
        if text.trim().is_empty() {
            if skip_empty {
                continue;
            }
            return Err(semclust::Error::Input {
                line,
                message: "empty line; remove it or pass --skip-empty".into(),
            });
        }
        out.push(text.to_string());
    }
    Ok(out)
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let bytes = match args.input.as_deref() {
        None | Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read standard input")?;
            buf
        }
        Some(path) => std::fs::read(path).with_context(|| format!("cannot read {path}"))?,
    };
    let source = args.input.as_deref().unwrap_or("-");
    if args.max_passage_bytes == 0 {
        bail!("--max-passage-bytes must be at least 1");
    }
    let lines = read_lines(&bytes, args.skip_empty, args.max_passage_bytes)
        .with_context(|| source.to_string())?;
    if lines.is_empty() {
        bail!("{source}: no text to embed (the input is empty)");
    }
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let (device, precision) = (args.runtime.device, args.runtime.precision);
    let quiet = args.quiet;
    let report = |m: &str| {
        if !quiet {
            notify(m)
        }
    };
    let embedder = Embedder::load_with(&args.model.spec(), device, precision, &report)?
        .with_batch_size(args.batch_size)?
        .with_long_text(if args.truncate {
            LongTextPolicy::Truncate
        } else {
            LongTextPolicy::Window
        });
    report(&embedder.info().to_string());
    let kind = if args.query {
        InputKind::Query
    } else {
        InputKind::Passage
    };

    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        ),
        None => {
            if args.format == Format::Npy && std::io::stdout().is_terminal() {
                bail!("--format npy writes binary: pass --out FILE or redirect standard output");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let mut out = BufWriter::new(out);
    let show_progress = !quiet && std::io::stderr().is_terminal() && lines.len() > 256;
    let started = std::time::Instant::now();
    let mut all = Vec::new();
    // Chunks bound memory for JSONL (written as it goes) and give progress a rhythm.
    for (ci, chunk) in lines.chunks(256).enumerate() {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let e = embedder.embed(&refs, kind)?;
        match args.format {
            Format::Jsonl => {
                for i in 0..e.rows() {
                    serde_json::to_writer(&mut out, e.row(i))?;
                    out.write_all(b"\n")?;
                }
            }
            Format::Npy => all.extend_from_slice(e.as_slice()),
        }
        if show_progress {
            let done = (ci * 256 + chunk.len()).min(lines.len());
            eprint!(
                "\rsemclust: {done}/{} texts, {:.1}/s",
                lines.len(),
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    if show_progress {
        eprintln!();
    }
    if args.format == Format::Npy {
        semclust::util::npy::write_f32(&mut out, &all, lines.len(), embedder.dimension())?;
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.context("cannot write the output")?,
    }
    let secs = started.elapsed().as_secs_f64();
    let rate = lines.len() as f64 / secs.max(1e-9);
    match &args.out {
        Some(p) => report(&format!(
            "embedded {} texts in {secs:.2}s ({rate:.1}/s); wrote {}",
            lines.len(),
            p.display()
        )),
        None => report(&format!(
            "embedded {} texts in {secs:.2}s ({rate:.1}/s)",
            lines.len()
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_one_by_one() {
        assert_eq!(read_lines(b"a\r\nb\n", false, 100).unwrap(), vec!["a", "b"]);
        assert_eq!(read_lines(b"a\nb", false, 100).unwrap(), vec!["a", "b"]);
        assert!(read_lines(b"", false, 100).unwrap().is_empty());
        let e = read_lines(b"ok\n\xff\xfe bad\n", false, 100)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "input line 2: not valid UTF-8 (byte 1 of the line); convert the file to UTF-8"
        );
        let e = read_lines(b"a\n\nb\n", false, 100).unwrap_err().to_string();
        assert!(e.starts_with("input line 2: empty line"), "{e}");
        assert_eq!(
            read_lines(b"a\n  \nb\n", true, 100).unwrap(),
            vec!["a", "b"]
        );
    }
}
