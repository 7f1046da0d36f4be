//! An index of a million passages (or any multiple of a real one), for timing `semclust themes`
//! and `semclust report` at that scale.
//!
//! `cargo bench --bench themes_scale -- --index SRC --times 10 --out DIR [--noise 0.01]`
//!
//! No real collection of a million passages can be embedded on this machine in a session (the
//! 101,582 passages of the manual pages took 15 minutes for 55,787 distinct texts), so the
//! passages of SRC are written to DIR `--times` times: replica r of each passage keeps its text,
//! title and metadata under document `rR/DOCUMENT`, and its vector moves by Gaussian noise of
//! `--noise` per dimension (0.01: a cosine of about 0.98 to the original) before being
//! normalised again, so that replicas are near but not equal. Then time, e.g.:
//!
//! `/usr/bin/time -f "%e s %M KB" semclust themes --index DIR --json > /dev/null`
//!
//! What this measures is the cost of the theme pipeline at n passages; the themes' quality at
//! that n is that of the replicated collection, not of a real one of that size.

use std::path::PathBuf;
use std::time::Instant;

use semclust::corpus::Passage;
use semclust::store::{Changes, HnswOptions, StoreLocation};

#[path = "common/synth.rs"]
#[allow(dead_code)] // the synthetic-vector helpers are for the other benches
mod synth;
use synth::{arg, normalise, Rng};

fn main() -> anyhow::Result<()> {
    let src = PathBuf::from(arg("--index").ok_or_else(|| anyhow::anyhow!("--index SRC"))?);
    let out = PathBuf::from(arg("--out").ok_or_else(|| anyhow::anyhow!("--out DIR"))?);
    let times: usize = arg("--times").map_or(Ok(10), |s| s.parse())?;
    let noise: f32 = arg("--noise").map_or(Ok(0.01), |s| s.parse())?;
    if out.exists() {
        anyhow::bail!("{}: exists; give a new folder", out.display());
    }
    let t = Instant::now();
    let from = StoreLocation::new(&src, None)?.open()?;
    let fp = from.fingerprint().clone();
    let dim = fp.dimension;
    let ids = from.row_ids()?;
    let vectors = from.vectors()?;
    let mut by_id: std::collections::HashMap<String, _> = from
        .passages()?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let rows: Vec<_> = ids
        .iter()
        .enumerate()
        .filter_map(|(r, id)| by_id.remove(id).map(|p| (r, p)))
        .collect();
    drop(from);
    println!(
        "# themes_scale: {} passages of {} read in {:.1} s; writing {} × {} to {}",
        rows.len(),
        src.display(),
        t.elapsed().as_secs_f64(),
        times,
        rows.len(),
        out.display()
    );
    let mut to = StoreLocation::new(&out, None)?.open_or_create(&fp, &HnswOptions::default())?;
    let mut rng = Rng(0x5eed);
    for r in 0..times {
        let t = Instant::now();
        let mut c = Changes::default();
        let mut docs = std::collections::BTreeMap::new();
        for (row, p) in &rows {
            let document = format!("r{r}/{}", p.document);
            docs.entry(document.clone())
                .or_insert_with(|| format!("{}#r{r}", p.path));
            let mut v = vectors[row * dim..(row + 1) * dim].to_vec();
            if r > 0 {
                for x in v.iter_mut() {
                    *x += noise * rng.gauss();
                }
                normalise(&mut v);
            }
            let passage = Passage {
                id: format!("r{r}/{}", p.id),
                document,
                article: p.article_key.clone(),
                paragraph: p.paragraph,
                title: p.title.clone(),
                section: p.section.clone(),
                meta: p.meta.clone(),
                span: p.span,
                text: p.text.clone(),
                hash: p.hash.clone(),
            };
            c.upserts.push((passage, v));
        }
        c.documents = docs.into_iter().collect();
        to.apply(c)?;
        println!(
            "replica {r}: {} passages in {:.1} s",
            rows.len(),
            t.elapsed().as_secs_f64()
        );
    }
    println!("{} passages in {}", rows.len() * times, out.display());
    Ok(())
}
