//! semclust: the `semclust` binary's library half, its HTTP server, over [`semclust_core`].
//!
//! Everything the command line and the server call lives in `semclust-core` (corpus, model,
//! embed, store, search, cluster, report and [`collection::Collection`]); it is re-exported here
//! whole, so that `semclust::store::…` names the same item as `semclust_core::store::…`. Rust
//! programs that only embed, search or cluster depend on `semclust-core`, which has no clap,
//! axum, hyper or tokio.

pub use semclust_core::*;

pub mod server;
