//! The modelled machine: the framework's object table (one entry per KMDF object, as `FxObject`
//! is the base of every framework class), the IRPs user mode has in flight, the registry, and the
//! thread-local "current machine" through which the routines the driver calls find their state.
//!
//! Locking: `State` is behind one mutex that no code holds while it calls the driver. Spin locks
//! and wait locks are their own objects ([`LockCore`]), so a thread blocked on one holds nothing else.

use crate::rules::{KmdfRule, KmdfViolation};
use logbridge_core::NtStatus;
use logbridge_core::kernel::Irql;
use logbridge_model::ModelKernel;
use logbridge_model::kernel::{ModelErrorLogEntry, ModelNonPagedBuffer};
use std::cell::{RefCell, UnsafeCell};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::Duration;
use wdk_sys::*;

/// `DriverEntry`'s type: what the loader calls.
pub type DriverEntryFn = unsafe extern "system" fn(PDRIVER_OBJECT, PCUNICODE_STRING) -> NTSTATUS;

/// Locks a mutex, ignoring poisoning: a test that failed while holding it must show its own panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

// ---------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------

/// A framework object's id; its handle is `id << 4` (never NULL, never reused).
pub(crate) type ObjectId = u64;

pub(crate) fn handle_of<T>(id: ObjectId) -> *mut T {
    usize::try_from(id << 4).unwrap_or(0) as *mut T
}

pub(crate) fn id_of<T>(handle: *mut T) -> ObjectId {
    (handle as usize as u64) >> 4
}

/// Fake addresses of the WDM objects, apart from the WDF handles.
pub(crate) const DRIVER_OBJECT_ADDRESS: usize = 0x0000_7D00_0000_0010;
pub(crate) const DEVICE_OBJECT_BASE: usize = 0x0000_7D10_0000_0000;
pub(crate) const DEVICE_INIT_BASE: usize = 0x0000_7D20_0000_0000;

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// A context of an object (`WDF_DECLARE_CONTEXT_TYPE`): zeroed memory of the type's size.
pub(crate) struct Context {
    pub(crate) type_info: usize,
    pub(crate) name: String,
    pub(crate) memory: Box<[u128]>,
}

/// Who owns a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The driver: presented to a callback, or retrieved from a manual queue.
    Driver,
    /// A queue, waiting to be presented or retrieved.
    Queue(ObjectId),
}

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Create,
    Write { length: usize },
    DeviceControl { code: u32, input_length: usize, output_length: usize },
}

