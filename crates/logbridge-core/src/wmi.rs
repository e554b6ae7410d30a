//! WMI event items: `WNODE_SINGLE_INSTANCE` with `WNODE_FLAG_EVENT_ITEM`, the way KMDF's
//! `WdfWmiInstanceFireEvent` builds them, carrying the `LogBridge_WriteEvent` data block.
//!
//! wdk-sys does not include `wmistr.h`, so the layout is declared here (windows-layouts.md §3):
//! ```text
//!  WNODE_HEADER (48)                           WNODE_SINGLE_INSTANCE (64)
//!   0 u32 BufferSize  (whole item)              48 u32 OffsetInstanceName (unused: static names)
//!   4 u32 ProviderId  (IoWMIDeviceObjectToProviderId)   52 u32 InstanceIndex
//!   8 u64 HistoricalContext / Version,Linkage   56 u32 DataBlockOffset (64, 8-aligned)
//!  16 i64 TimeStamp (100 ns since 1601)         60 u32 SizeDataBlock
//!  24 GUID Guid                                 64 data block
//!  40 u32 ClientContext
//!  44 u32 Flags = EVENT_ITEM | SINGLE_INSTANCE | STATIC_INSTANCE_NAMES = 0x8A
//! ```
//!
//! # The data block (`LogBridge_WriteEvent` in `inf/logbridge.mof`)
//! WMI lays properties out in `WmiDataId` order, each aligned to its own size:
//! ```text
//!  0 uint64 SequenceNumber   16 uint32 ProcessId     24 uint32 PayloadLength
//!  8 uint64 Timestamp        20 uint32 TotalLength   28 uint8  Payload[PayloadLength]
//! ```
//! `TotalLength` is the size of the write; `Payload` is its first bytes, as many as keep the whole
//! event item within the 1 KiB WMI recommends (`IoWMIWriteEvent` may fail larger ones with
//! `STATUS_BUFFER_OVERFLOW`).

use crate::guid::{GUID_LOGBRIDGE_WRITE_EVENT, Guid};
use crate::time::FileTime;
use core::fmt;
use zerocopy::little_endian::{I64, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `WNODE_FLAG_ALL_DATA`.
pub const WNODE_FLAG_ALL_DATA: u32 = 0x0000_0001;
/// `WNODE_FLAG_SINGLE_INSTANCE`.
pub const WNODE_FLAG_SINGLE_INSTANCE: u32 = 0x0000_0002;
/// `WNODE_FLAG_SINGLE_ITEM`.
pub const WNODE_FLAG_SINGLE_ITEM: u32 = 0x0000_0004;
/// `WNODE_FLAG_EVENT_ITEM`.
pub const WNODE_FLAG_EVENT_ITEM: u32 = 0x0000_0008;
/// `WNODE_FLAG_STATIC_INSTANCE_NAMES`.
pub const WNODE_FLAG_STATIC_INSTANCE_NAMES: u32 = 0x0000_0080;
/// `WNODE_FLAG_TRACED_GUID`.
pub const WNODE_FLAG_TRACED_GUID: u32 = 0x0002_0000;
/// The flags of a LogBridge event item (= KMDF's, 0x8A).
pub const LOGBRIDGE_EVENT_FLAGS: u32 =
    WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE | WNODE_FLAG_STATIC_INSTANCE_NAMES;

/// `sizeof(WNODE_HEADER)`.
pub const WNODE_HEADER_SIZE: usize = 48;
/// `sizeof(WNODE_SINGLE_INSTANCE)`: where the data block starts.
pub const WNODE_SINGLE_INSTANCE_SIZE: usize = 64;
/// The largest event item LogBridge fires (the documented WMI guideline).
pub const MAX_EVENT_ITEM_SIZE: usize = 1024;
/// Size of the data block before `Payload`.
pub const EVENT_DATA_FIXED_SIZE: usize = 28;
/// The most payload bytes an event carries: 1024 - 64 - 28 = 932.
pub const MAX_EVENT_PAYLOAD: usize = MAX_EVENT_ITEM_SIZE - WNODE_SINGLE_INSTANCE_SIZE - EVENT_DATA_FIXED_SIZE;

/// One MOF property of the data block: name, MOF type, offset in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventProperty {
    /// Property name in the MOF.
    pub name: &'static str,
    /// MOF type (`uint64`, `uint32`, `uint8`).
    pub mof_type: &'static str,
    /// `WmiDataId`.
    pub data_id: u32,
    /// Byte offset in the data block.
    pub offset: usize,
    /// True for the variable-length array.
    pub array: bool,
}

