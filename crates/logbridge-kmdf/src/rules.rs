//! The rules the KMDF and I/O-manager model enforces, each with the text it comes from.
//!
//! The kernel rules of the write path (IRQL of each DDI, error-log entries written or freed once,
//! WMI items, pool leaks) are `logbridge_model::Rule`s, checked by the checked kernel that this model
//! delegates the kernel routines to. The rules here are those of the framework and the I/O manager:
//! each names where it is written, in Microsoft's documentation or, where the documentation is
//! silent, in KMDF's published source (microsoft/Windows-Driver-Frameworks).

use std::fmt;

macro_rules! rules {
    ($($(#[$doc:meta])* $name:ident => $text:literal, $source:literal;)*) => {
        /// A rule of KMDF or the I/O manager.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum KmdfRule {
            $($(#[$doc])* $name,)*
        }

        impl KmdfRule {
            /// Every rule.
            pub const ALL: &'static [KmdfRule] = &[$(KmdfRule::$name),*];

            /// The rule.
            pub fn text(self) -> &'static str {
                match self {
                    $(KmdfRule::$name => $text,)*
                }
            }

            /// Where it is written.
            pub fn source(self) -> &'static str {
                match self {
                    $(KmdfRule::$name => $source,)*
                }
            }
        }
    };
}

rules! {
    /// A routine called above its documented IRQL.
    Irql => "a routine is called at or below the IRQL its documentation states",
        "each routine's Requirements table on learn.microsoft.com (e.g. WdfWaitLockAcquire: PASSIVE_LEVEL without a timeout)";
    /// A handle that is not a live object of the expected type.
    InvalidHandle => "a WDF handle passed to a routine is a live object of the routine's type",
        "KMDF verifier, FxObjectHandleGetPtr (src/framework/shared/inc/private/common/fxhandle.h)";
    /// Object attributes KMDF would reject.
    ObjectAttributes => "WDF_OBJECT_ATTRIBUTES: Size equals sizeof, ExecutionLevel and SynchronizationScope not Invalid, a context type with Size, name and non-zero size",
        "FxValidateObjectAttributes (src/framework/shared/object/fxvalidatefunctions.cpp); WDF_OBJECT_ATTRIBUTES_INIT";
    /// A config structure with the wrong Size or contents.
    ConfigStructure => "a WDF_*_CONFIG is initialised by its _INIT function: Size equals sizeof, and the fields its type allows",
        "WDF_DRIVER_CONFIG_INIT / WDF_IO_QUEUE_CONFIG_INIT / WDF_WMI_PROVIDER_CONFIG_INIT docs; FxIoQueue::Initialize (fxioqueue.cpp)";
    /// A context asked for with a type the object does not have.
    ContextType => "WdfObjectGetTypedContextWorker is given a context type the object was created with",
        "WdfObjectGetTypedContextWorker docs; FxObjectHandleGetTypedContext (src/framework/shared/object/fxobjectapi.cpp)";
    /// WDFDEVICE_INIT used after WdfDeviceCreate consumed it.
    DeviceInitConsumed => "a successful WdfDeviceCreate frees the WDFDEVICE_INIT and sets the caller's pointer to NULL; it is not used again",
        "WdfDeviceCreate docs (Remarks); FxDevice::_Create (src/framework/shared/core/fxdevice.cpp)";
    /// EvtDriverDeviceAdd returned success without creating a device, or the reverse.
    DeviceAdd => "EvtDriverDeviceAdd returns STATUS_SUCCESS only after a successful WdfDeviceCreate",
        "EVT_WDF_DRIVER_DEVICE_ADD docs (Return value); FxPkgFdo::AddDevice (src/framework/shared/irphandlers/pnp/fdo.cpp)";
    /// An SDDL string on an unnamed device object.
    SecurityNeedsName => "a security descriptor can only be assigned to a named device object",
        "WdfDeviceInitAssignSDDLString docs (Remarks); FxDevice::CreateDevice (fxdevicekm.cpp) fails with STATUS_INVALID_SECURITY_DESCR";
    /// MOF resource name assigned twice or not as a resource of the driver.
    MofResource => "WdfDeviceAssignMofResourceName is called once per device, with the name of a MOFDATA resource of the driver binary",
        "WdfDeviceAssignMofResourceName docs (Remarks); inf/logbridge-resources.rc";
    /// A WMI provider config KMDF rejects.
    WmiProviderConfig => "an EvtWmiProviderFunctionControl callback is only allowed with WdfWmiProviderExpensive or WdfWmiProviderTracing; the GUID is not zero",
        "WDF_WMI_PROVIDER_CONFIG docs; FxWmiProvider::_Create (src/framework/kmdf/src/irphandlers/wmi/fxwmiprovider.cpp)";
    /// The WNODE's ProviderId is not the device's registered id.
    WmiProviderId => "WNODE_HEADER.ProviderId is IoWMIDeviceObjectToProviderId of the registered device object, taken when the event is fired: KMDF registers the device with WMI only when the device starts",
        "IoWMIWriteEvent and WNODE_HEADER docs; KMDF pnpstatemachine.cpp (\"now enable the device interfaces and WMI\"), FxWmiInstance::FireEvent (fxwmiinstance.cpp)";
    /// A request completed twice, or a deleted request handle used.
    RequestCompletedTwice => "a request is completed exactly once; its handle is invalid after completion",
        "WdfRequestComplete docs; KMDF verifier (FxRequest::CompleteInternal, fxrequest.cpp)";
    /// A request that the driver does not own was completed or forwarded.
    RequestNotOwned => "the driver completes or forwards only requests it owns: presented to a callback or retrieved from a queue, not ones sitting in a queue",
        "WdfRequestComplete / WdfRequestForwardToIoQueue docs; FxRequest::VerifyRequestIsDriverOwned (fxrequest.cpp)";
    /// WdfRequestForwardToIoQueue to a queue of another device or the same queue.
    ForwardTarget => "WdfRequestForwardToIoQueue moves a request to another queue of the same device",
        "WdfRequestForwardToIoQueue docs (Remarks); FxIoQueue::ForwardRequest (fxioqueue.cpp)";
    /// A request completed with STATUS_PENDING.
    CompletedPending => "a request is never completed with STATUS_PENDING",
        "Completing IRPs (learn.microsoft.com kernel docs); KMDF verifier in FxRequest::Complete";
    /// Success with more Information than the buffer holds.
    InformationTooLarge => "a successful completion's Information is at most the buffer's length (KMDF breaks for buffered requests)",
        "Buffer descriptions for I/O control codes; KMDF verifier FxRequest::CompleteInternal (fxrequest.cpp)";
    /// An error completion with Information != 0.
    InformationOnError => "a request failed with an NT_ERROR status completes with Information 0: the I/O manager copies neither data nor Information back",
        "Completing IRPs / IoStatus.Information guidance (learn.microsoft.com); I/O manager IopCompleteRequest behaviour";
    /// A request of a cleaned-up handle left pending.
    RequestAfterCleanup => "when a handle is cleaned up (IRP_MJ_CLEANUP, EvtFileCleanup), every request the driver holds for that file object is completed",
        "DispatchCleanup docs (\"complete ... all IRPs that are queued for the target device object, for the file object\"); KMDF: requests already presented are the driver's";
    /// A request outstanding at remove or unload.
    RequestOutstanding => "no request is outstanding in the driver when its device is removed or the driver unloads",
        "KMDF remove processing (FxPkgIo::StopProcessingForPower / purge, fxpkgio.cpp); Driver Verifier I/O verification";
    /// A lock released by a thread that does not hold it, or acquired recursively.
    LockOwnership => "a spin lock or wait lock is released by the thread that acquired it, and not acquired twice by it",
        "WdfSpinLockRelease / WdfWaitLockRelease docs; KMDF FxVerifierLock (src/framework/shared/support/fxverifierlock.cpp)";
    /// Pool freed with another tag, or a pointer the pool never gave.
    PoolTag => "ExFreePoolWithTag is given a block from ExAllocatePool2 with the same tag",
        "ExFreePoolWithTag docs; Driver Verifier pool tracking";
    /// ExAllocatePool2 flags.
    PoolFlags => "ExAllocatePool2 gets exactly one pool type flag and a non-zero tag",
        "ExAllocatePool2 docs (Flags, Tag)";
    /// An object left at unload.
    ObjectLeak => "every framework object is deleted by the time the driver unloads",
        "KMDF verifier object tracking (FxObject leak detection at driver unload)";
    /// The device is openable by a caller its security does not admit.
    Security => "the device opens only for the callers its security descriptor admits, on every name it can be opened by",
        "Securing device objects; Controlling device namespace access (FILE_DEVICE_SECURE_OPEN) (learn.microsoft.com)";
    /// Write of IoWriteErrorLogEntry/IoAllocateErrorLogEntry with something that is not an I/O object.
    ErrorLogObject => "IoAllocateErrorLogEntry gets the driver's device object or driver object",
        "IoAllocateErrorLogEntry docs (IoObject)";
}

/// A broken KMDF or I/O-manager rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmdfViolation {
    /// The rule.
    pub rule: KmdfRule,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for KmdfViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {} ({}) [source: {}]", self.rule, self.rule.text(), self.detail, self.rule.source())
    }
}

/// Any violation the model found: a framework or I/O-manager rule, or a kernel rule of the
/// checked kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// A KMDF or I/O-manager rule.
    Kmdf(KmdfViolation),
    /// A kernel rule (`logbridge_model`).
    Kernel(logbridge_model::Violation),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Kmdf(v) => write!(f, "KMDF verifier: {v}"),
            Violation::Kernel(v) => write!(f, "kernel verifier: {v}"),
        }
    }
}
