//! Header-only image metadata with a decode guard.
//!
//! Reads only what the container header says (dimensions, format, colour type, EXIF
//! orientation): no pixel is decoded, so it runs at parse speed and is safe on bombs. The guard
//! flags images whose encoded size or pixel count exceeds the configured limits, so later stages
//! never decode them.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder, UInt8Builder};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{DataType, Field, Fields};
use image::{ExtendedColorType, ImageDecoder, ImageFormat, ImageReader};

use crate::error::{KernelError, Result};

/// Limits applied before any pixel is decoded.
#[derive(Debug, Clone, Copy)]
pub struct DecodeGuard {
    /// Largest encoded payload accepted, in bytes.
    pub max_bytes: u64,
    /// Largest width × height accepted (decompression-bomb guard).
    pub max_pixels: u64,
}

impl Default for DecodeGuard {
    fn default() -> Self {
        // 64 MiB encoded, 178,956,970 px: Pillow's own bomb threshold (2 × its warning limit).
        Self { max_bytes: 64 << 20, max_pixels: 178_956_970 }
    }
}

/// What the header of one image says.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageMeta {
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    pub mode: &'static str,
    pub channels: u8,
    /// EXIF orientation tag value 1..=8 (1 when absent).
    pub exif_orientation: u8,
}

/// Probe one encoded image. `Ok((meta, Some(msg)))` when the header parses but a guard trips.
///
/// ```
/// use _native::image::meta::{probe, DecodeGuard};
/// let png = [0x89u8, b'P', b'N', b'G'];
/// assert!(probe(&png, DecodeGuard::default()).is_err()); // truncated header
/// ```
pub fn probe(bytes: &[u8], guard: DecodeGuard) -> std::result::Result<(ImageMeta, Option<String>), String> {
    if bytes.is_empty() {
        return Err("empty payload".to_string());
    }
    if bytes.len() as u64 > guard.max_bytes {
        return Err(format!(
            "encoded size {} bytes exceeds max_bytes {}",
            bytes.len(),
            guard.max_bytes
        ));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("cannot read payload: {e}"))?;
    let format = reader.format().ok_or_else(|| {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("unrecognised image format (first bytes {})", head.join(" "))
    })?;
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| format!("invalid {} header: {e}", format_name(format)))?;
    let (width, height) = decoder.dimensions();
    let color = decoder.original_color_type();
    // A broken EXIF block must not hide the rest of the metadata: treat it as "no rotation".
    let exif_orientation = decoder.orientation().map(|o| o.to_exif()).unwrap_or(1);
    let meta = ImageMeta {
        width,
        height,
        format: format_name(format),
        mode: mode_name(color),
        channels: color.channel_count(),
        exif_orientation,
    };
    let pixels = u64::from(width) * u64::from(height);
    let guard_msg = if width == 0 || height == 0 {
        Some(format!("degenerate dimensions {width}x{height}"))
    } else if pixels > guard.max_pixels {
        Some(format!(
            "{width}x{height} = {pixels} pixels exceeds max_pixels {} (decompression-bomb guard)",
            guard.max_pixels
        ))
    } else {
        None
    };
    Ok((meta, guard_msg))
}

pub(crate) fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::Gif => "gif",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        ImageFormat::Ico => "ico",
        ImageFormat::Avif => "avif",
        _ => "other",
    }
}

/// Pillow-style mode names, so signals read the same as in the Python ecosystem.
fn mode_name(c: ExtendedColorType) -> &'static str {
    use ExtendedColorType as C;
    match c {
        C::L1 | C::L2 | C::L4 | C::L8 => "L",
        C::La1 | C::La2 | C::La4 | C::La8 => "LA",
        C::L16 => "I;16",
        C::La16 => "LA;16",
        C::Rgb1 | C::Rgb2 | C::Rgb4 | C::Rgb8 | C::Bgr8 => "RGB",
        C::Rgba1 | C::Rgba2 | C::Rgba4 | C::Rgba8 | C::Bgra8 => "RGBA",
        C::Rgb16 => "RGB;16",
        C::Rgba16 => "RGBA;16",
        C::Rgb32F => "RGB;F",
        C::Rgba32F => "RGBA;F",
        C::Cmyk8 => "CMYK",
        _ => "other",
    }
}

/// The output fields of [`img_meta`], in order.
pub fn meta_fields() -> Fields {
    Fields::from(vec![
        Field::new("img_width", DataType::Int32, true),
        Field::new("img_height", DataType::Int32, true),
        Field::new("img_format", DataType::Utf8, true),
        Field::new("img_mode", DataType::Utf8, true),
        Field::new("img_channels", DataType::UInt8, true),
        Field::new("img_exif_orientation", DataType::UInt8, true),
        Field::new("img_bytes", DataType::Int64, true),
        Field::new("error", DataType::Utf8, true),
    ])
}

