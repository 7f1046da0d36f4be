//! Where a PostgreSQL store lives and how to reach it: the `postgres://` URL completed by the
//! standard `PG*` environment variables and `~/.pgpass` the way libpq completes it, the TLS mode,
//! and the errors a user can act on.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode};

use super::is_postgres_url;
use crate::error::{Error, Result};

/// The schema semclust's tables live in unless the URL says `?schema=NAME`.
pub const DEFAULT_SCHEMA: &str = "semclust";

/// libpq's `sslmode`, which tokio-postgres only knows in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    /// TLS when the server offers it, without checking its certificate (libpq's default).
    Prefer,
    /// TLS or nothing, without checking the certificate (libpq's `require`).
    Require,
    /// TLS with the certificate checked against the root certificates and the host name
    /// (`verify-ca` is treated as `verify-full`: rustls always checks the name).
    Verify,
}

/// A parsed `postgres://` location.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
    schema: String,
    /// What messages show: the URL without its password.
    display: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

impl std::fmt::Display for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl PgTarget {
    /// Parse `postgres://[USER[:PASSWORD]@]HOST[:PORT][/DB][?PARAMS]`. What the URL leaves out
    /// comes from `PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGPASSWORD`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT` and then `~/.pgpass` (or `PGPASSFILE`), as libpq
    /// does. semclust's own parameter `schema` names the schema holding the index.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |m: String| Error::invalid("store", format!("{}: {m}", redact(url)));
        if !is_postgres_url(url) {
            return Err(bad(
                "not a postgres:// URL (expected postgres://USER@HOST:PORT/DATABASE)".into(),
            ));
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let base = encode_password(base);
        let mut passed = Vec::new();
        let mut tls: Option<String> = None;
        let mut root_cert: Option<PathBuf> = None;
        let mut schema: Option<String> = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => tls = Some(v.to_string()),
                "sslrootcert" => root_cert = Some(PathBuf::from(v)),
                "schema" => schema = Some(v.to_string()),
                _ => passed.push(pair),
            }
        }
        let rebuilt = if passed.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", passed.join("&"))
        };
        let mut config = postgres::Config::from_str(&rebuilt)
            .map_err(|e| bad(format!("{e}; see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS")))?;

        if config.get_hosts().is_empty() {
            let host = env("PGHOST").unwrap_or_else(|| "localhost".into());
            for h in host.split(',') {
                config.host(h);
            }
        }
        if config.get_ports().is_empty() {
            if let Some(p) = env("PGPORT") {
                let port: u16 = p
                    .parse()
                    .map_err(|_| bad(format!("PGPORT={p} is not a port number")))?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .or_else(|| env("LOGNAME"))
                .ok_or_else(|| bad("no user: put USER@ in the URL or set PGUSER".into()))?;
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            let db = env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("").into());
            config.dbname(&db);
        }
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(10);
            config.connect_timeout(Duration::from_secs(secs.max(2)));
        }
        if config.get_application_name().is_none() {
            // Lets administrators see (and tests find) semclust's sessions in pg_stat_activity.
            config.application_name("semclust");
        }
        let tls_name = tls.or_else(|| env("PGSSLMODE"));
        let tls = match tls_name.as_deref() {
            None | Some("prefer") | Some("allow") => TlsMode::Prefer,
            Some("disable") => TlsMode::Disable,
            Some("require") => TlsMode::Require,
            Some("verify-ca") | Some("verify-full") => TlsMode::Verify,
            Some(other) => {
                return Err(bad(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        };
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::Verify => SslMode::Require,
        });
        let root_cert = root_cert.or_else(|| env("PGSSLROOTCERT").map(PathBuf::from));
        let schema = schema.unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
        if !valid_identifier(&schema) {
            return Err(bad(format!(
                "schema={schema}: use lower-case letters, digits and _ (at most 63, not starting with a digit)"
            )));
        }

        let mut target = Self {
            display: String::new(),
            config,
            tls,
            root_cert,
            schema,
        };
        if target.config.get_password().is_none() {
            if let Some(p) = env("PGPASSWORD").or_else(|| target.pgpass()) {
                target.config.password(p);
            }
        }
        target.display = target.describe();
        Ok(target)
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    fn host_name(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        }
    }

    fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    pub fn database(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "postgres://{}@{}:{}/{}",
            self.user(),
            self.host_name(),
            self.port(),
            self.database()
        );
        if self.schema != DEFAULT_SCHEMA {
            s.push_str(&format!("?schema={}", self.schema));
        }
        s
    }

    /// A stable key for caches derived from this store (the lexical index).
    pub fn cache_key(&self) -> String {
        format!(
            "{}@{}:{}/{}/{}",
            self.user(),
            self.host_name(),
            self.port(),
            self.database(),
            self.schema
        )
    }

    /// The password `.pgpass` gives for this host, port, database and user. libpq ignores a file
    /// others can read, and so do we.
    fn pgpass(&self) -> Option<String> {
        let path = env("PGPASSFILE")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".pgpass")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).ok()?.permissions().mode();
            if mode & 0o077 != 0 {
                return None;
            }
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            // libpq matches a socket connection against "localhost".
            _ => "localhost".into(),
        };
        let port = self.port().to_string();
        let wanted = [host.as_str(), port.as_str(), self.database(), self.user()];
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f = pgpass_fields(l);
                (f.len() == 5).then_some(f)
            })
            .find(|f| {
                f[..4]
                    .iter()
                    .zip(wanted)
                    .all(|(pat, v)| pat == "*" || pat == v)
            })
            .map(|f| f[4].clone())
    }

    /// Connect, with a one-line error saying what to do when that fails.
    pub fn connect(&self) -> Result<postgres::Client> {
        let result = if self.tls == TlsMode::Disable {
            self.config.connect(postgres::NoTls)
        } else {
            self.config.connect(self.tls_connector()?)
        };
        result.map_err(|e| self.connect_error(&e))
    }

    fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| self.error(format!("TLS setup: {e}")))?;
        let config = if self.tls == TlsMode::Verify {
            let mut roots = rustls::RootCertStore::empty();
            match &self.root_cert {
                Some(path) => {
                    for cert in read_pem_certs(path)? {
                        roots.add(cert).map_err(|e| {
                            Error::bad_file(path, format!("not a usable root certificate: {e}"))
                        })?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            // libpq's `prefer` and `require` encrypt without checking who answers.
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
                .with_no_client_auth()
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        Error::Postgres {
            target: self.display.clone(),
            message: message.into(),
        }
    }

    /// What went wrong while connecting, in words a user can act on.
    fn connect_error(&self, e: &postgres::Error) -> Error {
        use postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            let msg = if *code == SqlState::INVALID_PASSWORD {
                format!(
                    "password authentication failed for user \"{}\": check the password in the URL, PGPASSWORD or ~/.pgpass",
                    self.user()
                )
            } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
                format!(
                    "the server refused user \"{}\" ({}): check the user name and the server's pg_hba.conf",
                    self.user(),
                    db.message()
                )
            } else if *code == SqlState::INVALID_CATALOG_NAME {
                format!(
                    "database \"{}\" does not exist: create it (createdb {}) or name another one in the URL",
                    self.database(),
                    self.database()
                )
            } else {
                format!("cannot connect: {}", db.message())
            };
            return self.error(msg);
        }
        let text = e.to_string();
        let source = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        let msg = if text.contains("timeout") || source.contains("timed out") {
            format!(
                "no answer from {}:{} within the connect timeout: check the host and port, and that a firewall lets you through (PGCONNECT_TIMEOUT sets the wait)",
                self.host_name(),
                self.port()
            )
        } else if text.contains("TLS") || source.contains("TLS") || text.contains("tls") {
            format!(
                "TLS failed ({}): the server may not offer TLS (try sslmode=prefer or disable) or its certificate is not trusted (set sslrootcert)",
                if source.is_empty() { &text } else { &source }
            )
        } else if text.contains("password missing") {
            format!(
                "the server asks for a password for user \"{}\": put it in the URL, PGPASSWORD or ~/.pgpass",
                self.user()
            )
        } else {
            format!(
                "cannot reach {}:{} ({}): is PostgreSQL running there and accepting TCP connections?",
                self.host_name(),
                self.port(),
                if source.is_empty() { text } else { source }
            )
        };
        self.error(msg)
    }
}

