//! Python bindings of the dedup kernels: argument normalisation and GIL release only.

use std::sync::Arc;

use arrow_array::{ArrayRef, StringArray};
use pyo3::prelude::*;

use super::{export, import_array, to_py_err, ArrowExport};
use crate::dedup::{exact, minhash, normalize, phash, url};

fn export_array(array: ArrayRef) -> ArrowExport {
    ArrowExport { array }
}

/// Dedup text normalisation of every row (null stays null); see `native/src/dedup/normalize.rs`.
#[pyfunction]
fn txt_dedup_normalize(py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<ArrowExport> {
    let array = import_array(texts)?;
    let out = py
        .detach(|| {
            let mut v: Vec<Option<String>> = Vec::with_capacity(array.len());
            crate::dedup::for_each_str("txt_dedup_normalize", array.as_ref(), |r| v.push(r.map(normalize::normalize)))
                .map(|_| Arc::new(StringArray::from(v)) as ArrayRef)
        })
        .map_err(to_py_err)?;
    Ok(export_array(out))
}

/// xxh3-128 keys (16-byte binary) of raw bytes or strings.
#[pyfunction]
fn bytes_exact_key(py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<ArrowExport> {
    let array = import_array(values)?;
    let out = py.detach(|| exact::bytes_exact_key(array.as_ref())).map_err(to_py_err)?;
    Ok(export_array(out))
}

/// xxh3-128 keys of texts, after dedup normalisation when `normalize`.
#[pyfunction]
#[pyo3(signature = (texts, *, normalize))]
fn txt_exact_key(py: Python<'_>, texts: &Bound<'_, PyAny>, normalize: bool) -> PyResult<ArrowExport> {
    let array = import_array(texts)?;
    let out = py.detach(|| exact::txt_exact_key(array.as_ref(), normalize)).map_err(to_py_err)?;
    Ok(export_array(out))
}

/// xxh3-128 keys of canonical URLs.
#[pyfunction]
fn url_key(py: Python<'_>, urls: &Bound<'_, PyAny>) -> PyResult<ArrowExport> {
    let array = import_array(urls)?;
    let out = py.detach(|| url::url_key(array.as_ref())).map_err(to_py_err)?;
    Ok(export_array(out))
}

/// MinHash LSH band keys (and optionally signatures); a struct array `{bands[, signature]}`.
#[pyfunction]
#[pyo3(signature = (texts, *, ngram, bands, rows, seed, with_signature))]
fn txt_minhash(
    py: Python<'_>,
    texts: &Bound<'_, PyAny>,
    ngram: usize,
    bands: usize,
    rows: usize,
    seed: u64,
    with_signature: bool,
) -> PyResult<ArrowExport> {
    let array = import_array(texts)?;
    let params = minhash::MinHashParams { ngram, bands, rows, seed };
    let out = py
        .detach(|| minhash::txt_minhash(array.as_ref(), params, with_signature))
        .map_err(to_py_err)?;
    Ok(export(out))
}

/// Multi-index band keys of a 64-bit pHash column for Hamming radius `radius`.
#[pyfunction]
#[pyo3(signature = (hashes, *, radius))]
fn phash_band_keys(py: Python<'_>, hashes: &Bound<'_, PyAny>, radius: u32) -> PyResult<ArrowExport> {
    let array = import_array(hashes)?;
    let out = py.detach(|| phash::phash_band_keys(array.as_ref(), radius)).map_err(to_py_err)?;
    Ok(export_array(out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(txt_dedup_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(bytes_exact_key, m)?)?;
    m.add_function(wrap_pyfunction!(txt_exact_key, m)?)?;
    m.add_function(wrap_pyfunction!(url_key, m)?)?;
    m.add_function(wrap_pyfunction!(txt_minhash, m)?)?;
    m.add_function(wrap_pyfunction!(phash_band_keys, m)?)?;
    Ok(())
}
