//! The fused image-signal kernel: decode each image once, compute every requested signal.
//!
//! Work per image is bounded by what the requested groups need:
//! - always: header probe (format, mode, alpha, EXIF orientation, size guard) and aspect ratio;
//! - `quality`: JPEG quality from the DQT header, blocking on the full-resolution 8×8 grid
//!   (grey rows converted one at a time), entropy on the working image;
//! - `degradations`: blur, noise, exposure on the working grey image (shorter side
//!   `working_side_px`, never upsampled), colour statistics on the box-reduced RGB;
//! - `hashes`: aHash, dHash, pHash, wHash from the EXIF-oriented grey plane — in
//!   [`SignalMode::Fast`] the box-reduced working plane, in [`SignalMode::Exact`] full resolution.
//!
//! With no pixel group requested nothing is decoded. Apart from the decode and the blocking
//! rows, every signal reads a plane box-reduced to within 2× of the working size.
//! Each image runs under `catch_unwind` and a wall-clock budget: a bad image is an error string
//! in its row, never a panic across the FFI boundary.

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float32Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{DataType, Field, Fields};

use super::decode::{decode, luma_pil, luma_pil_into, orient, Budget, Decoded, Pixels};
use super::degrade::{color_stats, exposure_fractions, laplacian_var, noise_sigma};
use super::hash::{adp_hashes, all_hashes, whash_from_block_sums, whash_scale};
use super::meta::{probe, DecodeGuard};
use super::quality::{blocking, blocking_rows, entropy_bits, jpeg_quality};
use super::resample::{box_reduce, resize, Filter, FloatPlane};
use crate::error::{KernelError, Result};

/// Luma at or above this counts as over-exposed (clipped highlights).
pub const OVEREXPOSED_MIN_LUMA: u8 = 250;
/// Luma at or below this counts as under-exposed (crushed shadows).
pub const UNDEREXPOSED_MAX_LUMA: u8 = 5;

/// How the hashes are computed from the decoded pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalMode {
    /// From the box-reduced working plane, resampled in `f32`: within 2 bits of `imagehash`
    /// on the tested photos, several times cheaper.
    Fast,
    /// Pillow's fixed-point arithmetic on the full-resolution grey plane: bit-exact with
    /// `imagehash` on lossless input.
    Exact,
}

/// Parameters of [`img_signals`].
#[derive(Debug, Clone, Copy)]
pub struct SignalParams {
    pub guard: DecodeGuard,
    pub mode: SignalMode,
    /// Shorter side of the working image for degradation signals; the box-reduced plane the
    /// fast-mode hashes read keeps at least this shorter side.
    pub working_side_px: u32,
    /// Wall-clock budget per image, checked between phases.
    pub time_budget_ms: u64,
    /// Chroma standard deviation (8-bit units) below which an image is near-monochrome.
    pub near_mono_chroma_std: f32,
    pub quality: bool,
    pub degradations: bool,
    pub hashes: bool,
}

impl Default for SignalParams {
    fn default() -> Self {
        Self {
            guard: DecodeGuard::default(),
            mode: SignalMode::Fast,
            working_side_px: 256,
            time_budget_ms: 10_000,
            near_mono_chroma_std: 4.0,
            quality: true,
            degradations: true,
            hashes: true,
        }
    }
}

/// Signals of one image; `None` where not requested or not computable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageSignals {
    pub has_alpha: Option<bool>,
    pub aspect_ratio: Option<f32>,
    pub jpeg_quality: Option<i32>,
    pub entropy_bits: Option<f32>,
    pub blocking: Option<f32>,
    pub blur_laplacian_var: Option<f32>,
    pub noise_sigma: Option<f32>,
    pub color_cast: Option<f32>,
    pub colorfulness: Option<f32>,
    pub overexposed_frac: Option<f32>,
    pub underexposed_frac: Option<f32>,
    pub near_mono: Option<bool>,
    pub phash: Option<i64>,
    pub dhash: Option<i64>,
    pub ahash: Option<i64>,
    pub whash: Option<i64>,
}

