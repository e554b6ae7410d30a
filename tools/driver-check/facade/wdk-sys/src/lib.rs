//! **Facade of `wdk-sys` 0.5.2 — a transcription for Linux, not the real bindings.**
//!
//! The real `wdk-sys` generates its bindings with bindgen from the WDK headers at build time, and
//! its build-dependency `wdk-build` does not compile on Linux. On Windows the driver is built
//! against the real `wdk-sys` from crates.io. This crate serves the driver source on Linux twice:
//!
//! * **Type-check facade** (no feature): `scripts/check-driver.sh` `cargo check`s and
//!   `cargo clippy`s the driver for `x86_64-pc-windows-msvc` against it. The WDF routine "bodies"
//!   are `unreachable!()` stubs and the kernel routines bare `extern` declarations: never linked.
//! * **Executable stand-in** (feature `model`): every WDF routine reached through
//!   [`call_unsafe_wdf_function_binding!`] and every [`ntddk`] routine calls the KMDF, I/O-manager
//!   and kernel model (crate `logbridge-kmdf`) through a function table ([`model`]), so the
//!   driver's own code runs on the host (`crates/logbridge-driver-host`). Both uses come from the
//!   one list of signatures below (`wdf_stubs!`, and `ntoskrnl_routines!` in [`ntddk`]): the table
//!   types are generated from it, so the model's routines must have exactly these signatures.
//!
//! Every item comes from the project's reference of the wdk-sys 0.5.2 API (`wdk-sys-bindings.md`:
//! the signatures, struct layouts, enum constants and scalar types that wdk-sys 0.5.2 generates
//! for `x86_64-pc-windows-msvc`), at the same path and with the same name and type, **unless it
//! is marked** with a comment:
//! - `// not in wdk-sys-bindings.md: prototype from <header>`: routines and callback types the
//!   driver needs that the reference does not list, written from the WDK / KMDF headers;
//! - `// hand-written in wdk-sys 0.5.2 src/...`: items copied from the real crate's hand-written
//!   source (`lib.rs`, `constants.rs`), such as `NT_SUCCESS`, `PAGED_CODE!`, the `POOL_FLAG_*`,
//!   `WDF_NO_*` and (trimmed to those LogBridge uses) `STATUS_*` constants;
//! - `// bindgen intermediate`: aliases the listed types are defined through (for example
//!   `WCHAR` behind `PCWSTR`), as bindgen emits them.
//!
//! The shape follows bindgen's output with wdk-build's configuration: structs are `#[repr(C)]`
//! `_NAME` with `NAME`/`PNAME` aliases, `Copy + Clone`, an all-zero `Default`, and `Debug` unless a
//! union is inside (except the opaque `WDFDEVICE_INIT`, neither `Copy` nor `Clone`, and
//! `_DEVICE_OBJECT`, not `Debug`, as in the real crate); C enums are modules of `c_int` constants
//! (`ModuleConsts`); callbacks are `Option<unsafe extern "C" fn(..)>`; functions returning
//! `NTSTATUS` are `#[must_use]` (`must_use_type("NTSTATUS")`). WDF routines are called through
//! [`call_unsafe_wdf_function_binding!`], which type-checks the arguments against the routine's
//! signature (DriverGlobals omitted) exactly like the real proc-macro does.

#![no_std]
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals, missing_docs)]
#![allow(clippy::all, clippy::pedantic)]

use core::ffi::{c_char, c_int, c_ulonglong, c_ushort, c_void};

#[cfg(feature = "model")]
pub mod model;
pub mod ntddk;
pub mod wdf;

mod status;
pub use status::*;

// ---------------------------------------------------------------------------------------------
// Scalar types
// ---------------------------------------------------------------------------------------------

pub type PVOID = *mut c_void;
pub type UCHAR = u8;
pub type USHORT = u16;
pub type ULONG = u32;
pub type LONG = i32;
/// `typedef LONG NTSTATUS`. bindgen marks every function returning it `#[must_use]`.
pub type NTSTATUS = LONG;
pub type BOOLEAN = UCHAR;
pub type ULONG64 = c_ulonglong;
pub type ULONGLONG = c_ulonglong;
// bindgen intermediate: `typedef __int64 LONGLONG` (the type of `LARGE_INTEGER::QuadPart`).
pub type LONGLONG = i64;
pub type POOL_FLAGS = ULONG64;
/// `ULONG_PTR` is `unsigned __int64` on x64: **`u64`, not `usize`**.
pub type ULONG_PTR = u64;
/// **`u64`, not `usize`** (`typedef ULONG_PTR SIZE_T`). C `size_t` in WDF signatures is `usize`.
pub type SIZE_T = ULONG_PTR;
pub type KIRQL = UCHAR;
pub type HANDLE = *mut c_void;
pub type PULONG = *mut ULONG;
pub type PULONG64 = *mut ULONG64;
pub type PLONGLONG = *mut LONGLONG;
pub type ACCESS_MASK = ULONG;
// bindgen intermediate: `wchar_t` is 16 bits on Windows.
pub type wchar_t = c_ushort;
// bindgen intermediate: `typedef wchar_t WCHAR`.
pub type WCHAR = wchar_t;
pub type PCWSTR = *const WCHAR;
pub type PWCH = *mut WCHAR;
// bindgen intermediate: `typedef char CHAR`.
pub type CHAR = c_char;
pub type LPCSTR = *const CHAR;

