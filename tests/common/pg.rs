//! A real PostgreSQL 16 with pgvector for the tests and the benchmark, started and removed by the
//! harness itself: the binaries come from the `pgserver==0.1.4` wheel (fetched once with
//! `python3 -m pip download`, sha256 checked, unpacked into the test cache), the cluster lives in
//! a temporary folder, the server listens on a free loopback port and is stopped and deleted on
//! drop. PostgreSQL refuses to run as root: as root the server runs as the unprivileged `nobody`
//! user (or a `semclust-pg` user created for it).
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WHEEL: &str = "pgserver==0.1.4";
const WHEEL_SHA256: &str = "d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813";
/// The superuser's password (host connections use scram-sha-256, so passwords are checked).
pub const PASSWORD: &str = "semclust-test-pw";

/// A running server; stopped and deleted when dropped.
pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    install: PathBuf,
    child: Option<Child>,
    uid: Option<(u32, u32)>,
}

fn cache_root() -> PathBuf {
    std::env::var_os("SEMCLUST_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("semclust-cache"))
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path).expect("open wheel");
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read wheel");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The unpacked PostgreSQL installation (`pginstall/` beside `pgserver.libs/`), with pgvector or
/// — for the "no extension" case — a copy without it.
pub fn install(with_vector: bool) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = cache_root().join("pgserver-0.1.4");
    let full = root.join("full");
    if !full.join("pgserver/pginstall/bin/postgres").is_file() {
        let dl = root.join("download");
        std::fs::create_dir_all(&dl).unwrap();
        let wheel = find_wheel(&dl).unwrap_or_else(|| {
            let out = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--disable-pip-version-check",
                ])
                .args(["--only-binary=:all:", "--python-version", "3.11"])
                .arg("--dest")
                .arg(&dl)
                .arg(WHEEL)
                .output_limited();
            assert!(
                out.status.success(),
                "pip download {WHEEL} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            find_wheel(&dl).expect("pgserver wheel after pip download")
        });
        assert_eq!(
            sha256(&wheel),
            WHEEL_SHA256,
            "{} is not the pinned pgserver 0.1.4 wheel",
            wheel.display()
        );
        let tmp = root.join(format!("full.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        unzip(&wheel, &tmp, |name| {
            name.starts_with("pgserver/pginstall/") || name.starts_with("pgserver.libs/")
        });
        let _ = std::fs::remove_dir_all(&full);
        std::fs::rename(&tmp, &full).unwrap();
    }
    if with_vector {
        return full.join("pgserver/pginstall");
    }
    let bare = root.join("novector");
    if !bare.join("pgserver/pginstall/bin/postgres").is_file() {
        let tmp = root.join(format!("novector.tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy_tree(&full, &tmp, &|p: &Path| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !(n.starts_with("vector--") || n == "vector.control" || n == "vector.so")
        });
        let _ = std::fs::remove_dir_all(&bare);
        std::fs::rename(&tmp, &bare).unwrap();
    }
    bare.join("pgserver/pginstall")
}

fn find_wheel(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pgserver-0.1.4-") && n.ends_with(".whl"))
        })
}

fn unzip(wheel: &Path, dest: &Path, keep: impl Fn(&str) -> bool) {
    let f = std::fs::File::open(wheel).unwrap();
    let mut z = zip::ZipArchive::new(f).expect("wheel is a zip");
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let name = e.name().expect("zip entry name").to_string();
        if !keep(&name) || name.contains("..") {
            continue;
        }
        let out = dest.join(&name);
        if e.is_dir() {
            std::fs::create_dir_all(&out).unwrap();
            continue;
        }
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        std::fs::write(&out, data).unwrap();
        let mode = e.unix_mode().unwrap_or(0o644) & 0o777;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode | 0o444)).unwrap();
    }
}

/// Copy the folder `from` to `to`, recursively, only the entries `keep` accepts (also used by
/// tests that copy an index folder).
pub fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if !keep(&p) {
            continue;
        }
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&p, &t, keep);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// The uid/gid to run PostgreSQL as when we are root.
pub fn unprivileged() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    for name in ["nobody", "semclust-pg"] {
        if let Some(ids) = lookup(name) {
            return Some(ids);
        }
    }
    let _ = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "semclust-pg",
        ])
        .status();
    Some(lookup("semclust-pg").expect("no unprivileged user to run PostgreSQL as (useradd failed)"))
}

