//! Technical quality: luma entropy, JPEG blocking, JPEG quality from quantisation tables.

/// Shannon entropy of the 256-bin histogram of an 8-bit plane, in bits (0..=8).
///
/// ```
/// use _native::image::quality::entropy_bits;
/// assert_eq!(entropy_bits(&[7u8; 100]), 0.0);
/// assert!((entropy_bits(&(0..=255u8).collect::<Vec<_>>()) - 8.0).abs() < 1e-9);
/// ```
pub fn entropy_bits(luma: &[u8]) -> f64 {
    let mut hist = [0u64; 256];
    for &v in luma {
        hist[v as usize] += 1;
    }
    let n = luma.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    let h: f64 = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    h.max(0.0)
}

/// Blocking measure: mean absolute luma step across `block`-px block boundaries divided by the
/// mean step inside blocks, minus one (both directions pooled).
///
/// A clean photo scores near 0 (boundary steps look like any other step); JPEG compression
/// at falling quality makes blocks flat inside and discontinuous at their edges, so the score
/// rises. `block` is 8 on a full-resolution decode and 8/s on a 1/s DCT-scaled decode (each
/// coded block is reconstructed independently at reduced size, so its edges stay where the
/// grid says). Returns `None` when the plane has no complete block pair or `block < 2`.
///
/// ```
/// use _native::image::quality::blocking;
/// // 16x16 image made of two flat 8-px-wide bands: all the change sits on the boundary.
/// let img: Vec<u8> = (0..256).map(|i| if i % 16 < 8 { 50 } else { 90 }).collect();
/// assert!(blocking(&img, 16, 16, 8).unwrap() > 10.0);
/// ```
pub fn blocking(luma: &[u8], w: usize, h: usize, block: usize) -> Option<f64> {
    blocking_rows(w, h, block, |y, row| row.copy_from_slice(&luma[y * w..(y + 1) * w]))
}

/// [`blocking`] over rows produced on demand: `fill(y, row)` writes grey row `y` (so callers
/// can convert RGB to luma one row at a time instead of holding a full-resolution plane).
pub fn blocking_rows(w: usize, h: usize, block: usize, mut fill: impl FnMut(usize, &mut [u8])) -> Option<f64> {
    if block < 2 || (w < 2 * block && h < 2 * block) {
        return None;
    }
    // Steps between column x and x+1 sit on a boundary when (x + 1) % block == 0.
    let (mut bsum, mut bn, mut isum, mut inn) = (0u64, 0u64, 0u64, 0u64);
    let row_diff = |a: &[u8], b: &[u8]| -> u64 { a.iter().zip(b).map(|(p, q)| u32::from(p.abs_diff(*q))).sum::<u32>() as u64 };
    let per_row_boundaries = ((w - 1) / block) as u64;
    let (mut prev, mut row) = (vec![0u8; w], vec![0u8; w]);
    for y in 0..h {
        fill(y, &mut row);
        let all = row_diff(&row[..w - 1], &row[1..]);
        let b: u64 = (block - 1..w - 1).step_by(block).map(|x| u64::from(row[x].abs_diff(row[x + 1]))).sum();
        bsum += b;
        isum += all - b;
        if y > 0 {
            let s = row_diff(&prev, &row);
            if y % block == 0 {
                bsum += s;
                bn += w as u64;
            } else {
                isum += s;
                inn += w as u64;
            }
        }
        std::mem::swap(&mut prev, &mut row);
    }
    bn += per_row_boundaries * h as u64;
    inn += (w as u64 - 1 - per_row_boundaries) * h as u64;
    if bn == 0 || inn == 0 {
        return None;
    }
    // Half a grey level of slack keeps flat images (0/0) at 0 instead of undefined.
    let b = bsum as f64 / bn as f64 + 0.5;
    let i = isum as f64 / inn as f64 + 0.5;
    Some(b / i - 1.0)
}

/// IJG (libjpeg) base luminance table, JPEG spec Annex K.1, natural (row-major) order.
const STD_LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87,
    80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92,
    95, 98, 112, 100, 103, 99,
];
/// IJG base chrominance table, Annex K.2, natural order.
const STD_CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99,
];
/// Natural-order index of the k-th coefficient in zig-zag order (DQT stores zig-zag order).
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35,
    42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62,
    63,
];

/// Quantisation tables 0 and 1 (natural order) read from a JPEG's DQT segments, header only.
///
/// Walks markers from SOI to the first SOS; `None` if the stream is not a JPEG or holds no
/// table 0.
pub fn jpeg_qtables(bytes: &[u8]) -> Option<[Option<[u16; 64]>; 2]> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return None;
    }
    let mut tables: [Option<[u16; 64]>; 2] = [None, None];
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if len < 2 || i + 2 + len > bytes.len() {
            break;
        }
        let seg = &bytes[i + 4..i + 2 + len];
        if marker == 0xDB {
            let mut j = 0;
            while j < seg.len() {
                let (pq, tq) = (seg[j] >> 4, usize::from(seg[j] & 0x0F));
                let n = if pq == 0 { 64 } else { 128 };
                if j + 1 + n > seg.len() {
                    break;
                }
                let mut t = [0u16; 64];
                for (k, &nat) in ZIGZAG.iter().enumerate() {
                    t[nat] = if pq == 0 {
                        u16::from(seg[j + 1 + k])
                    } else {
                        u16::from_be_bytes([seg[j + 1 + 2 * k], seg[j + 2 + 2 * k]])
                    };
                }
                if tq < 2 {
                    tables[tq] = Some(t);
                }
                j += 1 + n;
            }
        }
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        i += 2 + len;
    }
    tables[0].map(|_| tables)
}

