//! Multi-index hashing of 64-bit perceptual hashes (Norouzi et al., "Fast Search in Hamming
//! Space with Multi-Index Hashing", CVPR 2012).
//!
//! The 64 bits are cut into `k + 1` contiguous bands (widths differ by at most one). Two hashes
//! within Hamming distance `k` differ in at most `k` bits, so by pigeonhole at least one band is
//! identical: grouping by band key finds every pair within radius `k` (recall exactly 1.0); the
//! distance is then verified inside each bucket.
//!
//! Key of band `j` with value `v` (width ≤ 32 when `k ≥ 1`): `(j << 32) | v`, so keys of
//! different bands never collide. With `k = 0` the one band is the whole hash.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field};

use crate::error::{KernelError, Result};

/// Largest radius accepted: 64 bits in 64 bands of one bit.
pub const MAX_RADIUS: u32 = 63;

/// `(start_bit, width)` of each of the `radius + 1` bands.
pub fn bands(radius: u32) -> Vec<(u32, u32)> {
    let m = radius + 1;
    let (base, extra) = (64 / m, 64 % m);
    let mut out = Vec::with_capacity(m as usize);
    let mut start = 0;
    for j in 0..m {
        let w = base + u32::from(j < extra);
        out.push((start, w));
        start += w;
    }
    out
}

/// Band keys of one hash.
///
/// ```
/// use _native::dedup::phash::band_keys;
/// let k = band_keys(0xFFFF_0000_0000_0001, 3);
/// assert_eq!(k.len(), 4);
/// assert_eq!(k[0], 1); // lowest 16 bits, band 0
/// assert_eq!(k[3], (3 << 32) | 0xFFFF);
/// ```
pub fn band_keys(hash: u64, radius: u32) -> Vec<i64> {
    if radius == 0 {
        return vec![hash as i64];
    }
    bands(radius)
        .into_iter()
        .enumerate()
        .map(|(j, (start, w))| {
            let v = (hash >> start) & ((1u64 << w) - 1);
            (((j as u64) << 32) | v) as i64
        })
        .collect()
}

/// Multi-index band keys of every row of an int64 (or uint64) pHash column; null rows get null.
pub fn phash_band_keys(hashes: &dyn Array, radius: u32) -> Result<ArrayRef> {
    if radius > MAX_RADIUS {
        return Err(KernelError::InvalidParam {
            kernel: "phash_band_keys",
            param: "radius",
            message: format!("must be <= {MAX_RADIUS}, got {radius}"),
        });
    }
    let values: Vec<Option<u64>> = match hashes.data_type() {
        DataType::Int64 => hashes.as_primitive::<Int64Type>().iter().map(|v| v.map(|x| x as u64)).collect(),
        DataType::UInt64 => hashes.as_primitive::<UInt64Type>().iter().collect(),
        other => {
            return Err(KernelError::InvalidInput {
                kernel: "phash_band_keys",
                expected: "int64 or uint64",
                got: format!("{other:?}"),
            })
        }
    };
    let m = radius as usize + 1;
    let mut out = ListBuilder::with_capacity(Int64Builder::with_capacity(values.len() * m), values.len())
        .with_field(Arc::new(Field::new("item", DataType::Int64, false)));
    for v in values {
        match v {
            Some(h) => {
                out.values().append_slice(&band_keys(h, radius));
                out.append(true);
            }
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    fn lcg(state: &mut u64) -> u64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *state
    }

    #[test]
    fn bands_cover_64_bits() {
        for r in 0..=MAX_RADIUS {
            let b = bands(r);
            assert_eq!(b.len() as u32, r + 1);
            assert_eq!(b.iter().map(|x| x.1).sum::<u32>(), 64);
            assert!(b.iter().all(|x| x.1 == 64 / (r + 1) || x.1 == 64 / (r + 1) + 1));
        }
    }

    #[test]
    fn every_pair_within_radius_shares_a_key() {
        let mut s = 42u64;
        for radius in [0u32, 1, 2, 4, 6, 8, 12] {
            for _ in 0..2000 {
                let h = lcg(&mut s);
                let mut g = h;
                let flips = (lcg(&mut s) % (radius as u64 + 1)) as u32;
                for _ in 0..flips {
                    g ^= 1 << (lcg(&mut s) >> 58);
                }
                assert!((h ^ g).count_ones() <= radius);
                let (a, b) = (band_keys(h, radius), band_keys(g, radius));
                assert!(a.iter().zip(&b).any(|(x, y)| x == y), "r={radius} {h:x} {g:x}");
            }
        }
    }

    #[test]
    fn columnar_and_errors() {
        let arr = Int64Array::from(vec![Some(-1), None]);
        let out = phash_band_keys(&arr, 4).unwrap();
        let l = out.as_list::<i32>();
        assert_eq!(l.value(0).len(), 5);
        assert!(l.is_null(1));
        assert!(phash_band_keys(&arr, 64).is_err());
        assert!(phash_band_keys(&arrow_array::Int32Array::from(vec![1]), 2).is_err());
    }
}
