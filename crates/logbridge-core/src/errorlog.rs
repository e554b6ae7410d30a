//! `IO_ERROR_LOG_PACKET`: limits, the size planner, the encoder and two decoders.
//!
//! # Layout (x86, x64 and ARM64 alike; windows-layouts.md §1.1)
//! ```text
//!  0 u8  MajorFunctionCode     12 i32 ErrorCode (message id)   32 i64 DeviceOffset
//!  1 u8  RetryCount            16 u32 UniqueErrorValue         40 DumpData[DumpDataSize bytes]
//!  2 u16 DumpDataSize (bytes)  20 i32 FinalStatus              48 sizeof(IO_ERROR_LOG_PACKET)
//!  4 u16 NumberOfStrings       24 u32 SequenceNumber
//!  6 u16 StringOffset          28 u32 IoControlCode
//!  8 u16 EventCategory, 10 padding
//! ```
//!
//! # The rules this module enforces
//! * `EntrySize` is a `UCHAR` that `IoAllocateErrorLogEntry` truncates silently, and the kernel
//!   returns NULL for sizes below 48 or above `ERROR_LOG_MAXIMUM_SIZE` (240 on 64-bit Windows, 152
//!   on x86). [`EntrySize`] can only be made from a checked size, so no cast can truncate.
//! * `DumpDataSize` is a multiple of 4, and the dump starts at offset 40.
//! * Insertion strings are NUL-terminated UTF-16LE, back to back at `StringOffset`, counted by
//!   `NumberOfStrings`. LogBridge uses the documented convention
//!   `StringOffset = sizeof(IO_ERROR_LOG_PACKET) + DumpDataSize`. `%1` is the device name the I/O
//!   manager inserts; the driver's strings are `%2` onward.
//! * The entry the kernel hands out is zeroed before it is filled: nothing uninitialised reaches
//!   the Event Log.
//!
//! # Two encoded forms
//! The packet the driver writes ([`parse_packet`]), and the Event Log "binary data" of the event,
//! which is the packet's first 40 bytes followed by the DumpData ([`parse_event_data`]).

use crate::messages::{self, Message};
use crate::status::NtStatus;
use crate::text::{self, PreviewPlan};
use core::fmt;
use zerocopy::little_endian::{I64, U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `sizeof(IO_ERROR_LOG_PACKET)`.
pub const PACKET_SIZE: usize = 48;
/// `FIELD_OFFSET(IO_ERROR_LOG_PACKET, DumpData)`.
pub const DUMP_DATA_OFFSET: usize = 40;
/// `IRP_MJ_WRITE`.
pub const IRP_MJ_WRITE: u8 = 0x04;
/// `IRP_MJ_DEVICE_CONTROL`.
pub const IRP_MJ_DEVICE_CONTROL: u8 = 0x0E;

/// `ERROR_LOG_MAXIMUM_SIZE`, derived as the DDK header macros derive it (windows-layouts.md §1.3):
/// `min(PORT_MAXIMUM_MESSAGE_LENGTH, ERROR_LOG_LIMIT_SIZE + HEADER) - HEADER`, where
/// `HEADER = sizeof(IO_ERROR_LOG_MESSAGE) - sizeof(IO_ERROR_LOG_PACKET) + 40 * sizeof(WCHAR)`.
pub const fn error_log_maximum_size(pointer_width_bits: u32) -> usize {
    const ERROR_LOG_LIMIT_SIZE: usize = 256 - 16;
    const IO_ERROR_LOG_MESSAGE_SIZE: usize = 72;
    const HEADER: usize = IO_ERROR_LOG_MESSAGE_SIZE - PACKET_SIZE + 40 * 2;
    let port_maximum_message_length = if pointer_width_bits == 64 { 512 } else { 256 };
    let limit = ERROR_LOG_LIMIT_SIZE + HEADER;
    let message_length = if port_maximum_message_length < limit { port_maximum_message_length } else { limit };
    message_length.saturating_sub(HEADER)
}

/// `ERROR_LOG_MAXIMUM_SIZE` of the target being compiled: 240 on x64 and ARM64, 152 on x86.
pub const ERROR_LOG_MAXIMUM_SIZE: usize = error_log_maximum_size(usize::BITS);

const _: () = assert!(error_log_maximum_size(64) == 240);
const _: () = assert!(error_log_maximum_size(32) == 152);

/// A size `IoAllocateErrorLogEntry` accepts: `48 ..= maximum` (and so at most 255, a valid UCHAR).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntrySize(u8);

impl EntrySize {
    /// Checks `size` against 48 and `maximum` (itself at most 255) *before* narrowing it.
    pub fn new(size: usize, maximum: usize) -> Option<EntrySize> {
        if size < PACKET_SIZE || size > maximum {
            return None;
        }
        u8::try_from(size).ok().map(EntrySize)
    }

    /// The value to pass as `EntrySize`.
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// The size in bytes.
    pub const fn bytes(self) -> usize {
        self.0 as usize
    }
}

/// The 40 fixed bytes of an `IO_ERROR_LOG_PACKET`, in wire order (little-endian, unaligned).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawPacketHeader {
    /// `MajorFunctionCode`.
    pub major_function_code: u8,
    /// `RetryCount`.
    pub retry_count: u8,
    /// `DumpDataSize`.
    pub dump_data_size: U16,
    /// `NumberOfStrings`.
    pub number_of_strings: U16,
    /// `StringOffset`.
    pub string_offset: U16,
    /// `EventCategory`.
    pub event_category: U16,
    /// Alignment padding before `ErrorCode`.
    pub padding: [u8; 2],
    /// `ErrorCode`.
    pub error_code: U32,
    /// `UniqueErrorValue`.
    pub unique_error_value: U32,
    /// `FinalStatus`.
    pub final_status: U32,
    /// `SequenceNumber`.
    pub sequence_number: U32,
    /// `IoControlCode`.
    pub io_control_code: U32,
    /// `DeviceOffset`.
    pub device_offset: I64,
}

