//! Managing what an index holds (issue 31), with the real binary and model on real Debian
//! documentation (`tests/fixtures/real/doc-tree`): `index --dry-run` stores nothing and says
//! what a run would do; Ctrl-C stops a run with its work saved and the re-run resumes;
//! `index -` reads standard input under a name; `docs list / show / rm / stats`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use semclust::store::{SqliteStore, VectorStore};

use common::{error_line, ok, semclust};

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(ok(o).trim()).unwrap()
}

fn tree() -> String {
    common::fixture("real/doc-tree").display().to_string()
}

fn ix_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `semclust index PATH --index IX --json -q` and `extra`: its summary.
fn index_json(path: &str, ix: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["index", path, "--index", ix_arg(ix), "--json", "-q"];
    args.extend_from_slice(extra);
    json(&semclust(&args))
}

#[test]
fn a_dry_run_stores_nothing_and_counts_what_a_run_embeds() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix");
    let tree = tree();
    let dry = index_json(&tree, &ix, &["--dry-run"]);
    assert!(!ix.exists(), "a dry run created the index");
    assert_eq!(dry["dry_run"], true);
    let e = &dry["estimate"];
    assert!(
        e["tokens"].as_u64().unwrap() > e["passages"].as_u64().unwrap() * 10,
        "{e}"
    );
    assert!(e["seconds"].as_f64().unwrap() > 0.0, "{e}");
    assert_eq!(e["sample"], 64);

    // The run does what the dry run said.
    let run = index_json(&tree, &ix, &[]);
    for k in ["added", "updated", "removed", "files", "passages"] {
        assert_eq!(run[k], dry[k], "{k}: run {run}, dry run {dry}");
    }
    assert_eq!(run["embedded"], e["passages"]);

    // Over the index: nothing left to embed.
    let again = index_json(&tree, &ix, &["--dry-run"]);
    assert_eq!(again["added"], 0);
    assert_eq!(again["kept"], run["passages"]);
    assert_eq!(again["estimate"]["passages"], 0);
}

#[test]
fn ctrl_c_saves_the_work_done_and_the_rerun_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix");
    let tree = tree();
    common::files("multilingual-e5-small");
    let child = common::semclust_command()
        .args(["index", &tree, "--index", ix_arg(&ix), "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once a first chunk is committed: the run embeds 370 passages in chunks of 64.
    let started = std::time::Instant::now();
    while started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        if SqliteStore::open(&ix).is_ok_and(|s| s.len().unwrap_or(0) > 0) {
            break;
        }
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = common::wait_limited(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("interrupted: ") && stderr.contains("run the same command again to resume"),
        "{stderr}"
    );
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["interrupted"], true);
    let saved = first["embedded"].as_u64().unwrap();
    let left = first["not_embedded"].as_u64().unwrap();
    assert!(saved > 0 && left > 0, "{first}");
    let stored = SqliteStore::open(&ix).unwrap().len().unwrap() as u64;
    assert!(stored >= saved, "{stored} stored, {saved} reported saved");

    let second = index_json(&tree, &ix, &[]);
    assert_eq!(second["interrupted"], false);
    assert_eq!(second["embedded"].as_u64().unwrap(), left, "{second}");
    assert_eq!(second["kept"].as_u64().unwrap(), stored, "{second}");
}

