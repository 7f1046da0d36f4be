//! Which files a run reads: the paths given, folders walked as ripgrep walks them (its `ignore`
//! crate: `.gitignore`, `.ignore` and hidden files honoured unless asked otherwise), narrowed
//! by `--include` / `--exclude` globs, each real file once, and the key each document is
//! stored under.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

use super::{clean_key, Format, SourceFile};

/// Which files under the folders given are read (`index --include / --exclude / --hidden /
/// --no-ignore`). Files named directly are always read.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Globs (gitignore syntax, relative to the folder given: `*.md`, `guide/**`): when there
    /// are some, only files matching one of them are read.
    pub include: Vec<String>,
    /// Globs of files and folders left out.
    pub exclude: Vec<String>,
    /// Read hidden files and folders (names starting with `.`) too.
    pub hidden: bool,
    /// Read what `.gitignore`, `.ignore` and `.rgignore` files leave out too.
    pub no_ignore: bool,
}

/// What a walk over the paths found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// The files to read, in a stable order.
    pub files: Vec<SourceFile>,
    /// Files inside the folders that semclust does not read, by extension (`.pdf`, `.gz`;
    /// `(none)` for names without one).
    pub ignored: BTreeMap<String, usize>,
}

/// The files under `paths` (folders recursively, in a stable order; hidden entries, what
/// ignore files leave out and files of other types inside folders are skipped). A file named
/// directly must be of a known type. Warnings (special files, links that loop or repeat a
/// file) are dropped; see [`discover_reporting`].
pub fn discover(paths: &[PathBuf]) -> Result<Vec<SourceFile>> {
    discover_reporting(paths, &mut |_| {})
}

/// [`discover`], telling `warn` about what it skipped. Each real file is visited once (a link to
/// a file already found, or to a folder already walked, is skipped: `ln -s . again` would index
/// every file again at each level), and FIFOs, sockets and devices are never opened (reading a
/// FIFO waits for a writer for ever).
pub fn discover_reporting(
    paths: &[PathBuf],
    warn: &mut dyn FnMut(String),
) -> Result<Vec<SourceFile>> {
    Ok(discover_all(paths, warn)?.files)
}

/// [`discover_reporting`], also counting the files it leaves out by extension.
pub fn discover_all(paths: &[PathBuf], warn: &mut dyn FnMut(String)) -> Result<Discovery> {
    discover_selected(paths, &Selection::default(), warn)
}

/// [`discover_all`] with a [`Selection`].
///
/// Keys: a file's path under the folder it was found in, without its extension; files that
/// differ only by their extension (`addons.md` and `addons.html` side by side) keep it
/// (`addons.md`, `addons.html`) instead of stopping the run, and `warn` is told.
pub fn discover_selected(
    paths: &[PathBuf],
    selection: &Selection,
    warn: &mut dyn FnMut(String),
) -> Result<Discovery> {
    let mut out: Vec<SourceFile> = Vec::new();
    let mut ignored = BTreeMap::new();
    let seen = Seen::default();
    for root in paths {
        let meta = std::fs::metadata(root)
            .map_err(|e| Error::io(format!("cannot read {}", root.display()), e))?;
        if meta.is_file() {
            let format = Format::of(root).ok_or_else(|| {
                Error::bad_file(
                    root,
                    format!(
                        "unknown file type; semclust reads {} files",
                        Format::extensions()
                    ),
                )
            })?;
            if !seen.file(root, &meta) {
                continue;
            }
            let key = clean_key(&root.file_stem().unwrap_or_default().to_string_lossy());
            out.push(SourceFile {
                path: root.clone(),
                key,
                format,
            });
        } else if meta.is_dir() {
            walk(root, selection, &mut out, &mut ignored, &seen, warn)?;
        } else {
            return Err(Error::bad_file(
                root,
                format!(
                    "not a regular file or a folder ({}); semclust reads files and folders",
                    super::special_kind(&meta)
                ),
            ));
        }
    }
    rekey_alike(&mut out, warn);
    // Two files with one key would give their passages the same ids.
    let mut keys = HashMap::new();
    for f in &out {
        if let Some(other) = keys.insert(f.key.clone(), f.path.clone()) {
            if other != f.path {
                return Err(Error::InvalidArgument(format!(
                    "{} and {} would both be indexed as '{}'; rename one or index them from their common folder",
                    other.display(),
                    f.path.display(),
                    f.key
                )));
            }
        }
    }
    out.dedup_by(|a, b| a.path == b.path);
    Ok(Discovery {
        files: out,
        ignored,
    })
}

