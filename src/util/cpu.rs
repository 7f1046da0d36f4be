//! Which SIMD the CPU kernels may use, decided in one place: what the CPU has, capped by
//! `SEMCLUST_MAX_ISA` (`avx2` or `scalar`), so that the narrower paths can be measured and
//! tested on a wider CPU (the parity tolerances hold on both AVX-512 and AVX2 machines).

use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Cap {
    Scalar,
    Avx2,
    Any,
}

fn cap() -> Cap {
    static CAP: OnceLock<Cap> = OnceLock::new();
    *CAP.get_or_init(|| match std::env::var("SEMCLUST_MAX_ISA").as_deref() {
        Ok("scalar") => Cap::Scalar,
        Ok("avx2") => Cap::Avx2,
        _ => Cap::Any,
    })
}

/// AVX2 and FMA.
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cap() >= Cap::Avx2
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-512F.
pub fn avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cap() >= Cap::Any && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-512F, BW and VNNI (the int8 dot products of the Q4 kernel).
pub fn avx512_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512f()
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