/// `LARGE_INTEGER`: a union (no `Debug`, as bindgen cannot derive it for unions).
#[repr(C)]
#[derive(Copy, Clone)]
pub union _LARGE_INTEGER {
    pub __bindgen_anon_1: _LARGE_INTEGER__bindgen_ty_1,
    pub u: _LARGE_INTEGER__bindgen_ty_2,
    pub QuadPart: LONGLONG,
}
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _LARGE_INTEGER__bindgen_ty_1 {
    pub LowPart: ULONG,
    pub HighPart: LONG,
}
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _LARGE_INTEGER__bindgen_ty_2 {
    pub LowPart: ULONG,
    pub HighPart: LONG,
}
pub type LARGE_INTEGER = _LARGE_INTEGER;
pub type PLARGE_INTEGER = *mut _LARGE_INTEGER;

#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _GUID {
    pub Data1: u32,
    pub Data2: u16,
    pub Data3: u16,
    pub Data4: [u8; 8],
}
pub type GUID = _GUID;

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _UNICODE_STRING {
    pub Length: USHORT,
    pub MaximumLength: USHORT,
    pub Buffer: PWCH,
}
pub type UNICODE_STRING = _UNICODE_STRING;
pub type PUNICODE_STRING = *mut UNICODE_STRING;
pub type PCUNICODE_STRING = *const UNICODE_STRING;

/// Opaque here: wdk-sys-bindings.md does not transcribe its fields (the real type has them).
#[repr(C)]
#[derive(Debug)]
pub struct _DRIVER_OBJECT {
    _opaque: [u8; 0],
}
pub type DRIVER_OBJECT = _DRIVER_OBJECT;
pub type PDRIVER_OBJECT = *mut _DRIVER_OBJECT;

/// Opaque here: wdk-sys-bindings.md does not transcribe its fields (the real type has them). Not
/// `Debug`, as in the real crate.
#[repr(C)]
pub struct _DEVICE_OBJECT {
    _opaque: [u8; 0],
}
pub type DEVICE_OBJECT = _DEVICE_OBJECT;
pub type PDEVICE_OBJECT = *mut _DEVICE_OBJECT;

/// Opaque here: wdk-sys-bindings.md does not transcribe its fields (the real type has them).
#[repr(C)]
#[derive(Debug)]
pub struct _MDL {
    _opaque: [u8; 0],
}
pub type MDL = _MDL;
pub type PMDL = *mut _MDL;

// ---------------------------------------------------------------------------------------------
// WDF handles: `WDF_DECLARE_HANDLE(X)` is `typedef struct X__ { int unused; } X__, *X;`
// ---------------------------------------------------------------------------------------------

macro_rules! wdf_handles {
    ($($handle:ident / $tag:ident),* $(,)?) => {$(
        #[repr(C)]
        #[derive(Debug, Default, Copy, Clone)]
        pub struct $tag {
            pub unused: c_int,
        }
        pub type $handle = *mut $tag;
    )*};
}
wdf_handles! {
    WDFDRIVER / WDFDRIVER__,
    WDFDEVICE / WDFDEVICE__,
    WDFQUEUE / WDFQUEUE__,
    WDFREQUEST / WDFREQUEST__,
    WDFFILEOBJECT / WDFFILEOBJECT__,
    WDFSPINLOCK / WDFSPINLOCK__,
    WDFWAITLOCK / WDFWAITLOCK__,
    WDFWMIPROVIDER / WDFWMIPROVIDER__,
    WDFWMIINSTANCE / WDFWMIINSTANCE__,
    WDFKEY / WDFKEY__,
    WDFMEMORY / WDFMEMORY__,
}
/// `typedef HANDLE WDFOBJECT` (wdftypes.h): not a `WDF_DECLARE_HANDLE` type, so every typed handle
/// must be cast (`device.cast()`) where a `WDFOBJECT` is expected.
pub type WDFOBJECT = HANDLE;

/// Opaque (`typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT`): neither `Copy` nor `Clone`, as in
/// the real crate.
#[repr(C)]
#[derive(Debug)]
pub struct WDFDEVICE_INIT {
    _unused: [u8; 0],
}
pub type PWDFDEVICE_INIT = *mut WDFDEVICE_INIT;

// ---------------------------------------------------------------------------------------------
// Enums (bindgen `ModuleConsts`)
// ---------------------------------------------------------------------------------------------

