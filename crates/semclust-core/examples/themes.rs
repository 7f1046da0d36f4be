//! Themes of an index made by `semclust index` (or the `search` example): k chosen by the
//! elbow of k-means' inertia, labels ranked with the model, in the language-neutral view.
//!
//!     cargo run --release -p semclust-core --example themes -- INDEX_DIR
use std::path::Path;

use semclust_core::{
    Collection, DeviceChoice, Embedder, Filter, KChoice, ModelSpec, StoreLocation, ThemeOptions,
};

fn main() -> semclust_core::Result<()> {
    let index = std::env::args().nth(1).unwrap_or_else(|| "index".into());
    let mut collection =
        Collection::open_for_search(&StoreLocation::new(Path::new(&index), None)?)?;
    // The index remembers its model; load that one, at the index's precision.
    let fp = collection.fingerprint().clone();
    let model = ModelSpec::named(&fp.model);
    let embedder = Embedder::load(&model, DeviceChoice::Auto, Some(fp.precision.parse()?))?;
    collection.check_model(embedder.info())?;
    // What tells languages apart is projected out, so that themes follow meaning (fitted once, cached).
    collection.make_language_neutral(&embedder, &model.cache_root())?;
    let opts = ThemeOptions {
        k: KChoice::Auto,
        ..ThemeOptions::default()
    };
    let themes = collection.themes(&opts, &Filter::default(), Some(&embedder), |_| {})?;
    for t in &themes.themes {
        println!("{:>3}  {:>5} passages  {}", t.id, t.size, t.label);
    }
    Ok(())
}
