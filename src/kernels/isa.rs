//! Which SIMD the CPU kernels may use, decided once for the process: what the CPU has, capped
//! by `SEMCLUST_MAX_ISA` (`avx2` or `scalar`), so that the narrower paths can be measured and
//! tested on a wider CPU (the parity tolerances hold on both AVX-512 and AVX2 machines).
//!
//! Every kernel asks [`Isa::best`] (or is handed a level no wider than it); no other code
//! detects CPU features.

use std::sync::OnceLock;

/// An instruction-set level, narrowest first. Each level's kernels may use every feature of the
/// levels below it: a CPU is given a level only when it has all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Scalar,
    /// AVX2 and FMA.
    Avx2,
    /// AVX-512F (with AVX2 and FMA).
    Avx512,
    /// AVX-512F, BW and VNNI: the int8 dot products of the Q4 kernel.
    Avx512Vnni,
}

impl Isa {
    /// The widest level this process may use.
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            let cap = match std::env::var("SEMCLUST_MAX_ISA").as_deref() {
                Ok("scalar") => Isa::Scalar,
                Ok("avx2") => Isa::Avx2,
                _ => Isa::Avx512Vnni,
            };
            detect().min(cap)
        })
    }

    /// Every level up to [`Isa::best`], narrowest first: what the tests run each kernel at.
    pub fn available() -> Vec<Isa> {
        [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni]
            .into_iter()
            .filter(|&i| i <= Isa::best())
            .collect()
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            if has!("avx512f") {
                if has!("avx512bw") && has!("avx512vnni") {
                    return Isa::Avx512Vnni;
                }
                return Isa::Avx512;
            }
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// AVX2 and FMA may be used.
pub fn avx2_fma() -> bool {
    Isa::best() >= Isa::Avx2
}

/// AVX-512F may be used.
pub fn avx512f() -> bool {
    Isa::best() >= Isa::Avx512
}

/// AVX-512 VNNI may be used.
pub fn avx512_vnni() -> bool {
    Isa::best() >= Isa::Avx512Vnni
}
