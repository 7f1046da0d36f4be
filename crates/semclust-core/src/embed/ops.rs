//! candle custom ops over semclust's CPU kernels ([`crate::kernels`]): erf-GELU, residual +
//! LayerNorm in one pass, and fused attention, for f32 tensors on the CPU. Other devices and
//! dtypes use candle's own ops.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};

use crate::kernels::attention::{attention_cpu, MAX_HD};
use crate::kernels::elementwise::{self, LayerNorm};

/// The f32 data of a contiguous CPU tensor, for semclust's custom ops.
pub(crate) fn contiguous_f32<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("{op}: f32 input expected")
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input expected")
    };
    Ok(&data[a..b])
}

struct GeluErf;

impl CustomOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "semclust-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out: Vec<f32> = elementwise::gelu(contiguous_f32(s, l, self.name())?);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// GELU with the exact (erf) form, as BERT uses it.
pub(crate) fn gelu_erf(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        x.contiguous()?.apply_op1_no_bwd(&GeluErf)
    } else {
        x.gelu_erf()
    }
}

/// `LayerNorm(a + b)` in one pass over each row: the residual sum, its mean and variance and
/// the normalised, scaled output, with the row in L1 throughout. Candle's residual add and
/// LayerNorm were two more passes over the activations, a zero-filled output, a scalar
/// (not vectorised) reduction, and a hand-over to candle's own thread pool per add.
pub(crate) struct AddLayerNorm(LayerNorm);

impl AddLayerNorm {
    pub(crate) fn new(gamma: Vec<f32>, beta: Vec<f32>, eps: f32) -> Self {
        Self(LayerNorm { gamma, beta, eps })
    }

    /// `LayerNorm(a + b)`, or `None` where this op does not run (not f32 on the CPU).
    pub(crate) fn forward(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Option<Tensor>> {
        if !a.device().is_cpu() || a.dtype() != DType::F32 || b.dtype() != DType::F32 {
            return Ok(None);
        }
        Ok(Some(
            a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, self)?,
        ))
    }
}

