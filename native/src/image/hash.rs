//! Perceptual hashes (64-bit) that reproduce the `imagehash` package.
//!
//! All four start from Pillow's `convert("L")` grey plane ([`super::decode::luma_pil`]) and
//! Pillow's `LANCZOS` resize ([`super::resample::resize`]), as `imagehash` does. Bits are packed
//! row-major with the first element in the most significant bit, so `format!("{:016x}", h)`
//! equals `str(imagehash.phash(img))` and `i64` storage is the same bits reinterpreted.
//!
//! - aHash: 8×8, bit = pixel > mean.
//! - dHash: 9 wide × 8 high, bit = right neighbour > left.
//! - pHash: 32×32, unnormalised DCT-II along rows then columns (`scipy.fftpack.dct` twice),
//!   top-left 8×8, bit = coefficient > median (mean of the 32nd and 33rd of 64).
//! - wHash (haar, `remove_max_haar_ll=True`): the image is resized to the largest power of two
//!   `S` ≤ its shorter side; removing the full-depth Haar LL band subtracts the image mean, and
//!   the level-log2(S/8) Haar approximation is then a positive multiple of each (S/8)² block
//!   sum minus a constant, so comparing block sums to their median gives the same bits as
//!   pywt's floating-point route (exact integer arithmetic here; see docs/image_signals.md).

use super::resample::{resize, Filter};

fn pack(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | u64::from(b))
}

/// The four hashes of one grey plane, `(a, d, p, w)`, with `resample(out_w, out_h)` doing the
/// LANCZOS resampling of that plane (Pillow-exact [`resize`], or a faster approximation).
pub fn all_hashes(w: usize, h: usize, mut resample: impl FnMut(usize, usize) -> Vec<u8>) -> (u64, u64, u64, u64) {
    let s = whash_scale(w, h);
    (ahash_px(&resample(8, 8)), dhash_px(&resample(9, 8)), phash_px(&resample(32, 32)), whash_px(&resample(s, s), s))
}

/// Average hash of a grey plane.
pub fn ahash(luma: &[u8], w: usize, h: usize) -> u64 {
    ahash_px(&resize(luma, w, h, 1, 8, 8, Filter::Lanczos))
}

fn ahash_px(px: &[u8]) -> u64 {
    let sum: u32 = px.iter().map(|&p| u32::from(p)).sum();
    // pixel > sum/64  <=>  64*pixel > sum (exact; numpy's mean of 64 uint8 is exact too)
    pack(px.iter().map(|&p| 64 * u32::from(p) > sum))
}

/// Difference hash (horizontal) of a grey plane.
pub fn dhash(luma: &[u8], w: usize, h: usize) -> u64 {
    dhash_px(&resize(luma, w, h, 1, 9, 8, Filter::Lanczos))
}

fn dhash_px(px: &[u8]) -> u64 {
    pack(px.chunks_exact(9).flat_map(|r| r.windows(2).map(|p| p[1] > p[0]).collect::<Vec<_>>()))
}

/// `cos(π k (2n+1) / 64)` for k < 8, n < 32: the DCT-II basis pHash needs.
fn dct_basis() -> [[f64; 32]; 8] {
    let mut t = [[0f64; 32]; 8];
    for (k, row) in t.iter_mut().enumerate() {
        for (n, v) in row.iter_mut().enumerate() {
            *v = (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / 64.0).cos();
        }
    }
    t
}

fn median64(v: &[f64; 64]) -> f64 {
    let mut s = *v;
    s.sort_by(f64::total_cmp);
    (s[31] + s[32]) / 2.0
}

/// Perceptual (DCT) hash of a grey plane.
pub fn phash(luma: &[u8], w: usize, h: usize) -> u64 {
    phash_px(&resize(luma, w, h, 1, 32, 32, Filter::Lanczos))
}

fn phash_px(px: &[u8]) -> u64 {
    let basis = dct_basis();
    // Axis 0 (down columns) for the 8 low rows of coefficients: a[k][j].
    let mut a = [[0f64; 32]; 8];
    for (k, ak) in a.iter_mut().enumerate() {
        for (n, row) in px.chunks_exact(32).enumerate() {
            let c = 2.0 * basis[k][n];
            for (j, &p) in row.iter().enumerate() {
                ak[j] += c * f64::from(p);
            }
        }
    }
    // Axis 1 (along rows) for the 8 low columns.
    let mut d = [0f64; 64];
    for k in 0..8 {
        for l in 0..8 {
            d[k * 8 + l] = a[k].iter().zip(&basis[l]).map(|(x, c)| 2.0 * x * c).sum();
        }
    }
    let med = median64(&d);
    pack(d.iter().map(|&v| v > med))
}

