//! Web-text kernels: the rules of RefinedWeb / FineWeb and the heuristics they build on
//! (Gopher, C4), a PII mapper and the RefinedWeb URL filter.
//!
//! [`doc::Doc`] is the one analysis pass (words, lines, lengths) every rule reads;
//! [`rules::txt_rules`] is the columnar wrapper that runs any set of rules over a string column.

pub mod badwords;
pub mod c4;
pub mod chars;
pub mod doc;
pub mod fineweb;
pub mod gopher;
pub mod lines;
pub mod pii;
pub mod rules;
pub mod tokenize;
pub mod url;

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_schema::DataType;

use crate::error::{KernelError, Result};

/// Call `f` for every row of a Utf8 / LargeUtf8 / Utf8View array (None for nulls).
pub(crate) fn for_each_str(kernel: &'static str, array: &dyn Array, mut f: impl FnMut(Option<&str>)) -> Result<()> {
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().for_each(&mut f),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(&mut f),
        DataType::Utf8View => array.as_string_view().iter().for_each(&mut f),
        DataType::Null => (0..array.len()).for_each(|_| f(None)),
        other => {
            return Err(KernelError::InvalidInput { kernel, expected: "string", got: other.to_string() });
        }
    }
    Ok(())
}