impl candle_core::CustomOp2 for AddLayerNorm {
    fn name(&self) -> &'static str {
        "semclust-add-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let a = contiguous_f32(s1, l1, self.name())?;
        let b = contiguous_f32(s2, l2, self.name())?;
        let h = self.0.gamma.len();
        if l1.shape() != l2.shape() || h == 0 || l1.shape().dims().last() != Some(&h) {
            candle_core::bail!("semclust-add-layer-norm: shape mismatch")
        }
        let out = elementwise::add_layer_norm(a, b, &self.0);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_layer_norm_matches_candle() {
        let dev = candle_core::Device::Cpu;
        for (rows, h) in [(3, 384), (5, 37)] {
            let mk = |seed: f32, n: usize| -> Vec<f32> {
                (0..n)
                    .map(|i| (i as f32 * 0.61 + seed).sin() * 3.0 + 0.5)
                    .collect()
            };
            let a = Tensor::from_vec(mk(0.2, rows * h), (1, rows, h), &dev).unwrap();
            let b = Tensor::from_vec(mk(1.9, rows * h), (1, rows, h), &dev).unwrap();
            let g = mk(0.7, h);
            let beta = mk(2.3, h);
            let op = AddLayerNorm::new(g.clone(), beta.clone(), 1e-12);
            let ours: Vec<f32> = op
                .forward(&a, &b)
                .unwrap()
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let ln = candle_nn::LayerNorm::new(
                Tensor::new(g, &dev).unwrap(),
                Tensor::new(beta, &dev).unwrap(),
                1e-12,
            );
            use candle_core::Module;
            let want: Vec<f32> = ln
                .forward(&(a + b).unwrap())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            for (i, (x, y)) in ours.iter().zip(&want).enumerate() {
                assert!(
                    (x - y).abs() < 1e-4 * (1.0 + y.abs()),
                    "{rows}x{h} [{i}]: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn gelu_matches_candle() {
        let xs: Vec<f32> = (-5000..5000).map(|i| i as f32 / 700.0).collect();
        let t = Tensor::new(xs.as_slice(), &candle_core::Device::Cpu).unwrap();
        let ours: Vec<f32> = gelu_erf(&t).unwrap().to_vec1().unwrap();
        let theirs: Vec<f32> = t.gelu_erf().unwrap().to_vec1().unwrap();
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}

/// Fused multi-head self-attention ([`attention_cpu`]) as a candle op.
struct Attention {
    lens: Vec<usize>,
    heads: usize,
    /// Sequences back to back with no padding: input `[1, sum(lens), 3 * hidden]`.
    packed: bool,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "semclust-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let qkv = contiguous_f32(s, l, self.name())?;
        let (b, len, three_h) = l.shape().dims3()?;
        let hidden = three_h / 3;
        let rows = b * len;
        let starts: Vec<usize> = if self.packed {
            self.lens
                .iter()
                .scan(0, |at, &n| {
                    let s = *at;
                    *at += n;
                    Some(s)
                })
                .collect()
        } else {
            (0..b).map(|s| s * len).collect()
        };
        let fits = if self.packed {
            b == 1 && self.lens.iter().sum::<usize>() == len
        } else {
            self.lens.len() == b && self.lens.iter().all(|&n| n <= len)
        };
        if !fits
            || three_h % 3 != 0
            || self.heads == 0
            || hidden % self.heads != 0
            || hidden / self.heads > MAX_HD
        {
            candle_core::bail!("semclust-attention: shape mismatch")
        }
        let out = attention_cpu(qkv, rows, &starts, &self.lens, hidden, self.heads);
        Ok((CpuStorage::F32(out), (b, len, hidden).into()))
    }
}

/// Fused attention for f32 on the CPU over stacked `[b, len, 3 * hidden]` query/key/value rows;
/// `None` elsewhere (the caller uses candle's ops).
pub(crate) fn attention(
    qkv: &Tensor,
    lens: &[usize],
    heads: usize,
) -> candle_core::Result<Option<Tensor>> {
    let hidden = qkv.dim(candle_core::D::Minus1)? / 3;
    if !fused_attention_available(qkv.device(), qkv.dtype(), hidden, heads) {
        return Ok(None);
    }
    let op = Attention {
        lens: lens.to_vec(),
        heads,
        packed: false,
    };
    Ok(Some(qkv.contiguous()?.apply_op1_no_bwd(&op)?))
}

/// Whether the fused attention ([`attention`], [`attention_packed`]) runs for activations of
/// this dtype and device and this head layout.
pub(crate) fn fused_attention_available(
    device: &candle_core::Device,
    dtype: DType,
    hidden: usize,
    heads: usize,
) -> bool {
    device.is_cpu()
        && dtype == DType::F32
        && heads > 0
        && hidden.is_multiple_of(heads)
        && hidden / heads <= MAX_HD
}

/// [`attention`] on sequences stored back to back with no padding: `qkv` is
/// `[1, sum(lens), 3 * hidden]`. Only for activations where [`fused_attention_available`].
pub(crate) fn attention_packed(
    qkv: &Tensor,
    lens: &[usize],
    heads: usize,
) -> candle_core::Result<Tensor> {
    let op = Attention {
        lens: lens.to_vec(),
        heads,
        packed: true,
    };
    qkv.contiguous()?.apply_op1_no_bwd(&op)
}

#[cfg(test)]
mod attention_tests {
    use super::*;
    use crate::kernels::elementwise::exp_f32;
    use candle_core::Device;

    #[test]
    fn exp_is_accurate() {
        for i in -8000..=100 {
            let x = i as f32 / 100.0;
            let rel = ((exp_f32(x) as f64 - (x as f64).exp()) / (x as f64).exp()).abs();
            assert!(rel < 3e-7, "exp({x}): rel error {rel}");
        }
    }

    #[test]
    fn fused_attention_matches_candle_with_padding() {
        // Head widths 4 (generic path) and 32 (the register-exact path); 19 keys > one block.
        for (len, hidden, heads) in [(5, 8, 2), (19, 64, 2)] {
            check_attention(len, hidden, heads);
        }
    }

    fn check_attention(len: usize, hidden: usize, heads: usize) {
        let b = 2;
        let lens = [len, len - 2];
        let mk = |seed: f32| {
            let v: Vec<f32> = (0..b * len * hidden)
                .map(|i| (i as f32 * 0.37 + seed).sin())
                .collect();
            Tensor::from_vec(v, (b, len, hidden), &Device::Cpu).unwrap()
        };
        let (q, k, v) = (mk(0.1), mk(1.3), mk(2.7));
        let qkv = Tensor::cat(&[&q, &k, &v], 2).unwrap();
        let ours = attention(&qkv, &lens, heads).unwrap().unwrap();
        // Reference with candle ops and an additive mask.
        let split = |x: &Tensor| {
            x.reshape((b, len, heads, hidden / heads))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let mask: Vec<f32> = (0..b)
            .flat_map(|s| (0..len).map(move |j| if j < lens[s] { 0.0 } else { -1e9 }))
            .collect();
        let mask = Tensor::from_vec(mask, (b, 1, 1, len), &Device::Cpu).unwrap();
        let scores = (split(&q).matmul(&split(&k).t().unwrap()).unwrap()
            * (1.0 / ((hidden / heads) as f64).sqrt()))
        .unwrap()
        .broadcast_add(&mask)
        .unwrap();
        let p = candle_nn::ops::softmax_last_dim(&scores).unwrap();
        let reference = p
            .matmul(&split(&v))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((b, len, hidden))
            .unwrap();
        let a: Vec<Vec<Vec<f32>>> = ours.to_vec3().unwrap();
        let r: Vec<Vec<Vec<f32>>> = reference.to_vec3().unwrap();
        // The same sequences with their padding rows dropped, back to back.
        let keep: Vec<u32> = (0..b)
            .flat_map(|s| (0..lens[s]).map(move |j| (s * len + j) as u32))
            .collect();
        let packed_in = qkv
            .reshape((b * len, 3 * hidden))
            .unwrap()
            .index_select(&Tensor::new(keep, &Device::Cpu).unwrap(), 0)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let packed: Vec<Vec<f32>> = attention_packed(&packed_in, &lens, heads)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec2()
            .unwrap();
        let mut row = 0;
        for s in 0..b {
            for i in 0..len {
                for d in 0..hidden {
                    if i < lens[s] {
                        assert!((a[s][i][d] - r[s][i][d]).abs() < 1e-5, "{s} {i} {d}");
                        assert!(
                            (packed[row][d] - r[s][i][d]).abs() < 1e-5,
                            "packed {s} {i} {d}"
                        );
                    } else {
                        assert_eq!(a[s][i][d], 0.0, "padding row {s} {i}");
                    }
                }
                row += usize::from(i < lens[s]);
            }
        }
        assert_eq!(row, packed.len());
    }
}
