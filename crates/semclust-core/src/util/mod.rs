//! Small helpers shared by several modules.

pub mod alloc;
pub mod choice;
pub mod fs;
pub mod interrupt;
pub mod npy;
pub mod text;

/// A line for the operator on standard error (the server's log), with secrets removed.
pub fn log(msg: &str) {
    eprintln!("semclust: {}", text::redact_secrets(msg));
}
pub mod process;