const _: () = assert!(core::mem::size_of::<RawPacketHeader>() == DUMP_DATA_OFFSET);
const _: () = assert!(core::mem::offset_of!(RawPacketHeader, error_code) == 12);
const _: () = assert!(core::mem::offset_of!(RawPacketHeader, device_offset) == 32);

/// The fixed fields of a packet, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PacketHeader {
    /// `MajorFunctionCode`.
    pub major_function: u8,
    /// `RetryCount`.
    pub retry_count: u8,
    /// `DumpDataSize` in bytes.
    pub dump_data_size: u16,
    /// `NumberOfStrings`.
    pub number_of_strings: u16,
    /// `StringOffset`, from the start of the packet.
    pub string_offset: u16,
    /// `EventCategory`.
    pub event_category: u16,
    /// `ErrorCode` as an unsigned 32-bit message id.
    pub error_code: u32,
    /// `UniqueErrorValue`.
    pub unique_error_value: u32,
    /// `FinalStatus` as unsigned 32 bits.
    pub final_status: u32,
    /// `SequenceNumber`.
    pub sequence_number: u32,
    /// `IoControlCode`.
    pub io_control_code: u32,
    /// `DeviceOffset`.
    pub device_offset: i64,
}

impl From<&RawPacketHeader> for PacketHeader {
    fn from(raw: &RawPacketHeader) -> Self {
        PacketHeader {
            major_function: raw.major_function_code,
            retry_count: raw.retry_count,
            dump_data_size: raw.dump_data_size.get(),
            number_of_strings: raw.number_of_strings.get(),
            string_offset: raw.string_offset.get(),
            event_category: raw.event_category.get(),
            error_code: raw.error_code.get(),
            unique_error_value: raw.unique_error_value.get(),
            final_status: raw.final_status.get(),
            sequence_number: raw.sequence_number.get(),
            io_control_code: raw.io_control_code.get(),
            device_offset: raw.device_offset.get(),
        }
    }
}

impl From<&PacketHeader> for RawPacketHeader {
    fn from(h: &PacketHeader) -> Self {
        RawPacketHeader {
            major_function_code: h.major_function,
            retry_count: h.retry_count,
            dump_data_size: U16::new(h.dump_data_size),
            number_of_strings: U16::new(h.number_of_strings),
            string_offset: U16::new(h.string_offset),
            event_category: U16::new(h.event_category),
            padding: [0; 2],
            error_code: U32::new(h.error_code),
            unique_error_value: U32::new(h.unique_error_value),
            final_status: U32::new(h.final_status),
            sequence_number: U32::new(h.sequence_number),
            io_control_code: U32::new(h.io_control_code),
            device_offset: I64::new(h.device_offset),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Planning and encoding

/// One driver insertion string (`%2` onward).
#[derive(Clone, Copy, Debug)]
pub enum InsertionString<'a> {
    /// Text, written as is. It must fit: the planner fails rather than cut it.
    Text(&'a str),
    /// A number in decimal.
    Decimal(u64),
    /// A preview of bytes (see [`crate::text`]): it gets whatever room the other strings leave.
    /// At most one per packet.
    Preview(&'a [u8]),
}

/// What a packet says, before it is sized.
#[derive(Clone, Copy, Debug)]
pub struct PacketSpec<'a> {
    /// The message (its id becomes `ErrorCode`).
    pub message: Message,
    /// `MajorFunctionCode`.
    pub major_function: u8,
    /// `UniqueErrorValue`.
    pub unique_error_value: u32,
    /// `FinalStatus`.
    pub final_status: NtStatus,
    /// `SequenceNumber` (the low 32 bits of LogBridge's 64-bit record sequence).
    pub sequence_number: u32,
    /// Bytes for DumpData; the planner keeps at most `max_dump_bytes` of them.
    pub dump: &'a [u8],
    /// Upper bound on DumpData bytes.
    pub max_dump_bytes: usize,
    /// The insertion strings, `%2` first.
    pub strings: &'a [InsertionString<'a>],
}

/// Why a packet cannot be planned or encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketError {
    /// The fixed strings alone do not fit the maximum entry size.
    StringsTooLong,
    /// More than one preview string.
    MultiplePreviews,
    /// Text string number `index` (0 = `%2`) contains U+0000, which would end it early.
    NulInText {
        /// Index of the string.
        index: u16,
    },
    /// The buffer handed to the encoder is smaller than the planned entry.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The input is shorter than the fixed header.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// DumpData runs past the end of the input.
    DumpDataOutOfBounds {
        /// DumpDataSize.
        dump_data_size: u16,
        /// Input length.
        len: usize,
    },
    /// The Event Log binary data has bytes after DumpData.
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// StringOffset is inside the fixed header or past the end.
    StringOffsetOutOfBounds {
        /// StringOffset.
        string_offset: u16,
        /// Input length.
        len: usize,
    },
    /// String number `index` (0 = `%2`) has no NUL terminator before the end.
    StringNotTerminated {
        /// Index of the string.
        index: u16,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PacketError::StringsTooLong => write!(f, "the insertion strings do not fit ERROR_LOG_MAXIMUM_SIZE"),
            PacketError::MultiplePreviews => write!(f, "a packet may have only one preview string"),
            PacketError::NulInText { index } => {
                write!(f, "insertion string %{} contains U+0000", u32::from(index).saturating_add(2))
            }
            PacketError::BufferTooSmall { needed, given } => {
                write!(f, "entry buffer of {given} bytes is smaller than the planned {needed} bytes")
            }
            PacketError::Truncated { needed, given } => {
                write!(f, "input is {given} bytes, shorter than the {needed}-byte header")
            }
            PacketError::DumpDataOutOfBounds { dump_data_size, len } => {
                write!(f, "DumpDataSize {dump_data_size} runs past the end of the {len}-byte input")
            }
            PacketError::TrailingBytes { count } => write!(f, "{count} bytes follow the DumpData"),
            PacketError::StringOffsetOutOfBounds { string_offset, len } => write!(
                f,
                "StringOffset {string_offset} is not between {DUMP_DATA_OFFSET} and the end of the {len}-byte input"
            ),
            PacketError::StringNotTerminated { index } => {
                write!(f, "insertion string %{} has no NUL terminator", u32::from(index).saturating_add(2))
            }
        }
    }
}

