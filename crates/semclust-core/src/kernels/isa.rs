//! Which SIMD the CPU kernels may use, decided once for the process: what the CPU has, capped
//! by `SEMCLUST_MAX_ISA` (`avx2-vnni`, `avx2` or `scalar`), so that the narrower paths can be
//! measured and tested on a wider CPU (the parity tolerances hold on both AVX-512 and AVX2
//! machines).
//!
//! Every kernel asks [`Isa::best`] (or is handed a level that is [`Isa::usable`]); no other code
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
    /// AVX2 and FMA with AVX-VNNI (`vpdpbusd` on 256 bits: Intel's client CPUs since Alder
    /// Lake, AMD's since Zen 5), for the Q4 kernel. The one level off the line: AVX-512 CPUs
    /// without AVX-VNNI exist, so the wider levels do not imply it, and only a kernel chosen
    /// at exactly this level may use it (every `>= Avx2` kernel runs here as on AVX2).
    Avx2Vnni,
    /// AVX-512F (with AVX2 and FMA).
    Avx512,
    /// AVX-512F, BW and VNNI: the int8 dot products of the Q4 kernel.
    Avx512Vnni,
}

impl Isa {
    /// The widest level this process may use.
    pub fn best() -> Isa {
        Self::decided().0
    }

    /// The widest usable level and every usable level as a bit mask (bit `level as u8`),
    /// decided once: kernels check their level on every call, some of them per pair of rows.
    fn decided() -> (Isa, u8) {
        static DECIDED: OnceLock<(Isa, u8)> = OnceLock::new();
        *DECIDED.get_or_init(|| {
            let cap = match std::env::var("SEMCLUST_MAX_ISA").as_deref() {
                Ok("scalar") => Isa::Scalar,
                Ok("avx2") => Isa::Avx2,
                Ok("avx2-vnni") => Isa::Avx2Vnni,
                _ => Isa::Avx512Vnni,
            };
            let usable = Self::ALL.map(|i| i <= cap && i.supported());
            let best = Self::ALL
                .into_iter()
                .zip(usable)
                .filter_map(|(i, u)| u.then_some(i))
                .max()
                .unwrap_or(Isa::Scalar);
            let mask = usable
                .iter()
                .enumerate()
                .fold(0u8, |m, (bit, &u)| m | (u8::from(u) << bit));
            (best, mask)
        })
    }

    /// Every level in declaration order: a level's index here is its discriminant.
    const ALL: [Isa; 5] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx2Vnni,
        Isa::Avx512,
        Isa::Avx512Vnni,
    ];

    /// Whether a kernel may run at this level here: the CPU has it and the cap allows it (not
    /// simply `self <= Isa::best()`: an AVX-512 CPU may lack [`Isa::Avx2Vnni`]).
    pub fn usable(self) -> bool {
        Self::decided().1 & (1 << self as u8) != 0
    }

    /// Every usable level, narrowest first: what the tests run each kernel at.
    #[cfg(test)]
    pub fn available() -> Vec<Isa> {
        Self::ALL.into_iter().filter(|i| i.usable()).collect()
    }

    /// Whether the CPU has every feature of this level.
    fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            use std::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            let avx512 = avx2 && has!("avx512f");
            match self {
                Isa::Scalar => true,
                Isa::Avx2 => avx2,
                Isa::Avx2Vnni => avx2 && has!("avxvnni"),
                Isa::Avx512 => avx512,
                Isa::Avx512Vnni => avx512 && has!("avx512bw") && has!("avx512vnni"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Scalar
        }
    }
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
        if std::is_x86_feature_detected!("avxvnni") {
            v.push("avxvnni");
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
