//! Guarded decoding to 8-bit pixels, decoding no more than the signals need.
//!
//! Every format decodes at full resolution with the `image` crate (zune-jpeg for JPEG, SIMD
//! IDCT and colour conversion: as fast as Pillow's libjpeg-turbo on the benchmark photos).
//! Reduced-scale JPEG decoding was measured and dropped: `jpeg-decoder`'s DCT-scaled path is
//! slower than zune-jpeg's full decode, and libjpeg-turbo without its assembly (the only build
//! possible without `nasm`) gains ~20% at 1/4 scale on large photos — entropy decoding, which no
//! scaling skips, dominates (see docs/image_signals.md).
//!
//! Every format ends as [`Pixels`]: one 8-bit grey plane or interleaved 8-bit RGB (alpha is
//! reported, then dropped, as Pillow's `convert("L"/"RGB")` drops it; palette images are expanded;
//! 16-bit samples are scaled to 8 bits; CMYK is converted to RGB). EXIF orientation is returned,
//! not applied, so callers can measure the JPEG block grid first and orient afterwards with
//! [`orient`].

use std::io::Cursor;
use std::time::Instant;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::meta::DecodeGuard;

/// Decoded 8-bit pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// One grey sample per pixel.
    Gray(Vec<u8>),
    /// Interleaved R, G, B.
    Rgb(Vec<u8>),
}

impl Pixels {
    pub fn channels(&self) -> usize {
        match self {
            Pixels::Gray(_) => 1,
            Pixels::Rgb(_) => 3,
        }
    }

    pub fn data(&self) -> &[u8] {
        match self {
            Pixels::Gray(v) | Pixels::Rgb(v) => v,
        }
    }
}

/// One decoded image and what the decoder learnt about it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Decoded size, before orientation.
    pub width: usize,
    pub height: usize,
    pub pixels: Pixels,
    pub format: &'static str,
    pub has_alpha: bool,
    /// EXIF orientation 1..=8 (1 when absent or unreadable).
    pub exif_orientation: u8,
}

/// Decode one encoded image. Errors are messages for the row, never panics by design.
pub fn decode(bytes: &[u8], guard: DecodeGuard) -> Result<Decoded, String> {
    if bytes.is_empty() {
        return Err("empty payload".into());
    }
    if bytes.len() as u64 > guard.max_bytes {
        return Err(format!("encoded size {} bytes exceeds max_bytes {}", bytes.len(), guard.max_bytes));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("unrecognised image format (first bytes {})", head.join(" "))
    })?;
    if format == ImageFormat::Jpeg {
        check_jpeg_complete(bytes)?;
    }
    decode_full(bytes, format, guard)
}

/// Pillow refuses truncated JPEGs ("image file is truncated"); both Rust decoders would pad
/// them silently. A complete stream has an EOI marker after its first SOS (entropy-coded data
/// stuffs every 0xFF, so 0xFF 0xD9 there can only be the marker; an EXIF thumbnail's EOI sits
/// before the first SOS).
fn check_jpeg_complete(bytes: &[u8]) -> Result<(), String> {
    let sos = super::quality::jpeg_first_sos(bytes).ok_or("jpeg has no scan (SOS) segment")?;
    let eoi = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]);
    match eoi {
        Some(e) if e > sos => Ok(()),
        _ => Err("jpeg is truncated (no EOI marker after the scan data)".into()),
    }
}

fn check_dims(w: u64, h: u64, guard: DecodeGuard) -> Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("degenerate dimensions {w}x{h}"));
    }
    if w * h > guard.max_pixels {
        return Err(format!(
            "{w}x{h} = {} pixels exceeds max_pixels {} (decompression-bomb guard)",
            w * h,
            guard.max_pixels
        ));
    }
    Ok(())
}

