//! Degradation signals on an 8-bit working image: blur, noise, colour cast, colourfulness,
//! exposure and near-monochrome.

/// Variance of the 4-neighbour Laplacian of a grey plane (interior pixels), grey levels².
///
/// The classic focus measure (Pech-Pacheco et al., ICPR 2000): sharp edges give large Laplacian
/// responses, blur removes them. Only comparable at a fixed working size.
///
/// ```
/// use _native::image::degrade::laplacian_var;
/// assert_eq!(laplacian_var(&[9u8; 25], 5, 5), 0.0);
/// ```
pub fn laplacian_var(luma: &[u8], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let (mut s, mut s2) = (0i64, 0i64);
    for y in 1..h - 1 {
        let (up, row, dn) = (&luma[(y - 1) * w..y * w], &luma[y * w..(y + 1) * w], &luma[(y + 1) * w..(y + 2) * w]);
        for x in 1..w - 1 {
            let l = i64::from(up[x]) + i64::from(dn[x]) + i64::from(row[x - 1]) + i64::from(row[x + 1]) - 4 * i64::from(row[x]);
            s += l;
            s2 += l * l;
        }
    }
    let n = ((w - 2) * (h - 2)) as f64;
    let mean = s as f64 / n;
    (s2 as f64 / n - mean * mean).max(0.0)
}

/// Immerkær's fast noise estimate (CVIU 1996): σ = √(π/2) / (6 (W−2)(H−2)) · Σ |I ∗ N| with
/// N = [[1,−2,1],[−2,4,−2],[1,−2,1]], grey levels.
///
/// ```
/// use _native::image::degrade::noise_sigma;
/// let ramp: Vec<u8> = (0..100).map(|i| (i % 10 * 10 + i / 10) as u8).collect();
/// assert_eq!(noise_sigma(&ramp, 10, 10), 0.0); // planar signal has no noise
/// ```
pub fn noise_sigma(luma: &[u8], w: usize, h: usize) -> f64 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let mut s = 0i64;
    for y in 1..h - 1 {
        let (up, row, dn) = (&luma[(y - 1) * w..y * w], &luma[y * w..(y + 1) * w], &luma[(y + 1) * w..(y + 2) * w]);
        for x in 1..w - 1 {
            let p = |r: &[u8], i: usize| i64::from(r[i]);
            let v = p(up, x - 1) - 2 * p(up, x) + p(up, x + 1) - 2 * p(row, x - 1) + 4 * p(row, x) - 2 * p(row, x + 1)
                + p(dn, x - 1)
                - 2 * p(dn, x)
                + p(dn, x + 1);
            s += v.abs();
        }
    }
    (std::f64::consts::FRAC_PI_2).sqrt() * s as f64 / (6.0 * ((w - 2) * (h - 2)) as f64)
}

/// Colour statistics of an interleaved RGB (or grey) working image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorStats {
    /// Hasler & Süsstrunk (2003) colourfulness M = σ_rgyb + 0.3 μ_rgyb (rg = R−G, yb = (R+G)/2 − B).
    pub colorfulness: f64,
    /// Mean chroma offset √(mean(Cb−128)² + mean(Cr−128)²) in 8-bit BT.601 chroma units: 0 for
    /// a neutral image, large for an overall tint.
    pub color_cast: f64,
    /// Standard deviation of chroma √(var Cb + var Cr): near 0 for grey, sepia or duotone images.
    pub chroma_std: f64,
}

