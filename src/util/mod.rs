//! Small helpers shared by several modules.

pub mod fs;
pub mod npy;
