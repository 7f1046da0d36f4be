//! Which SIMD the CPU kernels may use, decided once for the process: what the CPU has, capped
//! by `SEMCLUST_MAX_ISA` (`avx2` or `scalar`), so that the narrower paths can be measured and
//! tested on a wider CPU (the parity tolerances hold on both AVX-512 and AVX2 machines).
//!
//! Every kernel asks [`Isa::best`] (or is handed a level no wider than it); no other code
//! detects CPU features ([`cpu_features`] reports them for `semclust bench` and the run
//! summary).

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
    #[cfg(test)]
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

/// The CPU's SIMD features that matter for semclust's and candle's kernels, as detected at run
/// time (what the CPU has, whatever `SEMCLUST_MAX_ISA` allows).
pub fn cpu_features() -> Vec<&'static str> {
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            v.push("avx2");
        }
        if std::is_x86_feature_detected!("fma") {
            v.push("fma");
        }
        if std::is_x86_feature_detected!("f16c") {
            v.push("f16c");
        }
        if std::is_x86_feature_detected!("avx512f") {
            v.push("avx512f");
        }
        if std::is_x86_feature_detected!("avx512vnni") {
            v.push("avx512vnni");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        v.push("neon");
    }
    if cfg!(feature = "mkl") {
        v.push("mkl");
    }
    if cfg!(feature = "accelerate") {
        v.push("accelerate");
    }
    v
}