fn needs_pixels(p: &SignalParams) -> bool {
    p.quality || p.degradations || p.hashes
}

/// All signals of one encoded image. `Err` carries the message for the row; partial signals
/// (header extras) are returned alongside an error when decoding fails after the header.
pub fn signals_one(bytes: &[u8], p: &SignalParams) -> (ImageSignals, Option<String>) {
    let mut s = ImageSignals::default();
    let budget = Budget::start(p.time_budget_ms);
    let (meta, guard_msg) = match probe(bytes, p.guard) {
        Ok(x) => x,
        Err(e) => return (s, Some(e)),
    };
    s.has_alpha = Some(meta.mode.contains('A'));
    if meta.width > 0 && meta.height > 0 {
        let (a, b) = (meta.width.max(meta.height), meta.width.min(meta.height));
        s.aspect_ratio = Some((f64::from(a) / f64::from(b)) as f32);
    }
    if p.quality {
        s.jpeg_quality = jpeg_quality(bytes).map(i32::from);
    }
    if let Some(msg) = guard_msg {
        return (s, Some(msg));
    }
    if !needs_pixels(p) {
        return (s, None);
    }
    let mut d = match decode(bytes, p.guard) {
        Ok(d) => d,
        Err(e) => return (s, Some(e)),
    };
    // The header probe is the authority for orientation (same parser as img_meta).
    d.exif_orientation = meta.exif_orientation;
    d.has_alpha |= meta.mode.contains('A');
    let err = budget.check("decode").and_then(|_| pixel_signals(&d, p, &budget, &mut s)).err();
    (s, err)
}

