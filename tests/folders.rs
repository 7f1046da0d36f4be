//! A real documents folder indexes in one go (issue 31): a tree with the traps a user's own
//! folder holds (a page and its Markdown source side by side, Latin-1 pages and text, a binary
//! file, a file that cannot be read, formats semclust does not read) is read whole, each file
//! that cannot be read is named with its reason and counted, and a run never removes the
//! passages of a file it could not read this time. Library checks run on the fake model of
//! `common::fake`; one run of the real binary checks the summary it prints.

mod common;

use std::path::Path;

use semclust::collection::{Collection, FileBatch};
use semclust::corpus::ReadLimits;
use semclust::error::FileProblem;
use semclust::store::StoreLocation;

use common::fake::index_files;
use common::OutputLimited;

/// Paragraphs of Debian Reference's German preface (the repository's fixture) that Latin-1
/// can write.
fn german_paragraphs() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/real/debian-reference/pr01.de.txt"
    ))
    .unwrap();
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.split(' ').count() >= 10 && p.chars().all(|c| (c as u32) < 0x100))
        .filter(|p| p.chars().any(|c| "äöüßÄÖÜ".contains(c)))
        .take(4)
        .collect()
}

fn latin1(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

/// The tree: every trap of the issue that this build reads.
fn trap_tree(root: &Path) -> Vec<String> {
    let ps = german_paragraphs();
    assert_eq!(ps.len(), 4, "the fixture has fewer Latin-1 paragraphs");
    let api = root.join("api");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::write(api.join("addons.md"), format!("# Addons\n\n{}\n", ps[0])).unwrap();
    std::fs::write(
        api.join("addons.html"),
        format!("<html><body><h1>Addons</h1><p>{}</p></body></html>", ps[1]),
    )
    .unwrap();
    let page = format!(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\"><title>Vorwort</title></head><body><p>{}</p></body></html>",
        ps[2]
    );
    std::fs::write(root.join("latin1.html"), latin1(&page)).unwrap();
    std::fs::write(root.join("latin1.txt"), latin1(&ps[3])).unwrap();
    // A real binary under a text name, and a file that cannot be read (reading the start of a
    // process's own memory map fails with EIO, for root too).
    let binary = std::fs::read(env!("CARGO_BIN_EXE_semclust")).unwrap();
    std::fs::write(root.join("binary.txt"), &binary[..8192]).unwrap();
    std::os::unix::fs::symlink("/proc/self/mem", root.join("unreadable.md")).unwrap();
    // What /usr/share/doc holds besides: a compressed changelog, a compressed manual page,
    // reStructuredText plain and compressed (tests/fixtures/real/doc-tree, from coreutils, yq
    // and libjansson4 as Debian ships them), and a file of a format not read.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/doc-tree");
    for (from, to) in [
        ("coreutils-changelog.Debian.gz", "changelog.Debian.gz"),
        ("cat.1.gz", "cat.1.gz"),
        ("yq-README.rst.gz", "yq/README.rst.gz"),
        ("jansson-README.rst", "jansson/README.rst"),
    ] {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures.join(from), to).unwrap();
    }
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"),
        root.join("Cargo.lock"),
    )
    .unwrap();
    // A package's README without an extension (read, as NEWS.gz is), and its licence file
    // (not read: a licence is not what a reader of the folder looks for).
    std::fs::copy(
        fixtures.join("jansson-README.rst"),
        root.join("jansson/README"),
    )
    .unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/manpages/COPYRIGHT"),
        root.join("jansson/copyright"),
    )
    .unwrap();
    // A real PDF as Debian ships it (fontconfig's user manual, gzipped), and the same PDF cut
    // short, as an interrupted download leaves it.
    let pdf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/pdf");
    std::fs::copy(
        pdf.join("fontconfig-user.pdf.gz"),
        root.join("fontconfig-user.pdf.gz"),
    )
    .unwrap();
    let mut whole = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(pdf.join("fontconfig-user.pdf.gz")).unwrap(),
        ),
        &mut whole,
    )
    .unwrap();
    std::fs::write(root.join("cut-short.pdf"), &whole[..2000]).unwrap();
    ps
}