fn decode_full(bytes: &[u8], format: ImageFormat, guard: DecodeGuard) -> Result<Decoded, String> {
    let fname = super::meta::format_name(format);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // Room for the decoded 16-bit RGBA worst case plus the decoder's own buffers.
    limits.max_alloc = Some(guard.max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| format!("invalid {fname} header: {e}"))?;
    let (fw, fh) = decoder.dimensions();
    check_dims(u64::from(fw), u64::from(fh), guard)?;
    let color = decoder.color_type();
    let exif_orientation = decoder.orientation().map(|o| o.to_exif()).unwrap_or(1);
    let img = DynamicImage::from_decoder(decoder).map_err(|e| format!("{fname} decode failed: {e}"))?;
    let has_alpha = color.has_alpha();
    let gray = matches!(color, image::ColorType::L8 | image::ColorType::L16 | image::ColorType::La8 | image::ColorType::La16);
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pixels = if gray {
        Pixels::Gray(img.into_luma8().into_raw())
    } else {
        Pixels::Rgb(img.into_rgb8().into_raw())
    };
    Ok(Decoded {
        width: w,
        height: h,
        pixels,
        format: fname,
        has_alpha,
        exif_orientation,
    })
}

/// ITU-R 601-2 luma with Pillow's integer rounding (`convert("L")`):
/// `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16`.
///
/// ```
/// use _native::image::decode::luma_pil;
/// assert_eq!(luma_pil(&[255, 0, 0, 0, 255, 0, 255, 255, 255]), vec![76, 150, 255]);
/// ```
pub fn luma_pil(rgb: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; rgb.len() / 3];
    luma_pil_into(rgb, &mut out);
    out
}

/// [`luma_pil`] into a caller's buffer of `rgb.len() / 3` bytes.
pub fn luma_pil_into(rgb: &[u8], out: &mut [u8]) {
    let n = rgb.len() / 3;
    assert_eq!(out.len(), n, "luma_pil_into: output length");
    // Fixed-size chunks let the compiler unroll the stride-3 loads into vector shuffles.
    const LANES: usize = 16;
    let mut o = out.chunks_exact_mut(LANES);
    let mut i = rgb[..n * 3].chunks_exact(3 * LANES);
    for (dst, src) in (&mut o).zip(&mut i) {
        for (d, p) in dst.iter_mut().zip(src.chunks_exact(3)) {
            *d = luma_px(p[0], p[1], p[2]);
        }
    }
    for (d, p) in o.into_remainder().iter_mut().zip(i.remainder().chunks_exact(3)) {
        *d = luma_px(p[0], p[1], p[2]);
    }
}

#[inline(always)]
fn luma_px(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 0x8000) >> 16) as u8
}

/// Apply EXIF orientation 1..=8 to an interleaved plane; returns (data, width, height).
///
/// Orientation 6 is a 90° clockwise turn, 8 a 90° counter-clockwise turn, 5/7 transpose and
/// transverse, 2/4 mirror horizontally/vertically, 3 turns by 180° (as Pillow's `exif_transpose`).
pub fn orient(src: &[u8], w: usize, h: usize, channels: usize, orientation: u8) -> (Vec<u8>, usize, usize) {
    if !(2..=8).contains(&orientation) {
        return (src.to_vec(), w, h);
    }
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut out = vec![0u8; src.len()];
    for y in 0..oh {
        for x in 0..ow {
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x), // 8
            };
            let s = (sy * w + sx) * channels;
            let d = (y * ow + x) * channels;
            out[d..d + channels].copy_from_slice(&src[s..s + channels]);
        }
    }
    (out, ow, oh)
}

/// Wall-clock budget for one image, checked between decode and signal phases.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    start: Instant,
    limit_ms: u64,
}

impl Budget {
    pub fn start(limit_ms: u64) -> Self {
        Self { start: Instant::now(), limit_ms }
    }