/// A packet's sizes, decided by [`plan_packet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketPlan {
    /// The entry size to allocate.
    pub entry_size: EntrySize,
    /// DumpData bytes copied from the spec (the rest of DumpDataSize is zero padding).
    pub dump_bytes: usize,
    /// `DumpDataSize`: `dump_bytes` rounded up to a multiple of 4.
    pub dump_data_size: u16,
    /// `StringOffset`.
    pub string_offset: u16,
    /// `NumberOfStrings`.
    pub number_of_strings: u16,
    /// How the preview string (if any) is cut.
    pub preview: Option<PreviewPlan>,
    /// The maximum entry size it was planned within (at most 255).
    pub maximum_entry_size: usize,
}

/// The largest DumpData LogBridge puts in a write packet for a given maximum entry size: a sixth
/// of the room after the header, so that most of the room is left for the readable preview
/// (32 bytes on 64-bit Windows, 16 on x86).
pub const fn default_max_dump_bytes(maximum_entry_size: usize) -> usize {
    (maximum_entry_size.saturating_sub(PACKET_SIZE) / 6) & !3
}

fn round_up_4(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

/// Sizes a packet so that it never exceeds `maximum_entry_size` (pass [`ERROR_LOG_MAXIMUM_SIZE`]).
///
/// Fixed strings are kept whole; DumpData is cut to `max_dump_bytes` and then, if the strings
/// still do not fit, dropped; the preview takes what is left. Text strings must not contain U+0000
/// (a preview never does: control characters are shown as hex). This is [`PacketImage::build`]'s
/// plan; the write path builds the image itself, which sizes and encodes in the same pass.
pub fn plan_packet(spec: &PacketSpec<'_>, maximum_entry_size: usize) -> Result<PacketPlan, PacketError> {
    PacketImage::new().encode(spec, maximum_entry_size)
}

/// Fills `entry` (the memory `IoAllocateErrorLogEntry` returned, at least `plan.entry_size` bytes)
/// with the packet `plan` was made for ([`plan_packet`] of the same `spec`): the packet's bytes,
/// then zeroes to the end of `entry`.
pub fn encode_packet(entry: &mut [u8], spec: &PacketSpec<'_>, plan: &PacketPlan) -> Result<(), PacketError> {
    PacketImage::build(spec, plan.maximum_entry_size)?.write_to(entry)
}

/// `IoAllocateErrorLogEntry`'s `EntrySize` is a UCHAR: no packet is larger than this.
const IMAGE_SIZE: usize = 256;

/// The decimal digits of `value`.
fn decimal_digits(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| usize::try_from(log).unwrap_or(19).saturating_add(1))
}

/// A packet built in one pass, in a buffer of the largest entry size: the header, DumpData and
/// strings, with the preview sized and rendered in the same pass over the payload
/// ([`text::render_preview`]). The write path encodes it in place on the stack, allocates exactly
/// [`PacketPlan::entry_size`] and copies it in with [`PacketImage::write_to`].
#[derive(Clone)]
pub struct PacketImage {
    bytes: [u8; IMAGE_SIZE],
    plan: Option<PacketPlan>,
}

impl fmt::Debug for PacketImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketImage").field("plan", &self.plan).field("bytes", &self.as_bytes()).finish()
    }
}

impl Default for PacketImage {
    fn default() -> Self {
        Self::new()
    }
}

impl PacketImage {
    /// An empty image (no packet yet).
    pub const fn new() -> PacketImage {
        PacketImage { bytes: [0; IMAGE_SIZE], plan: None }
    }

    /// Sizes and encodes the packet `spec` describes within `maximum_entry_size` (see
    /// [`plan_packet`] for the sizing rules).
    pub fn build(spec: &PacketSpec<'_>, maximum_entry_size: usize) -> Result<PacketImage, PacketError> {
        let mut image = PacketImage::new();
        image.encode(spec, maximum_entry_size)?;
        Ok(image)
    }