/// The data block's properties in `WmiDataId` order; `inf/logbridge.mof` must declare the same.
pub const EVENT_PROPERTIES: [EventProperty; 6] = [
    EventProperty { name: "SequenceNumber", mof_type: "uint64", data_id: 1, offset: 0, array: false },
    EventProperty { name: "Timestamp", mof_type: "uint64", data_id: 2, offset: 8, array: false },
    EventProperty { name: "ProcessId", mof_type: "uint32", data_id: 3, offset: 16, array: false },
    EventProperty { name: "TotalLength", mof_type: "uint32", data_id: 4, offset: 20, array: false },
    EventProperty { name: "PayloadLength", mof_type: "uint32", data_id: 5, offset: 24, array: false },
    EventProperty { name: "Payload", mof_type: "uint8", data_id: 6, offset: 28, array: true },
];

/// The wire form of `WNODE_SINGLE_INSTANCE` (header and body, without the data).
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawWnodeSingleInstance {
    /// `BufferSize`.
    pub buffer_size: U32,
    /// `ProviderId`.
    pub provider_id: U32,
    /// `HistoricalContext` (Version, Linkage).
    pub historical_context: U64,
    /// `TimeStamp`.
    pub timestamp: I64,
    /// `Guid` in memory order.
    pub guid: [u8; 16],
    /// `ClientContext`.
    pub client_context: U32,
    /// `Flags`.
    pub flags: U32,
    /// `OffsetInstanceName`.
    pub offset_instance_name: U32,
    /// `InstanceIndex`.
    pub instance_index: U32,
    /// `DataBlockOffset`.
    pub data_block_offset: U32,
    /// `SizeDataBlock`.
    pub size_data_block: U32,
}

const _: () = assert!(core::mem::size_of::<RawWnodeSingleInstance>() == WNODE_SINGLE_INSTANCE_SIZE);
const _: () = assert!(core::mem::offset_of!(RawWnodeSingleInstance, guid) == 24);
const _: () = assert!(core::mem::offset_of!(RawWnodeSingleInstance, flags) == 44);
const _: () = assert!(core::mem::offset_of!(RawWnodeSingleInstance, data_block_offset) == 56);

/// The wire form of the fixed part of the data block.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RawWriteEventData {
    /// `SequenceNumber`.
    pub sequence_number: U64,
    /// `Timestamp`.
    pub timestamp: U64,
    /// `ProcessId`.
    pub process_id: U32,
    /// `TotalLength`.
    pub total_length: U32,
    /// `PayloadLength`.
    pub payload_length: U32,
}

const _: () = assert!(core::mem::size_of::<RawWriteEventData>() == EVENT_DATA_FIXED_SIZE);

/// A write, as its WMI event reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteEvent<'a> {
    /// Record sequence number.
    pub sequence: u64,
    /// When the write arrived.
    pub timestamp: FileTime,
    /// Writer's process id.
    pub process_id: u32,
    /// Size of the whole write.
    pub total_length: u32,
    /// The first bytes of the write (at most [`MAX_EVENT_PAYLOAD`]).
    pub payload: &'a [u8],
}

/// The header fields of an event item, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WnodeHeader {
    /// `BufferSize`.
    pub buffer_size: u32,
    /// `ProviderId`.
    pub provider_id: u32,
    /// `TimeStamp`.
    pub timestamp: i64,
    /// `Guid`.
    pub guid: Guid,
    /// `Flags`.
    pub flags: u32,
    /// `InstanceIndex`.
    pub instance_index: u32,
    /// `DataBlockOffset`.
    pub data_block_offset: u32,
    /// `SizeDataBlock`.
    pub size_data_block: u32,
}

/// Why a WNODE cannot be built or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WnodeError {
    /// The buffer is smaller than the item.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// Fewer than 64 bytes.
    Truncated {
        /// Bytes given.
        given: usize,
    },
    /// BufferSize disagrees with the input length.
    BufferSizeMismatch {
        /// BufferSize.
        buffer_size: u32,
        /// Input length.
        len: usize,
    },
    /// The flags are not those of a single-instance event item.
    NotSingleInstanceEvent {
        /// Flags.
        flags: u32,
    },
    /// The data block lies outside the item or is misaligned.
    DataBlockOutOfBounds {
        /// DataBlockOffset.
        offset: u32,
        /// SizeDataBlock.
        size: u32,
    },
    /// The LogBridge data block is shorter than its fixed part or than PayloadLength says.
    BadEventData,
}

