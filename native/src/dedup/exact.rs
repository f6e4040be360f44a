//! Exact content keys: xxh3-128 of bytes, or of the dedup-normalised text.
//!
//! Keys are 16 bytes, big-endian (the high 64 bits first), in a Binary column: compact to
//! shuffle, and the same bytes go into the `dedup_keys` table.

use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{Array, ArrayRef};
use xxhash_rust::xxh3::xxh3_128;

use super::normalize::normalize_into;
use super::{for_each_bytes, for_each_str};
use crate::error::Result;

/// The 16-byte key of `bytes`.
///
/// ```
/// let k = _native::dedup::exact::key128(b"abc");
/// assert_eq!(k.len(), 16);
/// assert_ne!(k, _native::dedup::exact::key128(b"abd"));
/// ```
pub fn key128(bytes: &[u8]) -> [u8; 16] {
    xxh3_128(bytes).to_be_bytes()
}

/// xxh3-128 key of every row of a binary or string array (raw bytes, no normalisation).
/// Null rows get a null key.
pub fn bytes_exact_key(values: &dyn Array) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::with_capacity(values.len(), values.len() * 16);
    for_each_bytes("bytes_exact_key", values, |row| match row {
        Some(b) => out.append_value(key128(b)),
        None => out.append_null(),
    })?;
    Ok(Arc::new(out.finish()))
}

/// xxh3-128 key of every row of a string array after dedup normalisation (see
/// [`super::normalize`]) when `normalize` is true, of the raw UTF-8 otherwise. Null rows, and
/// rows that normalise to the empty string, get a null key (empty texts are not duplicates of
/// each other).
pub fn txt_exact_key(texts: &dyn Array, normalize: bool) -> Result<ArrayRef> {
    let mut out = BinaryBuilder::with_capacity(texts.len(), texts.len() * 16);
    let mut buf = String::new();
    for_each_str("txt_exact_key", texts, |row| match row {
        Some(t) if normalize => {
            normalize_into(t, &mut buf);
            if buf.is_empty() {
                out.append_null()
            } else {
                out.append_value(key128(buf.as_bytes()))
            }
        }
        Some(t) if !t.is_empty() => out.append_value(key128(t.as_bytes())),
        _ => out.append_null(),
    })?;
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::{BinaryArray, Int32Array, StringArray};

    #[test]
    fn normalised_keys_ignore_case_punct_and_spacing() {
        let a = StringArray::from(vec![Some("Hello, World!"), Some("hello   world"), Some("hello there"), None, Some(" ?! ")]);
        let k = txt_exact_key(&a, true).unwrap();
        let k = k.as_binary::<i32>();
        assert_eq!(k.value(0), k.value(1));
        assert_ne!(k.value(0), k.value(2));
        assert!(k.is_null(3) && k.is_null(4));
        let raw = txt_exact_key(&a, false).unwrap();
        let raw = raw.as_binary::<i32>();
        assert_ne!(raw.value(0), raw.value(1));
        assert_eq!(raw.value(0), key128(b"Hello, World!"));
    }

    #[test]
    fn byte_keys_are_xxh3_128_big_endian() {
        let a = BinaryArray::from_opt_vec(vec![Some(b"x".as_slice()), None]);
        let k = bytes_exact_key(&a).unwrap();
        let k = k.as_binary::<i32>();
        assert_eq!(k.value(0), xxh3_128(b"x").to_be_bytes());
        assert!(k.is_null(1));
        assert!(bytes_exact_key(&Int32Array::from(vec![1])).is_err());
    }
}
