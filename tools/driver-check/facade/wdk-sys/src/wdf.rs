//! In the real crate: bindgen's output for `wdf.h` (the WDF routine prototypes and the function
//! table). WDF routines are called through [`crate::call_unsafe_wdf_function_binding!`], so this
//! facade leaves the module empty; it exists so that the path `wdk_sys::wdf` resolves.
