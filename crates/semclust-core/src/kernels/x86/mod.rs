//! The x86-64 kernels, one file per instruction-set level.

pub(in crate::kernels) mod avx2;
pub(in crate::kernels) mod avx512;
