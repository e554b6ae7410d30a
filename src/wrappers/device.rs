//! The device: its creation (`WDFDEVICE_INIT`), its typed contexts, its queues and interface, and
//! the driver's `Parameters` registry key.
//!
//! # Contexts
//! KMDF allocates each object's context zeroed, next to the object, and frees it with the object.
//! LogBridge keeps Rust values there: the device's [`DeviceState`] and each file object's
//! [`FileContext`] (its ring-log cursor and whether it was cleaned up). A zeroed `FileContext` is
//! valid (atomics only), so the file context is usable as allocated. The device state is not valid when zeroed: it sits in a [`ContextSlot`]
//! whose `ready` flag (zero = false) says whether it was installed, so a device whose add failed
//! half-way is destroyed without dropping garbage, and a callback never sees an uninstalled state.

use super::callbacks;
use super::request::ManualQueue;
use super::{check, guid, object_attributes, struct_size, unicode_string, wide};
use crate::driver::DeviceState;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use logbridge_core::NtStatus;
use logbridge_core::device::{CursorCell, RegistryValue};
use logbridge_core::identity::FILE_DEVICE_SECURE_OPEN;
use wdk_sys::{
    _WDF_DEVICE_IO_TYPE, _WDF_EXECUTION_LEVEL, _WDF_FILEOBJECT_CLASS, _WDF_IO_QUEUE_DISPATCH_TYPE, _WDF_TRI_STATE,
    DEVICE_OBJECT, KEY_READ, PWDFDEVICE_INIT, ULONG, WDF_FILEOBJECT_CONFIG, WDF_IO_QUEUE_CONFIG, WDF_NO_HANDLE,
    WDF_NO_OBJECT_ATTRIBUTES, WDF_OBJECT_CONTEXT_TYPE_INFO, WDFDEVICE, WDFDRIVER, WDFFILEOBJECT, WDFKEY, WDFOBJECT,
    WDFQUEUE, call_unsafe_wdf_function_binding,
};

/// A context slot whose value is valid only once `ready` is set.
#[repr(C)]
pub struct ContextSlot<T> {
    ready: AtomicBool,
    value: MaybeUninit<T>,
}

/// A `WDF_OBJECT_CONTEXT_TYPE_INFO` in a static (`WDF_DECLARE_CONTEXT_TYPE`).
#[repr(transparent)]
pub struct ContextType(WDF_OBJECT_CONTEXT_TYPE_INFO);

// SAFETY: the info is never written after initialisation, and its pointers refer to statics.
unsafe impl Sync for ContextType {}

impl ContextType {
    fn info(&'static self) -> *const WDF_OBJECT_CONTEXT_TYPE_INFO {
        &raw const self.0
    }
}

/// The device context: the whole device state.
pub static DEVICE_CONTEXT: ContextType = ContextType(WDF_OBJECT_CONTEXT_TYPE_INFO {
    Size: struct_size!(WDF_OBJECT_CONTEXT_TYPE_INFO),
    ContextName: c"LogBridgeDeviceState".as_ptr(),
    ContextSize: core::mem::size_of::<ContextSlot<DeviceState>>(),
    UniqueType: &raw const DEVICE_CONTEXT.0,
    EvtDriverGetUniqueContextType: None,
});

/// What a handle (file object) carries: its ring-log cursor, and whether EvtFileCleanup ran for
/// it (a READ_LOG of a cleaned-up handle must not be parked: nothing would complete it).
#[derive(Debug, Default)]
pub struct FileContext {
    /// Where the handle's next READ_LOG starts.
    pub cursor: CursorCell,
    /// Set by EvtFileCleanup, under the pending reads' lock.
    pub cleaned_up: AtomicBool,
}

/// The file-object context: a [`FileContext`].
pub static FILE_CONTEXT: ContextType = ContextType(WDF_OBJECT_CONTEXT_TYPE_INFO {
    Size: struct_size!(WDF_OBJECT_CONTEXT_TYPE_INFO),
    ContextName: c"LogBridgeFileContext".as_ptr(),
    ContextSize: core::mem::size_of::<FileContext>(),
    UniqueType: &raw const FILE_CONTEXT.0,
    EvtDriverGetUniqueContextType: None,
});