    /// [`PacketImage::build`] in place: replaces this image's packet (every byte of the new
    /// packet is written; on an error the image holds no packet).
    pub fn encode(&mut self, spec: &PacketSpec<'_>, maximum_entry_size: usize) -> Result<PacketPlan, PacketError> {
        self.plan = None;
        let maximum = maximum_entry_size.min(usize::from(u8::MAX));
        // Size the fixed strings: the preview gets what they leave.
        let mut fixed_units = 0usize;
        let mut previews = 0usize;
        for (index, string) in spec.strings.iter().enumerate() {
            let units = match *string {
                InsertionString::Text(text) => {
                    // A NUL unit would end the string early and shift every later one.
                    if text.contains('\0') {
                        return Err(PacketError::NulInText { index: u16::try_from(index).unwrap_or(u16::MAX) });
                    }
                    text.encode_utf16().count()
                }
                InsertionString::Decimal(value) => decimal_digits(value),
                InsertionString::Preview(_) => {
                    previews = previews.saturating_add(1);
                    if previews > 1 {
                        return Err(PacketError::MultiplePreviews);
                    }
                    0
                }
            };
            // Every string has a NUL terminator.
            fixed_units = fixed_units.saturating_add(units).saturating_add(1);
        }
        let fixed_bytes = fixed_units.saturating_mul(2);
        let number_of_strings = u16::try_from(spec.strings.len()).map_err(|_| PacketError::StringsTooLong)?;

        let mut dump_bytes = spec.dump.len().min(spec.max_dump_bytes);
        let mut dump_data_size = round_up_4(dump_bytes).ok_or(PacketError::StringsTooLong)?;
        if PACKET_SIZE.saturating_add(dump_data_size).saturating_add(fixed_bytes) > maximum {
            dump_bytes = 0;
            dump_data_size = 0;
        }
        let string_offset = PACKET_SIZE.saturating_add(dump_data_size);
        let strings_end = string_offset.saturating_add(fixed_bytes);
        if strings_end > maximum {
            return Err(PacketError::StringsTooLong);
        }
        let preview_room_units = maximum.saturating_sub(strings_end) / 2;
        let dump_data_size16 = u16::try_from(dump_data_size).map_err(|_| PacketError::StringsTooLong)?;
        let string_offset16 = u16::try_from(string_offset).map_err(|_| PacketError::StringsTooLong)?;

        // Encode: header, DumpData and its zero padding, then the strings.
        let bytes = &mut self.bytes;
        let header = PacketHeader {
            major_function: spec.major_function,
            retry_count: 0,
            dump_data_size: dump_data_size16,
            number_of_strings,
            string_offset: string_offset16,
            event_category: 0,
            error_code: spec.message.id,
            unique_error_value: spec.unique_error_value,
            final_status: spec.final_status.as_u32(),
            sequence_number: spec.sequence_number,
            io_control_code: 0,
            device_offset: 0,
        };
        let overflow = PacketError::StringsTooLong;
        RawPacketHeader::from(&header).write_to_prefix(&mut bytes[..]).map_err(|_| overflow)?;
        let dump_src = spec.dump.get(..dump_bytes).ok_or(overflow)?;
        let (dump, padding) = bytes
            .get_mut(DUMP_DATA_OFFSET..string_offset)
            .and_then(|area| area.split_at_mut_checked(dump_bytes))
            .ok_or(overflow)?;
        dump.copy_from_slice(dump_src);
        padding.fill(0);

        let area = bytes.get_mut(string_offset..maximum).ok_or(overflow)?;
        let mut at = 0usize;
        let put = |area: &mut [u8], at: &mut usize, unit: u16| {
            if let Some(slot) = area.get_mut(*at..at.saturating_add(2)) {
                slot.copy_from_slice(&unit.to_le_bytes());
            }
            *at = at.saturating_add(2);
        };
        let mut preview = None;
        for string in spec.strings {
            match *string {
                InsertionString::Text(text) => text.encode_utf16().for_each(|unit| put(area, &mut at, unit)),
                InsertionString::Decimal(value) => {
                    itoa::Buffer::new().format(value).bytes().for_each(|digit| put(area, &mut at, u16::from(digit)));
                }
                InsertionString::Preview(payload) => {
                    let dst = area.get_mut(at..).ok_or(overflow)?;
                    let plan = text::render_preview(payload, preview_room_units, dst);
                    at = at.saturating_add(plan.units.saturating_mul(2));
                    preview = Some(plan);
                }
            }
            put(area, &mut at, 0);
        }
        let entry = string_offset.saturating_add(at);
        let plan = PacketPlan {
            entry_size: EntrySize::new(entry, maximum).ok_or(overflow)?,
            dump_bytes,
            dump_data_size: dump_data_size16,
            string_offset: string_offset16,
            number_of_strings,
            preview,
            maximum_entry_size: maximum,
        };
        self.plan = Some(plan);
        Ok(plan)
    }

    /// The packet's sizes (`None` before a packet was encoded).
    pub fn plan(&self) -> Option<&PacketPlan> {
        self.plan.as_ref()
    }