/// Signals computed from decoded pixels (shared by the encoded and raw-pixel entry points).
pub fn pixel_signals(d: &Decoded, p: &SignalParams, budget: &Budget, s: &mut ImageSignals) -> std::result::Result<(), String> {
    s.has_alpha = Some(d.has_alpha);
    let (w, h, ch) = (d.width, d.height, d.pixels.channels());
    let data = d.pixels.data();
    let short = w.min(h);
    let target = (p.working_side_px as usize).max(3);
    // Integer box pre-reduction to within 2x of the working size. Everything but the JPEG
    // blocking measure and exact-mode hashes works on this reduced plane.
    let k = (short / target).max(1);
    let exact_hashes = p.hashes && p.mode == SignalMode::Exact;
    // Full-resolution grey plane, only where a signal reads one.
    let full_luma: Option<Cow<'_, [u8]>> = if ch == 1 {
        Some(Cow::Borrowed(data))
    } else if k == 1 || exact_hashes {
        Some(Cow::Owned(luma_pil(data)))
    } else {
        None
    };
    if p.quality {
        s.blocking = match &full_luma {
            Some(l) => blocking(l, w, h, 8),
            // Convert one row at a time: no full-resolution grey plane is kept.
            None => blocking_rows(w, h, 8, |y, row| luma_pil_into(&data[y * w * 3..(y + 1) * w * 3], row)),
        }
        .map(|v| v as f32);
    }
    let (reduced, rw, rh) = box_reduce_cow(data, w, h, ch, k);
    // Borrowed where the plane already exists (a clone of an owned Cow would copy it).
    let reduced_luma: Cow<'_, [u8]> = match (&full_luma, ch) {
        (_, 1) => Cow::Borrowed(&reduced),
        (Some(l), _) if k == 1 => Cow::Borrowed(l),
        _ => Cow::Owned(luma_pil(&reduced)),
    };
    // The reduced grey plane, EXIF-oriented (hashes look at the displayed image; the working
    // statistics are invariant under turns and flips: symmetric kernels, histograms, means).
    let (ol, ow, oh) = orient_cow(reduced_luma, rw, rh, d.exif_orientation);
    let plane_cell = std::cell::OnceCell::new();
    let plane = || plane_cell.get_or_init(|| FloatPlane::new(&ol, ow, oh));
    if p.hashes {
        // Fast: from the reduced plane in f32 (the hashes look at 8..32 px; within 2 bits of
        // imagehash on the tested photos). Exact: Pillow's arithmetic at full resolution.
        let (a, dh, ph, wh) = if exact_hashes {
            let l = full_luma.as_deref().expect("exact hashes read the full-resolution plane");
            let (l, lw, lh) = orient_cow(Cow::Borrowed(l), w, h, d.exif_orientation);
            all_hashes(lw, lh, |ow, oh| resize(&l, lw, lh, 1, ow, oh, Filter::Lanczos))
        } else {
            let (a, dh, ph) = adp_hashes(|w, h| plane().resize(w, h, Filter::Lanczos));
            (a, dh, ph, whash_from_block_sums(&plane().block_sums(whash_scale(ow, oh), 8, Filter::Lanczos)))
        };
        (s.ahash, s.dhash, s.phash, s.whash) = (Some(a as i64), Some(dh as i64), Some(ph as i64), Some(wh as i64));
        budget.check("hashes")?;
    }
    if p.quality || p.degradations {
        // Working image: shorter side = working_side_px (never upsampled), bilinear (Pillow's
        // weights, f32) after the box pre-reduction.
        // Full size, oriented (orientations 5..=8 turn the image by 90 degrees).
        let (fw, fh) = if (5..=8).contains(&d.exif_orientation) { (h, w) } else { (w, h) };
        let (ww, wh) = if short > target {
            let f = target as f64 / short as f64;
            (((fw as f64 * f).round() as usize).max(1), ((fh as f64 * f).round() as usize).max(1))
        } else {
            (ow, oh)
        };
        let work_luma: Cow<'_, [u8]> = if (ow, oh) == (ww, wh) { Cow::Borrowed(&ol) } else { Cow::Owned(plane().resize(ww, wh, Filter::Bilinear)) };
        if p.quality {
            s.entropy_bits = Some(entropy_bits(&work_luma) as f32);
        }
        if p.degradations {
            s.blur_laplacian_var = Some(laplacian_var(&work_luma, ww, wh) as f32);
            s.noise_sigma = Some(noise_sigma(&work_luma, ww, wh) as f32);
            // Colour statistics are means and variances: taken on the box-reduced RGB (a
            // resampling filter adds nothing to a mean).
            let cs = if ch == 3 { color_stats(&reduced, 3) } else { color_stats(&work_luma, 1) };
            s.color_cast = Some(cs.color_cast as f32);
            s.colorfulness = Some(cs.colorfulness as f32);
            s.near_mono = Some(cs.chroma_std < f64::from(p.near_mono_chroma_std));
            let (over, under) = exposure_fractions(&work_luma, OVEREXPOSED_MIN_LUMA, UNDEREXPOSED_MAX_LUMA);
            s.overexposed_frac = Some(over as f32);
            s.underexposed_frac = Some(under as f32);
        }
        budget.check("signals")?;
    }
    Ok(())
}

type Plane<'a> = (Cow<'a, [u8]>, usize, usize);

/// [`box_reduce`] that borrows instead of copying when there is nothing to reduce.
fn box_reduce_cow(src: &[u8], w: usize, h: usize, c: usize, k: usize) -> Plane<'_> {
    if k <= 1 {
        (Cow::Borrowed(src), w, h)
    } else {
        let (v, rw, rh) = box_reduce(src, w, h, c, k);
        (Cow::Owned(v), rw, rh)
    }
}

