//! The server as a separate process, started the way a user starts it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `semclust serve` as a user starts it: on an ephemeral loopback port, over `index`, with the
/// tests' model cache; killed when dropped (its stderr printed if the test failed).
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, as the server announced it.
    pub base: String,
    /// Everything the server wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn start(index: &Path, extra: &[&str]) -> ServerProcess {
        Self::start_limited(index, extra, None)
    }

    /// With at most `open_files` file descriptors (soft and hard limit), when given.
    pub fn start_limited(index: &Path, extra: &[&str], open_files: Option<u64>) -> ServerProcess {
        super::files("multilingual-e5-small");
        let mut cmd = super::semclust_command();
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--no-hub", "--index"])
            .arg(index)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(n) = open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().unwrap();
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(addr) = line.trim().strip_prefix("semclust: listening on ") else {
            let _ = child.wait();
            panic!(
                "server did not start: stdout {line:?}, stderr {}",
                stderr.lock().unwrap()
            );
        };
        ServerProcess {
            child,
            base: addr.to_string(),
            stderr,
        }
    }

    pub fn sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
    }

    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < limit,
                "server still running {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("server stderr:\n{}", self.stderr.lock().unwrap());
        }
    }
}
