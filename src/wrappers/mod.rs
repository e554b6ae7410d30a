//! Safe wrappers over the kernel and KMDF routines LogBridge calls: the only module that names
//! `wdk_sys`, and the only one with `unsafe` code.
//!
//! One type per raw resource, whose methods encode the routine's rules:
//!
//! | Type | Resource | Rules it keeps |
//! |---|---|---|
//! | [`pool::NonPagedBuffer`] | `ExAllocatePool2(POOL_FLAG_NON_PAGED)` block | freed once, by `Drop`, with the same tag |
//! | [`errorlog::ErrorLogEntry`] | `IoAllocateErrorLogEntry` entry | size checked before the `UCHAR` (an `EntrySize`); `write` consumes it, so a written entry cannot be freed; an unwritten one is freed by `Drop` |
//! | [`wmi::WmiEventSource`] | WMI provider and instance, `IoWMIWriteEvent` | fire only when enabled; the item is WMI's on success and comes back to be freed on failure |
//! | [`sync::SpinLocked`] | WDFSPINLOCK and the data it guards | data reachable only while the lock is held; released by a guard |
//! | [`sync::WaitLock`] | WDFWAITLOCK | same, at PASSIVE_LEVEL |
//! | [`request::Request`] | a WDFREQUEST the driver owns | completed exactly once: `complete` and a successful `forward_to` consume it; buffers borrow it, so none outlives completion |
//! | [`request::ManualQueue`] | a manual WDFQUEUE | requests retrieved from it are owned `Request`s |
//! | [`device::Device`], [`device::DeviceInit`], [`device::RegistryKey`] | WDFDEVICE and its creation, the `Parameters` key | context installed once before any I/O callback can run; key closed by `Drop` |
//!
//! `callbacks` holds `DriverEntry` and every KMDF callback; each turns its raw handles into these
//! types and calls the safe handler in [`crate::driver`].
//!
//! # IRQL of every routine called
//! | Routine | IRQL | Wrapper |
//! |---|---|---|
//! | `WdfDriverCreate` | PASSIVE | `callbacks::driver_entry` |
//! | `WdfDeviceInitSetIoType`, `WdfDeviceInitAssignSDDLString`, `WdfDeviceInitSetCharacteristics`, `WdfDeviceInitSetFileObjectConfig`, `WdfDeviceCreate` | PASSIVE | `DeviceInit` |
//! | `WdfObjectGetTypedContextWorker` | <= DISPATCH | `device::context` |
//! | `WdfDeviceCreateDeviceInterface`, `WdfDeviceAssignMofResourceName`, `WdfIoQueueCreate`, `WdfDeviceWdmGetDeviceObject` | PASSIVE (the last <= DISPATCH) | `Device` |
//! | `WdfDriverOpenParametersRegistryKey`, `WdfRegistryQueryULong`, `WdfRegistryClose` | PASSIVE | `RegistryKey` |
//! | `WdfSpinLockCreate` / `Acquire` / `Release` | <= DISPATCH | `SpinLocked` |
//! | `WdfWaitLockCreate` / `Acquire` / `Release` | PASSIVE (no timeout) | `WaitLock` |
//! | `WdfWmiProviderCreate`, `WdfWmiInstanceCreate` | PASSIVE | `WmiEventSource::create` |
//! | `WdfWmiProviderIsEnabled` | <= DISPATCH | `WmiEventSource::enabled` |
//! | `IoWMIDeviceObjectToProviderId` | <= DISPATCH (each event, when it is fired) | `WmiEventSource::provider_id` |
//! | `IoWMIWriteEvent` | <= APC (checked by the core) | `WmiEventSource::write_event` |
//! | `IoAllocateErrorLogEntry`, `IoWriteErrorLogEntry`, `IoFreeErrorLogEntry` | <= DISPATCH (checked by the core) | `ErrorLogEntry` |
//! | `ExAllocatePool2`, `ExFreePoolWithTag` | <= DISPATCH | `NonPagedBuffer` |
//! | `KeGetCurrentIrql`, `KeQuerySystemTimePrecise`, `KeQueryUnbiasedInterruptTime` | any | `clock` |
//! | `WdfIoQueueGetDevice`, `WdfFileObjectGetDevice`, `WdfRequestGetFileObject`, `WdfRequestGetRequestorProcessId` | <= DISPATCH | `callbacks`, `Request` |
//! | `WdfRequestRetrieveInputBuffer`, `WdfRequestRetrieveOutputBuffer` | <= DISPATCH | `Request` |
//! | `WdfRequestCompleteWithInformation`, `WdfRequestForwardToIoQueue`, `WdfRequestComplete` (only in `Drop`, for a request no path completed) | <= DISPATCH | `Request` |
//! | `WdfIoQueueRetrieveNextRequest`, `WdfIoQueueRetrieveRequestByFileObject` | <= DISPATCH | `ManualQueue` |

