//! The Windows artifacts checked against the Rust source of truth in `logbridge-core`:
//!
//! * `inf/logbridge.mc` (parsed with `logbridge_model::message_file`) against `messages::MESSAGES`;
//! * the same file compiled by GNU `windmc -c`: the RT_MESSAGETABLE binary (decoded here per
//!   windows-layouts.md §4.1) and the generated header;
//! * `inf/logbridge.mof`, by a small MOF parser below and by pywbem's MOF compiler
//!   (`scripts/mof_check.py`), against `wmi::EVENT_PROPERTIES` and `GUID_LOGBRIDGE_WRITE_EVENT`;
//! * `build.rs`'s tool command lines (`build/resources.rs`): `mofcomp -WMI`, `mc -c -U`, and the
//!   check that reads the message ids back from mc's header: the same parser reads windmc's
//!   header here, with and without `-c`, and refuses the one without;
//! * the binary layouts and constants of `errorlog`, `wmi`, `ioctl`, `status` and `messages`
//!   against the mingw-w64 DDK headers (`ddk/wdm.h`, `wmistr.h`) and `windows.h`, as C11
//!   `_Static_assert`s compiled by `x86_64-w64-mingw32-gcc` and `i686-w64-mingw32-gcc`.
//!
//! Tool policy: a missing tool (windmc, a mingw gcc, python3 with pywbem) makes its test print
//! `skipped: <tool> not installed` to stderr and pass, unless `LOGBRIDGE_REQUIRE_TOOLS=1` is set
//! (CI sets it), in which case it fails. On Debian: `apt-get install binutils-mingw-w64
//! gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 mingw-w64-x86-64-dev` and `pip install pywbem`.

// Test code may panic, index, do plain arithmetic and cast freely.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    missing_docs
)]

use logbridge_core::errorlog::{self, RawPacketHeader};
use logbridge_core::guid::GUID_LOGBRIDGE_WRITE_EVENT;
use logbridge_core::ioctl;
use logbridge_core::messages::{self, CUSTOMER_BIT, FACILITY_IO_ERROR_CODE, MESSAGES, Severity};
use logbridge_core::wmi::{self, EVENT_PROPERTIES, RawWnodeSingleInstance};
use logbridge_core::{Guid, NtStatus};
use logbridge_model::message_file::{LOGBRIDGE_MC, MessageFile};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// ---------------------------------------------------------------------------------------------
// Helpers: paths, tools, processes

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh scratch directory for one test, under cargo's per-target temp dir.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("windows_artifacts").join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn tools_required() -> bool {
    std::env::var("LOGBRIDGE_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// Reports a missing tool: a skip, or a failure under `LOGBRIDGE_REQUIRE_TOOLS=1`.
fn tool_missing(tool: &str) {
    if tools_required() {
        panic!("{tool} not installed, and LOGBRIDGE_REQUIRE_TOOLS=1 makes a missing tool a failure");
    }
    // Straight to the process's stderr, past libtest's output capture, so the skip shows in CI logs.
    let _ = std::io::stderr().write_all(format!("skipped: {tool} not installed\n").as_bytes());
}

/// The first of `candidates` found on PATH.
fn which(candidates: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    candidates.iter().find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file()))
}