/// [`orient`] a grey plane, borrowing when the orientation is the identity.
fn orient_cow(src: Cow<'_, [u8]>, w: usize, h: usize, o: u8) -> Plane<'_> {
    if (2..=8).contains(&o) {
        let (v, ow, oh) = orient(&src, w, h, 1, o);
        (Cow::Owned(v), ow, oh)
    } else {
        (src, w, h)
    }
}

/// The output fields of [`img_signals`], in order (every group; unrequested ones are null).
pub fn signal_fields() -> Fields {
    let f32f = |n: &str| Field::new(n, DataType::Float32, true);
    let i64f = |n: &str| Field::new(n, DataType::Int64, true);
    Fields::from(vec![
        Field::new("img_has_alpha", DataType::Boolean, true),
        f32f("img_aspect_ratio"),
        Field::new("img_jpeg_quality", DataType::Int32, true),
        f32f("img_entropy_bits"),
        f32f("img_blocking"),
        f32f("img_blur_laplacian_var"),
        f32f("img_noise_sigma"),
        f32f("img_color_cast"),
        f32f("img_colorfulness"),
        f32f("img_overexposed_frac"),
        f32f("img_underexposed_frac"),
        Field::new("img_near_mono", DataType::Boolean, true),
        i64f("img_phash"),
        i64f("img_dhash"),
        i64f("img_ahash"),
        i64f("img_whash"),
        Field::new("error", DataType::Utf8, true),
    ])
}

struct Builders {
    has_alpha: BooleanBuilder,
    aspect: Float32Builder,
    jpeg_q: Int32Builder,
    f32s: Vec<Float32Builder>,
    near_mono: BooleanBuilder,
    hashes: Vec<Int64Builder>,
    error: StringBuilder,
}

impl Builders {
    fn new(n: usize) -> Self {
        Self {
            has_alpha: BooleanBuilder::with_capacity(n),
            aspect: Float32Builder::with_capacity(n),
            jpeg_q: Int32Builder::with_capacity(n),
            f32s: (0..8).map(|_| Float32Builder::with_capacity(n)).collect(),
            near_mono: BooleanBuilder::with_capacity(n),
            hashes: (0..4).map(|_| Int64Builder::with_capacity(n)).collect(),
            error: StringBuilder::new(),
        }
    }

    fn push(&mut self, s: &ImageSignals, err: Option<&str>) {
        self.has_alpha.append_option(s.has_alpha);
        self.aspect.append_option(s.aspect_ratio);
        self.jpeg_q.append_option(s.jpeg_quality);
        let fs = [
            s.entropy_bits,
            s.blocking,
            s.blur_laplacian_var,
            s.noise_sigma,
            s.color_cast,
            s.colorfulness,
            s.overexposed_frac,
            s.underexposed_frac,
        ];
        for (b, v) in self.f32s.iter_mut().zip(fs) {
            b.append_option(v);
        }
        self.near_mono.append_option(s.near_mono);
        for (b, v) in self.hashes.iter_mut().zip([s.phash, s.dhash, s.ahash, s.whash]) {
            b.append_option(v);
        }
        self.error.append_option(err);
    }

    fn finish(mut self) -> Result<StructArray> {
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.has_alpha.finish()),
            Arc::new(self.aspect.finish()),
            Arc::new(self.jpeg_q.finish()),
        ];
        let mut f32s = self.f32s.into_iter();
        cols.push(Arc::new(f32s.next().unwrap().finish())); // entropy
        cols.push(Arc::new(f32s.next().unwrap().finish())); // blocking
        cols.extend(f32s.map(|mut b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.near_mono.finish()));
        cols.extend(self.hashes.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef));
        cols.push(Arc::new(self.error.finish()));
        Ok(StructArray::try_new(signal_fields(), cols, None)?)
    }
}