macro_rules! c_enum {
    ($(#[$attr:meta])* $module:ident as $alias:ident { $($name:ident = $value:expr),* $(,)? }) => {
        $(#[$attr])*
        pub mod $module {
            pub type Type = ::core::ffi::c_int;
            $(pub const $name: Type = $value;)*
        }
        pub type $alias = $module::Type;
    };
}
c_enum!(_WDF_WMI_PROVIDER_CONTROL as WDF_WMI_PROVIDER_CONTROL {
    WdfWmiControlInvalid = 0,
    WdfWmiEventControl = 1,
    WdfWmiInstanceControl = 2,
});
c_enum!(_WDF_WMI_PROVIDER_FLAGS as WDF_WMI_PROVIDER_FLAGS {
    WdfWmiProviderEventOnly = 1,
    WdfWmiProviderExpensive = 2,
    WdfWmiProviderTracing = 4,
    WdfWmiProviderValidFlags = 7,
});
c_enum!(_WDF_DEVICE_IO_TYPE as WDF_DEVICE_IO_TYPE {
    WdfDeviceIoUndefined = 0,
    WdfDeviceIoNeither = 1,
    WdfDeviceIoBuffered = 2,
    WdfDeviceIoDirect = 3,
    WdfDeviceIoBufferedOrDirect = 4,
    WdfDeviceIoMaximum = 5,
});
c_enum!(_WDF_FILEOBJECT_CLASS as WDF_FILEOBJECT_CLASS {
    WdfFileObjectInvalid = 0,
    WdfFileObjectNotRequired = 1,
    WdfFileObjectWdfCanUseFsContext = 2,
    WdfFileObjectWdfCanUseFsContext2 = 3,
    WdfFileObjectWdfCannotUseFsContexts = 4,
    WdfFileObjectCanBeOptional = -2147483648,
});
c_enum!(_WDF_EXECUTION_LEVEL as WDF_EXECUTION_LEVEL {
    WdfExecutionLevelInvalid = 0,
    WdfExecutionLevelInheritFromParent = 1,
    WdfExecutionLevelPassive = 2,
    WdfExecutionLevelDispatch = 3,
});
c_enum!(_WDF_SYNCHRONIZATION_SCOPE as WDF_SYNCHRONIZATION_SCOPE {
    WdfSynchronizationScopeInvalid = 0,
    WdfSynchronizationScopeInheritFromParent = 1,
    WdfSynchronizationScopeDevice = 2,
    WdfSynchronizationScopeQueue = 3,
    WdfSynchronizationScopeNone = 4,
});
c_enum!(_WDF_TRI_STATE as WDF_TRI_STATE {
    WdfFalse = 0,
    WdfTrue = 1,
    WdfUseDefault = 2,
});
c_enum!(_POOL_TYPE as POOL_TYPE {
    NonPagedPool = 0,
    NonPagedPoolExecute = 0,
    PagedPool = 1,
    NonPagedPoolMustSucceed = 2,
    DontUseThisType = 3,
    NonPagedPoolCacheAligned = 4,
    PagedPoolCacheAligned = 5,
    NonPagedPoolCacheAlignedMustS = 6,
    MaxPoolType = 7,
    NonPagedPoolBase = 0,
    NonPagedPoolBaseMustSucceed = 2,
    NonPagedPoolBaseCacheAligned = 4,
    NonPagedPoolBaseCacheAlignedMustS = 6,
    NonPagedPoolSession = 32,
    PagedPoolSession = 33,
    NonPagedPoolMustSucceedSession = 34,
    DontUseThisTypeSession = 35,
    NonPagedPoolCacheAlignedSession = 36,
    PagedPoolCacheAlignedSession = 37,
    NonPagedPoolCacheAlignedMustSSession = 38,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = 516,
    NonPagedPoolSessionNx = 544,
});
c_enum!(
    /// Named in wdk-sys-bindings.md (the field type of `WDF_IO_QUEUE_CONFIG::DispatchType`, and
    /// `WdfIoQueueDispatchParallel` in its example); its value table is not there: values from
    /// wdfio.h (KMDF 1.33).
    _WDF_IO_QUEUE_DISPATCH_TYPE as WDF_IO_QUEUE_DISPATCH_TYPE {
        WdfIoQueueDispatchInvalid = 0,
        WdfIoQueueDispatchSequential = 1,
        WdfIoQueueDispatchParallel = 2,
        WdfIoQueueDispatchManual = 3,
        WdfIoQueueDispatchMax = 4,
    }
);

// ---------------------------------------------------------------------------------------------
// Callback types (`typedef RET EVT_X(..); typedef EVT_X *PFN_X;`)
// ---------------------------------------------------------------------------------------------

pub type PFN_WDF_DRIVER_DEVICE_ADD =
    Option<unsafe extern "C" fn(Driver: WDFDRIVER, DeviceInit: PWDFDEVICE_INIT) -> NTSTATUS>;
pub type PFN_WDF_DRIVER_UNLOAD = Option<unsafe extern "C" fn(Driver: WDFDRIVER)>;
pub type PFN_WDF_OBJECT_CONTEXT_CLEANUP = Option<unsafe extern "C" fn(Object: WDFOBJECT)>;
pub type PFN_WDF_OBJECT_CONTEXT_DESTROY = Option<unsafe extern "C" fn(Object: WDFOBJECT)>;
pub type PFN_WDF_DEVICE_FILE_CREATE =
    Option<unsafe extern "C" fn(Device: WDFDEVICE, Request: WDFREQUEST, FileObject: WDFFILEOBJECT)>;
pub type PFN_WDF_FILE_CLOSE = Option<unsafe extern "C" fn(FileObject: WDFFILEOBJECT)>;
pub type PFN_WDF_FILE_CLEANUP = Option<unsafe extern "C" fn(FileObject: WDFFILEOBJECT)>;
pub type PFN_WDF_IO_QUEUE_IO_DEFAULT = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST)>;
pub type PFN_WDF_IO_QUEUE_IO_READ = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST, Length: usize)>;
pub type PFN_WDF_IO_QUEUE_IO_WRITE = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST, Length: usize)>;
pub type PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL = Option<
    unsafe extern "C" fn(
        Queue: WDFQUEUE,
        Request: WDFREQUEST,
        OutputBufferLength: usize,
        InputBufferLength: usize,
        IoControlCode: ULONG,
    ),
>;
pub type PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL = Option<
    unsafe extern "C" fn(
        Queue: WDFQUEUE,
        Request: WDFREQUEST,
        OutputBufferLength: usize,
        InputBufferLength: usize,
        IoControlCode: ULONG,
    ),
>;
pub type PFN_WDF_IO_QUEUE_IO_STOP =
    Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST, ActionFlags: ULONG)>;
pub type PFN_WDF_IO_QUEUE_IO_RESUME = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST)>;
pub type PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE = Option<unsafe extern "C" fn(Queue: WDFQUEUE, Request: WDFREQUEST)>;
pub type PFN_GET_UNIQUE_CONTEXT_TYPE = Option<unsafe extern "C" fn() -> PCWDF_OBJECT_CONTEXT_TYPE_INFO>;
pub type PFN_WDF_WMI_PROVIDER_FUNCTION_CONTROL = Option<
    unsafe extern "C" fn(WmiProvider: WDFWMIPROVIDER, Control: WDF_WMI_PROVIDER_CONTROL, Enable: BOOLEAN) -> NTSTATUS,