impl fmt::Display for WnodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WnodeError::BufferTooSmall { needed, given } => write!(f, "buffer of {given} bytes, {needed} needed"),
            WnodeError::Truncated { given } => {
                write!(f, "{given} bytes is shorter than a {WNODE_SINGLE_INSTANCE_SIZE}-byte WNODE_SINGLE_INSTANCE")
            }
            WnodeError::BufferSizeMismatch { buffer_size, len } => {
                write!(f, "BufferSize {buffer_size} does not match the {len}-byte input")
            }
            WnodeError::NotSingleInstanceEvent { flags } => {
                write!(f, "flags 0x{flags:08X} lack WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE")
            }
            WnodeError::DataBlockOutOfBounds { offset, size } => {
                write!(f, "data block at {offset} of {size} bytes is misaligned or outside the item")
            }
            WnodeError::BadEventData => write!(f, "the LogBridge_WriteEvent data block is malformed"),
        }
    }
}

/// Size of the event item for a write of `total_length` bytes.
pub fn event_item_size(total_length: usize) -> usize {
    WNODE_SINGLE_INSTANCE_SIZE.saturating_add(EVENT_DATA_FIXED_SIZE).saturating_add(total_length.min(MAX_EVENT_PAYLOAD))
}

/// Fills `dst` (nonpaged memory of at least [`event_item_size`] bytes) with the event item for a
/// write and returns its size. `payload` may be the whole write; only its first bytes are used.
pub fn encode_write_event(
    dst: &mut [u8],
    provider_id: u32,
    timestamp: FileTime,
    sequence: u64,
    process_id: u32,
    payload: &[u8],
) -> Result<usize, WnodeError> {
    let size = event_item_size(payload.len());
    let given = dst.len();
    let too_small = WnodeError::BufferTooSmall { needed: size, given };
    // Every byte of the item is written below (header, fixed data, payload): no zeroing pass.
    let item = dst.get_mut(..size).ok_or(too_small)?;
    let carried = payload.get(..payload.len().min(MAX_EVENT_PAYLOAD)).unwrap_or(&[]);
    let data_size = EVENT_DATA_FIXED_SIZE.saturating_add(carried.len());
    let header = RawWnodeSingleInstance {
        buffer_size: U32::new(u32::try_from(size).map_err(|_| too_small)?),
        provider_id: U32::new(provider_id),
        historical_context: U64::new(0),
        timestamp: I64::new(i64::try_from(timestamp.0).unwrap_or(i64::MAX)),
        guid: GUID_LOGBRIDGE_WRITE_EVENT.to_bytes_le(),
        client_context: U32::new(0),
        flags: U32::new(LOGBRIDGE_EVENT_FLAGS),
        offset_instance_name: U32::new(0),
        instance_index: U32::new(0),
        data_block_offset: U32::new(64),
        size_data_block: U32::new(u32::try_from(data_size).map_err(|_| too_small)?),
    };
    header.write_to_prefix(item).map_err(|_| too_small)?;
    let data = RawWriteEventData {
        sequence_number: U64::new(sequence),
        timestamp: U64::new(timestamp.0),
        process_id: U32::new(process_id),
        total_length: U32::new(u32::try_from(payload.len()).unwrap_or(u32::MAX)),
        payload_length: U32::new(u32::try_from(carried.len()).unwrap_or(0)),
    };
    let block = item.get_mut(WNODE_SINGLE_INSTANCE_SIZE..).ok_or(too_small)?;
    data.write_to_prefix(block).map_err(|_| too_small)?;
    block.get_mut(EVENT_DATA_FIXED_SIZE..data_size).ok_or(too_small)?.copy_from_slice(carried);
    Ok(size)
}

/// A decoded event item.
#[derive(Clone, Copy, Debug)]
pub struct ParsedWnode<'a> {
    /// Header fields.
    pub header: WnodeHeader,
    /// The data block.
    pub data: &'a [u8],
}

