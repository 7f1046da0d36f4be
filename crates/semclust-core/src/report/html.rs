//! The report as one self-contained HTML file: inline CSS, inline SVG, an inline script for the
//! map (hover or keyboard focus shows a passage; zoom and pan; a legend that shows and hides
//! themes; an article filter; a search box that highlights matching passages) and the article
//! table's filter; no font, script or style sheet from anywhere else. Sizes stay bounded: the
//! map draws a stratified sample above 3,000 passages (see `svg::map_sample`), the panel's texts
//! are cut to [`PANEL_CHARS`], and the article table folds past [`TABLE_ROWS`] rows.

use std::fmt::Write;

use super::{colour, escape, snippet, svg, Report};

/// Characters of a passage kept for the map's panel and search.
pub const PANEL_CHARS: usize = 280;
/// Article rows shown before the table folds.
pub const TABLE_ROWS: usize = 20;
/// Shades of a table cell's theme colour.
const SHADES: usize = 5;
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
.map { touch-action:none; cursor:grab; border-radius:6px; }
.map:focus { outline:2px solid #4e79a7; outline-offset:2px; }
.map .point { cursor:pointer; }
.map .point:hover, .map .point.hit { r:8; stroke:#1d2330; }
.map .point:focus { outline:none; r:9; stroke:#1d2330; stroke-width:2.5; }
.map.filtering .point:not(.match) { opacity:.12; }
.map .point.match { stroke:#1d2330; stroke-width:1.5; }
.controls { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:0 0 10px; font-size:13px; }
.controls input, .controls select, .controls button, .legend button, .fold button { font:inherit; padding:3px 8px; border:1px solid var(--line); border-radius:6px; background:#fff; }
.controls input[type=search] { min-width:220px; }
#match-count { color:var(--muted); }
.legend button { display:flex; align-items:center; gap:6px; cursor:pointer; }
.legend button[aria-pressed=false] { opacity:.4; text-decoration:line-through; }
tr.folded { display:none; }
#detail { flex:1 1 280px; min-height:120px; font-size:13px; color:var(--muted); border-left:3px solid var(--line); padding:4px 12px; max-height:500px; overflow:auto; }
#detail b { color:var(--ink); }
.multiples { display:grid; grid-template-columns:repeat(auto-fill,minmax(240px,1fr)); gap:10px 18px; }
.multiples figure { margin:0; }
.multiples figcaption { font-size:12px; display:flex; align-items:center; gap:6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.multiples .swatch { width:10px; height:10px; }
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

/// The map's behaviour and the article table's filter (see the module's comment).
const SCRIPT: &str = r#"
(function () {
  var data = JSON.parse(document.getElementById('passage-data').textContent);
  var byId = {};
  data.p.forEach(function (r) { byId[r[0]] = r; });
  var svg = document.querySelector('svg.map');
  var panel = document.getElementById('detail');
  var pts = Array.prototype.slice.call(svg.querySelectorAll('.point'));
  var W = svg.viewBox.baseVal.width, H = svg.viewBox.baseVal.height;
  var view = { x: 0, y: 0, w: W, h: H };
  var last = null, hidden = {}, article = '', query = '';
  function setView() { svg.setAttribute('viewBox', view.x + ' ' + view.y + ' ' + view.w + ' ' + view.h); }
  function zoom(f, cx, cy) {
    var w = Math.min(W, Math.max(W / 50, view.w * f)), h = w * H / W;
    view.x = cx - (cx - view.x) * w / view.w; view.y = cy - (cy - view.y) * h / view.h;
    view.w = w; view.h = h; setView();
  }
  function at(e) {
    var r = svg.getBoundingClientRect();
    return { x: view.x + (e.clientX - r.left) / r.width * view.w, y: view.y + (e.clientY - r.top) / r.height * view.h };
  }
  function show(el) {
    var p = byId[el.getAttribute('data-id')];
    if (!p) return;
    if (last) last.classList.remove('hit');
    el.classList.add('hit'); last = el;
    panel.textContent = '';
    var h = document.createElement('b'); h.textContent = p[0] + ' · theme ' + p[2];
    var a = document.createElement('div'); a.textContent = data.articles[p[1]];
    var t = document.createElement('p'); t.textContent = p[3]; t.style.color = '#1d2330';
    panel.appendChild(h); panel.appendChild(a); panel.appendChild(t);
  }
  function visible(el) { return el.style.display !== 'none'; }
  function refresh() {
    var q = query.toLowerCase(), n = 0;
    svg.classList.toggle('filtering', !!(q || article));
    pts.forEach(function (el) {
      var p = byId[el.getAttribute('data-id')];
      el.style.display = hidden[p[2]] ? 'none' : '';
      var ok = (!article || String(p[1]) === article) && (!q || p[3].toLowerCase().indexOf(q) >= 0);
      el.classList.toggle('match', ok && !!(q || article));
      if (ok && !hidden[p[2]]) n++;
    });
    document.getElementById('match-count').textContent = (q || article) ? n + ' of ' + pts.length + ' points match' : '';
  }
  pts.forEach(function (el) {
    el.setAttribute('tabindex', '-1');
    el.addEventListener('mouseenter', function () { show(el); });
    el.addEventListener('click', function () { show(el); el.focus(); });
    el.addEventListener('focus', function () { show(el); });
  });
  svg.setAttribute('tabindex', '0');
  svg.addEventListener('keydown', function (e) {
    var vis = pts.filter(visible), i = last ? vis.indexOf(last) : -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') { i = (i + 1) % vis.length; }
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') { i = (i - 1 + vis.length) % vis.length; }
    else if (e.key === '+' || e.key === '=') { zoom(0.8, view.x + view.w / 2, view.y + view.h / 2); return; }
    else if (e.key === '-') { zoom(1.25, view.x + view.w / 2, view.y + view.h / 2); return; }
    else if (e.key === '0') { view = { x: 0, y: 0, w: W, h: H }; setView(); return; }
    else return;
    e.preventDefault();
    if (vis[i]) { vis[i].focus(); }
  });
  svg.addEventListener('wheel', function (e) { e.preventDefault(); var p = at(e); zoom(e.deltaY < 0 ? 0.8 : 1.25, p.x, p.y); }, { passive: false });
  var drag = null;
  svg.addEventListener('pointerdown', function (e) {
    if (e.target.classList.contains('point')) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var r = svg.getBoundingClientRect();
    view.x = drag.vx - (e.clientX - drag.x) / r.width * view.w;
    view.y = drag.vy - (e.clientY - drag.y) / r.height * view.h; setView();
  });
  svg.addEventListener('pointerup', function () { drag = null; });
  document.getElementById('zoom-in').onclick = function () { zoom(0.7, view.x + view.w / 2, view.y + view.h / 2); };
  document.getElementById('zoom-out').onclick = function () { zoom(1.4, view.x + view.w / 2, view.y + view.h / 2); };
  document.getElementById('zoom-reset').onclick = function () { view = { x: 0, y: 0, w: W, h: H }; setView(); };
  document.getElementById('find').addEventListener('input', function (e) { query = e.target.value.trim(); refresh(); });
  document.getElementById('article').addEventListener('change', function (e) { article = e.target.value; refresh(); });
  document.querySelectorAll('.legend button').forEach(function (b) {
    b.addEventListener('click', function () {
      var t = b.getAttribute('data-theme'), on = b.getAttribute('aria-pressed') !== 'false';
      b.setAttribute('aria-pressed', on ? 'false' : 'true'); hidden[t] = on; refresh();
    });
  });
  var rows = Array.prototype.slice.call(document.querySelectorAll('table.article-theme tbody tr.row'));
  var more = document.getElementById('table-more');
  function fold(all) {
    var q = document.getElementById('table-find').value.trim().toLowerCase();
    rows.forEach(function (r, i) {
      var ok = q ? r.textContent.toLowerCase().indexOf(q) >= 0 : (all || i < TABLE_ROWS);
      r.classList.toggle('folded', !ok);
    });
  }
  if (more) {
    more.onclick = function () { var all = more.getAttribute('aria-expanded') !== 'true'; more.setAttribute('aria-expanded', all); more.textContent = all ? 'Fold the table' : more.getAttribute('data-label'); fold(all); };
    document.getElementById('table-find').addEventListener('input', function () { fold(more.getAttribute('aria-expanded') === 'true'); });
  }
})();
"#;

pub fn render(r: &Report<'_>) -> String {
    let t: &Themes = r.themes;
    let f = &t.facts;
    let shared = super::shared_titles(t);
    let mut s = String::with_capacity(64 * 1024 + t.passages.len() * 1200);
    // The run's facts as the header and the "About this run" section both show them.
    let (title, index, model, precision) = (
        escape(&r.title),
        escape(&r.index),
        escape(&f.model),
        escape(&f.precision),
    );
    let (k, k_choice, date, version) = (
        f.k,
        escape(&f.k_choice),
        escape(&r.date),
        r.semclust_version,
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"semclust {version}\">\n<title>{title}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{title}</h1>\n<p>{index} · \
         {model} ({precision}, {}-d) · k = {k} ({k_choice}) · silhouette {:.3} · {date}</p>\n\
         </header>\n<main>\n",
        f.dimension, f.silhouette,
    );

    // The map and its legend.
    let sample = svg::map_sample(t);
    let sampled = if sample.len() < t.passages.len() {
        format!(
            " It shows {} of the {} passages, each theme in proportion to its size.",
            sample.len(),
            t.passages.len()
        )
    } else {
        String::new()
    };
    let _ = write!(
        s,
        "<section id=\"map\">\n<h2>Map of the themes</h2>\n<p class=\"meta\">Each point is a \
         passage, laid out by {}; close points say similar things.{sampled} Hover or click a \
         point to read it; with the map focused, arrow keys go from point to point, + and − \
         zoom, 0 resets; the wheel zooms and dragging pans.</p>\n<div class=\"controls\">\
         <input type=\"search\" id=\"find\" placeholder=\"Highlight passages containing…\" \
         aria-label=\"Highlight passages containing\"><select id=\"article\" aria-label=\"Only \
         one article\"><option value=\"\">All articles</option>",
        escape(&f.map_layout)
    );
    // Articles of the drawn points, for the filter and the panel (each title once).
    let mut article_ix: std::collections::HashMap<(&str, &str), usize> = Default::default();
    let mut article_names: Vec<&str> = Vec::new();
    let mut rows = Vec::with_capacity(sample.len());
    for &i in &sample {
        let p = &t.passages[i];
        let a = *article_ix
            .entry((p.document.as_str(), p.article.as_str()))
            .or_insert_with(|| {
                article_names.push(p.article.as_str());
                article_names.len() - 1
            });
        rows.push(serde_json::json!([
            p.id,
            a,
            p.theme,
            snippet(&p.text, PANEL_CHARS)
        ]));
    }
    for (i, a) in article_names.iter().enumerate() {
        let _ = write!(
            s,
            "<option value=\"{i}\">{}</option>",
            escape(&snippet(a, 80))
        );
    }
    s.push_str("</select><button id=\"zoom-in\" aria-label=\"Zoom in\">+</button><button id=\"zoom-out\" aria-label=\"Zoom out\">−</button><button id=\"zoom-reset\">Reset view</button><span id=\"match-count\" aria-live=\"polite\"></span></div>\n<div class=\"map-wrap\">\n");
    s.push_str(&svg::map(t, true, &sample));
    s.push_str("<aside id=\"detail\">Hover a point to read its passage here.</aside>\n</div>\n<ul class=\"legend\">\n");
    for th in &t.themes {
        let _ = writeln!(
            s,
            "<li class=\"legend-item\" data-theme=\"{}\"><button type=\"button\" data-theme=\"{}\" aria-pressed=\"true\" title=\"Show or hide this theme on the map\"><span class=\"swatch\" style=\"background:{}\"></span>{} · {}</button> <a href=\"#theme-{}\" class=\"weight\">({} passages, {} article{})</a></li>",
            th.id,
            th.id,
            colour(th.id),
            th.id,
            escape(&th.label),
            th.id,
            th.size,
            th.spread,
            if th.spread == 1 { "" } else { "s" }
        );
    }
    s.push_str("</ul>\n</section>\n");

    // Article × theme table.
    s.push_str("<section id=\"articles\">\n<h2>Articles × themes</h2>\n<p class=\"meta\">Passages of each article in each theme; a theme with counts in several rows cuts across articles.</p>\n");
    if t.table.len() > TABLE_ROWS {
        let label = format!("Show all {} articles", t.table.len());
        let _ = writeln!(
            s,
            "<div class=\"controls fold\"><input type=\"search\" id=\"table-find\" \
             placeholder=\"Find an article…\" aria-label=\"Find an article\"><button \
             id=\"table-more\" aria-expanded=\"false\" data-label=\"{label}\">{label}</button></div>"
        );
    }
    s.push_str("<style>");
    for th in &t.themes {
        for step in 1..=SHADES {
            let alpha = 15 + 60 * step / SHADES;
            let _ = write!(
                s,
                ".s{}-{step}{{background:color-mix(in srgb,{} {alpha}%,white)}}",
                th.id,
                colour(th.id)
            );
        }
    }
    s.push_str(
        "</style>\n<table class=\"article-theme\">\n<thead><tr><th class=\"article\">Article</th>",
    );
    theme_heads(&mut s, t);
    s.push_str("<th>Total</th></tr></thead>\n<tbody>\n");
    for (r, row) in t.table.iter().enumerate() {
        let max = row.counts.iter().copied().max().unwrap_or(0).max(1);
        let _ = write!(
            s,
            "<tr class=\"row{}\"><td class=\"article\">{}<br><span class=\"weight\">{}</span></td>",
            if r >= TABLE_ROWS { " folded" } else { "" },
            escape(&row.article),
            escape(&row.document)
        );
        for (i, &c) in row.counts.iter().enumerate() {
            if c == 0 {
                s.push_str("<td></td>");
            } else {
                // Shade in five steps, by class: an inline style on every cell weighed most of
                // the report at thousands of articles.
                let step = (c * SHADES).div_ceil(max).clamp(1, SHADES);
                let _ = write!(s, "<td class=\"s{}-{step}\">{c}</td>", i + 1);
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

    if let Some(ot) = &t.over_time {
        over_time(&mut s, t, ot);
    }

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
            super::articles_line(&shared, th, escape)
        );
        if let Some(line) = super::languages_line(t, th) {
            // After the key-term bars' opening tag: the languages go just above the bars.
            let open = "<h3>Key terms</h3>\n<div class=\"bars\">\n";
            if s.ends_with(open) {
                s.truncate(s.len() - open.len());
                let _ = write!(
                    s,
                    "<p class=\"meta languages\">Languages: {}</p>\n{open}",
                    escape(&line)
                );
            }
        }
        let max = th.terms.first().map(|x| x.weight).unwrap_or(1.0).max(1e-12);
        for term in &th.terms {
            let _ = writeln!(
                s,
                "<span class=\"term\">{}</span><div class=\"bar\" style=\"width:{:.1}%;background:{c}\"></div><span class=\"weight\">{:.4}</span>",
                escape(&term.shown()),
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
         <dt>Index</dt><dd>{index}</dd>\n<dt>Model</dt><dd>{model} (revision {})</dd>\n\
         <dt>Precision</dt><dd>{precision}</dd>\n<dt>Passages / articles</dt><dd>{} / {}</dd>\n\
         <dt>k</dt><dd>{k} ({k_choice})</dd>\n<dt>Clustering</dt><dd>k-means (k-means++ start, {} restarts, the lowest inertia kept), seed {}</dd>\n\
         <dt>Vectors</dt><dd>{}</dd>\n\
         <dt>Silhouette</dt><dd>{:.4}</dd>\n<dt>Inertia</dt><dd>{:.3}</dd>\n\
         <dt>Key terms</dt><dd>class-based TF-IDF over words and word pairs, stop words of {} removed</dd>\n\
         <dt>Labels</dt><dd>{}</dd>\n\
         <dt>Map</dt><dd>{} (the first two principal components show {:.1}% and {:.1}% of the variance)</dd>\n{}\
         <dt>Made</dt><dd>{date} by semclust {version}</dd>\n</dl>\n</section>\n</main>\n",
        escape(&f.revision),
        f.passages,
        f.articles,
        f.restarts,
        f.seed,
        escape(&super::vectors_line(f)),
        f.silhouette,
        f.inertia,
        escape(&f.stop_word_languages.join(", ")),
        escape(&f.labels),
        escape(&f.map_layout),
        f.map_explained_variance[0] * 100.0,
        f.map_explained_variance[1] * 100.0,
        if f.boilerplate_left_out > 0 {
            format!(
                "<dt>Boilerplate left out</dt><dd>{} passages whose text is in 5 documents or more</dd>\n",
                f.boilerplate_left_out
            )
        } else {
            String::new()
        },
    );

    // The drawn passages for the panel and the search; every "<" is escaped, so no text can
    // close the script or put the parser in a state that swallows the page's own script
    // ("<!--<script>").
    let data = serde_json::json!({"articles": article_names, "p": rows});
    let json = crate::util::text::json_for_script(&data.to_string());
    let script = SCRIPT.replace("TABLE_ROWS", &TABLE_ROWS.to_string());
    let _ = write!(
        s,
        "<script type=\"application/json\" id=\"passage-data\">{json}</script>\n<script>{script}</script>\n</body>\n</html>\n"
    );
    s
}

/// The themes-over-time section: small multiples and, folded, the table of counts and shares.
fn over_time(s: &mut String, t: &Themes, ot: &crate::cluster::OverTime) {
    let dated: usize = ot.totals.iter().sum();
    let _ = write!(
        s,
        "<section id=\"over-time\">\n<h2>Themes over time</h2>\n<p class=\"meta\">Each theme's share \
         of the passages dated in each {} (the documents' <code>date</code>), on one scale; {dated} \
         passages dated{}.</p>\n{}",
        ot.period,
        if ot.undated > 0 {
            format!(", {} without a date that places them in a {}", ot.undated, ot.period)
        } else {
            String::new()
        },
        svg::over_time(t, ot)
    );
    let _ = write!(
        s,
        "<details><summary>The figures</summary>\n<table class=\"over-time\"><thead><tr><th>{}</th>\
         <th>dated</th>",
        ot.period
    );
    theme_heads(s, t);
    s.push_str("</tr></thead><tbody>\n");
    for (i, period) in ot.periods.iter().enumerate() {
        let total = ot.totals[i];
        let _ = write!(s, "<tr><td>{}</td><td>{total}</td>", escape(period));
        for row in &ot.counts {
            match row[i] {
                0 => s.push_str("<td></td>"),
                c => {
                    let _ = write!(
                        s,
                        "<td>{c} <span class=\"weight\">{:.0}%</span></td>",
                        100.0 * c as f64 / total as f64
                    );
                }
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody></table>\n</details>\n</section>\n");
}

/// One header cell per theme (its swatch and number; its label on hover), for the tables whose
/// columns are the themes.
fn theme_heads(s: &mut String, t: &Themes) {
    for th in &t.themes {
        let _ = write!(
            s,
            "<th title=\"{}\"><span class=\"swatch\" style=\"background:{}\"></span><br>{}</th>",
            escape(&th.label),
            colour(th.id),
            th.id
        );
    }
}
