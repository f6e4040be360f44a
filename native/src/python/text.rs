//! Python bindings of the text kernels: argument parsing, GIL release and list loading only.

use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use super::{export, import_array, to_py_err, ArrowExport};
use crate::text::rules::{txt_rules as txt_rules_kernel, Rule, RuleSpec};
use crate::text::url::{url_filter as url_filter_kernel, UrlLists as UrlListsInner, UrlRule};

/// Run text rules over a string column; `specs_json` is a JSON list of
/// `{"name": ..., "rule": ..., "params": {...}}`; `languages` (optional string column) is each
/// row's language for the bad-words rule; see `native/src/text/rules.rs`.
#[pyfunction]
#[pyo3(signature = (texts, specs_json, languages=None))]
fn txt_rules(py: Python<'_>, texts: &Bound<'_, PyAny>, specs_json: &str, languages: Option<&Bound<'_, PyAny>>) -> PyResult<ArrowExport> {
    let specs: Vec<RuleSpec> =
        serde_json::from_str(specs_json).map_err(|e| PyValueError::new_err(format!("invalid text rule spec: {e}")))?;
    let array = import_array(texts)?;
    let langs = languages.map(import_array).transpose()?;
    let out = py.detach(|| txt_rules_kernel(array.as_ref(), &specs, langs.as_deref())).map_err(to_py_err)?;
    Ok(export(out))
}

/// The reference defaults of a rule as JSON (`gopher_quality`, `gopher_repetition`, `c4_tfds`,
/// `c4_datatrove`, `fineweb`, `length`, `pii`, `line_corrections`).
#[pyfunction]
fn txt_rule_defaults(tag: &str) -> PyResult<String> {
    let rule = Rule::defaults(tag).ok_or_else(|| PyValueError::new_err(format!("unknown text rule {tag:?}")))?;
    serde_json::to_string(&rule).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Loaded URL block lists (domain and URL hashes, word lists, sub-word automaton).
#[pyclass(module = "spark_mm._native", frozen)]
pub struct UrlLists {
    inner: UrlListsInner,
}

#[pymethods]
impl UrlLists {
    #[new]
    #[pyo3(signature = (*, domain_files, url_files, banned_words, soft_banned_words, banned_subwords, extra_domains=Vec::new(), extra_urls=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        domain_files: Vec<PathBuf>,
        url_files: Vec<PathBuf>,
        banned_words: Vec<String>,
        soft_banned_words: Vec<String>,
        banned_subwords: Vec<String>,
        extra_domains: Vec<String>,
        extra_urls: Vec<String>,
    ) -> PyResult<Self> {
        let inner = py
            .detach(|| {
                let d: Vec<&std::path::Path> = domain_files.iter().map(|p| p.as_path()).collect();
                let u: Vec<&std::path::Path> = url_files.iter().map(|p| p.as_path()).collect();
                let mut l = UrlListsInner::load(&d, &u, &banned_words, &soft_banned_words, &banned_subwords)?;
                l.extend(&extra_domains, &extra_urls);
                Ok::<_, std::io::Error>(l)
            })
            .map_err(|e| PyOSError::new_err(format!("cannot read URL block lists: {e}")))?;
        Ok(Self { inner })
    }

    /// (domains, urls, banned words, soft-banned words, banned sub-words)
    fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        self.inner.sizes()
    }
}

/// Decide every URL; see `native/src/text/url.rs`.
#[pyfunction]
#[pyo3(signature = (name, urls, registered_domains, fqdns, lists, rule_json))]
fn url_filter(
    py: Python<'_>,
    name: &str,
    urls: &Bound<'_, PyAny>,
    registered_domains: &Bound<'_, PyAny>,
    fqdns: &Bound<'_, PyAny>,
    lists: &UrlLists,
    rule_json: &str,
) -> PyResult<ArrowExport> {
    let rule: UrlRule = serde_json::from_str(rule_json).map_err(|e| PyValueError::new_err(format!("invalid url rule: {e}")))?;
    let (u, r, f) = (import_array(urls)?, import_array(registered_domains)?, import_array(fqdns)?);
    let out = py
        .detach(|| url_filter_kernel(name, u.as_ref(), r.as_ref(), f.as_ref(), &lists.inner, &rule))
        .map_err(to_py_err)?;
    Ok(export(out))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(txt_rules, m)?)?;
    m.add_function(wrap_pyfunction!(txt_rule_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(url_filter, m)?)?;
    m.add_class::<UrlLists>()?;
    Ok(())
}
