//! Device choice. `cuda` and `metal` are cargo features passed through to candle; a backend that
//! is not compiled in is a clear error when asked for by name, and `auto` falls back to the CPU
//! with a warning that says why. Whether a GPU backend works is found out by opening the device,
//! not from the build flags alone.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// CUDA, then Metal, when compiled in and working; else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
    Metal(usize),
}

impl FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (kind, ordinal) = match s.split_once(':') {
            Some((k, o)) => (
                k.to_string(),
                o.parse::<usize>().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "device '{s}': the part after ':' must be a GPU number"
                    ))
                })?,
            ),
            None => (s.clone(), 0),
        };
        match kind.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(ordinal)),
            "metal" => Ok(Self::Metal(ordinal)),
            _ => Err(Error::InvalidArgument(format!(
                "unknown device '{s}'; use auto, cpu, cuda[:N] or metal[:N]"
            ))),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => write!(f, "auto"),
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Metal(i) => write!(f, "metal:{i}"),
        }
    }
}

/// A GPU backend: its cargo feature and name, whether this build has it, and candle's opener.
struct Gpu {
    feature: &'static str,
    name: &'static str,
    built: bool,
    open: fn(usize) -> candle_core::Result<Device>,
}

const CUDA: Gpu = Gpu {
    feature: "cuda",
    name: "CUDA",
    built: cfg!(feature = "cuda"),
    open: Device::new_cuda,
};

const METAL: Gpu = Gpu {
    feature: "metal",
    name: "Metal",
    built: cfg!(feature = "metal"),
    open: Device::new_metal,
};

/// Device `ordinal` of `gpu`, or why not: not compiled in, or the driver's first line.
fn open_gpu(gpu: &Gpu, ordinal: usize) -> Result<Device> {
    let unavailable = |reason: String| Error::DeviceUnavailable {
        device: format!("{}:{ordinal}", gpu.feature),
        reason,
    };
    if !gpu.built {
        return Err(unavailable(format!(
            "this semclust was built without {}; rebuild with `cargo build --release --features {}`",
            gpu.name, gpu.feature
        )));
    }
    (gpu.open)(ordinal)
        .map_err(|e| unavailable(e.to_string().lines().next().unwrap_or("").to_string()))
}

/// Open the chosen device. For `Auto`, the returned note says why a GPU was not used (only when
/// a GPU backend was compiled in but could not be opened).
pub(crate) fn open(choice: DeviceChoice) -> Result<(Device, Option<String>)> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::Cpu, None)),
        DeviceChoice::Cuda(i) => Ok((open_gpu(&CUDA, i)?, None)),
        DeviceChoice::Metal(i) => Ok((open_gpu(&METAL, i)?, None)),
        DeviceChoice::Auto => {
            let mut notes = Vec::new();
            if cfg!(feature = "cuda") {
                match open_gpu(&CUDA, 0) {
                    Ok(d) => return Ok((d, None)),
                    Err(e) => notes.push(e.to_string()),
                }
            }
            if cfg!(feature = "metal") {
                match open_gpu(&METAL, 0) {
                    Ok(d) => return Ok((d, None)),
                    Err(e) => notes.push(e.to_string()),
                }
            }
            let note = (!notes.is_empty()).then(|| format!("using the CPU: {}", notes.join("; ")));
            Ok((Device::Cpu, note))
        }
    }
}

pub(crate) fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(_) => "cuda".to_string(),
        Device::Metal(_) => "metal".to_string(),
    }
}

/// What the CPU has, for reports (the kernels' own choice is [`crate::kernels::isa::Isa`]).
pub use crate::kernels::isa::cpu_features;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("auto".parse::<DeviceChoice>().unwrap(), DeviceChoice::Auto);
        assert_eq!("CPU".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            "cuda:1".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Cuda(1)
        );
        assert_eq!(
            "metal".parse::<DeviceChoice>().unwrap(),
            DeviceChoice::Metal(0)
        );
        let e = "tpu".parse::<DeviceChoice>().unwrap_err().to_string();
        assert!(e.contains("unknown device 'tpu'"), "{e}");
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_get_it() {
        let e = open(DeviceChoice::Cuda(0)).unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
        let (d, note) = open(DeviceChoice::Auto).unwrap();
        assert!(d.is_cpu());
        assert!(note.is_none());
    }
}
