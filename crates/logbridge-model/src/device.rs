//! The device harness: what KMDF and the I/O manager do around the driver's callbacks.
//!
//! [`ModelDevice`] plays `EvtDriverDeviceAdd` (ring storage from nonpaged pool), `EvtDeviceFileCreate`
//! (a cursor per handle), `EvtIoWrite`, `EvtIoDeviceControl` (with the I/O manager's access check
//! first), the manual queue that parks `READ_LOG` requests, cancellation, `EvtFileCleanup` and
//! unload. Every request is tracked so that completing one twice, or never, is a violation.
//!
//! Parking follows the rule the driver must follow too: after a request is parked, the parked
//! requests are served once more, because a write may have slipped in between "nothing to read"
//! and "parked" and its wake-up would otherwise be lost.

use crate::kernel::{KernelOptions, ModelKernel, ModelLogLock, Rule};
use logbridge_core::NtStatus;
use logbridge_core::device::{Config, CursorCell, LogBridge, LogState, WriteRequest};
use logbridge_core::ioctl::{self, ReadLogRequest};
use logbridge_core::kernel::{Completion, Kernel, PendingReadServer, ReadCompletion};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use zerocopy::IntoBytes;

/// A request id.
pub type RequestId = u64;
/// A handle id.
pub type HandleId = u64;

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// Its status.
    pub status: NtStatus,
    /// `IoStatus.Information`.
    pub information: usize,
    /// The output buffer as the caller sees it afterwards.
    pub output: Vec<u8>,
}

/// The result of sending a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoResult {
    /// Completed before the call returned.
    Completed(Completed),
    /// Parked; see [`ModelDevice::completion`].
    Pending(RequestId),
}

impl IoResult {
    /// The completion, if it completed at once.
    pub fn completed(self) -> Option<Completed> {
        match self {
            IoResult::Completed(c) => Some(c),
            IoResult::Pending(_) => None,
        }
    }
}

/// Settings of a model device.
#[derive(Clone, Debug)]
pub struct DeviceOptions {
    /// Ring storage in bytes (`RingLogSize`).
    pub ring_size: usize,
    /// Driver settings.
    pub config: Config,
    /// Name of the device object, inserted as `%1` by the I/O manager (KMDF FDOs are unnamed).
    pub device_name: String,
}

impl Default for DeviceOptions {
    fn default() -> Self {
        DeviceOptions {
            ring_size: logbridge_core::ring::DEFAULT_CAPACITY,
            config: Config::default(),
            device_name: String::new(),
        }
    }
}

#[derive(Debug)]
struct HandleState {
    id: HandleId,
    access: u32,
    cursor: CursorCell,
}

#[derive(Debug)]
struct ParkedRead {
    id: RequestId,
    handle: Arc<HandleState>,
    output: Vec<u8>,
}

#[derive(Debug)]
enum RequestState {
    Outstanding,
    Done(Completed),
}