/// Files that differ only by extension keep it in their keys; one without an extension
/// (`README` beside `README.rst`) keeps the bare key.
fn rekey_alike(out: &mut [SourceFile], warn: &mut dyn FnMut(String)) {
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, f) in out.iter().enumerate() {
        by_key.entry(f.key.as_str()).or_default().push(i);
    }
    let ext_of = |i: usize| {
        out[i]
            .path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mut rekey: Vec<(usize, String)> = Vec::new();
    for (key, idx) in &by_key {
        let exts: HashSet<String> = idx.iter().map(|&i| ext_of(i)).collect();
        if idx.len() > 1 && exts.len() == idx.len() {
            let mut names = Vec::new();
            for &i in idx {
                let ext = ext_of(i);
                let new = if ext.is_empty() {
                    key.to_string()
                } else {
                    format!("{key}.{}", clean_key(&ext))
                };
                names.push(format!("{} as '{new}'", out[i].path.display()));
                rekey.push((i, new));
            }
            names.sort();
            warn(format!(
                "files named alike but for their extension keep it in their keys: {}",
                names.join(", ")
            ));
        }
    }
    for (i, key) in rekey {
        out[i].key = key;
    }
}

/// What a walk has visited, by device and inode (links and hard links lead to the same ids).
/// Shared with the walker's entry filter, hence the locks.
#[derive(Default, Clone)]
struct Seen {
    dirs: Arc<Mutex<HashSet<FileId>>>,
    files: Arc<Mutex<HashSet<FileId>>>,
}

impl Seen {
    /// Whether the folder is new (a link to a folder already walked is not).
    fn dir(&self, path: &Path, meta: &std::fs::Metadata) -> bool {
        let mut d = self.dirs.lock().unwrap_or_else(|p| p.into_inner());
        d.insert(FileId::of(path, meta))
    }
    fn file(&self, path: &Path, meta: &std::fs::Metadata) -> bool {
        let mut f = self.files.lock().unwrap_or_else(|p| p.into_inner());
        f.insert(FileId::of(path, meta))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[allow(dead_code)]
    Path(PathBuf),
}

impl FileId {
    #[cfg(unix)]
    fn of(_path: &Path, meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileId::Inode(meta.dev(), meta.ino())
    }