>;
// not in wdk-sys-bindings.md: prototype from wdfwmi.h (EVT_WDF_WMI_INSTANCE_QUERY_INSTANCE)
pub type PFN_WDF_WMI_INSTANCE_QUERY_INSTANCE = Option<
    unsafe extern "C" fn(
        WmiInstance: WDFWMIINSTANCE,
        OutBufferSize: ULONG,
        OutBuffer: PVOID,
        BufferUsed: PULONG,
    ) -> NTSTATUS,
>;
// not in wdk-sys-bindings.md: prototype from wdfwmi.h (EVT_WDF_WMI_INSTANCE_SET_INSTANCE)
pub type PFN_WDF_WMI_INSTANCE_SET_INSTANCE =
    Option<unsafe extern "C" fn(WmiInstance: WDFWMIINSTANCE, InBufferSize: ULONG, InBuffer: PVOID) -> NTSTATUS>;
// not in wdk-sys-bindings.md: prototype from wdfwmi.h (EVT_WDF_WMI_INSTANCE_SET_ITEM)
pub type PFN_WDF_WMI_INSTANCE_SET_ITEM = Option<
    unsafe extern "C" fn(
        WmiInstance: WDFWMIINSTANCE,
        DataItemId: ULONG,
        InBufferSize: ULONG,
        InBuffer: PVOID,
    ) -> NTSTATUS,
>;
// not in wdk-sys-bindings.md: prototype from wdfwmi.h (EVT_WDF_WMI_INSTANCE_EXECUTE_METHOD)
pub type PFN_WDF_WMI_INSTANCE_EXECUTE_METHOD = Option<
    unsafe extern "C" fn(
        WmiInstance: WDFWMIINSTANCE,
        MethodId: ULONG,
        InBufferSize: ULONG,
        OutBufferSize: ULONG,
        Buffer: PVOID,
        BufferUsed: PULONG,
    ) -> NTSTATUS,
>;

// ---------------------------------------------------------------------------------------------
// Structs (field order as generated)
// ---------------------------------------------------------------------------------------------

/// bindgen's `Default` for a struct with raw pointers or unions: all bytes zero.
macro_rules! zeroed_default {
    ($($ty:ty),* $(,)?) => {$(
        impl Default for $ty {
            fn default() -> Self {
                // SAFETY: every field is an integer, a raw pointer, an `Option` of a function
                // pointer or a union of those, for all of which all-zero bytes are valid.
                unsafe { core::mem::zeroed() }
            }
        }
    )*};
}
zeroed_default!(
    _UNICODE_STRING,
    _LARGE_INTEGER,
    _WDF_WMI_INSTANCE_CONFIG,
    _WDF_OBJECT_CONTEXT_TYPE_INFO,
    _WDF_OBJECT_ATTRIBUTES,
    _WDF_IO_QUEUE_CONFIG__bindgen_ty_1,
    _WDF_IO_QUEUE_CONFIG,
    _IO_ERROR_LOG_PACKET,
);

#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _WDF_DRIVER_CONFIG {
    pub Size: ULONG,
    pub EvtDriverDeviceAdd: PFN_WDF_DRIVER_DEVICE_ADD,
    pub EvtDriverUnload: PFN_WDF_DRIVER_UNLOAD,
    pub DriverInitFlags: ULONG,
    pub DriverPoolTag: ULONG,
}
pub type WDF_DRIVER_CONFIG = _WDF_DRIVER_CONFIG;
pub type PWDF_DRIVER_CONFIG = *mut _WDF_DRIVER_CONFIG;

#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _WDF_FILEOBJECT_CONFIG {
    pub Size: ULONG,
    pub EvtDeviceFileCreate: PFN_WDF_DEVICE_FILE_CREATE,
    pub EvtFileClose: PFN_WDF_FILE_CLOSE,
    pub EvtFileCleanup: PFN_WDF_FILE_CLEANUP,
    pub AutoForwardCleanupClose: WDF_TRI_STATE,
    pub FileObjectClass: WDF_FILEOBJECT_CLASS,
}
pub type WDF_FILEOBJECT_CONFIG = _WDF_FILEOBJECT_CONFIG;
pub type PWDF_FILEOBJECT_CONFIG = *mut _WDF_FILEOBJECT_CONFIG;

#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _WDF_WMI_PROVIDER_CONFIG {
    pub Size: ULONG,
    pub Guid: GUID,
    pub Flags: ULONG,
    pub MinInstanceBufferSize: ULONG,
    pub EvtWmiProviderFunctionControl: PFN_WDF_WMI_PROVIDER_FUNCTION_CONTROL,
}
pub type WDF_WMI_PROVIDER_CONFIG = _WDF_WMI_PROVIDER_CONFIG;
pub type PWDF_WMI_PROVIDER_CONFIG = *mut _WDF_WMI_PROVIDER_CONFIG;

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _WDF_WMI_INSTANCE_CONFIG {
    pub Size: ULONG,
    pub Provider: WDFWMIPROVIDER,
    pub ProviderConfig: PWDF_WMI_PROVIDER_CONFIG,
    pub UseContextForQuery: BOOLEAN,
    pub Register: BOOLEAN,
    pub EvtWmiInstanceQueryInstance: PFN_WDF_WMI_INSTANCE_QUERY_INSTANCE,
    pub EvtWmiInstanceSetInstance: PFN_WDF_WMI_INSTANCE_SET_INSTANCE,
    pub EvtWmiInstanceSetItem: PFN_WDF_WMI_INSTANCE_SET_ITEM,
    pub EvtWmiInstanceExecuteMethod: PFN_WDF_WMI_INSTANCE_EXECUTE_METHOD,
}
pub type WDF_WMI_INSTANCE_CONFIG = _WDF_WMI_INSTANCE_CONFIG;
pub type PWDF_WMI_INSTANCE_CONFIG = *mut _WDF_WMI_INSTANCE_CONFIG;

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _WDF_OBJECT_CONTEXT_TYPE_INFO {
    pub Size: ULONG,
    pub ContextName: LPCSTR,
    pub ContextSize: usize,
    pub UniqueType: PCWDF_OBJECT_CONTEXT_TYPE_INFO,
    pub EvtDriverGetUniqueContextType: PFN_GET_UNIQUE_CONTEXT_TYPE,
}
pub type WDF_OBJECT_CONTEXT_TYPE_INFO = _WDF_OBJECT_CONTEXT_TYPE_INFO;
pub type PWDF_OBJECT_CONTEXT_TYPE_INFO = *mut _WDF_OBJECT_CONTEXT_TYPE_INFO;
pub type PCWDF_OBJECT_CONTEXT_TYPE_INFO = *const _WDF_OBJECT_CONTEXT_TYPE_INFO;

