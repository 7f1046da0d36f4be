//! Allocator tuning for the binaries. Inference allocates and frees activation buffers of tens of
//! MB on every layer; glibc serves those with fresh `mmap`s that the kernel must fault in and
//! zero each time (about a tenth of CPU time here). Raising the mmap and trim thresholds keeps
//! freed buffers in the heap for the next layer. Called once at start-up by the binaries; a
//! library user's allocator is left alone.

/// Keep large freed buffers for reuse (glibc on Linux; a no-op elsewhere).
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // mallopt parameter numbers from glibc's malloc.h.
        const M_TRIM_THRESHOLD: libc::c_int = -1;
        const M_MMAP_THRESHOLD: libc::c_int = -3;
        // SAFETY: mallopt only changes allocator parameters; called before heavy allocation.
        unsafe {
            libc::mallopt(M_MMAP_THRESHOLD, 256 << 20);
            libc::mallopt(M_TRIM_THRESHOLD, 512 << 20);
        }
    }
}
