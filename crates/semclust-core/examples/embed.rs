//! Embed a query and passages given on the command line, and rank the passages by cosine.
//!
//!     cargo run --release -p semclust-core --example embed -- QUERY PASSAGE...
use semclust_core::{DeviceChoice, Embedder, InputKind, ModelSpec};

fn main() -> semclust_core::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((query, passages)) = args.split_first() else {
        eprintln!("usage: embed QUERY PASSAGE...");
        std::process::exit(2);
    };
    // Fetched into semclust's cache on first use; `DeviceChoice::Auto` takes a GPU when built for one.
    let model = ModelSpec::named("multilingual-e5-small");
    let embedder = Embedder::load(&model, DeviceChoice::Auto, None)?;
    // E5 models embed questions and passages with different prefixes: say which is which.
    let q = embedder.embed(&[query.as_str()], InputKind::Query)?;
    let texts: Vec<&str> = passages.iter().map(String::as_str).collect();
    let p = embedder.embed(&texts, InputKind::Passage)?;
    // Rows are L2-normalised, so a dot product is the cosine.
    let mut ranked: Vec<(f32, &str)> = (0..p.rows())
        .map(|i| {
            (
                q.row(0).iter().zip(p.row(i)).map(|(a, b)| a * b).sum(),
                texts[i],
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, text) in ranked {
        println!("{score:.3}  {text}");
    }
    Ok(())
}