/// The context of type `info` of `object`, or `None` if it has none.
fn context<T>(object: WDFOBJECT, info: &'static ContextType) -> Option<NonNull<T>> {
    // SAFETY: `object` is a live framework object handed to us by KMDF; `info` is a static
    // context type; the routine returns NULL when the object has no such context.
    let raw = unsafe { call_unsafe_wdf_function_binding!(WdfObjectGetTypedContextWorker, object, info.info()) };
    NonNull::new(raw.cast::<T>())
}

/// The WDM device object under the WDFDEVICE (for `IoAllocateErrorLogEntry` and WMI).
#[derive(Clone, Copy, Debug)]
pub struct DeviceObject(NonNull<DEVICE_OBJECT>);

// SAFETY: a device object pointer is valid on any thread while the device exists.
unsafe impl Send for DeviceObject {}
// SAFETY: as above; it is only passed to routines.
unsafe impl Sync for DeviceObject {}

impl DeviceObject {
    pub(super) fn as_raw(self) -> *mut DEVICE_OBJECT {
        self.0.as_ptr()
    }
}

/// A WDFDEVICE.
#[derive(Clone, Copy, Debug)]
pub struct Device(WDFDEVICE);

impl Device {
    pub(super) fn from_raw(raw: WDFDEVICE) -> Device {
        Device(raw)
    }

    pub(super) fn as_raw(self) -> WDFDEVICE {
        self.0
    }

    pub(super) fn as_object(self) -> WDFOBJECT {
        self.0.cast()
    }

    /// The device's state, once [`Device::install_state`] ran.
    pub fn state<'a>(self) -> Option<&'a DeviceState> {
        let slot = context::<ContextSlot<DeviceState>>(self.as_object(), &DEVICE_CONTEXT)?;
        // SAFETY: the slot lives as long as the device, which outlives every callback that asks;
        // `ready` is set (Release) only after `value` was written, and never cleared while the
        // device can still call back, so a `true` (Acquire) means `value` is initialised.
        let slot = unsafe { slot.as_ref() };
        if !slot.ready.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: initialised, per the above; only shared references are ever handed out.
        Some(unsafe { slot.value.assume_init_ref() })
    }

    /// Moves the device state into the device context. Called once, in EvtDriverDeviceAdd,
    /// before the queues that could deliver requests exist.
    pub fn install_state(self, state: DeviceState) -> Result<(), NtStatus> {
        let Some(slot) = context::<ContextSlot<DeviceState>>(self.as_object(), &DEVICE_CONTEXT) else {
            return Err(NtStatus::INVALID_DEVICE_STATE);
        };
        let slot = slot.as_ptr();
        // SAFETY: the context is allocated and zeroed by KMDF with room for the slot; nothing
        // reads it yet (no queue exists and `ready` is false), so writing through the raw pointer
        // cannot race, and `ready` being false means no earlier value is overwritten unfreed.
        let ready = unsafe { &(*slot).ready };
        if ready.load(Ordering::Acquire) {
            return Err(NtStatus::INVALID_DEVICE_STATE);
        }
        // SAFETY: as above; `value` is the slot's field, properly aligned by the context allocator.
        unsafe { (*slot).value.write(state) };
        ready.store(true, Ordering::Release);
        Ok(())
    }

    /// EvtDestroyCallback of the device: drops the state (the ring's pool and everything else)
    /// once no callback can run any more.
    pub(super) fn destroy_state(object: WDFOBJECT) {
        let Some(slot) = context::<ContextSlot<DeviceState>>(object, &DEVICE_CONTEXT) else {
            return;
        };
        let slot = slot.as_ptr();
        // SAFETY: the destroy callback runs once, after every other callback of the device;
        // nothing else references the slot any more.
        let ready = unsafe { &(*slot).ready };
        if ready.swap(false, Ordering::AcqRel) {
            // SAFETY: as above: the slot is alive and nothing else references it.
            let value = unsafe { &mut (*slot).value };
            // SAFETY: `ready` was true, so the value is initialised; it is dropped exactly once
            // (the flag is now false).
            unsafe { value.assume_init_drop() };
        }
    }

