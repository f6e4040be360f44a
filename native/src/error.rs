//! The one error type kernels return for broken contracts (never for a bad record).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum KernelError {
    /// The caller passed an array of a type the kernel does not accept.
    #[error("{kernel}: expected {expected} input, got {got}")]
    InvalidInput { kernel: &'static str, expected: &'static str, got: String },
    /// A parameter is outside the range the kernel accepts.
    #[error("{kernel}: invalid parameter {param}: {message}")]
    InvalidParam { kernel: &'static str, param: &'static str, message: String },
    /// Arrow itself rejected an array we built or received.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

pub type Result<T> = std::result::Result<T, KernelError>;
