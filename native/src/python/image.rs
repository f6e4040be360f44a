//! Python bindings of the image kernels: argument normalisation and GIL release only.

use pyo3::prelude::*;

use super::{export, import_array, to_py_err, ArrowExport};
use crate::image::meta::{img_meta as img_meta_kernel, DecodeGuard};

/// Header-only image metadata with a decode guard; see `native/src/image/meta.rs`.
#[pyfunction]
#[pyo3(signature = (images, *, max_bytes, max_pixels))]
fn img_meta(py: Python<'_>, images: &Bound<'_, PyAny>, max_bytes: u64, max_pixels: u64) -> PyResult<ArrowExport> {
    let array = import_array(images)?;
    let guard = DecodeGuard { max_bytes, max_pixels };
    let out = py.detach(|| img_meta_kernel(array.as_ref(), guard)).map_err(to_py_err)?;
    Ok(export(out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(img_meta, m)?)?;
    Ok(())
}
