//! Pillow-compatible separable resampling of 8-bit planes.
//!
//! Reproduces the arithmetic of Pillow's `Image.resize` for 8-bit modes (what `imagehash` calls
//! with `LANCZOS`): filter weights in `f64`, normalised per output pixel, converted to fixed point
//! with 22 fractional bits (rounding half away from zero), accumulated in `i32` from a half-unit
//! bias, shifted and clamped to `0..=255`. The horizontal pass runs first and only over the
//! source rows the vertical pass reads, and its 8-bit output feeds the vertical pass, exactly as
//! Pillow does, so the same input yields the same bytes.
//!
//! Behaviour was written from the published algorithm description, not copied.

/// Fixed-point fraction bits of the weights: 32 bits − 8 bits of pixel − 2 bits of headroom.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Reconstruction filters (Pillow's names and supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// Triangle filter, support 1 (Pillow `BILINEAR`).
    Bilinear,
    /// Lanczos-3 windowed sinc, support 3 (Pillow `LANCZOS`, imagehash's `ANTIALIAS`).
    Lanczos,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

/// Per-output-pixel source window and fixed-point weights along one axis.
struct Coeffs {
    ksize: usize,
    /// (first source index, number of taps) per output pixel.
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

thread_local! {
    /// Filter coefficients by (input size, output size, filter): the hashes resample every
    /// image to the same few sizes, and the windowed-sinc weights cost more than the
    /// arithmetic they feed on small planes.
    static COEFFS: std::cell::RefCell<std::collections::HashMap<(usize, usize, Filter), std::rc::Rc<Coeffs>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Entries kept before the cache is cleared (sizes seen in a batch repeat; memory stays small).
const COEFFS_CACHE_MAX: usize = 512;

fn coeffs(in_size: usize, out_size: usize, filter: Filter) -> std::rc::Rc<Coeffs> {
    COEFFS.with(|c| {
        let mut m = c.borrow_mut();
        if let Some(v) = m.get(&(in_size, out_size, filter)) {
            return v.clone();
        }
        if m.len() >= COEFFS_CACHE_MAX {
            m.clear();
        }
        let v = std::rc::Rc::new(precompute(in_size, out_size, filter));
        m.insert((in_size, out_size, filter), v.clone());
        v
    })
}

fn precompute(in_size: usize, out_size: usize, filter: Filter) -> Coeffs {
    // Pillow passes the box edges as f32; sizes below 2^24 convert exactly.
    let scale = (in_size as f32) as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    let ss = 1.0 / filterscale;
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        // C casts truncate toward zero; negative starts are clamped to 0 either way.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let n = xmax.saturating_sub(xmin);
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(n) {
            let w = filter.eval(((x + xmin) as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        let row = &mut weights[xx * ksize..(xx + 1) * ksize];
        for x in 0..n {
            let v = if ww != 0.0 { k[x] / ww } else { k[x] };
            let f = v * f64::from(1u32 << PRECISION_BITS);
            row[x] = if v < 0.0 { (f - 0.5) as i32 } else { (f + 0.5) as i32 };
        }
        bounds.push((xmin, n));
    }
    Coeffs { ksize, bounds, weights }
}

/// Dot product of 8-bit pixels with fixed-point weights, from the half-unit bias.
#[inline(always)]
fn dot_generic(px: &[u8], k: &[i32]) -> i32 {
    let mut acc = 1i32 << (PRECISION_BITS - 1);
    for (p, w) in px.iter().zip(k) {
        acc += i32::from(*p) * w;
    }
    acc
}

/// `acc[i] += row[i] * w` over a row (the vertical pass).
#[inline(always)]
fn axpy_generic(acc: &mut [i32], row: &[u8], w: i32) {
    for (a, p) in acc.iter_mut().zip(row) {
        *a += i32::from(*p) * w;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(px: &[u8], k: &[i32]) -> i32 {
    dot_generic(px, k)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn axpy_avx2(acc: &mut [i32], row: &[u8], w: i32) {
    axpy_generic(acc, row, w)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline]
fn dot(avx2: bool, px: &[u8], k: &[i32]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: only called after runtime detection of AVX2.
        return unsafe { dot_avx2(px, k) };
    }
    let _ = avx2;
    dot_generic(px, k)
}

#[inline]
fn axpy(avx2: bool, acc: &mut [i32], row: &[u8], w: i32) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: only called after runtime detection of AVX2.
        return unsafe { axpy_avx2(acc, row, w) };
    }
    let _ = avx2;
    axpy_generic(acc, row, w)
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resize an interleaved 8-bit image of `channels` bands (1..=4) like Pillow's `resize`.
///
/// `src` holds `width * height * channels` bytes, row-major. Returns the resized buffer.
///
/// ```
/// use _native::image::resample::{resize, Filter};
/// let src = vec![10u8; 40 * 30];
/// let out = resize(&src, 40, 30, 1, 8, 8, Filter::Lanczos);
/// assert_eq!(out, vec![10u8; 64]); // a flat image stays flat
/// ```
pub fn resize(src: &[u8], width: usize, height: usize, channels: usize, out_w: usize, out_h: usize, filter: Filter) -> Vec<u8> {
    assert_eq!(src.len(), width * height * channels, "resize: buffer does not match dimensions");
    assert!(out_w > 0 && out_h > 0 && width > 0 && height > 0, "resize: empty image");
    let avx2 = has_avx2();
    let need_h = out_w != width;
    let need_v = out_h != height;
    let vert = coeffs(height, out_h, filter);
    let y_first = vert.bounds[0].0;
    let (last_min, last_n) = vert.bounds[out_h - 1];
    let y_last = last_min + last_n;

    // Horizontal pass over only the rows the vertical pass reads.
    let (tmp, tmp_w, row_offset): (std::borrow::Cow<'_, [u8]>, usize, usize) = if need_h {
        let hor = coeffs(width, out_w, filter);
        let rows = y_last - y_first;
        let mut out = vec![0u8; rows * out_w * channels];
        let half = 1i32 << (PRECISION_BITS - 1);
        for r in 0..rows {
            let src_row = &src[(r + y_first) * width * channels..(r + y_first + 1) * width * channels];
            let dst_row = &mut out[r * out_w * channels..(r + 1) * out_w * channels];
            for (xx, &(xmin, n)) in hor.bounds.iter().enumerate() {
                let k = &hor.weights[xx * hor.ksize..xx * hor.ksize + n];
                if channels == 1 && hor.ksize <= 8 {
                    // Short kernels (bilinear): a call into the vector dot costs more than the taps.
                    dst_row[xx] = clip8(dot_generic(&src_row[xmin..xmin + n], k));
                } else if channels == 1 {
                    dst_row[xx] = clip8(dot(avx2, &src_row[xmin..xmin + n], k));
                } else {
                    for c in 0..channels {
                        let mut acc = half;
                        for (x, w) in k.iter().enumerate() {
                            acc += i32::from(src_row[(xmin + x) * channels + c]) * w;
                        }
                        dst_row[xx * channels + c] = clip8(acc);
                    }
                }
            }
        }
        (std::borrow::Cow::Owned(out), out_w, y_first)
    } else {
        (std::borrow::Cow::Borrowed(src), width, 0)
    };
    if !need_v {
        // Rows y_first..y_last span the whole image when the height is unchanged.
        return tmp.into_owned();
    }
    let stride = tmp_w * channels;
    let mut out = vec![0u8; out_h * stride];
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut acc = vec![0i32; stride];
    for (yy, &(ymin, n)) in vert.bounds.iter().enumerate() {
        let k = &vert.weights[yy * vert.ksize..yy * vert.ksize + n];
        acc.iter_mut().for_each(|a| *a = half);
        for (y, w) in k.iter().enumerate() {
            let row = &tmp[(ymin + y - row_offset) * stride..(ymin + y - row_offset + 1) * stride];
            axpy(avx2, &mut acc, row, *w);
        }
        for (o, a) in out[yy * stride..(yy + 1) * stride].iter_mut().zip(&acc) {
            *o = clip8(*a);
        }
    }
    out
}

/// A grey plane held as `f32` for repeated resampling to small sizes (fast-mode hashes).
///
/// Same filters and windows as [`resize`], but weights and sums in `f32` and no rounding
/// between the passes: several times faster (8-wide f32 multiply-adds instead of widened integer
/// multiplies), and within one grey level of Pillow's fixed-point result.
pub struct FloatPlane {
    data: Vec<f32>,
    width: usize,
    height: usize,
}

impl FloatPlane {
    pub fn new(src: &[u8], width: usize, height: usize) -> Self {
        assert_eq!(src.len(), width * height, "FloatPlane: buffer does not match dimensions");
        Self { data: src.iter().map(|&v| f32::from(v)).collect(), width, height }
    }

    /// Resample to `out_w`×`out_h` 8-bit pixels (rounded, clamped).
    pub fn resize(&self, out_w: usize, out_h: usize, filter: Filter) -> Vec<u8> {
        assert!(out_w > 0 && out_h > 0 && self.width > 0 && self.height > 0, "resize: empty image");
        let avx2 = has_avx2();
        let to_f32 = |c: &Coeffs| -> Vec<f32> { c.weights.iter().map(|&w| w as f32 / (1u32 << PRECISION_BITS) as f32).collect() };
        let (hor, vert) = (coeffs(self.width, out_w, filter), coeffs(self.height, out_h, filter));
        let (hw, vw) = (to_f32(&hor), to_f32(&vert));
        let y_first = vert.bounds[0].0;
        let (last_min, last_n) = vert.bounds[out_h - 1];
        let rows = last_min + last_n - y_first;
        let mut tmp = vec![0f32; rows * out_w];
        for r in 0..rows {
            let src = &self.data[(r + y_first) * self.width..(r + y_first + 1) * self.width];
            let dst = &mut tmp[r * out_w..(r + 1) * out_w];
            for (xx, &(xmin, n)) in hor.bounds.iter().enumerate() {
                let (px, k) = (&src[xmin..xmin + n], &hw[xx * hor.ksize..xx * hor.ksize + n]);
                // Short kernels (bilinear): a call into the vector dot costs more than the taps.
                dst[xx] = if hor.ksize <= 8 { px.iter().zip(k).map(|(a, b)| a * b).sum() } else { dot_f32(avx2, px, k) };
            }
        }
        let mut out = vec![0u8; out_w * out_h];
        let mut acc = vec![0f32; out_w];
        for (yy, &(ymin, n)) in vert.bounds.iter().enumerate() {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for (y, &w) in vw[yy * vert.ksize..yy * vert.ksize + n].iter().enumerate() {
                let row = &tmp[(ymin + y - y_first) * out_w..(ymin + y - y_first + 1) * out_w];
                acc.iter_mut().zip(row).for_each(|(a, &p)| *a += w * p);
            }
            for (o, a) in out[yy * out_w..(yy + 1) * out_w].iter_mut().zip(&acc) {
                // Round half up (the cast truncates a value already clamped to >= 0.5).
                *o = (a + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        out
    }

    /// Sums over an `n`×`n` grid of equal blocks of this plane resized to `side`×`side`
    /// (row-major), without materialising the resized image: each block sum is the plane
    /// weighted by the block's summed row and column filter weights (the filter is separable
    /// and linear), so one pass over the plane does the work of a full resize.
    pub fn block_sums(&self, side: usize, n: usize, filter: Filter) -> Vec<f64> {
        assert!(n > 0 && side.is_multiple_of(n), "block_sums: side must be a multiple of n");
        let avx2 = has_avx2();
        // Summed weights of each block along one axis: (first source index, weights).
        let block_weights = |in_size: usize| -> Vec<(usize, Vec<f32>)> {
            let c = coeffs(in_size, side, filter);
            let per = side / n;
            (0..n)
                .map(|b| {
                    let outs = b * per..(b + 1) * per;
                    let lo = outs.clone().map(|o| c.bounds[o].0).min().unwrap_or(0);
                    let hi = outs.clone().map(|o| c.bounds[o].0 + c.bounds[o].1).max().unwrap_or(0);
                    let mut w = vec![0f32; hi - lo];
                    for o in outs {
                        let (start, taps) = c.bounds[o];
                        for (i, &k) in c.weights[o * c.ksize..o * c.ksize + taps].iter().enumerate() {
                            w[start + i - lo] += k as f32 / (1u32 << PRECISION_BITS) as f32;
                        }
                    }
                    (lo, w)
                })
                .collect()
        };
        let (cols, rows) = (block_weights(self.width), block_weights(self.height));
        let mut sums = vec![0f64; n * n];
        let mut per_col = vec![0f32; n];
        for y in 0..self.height {
            let row = &self.data[y * self.width..(y + 1) * self.width];
            let mut computed = false;
            for (a, (lo, w)) in rows.iter().enumerate() {
                if y < *lo || y >= lo + w.len() {
                    continue;
                }
                if !computed {
                    for (pc, (clo, cw)) in per_col.iter_mut().zip(&cols) {
                        *pc = dot_f32(avx2, &row[*clo..clo + cw.len()], cw);
                    }
                    computed = true;
                }
                let wy = f64::from(w[y - lo]);
                for (s, &pc) in sums[a * n..(a + 1) * n].iter_mut().zip(&per_col) {
                    *s += wy * f64::from(pc);
                }
            }
        }
        sums
    }
}

#[inline(always)]
fn dot_f32_generic(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent partial sums: the compiler keeps them in one vector register.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_f32_generic(a, b)
}

#[inline]
fn dot_f32(avx2: bool, a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: only called after runtime detection of AVX2.
        return unsafe { dot_f32_avx2(a, b) };
    }
    let _ = avx2;
    dot_f32_generic(a, b)
}

/// Average non-overlapping `k`×`k` blocks of an interleaved 8-bit image (the ragged right and
/// bottom edges are dropped); a cheap pre-reduction before a short-support filter.
///
/// Rows are summed into a `u32` accumulator first (a contiguous, vectorisable add), then each
/// group of `k` pixels per channel is folded once per output row.
pub fn box_reduce(src: &[u8], width: usize, height: usize, channels: usize, k: usize) -> (Vec<u8>, usize, usize) {
    if k <= 1 {
        return (src.to_vec(), width, height);
    }
    let (ow, oh) = (width / k, height / k);
    let span = ow * k * channels;
    let mut out = vec![0u8; ow * oh * channels];
    let mut acc = vec![0u32; span];
    let div = (k * k) as u32;
    for oy in 0..oh {
        acc.iter_mut().for_each(|a| *a = 0);
        for y in oy * k..(oy + 1) * k {
            let row = &src[y * width * channels..y * width * channels + span];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += u32::from(v);
            }
        }
        let dst = &mut out[oy * ow * channels..(oy + 1) * ow * channels];
        let fold = |sum: u32| ((sum + div / 2) / div) as u8;
        match channels {
            1 => {
                for (o, blk) in dst.iter_mut().zip(acc.chunks_exact(k)) {
                    *o = fold(blk.iter().sum());
                }
            }
            3 => {
                for (px, blk) in dst.chunks_exact_mut(3).zip(acc.chunks_exact(3 * k)) {
                    let mut s = [0u32; 3];
                    for p in blk.chunks_exact(3) {
                        s[0] += p[0];
                        s[1] += p[1];
                        s[2] += p[2];
                    }
                    px.iter_mut().zip(s).for_each(|(o, v)| *o = fold(v));
                }
            }
            _ => {
                for (px, blk) in dst.chunks_exact_mut(channels).zip(acc.chunks_exact(channels * k)) {
                    for (c, o) in px.iter_mut().enumerate() {
                        *o = fold(blk.iter().skip(c).step_by(channels).sum());
                    }
                }
            }
        }
    }
    (out, ow, oh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(1000, 32), (37, 9), (8, 8), (5, 17)] {
            let c = precompute(i, o, Filter::Lanczos);
            for xx in 0..o {
                let s: i64 = c.weights[xx * c.ksize..(xx + 1) * c.ksize].iter().map(|&w| i64::from(w)).sum();
                assert!((s - (1 << PRECISION_BITS)).abs() <= c.ksize as i64, "{i}->{o} col {xx}: {s}");
            }
        }
    }

    #[test]
    fn identity_size_is_a_copy_and_gradients_stay_monotone() {
        let src: Vec<u8> = (0..64u32 * 48).map(|i| (i % 64 * 4) as u8).collect();
        assert_eq!(resize(&src, 64, 48, 1, 64, 48, Filter::Lanczos), src);
        let out = resize(&src, 64, 48, 1, 16, 4, Filter::Bilinear);
        for row in out.chunks(16) {
            assert!(row.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        }
    }

    #[test]
    fn float_plane_stays_within_one_level_of_pillow_arithmetic() {
        let src = crate::image::hash::tests::scene(301, 207);
        let plane = FloatPlane::new(&src, 301, 207);
        for (ow, oh, f) in [(8, 8, Filter::Lanczos), (9, 8, Filter::Lanczos), (32, 32, Filter::Lanczos), (128, 128, Filter::Lanczos), (150, 100, Filter::Bilinear)] {
            let exact = resize(&src, 301, 207, 1, ow, oh, f);
            let fast = plane.resize(ow, oh, f);
            assert!(exact.iter().zip(&fast).all(|(a, b)| a.abs_diff(*b) <= 1), "{ow}x{oh} {f:?}");
        }
        // Block sums of the virtual 128x128 resize equal summing the materialised one.
        let full = plane.resize(128, 128, Filter::Lanczos);
        let sums = plane.block_sums(128, 8, Filter::Lanczos);
        for (i, s) in sums.iter().enumerate() {
            let (by, bx) = (i / 8, i % 8);
            let direct: f64 = (0..16).flat_map(|y| (0..16).map(move |x| (by * 16 + y) * 128 + bx * 16 + x)).map(|j| f64::from(full[j])).sum();
            assert!((s - direct).abs() <= 256.0 * 0.5 + 1.0, "block {i}: {s} vs {direct}");
        }
    }

    #[test]
    fn box_reduce_averages_blocks() {
        let src = [0u8, 2, 10, 20, 4, 6, 30, 40, 9, 9, 9, 9];
        assert_eq!(box_reduce(&src, 4, 3, 1, 2), (vec![3, 25], 2, 1));
    }

    #[test]
    fn channels_resize_independently() {
        let rgb: Vec<u8> = (0..30 * 20).flat_map(|i| [(i % 30 * 8) as u8, 100, 255 - (i % 30 * 8) as u8]).collect();
        let r: Vec<u8> = rgb.iter().step_by(3).copied().collect();
        let out = resize(&rgb, 30, 20, 3, 7, 5, Filter::Lanczos);
        let out_r = resize(&r, 30, 20, 1, 7, 5, Filter::Lanczos);
        assert_eq!(out.iter().step_by(3).copied().collect::<Vec<_>>(), out_r);
        assert!(out.iter().skip(1).step_by(3).all(|&g| g == 100));
    }
}
