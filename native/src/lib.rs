//! spark-mm native kernels.
//!
//! Every kernel is a pure function from Arrow arrays to Arrow arrays: no Python, no Spark, no
//! global state. Per-record failures are data (an error string in the row), never a panic or an
//! `Err` for the whole batch; `Err` is reserved for broken contracts (wrong input type).
//! The optional `python` feature adds the single bindings module that moves Arrow data across
//! the FFI boundary, releases the GIL and maps errors.

pub mod error;
pub mod dedup;
pub mod image;
pub mod text;

#[cfg(feature = "python")]
mod python;

pub use error::KernelError;