/// Catches: the run that stopped at `addons.html and addons.md would both be indexed as …`, at
/// the first non-UTF-8 file, and at the first unreadable one; Latin-1 read as mojibake; skipped
/// files and formats not counted.
#[test]
fn a_folder_with_every_trap_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("docs");
    let ps = trap_tree(&tree);
    let location = StoreLocation::new(&dir.path().join("index"), None).unwrap();
    let mut warnings = Vec::new();
    let batch = FileBatch::read_with(
        std::slice::from_ref(&tree),
        &ReadLimits::default(),
        &location,
        false,
        &mut |w| warnings.push(w),
    )
    .unwrap();
    let counts: Vec<(&str, usize)> = batch.formats.iter().map(|(k, n)| (*k, *n)).collect();
    assert_eq!(
        counts,
        [
            ("html", 2),
            ("man", 1),
            ("markdown", 1),
            ("pdf", 1),
            ("rst", 2),
            ("text", 3)
        ]
    );
    let skipped: Vec<(String, FileProblem)> = batch
        .skipped
        .iter()
        .map(|s| {
            let name = Path::new(&s.path).file_name().unwrap().to_string_lossy();
            (name.into_owned(), s.problem)
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("binary.txt".to_string(), FileProblem::Binary),
            ("cut-short.pdf".to_string(), FileProblem::Content),
            ("unreadable.md".to_string(), FileProblem::Unreadable),
        ]
    );
    assert_eq!(batch.ignored.get(".lock"), Some(&1));
    assert_eq!(batch.ignored.get("(none)"), Some(&1), "{:?}", batch.ignored);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("'api/addons.md'") && w.contains("'api/addons.html'")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("binary.txt") && w.contains("binary")),
        "{warnings:?}"
    );

    // Indexed: both addons, and the Latin-1 texts decoded, not mojibake.
    index_files(&location, std::slice::from_ref(&tree));
    let mut c = Collection::open(&location).unwrap();
    // latin1.html and latin1.txt are named alike too: their keys keep the extension.
    for (id, text) in [
        ("api/addons.md/1/1", ps[0].as_str()),
        ("api/addons.html/1/1", &ps[1]),
        ("latin1.html/1/1", &ps[2]),
        ("latin1.txt/1/1", &ps[3]),
        // The compressed manual page and README.
        (
            "cat.1/1/1",
            "cat - concatenate files and print on the standard output",
        ),
        (
            "yq/README.rst/1/1",
            "Before using yq, you also have to install its dependency, jq. See the jq installation instructions for details and directions specific to your platform.",
        ),
    ] {
        assert_eq!(c.passage(id).unwrap().text, *text, "{id}");
    }
    assert_eq!(c.passage("cat.1/1/1").unwrap().title, "CAT(1)");
    // The README beside README.rst keeps the bare key, the other its extension.
    let readme = c.passage("jansson/README/1/1").unwrap().text;
    assert!(readme.contains("Jansson"), "{readme}");
    assert!(c.passage("jansson/README.rst/1/1").is_ok());
    let changelog = c.passage("changelog.Debian/1/1").unwrap().text;
    assert!(changelog.starts_with("coreutils ("), "{changelog}");
    // One maintainer signs 100 of its entries: search shows each sign-off text once, though
    // all copies sit in one document (the fold counted documents, and showed every copy).
    let request = semclust::collection::SearchRequest {
        target: semclust::collection::Target::Query("Michael Stone mstone@debian.org".into()),
        k: 10,
        mode: semclust::search::Mode::Lexical,
        method: Default::default(),
        other_articles: false,
        other_languages: false,
        with_titles: false,
        filter: Default::default(),
        boilerplate: false,
        neutral: false,
    };
    let hits = c.search(&request, None).unwrap().hits;
    let forms: std::collections::HashSet<String> = hits
        .iter()
        .map(|h| same_text_form(&h.passage.text))
        .collect();
    assert_eq!(forms.len(), hits.len(), "a text twice among {hits:#?}");
    assert!(hits.len() >= 3 && hits[0].passage.text.contains("Michael Stone"));
    // The PDF: paragraphs rejoined across lines and a hyphenated word ("cus-" "tomization"),
    // one article per page (page 14 holds only its running head and number), the running
    // head "fonts-conf" kept as the title on page 1 and dropped on every other page.
    let (_, pdf) = c.document("fontconfig-user.pdf").unwrap();
    assert!(
        pdf.iter().any(|p| p.id.starts_with("fontconfig-user.pdf/1/")
            && p.text
                == "Fontconfig is a library designed to provide system-wide font configuration, customization and application access."),
        "{:?}",
        pdf.iter().take(5).map(|p| &p.text).collect::<Vec<_>>()
    );
    let pages: std::collections::BTreeSet<&str> =
        pdf.iter().map(|p| p.article_key.as_str()).collect();
    assert!(pages.contains("15") && !pages.contains("14"), "{pages:?}");
    let heads = pdf.iter().filter(|p| p.text == "fonts-conf").count();
    assert_eq!(heads, 1);

    // --strict: the first file that cannot be read stops the run, naming it.
    let e = FileBatch::read_with(
        std::slice::from_ref(&tree),
        &ReadLimits::default(),
        &location,
        true,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("binary.txt"), "{e}");
}