    /// The WDM device object.
    pub fn wdm_device_object(self) -> Result<DeviceObject, NtStatus> {
        // SAFETY: a live WDFDEVICE; IRQL <= DISPATCH_LEVEL.
        let raw = unsafe { call_unsafe_wdf_function_binding!(WdfDeviceWdmGetDeviceObject, self.0) };
        NonNull::new(raw).map(DeviceObject).ok_or(NtStatus::INVALID_DEVICE_STATE)
    }

    /// The default queue: parallel, PASSIVE_LEVEL callbacks, zero-length writes delivered.
    pub fn create_default_queue(self) -> Result<(), NtStatus> {
        let mut config = WDF_IO_QUEUE_CONFIG {
            Size: struct_size!(WDF_IO_QUEUE_CONFIG),
            DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchParallel,
            PowerManaged: _WDF_TRI_STATE::WdfUseDefault,
            // A zero-length write is a record (see logbridge_core::device); without this KMDF
            // would complete it with STATUS_SUCCESS and never call EvtIoWrite.
            AllowZeroLengthRequests: 1,
            DefaultQueue: 1,
            EvtIoWrite: Some(callbacks::evt_io_write),
            EvtIoDeviceControl: Some(callbacks::evt_io_device_control),
            ..WDF_IO_QUEUE_CONFIG::default()
        };
        // As WDF_IO_QUEUE_CONFIG_INIT does for parallel queues: no limit on presented requests.
        config.Settings.Parallel.NumberOfPresentedRequests = ULONG::MAX;
        let mut attributes = object_attributes();
        // PASSIVE_LEVEL callbacks: IoWMIWriteEvent (<= APC_LEVEL) may be called from EvtIoWrite.
        attributes.ExecutionLevel = _WDF_EXECUTION_LEVEL::WdfExecutionLevelPassive;
        let mut queue: WDFQUEUE = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL (device add); config and attributes initialised as the INIT
        // macros would; the callbacks match the PFN types (checked by the compiler).
        check(unsafe {
            call_unsafe_wdf_function_binding!(WdfIoQueueCreate, self.0, &mut config, &mut attributes, &mut queue)
        })
    }

    /// A manual queue, not power-managed (parked requests are not held or stopped by power
    /// transitions), with no callbacks: requests are retrieved by the driver.
    pub fn create_manual_queue(self) -> Result<ManualQueue, NtStatus> {
        let mut config = WDF_IO_QUEUE_CONFIG {
            Size: struct_size!(WDF_IO_QUEUE_CONFIG),
            DispatchType: _WDF_IO_QUEUE_DISPATCH_TYPE::WdfIoQueueDispatchManual,
            PowerManaged: _WDF_TRI_STATE::WdfFalse,
            ..WDF_IO_QUEUE_CONFIG::default()
        };
        let mut queue: WDFQUEUE = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL; a manual queue with no I/O callbacks and Settings left zero, as
        // KMDF requires for manual queues.
        check(unsafe {
            call_unsafe_wdf_function_binding!(
                WdfIoQueueCreate,
                self.0,
                &mut config,
                WDF_NO_OBJECT_ATTRIBUTES,
                &mut queue
            )
        })?;
        Ok(ManualQueue::from_raw(queue))
    }