/// The first of `candidates` on PATH, or `None` after reporting it missing.
fn require_tool(tool: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = which(candidates);
    if found.is_none() {
        tool_missing(tool);
    }
    found
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{command:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The message file

fn mc_path() -> PathBuf {
    workspace_root().join("inf").join("logbridge.mc")
}

fn parsed_mc() -> MessageFile {
    MessageFile::parse(LOGBRIDGE_MC).unwrap_or_else(|e| panic!("inf/logbridge.mc: {e}"))
}

/// The insertion-string numbers (`%1`..`%99`) a message text uses, skipping escapes such as `%%`.
fn inserts_used(text: &str) -> BTreeSet<u32> {
    let mut used = BTreeSet::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        // %%, %n, %0, %., ...: no insert.
        if let Some(d @ '1'..='9') = chars.next() {
            let mut n = d.to_digit(10).unwrap();
            if let Some(d2) = chars.peek().and_then(|c| c.to_digit(10)) {
                chars.next();
                n = n * 10 + d2;
            }
            used.insert(n);
        }
    }
    used
}

#[test]
fn message_file_agrees_with_the_core_message_table() {
    // The model embeds the file; it must be the one in inf/.
    let on_disk = String::from_utf8(read(&mc_path())).unwrap();
    assert_eq!(on_disk, LOGBRIDGE_MC, "LOGBRIDGE_MC is not inf/logbridge.mc");
    assert!(LOGBRIDGE_MC.contains("MessageIdTypedef=NTSTATUS"));
    assert!(LOGBRIDGE_MC.contains("LanguageNames=(English=0x409:MSG00409)"));
    assert!(LOGBRIDGE_MC.contains("Io=0x4:FACILITY_IO_ERROR_CODE"));

    let file = parsed_mc();
    let mc: Vec<_> = file.messages.iter().map(|m| m.symbolic_name.as_str()).collect();
    let rust: Vec<_> = MESSAGES.iter().map(|m| m.symbolic_name).collect();
    assert_eq!(mc, rust, "the .mc must define the messages of messages::MESSAGES, in the same order");

    for (m, core) in file.messages.iter().zip(MESSAGES) {
        let name = core.symbolic_name;
        assert_eq!(m.full_id(), core.id, "{name}: id 0x{:08X} in the .mc, 0x{:08X} in Rust", m.full_id(), core.id);
        assert_ne!(m.full_id() & CUSTOMER_BIT, 0, "{name}: customer bit");
        assert_eq!(m.message_id, messages::event_id(core.id), "{name}: MessageId = Event ID");
        assert_eq!(m.severity, core.severity(), "{name}: severity");
        assert_eq!(m.facility, FACILITY_IO_ERROR_CODE, "{name}: facility");
        assert!(!m.text.trim().is_empty(), "{name} has no text");
        assert!(m.text.lines().count() <= 2, "{name}: keep the text to one or two lines");

        // %1 is the device name the I/O manager inserts; the driver's strings are %2..%(n+1).
        let used = inserts_used(&m.text);
        let expected: BTreeSet<u32> = (2..=u32::from(core.insertion_strings) + 1).collect();
        assert_eq!(used, expected, "{name}: the text must use exactly %2..%{}", core.insertion_strings + 1);
        assert_eq!(used.last().copied(), Some(u32::from(core.insertion_strings) + 1));

        // Rendering with one marker per insert shows every driver string.
        let markers: Vec<String> = (1..=u32::from(core.insertion_strings) + 1).map(|n| format!("<<{n}>>")).collect();
        let markers: Vec<&str> = markers.iter().map(String::as_str).collect();
        let rendered = file.format(core.id, &markers).unwrap();
        for n in 2..=core.insertion_strings + 1 {
            assert!(rendered.contains(&format!("<<{n}>>")), "{name}: %{n} not rendered in {rendered:?}");
        }
        assert!(
            !rendered.contains("<<1>>"),
            "{name}: do not use %1, the device name (empty for an unnamed KMDF device)"
        );
        assert!(!rendered.contains('%'), "{name}: unexpanded escape in {rendered:?}");
        assert!(rendered.ends_with("\r\n"));
    }

    // The texts the brief asks for, as Event Viewer shows them (%1 empty: unnamed KMDF device).
    let write = file.format(messages::LOGBRIDGE_WRITE.id, &["", "17", "5", "4242", "hello"]).unwrap();
    assert_eq!(write, "LogBridge record 17: 5 bytes written by process 4242. Preview: hello\r\n");
    let suppressed = file.format(messages::LOGBRIDGE_ENTRIES_SUPPRESSED.id, &["", "9", "7", "2", "10", "5"]).unwrap();
    for needle in
        ["9 ", "7 over the rate limit", "2 because IoAllocateErrorLogEntry returned NULL", "burst 10", "5 per second"]
    {
        assert!(suppressed.contains(needle), "{needle:?} not in {suppressed:?}");
    }
    assert!(suppressed.contains("ring log") && suppressed.contains("WMI"));
    let defaulted =
        file.format(messages::LOGBRIDGE_PARAMETER_DEFAULTED.id, &["", "MaxWriteSize", "0", "65536"]).unwrap();
    for needle in ["MaxWriteSize", "Parameters", "value 0", "default 65536"] {
        assert!(defaulted.contains(needle), "{needle:?} not in {defaulted:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// windmc and the RT_MESSAGETABLE format (windows-layouts.md §4.1)

/// `offsetof(MESSAGE_RESOURCE_DATA, Blocks)`.
const MRD_BLOCKS: usize = 4;
/// `sizeof(MESSAGE_RESOURCE_BLOCK)`: LowId, HighId, OffsetToEntries.
const MRB_SIZE: usize = 12;
/// `offsetof(MESSAGE_RESOURCE_ENTRY, Text)`: after Length and Flags.
const MRE_TEXT: usize = 4;
/// `MESSAGE_RESOURCE_UNICODE`.
const MESSAGE_RESOURCE_UNICODE: u16 = 1;

fn u16_at(data: &[u8], at: usize) -> u16 {
    let bytes = data.get(at..at + 2).unwrap_or_else(|| panic!("u16 at {at} is past the end ({} bytes)", data.len()));
    u16::from_le_bytes(bytes.try_into().unwrap())
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    let bytes = data.get(at..at + 4).unwrap_or_else(|| panic!("u32 at {at} is past the end ({} bytes)", data.len()));
    u32::from_le_bytes(bytes.try_into().unwrap())
}

/// Decodes a MESSAGE_RESOURCE_DATA and checks its encoding rules; returns (id, text) in table order.
fn parse_message_table(data: &[u8]) -> Vec<(u32, String)> {
    let blocks = u32_at(data, 0) as usize;
    assert!(blocks > 0, "no blocks");
    let entries_start = MRD_BLOCKS + blocks * MRB_SIZE;
    let mut messages = Vec::new();
    let mut previous_high: Option<u32> = None;
    let mut end_of_entries = entries_start;
    for b in 0..blocks {
        let at = MRD_BLOCKS + b * MRB_SIZE;
        let (low, high, offset) = (u32_at(data, at), u32_at(data, at + 4), u32_at(data, at + 8) as usize);
        assert!(low <= high, "block {b}: LowId 0x{low:08X} > HighId 0x{high:08X}");
        if let Some(previous) = previous_high {
            assert!(low > previous, "block {b}: blocks must be sorted by ascending LowId and not overlap");
        }
        previous_high = Some(high);
        assert!(offset >= entries_start, "block {b}: entries at {offset} overlap the block array");
        let mut p = offset;
        for id in low..=high {
            let length = usize::from(u16_at(data, p));
            let flags = u16_at(data, p + 2);
            assert!(
                length >= MRE_TEXT + 2 && length % 4 == 0,
                "0x{id:08X}: Length {length} (header + text + NUL, padded to 4)"
            );
            assert_eq!(flags, MESSAGE_RESOURCE_UNICODE, "0x{id:08X}: windmc -U writes UTF-16LE entries");
            let text =
                data.get(p + MRE_TEXT..p + length).unwrap_or_else(|| panic!("0x{id:08X}: entry runs past the end"));
            let units: Vec<u16> = text.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let nul = units.iter().position(|&u| u == 0).unwrap_or_else(|| panic!("0x{id:08X}: text without NUL"));
            assert!(units[nul..].iter().all(|&u| u == 0), "0x{id:08X}: padding after the NUL must be zero");
            assert!(
                (length - MRE_TEXT) / 2 - nul <= 2,
                "0x{id:08X}: more padding than needed to reach a multiple of 4"
            );
            messages.push((id, String::from_utf16(&units[..nul]).unwrap()));
            p += length;
        }
        end_of_entries = end_of_entries.max(p);
    }
    assert_eq!(end_of_entries, data.len(), "bytes after the last entry");
    messages
}

/// `#define NAME (NTSTATUS) 0x...` and `#define NAME 0x...` lines of a windmc header.
fn header_defines(header: &str) -> (BTreeMap<String, u32>, BTreeMap<String, u32>) {
    let mut ids = BTreeMap::new();
    let mut others = BTreeMap::new();
    for line in header.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(name), rest) = (words.next(), words.collect::<Vec<_>>()) else {
            continue;
        };
        let parse = |v: &str| {
            let v = v.trim_start_matches('(').trim_end_matches(')').trim_end_matches(['L', 'l', 'U', 'u']);
            v.strip_prefix("0x").map_or_else(|| v.parse().ok(), |hex| u32::from_str_radix(hex, 16).ok())
        };
        match rest.as_slice() {
            ["(NTSTATUS)", value] => {
                ids.insert(name.to_string(), parse(value).unwrap_or_else(|| panic!("bad value in {line:?}")));
            }
            [value] => {
                if let Some(v) = parse(value) {
                    others.insert(name.to_string(), v);
                }
            }
            _ => {}
        }
    }
    (ids, others)
}

/// Runs windmc with the arguments build.rs gives mc.exe (`resources::mc_args`: -c -U -h -r), or
/// the same without `-c`.
fn windmc(windmc: &Path, dir: &Path, customer_bit: bool) {
    let args: Vec<_> =
        resources::mc_args(dir, &mc_path()).into_iter().filter(|arg| customer_bit || arg.as_os_str() != "-c").collect();
    run(Command::new(windmc).args(args));
}

/// The (name, id) pairs of `messages::MESSAGES`, as build.rs passes them to the header check.
fn expected_ids() -> Vec<(&'static str, u32)> {
    MESSAGES.iter().map(|m| (m.symbolic_name, m.id)).collect()
}

fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

#[test]
fn windmc_compiles_the_message_file_into_the_rust_ids() {
    let Some(windmc_path) = require_tool("windmc", &["x86_64-w64-mingw32-windmc", "windmc", "i686-w64-mingw32-windmc"])
    else {
        return;
    };
    let dir = scratch_dir("windmc");
    windmc(&windmc_path, &dir, true);

    // The message table resource.
    let table = parse_message_table(&read(&dir.join("MSG00409.bin")));
    let bin_ids: Vec<u32> = table.iter().map(|(id, _)| *id).collect();
    let mut rust_ids: Vec<u32> = MESSAGES.iter().map(|m| m.id).collect();
    rust_ids.sort_unstable();
    assert_eq!(bin_ids, rust_ids, "ids in MSG00409.bin (customer bit included)");
    let file = parsed_mc();
    for (id, text) in &table {
        let m = file.find(*id).unwrap_or_else(|| panic!("0x{id:08X} not in the .mc"));
        // windmc keeps the .mc file's own line breaks; mc.exe writes \r\n. Compare the lines.
        assert_eq!(normalize_newlines(text), normalize_newlines(&m.text), "text of {}", m.symbolic_name);
    }

    // The header: the same names with the same values, and nothing else typed NTSTATUS. Read
    // with the parser and the check build.rs applies to mc.exe's header (build/resources.rs).
    let header = String::from_utf8(read(&dir.join(resources::MESSAGE_HEADER))).unwrap();
    let (ids, others) = header_defines(&header);
    let expected: BTreeMap<String, u32> = MESSAGES.iter().map(|m| (m.symbolic_name.to_string(), m.id)).collect();
    assert_eq!(ids, expected, "message ids #defined by logbridge.h");
    assert_eq!(resources::header_message_ids(&header).unwrap(), expected, "build.rs's parser");
    resources::check_message_ids(&header, &expected_ids()).unwrap();
    assert_eq!(others.get("FACILITY_IO_ERROR_CODE"), Some(&u32::from(FACILITY_IO_ERROR_CODE)));
    for severity in [Severity::Success, Severity::Informational, Severity::Warning, Severity::Error] {
        let name = format!("STATUS_SEVERITY_{}", severity.mc_name().to_ascii_uppercase());
        assert_eq!(others.get(&name), Some(&(severity as u32)), "{name}");
    }

    // The resource script: message table 1, US English.
    let rc = String::from_utf8(read(&dir.join("logbridge.rc"))).unwrap();
    assert!(rc.contains("LANGUAGE 0x9, 0x1"), "{rc}");
    assert!(rc.contains("1 MESSAGETABLE \"MSG00409.bin\""), "{rc}");

    // Without -c the ids lack the customer bit, so the driver's ErrorCodes would find no text.
    let plain = scratch_dir("windmc-without-c");
    windmc(&windmc_path, &plain, false);
    let plain_ids: Vec<u32> =
        parse_message_table(&read(&plain.join("MSG00409.bin"))).iter().map(|(id, _)| *id).collect();
    assert_eq!(plain_ids, rust_ids.iter().map(|id| id & !CUSTOMER_BIT).collect::<Vec<_>>());
    // ... and build.rs's check refuses such a header, naming the customer bit.
    let plain_header = String::from_utf8(read(&plain.join(resources::MESSAGE_HEADER))).unwrap();
    let refused = resources::check_message_ids(&plain_header, &expected_ids()).unwrap_err();
    assert!(refused.contains("LOGBRIDGE_WRITE is 0x40040001, the driver logs 0x60040001"), "{refused}");
    assert!(refused.contains("customer bit"), "{refused}");

    // The generated header compiles in a driver translation unit and gives the Rust values.
    if let Some(gcc) = require_tool("x86_64-w64-mingw32-gcc", &["x86_64-w64-mingw32-gcc"]) {
        let mut c = String::from("#include <ddk/wdm.h>\n#include \"logbridge.h\"\n");
        for m in MESSAGES {
            writeln!(c, "_Static_assert((ULONG){0} == 0x{1:08X}u, \"{0} = 0x{1:08X}\");", m.symbolic_name, m.id)
                .unwrap();
        }
        let source = dir.join("header_check.c");
        fs::write(&source, c).unwrap();
        run(Command::new(gcc).arg("-fsyntax-only").arg("-I").arg(&dir).arg(&source));
    }
}

// ---------------------------------------------------------------------------------------------
// The MOF

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(i64),
    Punct(char),
}

fn tokenize_mof(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '#' {
            // #pragma: to the end of the line.
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let mut value = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => panic!("unterminated string in the MOF"),
                    Some('"') => break,
                    Some('\\') => {
                        i += 1;
                        match chars.get(i) {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some(&other) => value.push(other),
                            None => panic!("unterminated string in the MOF"),
                        }
                    }
                    Some(&other) => value.push(other),
                }
                i += 1;
            }
            i += 1;
            // Adjacent string literals are concatenated.
            if let Some(Token::Str(previous)) = tokens.last_mut() {
                previous.push_str(&value);
            } else {
                tokens.push(Token::Str(value));
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) => i64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            tokens.push(Token::Num(value.unwrap_or_else(|_| panic!("bad number {text:?} in the MOF"))));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if "[](){},;:=".contains(c) {
            tokens.push(Token::Punct(c));
            i += 1;
        } else {
            panic!("unexpected character {c:?} in the MOF");
        }
    }
    tokens
}

