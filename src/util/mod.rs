//! Small helpers shared by several modules.

pub mod alloc;
pub mod fs;
pub mod npy;
