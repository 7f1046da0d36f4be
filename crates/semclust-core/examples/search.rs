//! Index a folder of documents (Markdown, HTML, text, JSONL, reStructuredText, PDF, .gz) into
//! an index folder, then search it; indexing again only embeds what changed.
//!
//!     cargo run --release -p semclust-core --example search -- INDEX_DIR FOLDER "QUERY"
use std::path::{Path, PathBuf};

use semclust_core::corpus::ReadLimits;
use semclust_core::store::HnswOptions;
use semclust_core::{
    Collection, DeviceChoice, Embedder, FileBatch, InputKind, ModelSpec, SearchRequest,
    StoreLocation, Target,
};

fn main() -> semclust_core::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [index, folder, query] = &args[..] else {
        eprintln!("usage: search INDEX_DIR FOLDER QUERY");
        std::process::exit(2);
    };
    let location = StoreLocation::new(Path::new(index), None)?;
    // Files are read and split before the model loads: a folder without documents fails at once.
    let batch = FileBatch::read(
        &[PathBuf::from(folder)],
        &ReadLimits::default(),
        &location,
        &mut |w| eprintln!("{w}"),
    )?;
    let embedder = Embedder::load(
        &ModelSpec::named("multilingual-e5-small"),
        DeviceChoice::Auto,
        None,
    )?;
    let mut collection =
        Collection::create_or_open(&location, embedder.info(), &HnswOptions::default())?;
    let report = collection.sync_files(&embedder, &batch, &mut |_| {})?;
    eprintln!("{report:?}");
    // Hybrid (dense + BM25) by default; the caller embeds the query, with the query prefix.
    let request = SearchRequest::new(Target::Query(query.clone()), 5);
    let vector = embedder
        .embed(&[query.as_str()], InputKind::Query)?
        .row(0)
        .to_vec();
    for hit in collection.search(&request, Some(vector))?.hits {
        let cosine = hit.dense_score.unwrap_or(f32::NAN);
        println!("{cosine:.3}  {}  {}", hit.passage.id, hit.passage.text);
    }
    Ok(())
}