#[derive(Clone, Debug, PartialEq)]
enum QualifierValue {
    Flag,
    Str(String),
    Num(i64),
}

#[derive(Debug)]
struct MofProperty {
    name: String,
    mof_type: String,
    array: bool,
    qualifiers: Vec<(String, QualifierValue)>,
}

#[derive(Debug)]
struct MofClass {
    name: String,
    superclass: Option<String>,
    qualifiers: Vec<(String, QualifierValue)>,
    properties: Vec<MofProperty>,
}

fn qualifier<'a>(qualifiers: &'a [(String, QualifierValue)], name: &str) -> Option<&'a QualifierValue> {
    qualifiers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

impl MofProperty {
    fn qualifier(&self, name: &str) -> Option<&QualifierValue> {
        qualifier(&self.qualifiers, name)
    }
}

struct MofParser {
    tokens: Vec<Token>,
    at: usize,
}

impl MofParser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Token {
        let token = self.tokens.get(self.at).cloned().unwrap_or_else(|| panic!("unexpected end of the MOF"));
        self.at += 1;
        token
    }

    fn expect(&mut self, c: char) {
        let token = self.next();
        assert_eq!(token, Token::Punct(c), "MOF: expected {c:?}");
    }

    fn ident(&mut self) -> String {
        match self.next() {
            Token::Ident(name) => name,
            other => panic!("MOF: expected a name, found {other:?}"),
        }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `[Name, Name(value), ...]`, or nothing.
    fn qualifiers(&mut self) -> Vec<(String, QualifierValue)> {
        let mut list = Vec::new();
        if !self.eat('[') {
            return list;
        }
        loop {
            let name = self.ident();
            let value = if self.eat('(') {
                let value = match self.next() {
                    Token::Str(s) => QualifierValue::Str(s),
                    Token::Num(n) => QualifierValue::Num(n),
                    other => panic!("MOF: qualifier {name} has the value {other:?}"),
                };
                self.expect(')');
                value
            } else {
                QualifierValue::Flag
            };
            list.push((name, value));
            if self.eat(']') {
                return list;
            }
            self.expect(',');
        }
    }

    fn class(&mut self) -> MofClass {
        let qualifiers = self.qualifiers();
        let keyword = self.ident();
        assert!(keyword.eq_ignore_ascii_case("class"), "MOF: expected `class`, found {keyword}");
        let name = self.ident();
        let superclass = self.eat(':').then(|| self.ident());
        self.expect('{');
        let mut properties = Vec::new();
        while !self.eat('}') {
            let qualifiers = self.qualifiers();
            let mof_type = self.ident();
            let name = self.ident();
            let array = self.eat('[');
            if array {
                self.expect(']');
            }
            self.expect(';');
            properties.push(MofProperty { name, mof_type, array, qualifiers });
        }
        self.expect(';');
        MofClass { name, superclass, qualifiers, properties }
    }
}