pub(crate) struct FxRequest {
    pub(crate) irp: Arc<Irp>,
    pub(crate) device: ObjectId,
    pub(crate) file: Option<ObjectId>,
    /// The queue the request is in, or was last presented from / retrieved from.
    pub(crate) queue: Option<ObjectId>,
    pub(crate) owner: Owner,
    pub(crate) kind: RequestKind,
    pub(crate) process_id: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PnpState {
    Added,
    Started,
    Removed,
}

pub(crate) struct FileConfig {
    pub(crate) create: PFN_WDF_DEVICE_FILE_CREATE,
    pub(crate) cleanup: PFN_WDF_FILE_CLEANUP,
    pub(crate) close: PFN_WDF_FILE_CLOSE,
    pub(crate) attributes: Option<WDF_OBJECT_ATTRIBUTES>,
}

pub(crate) struct FxDevice {
    pub(crate) device_object: usize,
    pub(crate) fdo_name: Option<String>,
    pub(crate) sddl: Option<String>,
    pub(crate) characteristics: u32,
    pub(crate) file_config: Option<FileConfig>,
    pub(crate) pnp: PnpState,
    pub(crate) interfaces: Vec<GUID>,
    pub(crate) mof_resource_name: Option<String>,
    pub(crate) default_queue: Option<ObjectId>,
    /// `IoWMIDeviceObjectToProviderId` once registered with WMI; 0 before.
    pub(crate) wmi_provider_id: u32,
    pub(crate) open_files: usize,
}

pub(crate) struct FxQueue {
    pub(crate) device: ObjectId,
    pub(crate) dispatch: i32,
    pub(crate) power_managed: bool,
    pub(crate) allow_zero_length: bool,
    pub(crate) evt_write: PFN_WDF_IO_QUEUE_IO_WRITE,
    pub(crate) evt_device_control: PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL,
    pub(crate) items: VecDeque<ObjectId>,
    pub(crate) accepting: bool,
}

pub(crate) struct FxFile {
    pub(crate) device: ObjectId,
    pub(crate) cleaned_up: bool,
    pub(crate) close_pending: bool,
}

pub(crate) struct FxWmiProvider {
    pub(crate) device: ObjectId,
    pub(crate) event_enabled: bool,
}

pub(crate) struct FxWmiInstance {
    pub(crate) register: bool,
}

pub(crate) enum Body {
    Driver { device_add: PFN_WDF_DRIVER_DEVICE_ADD, unload: PFN_WDF_DRIVER_UNLOAD, pool_tag: u32 },
    Device(FxDevice),
    Queue(FxQueue),
    Request(FxRequest),
    File(FxFile),
    SpinLock(Arc<LockCore>),
    WaitLock(Arc<LockCore>),
    WmiProvider(FxWmiProvider),
    WmiInstance(FxWmiInstance),
    Key { path: String },
}

impl Body {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Body::Driver { .. } => "WDFDRIVER",
            Body::Device(_) => "WDFDEVICE",
            Body::Queue(_) => "WDFQUEUE",
            Body::Request(_) => "WDFREQUEST",
            Body::File(_) => "WDFFILEOBJECT",
            Body::SpinLock(_) => "WDFSPINLOCK",
            Body::WaitLock(_) => "WDFWAITLOCK",
            Body::WmiProvider(_) => "WDFWMIPROVIDER",
            Body::WmiInstance(_) => "WDFWMIINSTANCE",
            Body::Key { .. } => "WDFKEY",
        }
    }
}

pub(crate) struct FxObject {
    pub(crate) parent: Option<ObjectId>,
    pub(crate) children: Vec<ObjectId>,
    pub(crate) contexts: Vec<Context>,
    pub(crate) cleanup: PFN_WDF_OBJECT_CONTEXT_CLEANUP,
    pub(crate) destroy: PFN_WDF_OBJECT_CONTEXT_DESTROY,
    pub(crate) body: Body,
}

/// A WDFSPINLOCK or WDFWAITLOCK: who holds it, and the IRQL to restore (spin locks).
#[derive(Default)]
pub(crate) struct LockCore {
    pub(crate) held: Mutex<Option<(ThreadId, Irql)>>,
    pub(crate) released: Condvar,
}

// ---------------------------------------------------------------------------------------------
// IRPs: what user mode has in flight
// ---------------------------------------------------------------------------------------------

/// An I/O request as the I/O manager holds it: the system buffer (buffered I/O), the caller's
/// output pages (`METHOD_OUT_DIRECT` hands the driver these directly), and the completion.
pub(crate) struct Irp {
    pub(crate) kind: RequestKind,
    pub(crate) method: u32,
    pub(crate) system_buffer: UnsafeCell<Box<[u8]>>,
    pub(crate) user_output: UnsafeCell<Box<[u8]>>,
    pub(crate) status: Mutex<IrpStatus>,
    pub(crate) completed: Condvar,
}

// SAFETY: the buffers are written by the driver while it owns the request and read by the caller
// only after completion, which the status mutex orders; everything else is behind the mutex.
unsafe impl Sync for Irp {}
// SAFETY: as above.
unsafe impl Send for Irp {}

#[derive(Default)]
pub(crate) struct IrpStatus {
    pub(crate) completion: Option<(NtStatus, u64)>,
    pub(crate) cancel: bool,
    pub(crate) request: Option<ObjectId>,
    /// Bytes copied back to the caller's buffer (buffered I/O, not an NT_ERROR status).
    pub(crate) copied_back: usize,
}

