//! # logbridge-model: a checked kernel for LogBridge's write path
//!
//! The driver's logic lives in `logbridge-core` and is generic over [`logbridge_core::kernel::Kernel`].
//! This crate implements that trait on the host the way Driver Verifier checks a real driver, so
//! the *same* write path runs in tests and in `logbridge-ctl simulate`:
//!
//! * every DDI checks its IRQL limit (`IoWMIWriteEvent` <= APC_LEVEL, `IoAllocateErrorLogEntry` and
//!   `IoWriteErrorLogEntry` <= DISPATCH_LEVEL) and that the ring lock is not held;
//! * error-log entries are written or freed exactly once, never freed after writing, and what is
//!   written must be a well-formed, fully initialised `IO_ERROR_LOG_PACKET`;
//!   `IoAllocateErrorLogEntry` returns NULL for sizes below 48 or above the maximum, as the kernel does;
//! * WMI event items come from nonpaged memory, are well formed, are sent only while enabled, and
//!   are freed by the driver exactly when `IoWMIWriteEvent` failed;
//! * every request is completed exactly once, and nothing leaks at teardown;
//! * faults are injected on demand ([`faults`]): the Nth call, every call, or at random with a seed,
//!   with each failure status a DDI can return; [`systematic`] replays a scenario failing each call
//!   site in turn.
//!
//! It also shows what the outside world sees: the Event Viewer rendering of each entry
//! ([`event_viewer`], with the text from `inf/logbridge.mc`) and the events a WMI subscriber receives.
//!
//! A broken rule is recorded as a [`Violation`] naming the rule; tests call
//! [`ModelKernel::assert_clean`], and `simulate` exits non-zero.

pub mod device;
pub mod event_viewer;
pub mod faults;
pub mod kernel;
pub mod message_file;
pub mod simulation;
pub mod systematic;

pub use device::{DeviceOptions, HandleId, IoResult, ModelDevice, RequestId};
pub use faults::{Ddi, FaultPlan, FaultRule, Trigger};
pub use kernel::{IrqlGuard, ModelKernel, Rule, Violation};
