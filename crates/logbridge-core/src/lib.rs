//! # logbridge-core
//!
//! Everything the LogBridge driver decides, as portable `#![no_std]` code with no allocator and no
//! Windows dependency. The KMDF driver and the checked kernel model (`logbridge-model`) both run
//! exactly this code; they differ only in how they implement [`kernel::Kernel`].
//!
//! | Concern | Module |
//! |---|---|
//! | NTSTATUS values | [`status`] |
//! | Message-table ids (agree with `inf/logbridge.mc`) | [`messages`] |
//! | `IO_ERROR_LOG_PACKET`: size planner, encoder, decoders | [`errorlog`] |
//! | `WNODE_SINGLE_INSTANCE` event items and the LogBridge event payload | [`wmi`] |
//! | The NDIS-style ring log and its record stream decoder | [`ring`], [`record`] |
//! | Event-log rate limiting | [`ratelimit`] |
//! | IOCTL codes and their fixed-layout structs | [`ioctl`] |
//! | The DDIs the driver needs, as a trait | [`kernel`] |
//! | The write path and the IOCTL handlers | [`device`] |
//! | Windows time (100 ns since 1601) | [`time`] |
//! | Names shared by the driver, INF, resources and app | [`identity`] |
//!
//! Kernel code never panics: the crate denies `unwrap`, `expect`, `panic!`, slice indexing and
//! unchecked arithmetic (see the workspace lints), and contains no `unsafe`.

#![no_std]
#![forbid(unsafe_code)]
// Unit tests may index, unwrap and cast freely; the library code is linted without this.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::field_reassign_with_default
    )
)]

#[cfg(test)]
extern crate std;

pub mod device;
pub mod errorlog;
pub mod guid;
pub mod identity;
pub mod ioctl;
pub mod kernel;
pub mod messages;
pub mod ratelimit;
pub mod record;
pub mod ring;
pub mod status;
pub mod text;
pub mod time;
pub mod wmi;

pub use guid::Guid;
pub use status::NtStatus;