/// Offset of the first SOS marker, walking segments from SOI; `None` if absent or malformed.
pub fn jpeg_first_sos(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return None;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xDA {
            return Some(i);
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
    }
    None
}

/// The table libjpeg writes for `quality` (`jpeg_set_quality`; `baseline` clamps to 255 as
/// 8-bit tables must).
fn ijg_table(base: &[u16; 64], quality: u32, baseline: bool) -> [u16; 64] {
    let scale = if quality < 50 { 5000 / quality } else { 200 - 2 * quality };
    let mut t = [0u16; 64];
    for (o, &b) in t.iter_mut().zip(base) {
        *o = ((u32::from(b) * scale + 50) / 100).clamp(1, if baseline { 255 } else { 32767 }) as u16;
    }
    t
}

/// IJG quality 1..=100 whose scaled standard tables best match the file's tables.
///
/// Inverts libjpeg's `jpeg_quality_scaling` by search: the quality minimising the summed
/// absolute difference to table 0 (and table 1 when present). Files written by libjpeg,
/// libjpeg-turbo, Pillow or OpenCV recover their exact setting; other encoders get the nearest
/// IJG equivalent.
///
/// ```
/// use _native::image::quality::jpeg_quality_from_tables;
/// let t = [Some([1u16; 64]), None];
/// assert_eq!(jpeg_quality_from_tables(&t), 100);
/// ```
pub fn jpeg_quality_from_tables(tables: &[Option<[u16; 64]>; 2]) -> u8 {
    let mut best = (u64::MAX, 0u8);
    for q in 1..=100u32 {
        let mut err = 0u64;
        for (t, base) in tables.iter().zip([&STD_LUMA, &STD_CHROMA]) {
            if let Some(t) = t {
                let ref_t = ijg_table(base, q, t.iter().all(|&v| v <= 255));
                err += t.iter().zip(&ref_t).map(|(a, b)| u64::from(a.abs_diff(*b))).sum::<u64>();
            }
        }
        // Ties go to the higher quality (table entries clamp at 1 near q=100).
        if err <= best.0 {
            best = (err, q as u8);
        }
    }
    best.1
}

/// Estimated IJG quality of an encoded JPEG from its header, `None` when not a JPEG.
pub fn jpeg_quality(bytes: &[u8]) -> Option<u8> {
    jpeg_qtables(bytes).map(|t| jpeg_quality_from_tables(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{ImageBuffer, Rgb};

    fn photo(w: u32, h: u32) -> ImageBuffer<Rgb<u8>, Vec<u8>> {
        ImageBuffer::from_fn(w, h, |x, y| {
            let v = ((x as f32 / 7.0).sin() * 50.0 + (y as f32 / 11.0).cos() * 50.0 + ((x * y) % 17) as f32 + 110.0) as u8;
            Rgb([v, v.wrapping_add(30), 255 - v])
        })
    }

    fn jpeg(q: u8) -> Vec<u8> {
        let img = photo(128, 96);
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, q).encode_image(&img).unwrap();
        out
    }

    #[test]
    fn quality_is_recovered_from_ijg_tables() {
        for q in [10u8, 35, 50, 75, 90, 95] {
            assert_eq!(jpeg_quality(&jpeg(q)), Some(q), "q={q}");
        }
        assert_eq!(jpeg_quality(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(jpeg_quality(&[0xFF, 0xD8, 0xFF, 0xDB, 0x00]), None); // truncated
    }

    #[test]
    fn ijg_table_matches_libjpeg_anchor_values() {
        assert_eq!(ijg_table(&STD_LUMA, 50, true), STD_LUMA);
        assert_eq!(ijg_table(&STD_LUMA, 100, true), [1u16; 64]);
        assert_eq!(ijg_table(&STD_LUMA, 5, true)[63], 255);
        assert_eq!(ijg_table(&STD_LUMA, 75, true)[0], 8);
    }

    #[test]
    fn blocking_rises_as_quality_falls() {
        let mut last = f64::NEG_INFINITY;
        for q in [95u8, 60, 30, 10] {
            let img = image::load_from_memory(&jpeg(q)).unwrap().to_luma8();
            let b = blocking(img.as_raw(), 128, 96, 8).unwrap();
            assert!(b > last, "q={q}: {b} <= {last}");
            last = b;
        }
        let clean = photo(128, 96);
        let l: Vec<u8> = clean.pixels().map(|p| p[0]).collect();
        assert!(blocking(&l, 128, 96, 8).unwrap().abs() < 0.1);
        assert_eq!(blocking(&l, 10, 10, 8), None);
    }

    #[test]
    fn entropy_of_two_levels_is_one_bit() {
        let v: Vec<u8> = (0..1000).map(|i| if i % 2 == 0 { 0 } else { 255 }).collect();
        assert!((entropy_bits(&v) - 1.0).abs() < 1e-12);
    }
}