    #[cfg(not(unix))]
    fn of(path: &Path, _meta: &std::fs::Metadata) -> Self {
        FileId::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

fn walk(
    root: &Path,
    selection: &Selection,
    out: &mut Vec<SourceFile>,
    ignored: &mut BTreeMap<String, usize>,
    seen: &Seen,
    warn: &mut dyn FnMut(String),
) -> Result<()> {
    // The folder given must be listable; one inside it that is not is skipped with a warning.
    std::fs::read_dir(root).map_err(|e| Error::io(format!("cannot list {}", root.display()), e))?;
    // Globs are matched as gitignore lines, relative to the folder given. Not the walker's
    // overrides: those win over ignore files (ripgrep's `-g`), and `--include '*.md'` must
    // narrow what is read, not bring back what `.ignore` leaves out.
    let matcher = |flag: &str, globs: &[String]| -> Result<Option<ignore::gitignore::Gitignore>> {
        if globs.is_empty() {
            return Ok(None);
        }
        let mut b = ignore::gitignore::GitignoreBuilder::new(root);
        for g in globs {
            b.add_line(None, g)
                .map_err(|e| Error::InvalidArgument(format!("{flag} '{g}' is not a glob: {e}")))?;
        }
        let m = b
            .build()
            .map_err(|e| Error::InvalidArgument(format!("{flag}: {e}")))?;
        Ok(Some(m))
    };
    let include = matcher("--include", &selection.include)?;
    let exclude = matcher("--exclude", &selection.exclude)?;
    let included = |path: &Path| {
        include
            .as_ref()
            .is_none_or(|m| m.matched_path_or_any_parents(path, false).is_ignore())
    };
    // The walker reports a link that leads nowhere as an error before its filter sees it.
    let excluded_link = {
        let exclude = exclude.clone();
        move |path: &Path| {
            exclude
                .as_ref()
                .is_some_and(|m| m.matched_path_or_any_parents(path, false).is_ignore())
        }
    };

    // Links to folders already walked are cut in the walker's filter (it descends only into
    // what the filter keeps); their warnings wait there until the walk hands back control.
    let repeated: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let filter_seen = seen.clone();
    let filter_repeated = Arc::clone(&repeated);
    {
        let meta = std::fs::metadata(root)
            .map_err(|e| Error::io(format!("cannot read {}", root.display()), e))?;
        seen.dir(root, &meta);
    }
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(!selection.no_ignore)
        .hidden(!selection.hidden)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            if e.depth() == 0 {
                return true;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            if exclude
                .as_ref()
                .is_some_and(|m| m.matched(e.path(), is_dir).is_ignore())
            {
                return false;
            }
            if !is_dir {
                return true;
            }
            match std::fs::metadata(e.path()) {
                Ok(m) if !filter_seen.dir(e.path(), &m) => {
                    let mut r = filter_repeated.lock().unwrap_or_else(|p| p.into_inner());
                    r.push(e.path().to_path_buf());
                    false
                }
                _ => true,
            }
        })
        .build();
    for entry in walker {
        for path in repeated.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            warn(format!(
                "skipped {}: a link to a folder already read (a loop, or the same folder twice)",
                path.display()
            ));
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                match walk_error_path(&e).and_then(|p| broken_link(p).map(|t| (p, t))) {
                    Some((path, target)) => {
                        if !excluded_link(path) && included(path) {
                            warn_broken_link(path, &target, warn);
                        }
                    }
                    // A folder that cannot be listed, a link that loops.
                    None => warn(format!("skipped {e}")),
                }
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let path = entry.path().to_path_buf();
        let format = Format::of(&path);
        // Follows links: a link is indexed as what it points to, once.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                if let Some(target) = broken_link(&path) {
                    warn_broken_link(&path, &target, warn);
                } else if format.is_some() {
                    warn(format!("skipped {}: {e}", path.display()));
                }
                continue;
            }
        };
        if meta.is_dir() || !included(&path) {
            continue;
        }
        let Some(format) = format else {
            if meta.is_file() {
                let ext = not_read_extension(&path);
                *ignored.entry(ext).or_insert(0) += 1;
            }
            continue;
        };
        if !meta.is_file() {
            warn(format!(
                "skipped {}: {}, not a regular file",
                path.display(),
                super::special_kind(&meta)
            ));
            continue;
        }
        if !seen.file(&path, &meta) {
            warn(format!(
                "skipped {}: the same file as one already read (a link)",
                path.display()
            ));
            continue;
        }
        let rel = path.strip_prefix(root).unwrap_or(&path).with_extension("");
        let key = rel
            .components()
            .map(|c| clean_key(&c.as_os_str().to_string_lossy()))
            .collect::<Vec<_>>()
            .join("/");
        out.push(SourceFile { path, key, format });
    }
    for path in repeated.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        warn(format!(
            "skipped {}: a link to a folder already read (a loop, or the same folder twice)",
            path.display()
        ));
    }
    Ok(())
}

/// The path a walk error is about, through the depth and line context the walker wraps it in.
fn walk_error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_path(err)
        }
        _ => None,
    }
}

/// Where `path` points, when it is a link whose target does not exist (a package's doc folder
/// copied without the shared files its links lead to, a moved folder).
fn broken_link(path: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(path).ok()?;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(target),
        _ => None,
    }
}

/// A broken link is worth a word only where a document could have been: one named like a
/// format semclust does not read (a page's `jquery.js`) is passed over in silence.
fn warn_broken_link(path: &Path, target: &Path, warn: &mut dyn FnMut(String)) {
    if path.extension().is_some() && Format::of(path).is_none() {
        return;
    }
    warn(format!(
        "skipped {}: a broken link (it points to {}, which does not exist)",
        path.display(),
        target.display()
    ));
}

/// How a file not read is counted: `.pdf`, `.ps.gz` (what is compressed tells more than
/// `.gz`), `(none)`.
fn not_read_extension(path: &Path) -> String {
    let lower = |e: &std::ffi::OsStr| e.to_string_lossy().to_ascii_lowercase();
    match path.extension().map(lower) {
        None => "(none)".to_string(),
        Some(ext) if ext == super::COMPRESSED_EXTENSION => {
            match Path::new(path.file_stem().unwrap_or_default()).extension() {
                Some(inner) => format!(".{}.{ext}", lower(inner)),
                None => format!(".{ext}"),
            }
        }
        Some(ext) => format!(".{ext}"),
    }
}