/// Colourfulness, colour cast and chroma spread of an RGB image (zeros for grey).
pub fn color_stats(rgb: &[u8], channels: usize) -> ColorStats {
    let n = (rgb.len() / channels.max(1)) as f64;
    if channels != 3 || n == 0.0 {
        return ColorStats { colorfulness: 0.0, color_cast: 0.0, chroma_std: 0.0 };
    }
    // Every statistic is a mean or variance of a linear combination of R, G, B, so the exact
    // channel means and covariance suffice: nine integer sums in one pass (products fit u16,
    // partial sums u32 per chunk), then closed forms in f64.
    let mut s1 = [0u64; 3];
    let mut s2 = [0u64; 6]; // RR GG BB RG RB GB
    for chunk in rgb.chunks(3 * 16_384) {
        let (mut a, mut q) = ([0u32; 3], [0u32; 6]);
        for p in chunk.chunks_exact(3) {
            let (r, g, b) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
            a[0] += r;
            a[1] += g;
            a[2] += b;
            q[0] += r * r;
            q[1] += g * g;
            q[2] += b * b;
            q[3] += r * g;
            q[4] += r * b;
            q[5] += g * b;
        }
        s1.iter_mut().zip(a).for_each(|(s, v)| *s += u64::from(v));
        s2.iter_mut().zip(q).for_each(|(s, v)| *s += u64::from(v));
    }
    let m: Vec<f64> = s1.iter().map(|&v| v as f64 / n).collect();
    let e = |i: usize| s2[i] as f64 / n;
    // Covariance matrix of (R, G, B).
    let c = [
        [e(0) - m[0] * m[0], e(3) - m[0] * m[1], e(4) - m[0] * m[2]],
        [e(3) - m[0] * m[1], e(1) - m[1] * m[1], e(5) - m[1] * m[2]],
        [e(4) - m[0] * m[2], e(5) - m[1] * m[2], e(2) - m[2] * m[2]],
    ];
    let mean = |w: [f64; 3]| w[0] * m[0] + w[1] * m[1] + w[2] * m[2];
    let var = |w: [f64; 3]| (0..3).map(|i| (0..3).map(|j| w[i] * w[j] * c[i][j]).sum::<f64>()).sum::<f64>().max(0.0);
    // Hasler–Süsstrunk opponent channels; BT.601 full-range chroma offsets from 128 (JFIF).
    const RG: [f64; 3] = [1.0, -1.0, 0.0];
    const YB: [f64; 3] = [0.5, 0.5, -1.0];
    const CB: [f64; 3] = [-0.168_736, -0.331_264, 0.5];
    const CR: [f64; 3] = [0.5, -0.418_688, -0.081_312];
    let (m_rg, m_yb) = (mean(RG), mean(YB));
    let colorfulness = (var(RG) + var(YB)).sqrt() + 0.3 * (m_rg * m_rg + m_yb * m_yb).sqrt();
    let (m_cb, m_cr) = (mean(CB), mean(CR));
    let var_c = var(CB) + var(CR);
    ColorStats { colorfulness, color_cast: (m_cb * m_cb + m_cr * m_cr).sqrt(), chroma_std: var_c.sqrt() }
}

/// Fractions of pixels at or above `hi` and at or below `lo` (over/under-exposure).
///
/// ```
/// use _native::image::degrade::exposure_fractions;
/// assert_eq!(exposure_fractions(&[0, 3, 128, 255], 250, 5), (0.25, 0.5));
/// ```
pub fn exposure_fractions(luma: &[u8], hi: u8, lo: u8) -> (f64, f64) {
    if luma.is_empty() {
        return (0.0, 0.0);
    }
    let over = luma.iter().filter(|&&v| v >= hi).count();
    let under = luma.iter().filter(|&&v| v <= lo).count();
    (over as f64 / luma.len() as f64, under as f64 / luma.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(w: usize, h: usize, period: usize) -> Vec<u8> {
        (0..w * h).map(|i| if (i % w / period + i / w / period) % 2 == 0 { 40 } else { 210 }).collect()
    }

    fn box_blur(src: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
        let mut out = vec![0u8; src.len()];
        for y in 0..h {
            for x in 0..w {
                let (mut s, mut n) = (0u32, 0u32);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        s += u32::from(src[yy * w + xx]);
                        n += 1;
                    }
                }
                out[y * w + x] = (s / n) as u8;
            }
        }
        out
    }

    #[test]
    fn blur_ladder_is_monotone() {
        let img = checker(64, 64, 5);
        let mut last = f64::INFINITY;
        for r in 0..4 {
            let v = laplacian_var(&box_blur(&img, 64, 64, r), 64, 64);
            assert!(v < last, "radius {r}: {v} >= {last}");
            last = v;
        }
    }

    #[test]
    fn noise_estimate_tracks_added_noise() {
        // Deterministic pseudo-noise with known spread on a smooth ramp.
        let mut state = 12345u32;
        let mut noisy = Vec::new();
        for i in 0..128 * 128 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let u = ((state >> 16) & 0x7fff) as f64 / 32768.0 - 0.5; // uniform, sd = 1/sqrt(12)
            noisy.push((100.0 + (i % 128) as f64 * 0.3 + u * 40.0).round() as u8);
        }
        let sd = 40.0 / 12f64.sqrt();
        let est = noise_sigma(&noisy, 128, 128);
        assert!((est - sd).abs() / sd < 0.25, "estimated {est}, true {sd}");
    }

    #[test]
    fn colour_stats_separate_grey_tinted_and_colourful() {
        let grey: Vec<u8> = (0..300).flat_map(|i| [i as u8, i as u8, i as u8]).collect();
        let s = color_stats(&grey, 3);
        assert!(s.colorfulness < 1e-9 && s.color_cast < 1e-6 && s.chroma_std < 1e-6);
        let sepia: Vec<u8> = (0..300).flat_map(|i| [(i % 200) as u8 + 40, (i % 200) as u8 + 20, (i % 200) as u8]).collect();
        let s = color_stats(&sepia, 3);
        assert!(s.color_cast > 10.0 && s.chroma_std < 1.0, "{s:?}");
        let vivid: Vec<u8> = (0..300).flat_map(|i| if i % 2 == 0 { [255, 0, 0] } else { [0, 0, 255] }).collect();
        assert!(color_stats(&vivid, 3).colorfulness > 100.0);
    }
}
