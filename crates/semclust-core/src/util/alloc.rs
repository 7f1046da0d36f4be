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

/// Give the memory the allocator holds free back to the system (glibc's `malloc_trim`, which
/// also releases free pages inside every thread's arena; a no-op elsewhere). For the end of a
/// burst of work in a long-lived process (an indexing request, a themes run): with the
/// thresholds [`keep_large_buffers`] sets, the buffers such a burst used on the model's and
/// rayon's threads would otherwise stay resident until the process ends (measured in
/// `scripts/audit_serve.py`: 149 MB before a 20-passage indexing request, 207 MB after it).
/// Not for the inference loop itself, whose buffers are reused from one layer to the next.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it takes no pointer.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// An empty vector with room for `len` floats whose pages the kernel may back with 2 MB huge
/// pages (Linux, transparent huge pages in `madvise` mode). A flat scan streams the whole
/// matrix per query: with 4 KB pages the TLB misses cost about a quarter of its bandwidth
/// (measured: 20 vs 27 GB/s on 100,000 × 384 floats). Elsewhere, or with
/// `SEMCLUST_HUGE_PAGES=off`, a plain `Vec`.
pub fn huge_page_vec(len: usize) -> Vec<f32> {
    let v: Vec<f32> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    if huge_pages_wanted() {
        let start = v.as_ptr() as usize;
        huge::mark(start, start + len * std::mem::size_of::<f32>());
    }
    v
}

/// Run `f`, then back the anonymous memory it mapped with 2 MB pages where the kernel can
/// (Linux): the HNSW graph's arenas, which usearch maps itself. A graph search hops between
/// random nodes; over a million nodes (about 1 GB) nearly every hop is a TLB miss with 4 KB
/// pages. Blocks that `f` filled are collapsed at once (MADV_COLLAPSE), so no memory is added;
/// blocks mostly untouched are only marked, for the kernel to use when they fill.
/// `SEMCLUST_HUGE_PAGES=off` leaves the memory as it is (to measure the difference).
pub fn with_huge_pages<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_os = "linux")]
    if huge_pages_wanted() {
        let before = huge::anonymous_mappings();
        let out = f();
        for (start, end) in huge::anonymous_mappings() {
            if !before.contains(&(start, end)) {
                huge::advise(start, end);
            }
        }
        return out;
    }
    f()
}

/// False when `SEMCLUST_HUGE_PAGES=off`: a benchmark can then measure search with 4 KB pages
/// only, as peers get them unless the system's THP mode is `always`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn huge_pages_wanted() -> bool {
    std::env::var_os("SEMCLUST_HUGE_PAGES").is_none_or(|v| v != "off")
}

/// Anonymous memory of this process in 2 MB pages, in bytes (Linux; 0 elsewhere).
pub fn anon_huge_page_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("AnonHugePages:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(target_os = "linux")]
mod huge {
    const HUGE: usize = 2 << 20;
    const PAGE: usize = 4096;

    /// Private anonymous read-write mappings, from /proc/self/maps.
    pub fn anonymous_mappings() -> Vec<(usize, usize)> {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return Vec::new();
        };
        maps.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let range = f.next()?;
                let perms = f.next()?;
                let inode = f.nth(2)?;
                let path = f.next();
                if !perms.starts_with("rw") || inode != "0" || path.is_some() {
                    return None;
                }
                let (a, b) = range.split_once('-')?;
                let a = usize::from_str_radix(a, 16).ok()?;
                let b = usize::from_str_radix(b, 16).ok()?;
                (b - a >= HUGE).then_some((a, b))
            })
            .collect()
    }

    /// Mark the whole 2 MB pages inside [start, end) for huge pages and return them as
    /// (first, last), or None when there is not one. MADV_HUGEPAGE is only a hint: pages the
    /// kernel faults in later come as huge pages where it can.
    pub fn mark(start: usize, end: usize) -> Option<(usize, usize)> {
        let first = start.next_multiple_of(HUGE);
        let last = end / HUGE * HUGE;
        if last <= first {
            return None;
        }
        // SAFETY: the range lies inside one of our mappings or allocations; madvise only gives
        // the kernel a hint, and failure is harmless.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_HUGEPAGE,
            );
        }
        Some((first, last))
    }

    /// [`mark`], then collapse at once the blocks that are already (nearly) all resident.
    pub fn advise(start: usize, end: usize) {
        let Some((first, last)) = mark(start, end) else {
            return;
        };
        let mut resident = vec![0u8; HUGE / PAGE];
        let mut run: Option<usize> = None;
        let collapse = |from: usize, to: usize| {
            // SAFETY: [from, to) lies inside a mapping of this process; MADV_COLLAPSE copies
            // its pages into huge pages and leaves the contents as they were, or fails harmlessly.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_COLLAPSE);
            }
        };
        let mut block = first;
        while block < last {
            // SAFETY: mincore reads residency of our own pages into `resident` (one byte per
            // 4 KB page of the 2 MB block).
            let ok = unsafe {
                libc::mincore(block as *mut libc::c_void, HUGE, resident.as_mut_ptr()) == 0
            };
            let full =
                ok && resident.iter().filter(|&&b| b & 1 == 1).count() * 16 >= 15 * resident.len();
            match (full, run) {
                (true, None) => run = Some(block),
                (false, Some(from)) => {
                    collapse(from, block);
                    run = None;
                }
                _ => {}
            }
            block += HUGE;
        }
        if let Some(from) = run {
            collapse(from, last);
        }
    }
}
