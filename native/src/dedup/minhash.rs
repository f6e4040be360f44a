//! MinHash signatures over word n-gram shingles, and LSH band keys.
//!
//! Scheme (fast universal hashing, no per-permutation re-hashing of the shingle):
//! 1. each shingle (see [`super::normalize::for_each_shingle`]) is hashed once with xxh3-64 and
//!    truncated to a 32-bit key `x` (two distinct shingles of a document pair collide with
//!    probability 2^-32);
//! 2. permutation `i` is Dietzfelbinger's multiply-add-shift `h_i(x) = ((a_i·x + b_i) mod 2^64) >> 32`
//!    with `a_i`, `b_i` 64-bit constants drawn from `seed` by SplitMix64: a strongly universal
//!    family from 32-bit keys to 32-bit values (Dietzfelbinger 1996; Thorup 2015, §3.3);
//! 3. signature slot `i` is the minimum of `h_i` over the document's shingles (u32);
//! 4. band `j` (rows `j·r .. j·r + r`) gets the key `xxh3_64(slot bytes, seed = j)` as an i64, so
//!    equal bands of different band indices never share a key.
//!
//! Two documents with shingle-set Jaccard `s` share band `j` with probability `s^r`, and share
//! at least one of `b` bands with probability `1 - (1 - s^r)^b` (the LSH S-curve).
//! The inner loop (all permutations for one shingle) is compiled for AVX-512 and AVX2 and picked
//! at run time.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int64Builder, ListBuilder};
use arrow_array::{Array, ArrayRef, StructArray};
use arrow_schema::{DataType, Field, Fields};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use super::for_each_str;
use super::normalize::{for_each_shingle, normalize_into};
use crate::error::{KernelError, Result};

/// MinHash / LSH parameters. Defaults as FineWeb: 5-grams, 14 bands × 8 rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinHashParams {
    pub ngram: usize,
    pub bands: usize,
    pub rows: usize,
    pub seed: u64,
}

impl Default for MinHashParams {
    fn default() -> Self {
        Self { ngram: 5, bands: 14, rows: 8, seed: 1 }
    }
}

impl MinHashParams {
    pub fn num_perm(&self) -> usize {
        self.bands * self.rows
    }

    fn validate(&self) -> Result<()> {
        let bad = |param: &'static str, message: &str| {
            Err(KernelError::InvalidParam { kernel: "txt_minhash", param, message: message.into() })
        };
        if self.ngram == 0 {
            return bad("ngram", "must be >= 1");
        }
        if self.bands == 0 || self.rows == 0 {
            return bad("bands/rows", "must be >= 1");
        }
        if self.num_perm() > 4096 {
            return bad("bands*rows", "must be <= 4096");
        }
        Ok(())
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A MinHasher: the permutation constants for one parameter set, and reusable scratch space.
pub struct MinHasher {
    params: MinHashParams,
    a: Vec<u64>,
    b: Vec<u64>,
    norm: String,
}

impl MinHasher {
    pub fn new(params: MinHashParams) -> Result<Self> {
        params.validate()?;
        let mut state = params.seed;
        let p = params.num_perm();
        let mut a = Vec::with_capacity(p);
        let mut b = Vec::with_capacity(p);
        for _ in 0..p {
            a.push(splitmix64(&mut state));
            b.push(splitmix64(&mut state));
        }
        Ok(Self { params, a, b, norm: String::new() })
    }

    pub fn params(&self) -> MinHashParams {
        self.params
    }

    /// Signature of one raw text into `sig` (resized to `num_perm`); false when the text has no
    /// words after normalisation (then `sig` is meaningless).
    pub fn signature(&mut self, text: &str, sig: &mut Vec<u32>) -> bool {
        let mut norm = std::mem::take(&mut self.norm);
        normalize_into(text, &mut norm);
        let ok = self.signature_normalised(&norm, sig);
        self.norm = norm;
        ok
    }

    /// Signature of an already normalised text.
    pub fn signature_normalised(&self, normalised: &str, sig: &mut Vec<u32>) -> bool {
        sig.clear();
        sig.resize(self.a.len(), u32::MAX);
        let mut any = false;
        let update = select_update();
        for_each_shingle(normalised, self.params.ngram, |s| {
            any = true;
            let x = xxh3_64(s.as_bytes()) as u32 as u64;
            update(sig, &self.a, &self.b, x);
        });
        any
    }

