//! Ctrl-C (SIGINT) and SIGTERM as a request to stop at the next safe point, for a long run that
//! commits its work in steps (`semclust index`): the signal only raises a flag, the run asks
//! [`requested`] between steps, saves the step in flight and ends with a message instead of
//! dying in the middle of a write. A second signal is not caught (the handler is installed with
//! `SA_RESETHAND`): pressed twice, Ctrl-C kills at once, as users expect.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received, 0 for none.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic store: the one kind of work a signal handler may safely do.
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// Catch SIGINT and SIGTERM from now on (once each). A no-op where there are no signals.
pub fn catch() -> std::io::Result<()> {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action is zero-initialised and then filled as sigaction(2) requires; the
        // handler only stores to an atomic, which is async-signal-safe.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`catch`].
pub fn requested() -> bool {
    received().is_some()
}

/// The signal that arrived, if one did.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit status of a process stopped by `sig`, as shells report it (130 for Ctrl-C).
pub fn exit_status(sig: i32) -> i32 {
    128 + sig
}