impl Irp {
    pub(crate) fn new(kind: RequestKind, method: u32, system_buffer: Vec<u8>, user_output: Vec<u8>) -> Arc<Irp> {
        Arc::new(Irp {
            kind,
            method,
            system_buffer: UnsafeCell::new(system_buffer.into_boxed_slice()),
            user_output: UnsafeCell::new(user_output.into_boxed_slice()),
            status: Mutex::new(IrpStatus::default()),
            completed: Condvar::new(),
        })
    }

    pub(crate) fn system_buffer(&self) -> (*mut u8, usize) {
        // SAFETY: the box is never replaced; only its contents are written, through this pointer.
        let buffer = unsafe { &mut *self.system_buffer.get() };
        (buffer.as_mut_ptr(), buffer.len())
    }

    pub(crate) fn user_output(&self) -> (*mut u8, usize) {
        // SAFETY: as above.
        let buffer = unsafe { &mut *self.user_output.get() };
        (buffer.as_mut_ptr(), buffer.len())
    }

    /// The caller's output buffer, once the request completed.
    pub(crate) fn output_after_completion(&self) -> Vec<u8> {
        let _completed = lock(&self.status);
        // SAFETY: completion happened (the caller checked), so the driver no longer writes it.
        unsafe { (*self.user_output.get()).to_vec() }
    }

    /// Waits for completion up to `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<(NtStatus, u64)> {
        let status = lock(&self.status);
        let (status, _) = self
            .completed
            .wait_timeout_while(status, timeout, |s| s.completion.is_none())
            .unwrap_or_else(|p| p.into_inner());
        status.completion
    }
}

// ---------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------