    /// The device interface `logbridge-ctl` finds the device by.
    pub fn create_interface(self, interface: logbridge_core::Guid) -> Result<(), NtStatus> {
        let class = guid(interface);
        // SAFETY: PASSIVE_LEVEL; KMDF copies the GUID; no reference string.
        check(unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceCreateDeviceInterface, self.0, &class, core::ptr::null())
        })
    }

    /// The device a queue belongs to.
    pub(super) fn of_queue(queue: WDFQUEUE) -> Device {
        // SAFETY: a live queue handed to us by KMDF in a callback.
        Device(unsafe { call_unsafe_wdf_function_binding!(WdfIoQueueGetDevice, queue) })
    }

    /// The device a file object belongs to.
    pub(super) fn of_file(file: FileObject) -> Device {
        // SAFETY: a live file object handed to us by KMDF in a callback.
        Device(unsafe { call_unsafe_wdf_function_binding!(WdfFileObjectGetDevice, file.as_raw()) })
    }
}

/// A file object (one open handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileObject(WDFFILEOBJECT);

impl FileObject {
    pub(super) fn from_raw(raw: WDFFILEOBJECT) -> Option<FileObject> {
        (!raw.is_null()).then_some(FileObject(raw))
    }

    pub(super) fn as_raw(self) -> WDFFILEOBJECT {
        self.0
    }

    /// The handle's context. It lives as long as the file object, which outlives every request
    /// sent on the handle.
    pub fn context<'a>(self) -> Option<&'a FileContext> {
        let cell = context::<FileContext>(self.0.cast(), &FILE_CONTEXT)?;
        // SAFETY: the context is a zero-initialised FileContext (a valid value: atomics only),
        // alive while the file object is, and only ever accessed through shared references.
        Some(unsafe { cell.as_ref() })
    }

    /// The handle's ring-log cursor.
    pub fn cursor<'a>(self) -> Option<&'a CursorCell> {
        self.context().map(|context| &context.cursor)
    }
}

/// `PWDFDEVICE_INIT` during EvtDriverDeviceAdd.
pub struct DeviceInit(PWDFDEVICE_INIT);

impl DeviceInit {
    pub(super) fn from_raw(raw: PWDFDEVICE_INIT) -> DeviceInit {
        DeviceInit(raw)
    }

    /// Creates the device: buffered I/O, FILE_DEVICE_SECURE_OPEN, a [`FileContext`] on every file
    /// object, and the device-state context (destroyed by [`Device::destroy_state`]).
    /// PASSIVE_LEVEL.
    ///
    /// The FDO is not named: "name device objects only when necessary". A handle is opened by the
    /// device interface, which links to the PDO's name, and PnP gives the device objects of the
    /// stack the INF's security (`HKR,,Security`, SYSTEM and Administrators only) and
    /// `DeviceCharacteristics` (FILE_DEVICE_SECURE_OPEN). A named FDO would be a second name to
    /// open, and KMDF can give a security descriptor only to a named device object
    /// (WdfDeviceInitAssignSDDLString, Remarks), so naming it only to secure it would add the very
    /// path that needs securing. The KMDF model's security test opens every name as every caller.
    pub fn create(mut self) -> Result<Device, NtStatus> {
        // SAFETY: a live WDFDEVICE_INIT before WdfDeviceCreate; PASSIVE_LEVEL.
        unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceInitSetIoType, self.0, _WDF_DEVICE_IO_TYPE::WdfDeviceIoBuffered)
        };
        // SAFETY: as above; OR-ed into the default characteristics (the INF sets the same on the
        // whole stack).
        unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceInitSetCharacteristics, self.0, FILE_DEVICE_SECURE_OPEN, 1)
        };

        let mut file_config = WDF_FILEOBJECT_CONFIG {
            Size: struct_size!(WDF_FILEOBJECT_CONFIG),
            EvtDeviceFileCreate: Some(callbacks::evt_device_file_create),
            EvtFileClose: None,
            EvtFileCleanup: Some(callbacks::evt_file_cleanup),
            AutoForwardCleanupClose: _WDF_TRI_STATE::WdfUseDefault,
            FileObjectClass: _WDF_FILEOBJECT_CLASS::WdfFileObjectWdfCannotUseFsContexts,
        };
        let mut file_attributes = object_attributes();
        file_attributes.ContextTypeInfo = FILE_CONTEXT.info();
        // SAFETY: as above; the config and attributes are fully initialised.
        unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDeviceInitSetFileObjectConfig,
                self.0,
                &mut file_config,
                &mut file_attributes
            )
        };

        let mut attributes = object_attributes();
        attributes.ContextTypeInfo = DEVICE_CONTEXT.info();
        attributes.EvtDestroyCallback = Some(callbacks::evt_device_destroy);
        let mut device: WDFDEVICE = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL; `self.0` is the framework's WDFDEVICE_INIT, passed by address as
        // the routine requires (it frees the init structure on success and clears the pointer).
        check(unsafe {
            call_unsafe_wdf_function_binding!(WdfDeviceCreate, &mut self.0, &mut attributes, &mut device)
        })?;
        Ok(Device(device))
    }
}