/// Side `imagehash.whash` resizes to: the largest power of two ≤ the shorter side, at least 8.
pub fn whash_scale(w: usize, h: usize) -> usize {
    let m = w.min(h).max(1);
    (1usize << (usize::BITS - 1 - m.leading_zeros())).max(8)
}

/// Wavelet (Haar) hash of a grey plane, resized to `scale`×`scale` (a power of two ≥ 8;
/// [`whash_scale`] reproduces imagehash's default).
pub fn whash(luma: &[u8], w: usize, h: usize, scale: usize) -> u64 {
    assert!(scale >= 8 && scale.is_power_of_two(), "whash scale must be a power of two >= 8");
    whash_px(&resize(luma, w, h, 1, scale, scale, Filter::Lanczos), scale)
}

fn whash_px(px: &[u8], scale: usize) -> u64 {
    let b = scale / 8;
    let mut sums = [0i64; 64];
    for (y, row) in px.chunks_exact(scale).enumerate() {
        let acc = &mut sums[(y / b) * 8..(y / b) * 8 + 8];
        for (a, blk) in acc.iter_mut().zip(row.chunks_exact(b)) {
            *a += blk.iter().map(|&p| i64::from(p)).sum::<i64>();
        }
    }
    // Integer sums below 2^53 convert to f64 exactly: same bits as comparing the integers.
    whash_from_block_sums(&sums.map(|v| v as f64))
}

/// wHash bits from the 8×8 block sums of the `whash_scale` resize (see the module notes: the
/// Haar route reduces to comparing block sums with their median).
pub fn whash_from_block_sums(sums: &[f64]) -> u64 {
    assert_eq!(sums.len(), 64, "whash needs 8x8 block sums");
    let mut s = sums.to_vec();
    s.sort_by(f64::total_cmp);
    let twice_med = s[31] + s[32];
    pack(sums.iter().map(|&v| 2.0 * v > twice_med))
}

/// aHash, dHash and pHash bits from LANCZOS resamples supplied by `resample(out_w, out_h)`.
pub fn adp_hashes(mut resample: impl FnMut(usize, usize) -> Vec<u8>) -> (u64, u64, u64) {
    (ahash_px(&resample(8, 8)), dhash_px(&resample(9, 8)), phash_px(&resample(32, 32)))
}

/// Number of differing bits.
///
/// ```
/// assert_eq!(_native::image::hash::hamming(0b1011, 0b0001), 2);
/// ```
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Smooth photo-like scene: a few Gaussian blobs of different brightness, in relative units.
    pub(crate) fn scene(w: usize, h: usize) -> Vec<u8> {
        let blobs = [(0.2, 0.3, 0.15, 90.0), (0.7, 0.6, 0.2, -80.0), (0.5, 0.15, 0.1, 60.0), (0.3, 0.8, 0.12, -50.0), (0.85, 0.2, 0.1, 70.0)];
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64 / w as f64, (i / w) as f64 / h as f64);
                let v: f64 = blobs.iter().map(|(cx, cy, s, a)| a * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * s * s)).exp()).sum();
                (128.0 + v).clamp(0.0, 255.0) as u8
            })
            .collect()
    }

    #[test]
    fn hashes_are_stable_under_mild_rescale() {
        let (w, h) = (400, 300);
        let big = scene(w, h);
        let small = resize(&big, w, h, 1, 200, 150, Filter::Lanczos);
        for f in [ahash, dhash, phash] {
            let d = hamming(f(&big, w, h), f(&small, 200, 150));
            assert!(d <= 4, "{d}");
        }
        assert!(hamming(whash(&big, w, h, 256), whash(&small, 200, 150, 128)) <= 4);
    }

    #[test]
    fn different_images_differ_and_flat_images_hash_to_zero() {
        let a = scene(300, 300);
        let b: Vec<u8> = a.iter().rev().copied().collect();
        assert!(hamming(phash(&a, 300, 300), phash(&b, 300, 300)) > 10);
        let flat = vec![99u8; 100 * 80];
        assert_eq!(ahash(&flat, 100, 80), 0);
        assert_eq!(dhash(&flat, 100, 80), 0);
        assert_eq!(whash(&flat, 100, 80, 64), 0);
    }

    #[test]
    fn bit_order_is_row_major_msb_first() {
        // Left half dark, right half bright: aHash rows are 00001111.
        let img: Vec<u8> = (0..64 * 64).map(|i| if i % 64 < 32 { 10 } else { 240 }).collect();
        assert_eq!(ahash(&img, 64, 64), 0x0f0f_0f0f_0f0f_0f0f);
        assert_eq!(whash_scale(1000, 700), 512);
        assert_eq!(whash_scale(5, 5), 8);
    }
}
