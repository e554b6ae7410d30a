//! The `IO_ERROR_LOG_PACKET` size planner and encoder: `errorlog::plan_packet` and
//! `errorlog::encode_packet`, on arbitrary `PacketSpec`s and on the write path
//! (`write_packet_strings` / `write_packet_spec`) with the x64 (240) and x86 (152) maximums.
//!
//! `IoAllocateErrorLogEntry` takes the entry size as a UCHAR and returns NULL outside
//! `48..=ERROR_LOG_MAXIMUM_SIZE`, so a plan that escapes that range loses the event (or, truncated,
//! corrupts it): every plan must stay inside, and every packet must decode to what was planned.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use logbridge_core::errorlog::{
    DUMP_DATA_OFFSET, InsertionString, PACKET_SIZE, PacketError, PacketPlan, PacketSpec, WriteFacts,
    default_max_dump_bytes, encode_packet, event_data_of, parse_event_data, parse_packet, plan_packet,
    truncate_sequence, write_packet_spec, write_packet_strings,
};
use logbridge_core::messages::{self, MESSAGES};
use logbridge_core::status::NtStatus;
use logbridge_core::text::{Utf16Sink, plan_preview, write_preview};

#[derive(Arbitrary, Debug)]
enum Piece {
    Text(String),
    Decimal(u64),
    Preview(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct SpecInput {
    message: u8,
    major_function: u8,
    unique_error_value: u32,
    final_status: u32,
    sequence_number: u32,
    /// The insertion strings (at most 128 are used); more than one preview is a caller error.
    pieces: Vec<Piece>,
    dump: Vec<u8>,
    max_dump_bytes: u16,
    /// Mapped to the maximum entry size 48..=255.
    maximum: u8,
    /// Mapped to 256..=65535: a maximum above what a UCHAR holds.
    wide_maximum: u16,
}

#[derive(Arbitrary, Debug)]
struct WriteInput {
    sequence: u64,
    process_id: u32,
    final_status: u32,
    payload: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Spec(SpecInput),
    Write(WriteInput),
}

/// Collects UTF-16 units (to render a preview the way the encoder does).
struct Units(Vec<u16>);

impl Utf16Sink for Units {
    fn put(&mut self, unit: u16) {
        self.0.push(unit);
    }
}

/// The string a piece must decode to. For a preview, the text that `write_preview` renders for the plan.
fn expected_string(piece: &InsertionString<'_>, plan: &PacketPlan) -> String {
    match *piece {
        InsertionString::Text(text) => text.to_string(),
        InsertionString::Decimal(value) => value.to_string(),
        InsertionString::Preview(payload) => {
            let preview = plan.preview.expect("a spec with a preview has no preview plan");
            let mut units = Units(Vec::new());
            write_preview(payload, &preview, &mut units);
            assert_eq!(units.0.len(), preview.units, "the preview is not as long as planned");
            String::from_utf16(&units.0).expect("a preview is not valid UTF-16")
        }
    }
}

/// UTF-16 units of every non-preview string, plus one NUL each (and one for the preview's NUL).
fn fixed_units(strings: &[InsertionString<'_>]) -> usize {
    strings
        .iter()
        .map(|s| match *s {
            InsertionString::Text(text) => text.encode_utf16().count() + 1,
            InsertionString::Decimal(value) => value.to_string().len() + 1,
            InsertionString::Preview(_) => 1,
        })
        .sum()
}

/// Checks a successful plan against the spec, encodes it and decodes the packet back.
fn check_plan(spec: &PacketSpec<'_>, plan: &PacketPlan, maximum: usize) {
    let entry_size = plan.entry_size.bytes();
    let dds = usize::from(plan.dump_data_size);
    // Property: the entry size is one IoAllocateErrorLogEntry accepts.
    assert!((PACKET_SIZE..=maximum).contains(&entry_size), "entry size {entry_size} outside 48..={maximum}");
    assert_eq!(usize::from(plan.entry_size.as_u8()), entry_size);
    // Property: DumpDataSize is a multiple of 4 covering the dump bytes (padding at most 3), and the
    // strings start right after it (the documented StringOffset convention).
    assert_eq!(dds % 4, 0);
    assert!(plan.dump_bytes <= dds && dds < plan.dump_bytes + 4);
    assert_eq!(usize::from(plan.string_offset), PACKET_SIZE + dds);
    // Property: only the spec's dump bytes are copied, at most max_dump_bytes of them; they are kept
    // whole or dropped whole.
    let wanted = spec.dump.len().min(spec.max_dump_bytes);
    assert!(plan.dump_bytes == wanted || plan.dump_bytes == 0);
    // Property: the dump is dropped only when it would not fit with the strings.
    let fixed_bytes = 2 * fixed_units(spec.strings);
    if plan.dump_bytes == 0 && wanted > 0 {
        assert!(PACKET_SIZE + wanted.next_multiple_of(4) + fixed_bytes > maximum, "a dump that fits was dropped");
    }
    assert_eq!(usize::from(plan.number_of_strings), spec.strings.len());
    // Property: the entry is exactly header, DumpData, strings and preview.
    let preview_units = plan.preview.map_or(0, |p| p.units);
    assert_eq!(entry_size, PACKET_SIZE + dds + fixed_bytes + 2 * preview_units);

    // Property: encoding into a buffer of exactly entry_size succeeds; one byte less is refused.
    let mut short = vec![0xAAu8; entry_size - 1];
    assert_eq!(
        encode_packet(&mut short, spec, plan),
        Err(PacketError::BufferTooSmall { needed: entry_size, given: entry_size - 1 })
    );
    let mut entry = vec![0xAAu8; entry_size];
    encode_packet(&mut entry, spec, plan).expect("encoding into exactly entry_size bytes failed");
    // Property: a larger (kernel-rounded, junk-filled) allocation gets the same packet and zeroes
    // the rest: nothing uninitialised reaches the Event Log.
    let mut rounded = vec![0xAAu8; entry_size.next_multiple_of(8) + 8];
    encode_packet(&mut rounded, spec, plan).unwrap();
    assert_eq!(&rounded[..entry_size], &entry[..]);
    assert!(rounded[entry_size..].iter().all(|&b| b == 0));

    // Property: parse_packet accepts the packet with the header as planned and the same number of
    // strings, each decoding to the text that was put in.
    let packet = parse_packet(&entry).expect("an encoded packet does not parse");
    let h = packet.header;
    assert_eq!(h.major_function, spec.major_function);
    assert_eq!(h.error_code, spec.message.id);
    assert_eq!(h.unique_error_value, spec.unique_error_value);
    assert_eq!(h.final_status, spec.final_status.as_u32());
    assert_eq!(h.sequence_number, spec.sequence_number);
    assert_eq!(
        (h.dump_data_size, h.string_offset, h.number_of_strings),
        (plan.dump_data_size, plan.string_offset, plan.number_of_strings)
    );
    assert_eq!(&packet.dump_data[..plan.dump_bytes], &spec.dump[..plan.dump_bytes]);
    assert!(packet.dump_data[plan.dump_bytes..].iter().all(|&b| b == 0));
    // The gap between the header and the dump (bytes 40..48 when there is no dump) is zero.
    assert!(entry[DUMP_DATA_OFFSET + dds..PACKET_SIZE + dds].iter().all(|&b| b == 0));
    let decoded: Vec<String> = packet.strings().map(|s| s.to_string()).collect();
    assert_eq!(decoded.len(), spec.strings.len(), "parse_packet found a different number of strings");
    let expected: Vec<String> = spec.strings.iter().map(|piece| expected_string(piece, plan)).collect();
    // Property: every string decodes to exactly what was planned (the planner refuses a Text
    // containing U+0000, whose NUL unit would end it early).
    for (i, (got, want)) in decoded.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "string %{} changed", i + 2);
    }

    // Property: its Event Log binary data parses to the same header and dump.
    let event = parse_event_data(event_data_of(&entry).unwrap()).unwrap();
    assert_eq!(event.header, h);
    assert_eq!(event.dump_data, packet.dump_data);
}

fn fuzz_spec(input: &SpecInput) {
    let pieces = &input.pieces[..input.pieces.len().min(128)];
    let strings: Vec<InsertionString<'_>> = pieces
        .iter()
        .map(|p| match p {
            Piece::Text(text) => InsertionString::Text(text),
            Piece::Decimal(value) => InsertionString::Decimal(*value),
            Piece::Preview(payload) => InsertionString::Preview(payload),
        })
        .collect();
    let spec = PacketSpec {
        message: MESSAGES[usize::from(input.message) % MESSAGES.len()],
        major_function: input.major_function,
        unique_error_value: input.unique_error_value,
        final_status: NtStatus::from_u32(input.final_status),
        sequence_number: input.sequence_number,
        dump: &input.dump,
        max_dump_bytes: usize::from(input.max_dump_bytes),
        strings: &strings,
    };
    let maximum = 48 + usize::from(input.maximum) % 208;
    let previews = pieces.iter().filter(|p| matches!(p, Piece::Preview(_))).count();
    let result = plan_packet(&spec, maximum);
    match result {
        Ok(plan) => {
            assert!(previews <= 1);
            if let Some(preview) = plan.preview {
                // The preview gets the room the other strings leave, and no more.
                let Some(InsertionString::Preview(payload)) =
                    strings.iter().find(|s| matches!(s, InsertionString::Preview(_)))
                else {
                    panic!("a preview plan without a preview string");
                };
                let strings_end = usize::from(plan.string_offset) + 2 * fixed_units(&strings);
                assert_eq!(preview, plan_preview(payload, (maximum - strings_end) / 2));
            } else {
                assert_eq!(previews, 0);
            }
            check_plan(&spec, &plan, maximum);
        }
        // Property: the planner refuses only for these reasons, and only when it must: more than
        // one preview, a Text containing U+0000, or fixed strings that do not fit even without DumpData.
        Err(PacketError::MultiplePreviews) => assert!(previews > 1),
        Err(PacketError::NulInText { index }) => {
            assert!(matches!(strings[usize::from(index)], InsertionString::Text(text) if text.contains('\0')));
        }
        Err(PacketError::StringsTooLong) => {
            assert!(previews <= 1);
            assert!(PACKET_SIZE + 2 * fixed_units(&strings) > maximum, "strings that fit were refused");
        }
        Err(other) => panic!("plan_packet failed with {other:?}"),
    }
    // Property: a maximum above 255 (not a UCHAR) plans as 255 does: the entry size never wraps.
    let wide = 256 + usize::from(input.wide_maximum.saturating_sub(256));
    assert_eq!(plan_packet(&spec, wide), plan_packet(&spec, 255));
}

fn fuzz_write(input: &WriteInput) {
    let facts = WriteFacts {
        sequence: input.sequence,
        process_id: input.process_id,
        payload: &input.payload,
        final_status: NtStatus::from_u32(input.final_status),
    };
    for maximum in [240, 152] {
        let strings = write_packet_strings(&facts);
        let spec = write_packet_spec(&facts, &strings, maximum);
        assert_eq!(spec.message, messages::LOGBRIDGE_WRITE);
        assert_eq!(spec.sequence_number, truncate_sequence(input.sequence));
        assert_eq!(spec.sequence_number, input.sequence as u32);
        assert_eq!(spec.max_dump_bytes, default_max_dump_bytes(maximum));
        // Property: every write can be logged: the plan never fails, whatever the payload.
        let plan = plan_packet(&spec, maximum).expect("a write packet could not be planned");
        check_plan(&spec, &plan, maximum);
        // Property: the four strings are sequence, byte count, process id and the preview.
        let packet = {
            let mut entry = vec![0u8; plan.entry_size.bytes()];
            encode_packet(&mut entry, &spec, &plan).unwrap();
            entry
        };
        let parsed = parse_packet(&packet).unwrap();
        let decoded: Vec<String> = parsed.strings().map(|s| s.to_string()).collect();
        assert_eq!(decoded.len(), 4);
        assert_eq!(decoded[0], input.sequence.to_string());
        assert_eq!(decoded[1], input.payload.len().to_string());
        assert_eq!(decoded[2], input.process_id.to_string());
        // Property: with room for it, the DumpData keeps the first bytes of the write.
        assert_eq!(plan.dump_bytes, input.payload.len().min(default_max_dump_bytes(maximum)));
    }
}

fuzz_target!(|input: Input| {
    match &input {
        Input::Spec(spec) => fuzz_spec(spec),
        Input::Write(write) => fuzz_write(write),
    }
});