    /// The packet: [`PacketPlan::entry_size`] bytes (none before a packet was encoded).
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.plan.map_or(0, |plan| plan.entry_size.bytes());
        self.bytes.get(..len).unwrap_or(&[])
    }

    /// Copies the packet into `entry` (the memory `IoAllocateErrorLogEntry` returned, at least
    /// the entry size, or the kernel's rounded-up size) and zeroes the rest of it: nothing
    /// uninitialised reaches the Event Log.
    pub fn write_to(&self, entry: &mut [u8]) -> Result<(), PacketError> {
        let packet = self.as_bytes();
        let given = entry.len();
        let too_small = PacketError::BufferTooSmall { needed: packet.len(), given };
        let (head, rest) = entry.split_at_mut_checked(packet.len()).ok_or(too_small)?;
        head.copy_from_slice(packet);
        rest.fill(0);
        Ok(())
    }
}

/// The facts of one write that its packet reports.
#[derive(Clone, Copy, Debug)]
pub struct WriteFacts<'a> {
    /// LogBridge's 64-bit record sequence number.
    pub sequence: u64,
    /// The process that wrote.
    pub process_id: u32,
    /// The written bytes.
    pub payload: &'a [u8],
    /// The status the write completes with.
    pub final_status: NtStatus,
}

/// The insertion strings of a [`messages::LOGBRIDGE_WRITE`] packet: sequence, byte count, process
/// id and preview.
pub fn write_packet_strings<'a>(facts: &WriteFacts<'a>) -> [InsertionString<'a>; 4] {
    let length = u64::try_from(facts.payload.len()).unwrap_or(u64::MAX);
    [
        InsertionString::Decimal(facts.sequence),
        InsertionString::Decimal(length),
        InsertionString::Decimal(u64::from(facts.process_id)),
        InsertionString::Preview(facts.payload),
    ]
}

/// The spec of the packet for one write (the strings come from [`write_packet_strings`]).
/// `UniqueErrorValue` carries the writer's process id and `SequenceNumber` the low 32 bits of the
/// record's sequence number, so that the Event Log binary data alone identifies the write.
pub fn write_packet_spec<'a>(
    facts: &WriteFacts<'a>,
    strings: &'a [InsertionString<'a>],
    maximum_entry_size: usize,
) -> PacketSpec<'a> {
    PacketSpec {
        message: messages::LOGBRIDGE_WRITE,
        major_function: IRP_MJ_WRITE,
        unique_error_value: facts.process_id,
        final_status: facts.final_status,
        sequence_number: truncate_sequence(facts.sequence),
        dump: facts.payload,
        max_dump_bytes: default_max_dump_bytes(maximum_entry_size),
        strings,
    }
}

/// What a [`messages::LOGBRIDGE_ENTRIES_SUPPRESSED`] summary reports: entries not written since
/// the last summary, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuppressedCounts {
    /// Entries not written because of the rate limit.
    pub rate_limited: u64,
    /// Entries not written because `IoAllocateErrorLogEntry` returned NULL.
    pub alloc_failed: u64,
}

impl SuppressedCounts {
    /// All of them (saturating).
    pub const fn total(&self) -> u64 {
        self.rate_limited.saturating_add(self.alloc_failed)
    }

    /// The summary's DumpData: the total as a little-endian u64.
    pub const fn dump(&self) -> [u8; 8] {
        self.total().to_le_bytes()
    }
}

/// The insertion strings of a summary packet: total, rate-limited, allocation failures, the
/// configured burst and rate per second.
pub fn summary_packet_strings(
    counts: &SuppressedCounts,
    limit: crate::ratelimit::RateLimit,
) -> [InsertionString<'static>; 5] {
    [
        InsertionString::Decimal(counts.total()),
        InsertionString::Decimal(counts.rate_limited),
        InsertionString::Decimal(counts.alloc_failed),
        InsertionString::Decimal(u64::from(limit.burst)),
        InsertionString::Decimal(u64::from(limit.per_second)),
    ]
}

/// The spec of the summary packet logged with the write of `sequence` (the strings come from
/// [`summary_packet_strings`], the dump from [`SuppressedCounts::dump`]).
pub fn summary_packet_spec<'a>(sequence: u64, dump: &'a [u8; 8], strings: &'a [InsertionString<'a>]) -> PacketSpec<'a> {
    PacketSpec {
        message: messages::LOGBRIDGE_ENTRIES_SUPPRESSED,
        major_function: IRP_MJ_WRITE,
        unique_error_value: 0,
        final_status: NtStatus::SUCCESS,
        sequence_number: truncate_sequence(sequence),
        dump,
        max_dump_bytes: dump.len(),
        strings,
    }
}

/// The low 32 bits of a 64-bit sequence number (for `SequenceNumber`).
pub const fn truncate_sequence(sequence: u64) -> u32 {
    let b = sequence.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// A decoded packet, borrowing its input.
#[derive(Clone, Copy, Debug)]
pub struct ParsedPacket<'a> {
    /// The fixed fields.
    pub header: PacketHeader,
    /// `DumpDataSize` bytes from offset 40.
    pub dump_data: &'a [u8],
    strings: &'a [u8],
    count: u16,
}

impl<'a> ParsedPacket<'a> {
    /// The insertion strings, `%2` first, as UTF-16 (every one is known to be terminated).
    pub fn strings(&self) -> PacketStrings<'a> {
        PacketStrings { rest: self.strings, left: self.count }
    }
}

/// Iterator over a packet's insertion strings.
#[derive(Clone, Debug)]
pub struct PacketStrings<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for PacketStrings<'a> {
    type Item = Utf16Str<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        self.left = self.left.checked_sub(1)?;
        let (string, rest) = split_utf16_nul(self.rest)?;
        self.rest = rest;
        Some(string)
    }
}

/// A NUL-free run of UTF-16LE code units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utf16Str<'a>(&'a [u8]);