#[repr(C)]
#[derive(Debug, Copy, Clone)]
pub struct _WDF_OBJECT_ATTRIBUTES {
    pub Size: ULONG,
    pub EvtCleanupCallback: PFN_WDF_OBJECT_CONTEXT_CLEANUP,
    pub EvtDestroyCallback: PFN_WDF_OBJECT_CONTEXT_DESTROY,
    pub ExecutionLevel: WDF_EXECUTION_LEVEL,
    pub SynchronizationScope: WDF_SYNCHRONIZATION_SCOPE,
    pub ParentObject: WDFOBJECT,
    pub ContextSizeOverride: usize,
    pub ContextTypeInfo: PCWDF_OBJECT_CONTEXT_TYPE_INFO,
}
pub type WDF_OBJECT_ATTRIBUTES = _WDF_OBJECT_ATTRIBUTES;
pub type PWDF_OBJECT_ATTRIBUTES = *mut _WDF_OBJECT_ATTRIBUTES;

/// `WDF_IO_QUEUE_CONFIG::Settings` (a union; no `Debug`).
#[repr(C)]
#[derive(Copy, Clone)]
pub union _WDF_IO_QUEUE_CONFIG__bindgen_ty_1 {
    pub Parallel: _WDF_IO_QUEUE_CONFIG__bindgen_ty_1__bindgen_ty_1,
}
/// `Settings.Parallel` (`WDF_IO_QUEUE_CONFIG_INIT` sets `NumberOfPresentedRequests` to
/// `ULONG::MAX`, "unlimited").
#[repr(C)]
#[derive(Debug, Default, Copy, Clone)]
pub struct _WDF_IO_QUEUE_CONFIG__bindgen_ty_1__bindgen_ty_1 {
    pub NumberOfPresentedRequests: ULONG,
}

/// Contains a union, so no `Debug` (as bindgen generates it).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct _WDF_IO_QUEUE_CONFIG {
    pub Size: ULONG,
    pub DispatchType: WDF_IO_QUEUE_DISPATCH_TYPE,
    pub PowerManaged: WDF_TRI_STATE,
    pub AllowZeroLengthRequests: BOOLEAN,
    pub DefaultQueue: BOOLEAN,
    pub EvtIoDefault: PFN_WDF_IO_QUEUE_IO_DEFAULT,
    pub EvtIoRead: PFN_WDF_IO_QUEUE_IO_READ,
    pub EvtIoWrite: PFN_WDF_IO_QUEUE_IO_WRITE,
    pub EvtIoDeviceControl: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
    pub EvtIoInternalDeviceControl: PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL,
    pub EvtIoStop: PFN_WDF_IO_QUEUE_IO_STOP,
    pub EvtIoResume: PFN_WDF_IO_QUEUE_IO_RESUME,
    pub EvtIoCanceledOnQueue: PFN_WDF_IO_QUEUE_IO_CANCELED_ON_QUEUE,
    pub Settings: _WDF_IO_QUEUE_CONFIG__bindgen_ty_1,
    pub Driver: WDFDRIVER,
}
pub type WDF_IO_QUEUE_CONFIG = _WDF_IO_QUEUE_CONFIG;
pub type PWDF_IO_QUEUE_CONFIG = *mut _WDF_IO_QUEUE_CONFIG;

/// `IO_ERROR_LOG_PACKET` (48 bytes on x64; contains a union, so no `Debug`).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct _IO_ERROR_LOG_PACKET {
    pub MajorFunctionCode: UCHAR,
    pub RetryCount: UCHAR,
    pub DumpDataSize: USHORT,
    pub NumberOfStrings: USHORT,
    pub StringOffset: USHORT,
    pub EventCategory: USHORT,
    pub ErrorCode: NTSTATUS,
    pub UniqueErrorValue: ULONG,
    pub FinalStatus: NTSTATUS,
    pub SequenceNumber: ULONG,
    pub IoControlCode: ULONG,
    pub DeviceOffset: LARGE_INTEGER,
    pub DumpData: [ULONG; 1usize],
}
pub type IO_ERROR_LOG_PACKET = _IO_ERROR_LOG_PACKET;
pub type PIO_ERROR_LOG_PACKET = *mut _IO_ERROR_LOG_PACKET;

// The sizes wdk-sys-bindings.md states for x86_64 (bindgen emits the same layout assertions).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(core::mem::size_of::<WDF_IO_QUEUE_CONFIG>() == 96);
    assert!(core::mem::size_of::<WDF_OBJECT_ATTRIBUTES>() == 56);
    assert!(core::mem::size_of::<IO_ERROR_LOG_PACKET>() == 48);
    assert!(core::mem::size_of::<LARGE_INTEGER>() == 8);
    assert!(core::mem::size_of::<GUID>() == 16);
    assert!(core::mem::size_of::<UNICODE_STRING>() == 16);
};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

