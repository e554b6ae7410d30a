//! `IO_ERROR_LOG_PACKET` decoders on arbitrary bytes: `errorlog::parse_packet`,
//! `errorlog::parse_event_data` and `errorlog::event_data_of`.
//!
//! These decode what comes back from the Event Log (and from tests and tools), so they must accept
//! or refuse any input without panicking, and what they accept must be self-consistent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_core::errorlog::{
    DUMP_DATA_OFFSET, PACKET_SIZE, PacketError, event_data_of, parse_event_data, parse_packet,
};

fuzz_target!(|data: &[u8]| {
    // Property: parse_packet never panics (a panic aborts the fuzzer).
    match parse_packet(data) {
        Ok(packet) => {
            let h = packet.header;
            // Property: an accepted packet is at least sizeof(IO_ERROR_LOG_PACKET) long.
            assert!(data.len() >= PACKET_SIZE);
            // Property: DumpData is exactly the DumpDataSize bytes at offset 40 of the input.
            let dump_end = DUMP_DATA_OFFSET + usize::from(h.dump_data_size);
            assert_eq!(packet.dump_data, &data[DUMP_DATA_OFFSET..dump_end]);

            // Property: every string the header promises iterates (NumberOfStrings of them), each
            // an even number of bytes with no aligned NUL unit inside, and they lie back to back
            // from StringOffset, each followed by its NUL terminator.
            let mut at = usize::from(h.string_offset);
            let mut count = 0usize;
            for s in packet.strings() {
                let bytes = s.as_bytes();
                assert_eq!(bytes.len() % 2, 0, "string {count} has an odd byte length");
                assert!(bytes.chunks_exact(2).all(|u| u != [0, 0]), "string {count} contains a NUL unit");
                assert_eq!(bytes, &data[at..at + bytes.len()], "string {count} is not at its place");
                at += bytes.len();
                assert_eq!(&data[at..at + 2], &[0, 0], "string {count} is not NUL-terminated");
                at += 2;
                // Decoding the units as text never panics (unpaired surrogates become U+FFFD), and
                // Display agrees with chars().
                let shown = s.to_string();
                assert_eq!(shown.chars().count(), s.chars().count());
                assert_eq!(s.units().count(), bytes.len() / 2);
                count += 1;
            }
            assert_eq!(count, usize::from(h.number_of_strings));

            // Property: the Event Log binary data of an accepted packet (its first 40 bytes and its
            // DumpData) parses with parse_event_data to the same header and the same dump.
            let event_data = event_data_of(data).expect("event_data_of refused an accepted packet");
            assert_eq!(event_data.len(), dump_end);
            let event = parse_event_data(event_data).expect("the event data of an accepted packet is refused");
            assert_eq!(event.header, h);
            assert_eq!(event.dump_data, packet.dump_data);
        }
        // Property: a refusal carries a reason that matches the input (and formats without panicking).
        Err(e) => {
            match e {
                PacketError::Truncated { needed, given } => {
                    assert_eq!(given, data.len());
                    assert!(given < needed);
                }
                PacketError::DumpDataOutOfBounds { dump_data_size, len } => {
                    assert_eq!(len, data.len());
                    assert!(DUMP_DATA_OFFSET + usize::from(dump_data_size) > len);
                }
                PacketError::StringOffsetOutOfBounds { string_offset, len } => {
                    assert_eq!(len, data.len());
                    assert!(usize::from(string_offset) < DUMP_DATA_OFFSET || usize::from(string_offset) > len);
                }
                PacketError::StringNotTerminated { index } => {
                    let promised = u16::from_le_bytes([data[4], data[5]]);
                    assert!(index < promised);
                }
                other => panic!("parse_packet returned an encoder error: {other:?}"),
            }
            let _ = e.to_string();
        }
    }

    // Property: parse_event_data never panics, and accepts exactly `40 + DumpDataSize` bytes.
    match parse_event_data(data) {
        Ok(event) => {
            assert_eq!(data.len(), DUMP_DATA_OFFSET + usize::from(event.header.dump_data_size));
            assert_eq!(event.dump_data, &data[DUMP_DATA_OFFSET..]);
        }
        Err(e) => {
            assert!(matches!(
                e,
                PacketError::Truncated { .. }
                    | PacketError::DumpDataOutOfBounds { .. }
                    | PacketError::TrailingBytes { .. }
            ));
            let _ = e.to_string();
        }
    }

    // Property: event_data_of never panics; whatever it returns is a prefix of the input that
    // parse_event_data accepts.
    if let Some(prefix) = event_data_of(data) {
        assert_eq!(prefix, &data[..prefix.len()]);
        let event = parse_event_data(prefix).expect("event_data_of returned data parse_event_data refuses");
        assert_eq!(prefix.len(), DUMP_DATA_OFFSET + usize::from(event.header.dump_data_size));
    }
});