fn parse_mof(source: &str) -> Vec<MofClass> {
    let mut parser = MofParser { tokens: tokenize_mof(source), at: 0 };
    let mut classes = Vec::new();
    while parser.peek().is_some() {
        classes.push(parser.class());
    }
    classes
}

fn mof_path() -> PathBuf {
    workspace_root().join("inf").join("logbridge.mof")
}

fn mof_type_size(mof_type: &str) -> usize {
    match mof_type {
        "uint8" | "sint8" | "boolean" => 1,
        "uint16" | "sint16" | "char16" => 2,
        "uint32" | "sint32" | "real32" => 4,
        "uint64" | "sint64" | "real64" => 8,
        other => panic!("no fixed size for MOF type {other}"),
    }
}

#[test]
fn mof_declares_the_event_class_of_the_wmi_module() {
    let source = String::from_utf8(read(&mof_path())).unwrap();
    let classes = parse_mof(&source);
    assert_eq!(classes.len(), 1, "inf/logbridge.mof should declare one class");
    let class = &classes[0];
    assert_eq!(class.name, "LogBridge_WriteEvent");
    assert_eq!(class.superclass.as_deref(), Some("WMIEvent"));

    // Class qualifiers of a WMI event block.
    for flag in ["WMI", "Dynamic"] {
        assert_eq!(qualifier(&class.qualifiers, flag), Some(&QualifierValue::Flag), "class qualifier {flag}");
    }
    assert_eq!(qualifier(&class.qualifiers, "Provider"), Some(&QualifierValue::Str("WMIProv".into())));
    assert_eq!(qualifier(&class.qualifiers, "locale"), Some(&QualifierValue::Str("MS\\0x409".into())));
    let Some(QualifierValue::Str(guid)) = qualifier(&class.qualifiers, "guid") else { panic!("no guid qualifier") };
    assert!(guid.starts_with('{') && guid.ends_with('}'), "guid {guid} in braces");
    assert_eq!(Guid::parse(guid), Some(GUID_LOGBRIDGE_WRITE_EVENT), "guid qualifier {guid}");
    assert!(matches!(qualifier(&class.qualifiers, "Description"), Some(QualifierValue::Str(d)) if !d.is_empty()));

    // InstanceName and Active first, then the data items.
    let [instance, active, data @ ..] = class.properties.as_slice() else { panic!("too few properties") };
    assert_eq!((instance.name.as_str(), instance.mof_type.as_str()), ("InstanceName", "string"));
    assert_eq!(instance.qualifier("key"), Some(&QualifierValue::Flag));
    assert_eq!((active.name.as_str(), active.mof_type.as_str()), ("Active", "boolean"));
    for p in &class.properties {
        assert_eq!(p.qualifier("read"), Some(&QualifierValue::Flag), "{} is read", p.name);
        assert!(
            matches!(p.qualifier("Description"), Some(QualifierValue::Str(d)) if !d.is_empty()),
            "{} needs a Description",
            p.name
        );
    }
    assert!(instance.qualifier("WmiDataId").is_none() && active.qualifier("WmiDataId").is_none());

    assert_eq!(data.len(), EVENT_PROPERTIES.len(), "data items");
    let mut offset: usize = 0;
    for (index, (p, rust)) in data.iter().zip(EVENT_PROPERTIES).enumerate() {
        assert_eq!(p.name, rust.name);
        assert_eq!(p.mof_type, rust.mof_type, "{}: type", p.name);
        assert_eq!(p.array, rust.array, "{}: array", p.name);
        assert_eq!(
            p.qualifier("WmiDataId"),
            Some(&QualifierValue::Num(i64::from(rust.data_id))),
            "{}: WmiDataId",
            p.name
        );
        match p.qualifier("WmiSizeIs") {
            Some(QualifierValue::Str(count)) => {
                assert!(p.array, "{}: WmiSizeIs on a scalar", p.name);
                // The count is an unsigned scalar item that comes before the array.
                let counter = data
                    .iter()
                    .position(|q| &q.name == count)
                    .unwrap_or_else(|| panic!("WmiSizeIs({count}): no such item"));
                assert!(counter < index, "{}: WmiSizeIs({count}) must name an earlier item", p.name);
                assert!(
                    data[counter].mof_type.starts_with("uint") && !data[counter].array,
                    "{}: WmiSizeIs({count})",
                    p.name
                );
            }
            None => assert!(!p.array, "{}: a variable-length array needs WmiSizeIs", p.name),
            other => panic!("{}: WmiSizeIs {other:?}", p.name),
        }
        // WMI lays the items out in WmiDataId order, each aligned to its own size.
        let size = mof_type_size(&p.mof_type);
        offset = offset.div_ceil(size) * size;
        assert_eq!(offset, rust.offset, "{}: offset in the data block", p.name);
        if !p.array {
            offset += size;
        }
    }
    assert_eq!(offset, wmi::EVENT_DATA_FIXED_SIZE);
    let payload = data.iter().find(|p| p.array).unwrap();
    assert_eq!(payload.qualifier("WmiSizeIs"), Some(&QualifierValue::Str("PayloadLength".into())));
}