// "Constants present" of wdk-sys-bindings.md: bindgen types `#define` integers as `u32`.
pub const FILE_DEVICE_SECURE_OPEN: u32 = 256;
pub const FILE_DEVICE_UNKNOWN: u32 = 34;
pub const IRP_MJ_WRITE: u32 = 4;
pub const METHOD_OUT_DIRECT: u32 = 2;
pub const PLUGPLAY_REGKEY_DEVICE: u32 = 1;
pub const KEY_READ: u32 = 131097;
pub const PASSIVE_LEVEL: u32 = 0;
pub const APC_LEVEL: u32 = 1;
pub const DISPATCH_LEVEL: u32 = 2;

// hand-written in wdk-sys 0.5.2 src/constants.rs (module `wdf`)
pub const WDF_NO_OBJECT_ATTRIBUTES: PWDF_OBJECT_ATTRIBUTES = core::ptr::null_mut();
pub const WDF_NO_EVENT_CALLBACK: PVOID = core::ptr::null_mut();
pub const WDF_NO_HANDLE: PVOID = core::ptr::null_mut();
pub const WDF_NO_CONTEXT: PVOID = core::ptr::null_mut();
pub const WDF_NO_SEND_OPTIONS: PVOID = core::ptr::null_mut();

// hand-written in wdk-sys 0.5.2 src/constants.rs (module `kernel_mode`)
pub const POOL_FLAG_REQUIRED_START: POOL_FLAGS = 0x0000_0000_0000_0001;
pub const POOL_FLAG_USE_QUOTA: POOL_FLAGS = 0x0000_0000_0000_0001; // Charge quota
pub const POOL_FLAG_UNINITIALIZED: POOL_FLAGS = 0x0000_0000_0000_0002; // Don't zero-initialize allocation
pub const POOL_FLAG_SESSION: POOL_FLAGS = 0x0000_0000_0000_0004; // Use session specific pool
pub const POOL_FLAG_CACHE_ALIGNED: POOL_FLAGS = 0x0000_0000_0000_0008; // Cache aligned allocation
pub const POOL_FLAG_RESERVED1: POOL_FLAGS = 0x0000_0000_0000_0010; // Reserved for system use
pub const POOL_FLAG_RAISE_ON_FAILURE: POOL_FLAGS = 0x0000_0000_0000_0020; // Raise exception on failure
pub const POOL_FLAG_NON_PAGED: POOL_FLAGS = 0x0000_0000_0000_0040; // Non paged pool NX
pub const POOL_FLAG_NON_PAGED_EXECUTE: POOL_FLAGS = 0x0000_0000_0000_0080; // Non paged pool executable
pub const POOL_FLAG_PAGED: POOL_FLAGS = 0x0000_0000_0000_0100; // Paged pool
pub const POOL_FLAG_RESERVED2: POOL_FLAGS = 0x0000_0000_0000_0200; // Reserved for system use
pub const POOL_FLAG_RESERVED3: POOL_FLAGS = 0x0000_0000_0000_0400; // Reserved for system use
pub const POOL_FLAG_REQUIRED_END: POOL_FLAGS = 0x0000_0000_8000_0000;
pub const POOL_FLAG_OPTIONAL_START: POOL_FLAGS = 0x0000_0001_0000_0000;
pub const POOL_FLAG_SPECIAL_POOL: POOL_FLAGS = 0x0000_0001_0000_0000; // Make special pool allocation
pub const POOL_FLAG_OPTIONAL_END: POOL_FLAGS = 0x8000_0000_0000_0000;

// ---------------------------------------------------------------------------------------------
// NTSTATUS helpers and PAGED_CODE! (hand-written in wdk-sys 0.5.2 src/lib.rs, verbatim)
// ---------------------------------------------------------------------------------------------

/// Evaluates to TRUE if the return value specified by `nt_status` is a success type
/// (0 − 0x3FFFFFFF) or an informational type (0x40000000 − 0x7FFFFFFF) (ntdef.h).
#[must_use]
pub const fn NT_SUCCESS(nt_status: NTSTATUS) -> bool {
    nt_status >= 0
}

/// Evaluates to TRUE if `nt_status` is an informational type (0x40000000 − 0x7FFFFFFF).
#[must_use]
pub const fn NT_INFORMATION(nt_status: NTSTATUS) -> bool {
    (nt_status as u32 >> 30) == 1
}

/// Evaluates to TRUE if `nt_status` is a warning type (0x80000000 − 0xBFFFFFFF).
#[must_use]
pub const fn NT_WARNING(nt_status: NTSTATUS) -> bool {
    (nt_status as u32 >> 30) == 2
}

/// Evaluates to TRUE if `nt_status` is an error type (0xC0000000 - 0xFFFFFFFF).
#[must_use]
pub const fn NT_ERROR(nt_status: NTSTATUS) -> bool {
    (nt_status as u32 >> 30) == 3
}

/// `debug_assert!` that the IRQL is at most `APC_LEVEL` (wdk-sys 0.5.2, verbatim).
#[macro_export]
macro_rules! PAGED_CODE {
    () => {
        debug_assert!(unsafe { $crate::ntddk::KeGetCurrentIrql() <= $crate::APC_LEVEL as u8 });
    };
}

// ---------------------------------------------------------------------------------------------
// WDF routines
// ---------------------------------------------------------------------------------------------