fn check_params(kernel: &'static str, p: &SignalParams) -> Result<()> {
    let bad = |param: &'static str, message: &str| Err(KernelError::InvalidParam { kernel, param, message: message.into() });
    if p.guard.max_pixels == 0 || p.guard.max_bytes == 0 {
        return bad("max_pixels/max_bytes", "must be positive");
    }
    if p.working_side_px < 8 {
        return bad("working_side_px", "must be >= 8");
    }
    if p.time_budget_ms == 0 {
        return bad("time_budget_ms", "must be positive");
    }
    if !(p.near_mono_chroma_std >= 0.0) {
        return bad("near_mono_chroma_std", "must be >= 0");
    }
    Ok(())
}

fn guarded<F: FnOnce() -> (ImageSignals, Option<String>)>(f: F) -> (ImageSignals, Option<String>) {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            (ImageSignals::default(), Some(format!("internal error while decoding: {msg}")))
        }
    }
}

/// Every requested signal for each row of a binary column of encoded images.
///
/// Rows in = rows out; a null row gets a "null image payload" error, an undecodable one the
/// decoder's message, a guard violation its guard message (header extras kept).
pub fn img_signals(images: &dyn Array, p: &SignalParams) -> Result<StructArray> {
    check_params("img_signals", p)?;
    let mut b = Builders::new(images.len());
    super::for_each_binary("img_signals", images, |row| match row {
        None => b.push(&ImageSignals::default(), Some("null image payload")),
        Some(bytes) => {
            let (s, e) = guarded(|| signals_one(bytes, p));
            b.push(&s, e.as_deref());
        }
    })?;
    b.finish()
}