/// Catches: a file that cannot be read this time (its permissions changed, its charset broke)
/// was taken for gone and its stored passages removed.
#[test]
fn a_file_that_cannot_be_read_keeps_its_stored_passages() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("docs");
    std::fs::create_dir_all(&tree).unwrap();
    let ps = german_paragraphs();
    std::fs::write(tree.join("a.md"), &ps[0]).unwrap();
    std::fs::write(tree.join("b.md"), &ps[1]).unwrap();
    let location = StoreLocation::new(&dir.path().join("index"), None).unwrap();
    index_files(&location, std::slice::from_ref(&tree));
    // b.md becomes binary (a failed download, a disk error): it is skipped, and kept.
    std::fs::write(tree.join("b.md"), [0u8, 1, 2, 3]).unwrap();
    let batch = index_files(&location, std::slice::from_ref(&tree));
    assert_eq!(batch.skipped.len(), 1);
    let mut c = Collection::open(&location).unwrap();
    assert_eq!(c.passage("b/1/1").unwrap().text, ps[1]);
    assert_eq!(c.len().unwrap(), 2);
}

/// The real binary on the trap tree: exit 0, the summary names what was read, skipped and not
/// read, in words and in `--json`.
#[test]
fn index_prints_what_it_read_skipped_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("docs");
    trap_tree(&tree);
    common::files("multilingual-e5-small");
    let run = |json: bool| {
        let mut cmd = common::semclust_command();
        cmd.arg("index")
            .arg(&tree)
            .arg("--index")
            .arg(dir.path().join("index"))
            .arg("--quiet");
        if json {
            cmd.arg("--json");
        }
        cmd.output_limited()
    };
    let out = run(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("read: 2 html, 1 man, 1 markdown, 1 pdf, 2 rst, 3 text"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "skipped 3 files that could not be read (1 bad content, 1 binary, 1 unreadable"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("not read (formats semclust does not read): 1 (none), 1 .lock"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: skipped") && stderr.contains("unreadable.md"),
        "{stderr}"
    );
    // Again, as JSON: nothing new to embed, the same files skipped.
    let out = run(true);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["embedded"], 0, "{v}");
    assert_eq!(v["skipped_by_problem"]["binary"], 1, "{v}");
    assert_eq!(v["skipped_by_problem"]["unreadable"], 1, "{v}");
    assert_eq!(v["skipped_by_problem"]["bad content"], 1, "{v}");
    assert_eq!(v["files_read"]["pdf"], 1, "{v}");
    assert_eq!(v["not_read_by_extension"][".lock"], 1, "{v}");
    assert_eq!(v["files_read"]["html"], 2, "{v}");
}