/// The driver.
#[derive(Clone, Copy, Debug)]
pub struct Driver(WDFDRIVER);

impl Driver {
    pub(super) fn from_raw(raw: WDFDRIVER) -> Driver {
        Driver(raw)
    }

    /// Opens `HKLM\System\CurrentControlSet\Services\LogBridge\Parameters` (the INF's
    /// defaults, read-only at run time) for reading. `None` if it does not exist.
    pub fn open_parameters(self) -> Option<RegistryKey> {
        let mut key: WDFKEY = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL (device add); KEY_READ; `key` is a writable handle slot.
        let opened = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDriverOpenParametersRegistryKey,
                self.0,
                KEY_READ,
                WDF_NO_OBJECT_ATTRIBUTES,
                &mut key
            )
        };
        check(opened).ok().map(|()| RegistryKey(key))
    }

    /// Opens the driver's persistent state key (`...\Services\LogBridge\State`), where
    /// administrators' overrides of the parameters go, for reading. `None` if it cannot be opened.
    pub fn open_overrides(self) -> Option<RegistryKey> {
        let mut key: WDFKEY = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL (device add); KEY_READ; `key` is a writable handle slot.
        let opened = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfDriverOpenPersistentStateRegistryKey,
                self.0,
                KEY_READ,
                WDF_NO_OBJECT_ATTRIBUTES,
                &mut key
            )
        };
        check(opened).ok().map(|()| RegistryKey(key))
    }
}

/// An open registry key; dropping it closes it.
pub struct RegistryKey(WDFKEY);

impl RegistryKey {
    /// `WdfRegistryQueryULong(key, name)`: a `REG_DWORD`, missing, or something else.
    pub fn query_u32(&self, name: &'static [u16]) -> RegistryValue {
        let name = unicode_string(name);
        let mut value: ULONG = 0;
        // SAFETY: PASSIVE_LEVEL; a live key; `name` is valid for the call; `value` is writable.
        let status = unsafe { call_unsafe_wdf_function_binding!(WdfRegistryQueryULong, self.0, &name, &mut value) };
        match check(status) {
            Ok(()) => RegistryValue::Dword(value),
            Err(NtStatus::OBJECT_NAME_NOT_FOUND) => RegistryValue::Missing,
            Err(_) => RegistryValue::NotADword,
        }
    }
}

impl Drop for RegistryKey {
    fn drop(&mut self) {
        // SAFETY: the key was opened by WdfDriverOpenParametersRegistryKey and is closed once.
        unsafe { call_unsafe_wdf_function_binding!(WdfRegistryClose, self.0) };
    }
}

/// The UTF-16 names of the registry parameters, in `Parameter::ALL` order.
pub fn parameter_name(parameter: logbridge_core::device::Parameter) -> &'static [u16] {
    use logbridge_core::device::Parameter;
    match parameter {
        Parameter::RingLogSize => wide!(Parameter::RingLogSize.name()),
        Parameter::EventLogBurst => wide!(Parameter::EventLogBurst.name()),
        Parameter::EventLogRatePerSecond => wide!(Parameter::EventLogRatePerSecond.name()),
        Parameter::MaxWriteSize => wide!(Parameter::MaxWriteSize.name()),
    }
}
