//! The console examples of the README and of docs/cli.md, run: every `$ semclust …` line of a
//! ```console block is run in order, in a fresh folder holding the sample corpus at the path the
//! documents use, and its output (stdout and stderr) must be the lines shown under it. In the
//! examples, `…` stands for what changes between machines and runs (timings, CPU features,
//! paths, a snippet's cut); numbers must agree within 0.002 (the last digit of a score can move
//! with the CPU's kernels). docs/cli.md's examples run over the sample already indexed.

mod common;

use std::path::Path;

use common::OutputLimited;

/// One command and the lines it must print.
struct Example {
    line: usize,
    args: Vec<String>,
    expected: Vec<String>,
}

/// Split a command line as a shell would for the README's simple cases: words, and double- or
/// single-quoted strings.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn examples(markdown: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_console = false;
    for (i, line) in markdown.lines().enumerate() {
        if line.starts_with("```") {
            in_console = !in_console && line.trim() == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            let args = words(cmd);
            assert_eq!(args[0], "semclust", "README line {}: {cmd}", i + 1);
            out.push(Example {
                line: i + 1,
                args: args[1..].to_vec(),
                expected: Vec::new(),
            });
        } else if let Some(ex) = out.last_mut() {
            if !line.trim().is_empty() {
                ex.expected.push(line.to_string());
            }
        }
    }
    out
}

/// Whether `actual` is the line `expected` shows: `…` matches anything, numbers within 0.002.
fn same_line(expected: &str, actual: &str) -> bool {
    let number = regex::Regex::new(r"\d+\.\d+").unwrap();
    let mut pattern = String::from("^");
    let mut wanted: Vec<f64> = Vec::new();
    for (i, part) in expected.split('…').enumerate() {
        if i > 0 {
            pattern.push_str(".*");
        }
        let mut last = 0;
        for m in number.find_iter(part) {
            pattern.push_str(&regex::escape(&part[last..m.start()]));
            pattern.push_str(r"(\d+\.\d+)");
            wanted.push(m.as_str().parse().unwrap());
            last = m.end();
        }
        pattern.push_str(&regex::escape(&part[last..]));
    }
    pattern.push('$');
    let re = regex::Regex::new(&pattern).unwrap();
    let Some(c) = re.captures(actual.trim_end()) else {
        return false;
    };
    wanted.iter().enumerate().all(|(i, w)| {
        c.get(i + 1)
            .and_then(|m| m.as_str().parse::<f64>().ok())
            .is_some_and(|a| (a - w).abs() <= 0.002 + 1e-9)
    })
}

/// Run the console examples of `doc` (relative to the repository), after `setup` (commands
/// whose output is not checked), in a fresh folder holding the sample corpus.
fn check_console_examples(doc: &str, setup: &[&[&str]]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let examples = examples(&text);
    assert!(examples.len() >= 3, "the console examples of {doc}");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("tests/fixtures")).unwrap();
    std::fs::copy(
        root.join("tests/fixtures/lemonde-ia-2025.md"),
        work.path().join("tests/fixtures/lemonde-ia-2025.md"),
    )
    .unwrap();
    common::files("multilingual-e5-small");
    let semclust = |args: &[String]| {
        common::semclust_command()
            .args(args)
            .current_dir(work.path())
            .output_limited()
    };
    for args in setup {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let o = semclust(&args);
        assert!(
            o.status.success(),
            "{doc} setup {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    for ex in &examples {
        let o = semclust(&ex.args);
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{doc} line {}: {err}", ex.line);
        let mut actual: Vec<&str> = out
            .lines()
            .chain(err.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        let shown = actual.join("\n");
        assert_eq!(
            actual.len(),
            ex.expected.len(),
            "{doc} line {}: `semclust {}` printed\n{shown}",
            ex.line,
            ex.args.join(" ")
        );
        for want in &ex.expected {
            let at = actual.iter().position(|a| same_line(want, a));
            assert!(
                at.is_some(),
                "{doc} line {}: no line of `semclust {}` is\n{want}\nit printed\n{shown}",
                ex.line,
                ex.args.join(" ")
            );
            actual.remove(at.unwrap());
        }
    }
}

#[test]
fn the_readme_console_examples_print_what_the_readme_shows() {
    check_console_examples("README.md", &[]);
}

#[test]
fn the_cli_reference_console_examples_print_what_it_shows() {
    check_console_examples(
        "docs/cli.md",
        &[&["index", "tests/fixtures/lemonde-ia-2025.md", "--quiet"]],
    );
}

#[test]
fn the_line_matcher_masks_what_it_should_and_nothing_else() {
    assert!(same_line("a 0.801  x … s", "a 0.802  x 12 s"));
    assert!(!same_line("a 0.801  x", "a 0.810  x"));
    assert!(!same_line("a 0.801  x", "a 0.801  y"));
    assert!(same_line("[…]; from (…)", "[avx2 fma]; from (wheel)"));
    assert_eq!(
        words(r#"search "Who regulates?" -k 3"#),
        ["search", "Who regulates?", "-k", "3"]
    );
}
