//! The report as one self-contained HTML file: inline CSS, inline SVG, a few lines of inline
//! script for the hover panel; no font, script or style sheet from anywhere else.

use std::fmt::Write;

use super::{colour, escape, svg, Report};
use crate::cluster::Themes;

const STYLE: &str = r#"
:root { --ink:#1d2330; --muted:#5d6575; --line:#e3e5ea; --bg:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
header { background:#fff; border-bottom:1px solid var(--line); padding:20px 32px; }
header h1 { margin:0 0 4px; font-size:22px; }
header p { margin:0; color:var(--muted); font-size:13px; }
main { max-width:1180px; margin:0 auto; padding:20px 32px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 22px; margin:18px 0; }
h2 { font-size:18px; margin:0 0 10px; display:flex; align-items:center; gap:10px; }
h3 { font-size:14px; margin:16px 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.swatch { display:inline-block; width:14px; height:14px; border-radius:50%; flex:none; }
.map-wrap { display:flex; gap:18px; align-items:flex-start; flex-wrap:wrap; }
.map-wrap svg { max-width:100%; height:auto; }
.map .point { cursor:pointer; transition:r .1s; }
.map .point:hover, .map .point.hit { r:8; stroke:#1d2330; }
#detail { flex:1 1 280px; min-height:120px; font-size:13px; color:var(--muted); border-left:3px solid var(--line); padding:4px 12px; max-height:500px; overflow:auto; }
#detail b { color:var(--ink); }
.legend { list-style:none; padding:0; margin:12px 0 0; display:flex; flex-wrap:wrap; gap:6px 18px; font-size:13px; }
.legend-item { display:flex; align-items:center; gap:6px; cursor:default; }
.legend-item a { color:inherit; text-decoration:none; }
.legend-item a:hover { text-decoration:underline; }
.meta { color:var(--muted); font-size:13px; margin:0 0 8px; }
.bars { display:grid; grid-template-columns:max-content 1fr max-content; gap:3px 10px; align-items:center; font-size:13px; max-width:640px; }
.bar { height:12px; border-radius:3px; }
.weight { color:var(--muted); font-variant-numeric:tabular-nums; font-size:12px; }
blockquote.representative { margin:8px 0; padding:8px 14px; border-left:4px solid; background:#fafbfc; border-radius:0 6px 6px 0; }
blockquote.representative p { margin:0 0 4px; }
blockquote.representative footer { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; font-size:13px; width:100%; }
th, td { border:1px solid var(--line); padding:5px 8px; text-align:center; font-variant-numeric:tabular-nums; }
th.article, td.article { text-align:left; max-width:420px; }
thead th { background:#fafbfc; vertical-align:bottom; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; font-size:13px; margin:0; }
dt { color:var(--muted); }
dd { margin:0; }
"#;

/// Hover (or focus) a point: its passage in the panel beside the map.
const SCRIPT: &str = r#"
(function () {
  var data = JSON.parse(document.getElementById('passage-data').textContent);
  var panel = document.getElementById('detail');
  var last = null;
  function show(el) {
    var p = data[el.getAttribute('data-id')];
    if (!p) return;
    if (last) last.classList.remove('hit');
    el.classList.add('hit'); last = el;
    panel.innerHTML = '';
    var h = document.createElement('b'); h.textContent = p.id + ' · theme ' + p.theme;
    var a = document.createElement('div'); a.textContent = p.article;
    var t = document.createElement('p'); t.textContent = p.text; t.style.color = '#1d2330';
    panel.appendChild(h); panel.appendChild(a); panel.appendChild(t);
  }
  document.querySelectorAll('.map .point').forEach(function (el) {
    el.addEventListener('mouseenter', function () { show(el); });
    el.addEventListener('click', function () { show(el); });
  });
})();
"#;

pub fn render(r: &Report<'_>) -> String {
    let t: &Themes = r.themes;
    let f = &t.facts;
    let mut s = String::with_capacity(64 * 1024 + t.passages.len() * 1200);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"semclust {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<header>\n<h1>{}</h1>\n<p>{} · {} ({}, {}-d) · k = {} ({}) · \
         silhouette {:.3} · {}</p>\n</header>\n<main>\n",
        r.semclust_version,
        escape(&r.title),
        escape(&r.title),
        escape(&r.index),
        escape(&f.model),
        escape(&f.precision),
        f.dimension,
        f.k,
        escape(&f.k_choice),
        f.silhouette,
        escape(&r.date),
    );

    // The map and its legend.
    s.push_str("<section id=\"map\">\n<h2>Map of the themes</h2>\n<p class=\"meta\">Each point is a passage, placed by the first two principal components of its embedding; close points say similar things. Hover a point to read it.</p>\n<div class=\"map-wrap\">\n");
    s.push_str(&svg::map(t, true));
    s.push_str("<aside id=\"detail\">Hover a point to read its passage here.</aside>\n</div>\n<ul class=\"legend\">\n");
    for th in &t.themes {
        let _ = writeln!(
            s,
            "<li class=\"legend-item\" data-theme=\"{}\"><span class=\"swatch\" style=\"background:{}\"></span><a href=\"#theme-{}\">{} · {}</a> <span class=\"weight\">({} passages, {} article{})</span></li>",
            th.id,
            colour(th.id),
            th.id,
            th.id,
            escape(&th.label),
            th.size,
            th.spread,
            if th.spread == 1 { "" } else { "s" }
        );
    }
    s.push_str("</ul>\n</section>\n");

    // Article × theme table.
    s.push_str("<section id=\"articles\">\n<h2>Articles × themes</h2>\n<p class=\"meta\">Passages of each article in each theme; a theme with counts in several rows cuts across articles.</p>\n<table class=\"article-theme\">\n<thead><tr><th class=\"article\">Article</th>");
    for th in &t.themes {
        let _ = write!(
            s,
            "<th title=\"{}\"><span class=\"swatch\" style=\"background:{}\"></span><br>{}</th>",
            escape(&th.label),
            colour(th.id),
            th.id
        );
    }
    s.push_str("<th>Total</th></tr></thead>\n<tbody>\n");
    for row in &t.table {
        let max = row.counts.iter().copied().max().unwrap_or(0).max(1);
        let _ = write!(
            s,
            "<tr><td class=\"article\">{}<br><span class=\"weight\">{}</span></td>",
            escape(&row.article),
            escape(&row.document)
        );
        for (i, &c) in row.counts.iter().enumerate() {
            if c == 0 {
                s.push_str("<td class=\"count\"></td>");
            } else {
                let alpha = 0.15 + 0.6 * c as f32 / max as f32;
                let _ = write!(
                    s,
                    "<td class=\"count\" style=\"background:color-mix(in srgb, {} {:.0}%, white)\">{c}</td>",
                    colour(i + 1),
                    alpha * 100.0
                );
            }
        }
        let _ = writeln!(s, "<td><b>{}</b></td></tr>", row.total);
    }
    s.push_str("<tr><td class=\"article\"><b>Passages in the theme</b></td>");
    for th in &t.themes {
        let _ = write!(s, "<td><b>{}</b></td>", th.size);
    }
    let _ = writeln!(
        s,
        "<td><b>{}</b></td></tr>\n</tbody>\n</table>\n</section>",
        f.passages
    );

    // One section per theme.
    for th in &t.themes {
        let c = colour(th.id);
        let _ = write!(
            s,
            "<section class=\"theme\" id=\"theme-{}\" data-theme=\"{}\">\n<h2><span class=\"swatch\" style=\"background:{c}\"></span>Theme {}: {}</h2>\n<p class=\"meta\">{} passages · spans {} of {} articles: {}</p>\n<h3>Key terms</h3>\n<div class=\"bars\">\n",
            th.id,
            th.id,
            th.id,
            escape(&th.label),
            th.size,
            th.spread,
            f.articles,
            th.articles
                .iter()
                .map(|a| format!("{} ({})", escape(&a.article), a.passages))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let max = th.terms.first().map(|x| x.weight).unwrap_or(1.0).max(1e-12);
        for term in &th.terms {
            let _ = writeln!(
                s,
                "<span class=\"term\">{}</span><div class=\"bar\" style=\"width:{:.1}%;background:{c}\"></div><span class=\"weight\">{:.4}</span>",
                escape(&term.term),
                100.0 * term.weight / max,
                term.weight
            );
        }
        s.push_str("</div>\n<h3>Representative passages</h3>\n");
        for rep in &th.representatives {
            let _ = writeln!(
                s,
                "<blockquote class=\"representative\" data-id=\"{}\" style=\"border-color:{c}\"><p>{}</p><footer>{} · <code>{}</code> · similarity to the theme's centre {:.3}</footer></blockquote>",
                escape(&rep.id),
                escape(&rep.text),
                escape(&rep.article),
                escape(&rep.id),
                rep.similarity
            );
        }
        s.push_str("</section>\n");
    }

    if let Some(scores) = &t.k_scores {
        let _ = write!(
            s,
            "<section id=\"k-choice\">\n<h2>Choice of k</h2>\n<p class=\"meta\">Each k tried, with \
             the mean silhouette of its clustering (solid, higher is better separated) and its \
             inertia (dashed, lower is tighter). k = {} was {}.</p>\n{}\n<details><summary>The \
             figures</summary>\n<table><thead><tr><th>k</th><th>silhouette</th><th>inertia</th></tr></thead><tbody>\n",
            f.k,
            escape(&f.k_choice),
            svg::k_curve(scores, f.k)
        );
        for k in scores {
            let mark = if k.k == f.k { " ◀" } else { "" };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{:.4}{mark}</td><td>{:.2}</td></tr>",
                k.k, k.silhouette, k.inertia
            );
        }
        s.push_str("</tbody></table>\n</details>\n</section>\n");
    }

    let _ = write!(
        s,
        "<section id=\"facts\">\n<h2>About this run</h2>\n<dl>\n\
         <dt>Index</dt><dd>{}</dd>\n<dt>Model</dt><dd>{} (revision {})</dd>\n\
         <dt>Precision</dt><dd>{}</dd>\n<dt>Passages / articles</dt><dd>{} / {}</dd>\n\
         <dt>k</dt><dd>{} ({})</dd>\n<dt>Clustering</dt><dd>k-means (k-means++ start, {} restarts, the lowest inertia kept), seed {}</dd>\n\
         <dt>Silhouette</dt><dd>{:.4}</dd>\n<dt>Inertia</dt><dd>{:.3}</dd>\n\
         <dt>Key terms</dt><dd>class-based TF-IDF over words and word pairs, stop words of {} removed</dd>\n\
         <dt>Map</dt><dd>PCA, axes showing {:.1}% and {:.1}% of the variance</dd>\n\
         <dt>Made</dt><dd>{} by semclust {}</dd>\n</dl>\n</section>\n</main>\n",
        escape(&r.index),
        escape(&f.model),
        escape(&f.revision),
        escape(&f.precision),
        f.passages,
        f.articles,
        f.k,
        escape(&f.k_choice),
        f.restarts,
        f.seed,
        f.silhouette,
        f.inertia,
        escape(&f.stop_word_languages.join(", ")),
        f.map_explained_variance[0] * 100.0,
        f.map_explained_variance[1] * 100.0,
        escape(&r.date),
        r.semclust_version
    );

    // The passages for the hover panel; every "<" is escaped, so no text can close the script or
    // put the parser in a state that swallows the page's own script ("<!--<script>").
    let data: serde_json::Map<String, serde_json::Value> = t
        .passages
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                serde_json::json!({"id": p.id, "article": p.article, "theme": p.theme, "text": p.text}),
            )
        })
        .collect();
    let json = crate::util::text::json_for_script(&serde_json::Value::Object(data).to_string());
    let _ = write!(
        s,
        "<script type=\"application/json\" id=\"passage-data\">{json}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    s
}
