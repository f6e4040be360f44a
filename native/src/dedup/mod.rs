//! Dedup kernels: exact content keys, text normalisation and shingling, MinHash + LSH band keys,
//! and pHash multi-index band keys. All pure functions over Arrow arrays; Spark does the grouping.

pub mod exact;
pub mod minhash;
pub mod normalize;
pub mod phash;
pub mod url;

use arrow_array::{Array, BinaryArray, LargeBinaryArray, LargeStringArray, StringArray, StringViewArray};

use crate::error::{KernelError, Result};

/// Calls `f` with each row's text (`None` for null) of a Utf8, LargeUtf8 or Utf8View array.
pub(crate) fn for_each_str<F>(kernel: &'static str, array: &dyn Array, mut f: F) -> Result<()>
where
    F: FnMut(Option<&str>),
{
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        a.iter().for_each(&mut f);
    } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        a.iter().for_each(&mut f);
    } else if let Some(a) = any.downcast_ref::<StringViewArray>() {
        a.iter().for_each(&mut f);
    } else {
        return Err(KernelError::InvalidInput {
            kernel,
            expected: "utf8, large_utf8 or utf8_view",
            got: format!("{:?}", array.data_type()),
        });
    }
    Ok(())
}

/// Calls `f` with each row's bytes (`None` for null) of a string or binary array of any width.
pub(crate) fn for_each_bytes<F>(kernel: &'static str, array: &dyn Array, mut f: F) -> Result<()>
where
    F: FnMut(Option<&[u8]>),
{
    let any = array.as_any();
    if let Some(a) = any.downcast_ref::<BinaryArray>() {
        a.iter().for_each(&mut f);
        Ok(())
    } else if let Some(a) = any.downcast_ref::<LargeBinaryArray>() {
        a.iter().for_each(&mut f);
        Ok(())
    } else {
        for_each_str(kernel, array, |s| f(s.map(str::as_bytes))).map_err(|_| KernelError::InvalidInput {
            kernel,
            expected: "binary or string",
            got: format!("{:?}", array.data_type()),
        })
    }
}
