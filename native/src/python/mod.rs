//! The one bindings module: Arrow PyCapsule I/O, GIL release and the single error mapping.
//!
//! Arrays arrive through the Arrow PyCapsule interface (`__arrow_c_array__`, zero-copy) and leave
//! as an [`ArrowExport`] object that pyarrow imports with `pa.array(obj)` (also zero-copy).

use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{make_array, Array, ArrayRef, StructArray};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};

use crate::error::KernelError;

mod dedup;
mod image;
mod text;

create_exception!(_native, NativeError, PyException, "A native kernel rejected its input or parameters.");

/// The single mapping from kernel errors to Python exceptions.
pub(crate) fn to_py_err(e: KernelError) -> PyErr {
    NativeError::new_err(e.to_string())
}

/// Import any object that implements `__arrow_c_array__` (pyarrow arrays, chunked-free).
pub(crate) fn import_array(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    if !obj.hasattr("__arrow_c_array__")? {
        return Err(PyTypeError::new_err(format!(
            "expected an Arrow array (an object with __arrow_c_array__), got {}",
            obj.get_type().name()?
        )));
    }
    let pair = obj.call_method0("__arrow_c_array__")?;
    let pair = pair.cast::<PyTuple>()?;
    let schema_capsule = pair.get_item(0)?;
    let schema_capsule = schema_capsule.cast::<PyCapsule>()?;
    let array_capsule = pair.get_item(1)?;
    let array_capsule = array_capsule.cast::<PyCapsule>()?;
    let schema_ptr = schema_capsule
        .pointer_checked(Some(c"arrow_schema"))?
        .as_ptr() as *const FFI_ArrowSchema;
    let array_ptr = array_capsule
        .pointer_checked(Some(c"arrow_array"))?
        .as_ptr() as *mut FFI_ArrowArray;
    // SAFETY: the capsules follow the Arrow C data interface; `from_raw` moves the array out of
    // its capsule (leaving a released husk), and the schema is only borrowed while it lives.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array_ptr);
        from_ffi(array, &*schema_ptr)
    }
    .map_err(|e| to_py_err(e.into()))?;
    Ok(make_array(data))
}

/// An exported Arrow array; `pyarrow.array(obj)` imports it through `__arrow_c_array__`.
#[pyclass(module = "spark_mm._native", frozen)]
pub struct ArrowExport {
    array: ArrayRef,
}

#[pymethods]
impl ArrowExport {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let _ = requested_schema; // we always export our own schema
        let (array, schema) = to_ffi(&self.array.to_data()).map_err(|e| to_py_err(e.into()))?;
        let schema = PyCapsule::new_with_value(py, schema, c"arrow_schema")?;
        let array = PyCapsule::new_with_value(py, array, c"arrow_array")?;
        PyTuple::new(py, [schema.into_any(), array.into_any()])
    }

    fn __len__(&self) -> usize {
        self.array.len()
    }
}

pub(crate) fn export(array: StructArray) -> ArrowExport {
    ArrowExport { array: std::sync::Arc::new(array) }
}

/// Each domain module (`image`, ...) registers its own functions here.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add_class::<ArrowExport>()?;
    image::register(m)?;
    text::register(m)?;
    dedup::register(m)?;
    Ok(())
}