fn lookup(name: &str) -> Option<(u32, u32)> {
    let out = Command::new("id").arg("-u").arg(name).output().ok()?;
    let uid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    let out = Command::new("id").arg("-g").arg(name).output().ok()?;
    let gid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    Some((uid, gid))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn as_user(cmd: &mut Command, uid: Option<(u32, u32)>) -> &mut Command {
    if let Some((u, g)) = uid {
        // std drops the supplementary groups when root changes uid.
        cmd.uid(u).gid(g);
    }
    cmd
}

fn chown(path: &Path, uid: Option<(u32, u32)>) {
    if let Some((u, g)) = uid {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path that lives across the call.
        let rc = unsafe { libc::chown(c.as_ptr(), u, g) };
        assert_eq!(rc, 0, "chown {}", path.display());
    }
}

impl PgServer {
    pub fn start() -> Self {
        Self::start_with(true)
    }

    /// A server whose installation has no pgvector.
    pub fn start_without_vector() -> Self {
        Self::start_with(false)
    }

    fn start_with(with_vector: bool) -> Self {
        let install = install(with_vector);
        let uid = unprivileged();
        let dir = tempfile::Builder::new()
            .prefix("semclust-pg-")
            .tempdir()
            .unwrap()
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        chown(&dir, uid);
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        chown(&pwfile, uid);
        let out = as_user(&mut Command::new(install.join("bin/initdb")), uid)
            .arg("-D")
            .arg(dir.join("data"))
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--locale=C", "--no-sync"])
            .output_limited();
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for _attempt in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("log")).unwrap();
            chown(&dir.join("log"), uid);
            let child = as_user(&mut Command::new(install.join("bin/postgres")), uid)
                .arg("-D")
                .arg(dir.join("data"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .arg("-k")
                .arg(&dir)
                .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start postgres");
            let mut server = Self {
                port,
                dir: dir.clone(),
                install: install.clone(),
                child: Some(child),
                uid,
            };
            if server.wait_ready(Duration::from_secs(60)) {
                return server;
            }
            server.stop();
        }
        panic!(
            "PostgreSQL did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
    }

    fn wait_ready(&mut self, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(_)) = c.try_wait() {
                    return false;
                }
            }
            if postgres::Client::connect(&self.url("postgres"), postgres::NoTls).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}",
            self.port
        )
    }

    /// The URL with `sslmode=disable` (the test server has no certificate).
    pub fn store(&self, db: &str) -> String {
        format!("{}?sslmode=disable", self.url(db))
    }

    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls).expect("connect to test server")
    }

    /// A fresh database.
    pub fn create_db(&self, name: &str) -> String {
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.store(name)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGINT: PostgreSQL's fast shutdown (roll back, disconnect, exit).
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(20) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = &self.install;
        let _ = self.uid;
    }
}

/// A TLS front for a test server (whose PostgreSQL build has no SSL): it answers PostgreSQL's
/// SSLRequest with "S", does the TLS handshake with a certificate for `localhost` and 127.0.0.1
/// signed by a test CA, and relays the decrypted stream to the server. What the client does is
/// what it does against a real TLS-enabled PostgreSQL.
pub struct TlsFront {
    pub port: u16,
    /// The CA's certificate (PEM), for `sslrootcert`.
    pub ca_pem: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TlsFront {
    pub fn start(upstream: u16) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "semclust test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();

        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut req = [0u8; 8];
                    if sock.read_exact(&mut req).await.is_err() {
                        return;
                    }
                    // SSLRequest: length 8, code 80877103.
                    if req != [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                        return;
                    }
                    if sock.write_all(b"S").await.is_err() {
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(sock).await else {
                        return;
                    };
                    let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
        Self {
            port,
            ca_pem: ca_cert.pem(),
            runtime: Some(runtime),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(r) = self.runtime.take() {
            r.shutdown_background();
        }
    }
}

/// `Command::output` killed after 10 minutes (this file is also compiled into the pg_scale
/// bench, without the test helpers of `common`).
trait OutputLimited {
    fn output_limited(&mut self) -> std::process::Output;
}

impl OutputLimited for Command {
    fn output_limited(&mut self) -> std::process::Output {
        let limit = Duration::from_secs(600);
        semclust::util::process::output_within(self, limit)
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"))
            .unwrap_or_else(|| panic!("{self:?} still running after {limit:?}: killed"))
    }
}