/// The same signals from already-decoded 8-bit pixels (grey or RGB, row-major), for callers
/// that hold pixels (video frames, benchmarks of the signal math alone). No orientation is
/// applied and `img_jpeg_quality` is null.
pub fn img_signals_pixels(pixels: &dyn Array, widths: &[i32], heights: &[i32], channels: &[i32], p: &SignalParams) -> Result<StructArray> {
    check_params("img_signals_pixels", p)?;
    let n = pixels.len();
    if widths.len() != n || heights.len() != n || channels.len() != n {
        return Err(KernelError::InvalidParam {
            kernel: "img_signals_pixels",
            param: "widths/heights/channels",
            message: format!("lengths must all equal the pixel rows ({n})"),
        });
    }
    let mut b = Builders::new(n);
    let mut i = 0;
    super::for_each_binary("img_signals_pixels", pixels, |row| {
        let (w, h, c) = (widths[i], heights[i], channels[i]);
        i += 1;
        let Some(data) = row else {
            b.push(&ImageSignals::default(), Some("null pixel payload"));
            return;
        };
        let (s, e) = guarded(|| {
            let mut s = ImageSignals::default();
            if w <= 0 || h <= 0 || !(c == 1 || c == 3) || data.len() != (w as usize) * (h as usize) * (c as usize) {
                return (s, Some(format!("pixel buffer of {} bytes does not match {w}x{h}x{c}", data.len())));
            }
            let (w, h) = (w as usize, h as usize);
            let pixels = if c == 1 { Pixels::Gray(data.to_vec()) } else { Pixels::Rgb(data.to_vec()) };
            if w.max(h) > 0 {
                s.aspect_ratio = Some((w.max(h) as f64 / w.min(h) as f64) as f32);
            }
            let d = Decoded {
                width: w,
                height: h,
                pixels,
                format: "raw",
                has_alpha: false,
                exif_orientation: 1,
            };
            let budget = Budget::start(p.time_budget_ms);
            let e = pixel_signals(&d, p, &budget, &mut s).err();
            (s, e)
        });
        b.push(&s, e.as_deref());
    })?;
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float32Type, Int32Type, Int64Type};
    use arrow_array::BinaryArray;
    use image::{ImageBuffer, ImageFormat, Rgb};
    use std::io::Cursor;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let grey = crate::image::hash::tests::scene(w as usize, h as usize);
        let img: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_fn(w, h, |x, y| {
            let v = grey[(y * w + x) as usize];
            Rgb([v, v / 2 + 40, 255 - v])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn fused_kernel_fills_every_group_and_keeps_rows() {
        let good = jpeg(640, 480);
        let arr = BinaryArray::from_opt_vec(vec![Some(good.as_slice()), None, Some(b"junk".as_slice()), Some(&good[..300])]);
        let out = img_signals(&arr, &SignalParams::default()).unwrap();
        assert_eq!(out.len(), 4);
        let err = out.column_by_name("error").unwrap().as_string::<i32>();
        assert!(err.is_null(0), "{}", err.value(0));
        assert_eq!(err.value(1), "null image payload");
        assert!(!err.is_null(2) && !err.is_null(3));
        let q = out.column_by_name("img_jpeg_quality").unwrap().as_primitive::<Int32Type>();
        assert_eq!(q.value(0), 75); // the image crate's default quality
        let ar = out.column_by_name("img_aspect_ratio").unwrap().as_primitive::<Float32Type>();
        assert!((ar.value(0) - 4.0 / 3.0).abs() < 1e-6);
        for name in ["img_phash", "img_whash"] {
            assert!(out.column_by_name(name).unwrap().as_primitive::<Int64Type>().is_valid(0));
        }
        let blur = out.column_by_name("img_blur_laplacian_var").unwrap().as_primitive::<Float32Type>();
        assert!(blur.value(0) > 0.0 && blur.is_null(2));
    }

    #[test]
    fn header_only_when_no_pixel_group_requested() {
        let good = jpeg(64, 32);
        let arr = BinaryArray::from_vec(vec![good.as_slice()]);
        let p = SignalParams { degradations: false, hashes: false, quality: false, ..Default::default() };
        let out = img_signals(&arr, &p).unwrap();
        assert!(out.column_by_name("img_entropy_bits").unwrap().is_null(0));
        assert!(out.column_by_name("img_aspect_ratio").unwrap().is_valid(0));
    }

    #[test]
    fn fast_and_exact_agree_closely() {
        let big = jpeg(1200, 900);
        let arr = BinaryArray::from_vec(vec![big.as_slice()]);
        let f = img_signals(&arr, &SignalParams::default()).unwrap();
        let e = img_signals(&arr, &SignalParams { mode: SignalMode::Exact, ..Default::default() }).unwrap();
        for name in ["img_phash", "img_dhash", "img_ahash", "img_whash"] {
            let a = f.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(0);
            let b = e.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(0);
            assert!((a ^ b).count_ones() <= 3, "{name}: {a:x} vs {b:x}");
        }
    }

    #[test]
    fn bad_params_are_errors() {
        let arr = BinaryArray::from_vec(vec![b"x".as_slice()]);
        let p = SignalParams { working_side_px: 2, ..Default::default() };
        assert!(matches!(img_signals(&arr, &p), Err(KernelError::InvalidParam { .. })));
    }

    #[test]
    fn raw_pixels_match_encoded_lossless() {
        let img: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_fn(300, 200, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]));
        let mut png = Cursor::new(Vec::new());
        img.write_to(&mut png, ImageFormat::Png).unwrap();
        let enc = img_signals(&BinaryArray::from_vec(vec![png.get_ref().as_slice()]), &SignalParams::default()).unwrap();
        let raw = img_signals_pixels(&BinaryArray::from_vec(vec![img.as_raw().as_slice()]), &[300], &[200], &[3], &SignalParams::default()).unwrap();
        for name in ["img_phash", "img_whash"] {
            assert_eq!(
                enc.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(0),
                raw.column_by_name(name).unwrap().as_primitive::<Int64Type>().value(0)
            );
        }
        let bad = img_signals_pixels(&BinaryArray::from_vec(vec![b"abc".as_slice()]), &[5], &[5], &[3], &SignalParams::default()).unwrap();
        assert!(bad.column_by_name("error").unwrap().is_valid(0));
    }
}