pub(crate) mod callbacks;
pub mod clock;
pub mod device;
pub mod errorlog;
pub mod pool;
pub mod request;
pub mod sync;
pub mod wmi;

use logbridge_core::NtStatus;

/// `Result` of a routine that returns an NTSTATUS: `Ok` for success and informational codes.
pub(crate) const fn check(raw: wdk_sys::NTSTATUS) -> Result<(), NtStatus> {
    if wdk_sys::NT_SUCCESS(raw) { Ok(()) } else { Err(NtStatus(raw)) }
}

/// `sizeof(T)` as the `ULONG` that KMDF's `Size` fields hold. Use it through [`struct_size!`],
/// which evaluates it in a `const`, so the bound check happens at compile time.
pub(crate) const fn ulong_size_of<T>() -> wdk_sys::ULONG {
    let size = core::mem::size_of::<T>();
    assert!(size <= u32::MAX as usize);
    #[allow(clippy::cast_possible_truncation)]
    let size = size as wdk_sys::ULONG;
    size
}

/// `sizeof(T)` as a `ULONG`, computed at compile time (what `WDF_*_INIT` puts in `Size`).
macro_rules! struct_size {
    ($type:ty) => {{
        const SIZE: wdk_sys::ULONG = $crate::wrappers::ulong_size_of::<$type>();
        SIZE
    }};
}
pub(crate) use struct_size;

/// ASCII text as UTF-16 code units, for the fixed strings KMDF takes as `UNICODE_STRING`s. Only
/// evaluated in `const` items ([`wide!`]), where a non-ASCII byte or a wrong length stops the
/// build instead of running.
pub(crate) const fn ascii_to_utf16<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    assert!(bytes.len() == N, "length mismatch");
    let mut units = [0u16; N];
    let mut index = 0;
    while index < N {
        #[allow(clippy::indexing_slicing)]
        let byte = bytes[index];
        assert!(byte.is_ascii() && byte != 0, "not printable ASCII");
        #[allow(clippy::indexing_slicing)]
        {
            units[index] = byte as u16;
        }
        index = index.saturating_add(1);
    }
    units
}

/// A `&'static [u16]` holding the UTF-16 form of an ASCII string constant, computed at compile time.
macro_rules! wide {
    ($text:expr) => {{
        const TEXT: &str = $text;
        const UNITS: [u16; TEXT.len()] = $crate::wrappers::ascii_to_utf16::<{ TEXT.len() }>(TEXT);
        &UNITS as &'static [u16]
    }};
}
pub(crate) use wide;

/// A counted UTF-16 string over static text (`UNICODE_STRING`, not NUL-terminated). KMDF only
/// reads it (every parameter that takes one is a `PCUNICODE_STRING`).
pub(crate) fn unicode_string(text: &'static [u16]) -> wdk_sys::UNICODE_STRING {
    let bytes = u16::try_from(core::mem::size_of_val(text)).unwrap_or(0);
    wdk_sys::UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: text.as_ptr().cast_mut() }
}

/// The core's GUID in the layout of `wdk_sys::GUID`.
pub(crate) const fn guid(value: logbridge_core::Guid) -> wdk_sys::GUID {
    wdk_sys::GUID { Data1: value.data1, Data2: value.data2, Data3: value.data3, Data4: value.data4 }
}

/// A KMDF enum constant (bindgen makes them `c_int`) for a `ULONG` field: the same bits, as C
/// converts it.
pub(crate) const fn flag(value: core::ffi::c_int) -> wdk_sys::ULONG {
    wdk_sys::ULONG::from_ne_bytes(value.to_ne_bytes())
}

/// The `Size`/`ExecutionLevel`/`SynchronizationScope` that `WDF_OBJECT_ATTRIBUTES_INIT` sets:
/// zero is *Invalid* for both enums and KMDF rejects it.
pub(crate) fn object_attributes() -> wdk_sys::WDF_OBJECT_ATTRIBUTES {
    wdk_sys::WDF_OBJECT_ATTRIBUTES {
        Size: struct_size!(wdk_sys::WDF_OBJECT_ATTRIBUTES),
        ExecutionLevel: wdk_sys::_WDF_EXECUTION_LEVEL::WdfExecutionLevelInheritFromParent,
        SynchronizationScope: wdk_sys::_WDF_SYNCHRONIZATION_SCOPE::WdfSynchronizationScopeInheritFromParent,
        ..wdk_sys::WDF_OBJECT_ATTRIBUTES::default()
    }
}