/// `.gitignore` (inside a git repository), `.ignore`, hidden files and `--include/--exclude`
/// globs pick the files as ripgrep would; a run narrowed by globs keeps the stored documents
/// of the files it did not pick.
#[test]
fn ignore_files_hidden_files_and_globs_pick_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("docs");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/doc-tree");
    for to in [
        "README.rst",
        "guide/intro.rst",
        "guide/drafts/next.rst",
        "build/out.rst",
        "private.rst",
        ".notes/mine.rst",
    ] {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixtures.join("jansson-README.rst"), to).unwrap();
    }
    std::fs::copy(fixtures.join("cat.1.gz"), root.join("guide/cat.1.gz")).unwrap();
    std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
    std::fs::write(root.join(".ignore"), "private.rst\n").unwrap();
    let keys = |sel: &semclust::corpus::Selection| -> Vec<String> {
        semclust::corpus::discover_selected(std::slice::from_ref(&root), sel, &mut |_| {})
            .unwrap()
            .files
            .into_iter()
            .map(|f| f.key)
            .collect()
    };
    let all = semclust::corpus::Selection::default();
    // Not a git repository: .gitignore is not read (as ripgrep), .ignore is.
    assert_eq!(
        keys(&all),
        [
            "README",
            "build/out",
            "guide/cat.1",
            "guide/drafts/next",
            "guide/intro"
        ]
    );
    std::fs::create_dir(root.join(".git")).unwrap();
    assert_eq!(
        keys(&all),
        ["README", "guide/cat.1", "guide/drafts/next", "guide/intro"]
    );
    let sel = |f: &dyn Fn(&mut semclust::corpus::Selection)| {
        let mut s = semclust::corpus::Selection::default();
        f(&mut s);
        keys(&s)
    };
    assert_eq!(
        sel(&|s| s.include = vec!["*.rst".into()]),
        ["README", "guide/drafts/next", "guide/intro"]
    );
    assert_eq!(
        sel(&|s| s.exclude = vec!["drafts".into(), "*.gz".into()]),
        ["README", "guide/intro"]
    );
    assert_eq!(
        sel(&|s| s.hidden = true),
        [
            ".notes/mine",
            "README",
            "guide/cat.1",
            "guide/drafts/next",
            "guide/intro"
        ]
    );
    assert_eq!(
        sel(&|s| s.no_ignore = true),
        [
            "README",
            "build/out",
            "guide/cat.1",
            "guide/drafts/next",
            "guide/intro",
            "private"
        ]
    );
    let e = semclust::corpus::discover_selected(
        std::slice::from_ref(&root),
        &semclust::corpus::Selection {
            include: vec!["a{b".into()],
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--include 'a{b'"), "{e}");

    // Indexed whole, then again with --include '*.rst': the manual page stays.
    let location = StoreLocation::new(&dir.path().join("index"), None).unwrap();
    index_files(&location, std::slice::from_ref(&root));
    let model = common::fake::GatedEncoder::new(true);
    let only_rst = semclust::corpus::Selection {
        include: vec!["*.rst".into()],
        ..Default::default()
    };
    let batch = FileBatch::read_selected(
        std::slice::from_ref(&root),
        &ReadLimits::default(),
        &only_rst,
        &location,
        false,
        &mut |_| {},
    )
    .unwrap();
    let mut c = Collection::open(&location).unwrap();
    let report = c.sync_files(&*model, &batch, &mut |_| {}).unwrap();
    assert_eq!(report.documents_removed, 0, "{report:?}");
    let keys: Vec<String> = c.documents().unwrap().into_iter().map(|d| d.key).collect();
    assert!(keys.contains(&"guide/cat.1".to_string()), "{keys:?}");
}

/// The German coreutils manual pages (manpages-de), read as `index` reads them into `dir`.
fn german_pages(dir: &Path) -> (std::path::PathBuf, StoreLocation, FileBatch) {
    let pages = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/manpages/de");
    let location = StoreLocation::new(&dir.join("index"), None).unwrap();
    let batch = FileBatch::read(
        std::slice::from_ref(&pages),
        &ReadLimits::default(),
        &location,
        &mut |_| {},
    )
    .unwrap();
    (pages, location, batch)
}

/// Files of `folder` whose bytes hold `needle`: a count made without semclust's readers.
fn files_holding(folder: &Path, needle: &[u8]) -> usize {
    std::fs::read_dir(folder)
        .unwrap()
        .filter(|e| {
            let bytes = std::fs::read(e.as_ref().unwrap().path()).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .count()
}

/// Boilerplate across documents (issue 31, item 6): in the German coreutils manual pages
/// (manpages-de), the licence notice recurs in every page that carries one, however its
/// copyright years differ; a text of one page does not recur.
#[test]
fn licence_notices_recur_across_manual_pages() {
    let dir = tempfile::tempdir().unwrap();
    let (pages, _, batch) = german_pages(dir.path());
    let passages = batch
        .documents()
        .iter()
        .flat_map(|d| d.passages.iter().map(|p| (d.key.as_str(), p.text.as_str())));
    let found =
        semclust::boilerplate::recurring(passages, semclust::boilerplate::BOILERPLATE_DOCUMENTS);
    // The pages' own files, read as bytes: those that hold the notice at all.
    let with_notice = files_holding(&pages, b"GPLv3+");
    assert!(with_notice >= 5, "{with_notice}");
    let notice = found
        .iter()
        .find(|r| r.text.contains("GPLv3+"))
        .unwrap_or_else(|| panic!("no recurring licence notice in {found:#?}"));
    assert_eq!(notice.documents, with_notice, "{notice:?}");
    assert!(found.iter().all(|r| r.documents >= 5));
    // The translators' credit names different people on different pages: near-identical
    // texts, one text in every page that names Karl Eichwalder among them, though no single
    // wording is in all of them.
    let credit = found
        .iter()
        .find(|r| r.text.contains("Karl Eichwalder"))
        .unwrap_or_else(|| panic!("no recurring translators' credit in {found:#?}"));
    let with_credit = files_holding(&pages, b"Karl Eichwalder");
    assert_eq!(credit.documents, with_credit, "{credit:?}");
    assert!(credit.variants >= 2, "{credit:?}");
    let mut wordings: std::collections::HashMap<String, usize> = Default::default();
    for d in batch.documents() {
        for p in d
            .passages
            .iter()
            .filter(|p| p.text.contains("Karl Eichwalder"))
        {
            *wordings.entry(same_text_form(&p.text)).or_default() += 1;
        }
    }
    assert!(wordings.values().all(|&n| n < with_credit), "{wordings:?}");
    // arch(1)'s description is its own.
    let arch = batch
        .documents()
        .iter()
        .find(|d| d.key == "arch.1")
        .unwrap();
    assert!(arch
        .passages
        .iter()
        .any(|p| p.text == "Maschinenarchitektur ausgeben."));
    assert!(!found
        .iter()
        .any(|r| r.text == "Maschinenarchitektur ausgeben."));
}

/// The form the issue defines for "the same text", written here apart from the library's:
/// lower case, digit runs as 0, whitespace collapsed.
fn same_text_form(text: &str) -> String {
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let mut w = String::new();
        let mut digits = false;
        for c in word.chars() {
            if c.is_numeric() {
                if !digits {
                    w.push('0');
                }
                digits = true;
            } else {
                digits = false;
                w.extend(c.to_lowercase());
            }
        }
        out.push(w);
    }
    out.join(" ")
}

/// Boilerplate in search and themes (issue 31, item 6), on the German coreutils manual pages
/// embedded by the real model: copies of the licence notice come back as one hit saying how
/// many pages hold it (counted here from the files' bytes), ranked below every passage that is
/// not boilerplate unless asked; themes never show it.
#[test]
fn boilerplate_is_folded_in_search_and_kept_out_of_themes() {
    use semclust::cluster::{KChoice, ThemeOptions};
    use semclust::collection::{SearchRequest, Target};
    use semclust::embed::{InputKind, Precision};
    use semclust::search::Mode;

    let dir = tempfile::tempdir().unwrap();
    let (pages, location, batch) = german_pages(dir.path());
    let with_notice = files_holding(&pages, b"GPLv3+");
    let e = common::embedder("multilingual-e5-small", Precision::Q4);
    let mut c = Collection::create_or_open(&location, e.info(), &Default::default()).unwrap();
    let report = c.sync_files(&e, &batch, &mut |_| {}).unwrap();

    // Boilerplate is embedded once, as its bare text: every copy of the notice (each under
    // another page's title) holds the model's vector of the notice alone.
    assert!(
        report.added - report.embedded >= with_notice - 1,
        "{report:?}"
    );
    let notices: Vec<_> = c
        .all_passages()
        .unwrap()
        .into_iter()
        .filter(|p| p.text.contains("GPLv3+"))
        .collect();
    assert_eq!(notices.len(), with_notice);
    let store = semclust::store::SqliteStore::open(&dir.path().join("index")).unwrap();
    let alone = e
        .embed(&[notices[0].text.as_str()], InputKind::Passage)
        .unwrap()
        .row(0)
        .to_vec();
    for p in &notices {
        let v = semclust::store::VectorStore::vector(&store, &p.id)
            .unwrap()
            .unwrap();
        assert!(common::cosine(&v, &alone) > 0.999, "{}", p.id);
    }

    let query = "Lizenz GPLv3+: GNU GPL Version 3 oder neuer, freie Software ohne Garantie";
    let vector = e.embed(&[query], InputKind::Query).unwrap().row(0).to_vec();
    let search = |c: &mut Collection, boilerplate: bool| {
        let request = SearchRequest {
            target: Target::Query(query.into()),
            k: 10,
            mode: Mode::Hybrid,
            method: Default::default(),
            other_articles: false,
            other_languages: false,
            with_titles: false,
            filter: Default::default(),
            boilerplate,
            // No fit is given: the model's own vectors either way.
            neutral: true,
        };
        c.search(&request, Some(vector.clone())).unwrap().hits
    };
    let is_notice = |t: &str| t.contains("GPLv3+");

    // Asked for: the notice ranks first, once, for all its pages.
    let kept = search(&mut c, true);
    assert!(
        is_notice(&kept[0].passage.text),
        "{:?}",
        kept[0].passage.text
    );
    assert_eq!(kept[0].appears_in, Some(with_notice));
    assert_eq!(
        kept.iter().filter(|h| is_notice(&h.passage.text)).count(),
        1
    );

    // As shipped: ten hits, no text twice, and no boilerplate among them while other passages
    // are left (the index holds hundreds).
    let hits = search(&mut c, false);
    assert_eq!(hits.len(), 10);
    let forms: std::collections::HashSet<String> = hits
        .iter()
        .map(|h| same_text_form(&h.passage.text))
        .collect();
    assert_eq!(forms.len(), hits.len(), "a text shown twice");
    for h in &hits {
        assert!(!is_notice(&h.passage.text), "{h:?}");
        assert!(h.appears_in.is_none_or(|n| n < 5), "{h:?}");
    }
    assert_eq!(
        hits.iter().map(|h| h.rank).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );

    // Themes: no representative is boilerplate; the notice's passages are left out.
    let themes = c
        .themes(
            &ThemeOptions {
                k: KChoice::Fixed(4),
                ..Default::default()
            },
            &Default::default(),
            None,
            |_| {},
        )
        .unwrap();
    assert!(themes.facts.boilerplate_left_out >= with_notice);
    for t in &themes.themes {
        for r in &t.representatives {
            assert!(!is_notice(&r.text), "theme {}: {:?}", t.label, r.text);
        }
    }
    assert!(themes.passages.iter().all(|p| !is_notice(&p.text)));
}
