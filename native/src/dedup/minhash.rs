//! MinHash signatures over word n-gram shingles, and LSH band keys.
//!
//! Scheme (fast universal hashing, no per-permutation re-hashing of the shingle):
//! 1. the text is normalised in one pass straight into 64-bit word hashes ([`word_hash`], no
//!    normalised string is built), and each word n-gram shingle (see
//!    [`super::normalize::for_each_shingle`] for which) gets a 32-bit key `x` mixing its `n` word
//!    hashes ([`for_each_shingle_key`]); two distinct shingles collide with probability ~2^-32;
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
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::for_each_str;
use super::normalize::{normalize_with, NormSink};
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
    pos_mult: Vec<u64>,
    words: Vec<u64>,
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
        let mut pstate = 0x005E_ED0F_5111_6135_u64;
        let pos_mult = (0..params.ngram).map(|_| splitmix64(&mut pstate) | 1).collect();
        Ok(Self { params, a, b, pos_mult, words: Vec::new() })
    }

    pub fn params(&self) -> MinHashParams {
        self.params
    }

    /// Signature of one raw text into `sig` (resized to `num_perm`); false when the text has no
    /// words after normalisation (then `sig` is meaningless).
    pub fn signature(&mut self, text: &str, sig: &mut Vec<u32>) -> bool {
        let mut words = std::mem::take(&mut self.words);
        normalised_word_hashes(text, &mut words);
        sig.clear();
        sig.resize(self.a.len(), u32::MAX);
        let update = select_update();
        let ok = for_each_shingle_key(&words, &self.pos_mult, |x| update(sig, &self.a, &self.b, x));
        self.words = words;
        ok
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

#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// 64-bit hash of one normalised word (multiply-fold over 8-byte chunks, length-seeded).
#[inline]
pub fn word_hash(word: &[u8]) -> u64 {
    const P0: u64 = 0xA076_1D64_78BD_642F;
    const P1: u64 = 0xE703_7ED1_A0B4_28DB;
    let mut h = mum(word.len() as u64 ^ P0, P1);
    for chunk in word.chunks(8) {
        let mut v = [0u8; 8];
        v[..chunk.len()].copy_from_slice(chunk);
        h = mum(h ^ u64::from_le_bytes(v) ^ P0, P1 ^ h.rotate_left(17));
    }
    mum(h ^ P1, P0)
}

/// Collects the hash of every word of the normalised text, without building the string.
struct WordSink<'a> {
    word: Vec<u8>,
    out: &'a mut Vec<u64>,
}

impl WordSink<'_> {
    #[inline(always)]
    fn finish(&mut self) {
        if !self.word.is_empty() {
            self.out.push(word_hash(&self.word));
            self.word.clear();
        }
    }
}

impl NormSink for WordSink<'_> {
    #[inline(always)]
    fn bytes(&mut self, run: &[u8]) {
        self.word.extend_from_slice(run);
    }
    fn char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
    #[inline(always)]
    fn zero(&mut self) {
        self.word.push(b'0');
    }
    #[inline(always)]
    fn space(&mut self) {
        self.finish();
    }
}

/// Word hashes of the dedup-normalised form of `text` (one normalisation pass, no string).
pub fn normalised_word_hashes(text: &str, out: &mut Vec<u64>) {
    out.clear();
    let mut sink = WordSink { word: Vec::with_capacity(32), out };
    normalize_with(text, &mut sink);
    sink.finish();
}

/// Calls `f` with the 32-bit key of every word `n`-gram given the word hashes of a text (see
/// [`super::normalize::for_each_shingle`] for which n-grams: all windows of `n` words, or the
/// whole text when it has fewer). Key = high 32 bits of `Σ_j K_j · w_{i+j} mod 2^64` with odd
/// constants `K_j` per position: equal shingles get equal keys, distinct ones collide with
/// probability ~2^-32, and the `n` multiplies are independent (no dependency chain).
/// Returns false when there are no words.
pub fn for_each_shingle_key<F: FnMut(u32)>(words: &[u64], pos_mult: &[u64], mut f: F) -> bool {
    let n = pos_mult.len();
    if words.is_empty() {
        return false;
    }
    let key = |ws: &[u64]| -> u32 {
        let h = ws.iter().zip(pos_mult).fold(0u64, |acc, (&w, &k)| acc.wrapping_add(w.wrapping_mul(k)));
        (h >> 32) as u32
    };
    if words.len() < n {
        f(key(words));
    } else {
        for win in words.windows(n) {
            f(key(win));
        }
    }
    true
}

type UpdateFn = fn(&mut [u32], &[u64], &[u64], u32);

#[inline(always)]
fn update_generic(sig: &mut [u32], a: &[u64], b: &[u64], x: u32) {
    let x = u64::from(x);
    for ((s, &ai), &bi) in sig.iter_mut().zip(a).zip(b) {
        let v = (ai.wrapping_mul(x).wrapping_add(bi) >> 32) as u32;
        *s = (*s).min(v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn update_avx512(sig: &mut [u32], a: &[u64], b: &[u64], x: u32) {
    update_generic(sig, a, b, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_avx2(sig: &mut [u32], a: &[u64], b: &[u64], x: u32) {
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
    use crate::dedup::normalize::{for_each_shingle, normalize, normalize_into};
    use std::collections::HashSet;

    #[test]
    fn fused_word_hashes_match_normalised_string() {
        for t in ["  Héllo,  WORLD!\n 2024-01-05 ", "don't stop—1,000 naïve «cafés»", "", " ?! ", "x\u{0}y\u{85}z ÉCOLE ß"] {
            let mut got = Vec::new();
            normalised_word_hashes(t, &mut got);
            let n = normalize(t);
            let want: Vec<u64> = if n.is_empty() { vec![] } else { n.split(' ').map(|w| word_hash(w.as_bytes())).collect() };
            assert_eq!(got, want, "{t:?} -> {n:?}");
        }
        let long = "a".repeat(200) + " B" + &"c".repeat(70);
        let mut got = Vec::new();
        normalised_word_hashes(&long, &mut got);
        assert_eq!(got, vec![word_hash("a".repeat(200).as_bytes()), word_hash(("b".to_string() + &"c".repeat(70)).as_bytes())]);
    }

    #[test]
    fn shingle_keys_cover_the_reference_shingles() {
        // Same number of keys as reference shingles, equal shingles -> equal keys.
        let pos = [3u64, 5, 7];
        let text = "a b c a b c d";
        let n = normalize(text);
        let mut refs = Vec::new();
        for_each_shingle(&n, 3, |s| refs.push(s.to_string()));
        let words: Vec<u64> = n.split(' ').map(|w| word_hash(w.as_bytes())).collect();
        let mut keys = Vec::new();
        assert!(for_each_shingle_key(&words, &pos, |k| keys.push(k)));
        assert_eq!(keys.len(), refs.len());
        assert_eq!(keys[0], keys[3]); // "a b c" twice
        assert_ne!(keys[0], keys[1]);
        assert!(!for_each_shingle_key(&[], &pos, |_| ()));
    }

    fn words(n: usize, offset: usize) -> String {
        (offset..offset + n).map(|i| format!("w{}", i * 7919 % 100_003)).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn simd_paths_match_generic() {
        let h = MinHasher::new(MinHashParams { bands: 9, rows: 13, ..Default::default() }).unwrap();
        let mut s1 = vec![u32::MAX; 117];
        let mut s2 = s1.clone();
        for x in [0u32, 1, 12345, u32::MAX] {
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

