//! The accept loop: connections bounded and refused with 503 past the bound, a header-read
//! timeout, and the shutdown deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{router, ApiError, AppState};
use axum::http::StatusCode;

/// Serve on `listener` until `shutdown` completes, then stop taking connections, let the
/// requests in flight finish within `--shutdown-timeout`, and return; connections still open
/// then are dropped (their requests get no answer; an indexing run stops between transactions).
///
/// The accept loop is ours rather than `axum::serve`'s, for what a server facing the open
/// network needs: a header-read timeout (a client that sends half a request line and waits is
/// cut off), a bound on open connections that refuses the next one at once with 503 instead of
/// letting accept fail on the open-file limit, and the shutdown deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let app = router(state.clone());
    let limits = state.config.limits;
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections(
        limits.max_connections,
    )));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, or a connection reset before it was accepted: the
                // listener is fine, try again shortly rather than spin or stop.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            state.metrics.rejected_connection();
            tokio::spawn(refuse_connection(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    // Writers finish before the process ends (an indexing request whose client went away is
    // still running on the blocking pool), within the same deadline.
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        graceful.shutdown().await;
        let _writing = state.writer.lock().await;
    })
    .await;
    if drained.is_err() {
        crate::util::log(&format!(
            "shutdown: requests still open after {} s (--shutdown-timeout) were dropped",
            limits.shutdown_timeout.as_secs_f64()
        ));
    }
    Ok(())
}

/// `wanted`, lowered to fit the open-file limit (raised to its hard maximum first, as servers
/// do): past it accept() fails and the server can answer nobody, /health included. A reserve
/// stays for the index, the model and the lexical index's files.
fn max_connections(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the one struct passed, which lives here.
        let files = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
                if lim.rlim_cur < lim.rlim_max {
                    let raised = libc::rlimit {
                        rlim_cur: lim.rlim_max,
                        rlim_max: lim.rlim_max,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                        lim.rlim_cur = lim.rlim_max;
                    }
                }
                Some(lim.rlim_cur)
            } else {
                None
            }
        };
        if let Some(files) = files {
            let files = usize::try_from(files).unwrap_or(usize::MAX);
            let reserve = (files / 4).max(64);
            let fits = files.saturating_sub(reserve).max(1);
            if fits < wanted {
                crate::util::log(&format!(
                    "--max-connections {wanted} lowered to {fits}: the open-file limit is {files} (raise it with `ulimit -n`)"
                ));
                return fits;
            }
        }
    }
    wanted
}

/// Answer a connection over the bound with 503 and close it, without waiting on the client.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Written by hand: this connection never reaches hyper or the router.
    let error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable_error",
        "the server has as many connections open as it takes (--max-connections); retry after the number of seconds in Retry-After",
    )
    .with_code("too_many_connections");
    let body = error.body().to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // What the client already sent is read first (briefly): closing a socket with unread data
    // resets it, and the client would see the reset instead of the answer.
    let mut scratch = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut scratch)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}