/// Calls a WDF routine by name: `call_unsafe_wdf_function_binding!(WdfIoQueueCreate, device,
/// &mut config, &mut attributes, &mut queue)`.
///
/// As with the real macro (a proc-macro that reads the routine's `PFN_WDF...` type and calls the
/// `WdfFunctions` table entry with `WdfDriverGlobals` prepended), the arguments are checked against
/// the routine's parameter types with the usual coercions (`&mut T` to `*mut T`), a trailing comma
/// is allowed, the call must be inside `unsafe`, a value-returning routine's result is
/// `#[must_use]`, and a misspelled or unknown routine name does not compile. The expansion is a
/// block expression, like the real one.
#[macro_export]
macro_rules! call_unsafe_wdf_function_binding {
    ($name:ident $(, $arg:expr)* $(,)?) => {
        { $crate::__wdf_functions::$name($($arg),*) }
    };
}

/// The routines behind [`call_unsafe_wdf_function_binding!`]: one per WDF routine, with the
/// routine's signature minus `DriverGlobals`. Without the `model` feature, type-checking stubs
/// whose bodies are `unreachable!()` (never linked or run); with it, calls into the model's
/// function table.
#[doc(hidden)]
#[allow(unused_variables, clippy::too_many_arguments)]
pub mod __wdf_functions {
    use super::*;