#[test]
fn pywbem_compiles_the_mof_into_the_same_class() {
    let Some(python) = which(&["python3"]) else {
        tool_missing("python3 with pywbem");
        return;
    };
    let probe = Command::new(&python).args(["-c", "import pywbem, pywbem_mock"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        tool_missing("python3 with pywbem");
        return;
    }
    let output = run(Command::new(&python).arg(workspace_root().join("scripts").join("mof_check.py")).arg(mof_path()));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(json["classname"], "LogBridge_WriteEvent");
    assert_eq!(json["superclass"], "WMIEvent");
    let qualifiers = &json["qualifiers"];
    assert_eq!(qualifiers["wmi"], true);
    assert_eq!(qualifiers["dynamic"], true);
    assert_eq!(qualifiers["provider"], "WMIProv");
    assert_eq!(qualifiers["locale"], "MS\\0x409");
    let guid = qualifiers["guid"].as_str().unwrap();
    assert_eq!(Guid::parse(guid), Some(GUID_LOGBRIDGE_WRITE_EVENT), "guid {guid}");

    let properties = json["properties"].as_array().unwrap();
    let names: Vec<&str> = properties.iter().map(|p| p["name"].as_str().unwrap()).collect();
    let mut expected = vec!["InstanceName", "Active"];
    expected.extend(EVENT_PROPERTIES.iter().map(|p| p.name));
    assert_eq!(names, expected, "properties in declaration order");
    assert_eq!(properties[0]["type"], "string");
    assert_eq!(properties[0]["qualifiers"]["key"], true);
    assert_eq!(properties[1]["type"], "boolean");
    for p in properties {
        let description = p["qualifiers"]["description"].as_str().unwrap_or("");
        assert!(!description.is_empty(), "{} needs a Description", p["name"]);
        assert_eq!(p["qualifiers"]["read"], true, "{} is read", p["name"]);
    }
    for (p, rust) in properties[2..].iter().zip(EVENT_PROPERTIES) {
        assert_eq!(p["type"], rust.mof_type, "{}: type", rust.name);
        assert_eq!(p["is_array"], rust.array, "{}: array", rust.name);
        assert_eq!(p["qualifiers"]["wmidataid"], rust.data_id, "{}: WmiDataId", rust.name);
        let size_is = &p["qualifiers"]["wmisizeis"];
        if rust.array {
            assert_eq!(size_is, "PayloadLength");
        } else {
            assert!(size_is.is_null(), "{}: WmiSizeIs on a scalar", rust.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Layouts and constants against the mingw-w64 headers

/// `size_of` of a field, from a default value of the struct.
macro_rules! field_size {
    ($t:ty, $field:ident) => {{
        let value = <$t>::default();
        core::mem::size_of_val(&value.$field)
    }};
}

/// (C member designator, Rust offset, Rust size) of a field.
macro_rules! field {
    ($t:ty, $field:ident, $c:literal) => {
        ($c, core::mem::offset_of!($t, $field), field_size!($t, $field))
    };
}

/// The STATUS_* names `status.rs` declares in its `statuses!` table.
fn status_names() -> Vec<String> {
    let source = String::from_utf8(read(&workspace_root().join("crates/logbridge-core/src/status.rs"))).unwrap();
    let table = source.split("statuses! {").nth(1).expect("statuses! table in status.rs");
    let table = &table[..table.find('}').unwrap()];
    let names: Vec<String> = table
        .lines()
        .filter_map(|line| line.trim().split_once('=').map(|(name, _)| name.trim().to_string()))
        .filter(|name| !name.is_empty())
        .collect();
    assert!(names.len() >= 10 && names.iter().any(|n| n == "BUFFER_OVERFLOW"), "status names: {names:?}");
    names
}

/// One `_Static_assert(expr, "what")` line.
fn check(c: &mut String, expr: impl std::fmt::Display, what: impl std::fmt::Display) {
    writeln!(c, "_Static_assert({expr}, \"{}\");", what.to_string().replace('"', "'")).unwrap();
}

/// The kernel-mode translation unit: ddk/wdm.h and wmistr.h.
fn kernel_header_checks(pointer_bits: u32) -> String {
    let mut c = String::from(
        "/* Generated by tests/windows_artifacts.rs from logbridge-core. */\n\
         #include <ddk/wdm.h>\n#include <wmistr.h>\n#include <stddef.h>\n\n",
    );
    check(&mut c, format!("sizeof(void *) * 8 == {pointer_bits}"), format!("{pointer_bits}-bit target"));

    // IO_ERROR_LOG_PACKET
    check(&mut c, format!("sizeof(IO_ERROR_LOG_PACKET) == {}", errorlog::PACKET_SIZE), "PACKET_SIZE");
    check(
        &mut c,
        format!("offsetof(IO_ERROR_LOG_PACKET, DumpData) == {}", errorlog::DUMP_DATA_OFFSET),
        "DUMP_DATA_OFFSET",
    );
    check(
        &mut c,
        format!("offsetof(IO_ERROR_LOG_PACKET, DumpData) == {}", core::mem::size_of::<RawPacketHeader>()),
        "size_of RawPacketHeader",
    );
    let packet_fields = [
        field!(RawPacketHeader, major_function_code, "MajorFunctionCode"),
        field!(RawPacketHeader, retry_count, "RetryCount"),
        field!(RawPacketHeader, dump_data_size, "DumpDataSize"),
        field!(RawPacketHeader, number_of_strings, "NumberOfStrings"),
        field!(RawPacketHeader, string_offset, "StringOffset"),
        field!(RawPacketHeader, event_category, "EventCategory"),
        field!(RawPacketHeader, error_code, "ErrorCode"),
        field!(RawPacketHeader, unique_error_value, "UniqueErrorValue"),
        field!(RawPacketHeader, final_status, "FinalStatus"),
        field!(RawPacketHeader, sequence_number, "SequenceNumber"),
        field!(RawPacketHeader, io_control_code, "IoControlCode"),
        field!(RawPacketHeader, device_offset, "DeviceOffset"),
    ];
    for (member, offset, size) in packet_fields {
        check(
            &mut c,
            format!("offsetof(IO_ERROR_LOG_PACKET, {member}) == {offset}"),
            format!("IO_ERROR_LOG_PACKET.{member} offset"),
        );
        check(
            &mut c,
            format!("sizeof(((IO_ERROR_LOG_PACKET *)0)->{member}) == {size}"),
            format!("IO_ERROR_LOG_PACKET.{member} size"),
        );
    }
    let maximum = errorlog::error_log_maximum_size(pointer_bits);
    check(&mut c, format!("ERROR_LOG_MAXIMUM_SIZE == {maximum}"), format!("error_log_maximum_size({pointer_bits})"));
    check(&mut c, format!("IRP_MJ_WRITE == {}", errorlog::IRP_MJ_WRITE), "IRP_MJ_WRITE");
    check(&mut c, format!("IRP_MJ_DEVICE_CONTROL == {}", errorlog::IRP_MJ_DEVICE_CONTROL), "IRP_MJ_DEVICE_CONTROL");

    // WNODE_HEADER / WNODE_SINGLE_INSTANCE
    check(&mut c, format!("sizeof(WNODE_HEADER) == {}", wmi::WNODE_HEADER_SIZE), "WNODE_HEADER_SIZE");
    check(
        &mut c,
        format!("sizeof(WNODE_SINGLE_INSTANCE) == {}", wmi::WNODE_SINGLE_INSTANCE_SIZE),
        "WNODE_SINGLE_INSTANCE_SIZE",
    );
    check(
        &mut c,
        format!("sizeof(WNODE_SINGLE_INSTANCE) == {}", core::mem::size_of::<RawWnodeSingleInstance>()),
        "size_of RawWnodeSingleInstance",
    );
    check(
        &mut c,
        format!("offsetof(WNODE_SINGLE_INSTANCE, VariableData) == {}", wmi::WNODE_SINGLE_INSTANCE_SIZE),
        "the data block follows WNODE_SINGLE_INSTANCE",
    );
    check(
        &mut c,
        format!("offsetof(WNODE_HEADER, Guid) == {}", core::mem::offset_of!(RawWnodeSingleInstance, guid)),
        "WNODE_HEADER.Guid",
    );
    let wnode_fields = [
        field!(RawWnodeSingleInstance, buffer_size, "WnodeHeader.BufferSize"),
        field!(RawWnodeSingleInstance, provider_id, "WnodeHeader.ProviderId"),
        field!(RawWnodeSingleInstance, historical_context, "WnodeHeader.HistoricalContext"),
        field!(RawWnodeSingleInstance, timestamp, "WnodeHeader.TimeStamp"),
        field!(RawWnodeSingleInstance, guid, "WnodeHeader.Guid"),
        field!(RawWnodeSingleInstance, client_context, "WnodeHeader.ClientContext"),
        field!(RawWnodeSingleInstance, flags, "WnodeHeader.Flags"),
        field!(RawWnodeSingleInstance, offset_instance_name, "OffsetInstanceName"),
        field!(RawWnodeSingleInstance, instance_index, "InstanceIndex"),
        field!(RawWnodeSingleInstance, data_block_offset, "DataBlockOffset"),
        field!(RawWnodeSingleInstance, size_data_block, "SizeDataBlock"),
    ];
    for (member, offset, size) in wnode_fields {
        check(
            &mut c,
            format!("offsetof(WNODE_SINGLE_INSTANCE, {member}) == {offset}"),
            format!("WNODE_SINGLE_INSTANCE.{member} offset"),
        );
        check(
            &mut c,
            format!("sizeof(((WNODE_SINGLE_INSTANCE *)0)->{member}) == {size}"),
            format!("WNODE_SINGLE_INSTANCE.{member} size"),
        );
    }
    let flags = [
        ("WNODE_FLAG_ALL_DATA", wmi::WNODE_FLAG_ALL_DATA),
        ("WNODE_FLAG_SINGLE_INSTANCE", wmi::WNODE_FLAG_SINGLE_INSTANCE),
        ("WNODE_FLAG_SINGLE_ITEM", wmi::WNODE_FLAG_SINGLE_ITEM),
        ("WNODE_FLAG_EVENT_ITEM", wmi::WNODE_FLAG_EVENT_ITEM),
        ("WNODE_FLAG_STATIC_INSTANCE_NAMES", wmi::WNODE_FLAG_STATIC_INSTANCE_NAMES),
        ("WNODE_FLAG_TRACED_GUID", wmi::WNODE_FLAG_TRACED_GUID),
    ];
    for (name, value) in flags {
        check(&mut c, format!("{name} == 0x{value:08X}u"), name);
    }
    check(
        &mut c,
        format!(
            "(WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_SINGLE_INSTANCE | WNODE_FLAG_STATIC_INSTANCE_NAMES) == 0x{:08X}u",
            wmi::LOGBRIDGE_EVENT_FLAGS
        ),
        "LOGBRIDGE_EVENT_FLAGS (KMDF's event flags)",
    );

    // GUID memory layout (Guid::to_bytes_le)
    check(&mut c, "sizeof(GUID) == 16 && offsetof(GUID, Data2) == 4 && offsetof(GUID, Data3) == 6", "GUID layout");
    check(&mut c, "offsetof(GUID, Data4) == 8 && sizeof(((GUID *)0)->Data4) == 8", "GUID.Data4");

    // IOCTL codes: the contract of ioctl.rs, spelled with the DDK's CTL_CODE.
    let constants = [
        ("FILE_DEVICE_UNKNOWN", ioctl::FILE_DEVICE_UNKNOWN),
        ("METHOD_BUFFERED", ioctl::METHOD_BUFFERED),
        ("METHOD_IN_DIRECT", ioctl::METHOD_IN_DIRECT),
        ("METHOD_OUT_DIRECT", ioctl::METHOD_OUT_DIRECT),
        ("METHOD_NEITHER", ioctl::METHOD_NEITHER),
        ("FILE_ANY_ACCESS", ioctl::FILE_ANY_ACCESS),
        ("FILE_READ_ACCESS", ioctl::FILE_READ_ACCESS),
        ("FILE_WRITE_ACCESS", ioctl::FILE_WRITE_ACCESS),
    ];
    for (name, value) in constants {
        check(&mut c, format!("{name} == {value}"), name);
    }
    let codes = [
        ("IOCTL_LOGBRIDGE_READ_LOG", ioctl::IOCTL_LOGBRIDGE_READ_LOG, "0x800, METHOD_OUT_DIRECT, FILE_READ_ACCESS"),
        ("IOCTL_LOGBRIDGE_GET_STATS", ioctl::IOCTL_LOGBRIDGE_GET_STATS, "0x801, METHOD_BUFFERED, FILE_READ_ACCESS"),
        ("IOCTL_LOGBRIDGE_CLEAR_LOG", ioctl::IOCTL_LOGBRIDGE_CLEAR_LOG, "0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS"),
    ];
    for (name, value, args) in codes {
        check(
            &mut c,
            format!("CTL_CODE(FILE_DEVICE_UNKNOWN, {args}) == 0x{value:08X}u"),
            format!("{name} = 0x{value:08X}"),
        );
        check(
            &mut c,
            format!("METHOD_FROM_CTL_CODE(0x{value:08X}u) == {}", ioctl::method_of(value)),
            format!("{name} method"),
        );
    }

    // NTSTATUS values of status.rs. KMDF's own statuses (STATUS_WDF_*) are in the WDK's
    // wdfstatus.h, which mingw-w64 does not ship: they are checked against its layout instead
    // (severity error, FACILITY_DRIVER_FRAMEWORK 0x20).
    for name in status_names() {
        let status = NtStatus::from_name(&name).unwrap_or_else(|| panic!("NtStatus::from_name({name})"));
        assert_eq!(status.name(), Some(format!("STATUS_{name}").as_str()));
        if name.starts_with("WDF_") {
            assert_eq!(
                status.as_u32() & 0xFFFF_0000,
                0xC020_0000,
                "STATUS_{name}: wdfstatus.h's facility and severity"
            );
            continue;
        }
        check(&mut c, format!("(ULONG)STATUS_{name} == 0x{:08X}u", status.as_u32()), format!("STATUS_{name}"));
    }

    // Message ids: the facility, and the NTSTATUS bit layout (an IO_ERR_* code of ntiologc.h is
    // our message_id() without the customer bit).
    check(&mut c, format!("FACILITY_IO_ERROR_CODE == {FACILITY_IO_ERROR_CODE}"), "FACILITY_IO_ERROR_CODE");
    let insufficient = messages::message_id(Severity::Error, FACILITY_IO_ERROR_CODE, 2) & !CUSTOMER_BIT;
    check(&mut c, format!("(ULONG)IO_ERR_INSUFFICIENT_RESOURCES == 0x{insufficient:08X}u"), "message_id() layout");
    let firmware = messages::message_id(Severity::Warning, FACILITY_IO_ERROR_CODE, 0x1A) & !CUSTOMER_BIT;
    check(&mut c, format!("(ULONG)IO_WRN_BAD_FIRMWARE == 0x{firmware:08X}u"), "message_id() severity bits");
    c
}

/// The user-mode translation unit: windows.h (message-table structs, the customer bit, severities).
fn user_header_checks(pointer_bits: u32) -> String {
    let mut c =
        String::from("/* Generated by tests/windows_artifacts.rs. */\n#include <windows.h>\n#include <stddef.h>\n\n");
    check(&mut c, format!("sizeof(void *) * 8 == {pointer_bits}"), format!("{pointer_bits}-bit target"));
    check(&mut c, format!("offsetof(MESSAGE_RESOURCE_DATA, Blocks) == {MRD_BLOCKS}"), "MESSAGE_RESOURCE_DATA.Blocks");
    check(&mut c, format!("sizeof(MESSAGE_RESOURCE_BLOCK) == {MRB_SIZE}"), "sizeof MESSAGE_RESOURCE_BLOCK");
    check(
        &mut c,
        "offsetof(MESSAGE_RESOURCE_BLOCK, LowId) == 0 && offsetof(MESSAGE_RESOURCE_BLOCK, HighId) == 4 && \
         offsetof(MESSAGE_RESOURCE_BLOCK, OffsetToEntries) == 8",
        "MESSAGE_RESOURCE_BLOCK fields",
    );
    check(
        &mut c,
        format!(
            "offsetof(MESSAGE_RESOURCE_ENTRY, Length) == 0 && offsetof(MESSAGE_RESOURCE_ENTRY, Flags) == 2 && \
             offsetof(MESSAGE_RESOURCE_ENTRY, Text) == {MRE_TEXT}"
        ),
        "MESSAGE_RESOURCE_ENTRY fields",
    );
    check(&mut c, format!("MESSAGE_RESOURCE_UNICODE == {MESSAGE_RESOURCE_UNICODE}"), "MESSAGE_RESOURCE_UNICODE");
    check(&mut c, format!("APPLICATION_ERROR_MASK == 0x{CUSTOMER_BIT:08X}"), "CUSTOMER_BIT");
    for (name, severity) in
        [("WARNING", Severity::Warning), ("ERROR", Severity::Error), ("INFORMATIONAL", Severity::Informational)]
    {
        let bits = messages::message_id(severity, 0, 0) & !CUSTOMER_BIT;
        check(&mut c, format!("(ULONG)ERROR_SEVERITY_{name} == 0x{bits:08X}u"), format!("ERROR_SEVERITY_{name}"));
    }
    check(&mut c, "MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US) == 0x409", "LanguageNames English=0x409");
    check(&mut c, "RT_MESSAGETABLE == MAKEINTRESOURCE(11)", "RT_MESSAGETABLE");
    c
}

#[test]
fn layouts_and_constants_match_the_mingw_ddk_headers() {
    let dir = scratch_dir("layouts");
    for (gcc_name, bits) in [("x86_64-w64-mingw32-gcc", 64), ("i686-w64-mingw32-gcc", 32)] {
        let Some(gcc) = require_tool(gcc_name, &[gcc_name]) else {
            continue;
        };
        for (kind, source) in [("kernel", kernel_header_checks(bits)), ("user", user_header_checks(bits))] {
            let path = dir.join(format!("{kind}_{bits}.c"));
            fs::write(&path, &source).unwrap();
            // -fsyntax-only evaluates every _Static_assert; a false one is an error naming the check.
            let output = Command::new(&gcc)
                .args(["-std=gnu11", "-fsyntax-only"])
                .arg(&path)
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", gcc.display()));
            assert!(
                output.status.success(),
                "{gcc_name} rejected {} ({} checks):\n{}",
                path.display(),
                source.matches("_Static_assert").count(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The resource script linked into logbridge.sys (inf/logbridge-resources.rc), compiled by GNU
// windres exactly as build.rs has rc.exe compile it: same script, same generated version header,
// the message table from windmc -c -U, and a binary MOF. mofcomp does not exist off Windows, so
// the MOF resource carries a marker file here; the test checks where it lands and under what name.

#[path = "../build/resources.rs"]
mod resources;

/// One entry of a `.res` file: type, name (id or upper-cased string), language, data.
#[derive(Debug)]
struct ResEntry {
    kind: ResName,
    name: ResName,
    language: u16,
    data: Vec<u8>,
}

#[derive(Debug, PartialEq)]
enum ResName {
    Id(u16),
    Text(String),
}

/// Reads a `0xFFFF id` or a NUL-terminated UTF-16 name at `at`; returns it and the next offset.
fn res_name(data: &[u8], at: usize) -> (ResName, usize) {
    if u16_at(data, at) == 0xFFFF {
        return (ResName::Id(u16_at(data, at + 2)), at + 4);
    }
    let mut units = Vec::new();
    let mut p = at;
    loop {
        let unit = u16_at(data, p);
        p += 2;
        if unit == 0 {
            break;
        }
        units.push(unit);
    }
    (ResName::Text(String::from_utf16(&units).unwrap()), p)
}

/// Decodes a 32-bit `.res` file (RESOURCEHEADER records, each DWORD-aligned).
fn parse_res(data: &[u8]) -> Vec<ResEntry> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let data_size = u32_at(data, at) as usize;
        let header_size = u32_at(data, at + 4) as usize;
        let (kind, next) = res_name(data, at + 8);
        let (name, next) = res_name(data, next);
        let next = next.next_multiple_of(4);
        // DataVersion (4), MemoryFlags (2), LanguageId (2), Version (4), Characteristics (4).
        let language = u16_at(data, next + 6);
        assert_eq!(next + 16, at + header_size, "header size of the entry at {at}");
        let body = data.get(at + header_size..at + header_size + data_size).expect("resource data past the end");
        entries.push(ResEntry { kind, name, language, data: body.to_vec() });
        at = (at + header_size + data_size).next_multiple_of(4);
    }
    entries
}

#[test]
fn the_resource_script_links_the_message_table_mof_and_version_into_the_image() {
    let Some(windmc_path) = require_tool("windmc", &["x86_64-w64-mingw32-windmc", "windmc"]) else {
        return;
    };
    let Some(windres_path) = require_tool("windres", &["x86_64-w64-mingw32-windres", "windres"]) else {
        return;
    };
    let dir = scratch_dir("resources");
    windmc(&windmc_path, &dir, true);
    fs::write(dir.join(resources::VERSION_HEADER), resources::version_header(env!("CARGO_PKG_VERSION")).unwrap())
        .unwrap();
    let marker = b"FOMB: stands in for mofcomp's binary MOF".to_vec();
    fs::write(dir.join(resources::BINARY_MOF), &marker).unwrap();
    let res = dir.join("logbridge.res");
    run(Command::new(windres_path)
        .arg("--input-format=rc")
        .arg("--output-format=res")
        .arg("--include-dir")
        .arg(&dir)
        .arg(workspace_root().join(resources::RESOURCE_SCRIPT))
        .arg(&res)
        .current_dir(&dir));
    let entries = parse_res(&read(&res));
    let real: Vec<&ResEntry> = entries.iter().filter(|e| e.kind != ResName::Id(0)).collect();

    // RT_MESSAGETABLE (11), id 1, English: the same table windmc wrote, carrying every message.
    let table = real.iter().find(|e| e.kind == ResName::Id(11)).expect("no RT_MESSAGETABLE");
    assert_eq!(table.name, ResName::Id(1));
    assert_eq!(table.language, 0x0409);
    let ids: BTreeSet<u32> = parse_message_table(&table.data).into_iter().map(|(id, _)| id).collect();
    let expected: BTreeSet<u32> = messages::MESSAGES.iter().map(|m| m.id).collect();
    assert_eq!(ids, expected);

    // MOFDATA, named as the driver registers it (resource names and types are upper-cased).
    let mof = real
        .iter()
        .find(|e| e.kind == ResName::Text("MOFDATA".into()))
        .expect("no MOFDATA resource: WMI would not find the LogBridge_WriteEvent class");
    assert_eq!(mof.name, ResName::Text(logbridge_core::identity::MOF_RESOURCE_NAME.to_ascii_uppercase()));
    assert_eq!(mof.data, marker);

    // RT_VERSION (16): VS_FIXEDFILEINFO after the "VS_VERSION_INFO" key, with the crate version.
    let version = real.iter().find(|e| e.kind == ResName::Id(16)).expect("no VERSIONINFO");
    let key: Vec<u8> = "VS_VERSION_INFO\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let key_at = version.data.windows(key.len()).position(|w| w == key).expect("VS_VERSION_INFO key");
    let fixed = (key_at + key.len()).next_multiple_of(4);
    assert_eq!(u32_at(&version.data, fixed), 0xFEEF_04BD, "VS_FIXEDFILEINFO signature");
    let parts: Vec<u32> = env!("CARGO_PKG_VERSION").split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(u32_at(&version.data, fixed + 8), (parts[0] << 16) | parts[1], "FileVersionMS");
    assert_eq!(u32_at(&version.data, fixed + 12), parts[2] << 16, "FileVersionLS");
    assert_eq!(u32_at(&version.data, fixed + 32), 0x0004_0004, "FILEOS VOS_NT_WINDOWS32");
    assert_eq!(u32_at(&version.data, fixed + 36), 3, "FILETYPE VFT_DRV");
    assert_eq!(u32_at(&version.data, fixed + 40), 7, "FILESUBTYPE VFT2_DRV_SYSTEM");
    let original: Vec<u8> = "logbridge.sys".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(version.data.windows(original.len()).any(|w| w == original), "OriginalFilename");
}

#[test]
fn build_rs_compiles_the_sources_these_tests_check() {
    assert_eq!(workspace_root().join(resources::MESSAGE_TEXT), mc_path());
    assert_eq!(workspace_root().join(resources::MOF_SOURCE), mof_path());
    let script = fs::read_to_string(workspace_root().join(resources::RESOURCE_SCRIPT)).unwrap();
    for include in [resources::VERSION_HEADER, "logbridge.rc"] {
        assert!(script.contains(&format!("#include \"{include}\"")), "the script does not include {include}");
    }
    assert!(script.contains(&format!(
        "{} MOFDATA \"{}\"",
        logbridge_core::identity::MOF_RESOURCE_NAME,
        resources::BINARY_MOF
    )));
}

#[test]
fn build_rs_runs_mofcomp_with_the_wmi_switch() {
    // Microsoft (mofcomp): "A driver must either use the WMI switch or run Wmimofck to validate the MOF."
    let args = resources::mofcomp_args(Path::new("out/logbridge.bmf"), Path::new("inf/logbridge.mof"));
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    assert_eq!(args, ["-WMI", "-B:out/logbridge.bmf", "inf/logbridge.mof"]);
    let build = fs::read_to_string(workspace_root().join("build.rs")).unwrap();
    let code: String = build.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    assert!(code.contains("mofcomp.args(resources::mofcomp_args("), "build.rs runs mofcomp with mofcomp_args");
    assert!(!code.contains("\"-B:\""), "build.rs builds mofcomp's arguments itself");
}

#[test]
fn build_rs_reads_the_ids_back_from_mcs_header() {
    let args = resources::mc_args(Path::new("out"), Path::new("inf/logbridge.mc"));
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    assert_eq!(args, ["-c", "-U", "-h", "out", "-r", "out", "inf/logbridge.mc"]);
    let build = fs::read_to_string(workspace_root().join("build.rs")).unwrap();
    let code: String = build.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    for needle in [
        "mc.args(resources::mc_args(",
        "out.join(resources::MESSAGE_HEADER)",
        "messages::MESSAGES.iter()",
        "resources::check_message_ids(&header, &expected)?",
        "#[path = \"crates/logbridge-core/src/messages.rs\"]",
    ] {
        assert!(code.contains(needle), "build.rs lacks `{needle}`");
    }
    // The check comes between mc and rc (a wrong id must stop the build before linking).
    let check = code.find("check_message_ids").unwrap();
    assert!(code.find("run(mc)").unwrap() < check && check < code.find("run(rc)").unwrap());
}

#[test]
fn the_header_parser_reads_mc_exe_and_windmc_headers() {
    // mc.exe (MessageIdTypedef=NTSTATUS): `#define NAME ((NTSTATUS)0x...L)`, with its comment block.
    let mc_exe = "//\r\n//  Values are 32 bit values laid out as follows:\r\n//\r\n                  #define FACILITY_IO_ERROR_CODE           0x4\r\n                  #define STATUS_SEVERITY_WARNING          0x2\r\n                  #define LOGBRIDGE_WRITE                  ((NTSTATUS)0x60040001L)\r\n                  #define LOGBRIDGE_ENTRIES_SUPPRESSED     ((NTSTATUS)0xA0040002L)\r\n                  #define LOGBRIDGE_PARAMETER_DEFAULTED    ((NTSTATUS)0xA0040003L)\r\n                  #define _LOGBRIDGE_MC_\r\n";
    let ids = resources::header_message_ids(mc_exe).unwrap();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids["LOGBRIDGE_ENTRIES_SUPPRESSED"], 0xA004_0002);
    resources::check_message_ids(mc_exe, &expected_ids()).unwrap();
    // GNU windmc: `#define NAME (NTSTATUS) 0x...`.
    let windmc = "#define LOGBRIDGE_WRITE (NTSTATUS) 0x60040001\n                  #define LOGBRIDGE_ENTRIES_SUPPRESSED (NTSTATUS) 0xa0040002\n                  #define LOGBRIDGE_PARAMETER_DEFAULTED (NTSTATUS) 0xa0040003\n";
    resources::check_message_ids(windmc, &expected_ids()).unwrap();

    // Every difference is named.
    let wrong = mc_exe.replace("0x60040001L", "0x40040001L").replace("0xA0040003L", "0xA0040004L");
    let error = resources::check_message_ids(&wrong, &expected_ids()).unwrap_err();
    assert!(
        error.contains("LOGBRIDGE_WRITE is 0x40040001, the driver logs 0x60040001 (they differ in the customer bit")
    );
    assert!(error.contains("LOGBRIDGE_PARAMETER_DEFAULTED is 0xA0040004"), "{error}");
    let missing = mc_exe.replace("#define LOGBRIDGE_WRITE ", "#define LOGBRIDGE_WROTE ");
    let error = resources::check_message_ids(&missing, &expected_ids()).unwrap_err();
    assert!(error.contains("LOGBRIDGE_WRITE is missing") && error.contains("LOGBRIDGE_WROTE is not a message"));
    assert!(resources::header_message_ids("#define A ((NTSTATUS)0xZZL)\n").unwrap_err().contains("cannot read"));
    let twice = "#define A ((NTSTATUS)0x1L)\n#define A ((NTSTATUS)0x2L)\n";
    assert!(resources::header_message_ids(twice).unwrap_err().contains("defined twice"));
    assert!(resources::header_message_ids("#define X 0x4\n").unwrap_err().contains("no (NTSTATUS)"));
}

#[test]
fn the_version_header_follows_the_crate_version() {
    let header = resources::version_header("1.2.3").unwrap();
    assert!(header.contains("#define LOGBRIDGE_VERSION 1,2,3,0\n"), "{header}");
    assert!(header.contains("#define LOGBRIDGE_VERSION_STR \"1.2.3.0\"\n"), "{header}");
    assert!(resources::version_header("1.2.3-rc.1").unwrap().contains(" 1,2,3,0\n"));
    assert!(resources::version_header("1.2").is_err());
    assert!(resources::version_header("1.2.70000").is_err());
}
