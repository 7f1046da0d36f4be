//! Synthetic embeddings for the scale benchmarks: unit vectors drawn around random centres (like
//! topics in a collection), so that neighbourhoods and clusters have structure, as real
//! embeddings do. Uniformly random vectors would be the worst case for any index or clustering.

pub const DIM: usize = 384;

/// xorshift64: a fixed, dependency-free generator, so every run sees the same data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn gauss(&mut self) -> f32 {
        let (u, v) = (self.next(), self.next());
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }
}

pub fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

/// `n` random unit centres.
pub fn centres(rng: &mut Rng, n: usize) -> Vec<f32> {
    let mut c: Vec<f32> = (0..n * DIM).map(|_| rng.gauss()).collect();
    c.chunks_mut(DIM).for_each(normalise);
    c
}

/// `n` unit vectors around `centres`, with noise of the given relative size.
pub fn draw(rng: &mut Rng, centres: &[f32], n: usize, noise: f32) -> Vec<f32> {
    let nc = centres.len() / DIM;
    let mut out = vec![0f32; n * DIM];
    for row in out.chunks_mut(DIM) {
        let c = (rng.next() * nc as f64) as usize % nc;
        let mut g: Vec<f32> = (0..DIM).map(|_| rng.gauss()).collect();
        normalise(&mut g);
        for (j, x) in row.iter_mut().enumerate() {
            *x = centres[c * DIM + j] + noise * g[j];
        }
        normalise(row);
    }
    out
}

/// Value of `--name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}
