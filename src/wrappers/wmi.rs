//! WMI: the event-only provider of `LogBridge_WriteEvent` and `IoWMIWriteEvent`.
//!
//! The rules from the IoWMIWriteEvent page, and where they are kept:
//! * Fire only events a consumer enabled: [`WmiEventSource::enabled`] (`WdfWmiProviderIsEnabled`
//!   with `WdfWmiEventControl`), asked by the core before building the item.
//! * The item must be nonpaged: it is a [`NonPagedBuffer`].
//! * On success WMI frees the item; on failure the caller must: [`WmiEventSource::write_event`]
//!   forgets the buffer only on success and hands it back in `WmiWriteFailure` otherwise.
//! * IRQL <= APC_LEVEL: the core checks before calling.

use super::device::{Device, DeviceObject};
use super::pool::NonPagedBuffer;
use super::{check, flag, guid, object_attributes, struct_size, unicode_string, wide};
use logbridge_core::NtStatus;
use logbridge_core::guid::GUID_LOGBRIDGE_WRITE_EVENT;
use logbridge_core::identity::MOF_RESOURCE_NAME;
use logbridge_core::kernel::WmiWriteFailure;
use wdk_sys::ntddk::{IoWMIDeviceObjectToProviderId, IoWMIWriteEvent};
use wdk_sys::{
    _WDF_WMI_PROVIDER_CONTROL, _WDF_WMI_PROVIDER_FLAGS, WDF_NO_HANDLE, WDF_WMI_INSTANCE_CONFIG,
    WDF_WMI_PROVIDER_CONFIG, WDFWMIINSTANCE, WDFWMIPROVIDER, call_unsafe_wdf_function_binding,
};

/// The device's WMI event provider for `LogBridge_WriteEvent`.
pub struct WmiEventSource {
    provider: WDFWMIPROVIDER,
    /// The device object, whose WMI provider id is asked for each time an event is fired.
    device_object: DeviceObject,
}

// SAFETY: the provider is a framework object whose routine is callable from any thread.
unsafe impl Send for WmiEventSource {}
// SAFETY: as above; nothing is mutated through `&self`.
unsafe impl Sync for WmiEventSource {}

impl WmiEventSource {
    /// Registers the MOF resource and creates the event-only provider with one instance, so the
    /// class appears in `root\wmi` once the device starts. PASSIVE_LEVEL.
    pub fn create(device: &Device, device_object: DeviceObject) -> Result<WmiEventSource, NtStatus> {
        let name = unicode_string(wide!(MOF_RESOURCE_NAME));
        // SAFETY: PASSIVE_LEVEL (device add); `name` points to static UTF-16 text that KMDF copies;
        // called once per device, as the routine requires.
        check(unsafe { call_unsafe_wdf_function_binding!(WdfDeviceAssignMofResourceName, device.as_raw(), &name) })?;

        let mut provider_config = WDF_WMI_PROVIDER_CONFIG {
            Size: struct_size!(WDF_WMI_PROVIDER_CONFIG),
            Guid: guid(GUID_LOGBRIDGE_WRITE_EVENT),
            Flags: flag(_WDF_WMI_PROVIDER_FLAGS::WdfWmiProviderEventOnly),
            MinInstanceBufferSize: 0,
            // Only allowed with the Expensive or Tracing flags; enablement is polled instead.
            EvtWmiProviderFunctionControl: None,
        };
        let mut provider_attributes = object_attributes();
        let mut provider: WDFWMIPROVIDER = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL; the config is fully initialised as WDF_WMI_PROVIDER_CONFIG_INIT
        // would (Size, non-zero GUID) and the attributes have no parent, as the routine requires.
        check(unsafe {
            call_unsafe_wdf_function_binding!(
                WdfWmiProviderCreate,
                device.as_raw(),
                &mut provider_config,
                &mut provider_attributes,
                &mut provider
            )
        })?;

        let mut instance_config = WDF_WMI_INSTANCE_CONFIG {
            Size: struct_size!(WDF_WMI_INSTANCE_CONFIG),
            Provider: provider,
            Register: 1,
            ..WDF_WMI_INSTANCE_CONFIG::default()
        };
        let mut instance_attributes = object_attributes();
        let mut instance: WDFWMIINSTANCE = WDF_NO_HANDLE.cast();
        // SAFETY: PASSIVE_LEVEL; the config names the provider just created and asks KMDF to
        // register the instance (so WMI numbers it 0, the InstanceIndex of our static-name events).
        check(unsafe {
            call_unsafe_wdf_function_binding!(
                WdfWmiInstanceCreate,
                device.as_raw(),
                &mut instance_config,
                &mut instance_attributes,
                &mut instance
            )
        })?;
        Ok(WmiEventSource { provider, device_object })
    }

    /// Has a consumer enabled the event (IRP_MN_ENABLE_EVENTS)?
    pub fn enabled(&self) -> bool {
        // SAFETY: a live provider; IRQL <= DISPATCH_LEVEL.
        let enabled = unsafe {
            call_unsafe_wdf_function_binding!(
                WdfWmiProviderIsEnabled,
                self.provider,
                _WDF_WMI_PROVIDER_CONTROL::WdfWmiEventControl
            )
        };
        enabled != 0
    }

    /// The WNODE's `ProviderId`: `IoWMIDeviceObjectToProviderId` of the device object, asked when
    /// the event is fired. KMDF registers the device with WMI only when it starts (KMDF
    /// `pnpstatemachine.cpp`: "now enable the device interfaces and WMI"), and on 64-bit Windows
    /// the id comes from that registration: asked at device add it would be 0. KMDF's own
    /// `FxWmiInstance::FireEvent` asks at fire time too.
    pub fn provider_id(&self) -> u32 {
        // SAFETY: the device's live WDM device object (the device outlives its state, which holds
        // this source); IRQL <= DISPATCH_LEVEL (writes run at PASSIVE_LEVEL).
        unsafe { IoWMIDeviceObjectToProviderId(self.device_object.as_raw()) }
    }

    /// `IoWMIWriteEvent(item)`: WMI owns and frees the item on success; on failure it comes back.
    pub fn write_event(&self, mut item: NonPagedBuffer) -> Result<(), WmiWriteFailure<NonPagedBuffer>> {
        let raw = item.as_raw();
        // SAFETY: `raw` is a nonpaged WNODE_EVENT_ITEM built by the core (header BufferSize equals
        // the item's size); the caller is at IRQL <= APC_LEVEL (checked by the core).
        let result = unsafe { IoWMIWriteEvent(raw) };
        match check(result) {
            Ok(()) => {
                // WMI frees the item with ExFreePool: it must not be freed or touched again.
                core::mem::forget(item);
                Ok(())
            }
            Err(failed) => Err(WmiWriteFailure { status: failed, item }),
        }
    }
}