impl<'a> Utf16Str<'a> {
    /// The code units.
    pub fn units(&self) -> impl Iterator<Item = u16> + 'a {
        self.0
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair.first().copied().unwrap_or(0), pair.get(1).copied().unwrap_or(0)]))
    }

    /// The characters; unpaired surrogates become U+FFFD.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        char::decode_utf16(self.units()).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// The raw bytes, without the terminator.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Display for Utf16Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        self.chars().try_for_each(|c| f.write_char(c))
    }
}

/// Splits at the first UTF-16 NUL (an aligned pair of zero bytes).
fn split_utf16_nul(bytes: &[u8]) -> Option<(Utf16Str<'_>, &[u8])> {
    let units = bytes.chunks_exact(2);
    let mut at = 0usize;
    for pair in units {
        if pair == [0, 0] {
            let string = bytes.get(..at)?;
            let rest = bytes.get(at.checked_add(2)?..)?;
            return Some((Utf16Str(string), rest));
        }
        at = at.checked_add(2)?;
    }
    None
}

fn parse_header(bytes: &[u8]) -> Result<PacketHeader, PacketError> {
    let (raw, _) = RawPacketHeader::read_from_prefix(bytes)
        .map_err(|_| PacketError::Truncated { needed: DUMP_DATA_OFFSET, given: bytes.len() })?;
    Ok(PacketHeader::from(&raw))
}

fn dump_data_of<'a>(bytes: &'a [u8], header: &PacketHeader) -> Result<&'a [u8], PacketError> {
    let end = DUMP_DATA_OFFSET.saturating_add(usize::from(header.dump_data_size));
    bytes
        .get(DUMP_DATA_OFFSET..end)
        .ok_or(PacketError::DumpDataOutOfBounds { dump_data_size: header.dump_data_size, len: bytes.len() })
}

/// Decodes a whole packet as the driver wrote it: header, DumpData and insertion strings.
pub fn parse_packet(bytes: &[u8]) -> Result<ParsedPacket<'_>, PacketError> {
    if bytes.len() < PACKET_SIZE {
        return Err(PacketError::Truncated { needed: PACKET_SIZE, given: bytes.len() });
    }
    let header = parse_header(bytes)?;
    let dump_data = dump_data_of(bytes, &header)?;
    let strings = if header.number_of_strings == 0 {
        &[][..]
    } else {
        let offset = usize::from(header.string_offset);
        let out_of_bounds =
            PacketError::StringOffsetOutOfBounds { string_offset: header.string_offset, len: bytes.len() };
        if offset < DUMP_DATA_OFFSET {
            return Err(out_of_bounds);
        }
        let area = bytes.get(offset..).ok_or(out_of_bounds)?;
        let mut rest = area;
        for index in 0..header.number_of_strings {
            let (_, after) = split_utf16_nul(rest).ok_or(PacketError::StringNotTerminated { index })?;
            rest = after;
        }
        area
    };
    Ok(ParsedPacket { header, dump_data, strings, count: header.number_of_strings })
}

/// A decoded Event Log "binary data" blob: the first 40 bytes of the packet, then DumpData.
#[derive(Clone, Copy, Debug)]
pub struct ParsedEventData<'a> {
    /// The fixed fields (StringOffset and NumberOfStrings as the I/O manager rewrote them).
    pub header: PacketHeader,
    /// The DumpData bytes.
    pub dump_data: &'a [u8],
}

/// Decodes Event Log binary data. It must be exactly `40 + DumpDataSize` bytes.
pub fn parse_event_data(bytes: &[u8]) -> Result<ParsedEventData<'_>, PacketError> {
    let header = parse_header(bytes)?;
    let dump_data = dump_data_of(bytes, &header)?;
    let expected = DUMP_DATA_OFFSET.saturating_add(dump_data.len());
    if bytes.len() > expected {
        return Err(PacketError::TrailingBytes { count: bytes.len().saturating_sub(expected) });
    }
    Ok(ParsedEventData { header, dump_data })
}