/// `scheme://user:pass@word@host/db` with the password's `@`, `/` and `#` percent-encoded: the
/// user info ends at the last `@` (as people type passwords unencoded), where a URL parser
/// would end it at the first and read the rest of the password as the host.
fn encode_password(base: &str) -> String {
    let Some(s) = base.find("://") else {
        return base.to_string();
    };
    let (scheme, rest) = base.split_at(s + 3);
    let Some(at) = rest.rfind('@') else {
        return base.to_string();
    };
    let (userinfo, host) = rest.split_at(at);
    let Some((user, password)) = userinfo.split_once(':') else {
        return base.to_string();
    };
    let password = password
        .replace('@', "%40")
        .replace('/', "%2F")
        .replace('#', "%23");
    format!("{scheme}{user}:{password}{host}")
}

fn redact(url: &str) -> String {
    crate::util::text::redact_secrets(url)
}

fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Split a `.pgpass` line at unescaped colons, undoing `\:` and `\\`.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    fields
}

fn read_pem_certs(path: &Path) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| {
            Error::bad_file(
                path,
                format!(
                    "cannot read the root certificates named by sslrootcert / PGSSLROOTCERT: {e}"
                ),
            )
        })?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::bad_file(path, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(Error::bad_file(path, "holds no PEM certificate"));
    }
    Ok(certs)
}