    /// LSH band keys of a signature, one per band.
    pub fn band_keys(&self, sig: &[u32], out: &mut Vec<i64>) {
        out.clear();
        let r = self.params.rows;
        let mut buf = Vec::with_capacity(r * 4);
        for (j, band) in sig.chunks_exact(r).enumerate() {
            buf.clear();
            for v in band {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            out.push(xxh3_64_with_seed(&buf, j as u64) as i64);
        }
    }
}

type UpdateFn = fn(&mut [u32], &[u64], &[u64], u64);

#[inline(always)]
fn update_generic(sig: &mut [u32], a: &[u64], b: &[u64], x: u64) {
    for ((s, &ai), &bi) in sig.iter_mut().zip(a).zip(b) {
        let v = (ai.wrapping_mul(x).wrapping_add(bi) >> 32) as u32;
        *s = (*s).min(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn update_avx512(sig: &mut [u32], a: &[u64], b: &[u64], x: u64) {
    update_generic(sig, a, b, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(sig: &mut [u32], a: &[u64], b: &[u64], x: u64) {
    update_generic(sig, a, b, x)
}

fn select_update() -> UpdateFn {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512dq")
            && std::is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU supports the features the function was compiled for.
            return |s, a, b, x| unsafe { update_avx512(s, a, b, x) };
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return |s, a, b, x| unsafe { update_avx2(s, a, b, x) };
        }
    }
    update_generic
}

/// Fraction of equal slots of two signatures: the MinHash estimate of Jaccard similarity.
pub fn estimate_jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// The output fields of [`txt_minhash`]: `bands` (list<int64>) and, when asked, `signature`
/// (binary, `num_perm` little-endian u32s).
pub fn minhash_fields(with_signature: bool) -> Fields {
    let mut f = vec![Field::new("bands", DataType::List(Arc::new(Field::new("item", DataType::Int64, false))), true)];
    if with_signature {
        f.push(Field::new("signature", DataType::Binary, true));
    }
    Fields::from(f)
}

/// MinHash band keys (and optionally signatures) of every row of a string array.
///
/// Null rows and rows with no words after normalisation get null outputs (no candidates).
pub fn txt_minhash(texts: &dyn Array, params: MinHashParams, with_signature: bool) -> Result<StructArray> {
    let mut hasher = MinHasher::new(params)?;
    let n = texts.len();
    let mut bands = ListBuilder::with_capacity(Int64Builder::with_capacity(n * params.bands), n)
        .with_field(Arc::new(Field::new("item", DataType::Int64, false)));
    let mut sigs = BinaryBuilder::with_capacity(if with_signature { n } else { 0 }, if with_signature { n * params.num_perm() * 4 } else { 0 });
    let mut sig = Vec::new();
    let mut keys = Vec::new();
    let mut sig_bytes = Vec::new();
    for_each_str("txt_minhash", texts, |row| {
        let ok = row.map(|t| hasher.signature(t, &mut sig)).unwrap_or(false);
        if !ok {
            bands.append_null();
            if with_signature {
                sigs.append_null();
            }
            return;
        }
        hasher.band_keys(&sig, &mut keys);
        bands.values().append_slice(&keys);
        bands.append(true);
        if with_signature {
            sig_bytes.clear();
            for v in &sig {
                sig_bytes.extend_from_slice(&v.to_le_bytes());
            }
            sigs.append_value(&sig_bytes);
        }
    })?;
    let mut columns: Vec<ArrayRef> = vec![Arc::new(bands.finish())];
    if with_signature {
        columns.push(Arc::new(sigs.finish()));
    }
    Ok(StructArray::try_new(minhash_fields(with_signature), columns, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    use arrow_array::StringArray;
    use std::collections::HashSet;

    fn words(n: usize, offset: usize) -> String {
        (offset..offset + n).map(|i| format!("w{}", i * 7919 % 100_003)).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn simd_paths_match_generic() {
        let h = MinHasher::new(MinHashParams { bands: 9, rows: 13, ..Default::default() }).unwrap();
        let mut s1 = vec![u32::MAX; 117];
        let mut s2 = s1.clone();
        for x in [0u64, 1, 12345, u32::MAX as u64] {
            update_generic(&mut s1, &h.a, &h.b, x);
            select_update()(&mut s2, &h.a, &h.b, x);
        }
        assert_eq!(s1, s2);
    }

    #[test]
    fn identical_texts_identical_keys_and_estimate_tracks_jaccard() {
        let mut h = MinHasher::new(MinHashParams { bands: 32, rows: 8, ..Default::default() }).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // 1000 shared words out of 1000 + 2*100 distinct: 5-gram Jaccard ~ (996-0)/(1196+...)
        let base = words(1000, 0);
        assert!(h.signature(&base, &mut a));
        assert!(h.signature(&format!("  {}!!", base.to_uppercase()), &mut b));
        assert_eq!(a, b);
        let other = format!("{} {}", words(800, 0), words(200, 5000));
        assert!(h.signature(&other, &mut b));
        let truth = {
            let mut na = String::new();
            let mut nb = String::new();
            normalize_into(&base, &mut na);
            normalize_into(&other, &mut nb);
            let (mut sa, mut sb) = (HashSet::new(), HashSet::new());
            for_each_shingle(&na, 5, |s| {
                sa.insert(s.to_string());
            });
            for_each_shingle(&nb, 5, |s| {
                sb.insert(s.to_string());
            });
            sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
        };
        let est = estimate_jaccard(&a, &b);
        assert!((est - truth).abs() < 0.1, "estimate {est} truth {truth}");
    }

    #[test]
    fn columnar_output_and_nulls() {
        let texts = StringArray::from(vec![Some("the quick brown fox jumps over"), None, Some(" ,. "), Some("the quick brown fox jumps over")]);
        let out = txt_minhash(&texts, MinHashParams::default(), true).unwrap();
        let bands = out.column(0).as_list::<i32>();
        assert_eq!(bands.value(0).len(), 14);
        assert!(bands.is_null(1) && bands.is_null(2));
        assert_eq!(bands.value(0).as_primitive::<Int64Type>(), bands.value(3).as_primitive::<Int64Type>());
        let sig = out.column(1).as_binary::<i32>();
        assert_eq!(sig.value(0).len(), 112 * 4);
        let no_sig = txt_minhash(&texts, MinHashParams::default(), false).unwrap();
        assert_eq!(no_sig.num_columns(), 1);
    }

    #[test]
    fn band_keys_differ_by_band_index() {
        let h = MinHasher::new(MinHashParams { bands: 2, rows: 2, ..Default::default() }).unwrap();
        let mut k = Vec::new();
        h.band_keys(&[7, 7, 7, 7], &mut k);
        assert_ne!(k[0], k[1]);
    }

    #[test]
    fn rejects_bad_params() {
        assert!(MinHasher::new(MinHashParams { ngram: 0, ..Default::default() }).is_err());
        assert!(MinHasher::new(MinHashParams { bands: 0, ..Default::default() }).is_err());
    }
}