    /// `Err` naming the phase once the budget is spent.
    pub fn check(&self, phase: &str) -> Result<(), String> {
        let ms = self.start.elapsed().as_millis() as u64;
        if ms > self.limit_ms {
            Err(format!("time budget {} ms exceeded after {phase} ({ms} ms)", self.limit_ms))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, Rgba};

    fn photo_like(w: u32, h: u32) -> ImageBuffer<Rgb<u8>, Vec<u8>> {
        ImageBuffer::from_fn(w, h, |x, y| {
            let v = ((x as f32 / 9.0).sin() * 60.0 + (y as f32 / 13.0).cos() * 60.0 + 128.0) as u8;
            Rgb([v, v / 2 + 40, 255 - v])
        })
    }

    fn encode<P: image::PixelWithColorType>(img: &ImageBuffer<P, Vec<P::Subpixel>>, fmt: ImageFormat) -> Vec<u8>
    where
        P::Subpixel: image::Primitive,
        [P::Subpixel]: image::EncodableLayout,
    {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, fmt).unwrap();
        out.into_inner()
    }

    #[test]
    fn jpeg_decodes_at_full_resolution() {
        let jpg = encode(&photo_like(1024, 640), ImageFormat::Jpeg);
        let d = decode(&jpg, DecodeGuard::default()).unwrap();
        assert_eq!((d.width, d.height, d.pixels.channels(), d.format), (1024, 640, 3, "jpeg"));
    }

    #[test]
    fn formats_decode_and_alpha_is_reported() {
        let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_fn(20, 10, |x, _| Rgba([x as u8 * 10, 0, 0, 128]));
        for fmt in [ImageFormat::Png, ImageFormat::Tiff, ImageFormat::WebP] {
            let d = decode(&encode(&rgba, fmt), DecodeGuard::default()).unwrap();
            assert!(d.has_alpha, "{fmt:?}");
            assert_eq!((d.width, d.height, d.pixels.data()[30]), (20, 10, 100));
        }
        let rgb = photo_like(16, 8);
        for fmt in [ImageFormat::Bmp, ImageFormat::Gif] {
            let d = decode(&encode(&rgb, fmt), DecodeGuard::default()).unwrap();
            assert_eq!((d.width, d.height, d.format), (16, 8, super::super::meta::format_name(fmt)));
        }
        let gray16: ImageBuffer<image::Luma<u16>, Vec<u16>> = ImageBuffer::from_fn(8, 8, |x, _| image::Luma([x as u16 * 8000]));
        let d = decode(&encode(&gray16, ImageFormat::Png), DecodeGuard::default()).unwrap();
        assert_eq!(d.pixels, Pixels::Gray((0..64).map(|i| ((i % 8) as f64 * 8000.0 / 257.0).round() as u8).collect()));
    }

    #[test]
    fn guards_reject_before_decoding() {
        let jpg = encode(&photo_like(300, 200), ImageFormat::Jpeg);
        let tight = DecodeGuard { max_bytes: 1 << 20, max_pixels: 10_000 };
        assert!(decode(&jpg, tight).unwrap_err().contains("decompression-bomb"));
        assert!(decode(&jpg[..jpg.len() / 3], DecodeGuard::default()).is_err());
        assert!(decode(b"GIF89a", DecodeGuard::default()).is_err());
    }

    #[test]
    fn orientation_matches_definitions() {
        // 3x2 image with distinct values: a b c / d e f
        let src = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(orient(&src, 3, 2, 1, 6), (vec![4, 1, 5, 2, 6, 3], 2, 3));
        assert_eq!(orient(&src, 3, 2, 1, 8), (vec![3, 6, 2, 5, 1, 4], 2, 3));
        assert_eq!(orient(&src, 3, 2, 1, 3), (vec![6, 5, 4, 3, 2, 1], 3, 2));
        assert_eq!(orient(&src, 3, 2, 1, 2), (vec![3, 2, 1, 6, 5, 4], 3, 2));
        assert_eq!(orient(&src, 3, 2, 1, 4), (vec![4, 5, 6, 1, 2, 3], 3, 2));
        assert_eq!(orient(&src, 3, 2, 1, 5), (vec![1, 4, 2, 5, 3, 6], 2, 3));
        assert_eq!(orient(&src, 3, 2, 1, 7), (vec![6, 3, 5, 2, 4, 1], 2, 3));
        assert_eq!(orient(&src, 3, 2, 1, 1).0, src.to_vec());
    }
}