/// Accepts any server certificate but still checks the handshake signatures: libpq's
/// `sslmode=require` (encryption without authentication).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

mod any_certificate {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
    use rustls::{DigitallySignedStruct as Dss, SignatureScheme};
    use rustls_pki_types::{CertificateDer as Cert, ServerName, UnixTime};

    type Signed = Result<HandshakeSignatureValid, rustls::Error>;

    impl ServerCertVerifier for super::AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &Cert<'_>,
            _intermediates: &[Cert<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(&self, m: &[u8], c: &Cert<'_>, d: &Dss) -> Signed {
            verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(&self, m: &[u8], c: &Cert<'_>, d: &Dss) -> Signed {
            verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_escapes() {
        assert_eq!(
            pgpass_fields(r"db\:host:5432:*:me:pa\\ss\:word"),
            vec!["db:host", "5432", "*", "me", r"pa\ss:word"]
        );
    }

    #[test]
    fn url_parameters() {
        let t = PgTarget::parse("postgres://alice:secret@db.example:6543/articles?schema=team_a&sslmode=require&application_name=x").unwrap();
        assert_eq!(t.schema(), "team_a");
        assert_eq!(t.tls, TlsMode::Require);
        assert_eq!(t.user(), "alice");
        assert_eq!(t.database(), "articles");
        assert_eq!(
            t.to_string(),
            "postgres://alice@db.example:6543/articles?schema=team_a"
        );
        assert!(!t.to_string().contains("secret"));
        for bad in [
            "postgres://a@h/db?sslmode=sometimes",
            "postgres://a@h/db?schema=Bad-Name",
            "mysql://a@h/db",
        ] {
            // Named by the library's field; the command line shows it as `--store`.
            let e = PgTarget::parse(bad).unwrap_err();
            assert!(
                matches!(e, Error::InvalidInput { field: "store", .. }),
                "{e}"
            );
        }
        assert!(redact("postgres://u:pw@h/db").contains("u:***@h"));
    }
}