impl<'a> ParsedWnode<'a> {
    /// The LogBridge event in the data block, if the GUID is LogBridge's.
    pub fn write_event(&self) -> Option<Result<WriteEvent<'a>, WnodeError>> {
        (self.header.guid == GUID_LOGBRIDGE_WRITE_EVENT).then(|| parse_write_event(self.data))
    }
}

/// Decodes a `WNODE_SINGLE_INSTANCE` event item.
pub fn parse_wnode(bytes: &[u8]) -> Result<ParsedWnode<'_>, WnodeError> {
    let (raw, _) =
        RawWnodeSingleInstance::read_from_prefix(bytes).map_err(|_| WnodeError::Truncated { given: bytes.len() })?;
    let header = WnodeHeader {
        buffer_size: raw.buffer_size.get(),
        provider_id: raw.provider_id.get(),
        timestamp: raw.timestamp.get(),
        guid: Guid::from_bytes_le(raw.guid),
        flags: raw.flags.get(),
        instance_index: raw.instance_index.get(),
        data_block_offset: raw.data_block_offset.get(),
        size_data_block: raw.size_data_block.get(),
    };
    if usize::try_from(header.buffer_size).ok() != Some(bytes.len()) {
        return Err(WnodeError::BufferSizeMismatch { buffer_size: header.buffer_size, len: bytes.len() });
    }
    let needed = WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE;
    if header.flags & needed != needed {
        return Err(WnodeError::NotSingleInstanceEvent { flags: header.flags });
    }
    let out_of_bounds =
        WnodeError::DataBlockOutOfBounds { offset: header.data_block_offset, size: header.size_data_block };
    let start = usize::try_from(header.data_block_offset).map_err(|_| out_of_bounds)?;
    let end =
        start.checked_add(usize::try_from(header.size_data_block).map_err(|_| out_of_bounds)?).ok_or(out_of_bounds)?;
    if !start.is_multiple_of(8) || start < WNODE_SINGLE_INSTANCE_SIZE {
        return Err(out_of_bounds);
    }
    let data = bytes.get(start..end).ok_or(out_of_bounds)?;
    Ok(ParsedWnode { header, data })
}