/// A registry value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryValue {
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_SZ`.
    String(String),
    /// `REG_BINARY`.
    Binary(Vec<u8>),
}

// ---------------------------------------------------------------------------------------------
// The state
// ---------------------------------------------------------------------------------------------

pub(crate) struct PoolBlock {
    pub(crate) buffer: ModelNonPagedBuffer,
    pub(crate) tag: u32,
}

#[derive(Default)]
pub(crate) struct DeviceInitData {
    pub(crate) consumed: bool,
    pub(crate) characteristics: u32,
    pub(crate) sddl: Option<String>,
    pub(crate) file_config: Option<FileConfig>,
}

pub(crate) struct State {
    pub(crate) next_id: ObjectId,
    pub(crate) objects: BTreeMap<ObjectId, FxObject>,
    pub(crate) driver: Option<ObjectId>,
    pub(crate) device: Option<ObjectId>,
    pub(crate) device_init: Option<(usize, DeviceInitData)>,
    pub(crate) registry: BTreeMap<String, BTreeMap<String, RegistryValue>>,
    pub(crate) pool: BTreeMap<usize, PoolBlock>,
    pub(crate) entries: BTreeMap<usize, ModelErrorLogEntry>,
    pub(crate) next_handle: u64,
    pub(crate) wmi_subscribers: u32,
    pub(crate) pdo_security: Option<String>,
    pub(crate) pdo_characteristics: u32,
    /// File objects whose last request completed after cleanup: closed at the next model step
    /// (the I/O manager sends IRP_MJ_CLOSE when the file object's last reference goes).
    pub(crate) deferred_closes: Vec<ObjectId>,
}

// SAFETY: the raw pointers in the state (attributes' parent handles and context-type infos, kept
// in a file-object config) are addresses of the driver's statics and of model handles; the model
// reads them only under its own rules, from any thread, as KMDF does.
unsafe impl Send for State {}

impl State {
    pub(crate) fn insert(&mut self, parent: Option<ObjectId>, body: Body) -> ObjectId {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(parent) = parent.and_then(|p| self.objects.get_mut(&p)) {
            parent.children.push(id);
        }
        self.objects.insert(
            id,
            FxObject { parent, children: Vec::new(), contexts: Vec::new(), cleanup: None, destroy: None, body },
        );
        id
    }

    pub(crate) fn request(&mut self, id: ObjectId) -> Option<&mut FxRequest> {
        match self.objects.get_mut(&id).map(|o| &mut o.body) {
            Some(Body::Request(request)) => Some(request),
            _ => None,
        }
    }

    pub(crate) fn queue(&mut self, id: ObjectId) -> Option<&mut FxQueue> {
        match self.objects.get_mut(&id).map(|o| &mut o.body) {
            Some(Body::Queue(queue)) => Some(queue),
            _ => None,
        }
    }

    pub(crate) fn device_mut(&mut self, id: ObjectId) -> Option<&mut FxDevice> {
        match self.objects.get_mut(&id).map(|o| &mut o.body) {
            Some(Body::Device(device)) => Some(device),
            _ => None,
        }
    }

    /// The device, while it exists (one root-enumerated device node).
    pub(crate) fn the_device(&mut self) -> Option<&mut FxDevice> {
        let id = self.device?;
        self.device_mut(id)
    }

    pub(crate) fn file(&mut self, id: ObjectId) -> Option<&mut FxFile> {
        match self.objects.get_mut(&id).map(|o| &mut o.body) {
            Some(Body::File(file)) => Some(file),
            _ => None,
        }
    }

    /// The subtree of `id`, children before their parent (the order KMDF disposes a tree in).
    pub(crate) fn subtree_post_order(&self, id: ObjectId) -> Vec<ObjectId> {
        let mut order = Vec::new();
        let mut stack = vec![(id, false)];
        while let Some((node, visited)) = stack.pop() {
            if visited {
                order.push(node);
                continue;
            }
            stack.push((node, true));
            if let Some(object) = self.objects.get(&node) {
                for child in object.children.iter().rev() {
                    stack.push((*child, false));
                }
            }
        }
        order
    }

    /// Requests of `file` the driver or a queue still holds.
    pub(crate) fn requests_of_file(&self, file: ObjectId) -> Vec<(ObjectId, Owner)> {
        self.objects
            .iter()
            .filter_map(|(id, o)| match &o.body {
                Body::Request(r) if r.file == Some(file) && r.kind != RequestKind::Create => Some((*id, r.owner)),
                _ => None,
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------------------------

/// A hook the tests run at a point of the driver's execution.
pub(crate) type Hook = Box<dyn FnMut() + Send>;

pub(crate) struct Machine {
    pub(crate) kernel: ModelKernel,
    pub(crate) state: Mutex<State>,
    pub(crate) violations: Mutex<Vec<KmdfViolation>>,
    pub(crate) calls: Mutex<BTreeMap<&'static str, u64>>,
    pub(crate) before_forward: Mutex<Option<Hook>>,
    /// Threads waiting for a spin lock or wait lock right now.
    pub(crate) lock_waiters: std::sync::atomic::AtomicUsize,
    pub(crate) entry: DriverEntryFn,
    pub(crate) service_key: String,
}

impl Machine {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn violate(&self, rule: KmdfRule, detail: impl Into<String>) {
        lock(&self.violations).push(KmdfViolation { rule, detail: detail.into() });
    }

    /// Counts a call and checks its IRQL limit.
    pub(crate) fn enter(&self, routine: &'static str, max_irql: Irql) {
        *lock(&self.calls).entry(routine).or_insert(0) += 1;
        let irql = logbridge_model::kernel::current_irql();
        if irql > max_irql {
            self.violate(KmdfRule::Irql, format!("{routine} called at IRQL {irql} (limit {max_irql})"));
        }
    }
}

thread_local! {
    static CURRENT: RefCell<Vec<Arc<Machine>>> = const { RefCell::new(Vec::new()) };
}

/// The machine whose code this thread is running.
pub(crate) fn current() -> Arc<Machine> {
    CURRENT.with(|stack| stack.borrow().last().cloned()).unwrap_or_else(|| {
        panic!("a WDF or kernel routine was called outside the KMDF model (no current machine on this thread)")
    })
}

/// Makes `machine` this thread's current machine until dropped.
pub(crate) struct Entered;

pub(crate) fn enter(machine: &Arc<Machine>) -> Entered {
    CURRENT.with(|stack| stack.borrow_mut().push(Arc::clone(machine)));
    Entered
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|stack| {
            stack.borrow_mut().pop();
        });
    }
}
