//! What produced an index's vectors. A leaf of the crate (it imports nothing of semclust's), so
//! that the error type, which names fingerprints, depends on no other module.

use serde::{Deserialize, Serialize};

/// What produced an index's vectors: vectors of another model (or precision) are not comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub model: String,
    pub revision: String,
    pub precision: String,
    pub dimension: usize,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {}-d, revision {})",
            self.model,
            self.precision,
            self.dimension,
            self.revision.chars().take(12).collect::<String>()
        )
    }
}