/// The manual queue of parked reads and the request ledger.
#[derive(Debug, Default)]
pub struct PendingQueue {
    parked: Mutex<VecDeque<ParkedRead>>,
    requests: Mutex<HashMap<RequestId, RequestState>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PendingQueue {
    fn new_request(&self) -> RequestId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.requests).insert(id, RequestState::Outstanding);
        id
    }

    fn complete(&self, kernel: &ModelKernel, id: RequestId, completion: Completion, mut output: Vec<u8>) -> Completed {
        output.truncate(output.len().min(if completion.status.is_error() {
            output.len()
        } else {
            completion.information
        }));
        let done = Completed { status: completion.status, information: completion.information, output };
        let mut requests = lock(&self.requests);
        match requests.get(&id) {
            Some(RequestState::Outstanding) => {
                requests.insert(id, RequestState::Done(done.clone()));
            }
            _ => {
                drop(requests);
                kernel.violate(Rule::RequestCompletedTwice, format!("request #{id} with {}", completion.status));
            }
        }
        done
    }

    /// Serves every parked read (KMDF: `WdfIoQueueRetrieveNextRequest` in a loop).
    ///
    /// The queue stays locked while its requests are served (lock order: queue, then log). Taking
    /// the requests out, serving them unlocked and putting the unserved ones back would lose a
    /// wake-up: a write landing between "served: nothing yet" and "put back" drains an empty queue.
    /// The loom model in `crates/logbridge-core/tests/loom.rs` finds that interleaving.
    pub(crate) fn drain(&self, kernel: &ModelKernel, server: &dyn PendingReadServer) {
        let mut parked = lock(&self.parked);
        let mut keep = VecDeque::with_capacity(parked.len());
        while let Some(mut read) = parked.pop_front() {
            match server.serve_pending_read(&read.handle.cursor, &mut read.output) {
                ReadCompletion::Complete(completion) => {
                    self.complete(kernel, read.id, completion, read.output);
                }
                ReadCompletion::Pending => keep.push_back(read),
            }
        }
        *parked = keep;
    }

    fn take_parked(&self, pick: impl Fn(&ParkedRead) -> bool) -> Vec<ParkedRead> {
        let mut parked = lock(&self.parked);
        let (taken, kept): (Vec<_>, Vec<_>) = parked.drain(..).partition(|r| pick(r));
        parked.extend(kept);
        taken
    }

    fn outstanding(&self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = lock(&self.requests)
            .iter()
            .filter(|(_, s)| matches!(s, RequestState::Outstanding))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// The model device.
#[derive(Debug)]
pub struct ModelDevice {
    kernel: ModelKernel,
    bridge: Option<LogBridge<ModelLogLock>>,
    handles: Mutex<HashMap<HandleId, Arc<HandleState>>>,
    next_handle: AtomicU64,
    options: DeviceOptions,
}

impl ModelDevice {
    /// `EvtDriverDeviceAdd`: allocates the ring from nonpaged pool. Fails with
    /// `STATUS_INSUFFICIENT_RESOURCES` if that allocation fails (nothing is leaked).
    pub fn create(kernel: ModelKernel, options: DeviceOptions) -> Result<ModelDevice, NtStatus> {
        let storage = kernel.allocate_nonpaged(options.ring_size).ok_or(NtStatus::INSUFFICIENT_RESOURCES)?;
        let state = LogState::new(storage, options.config.rate_limit).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let bridge = LogBridge::new(options.config, ModelLogLock::new(state, kernel.clone()));
        Ok(ModelDevice {
            kernel,
            bridge: Some(bridge),
            handles: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(0),
            options,
        })
    }

    /// A device with default kernel and device options.
    pub fn with_defaults() -> ModelDevice {
        let kernel = ModelKernel::new(KernelOptions::default());
        match ModelDevice::create(kernel, DeviceOptions::default()) {
            Ok(device) => device,
            Err(status) => panic!("the default model device could not be created: {status}"),
        }
    }

    /// The kernel.
    pub fn kernel(&self) -> &ModelKernel {
        &self.kernel
    }

    /// The options.
    pub fn options(&self) -> &DeviceOptions {
        &self.options
    }

    /// The driver's device object.
    pub fn bridge(&self) -> &LogBridge<ModelLogLock> {
        match &self.bridge {
            Some(bridge) => bridge,
            None => unreachable_device(),
        }
    }

    /// `CreateFile` + `EvtDeviceFileCreate`: a handle with `access` (FILE_READ_DATA 1 | FILE_WRITE_DATA 2).
    pub fn open(&self, access: u32) -> HandleId {
        let id = self.next_handle.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(HandleState { id, access, cursor: self.bridge().open_cursor() });
        lock(&self.handles).insert(id, handle);
        id
    }

    fn handle(&self, id: HandleId) -> Option<Arc<HandleState>> {
        lock(&self.handles).get(&id).cloned()
    }

    /// `WriteFile` on `handle` by process `pid`: the I/O manager checks write access, then KMDF
    /// calls `EvtIoWrite` (zero-length writes too: AllowZeroLengthRequests).
    pub fn write(&self, handle: HandleId, payload: &[u8], pid: u32) -> Completed {
        let pending = self.kernel.pending();
        let id = pending.new_request();
        let completion = match self.handle(handle) {
            None => Completion::failure(NtStatus::INVALID_PARAMETER),
            Some(h) if h.access & ioctl::FILE_WRITE_ACCESS == 0 => Completion::failure(NtStatus::ACCESS_DENIED),
            Some(_) => self.bridge().write(&self.kernel, WriteRequest { payload, process_id: pid }),
        };
        pending.complete(&self.kernel, id, completion, Vec::new())
    }

    /// `DeviceIoControl` on `handle` with an output buffer of `output_len` bytes.
    pub fn device_control(&self, handle: HandleId, code: u32, input: &[u8], output_len: usize) -> IoResult {
        let pending = self.kernel.pending();
        let id = pending.new_request();
        let Some(h) = self.handle(handle) else {
            return IoResult::Completed(pending.complete(
                &self.kernel,
                id,
                Completion::failure(NtStatus::INVALID_PARAMETER),
                Vec::new(),
            ));
        };
        if !ioctl::access_allows(h.access, code) {
            // The I/O manager refuses before the driver sees it.
            return IoResult::Completed(pending.complete(
                &self.kernel,
                id,
                Completion::failure(NtStatus::ACCESS_DENIED),
                Vec::new(),
            ));
        }
        let mut output = vec![0u8; output_len];
        match self.bridge().device_control(code, &h.cursor, input, &mut output) {
            ReadCompletion::Complete(completion) => {
                IoResult::Completed(pending.complete(&self.kernel, id, completion, output))
            }
            ReadCompletion::Pending => {
                lock(&pending.parked).push_back(ParkedRead { id, handle: h, output });
                // Close the window between "nothing to read" and "parked".
                self.kernel.complete_pending_reads(self.bridge());
                match self.completion(id) {
                    Some(done) => IoResult::Completed(done),
                    None => IoResult::Pending(id),
                }
            }
        }
    }

    /// `READ_LOG` with an optional request struct.
    pub fn read_log(&self, handle: HandleId, request: Option<ReadLogRequest>, output_len: usize) -> IoResult {
        let input = request.map(|r| r.as_bytes().to_vec()).unwrap_or_default();
        self.device_control(handle, ioctl::IOCTL_LOGBRIDGE_READ_LOG, &input, output_len)
    }

    /// How request `id` completed, once it has.
    pub fn completion(&self, id: RequestId) -> Option<Completed> {
        match lock(&self.kernel.pending().requests).get(&id) {
            Some(RequestState::Done(done)) => Some(done.clone()),
            _ => None,
        }
    }

    /// `CancelIoEx` on a parked request: KMDF completes it with `STATUS_CANCELLED` if it is still
    /// in the queue. Returns whether it was cancelled.
    pub fn cancel(&self, id: RequestId) -> bool {
        let pending = self.kernel.pending();
        let taken = pending.take_parked(|r| r.id == id);
        for read in &taken {
            pending.complete(&self.kernel, read.id, Completion::failure(NtStatus::CANCELLED), Vec::new());
        }
        !taken.is_empty()
    }

    /// `CloseHandle`: `EvtFileCleanup` completes the handle's parked reads with `STATUS_CANCELLED`.
    pub fn close(&self, handle: HandleId) {
        let pending = self.kernel.pending();
        for read in pending.take_parked(|r| r.handle.id == handle) {
            pending.complete(&self.kernel, read.id, Completion::failure(NtStatus::CANCELLED), Vec::new());
        }
        lock(&self.handles).remove(&handle);
    }

    /// Unload: closes every handle, frees the ring, then checks that every request was completed
    /// and nothing leaked. Returns the kernel for inspection.
    pub fn teardown(mut self) -> ModelKernel {
        let ids: Vec<HandleId> = lock(&self.handles).keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        self.bridge = None;
        for id in self.kernel.pending().outstanding() {
            self.kernel.violate(Rule::RequestNeverCompleted, format!("request #{id}"));
        }
        self.kernel.check_leaks();
        self.kernel.clone()
    }
}

fn unreachable_device() -> ! {
    panic!("the model device was used after teardown")
}
