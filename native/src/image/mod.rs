//! Image kernels over Arrow binary columns of encoded images.

pub mod decode;
pub mod degrade;
pub mod hash;
pub mod meta;
pub mod quality;
pub mod resample;
pub mod signals;

use arrow_array::{Array, BinaryArray, LargeBinaryArray};

use crate::error::{KernelError, Result};

/// Calls `f` with each row's encoded bytes (`None` for a null row) of a Binary or LargeBinary array.
pub(crate) fn for_each_binary<F>(kernel: &'static str, array: &dyn Array, mut f: F) -> Result<()>
where
    F: FnMut(Option<&[u8]>),
{
    if let Some(a) = array.as_any().downcast_ref::<BinaryArray>() {
        a.iter().for_each(&mut f);
        Ok(())
    } else if let Some(a) = array.as_any().downcast_ref::<LargeBinaryArray>() {
        a.iter().for_each(&mut f);
        Ok(())
    } else {
        Err(KernelError::InvalidInput {
            kernel,
            expected: "binary or large_binary",
            got: format!("{:?}", array.data_type()),
        })
    }
}