/// Metadata for every row of a binary column of encoded images.
///
/// Null rows get null signals and a "null image payload" error; rows whose header cannot be
/// parsed get null signals and the parser's message; guard violations keep the header signals
/// and carry the guard message.
pub fn img_meta(images: &dyn Array, guard: DecodeGuard) -> Result<StructArray> {
    if guard.max_pixels == 0 || guard.max_bytes == 0 {
        return Err(KernelError::InvalidParam {
            kernel: "img_meta",
            param: "max_pixels/max_bytes",
            message: "must be positive".into(),
        });
    }
    let n = images.len();
    let mut width = Int32Builder::with_capacity(n);
    let mut height = Int32Builder::with_capacity(n);
    let mut format = StringBuilder::with_capacity(n, n * 4);
    let mut mode = StringBuilder::with_capacity(n, n * 3);
    let mut channels = UInt8Builder::with_capacity(n);
    let mut orientation = UInt8Builder::with_capacity(n);
    let mut nbytes = Int64Builder::with_capacity(n);
    let mut error = StringBuilder::new();
    super::for_each_binary("img_meta", images, |row| {
        let Some(bytes) = row else {
            width.append_null();
            height.append_null();
            format.append_null();
            mode.append_null();
            channels.append_null();
            orientation.append_null();
            nbytes.append_null();
            error.append_value("null image payload");
            return;
        };
        nbytes.append_value(bytes.len() as i64);
        match probe(bytes, guard) {
            Ok((m, guard_msg)) => {
                width.append_value(m.width as i32);
                height.append_value(m.height as i32);
                format.append_value(m.format);
                mode.append_value(m.mode);
                channels.append_value(m.channels);
                orientation.append_value(m.exif_orientation);
                error.append_option(guard_msg);
            }
            Err(msg) => {
                width.append_null();
                height.append_null();
                format.append_null();
                mode.append_null();
                channels.append_null();
                orientation.append_null();
                error.append_value(msg);
            }
        }
    })?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(width.finish()),
        Arc::new(height.finish()),
        Arc::new(format.finish()),
        Arc::new(mode.finish()),
        Arc::new(channels.finish()),
        Arc::new(orientation.finish()),
        Arc::new(nbytes.finish()),
        Arc::new(error.finish()),
    ];
    Ok(StructArray::try_new(meta_fields(), columns, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, UInt8Type};
    use arrow_array::BinaryArray;
    use image::{ImageBuffer, Rgb};

    fn encode(fmt: ImageFormat, w: u32, h: u32) -> Vec<u8> {
        let img: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 7]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, fmt).unwrap();
        out.into_inner()
    }

    #[test]
    fn reads_dimensions_and_format_from_header() {
        let png = encode(ImageFormat::Png, 31, 17);
        let jpg = encode(ImageFormat::Jpeg, 40, 9);
        let (m, g) = probe(&png, DecodeGuard::default()).unwrap();
        assert_eq!((m.width, m.height, m.format, m.mode, m.channels), (31, 17, "png", "RGB", 3));
        assert!(g.is_none());
        let (m, _) = probe(&jpg, DecodeGuard::default()).unwrap();
        assert_eq!((m.width, m.height, m.format), (40, 9, "jpeg"));
        assert_eq!(m.exif_orientation, 1);
    }

    #[test]
    fn guard_flags_large_images_but_keeps_header_signals() {
        let png = encode(ImageFormat::Png, 100, 100);
        let guard = DecodeGuard { max_bytes: 1 << 20, max_pixels: 9_999 };
        let (m, g) = probe(&png, guard).unwrap();
        assert_eq!(m.width, 100);
        assert!(g.unwrap().contains("exceeds max_pixels 9999"));
        let tiny = DecodeGuard { max_bytes: 10, max_pixels: 1 << 30 };
        assert!(probe(&png, tiny).unwrap_err().contains("max_bytes 10"));
    }

    #[test]
    fn bad_rows_become_errors_not_failures() {
        let png = encode(ImageFormat::Png, 5, 6);
        let arr = BinaryArray::from_opt_vec(vec![
            Some(png.as_slice()),
            None,
            Some(b"not an image at all".as_slice()),
            Some(&png[..20]),
            Some(b"".as_slice()),
        ]);
        let out = img_meta(&arr, DecodeGuard::default()).unwrap();
        assert_eq!(out.len(), 5);
        let w = out.column(0).as_primitive::<Int32Type>();
        let err = out.column(7).as_string::<i32>();
        assert_eq!(w.value(0), 5);
        assert!(err.is_null(0));
        assert_eq!(err.value(1), "null image payload");
        assert!(err.value(2).starts_with("unrecognised image format"));
        assert!(w.is_null(3) && !err.is_null(3));
        assert_eq!(err.value(4), "empty payload");
        let ch = out.column(4).as_primitive::<UInt8Type>();
        assert_eq!(ch.value(0), 3);
    }

    #[test]
    fn rejects_non_binary_input() {
        let arr = arrow_array::Int32Array::from(vec![1, 2]);
        assert!(matches!(img_meta(&arr, DecodeGuard::default()), Err(KernelError::InvalidInput { .. })));
    }
}