/// Decodes a `LogBridge_WriteEvent` data block.
pub fn parse_write_event(data: &[u8]) -> Result<WriteEvent<'_>, WnodeError> {
    let (raw, rest) = RawWriteEventData::read_from_prefix(data).map_err(|_| WnodeError::BadEventData)?;
    let len = usize::try_from(raw.payload_length.get()).map_err(|_| WnodeError::BadEventData)?;
    let payload = rest.get(..len).ok_or(WnodeError::BadEventData)?;
    Ok(WriteEvent {
        sequence: raw.sequence_number.get(),
        timestamp: FileTime(raw.timestamp.get()),
        process_id: raw.process_id.get(),
        total_length: raw.total_length.get(),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn an_event_item_has_the_kmdf_layout() {
        let mut buf = vec![0xEE; 200];
        let size = encode_write_event(&mut buf, 0x1234, FileTime(133_444_736_000_000_000), 9, 4321, b"hello").unwrap();
        assert_eq!(size, 64 + 28 + 5);
        let item = &buf[..size];
        assert_eq!(u32::from_le_bytes(item[0..4].try_into().unwrap()), size as u32);
        assert_eq!(u32::from_le_bytes(item[4..8].try_into().unwrap()), 0x1234);
        assert_eq!(i64::from_le_bytes(item[16..24].try_into().unwrap()), 133_444_736_000_000_000);
        assert_eq!(&item[24..40], &GUID_LOGBRIDGE_WRITE_EVENT.to_bytes_le());
        assert_eq!(u32::from_le_bytes(item[44..48].try_into().unwrap()), 0x8A);
        assert_eq!(u32::from_le_bytes(item[56..60].try_into().unwrap()), 64);
        assert_eq!(u32::from_le_bytes(item[60..64].try_into().unwrap()), 33);
        // Data block at the offsets the MOF property order gives.
        for p in EVENT_PROPERTIES {
            let at = 64 + p.offset;
            match p.name {
                "SequenceNumber" => assert_eq!(u64::from_le_bytes(item[at..at + 8].try_into().unwrap()), 9),
                "ProcessId" => assert_eq!(u32::from_le_bytes(item[at..at + 4].try_into().unwrap()), 4321),
                "TotalLength" | "PayloadLength" => {
                    assert_eq!(u32::from_le_bytes(item[at..at + 4].try_into().unwrap()), 5)
                }
                "Payload" => assert_eq!(&item[at..], b"hello"),
                _ => {}
            }
        }
        let parsed = parse_wnode(item).unwrap();
        let event = parsed.write_event().unwrap().unwrap();
        assert_eq!((event.sequence, event.process_id, event.total_length, event.payload), (9, 4321, 5, &b"hello"[..]));
    }

    #[test]
    fn every_byte_of_the_item_is_written_whatever_the_memory_held() {
        for len in [0usize, 1, 27, 100, MAX_EVENT_PAYLOAD, MAX_EVENT_PAYLOAD + 1, 5000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut zeroed = vec![0u8; MAX_EVENT_ITEM_SIZE];
            let mut poisoned = vec![0xFFu8; MAX_EVENT_ITEM_SIZE];
            let size = encode_write_event(&mut zeroed, 1, FileTime(2), 3, 4, &payload).unwrap();
            assert_eq!(encode_write_event(&mut poisoned, 1, FileTime(2), 3, 4, &payload).unwrap(), size);
            assert_eq!(zeroed[..size], poisoned[..size], "length {len}");
        }
    }

    #[test]
    fn a_large_write_is_cut_to_stay_within_1_kib() {
        let payload = vec![7u8; 5000];
        let mut buf = vec![0; 2048];
        let size = encode_write_event(&mut buf, 1, FileTime(1), 1, 1, &payload).unwrap();
        assert_eq!(size, MAX_EVENT_ITEM_SIZE);
        let event = parse_wnode(&buf[..size]).unwrap().write_event().unwrap().unwrap();
        assert_eq!(event.total_length, 5000);
        assert_eq!(event.payload.len(), MAX_EVENT_PAYLOAD);
        assert_eq!(
            encode_write_event(&mut buf[..100], 1, FileTime(1), 1, 1, &payload),
            Err(WnodeError::BufferTooSmall { needed: 1024, given: 100 })
        );
    }

    #[test]
    fn malformed_items_are_refused() {
        let mut buf = vec![0; 200];
        let size = encode_write_event(&mut buf, 1, FileTime(1), 1, 1, b"abc").unwrap();
        let item = buf[..size].to_vec();
        assert!(matches!(parse_wnode(&item[..63]), Err(WnodeError::Truncated { .. })));
        assert!(matches!(parse_wnode(&item[..size - 1]), Err(WnodeError::BufferSizeMismatch { .. })));
        let mut bad = item.clone();
        bad[44] = 0x01;
        assert!(matches!(parse_wnode(&bad), Err(WnodeError::NotSingleInstanceEvent { .. })));
        let mut bad = item.clone();
        bad[56] = 60;
        assert!(matches!(parse_wnode(&bad), Err(WnodeError::DataBlockOutOfBounds { .. })));
        let mut bad = item.clone();
        bad[64 + 24] = 200; // PayloadLength past the block
        assert_eq!(parse_wnode(&bad).unwrap().write_event().unwrap().unwrap_err(), WnodeError::BadEventData);
        let mut other = item.clone();
        other[24] ^= 1; // another GUID: no LogBridge event
        assert!(parse_wnode(&other).unwrap().write_event().is_none());
    }

    proptest! {
        #[test]
        fn round_trip(provider in any::<u32>(), ts in any::<u64>(), seq in any::<u64>(), pid in any::<u32>(),
                      payload in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let ts = FileTime(ts & (i64::MAX as u64));
            let mut buf = vec![0xCC; 1100];
            let size = encode_write_event(&mut buf, provider, ts, seq, pid, &payload).unwrap();
            prop_assert!(size <= MAX_EVENT_ITEM_SIZE);
            let parsed = parse_wnode(&buf[..size]).unwrap();
            prop_assert_eq!(parsed.header.provider_id, provider);
            prop_assert_eq!(parsed.header.flags, LOGBRIDGE_EVENT_FLAGS);
            let e = parsed.write_event().unwrap().unwrap();
            prop_assert_eq!(e.sequence, seq);
            prop_assert_eq!(e.timestamp, ts);
            prop_assert_eq!(e.process_id, pid);
            prop_assert_eq!(e.total_length as usize, payload.len());
            prop_assert_eq!(e.payload, &payload[..payload.len().min(MAX_EVENT_PAYLOAD)]);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(p) = parse_wnode(&bytes) { let _ = p.write_event(); }
        }
    }
}
