//! Python bindings of the image kernels: argument normalisation and GIL release only.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::Array;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{export, import_array, to_py_err, ArrowExport};
use crate::image::signals::SignalMode;
use crate::image::meta::{img_meta as img_meta_kernel, DecodeGuard};
use crate::image::signals::{img_signals as img_signals_kernel, img_signals_pixels as img_signals_pixels_kernel, SignalParams};

/// Header-only image metadata with a decode guard; see `native/src/image/meta.rs`.
#[pyfunction]
#[pyo3(signature = (images, *, max_bytes, max_pixels))]
fn img_meta(py: Python<'_>, images: &Bound<'_, PyAny>, max_bytes: u64, max_pixels: u64) -> PyResult<ArrowExport> {
    let array = import_array(images)?;
    let guard = DecodeGuard { max_bytes, max_pixels };
    let out = py.detach(|| img_meta_kernel(array.as_ref(), guard)).map_err(to_py_err)?;
    Ok(export(out))
}

#[allow(clippy::too_many_arguments)]
fn signal_params(
    mode: &str,
    max_bytes: u64,
    max_pixels: u64,
    working_side_px: u32,
    time_budget_ms: u64,
    near_mono_chroma_std: f32,
    quality: bool,
    degradations: bool,
    hashes: bool,
) -> PyResult<SignalParams> {
    let mode = match mode {
        "fast" => SignalMode::Fast,
        "exact" => SignalMode::Exact,
        other => return Err(PyValueError::new_err(format!("mode must be 'fast' or 'exact', got {other:?}"))),
    };
    Ok(SignalParams {
        guard: DecodeGuard { max_bytes, max_pixels },
        mode,
        working_side_px,
        time_budget_ms,
        near_mono_chroma_std,
        quality,
        degradations,
        hashes,
    })
}

/// Fused decode-once image signals; see `native/src/image/signals.rs`.
#[pyfunction]
#[pyo3(signature = (images, *, mode="fast", max_bytes=64 << 20, max_pixels=178_956_970, working_side_px=256,
    time_budget_ms=10_000, near_mono_chroma_std=4.0, quality=true, degradations=true, hashes=true))]
#[allow(clippy::too_many_arguments)]
fn img_signals(
    py: Python<'_>,
    images: &Bound<'_, PyAny>,
    mode: &str,
    max_bytes: u64,
    max_pixels: u64,
    working_side_px: u32,
    time_budget_ms: u64,
    near_mono_chroma_std: f32,
    quality: bool,
    degradations: bool,
    hashes: bool,
) -> PyResult<ArrowExport> {
    let p = signal_params(mode, max_bytes, max_pixels, working_side_px, time_budget_ms, near_mono_chroma_std, quality, degradations, hashes)?;
    let array = import_array(images)?;
    let out = py.detach(|| img_signals_kernel(array.as_ref(), &p)).map_err(to_py_err)?;
    Ok(export(out))
}

fn int32_values(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<i32>> {
    let a = import_array(obj)?;
    let a = a
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| PyValueError::new_err(format!("{what} must be an int32 array")))?;
    if a.null_count() > 0 {
        return Err(PyValueError::new_err(format!("{what} must not contain nulls")));
    }
    Ok(a.values().to_vec())
}

/// The signals of `img_signals` from already-decoded 8-bit pixels (grey or RGB rows).
#[pyfunction]
#[pyo3(signature = (pixels, widths, heights, channels, *, mode="fast", working_side_px=256, near_mono_chroma_std=4.0,
    quality=true, degradations=true, hashes=true))]
#[allow(clippy::too_many_arguments)]
fn img_signals_pixels(
    py: Python<'_>,
    pixels: &Bound<'_, PyAny>,
    widths: &Bound<'_, PyAny>,
    heights: &Bound<'_, PyAny>,
    channels: &Bound<'_, PyAny>,
    mode: &str,
    working_side_px: u32,
    near_mono_chroma_std: f32,
    quality: bool,
    degradations: bool,
    hashes: bool,
) -> PyResult<ArrowExport> {
    let p = signal_params(mode, u64::MAX, u64::MAX, working_side_px, 600_000, near_mono_chroma_std, quality, degradations, hashes)?;
    let array = import_array(pixels)?;
    let (w, h, c) = (int32_values(widths, "widths")?, int32_values(heights, "heights")?, int32_values(channels, "channels")?);
    let out = py.detach(|| img_signals_pixels_kernel(array.as_ref(), &w, &h, &c, &p)).map_err(to_py_err)?;
    Ok(export(out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(img_meta, m)?)?;
    m.add_function(wrap_pyfunction!(img_signals, m)?)?;
    m.add_function(wrap_pyfunction!(img_signals_pixels, m)?)?;
    Ok(())
}
