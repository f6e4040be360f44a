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
    // Integer sums: rg in [-255, 255], yb*2 in [-510, 510]; cb/cr scaled by 2^16.
    let (mut rg_s, mut rg_s2, mut yb_s, mut yb_s2) = (0i64, 0i64, 0i64, 0i64);
    let (mut cb_s, mut cb_s2, mut cr_s, mut cr_s2) = (0f64, 0f64, 0f64, 0f64);
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (i64::from(p[0]), i64::from(p[1]), i64::from(p[2]));
        let rg = r - g;
        let yb2 = r + g - 2 * b;
        rg_s += rg;
        rg_s2 += rg * rg;
        yb_s += yb2;
        yb_s2 += yb2 * yb2;
        // BT.601 full-range chroma offsets from 128 (JFIF): Cb = −0.168736 R − 0.331264 G + 0.5 B.
        let (rf, gf, bf) = (r as f64, g as f64, b as f64);
        let cb = -0.168_736 * rf - 0.331_264 * gf + 0.5 * bf;
        let cr = 0.5 * rf - 0.418_688 * gf - 0.081_312 * bf;
        cb_s += cb;
        cb_s2 += cb * cb;
        cr_s += cr;
        cr_s2 += cr * cr;
    }
    let m_rg = rg_s as f64 / n;
    let m_yb = yb_s as f64 / n / 2.0;
    let v_rg = (rg_s2 as f64 / n - m_rg * m_rg).max(0.0);
    let v_yb = (yb_s2 as f64 / n / 4.0 - m_yb * m_yb).max(0.0);
    let colorfulness = (v_rg + v_yb).sqrt() + 0.3 * (m_rg * m_rg + m_yb * m_yb).sqrt();
    let (m_cb, m_cr) = (cb_s / n, cr_s / n);
    let var_c = (cb_s2 / n - m_cb * m_cb).max(0.0) + (cr_s2 / n - m_cr * m_cr).max(0.0);
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