/// The Event Log binary data a packet turns into: its first 40 bytes and its DumpData.
pub fn event_data_of(packet: &[u8]) -> Option<&[u8]> {
    let header = parse_header(packet).ok()?;
    packet.get(..DUMP_DATA_OFFSET.checked_add(usize::from(header.dump_data_size))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;

    fn encode_write(facts: &WriteFacts<'_>, maximum: usize) -> (PacketPlan, Vec<u8>) {
        let strings = write_packet_strings(facts);
        let spec = write_packet_spec(facts, &strings, maximum);
        let plan = plan_packet(&spec, maximum).unwrap();
        // The kernel rounds the allocation up to the pointer size and fills it with junk here.
        let mut entry = vec![0xAA; (plan.entry_size.bytes() + 7) & !7];
        encode_packet(&mut entry, &spec, &plan).unwrap();
        (plan, entry)
    }

    fn strings_of(packet: &ParsedPacket<'_>) -> Vec<String> {
        packet.strings().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entry_size_is_checked_before_it_becomes_a_uchar() {
        assert_eq!(EntrySize::new(47, 240), None);
        assert_eq!(EntrySize::new(48, 240).map(EntrySize::as_u8), Some(48));
        assert_eq!(EntrySize::new(240, 240).map(EntrySize::as_u8), Some(240));
        assert_eq!(EntrySize::new(241, 240), None);
        // 256 would truncate to 0 and 300 to 44 as a UCHAR: refused, not wrapped.
        assert_eq!(EntrySize::new(256, 300), None);
        assert_eq!(EntrySize::new(300, 300), None);
        assert_eq!(EntrySize::new(153, 152), None);
        assert_eq!(ERROR_LOG_MAXIMUM_SIZE, 240);
    }

    #[test]
    fn a_short_text_write_round_trips_with_every_field() {
        let facts = WriteFacts { sequence: 7, process_id: 4242, payload: b"hello", final_status: NtStatus::SUCCESS };
        let (plan, entry) = encode_write(&facts, 240);
        assert_eq!(plan.dump_bytes, 5);
        assert_eq!(plan.dump_data_size, 8);
        assert_eq!(plan.string_offset, 56);
        let packet = parse_packet(&entry).unwrap();
        assert_eq!(packet.header.major_function, IRP_MJ_WRITE);
        assert_eq!(packet.header.error_code, 0x6004_0001);
        assert_eq!(packet.header.sequence_number, 7);
        assert_eq!(packet.header.unique_error_value, 4242);
        assert_eq!(packet.header.number_of_strings, 4);
        assert_eq!(packet.dump_data, b"hello\0\0\0");
        assert_eq!(strings_of(&packet), ["7", "5", "4242", "hello"]);
        // Bytes 44..48 (the gap of the documented StringOffset convention) stay zero, and nothing
        // of the 0xAA fill survives anywhere.
        assert!(!entry.contains(&0xAA));
        let data = event_data_of(&entry).unwrap();
        assert_eq!(data.len(), 48);
        let event = parse_event_data(data).unwrap();
        assert_eq!(event.header, packet.header);
        assert_eq!(event.dump_data, packet.dump_data);
    }

    #[test]
    fn a_large_binary_write_is_cut_visibly_and_stays_within_the_limit() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        for maximum in [240, 152] {
            let facts = WriteFacts {
                sequence: u64::MAX,
                process_id: u32::MAX,
                payload: &payload,
                final_status: NtStatus::SUCCESS,
            };
            let (plan, entry) = encode_write(&facts, maximum);
            assert!(plan.entry_size.bytes() <= maximum);
            assert!(plan.entry_size.bytes() >= maximum - 2, "the preview should use the room left");
            assert_eq!(usize::from(plan.dump_data_size), default_max_dump_bytes(maximum));
            let packet = parse_packet(&entry).unwrap();
            let strings = strings_of(&packet);
            assert_eq!(strings[0], "18446744073709551615");
            assert_eq!(strings[1], "4096");
            // With 20-digit and 10-digit numbers, x86 has room only for the marker.
            let expected_start = if maximum == 240 { "hex:000102" } else { "hex:" };
            assert!(strings[3].starts_with(expected_start), "{}", strings[3]);
            assert!(strings[3].ends_with('…'));
            assert_eq!(packet.dump_data, &payload[..usize::from(plan.dump_data_size)]);
        }
    }

    #[test]
    fn decoders_reject_malformed_input_with_a_reason() {
        let facts = WriteFacts { sequence: 1, process_id: 2, payload: b"abcdef", final_status: NtStatus::SUCCESS };
        let (plan, entry) = encode_write(&facts, 240);
        let entry = entry[..plan.entry_size.bytes()].to_vec();
        assert_eq!(parse_packet(&entry[..47]).unwrap_err(), PacketError::Truncated { needed: 48, given: 47 });
        let mut bad = entry.clone();
        bad[2] = 0xF0; // DumpDataSize 0xF0 + 40 > len
        assert!(matches!(parse_packet(&bad), Err(PacketError::DumpDataOutOfBounds { .. })));
        let mut bad = entry.clone();
        bad[6] = 0xFF; // StringOffset past the end
        assert!(matches!(parse_packet(&bad), Err(PacketError::StringOffsetOutOfBounds { .. })));
        let mut bad = entry.clone();
        bad[4] = 9; // nine strings, four present
        assert_eq!(parse_packet(&bad).unwrap_err(), PacketError::StringNotTerminated { index: 4 });
        assert!(matches!(parse_event_data(&entry), Err(PacketError::TrailingBytes { .. })));
        assert!(matches!(parse_event_data(&entry[..20]), Err(PacketError::Truncated { .. })));
        assert_eq!(
            PacketError::StringNotTerminated { index: 0 }.to_string(),
            "insertion string %2 has no NUL terminator"
        );
    }

    #[test]
    fn text_strings_that_cannot_fit_are_refused_not_cut() {
        let long = "x".repeat(200);
        let strings = [InsertionString::Text(&long)];
        let spec = PacketSpec {
            message: messages::LOGBRIDGE_PARAMETER_DEFAULTED,
            major_function: 0,
            unique_error_value: 0,
            final_status: NtStatus::SUCCESS,
            sequence_number: 0,
            dump: &[1, 2, 3],
            max_dump_bytes: 32,
            strings: &strings,
        };
        assert_eq!(plan_packet(&spec, 240), Err(PacketError::StringsTooLong));
        let previews = [InsertionString::Preview(b"a"), InsertionString::Preview(b"b")];
        assert_eq!(plan_packet(&PacketSpec { strings: &previews, ..spec }, 240), Err(PacketError::MultiplePreviews));
        let nul = [InsertionString::Decimal(1), InsertionString::Text("a\0b")];
        assert_eq!(plan_packet(&PacketSpec { strings: &nul, ..spec }, 240), Err(PacketError::NulInText { index: 1 }));
    }

    #[test]
    fn the_encoder_refuses_a_short_buffer() {
        let facts = WriteFacts { sequence: 1, process_id: 2, payload: b"abc", final_status: NtStatus::SUCCESS };
        let strings = write_packet_strings(&facts);
        let spec = write_packet_spec(&facts, &strings, 240);
        let plan = plan_packet(&spec, 240).unwrap();
        let mut entry = vec![0; plan.entry_size.bytes() - 1];
        assert!(matches!(encode_packet(&mut entry, &spec, &plan), Err(PacketError::BufferTooSmall { .. })));
    }

    /// Exhaustive over every payload length 0..=64 KiB, text and binary, x64 and x86 limits, with
    /// the widest numbers: the plan always fits, and (every 61st length) the encoding parses back.
    #[test]
    fn every_payload_length_up_to_64_kib_fits() {
        let text = vec![b'a'; 65536];
        let binary = vec![0xFEu8; 65536];
        for maximum in [240, 152] {
            for len in 0..=65536usize {
                for payload in [&text[..len], &binary[..len]] {
                    let facts = WriteFacts {
                        sequence: u64::MAX,
                        process_id: u32::MAX,
                        payload,
                        final_status: NtStatus::SUCCESS,
                    };
                    let strings = write_packet_strings(&facts);
                    let spec = write_packet_spec(&facts, &strings, maximum);
                    let plan = plan_packet(&spec, maximum).unwrap();
                    assert!(plan.entry_size.bytes() <= maximum, "len {len}, max {maximum}");
                    if len % 61 == 0 {
                        let mut entry = vec![0u8; plan.entry_size.bytes()];
                        encode_packet(&mut entry, &spec, &plan).unwrap();
                        assert_eq!(parse_packet(&entry).unwrap().strings().count(), 4);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The planner's bound over payload lengths 0..=64 KiB, every number width and both limits.
        #[test]
        fn write_packets_never_exceed_the_maximum(
            len in 0usize..=65536,
            fill in any::<u8>(),
            text in any::<bool>(),
            sequence in any::<u64>(),
            pid in any::<u32>(),
            x86 in any::<bool>(),
        ) {
            let maximum = if x86 { 152 } else { 240 };
            let payload: Vec<u8> = if text { vec![b'a' + fill % 26; len] } else { vec![fill; len] };
            let facts = WriteFacts { sequence, process_id: pid, payload: &payload, final_status: NtStatus::SUCCESS };
            let (plan, entry) = encode_write(&facts, maximum);
            prop_assert!(plan.entry_size.bytes() >= PACKET_SIZE && plan.entry_size.bytes() <= maximum);
            prop_assert_eq!(plan.dump_data_size % 4, 0);
            prop_assert_eq!(usize::from(plan.string_offset), PACKET_SIZE + usize::from(plan.dump_data_size));
            let packet = parse_packet(&entry[..plan.entry_size.bytes()]).unwrap();
            prop_assert_eq!(packet.header.number_of_strings, 4);
            let strings = strings_of(&packet);
            prop_assert_eq!(&strings[0], &sequence.to_string());
            prop_assert_eq!(&strings[1], &len.to_string());
            prop_assert_eq!(&strings[2], &pid.to_string());
            prop_assert_eq!(packet.dump_data[..plan.dump_bytes].to_vec(), payload[..plan.dump_bytes].to_vec());
        }

        /// Arbitrary string choices: whatever fits is planned within the bound, whatever does not is refused.
        #[test]
        fn arbitrary_strings_plan_within_the_bound_or_are_refused(
            texts in proptest::collection::vec("\\PC{0,40}", 0..5),
            numbers in proptest::collection::vec(any::<u64>(), 0..3),
            preview in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..400)),
            dump in proptest::collection::vec(any::<u8>(), 0..100),
            max_dump in 0usize..64,
            maximum in 48usize..=255,
        ) {
            let mut strings: Vec<InsertionString<'_>> = texts.iter().map(|t| InsertionString::Text(t)).collect();
            strings.extend(numbers.iter().map(|n| InsertionString::Decimal(*n)));
            if let Some(p) = &preview { strings.push(InsertionString::Preview(p)); }
            let spec = PacketSpec {
                message: messages::LOGBRIDGE_WRITE,
                major_function: IRP_MJ_WRITE,
                unique_error_value: 0,
                final_status: NtStatus::SUCCESS,
                sequence_number: 0,
                dump: &dump,
                max_dump_bytes: max_dump,
                strings: &strings,
            };
            match plan_packet(&spec, maximum) {
                Ok(plan) => {
                    prop_assert!(plan.entry_size.bytes() <= maximum);
                    let mut entry = vec![0x55; plan.entry_size.bytes()];
                    encode_packet(&mut entry, &spec, &plan).unwrap();
                    let packet = parse_packet(&entry).unwrap();
                    let decoded = strings_of(&packet);
                    for (i, t) in texts.iter().enumerate() { prop_assert_eq!(&decoded[i], t); }
                }
                Err(PacketError::NulInText { index }) => prop_assert!(texts[usize::from(index)].contains('\0')),
                Err(e) => prop_assert_eq!(e, PacketError::StringsTooLong),
            }
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(packet) = parse_packet(&bytes) {
                for s in packet.strings() { let _ = s.to_string(); }
            }
            let _ = parse_event_data(&bytes);
        }
    }
}
