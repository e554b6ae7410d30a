//! The executable stand-in's routing (feature `model`): the function tables that the model of
//! KMDF and the kernel (crate `logbridge-kmdf`) installs, as `WdfLdr` fills `WdfFunctions` when a
//! driver binds to the framework and the loader resolves a driver's imports from `ntoskrnl.exe`.

extern crate std;

use crate::__wdf_functions::WdfFunctionTable;
use crate::ntddk::NtoskrnlTable;
use std::sync::OnceLock;

static WDF_FUNCTIONS: OnceLock<WdfFunctionTable> = OnceLock::new();
static NTOSKRNL: OnceLock<NtoskrnlTable> = OnceLock::new();

/// Installs the model's routines. The first call wins; later calls (one per modelled system in a
/// process) install the same functions and are ignored.
pub fn install(wdf: WdfFunctionTable, ntoskrnl: NtoskrnlTable) {
    let _ = WDF_FUNCTIONS.set(wdf);
    let _ = NTOSKRNL.set(ntoskrnl);
}

pub(crate) fn wdf_functions() -> &'static WdfFunctionTable {
    match WDF_FUNCTIONS.get() {
        Some(table) => table,
        None => std::panic!("a WDF routine was called before the model installed its function table"),
    }
}

pub(crate) fn ntoskrnl() -> &'static NtoskrnlTable {
    match NTOSKRNL.get() {
        Some(table) => table,
        None => std::panic!("a kernel routine was called before the model installed its routines"),
    }
}
