//! The WMI event-item decoder on arbitrary bytes: `wmi::parse_wnode` and `ParsedWnode::write_event`
//! (which runs `wmi::parse_write_event` on the data block), plus an encode/decode round trip of
//! `wmi::encode_write_event` with fields and payload taken from the same input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_core::guid::GUID_LOGBRIDGE_WRITE_EVENT;
use logbridge_core::time::FileTime;
use logbridge_core::wmi::{
    EVENT_DATA_FIXED_SIZE, LOGBRIDGE_EVENT_FLAGS, MAX_EVENT_ITEM_SIZE, MAX_EVENT_PAYLOAD, WNODE_FLAG_EVENT_ITEM,
    WNODE_FLAG_SINGLE_INSTANCE, WNODE_SINGLE_INSTANCE_SIZE, WnodeError, encode_write_event, event_item_size,
    parse_wnode, parse_write_event,
};

/// True if `inner` is a sub-slice of `outer` (same memory, not merely equal bytes).
fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (start, end) = (inner.as_ptr() as usize, inner.as_ptr() as usize + inner.len());
    let (outer_start, outer_end) = (outer.as_ptr() as usize, outer.as_ptr() as usize + outer.len());
    start >= outer_start && end <= outer_end
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(data[at..at + 4].try_into().unwrap())
}

fuzz_target!(|data: &[u8]| {
    // Property: parse_wnode never panics.
    match parse_wnode(data) {
        Ok(parsed) => {
            let h = parsed.header;
            // Property: an accepted item is whole: BufferSize is the input length, the flags are
            // those of a single-instance event item.
            assert!(data.len() >= WNODE_SINGLE_INSTANCE_SIZE);
            assert_eq!(usize::try_from(h.buffer_size).unwrap(), data.len());
            let needed = WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE;
            assert_eq!(h.flags & needed, needed);
            // Property: the data block lies within the input, after the fixed part, 8-aligned, and is
            // exactly the bytes DataBlockOffset and SizeDataBlock name.
            let start = usize::try_from(h.data_block_offset).unwrap();
            let size = usize::try_from(h.size_data_block).unwrap();
            assert!(start >= WNODE_SINGLE_INSTANCE_SIZE && start % 8 == 0);
            assert!(within(parsed.data, data), "the data block is not inside the input");
            assert_eq!(parsed.data, &data[start..start + size]);
            assert_eq!(h.data_block_offset, u32_at(data, 56));
            assert_eq!(h.size_data_block, u32_at(data, 60));

            // Property: write_event never panics; it answers only for LogBridge's GUID, and what it
            // decodes lies within the data block (and so within the input).
            match parsed.write_event() {
                None => assert_ne!(h.guid, GUID_LOGBRIDGE_WRITE_EVENT),
                Some(result) => {
                    assert_eq!(h.guid, GUID_LOGBRIDGE_WRITE_EVENT);
                    check_write_event(parsed.data, result);
                }
            }
        }
        Err(e) => {
            // Property: a refusal carries a reason consistent with the input.
            match e {
                WnodeError::Truncated { given } => assert!(given < WNODE_SINGLE_INSTANCE_SIZE),
                WnodeError::BufferSizeMismatch { buffer_size, len } => {
                    assert_eq!(len, data.len());
                    assert_ne!(usize::try_from(buffer_size).ok(), Some(len));
                }
                WnodeError::NotSingleInstanceEvent { flags } => {
                    assert_ne!(flags & (WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE), 0x0A)
                }
                WnodeError::DataBlockOutOfBounds { .. } => {}
                other => panic!("parse_wnode returned {other:?}"),
            }
            let _ = e.to_string();
        }
    }

    // Property: parse_write_event on raw bytes never panics, and its payload is inside the input.
    check_write_event(data, parse_write_event(data));

    // Property (round trip): an item encoded by encode_write_event, with its fields from the first 24
    // input bytes and the rest as the write, decodes to the same event; it is at most 1 KiB and
    // carries the first min(len, 932) bytes of the write.
    let mut field = [0u8; 24];
    let split = data.len().min(24);
    field[..split].copy_from_slice(&data[..split]);
    let payload = &data[split..];
    let provider_id = u32::from_le_bytes(field[0..4].try_into().unwrap());
    let sequence = u64::from_le_bytes(field[4..12].try_into().unwrap());
    let timestamp = FileTime(u64::from_le_bytes(field[12..20].try_into().unwrap()));
    let process_id = u32::from_le_bytes(field[20..24].try_into().unwrap());
    let size = event_item_size(payload.len());
    assert!(size <= MAX_EVENT_ITEM_SIZE);
    // One byte short is refused, with the sizes named.
    let mut short = vec![0xEEu8; size - 1];
    assert_eq!(
        encode_write_event(&mut short, provider_id, timestamp, sequence, process_id, payload),
        Err(WnodeError::BufferTooSmall { needed: size, given: size - 1 })
    );
    let mut buf = vec![0xEEu8; size + 16];
    let written = encode_write_event(&mut buf, provider_id, timestamp, sequence, process_id, payload).unwrap();
    assert_eq!(written, size);
    // Nothing is written past the item.
    assert!(buf[size..].iter().all(|&b| b == 0xEE));
    let item = parse_wnode(&buf[..size]).expect("an encoded item does not parse");
    assert_eq!(item.header.provider_id, provider_id);
    assert_eq!(item.header.flags, LOGBRIDGE_EVENT_FLAGS);
    assert_eq!(item.header.guid, GUID_LOGBRIDGE_WRITE_EVENT);
    assert_eq!(item.header.timestamp, i64::try_from(timestamp.0).unwrap_or(i64::MAX));
    let event = item.write_event().unwrap().expect("an encoded event does not parse");
    let carried = payload.len().min(MAX_EVENT_PAYLOAD);
    assert_eq!(event.sequence, sequence);
    assert_eq!(event.timestamp, timestamp);
    assert_eq!(event.process_id, process_id);
    assert_eq!(event.total_length as usize, payload.len());
    assert_eq!(event.payload, &payload[..carried]);
});

/// Checks a `parse_write_event` result over `block`.
fn check_write_event(block: &[u8], result: Result<logbridge_core::wmi::WriteEvent<'_>, WnodeError>) {
    match result {
        Ok(event) => {
            // The payload is inside the block, right after the fixed part, PayloadLength bytes long.
            assert!(block.len() >= EVENT_DATA_FIXED_SIZE);
            assert!(within(event.payload, block), "the payload is not inside the data block");
            assert_eq!(event.payload.len(), u32_at(block, 24) as usize);
            assert_eq!(event.payload, &block[EVENT_DATA_FIXED_SIZE..EVENT_DATA_FIXED_SIZE + event.payload.len()]);
        }
        Err(e) => assert_eq!(e, WnodeError::BadEventData),
    }
}