#[test]
fn standard_input_and_docs_list_show_rm_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let ix_dir = tmp.path().join("ix");
    let ix = ix_arg(&ix_dir);
    let readme = common::fixture("real/doc-tree/jansson-README.rst");
    let readme = readme.to_str().unwrap();
    index_json(readme, &ix_dir, &[]);

    // The first 40 lines of a real Debian copyright file, as a pipe would send them.
    let text: String =
        std::fs::read_to_string(common::fixture("real/doc-tree/COPYRIGHT.coreutils"))
            .unwrap()
            .lines()
            .take(40)
            .map(|l| format!("{l}\n"))
            .collect();
    let mut child = common::semclust_command()
        .args([
            "index",
            "-",
            "--name",
            "notes/coreutils copyright",
            "--index",
            ix,
            "--json",
            "-q",
        ])
        .env("HF_HUB_OFFLINE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let s = json(&common::wait_limited(child));
    let paragraphs = text.split("\n\n").filter(|p| !p.trim().is_empty()).count() as u64;
    assert_eq!(s["added"].as_u64().unwrap(), paragraphs, "{s}");
    assert_eq!(s["files_read"]["text"], 1);

    let list = json(&semclust(&["docs", "list", "--index", ix, "--json"]));
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["jansson-README", "notes/coreutils-copyright"],
        "{list}"
    );
    let piped = &list[1];
    assert_eq!(piped["path"], "api:notes/coreutils copyright");
    assert_eq!(piped["format"], "api");
    assert_eq!(piped["passages"].as_u64().unwrap(), paragraphs);
    assert_eq!(list[0]["format"], "rst");
    assert_eq!(list[0]["languages"]["en"], list[0]["passages"]);

    let show = json(&semclust(&[
        "docs",
        "show",
        "jansson-README",
        "--index",
        ix,
        "--json",
    ]));
    let passages = show["passages"].as_array().unwrap();
    assert_eq!(passages.len() as u64, list[0]["passages"].as_u64().unwrap());
    assert!(
        passages[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Jansson is a C library"),
        "{}",
        passages[0]
    );

    // A file run leaves the document read from standard input alone.
    let again = index_json(readme, &ix_dir, &[]);
    assert_eq!(again["documents_removed"], 0, "{again}");

    let stats = json(&semclust(&["docs", "stats", "--index", ix, "--json"]));
    assert_eq!(stats["documents"], 2);
    assert_eq!(stats["formats"]["rst"], 1);
    assert_eq!(stats["formats"]["api"], 1);
    assert_eq!(stats["model"]["model"], "multilingual-e5-small");
    assert!(stats["bytes_on_disk"].as_u64().unwrap() > 0);

    // An unknown key removes nothing; known keys go with their passages.
    let e = error_line(&semclust(&[
        "docs",
        "rm",
        "jansson-README",
        "nope",
        "--index",
        ix,
    ]));
    assert!(
        e.contains("no document 'nope'") && e.contains("docs list"),
        "{e}"
    );
    let rm = json(&semclust(&[
        "docs",
        "rm",
        "notes/coreutils-copyright",
        "--index",
        ix,
        "--json",
    ]));
    assert_eq!(rm["documents_removed"], 1);
    assert_eq!(rm["removed"].as_u64().unwrap(), paragraphs);
    let list = json(&semclust(&["docs", "list", "--index", ix, "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Standard input needs a name, and comes alone.
    let e = error_line(&semclust(&["index", "-", "--index", ix]));
    assert!(e.contains("--name"), "{e}");
}

/// The documents over HTTP (issue 31, item 8): `GET /v1/documents` lists what `/v1/index`
/// stored, with the index's figures; `GET /v1/documents/{key}` gives one document's passages
/// in reading order, its key's slashes as they are; an unknown key is a 404 naming it; a
/// document deleted through `/v1/index` leaves the list. In-process server, fake model.
#[test]
fn documents_over_http() {
    use common::fake::{GatedEncoder, InProcess};
    use serde_json::{json, Value};

    let dir = tempfile::tempdir().unwrap();
    let server = InProcess::start(
        GatedEncoder::new(true),
        dir.path(),
        Default::default(),
        Default::default(),
    );
    let readme =
        std::fs::read_to_string(common::fixture("real/doc-tree/jansson-README.rst")).unwrap();
    let notice =
        std::fs::read_to_string(common::fixture("real/doc-tree/COPYRIGHT.coreutils")).unwrap();
    let r = server.post(
        "/v1/index",
        json!({"documents": [
            {"name": "jansson/README", "text": readme, "format": "rst"},
            {"name": "coreutils-copyright", "text": notice}
        ]}),
    );
    assert_eq!(r.status().as_u16(), 200);
    let report: Value = r.json().unwrap();
    let get = |path: &str| {
        let r = server
            .client
            .get(format!("{}{path}", server.base))
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };

    let (status, list) = get("/v1/documents");
    assert_eq!(status, 200, "{list}");
    let keys: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["coreutils-copyright", "jansson/README"]);
    assert_eq!(list["data"][1]["path"], "api:jansson/README");
    assert_eq!(list["stats"]["documents"], 2);
    assert_eq!(list["stats"]["passages"], report["added"], "{report}");

    let (status, doc) = get("/v1/documents/jansson/README");
    assert_eq!(status, 200, "{doc}");
    let passages = doc["passages"].as_array().unwrap();
    assert_eq!(
        doc["document"]["passages"].as_u64(),
        Some(passages.len() as u64)
    );
    assert!(
        passages[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Jansson is a C library for encoding, decoding and manipulating JSON"),
        "{}",
        passages[0]
    );
    let (status, err) = get("/v1/documents/jansson/READM");
    assert_eq!(status, 404, "{err}");
    assert!(err.to_string().contains("jansson/READM"), "{err}");

    let r = server.post("/v1/index", json!({"delete": ["coreutils-copyright"]}));
    assert_eq!(r.status().as_u16(), 200);
    let (_, list) = get("/v1/documents");
    assert_eq!(list["stats"]["documents"], 1, "{list}");
}
