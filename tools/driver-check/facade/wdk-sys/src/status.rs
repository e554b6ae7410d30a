// Copyright (c) Microsoft Corporation
// License: MIT OR Apache-2.0
//
// `STATUS_*` constants of wdk-sys 0.5.2, copied verbatim from its hand-written `src/constants.rs`
// (there "manually imported definitions from windows_sys::Win32::Foundation"), trimmed to the
// statuses LogBridge uses (those of `logbridge_core::status`, which the driver and the KMDF model
// speak): the real crate has them all; the facade needs only what the driver is checked against.
// wdk-sys re-exports them at the crate root, as this facade does. `tests/windows_artifacts.rs`
// checks that every one equals the core's value of the same name.

use crate::NTSTATUS;

pub const STATUS_SUCCESS: NTSTATUS = 0_i32;
pub const STATUS_PENDING: NTSTATUS = 259_i32;
pub const STATUS_BUFFER_OVERFLOW: NTSTATUS = -2_147_483_643_i32;
pub const STATUS_NO_MORE_ENTRIES: NTSTATUS = -2_147_483_622_i32;
pub const STATUS_UNSUCCESSFUL: NTSTATUS = -1_073_741_823_i32;
pub const STATUS_NOT_IMPLEMENTED: NTSTATUS = -1_073_741_822_i32;
pub const STATUS_INFO_LENGTH_MISMATCH: NTSTATUS = -1_073_741_820_i32;
pub const STATUS_INVALID_PARAMETER: NTSTATUS = -1_073_741_811_i32;
pub const STATUS_NO_SUCH_DEVICE: NTSTATUS = -1_073_741_810_i32;
pub const STATUS_INVALID_DEVICE_REQUEST: NTSTATUS = -1_073_741_808_i32;
pub const STATUS_NO_MEMORY: NTSTATUS = -1_073_741_801_i32;
pub const STATUS_ACCESS_DENIED: NTSTATUS = -1_073_741_790_i32;
pub const STATUS_BUFFER_TOO_SMALL: NTSTATUS = -1_073_741_789_i32;
pub const STATUS_OBJECT_TYPE_MISMATCH: NTSTATUS = -1_073_741_788_i32;
pub const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = -1_073_741_772_i32;
pub const STATUS_DELETE_PENDING: NTSTATUS = -1_073_741_738_i32;
pub const STATUS_REVISION_MISMATCH: NTSTATUS = -1_073_741_735_i32;
pub const STATUS_INVALID_SECURITY_DESCR: NTSTATUS = -1_073_741_703_i32;
pub const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = -1_073_741_670_i32;
pub const STATUS_DEVICE_NOT_READY: NTSTATUS = -1_073_741_661_i32;
pub const STATUS_NOT_SUPPORTED: NTSTATUS = -1_073_741_637_i32;
pub const STATUS_INTERNAL_ERROR: NTSTATUS = -1_073_741_595_i32;
pub const STATUS_CANCELLED: NTSTATUS = -1_073_741_536_i32;
pub const STATUS_INVALID_DEVICE_STATE: NTSTATUS = -1_073_741_436_i32;
pub const STATUS_INVALID_BUFFER_SIZE: NTSTATUS = -1_073_741_306_i32;
pub const STATUS_NOT_FOUND: NTSTATUS = -1_073_741_275_i32;