    macro_rules! wdf_stubs {
        ($($(#[$attr:meta])* fn $name:ident($($param:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?;)*) => {
            $(
                $(#[$attr])*
                #[inline(always)]
                #[cfg(not(feature = "model"))]
                pub unsafe fn $name($($param: $ty),*) $(-> $ret)? {
                    unreachable!()
                }

                $(#[$attr])*
                #[inline(always)]
                #[cfg(feature = "model")]
                pub unsafe fn $name($($param: $ty),*) $(-> $ret)? {
                    // SAFETY: the caller keeps the routine's contract; the model checks it.
                    unsafe { (crate::model::wdf_functions().$name)($($param),*) }
                }
            )*

            /// The WDF function table of the executable model (feature `model`): what
            /// `WdfFunctions` is on Windows, one entry per routine above, with the same signature
            /// (minus `DriverGlobals`). The model fills it with [`crate::model::install`].
            #[cfg(feature = "model")]
            pub struct WdfFunctionTable {
                $(pub $name: unsafe fn($($ty),*) $(-> $ret)?,)*
            }
        };
    }

    wdf_stubs! {
        #[must_use] fn WdfDriverCreate(DriverObject: PDRIVER_OBJECT, RegistryPath: PCUNICODE_STRING, DriverAttributes: PWDF_OBJECT_ATTRIBUTES, DriverConfig: PWDF_DRIVER_CONFIG, Driver: *mut WDFDRIVER) -> NTSTATUS;
        #[must_use] fn WdfDeviceCreate(DeviceInit: *mut PWDFDEVICE_INIT, DeviceAttributes: PWDF_OBJECT_ATTRIBUTES, Device: *mut WDFDEVICE) -> NTSTATUS;
        fn WdfDeviceInitSetIoType(DeviceInit: PWDFDEVICE_INIT, IoType: WDF_DEVICE_IO_TYPE);
        #[must_use] fn WdfDeviceInitAssignSDDLString(DeviceInit: PWDFDEVICE_INIT, SDDLString: PCUNICODE_STRING) -> NTSTATUS;
        fn WdfDeviceInitSetCharacteristics(DeviceInit: PWDFDEVICE_INIT, DeviceCharacteristics: ULONG, OrInValues: BOOLEAN);
        fn WdfDeviceInitSetFileObjectConfig(DeviceInit: PWDFDEVICE_INIT, FileObjectConfig: PWDF_FILEOBJECT_CONFIG, FileObjectAttributes: PWDF_OBJECT_ATTRIBUTES);
        #[must_use] fn WdfDeviceCreateDeviceInterface(Device: WDFDEVICE, InterfaceClassGUID: *const GUID, ReferenceString: PCUNICODE_STRING) -> NTSTATUS;
        #[must_use] fn WdfDeviceWdmGetDeviceObject(Device: WDFDEVICE) -> PDEVICE_OBJECT;
        #[must_use] fn WdfDeviceAssignMofResourceName(Device: WDFDEVICE, MofResourceName: PCUNICODE_STRING) -> NTSTATUS;
        #[must_use] fn WdfIoQueueCreate(Device: WDFDEVICE, Config: PWDF_IO_QUEUE_CONFIG, QueueAttributes: PWDF_OBJECT_ATTRIBUTES, Queue: *mut WDFQUEUE) -> NTSTATUS;
        #[must_use] fn WdfIoQueueGetDevice(Queue: WDFQUEUE) -> WDFDEVICE;
        #[must_use] fn WdfIoQueueRetrieveNextRequest(Queue: WDFQUEUE, OutRequest: *mut WDFREQUEST) -> NTSTATUS;
        #[must_use] fn WdfIoQueueRetrieveRequestByFileObject(Queue: WDFQUEUE, FileObject: WDFFILEOBJECT, OutRequest: *mut WDFREQUEST) -> NTSTATUS;
        fn WdfIoQueuePurgeSynchronously(Queue: WDFQUEUE);
        #[must_use] fn WdfRequestRetrieveInputBuffer(Request: WDFREQUEST, MinimumRequiredLength: usize, Buffer: *mut PVOID, Length: *mut usize) -> NTSTATUS;
        #[must_use] fn WdfRequestRetrieveOutputBuffer(Request: WDFREQUEST, MinimumRequiredSize: usize, Buffer: *mut PVOID, Length: *mut usize) -> NTSTATUS;
        #[must_use] fn WdfRequestRetrieveOutputWdmMdl(Request: WDFREQUEST, Mdl: *mut PMDL) -> NTSTATUS;
        fn WdfRequestComplete(Request: WDFREQUEST, Status: NTSTATUS);
        fn WdfRequestCompleteWithInformation(Request: WDFREQUEST, Status: NTSTATUS, Information: ULONG_PTR);
        fn WdfRequestSetInformation(Request: WDFREQUEST, Information: ULONG_PTR);
        #[must_use] fn WdfRequestGetFileObject(Request: WDFREQUEST) -> WDFFILEOBJECT;
        #[must_use] fn WdfRequestForwardToIoQueue(Request: WDFREQUEST, DestinationQueue: WDFQUEUE) -> NTSTATUS;
        #[must_use] fn WdfRequestGetRequestorProcessId(Request: WDFREQUEST) -> ULONG;
        #[must_use] fn WdfRequestGetIoQueue(Request: WDFREQUEST) -> WDFQUEUE;
        #[must_use] fn WdfSpinLockCreate(SpinLockAttributes: PWDF_OBJECT_ATTRIBUTES, SpinLock: *mut WDFSPINLOCK) -> NTSTATUS;
        fn WdfSpinLockAcquire(SpinLock: WDFSPINLOCK);
        fn WdfSpinLockRelease(SpinLock: WDFSPINLOCK);
        #[must_use] fn WdfObjectGetTypedContextWorker(Handle: WDFOBJECT, TypeInfo: PCWDF_OBJECT_CONTEXT_TYPE_INFO) -> PVOID;
        #[must_use] fn WdfObjectAllocateContext(Handle: WDFOBJECT, ContextAttributes: PWDF_OBJECT_ATTRIBUTES, Context: *mut PVOID) -> NTSTATUS;
        #[must_use] fn WdfWmiProviderCreate(Device: WDFDEVICE, WmiProviderConfig: PWDF_WMI_PROVIDER_CONFIG, ProviderAttributes: PWDF_OBJECT_ATTRIBUTES, WmiProvider: *mut WDFWMIPROVIDER) -> NTSTATUS;
        #[must_use] fn WdfWmiProviderIsEnabled(WmiProvider: WDFWMIPROVIDER, ProviderControl: WDF_WMI_PROVIDER_CONTROL) -> BOOLEAN;
        #[must_use] fn WdfWmiInstanceCreate(Device: WDFDEVICE, InstanceConfig: PWDF_WMI_INSTANCE_CONFIG, InstanceAttributes: PWDF_OBJECT_ATTRIBUTES, Instance: *mut WDFWMIINSTANCE) -> NTSTATUS;
        #[must_use] fn WdfWmiInstanceRegister(WmiInstance: WDFWMIINSTANCE) -> NTSTATUS;
        #[must_use] fn WdfWmiInstanceFireEvent(WmiInstance: WDFWMIINSTANCE, EventDataSize: ULONG, EventData: PVOID) -> NTSTATUS;
        #[must_use] fn WdfDriverOpenParametersRegistryKey(Driver: WDFDRIVER, DesiredAccess: ACCESS_MASK, KeyAttributes: PWDF_OBJECT_ATTRIBUTES, Key: *mut WDFKEY) -> NTSTATUS;
        #[must_use] fn WdfRegistryQueryULong(Key: WDFKEY, ValueName: PCUNICODE_STRING, Value: PULONG) -> NTSTATUS;
        fn WdfRegistryClose(Key: WDFKEY);
        #[must_use] fn WdfDeviceOpenRegistryKey(Device: WDFDEVICE, DeviceInstanceKeyType: ULONG, DesiredAccess: ACCESS_MASK, KeyAttributes: PWDF_OBJECT_ATTRIBUTES, Key: *mut WDFKEY) -> NTSTATUS;
        fn WdfObjectDelete(Object: WDFOBJECT);
        #[must_use] fn WdfMemoryCreate(Attributes: PWDF_OBJECT_ATTRIBUTES, PoolType: POOL_TYPE, PoolTag: ULONG, BufferSize: usize, Memory: *mut WDFMEMORY, Buffer: *mut PVOID) -> NTSTATUS;
        #[must_use] fn WdfRequestRetrieveInputMemory(Request: WDFREQUEST, Memory: *mut WDFMEMORY) -> NTSTATUS;
        #[must_use] fn WdfMemoryCopyToBuffer(SourceMemory: WDFMEMORY, SourceOffset: usize, Buffer: PVOID, NumBytesToCopyTo: usize) -> NTSTATUS;
        #[must_use] fn WdfDriverWdmGetDriverObject(Driver: WDFDRIVER) -> PDRIVER_OBJECT;
        #[must_use] fn WdfDeviceGetDriver(Device: WDFDEVICE) -> WDFDRIVER;

        // not in wdk-sys-bindings.md: prototype from wdfsync.h (KMDF 1.33)
        #[must_use] fn WdfWaitLockCreate(LockAttributes: PWDF_OBJECT_ATTRIBUTES, Lock: *mut WDFWAITLOCK) -> NTSTATUS;
        // not in wdk-sys-bindings.md: prototype from wdfsync.h (KMDF 1.33)
        #[must_use] fn WdfWaitLockAcquire(Lock: WDFWAITLOCK, Timeout: PLONGLONG) -> NTSTATUS;
        // not in wdk-sys-bindings.md: prototype from wdfsync.h (KMDF 1.33)
        fn WdfWaitLockRelease(Lock: WDFWAITLOCK);
        // not in wdk-sys-bindings.md: prototype from wdffileobject.h (KMDF 1.33)
        #[must_use] fn WdfFileObjectGetDevice(FileObject: WDFFILEOBJECT) -> WDFDEVICE;
        // not in wdk-sys-bindings.md: prototype from wdfdriver.h (KMDF 1.25 and later)
        #[must_use] fn WdfDriverOpenPersistentStateRegistryKey(Driver: WDFDRIVER, DesiredAccess: ACCESS_MASK, KeyAttributes: PWDF_OBJECT_ATTRIBUTES, Key: *mut WDFKEY) -> NTSTATUS;
    }
}
