//! The driver package's INF source, `inf/logbridge.inx`, checked against the Rust source of truth
//! in `logbridge-core`: the names of `identity` (service, binary, hardware ID, class, device
//! security, event types) and the registry parameters of `device::Parameter`; its models
//! decoration against the KMDF version of `Cargo.toml` and the kernel routines the driver imports;
//! and `Makefile.toml`, the cargo-make flow that builds the package.
//!
//! The INX is read by the small INF reader below, written for this test (no INF crate is a
//! dependency). It handles what the INX uses and rejects the rest instead of guessing:
//! `[Section]` headers, `;` comments outside quotes, `key = value` and bare lines, comma-separated
//! fields with `"quoted"` parts (`""` is a literal quote), `%name%` tokens from `[Strings]`, `%%`
//! for a literal `%`, numeric DIRID tokens such as `%13%` (kept as written, and recorded), and CRLF
//! or LF line ends. Section names, keys and `[Strings]` names are case-insensitive, as in SetupAPI.
//! Not supported (an error if met): line continuation with a trailing `\`, and undefined `%tokens%`.
//!
//! stampinf is not available here, so the INX is checked as written: `$ARCH$` and
//! `$KMDFVERSION$` stay as they are (stampinf fills them on Windows).

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

use logbridge_core::Guid;
use logbridge_core::device::Parameter;
use logbridge_core::identity;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

// ---------------------------------------------------------------------------------------------
// The INF reader

/// One logical line of a section: `key = fields` or bare `fields`, after quote removal and
/// `%token%` expansion (except in `[Strings]`, whose values are kept as written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct InfLine {
    key: Option<String>,
    fields: Vec<String>,
    /// 1-based line number in the file, for messages.
    number: usize,
}

impl InfLine {
    /// Field `index`, or "" if the line has fewer fields (INF treats missing fields as empty).
    fn field(&self, index: usize) -> &str {
        self.fields.get(index).map_or("", String::as_str)
    }
}

#[derive(Debug)]
struct Section {
    name: String,
    lines: Vec<InfLine>,
}

impl Section {
    /// The lines whose key is `key` (case-insensitive).
    fn keyed(&self, key: &str) -> Vec<&InfLine> {
        self.lines.iter().filter(|line| line.key.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(key))).collect()
    }

    /// The fields of the only line keyed `key`; panics if there is not exactly one.
    fn single(&self, key: &str) -> &[String] {
        let lines = self.keyed(key);
        assert_eq!(lines.len(), 1, "[{}] must have exactly one `{key} =` line, has {}", self.name, lines.len());
        &lines[0].fields
    }

    /// The bare (keyless) lines.
    fn bare(&self) -> Vec<&InfLine> {
        self.lines.iter().filter(|line| line.key.is_none()).collect()
    }
}

#[derive(Debug)]
struct Inf {
    sections: Vec<Section>,
    /// Every numeric `%N%` token (DIRID) found outside `[Strings]`.
    dirids: BTreeSet<u32>,
}

/// One field being assembled: its characters, each marked quoted or not (only unquoted
/// whitespace at either end is trimmed).
#[derive(Default)]
struct FieldBuf {
    chars: Vec<(char, bool)>,
}

impl FieldBuf {
    fn finish(&mut self) -> String {
        let chars = std::mem::take(&mut self.chars);
        let start = chars.iter().position(|&(c, quoted)| quoted || !c.is_whitespace()).unwrap_or(chars.len());
        let end = chars.iter().rposition(|&(c, quoted)| quoted || !c.is_whitespace()).map_or(start, |i| i + 1);
        chars[start..end.max(start)].iter().map(|&(c, _)| c).collect()
    }
}

/// Splits one physical line into an optional key and its fields (not yet expanded). `None` for a
/// blank or comment-only line.
fn split_line(text: &str, number: usize) -> Result<Option<InfLine>, String> {
    let mut key = None;
    let mut fields = Vec::new();
    let mut current = FieldBuf::default();
    let mut in_quotes = false;
    let mut content = false;
    let mut last_unquoted = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    current.chars.push(('"', true));
                } else {
                    in_quotes = false;
                }
            } else {
                current.chars.push((c, true));
            }
            continue;
        }
        match c {
            ';' => break,
            '"' => {
                in_quotes = true;
                content = true;
                last_unquoted = None;
            }
            ',' => {
                fields.push(current.finish());
                content = true;
                last_unquoted = Some(',');
            }
            '=' if key.is_none() && fields.is_empty() => {
                key = Some(current.finish());
                content = true;
                last_unquoted = Some('=');
            }
            _ => {
                if !c.is_whitespace() {
                    content = true;
                    last_unquoted = Some(c);
                }
                current.chars.push((c, false));
            }
        }
    }
    if in_quotes {
        return Err(format!("line {number}: unterminated quoted string"));
    }
    if last_unquoted == Some('\\') {
        return Err(format!("line {number}: line continuation (trailing `\\`) is not supported by this reader"));
    }
    if !content {
        return Ok(None);
    }
    fields.push(current.finish());
    Ok(Some(InfLine { key, fields, number }))
}

/// Expands `%%` and `%name%` (from `strings`, keys lowercase); numeric tokens (DIRIDs) are kept
/// as written and recorded in `dirids`.
fn expand(
    text: &str,
    strings: &BTreeMap<String, String>,
    dirids: &mut BTreeSet<u32>,
    number: usize,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
            continue;
        }
        let close = after.find('%').ok_or_else(|| format!("line {number}: unterminated `%` token in {text:?}"))?;
        let token = &after[..close];
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            dirids.insert(token.parse().map_err(|e| format!("line {number}: DIRID {token}: {e}"))?);
            out.push('%');
            out.push_str(token);
            out.push('%');
        } else {
            let value = strings
                .get(&token.to_ascii_lowercase())
                .ok_or_else(|| format!("line {number}: %{token}% is not defined in [Strings]"))?;
            out.push_str(value);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Inf {
    fn parse(text: &str) -> Result<Inf, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut sections: Vec<Section> = Vec::new();
        let mut current: Option<usize> = None;
        for (index, physical) in text.split('\n').enumerate() {
            let number = index + 1;
            let line = physical.strip_suffix('\r').unwrap_or(physical);
            let trimmed = line.trim_start();
            if let Some(header) = trimmed.strip_prefix('[') {
                let close = header.find(']').ok_or_else(|| format!("line {number}: unterminated section header"))?;
                let after = header[close + 1..].trim_start();
                if !(after.is_empty() || after.starts_with(';')) {
                    return Err(format!("line {number}: text after the section header: {after:?}"));
                }
                let name = header[..close].trim();
                if name.is_empty() {
                    return Err(format!("line {number}: empty section name"));
                }
                // Sections of the same name are one section, as in SetupAPI.
                current = Some(match sections.iter().position(|s| s.name.eq_ignore_ascii_case(name)) {
                    Some(existing) => existing,
                    None => {
                        sections.push(Section { name: name.to_string(), lines: Vec::new() });
                        sections.len() - 1
                    }
                });
                continue;
            }
            let Some(parsed) = split_line(line, number)? else { continue };
            let section = current.ok_or_else(|| format!("line {number}: content before the first section"))?;
            sections[section].lines.push(parsed);
        }

        let mut strings = BTreeMap::new();
        for section in sections.iter().filter(|s| s.name.eq_ignore_ascii_case("Strings")) {
            for line in &section.lines {
                let key =
                    line.key.as_ref().ok_or_else(|| format!("line {}: [Strings] line without `=`", line.number))?;
                if line.fields.len() != 1 {
                    return Err(format!("line {}: [Strings] value with more than one field", line.number));
                }
                strings.insert(key.to_ascii_lowercase(), line.fields[0].clone());
            }
        }

        let mut dirids = BTreeSet::new();
        for section in sections.iter_mut().filter(|s| !s.name.eq_ignore_ascii_case("Strings")) {
            for line in &mut section.lines {
                if let Some(key) = &line.key {
                    line.key = Some(expand(key, &strings, &mut dirids, line.number)?);
                }
                for field in &mut line.fields {
                    *field = expand(field, &strings, &mut dirids, line.number)?;
                }
            }
        }
        Ok(Inf { sections, dirids })
    }

    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    fn expect_section(&self, name: &str) -> &Section {
        self.section(name).unwrap_or_else(|| panic!("the INX has no [{name}] section"))
    }

    /// The registry lines of every section named by `AddReg = a[, b...]` lines in `install`.
    fn add_reg(&self, install: &Section) -> Vec<RegLine> {
        let mut lines = Vec::new();
        for directive in install.keyed("AddReg") {
            for name in directive.fields.iter().filter(|f| !f.is_empty()) {
                let section = self.expect_section(name);
                lines.extend(section.lines.iter().map(|line| RegLine::from_line(&section.name, line)));
            }
        }
        lines
    }

    /// The names of all sections referenced by an `AddReg` directive anywhere.
    fn add_reg_sections(&self) -> BTreeSet<String> {
        self.sections
            .iter()
            .flat_map(|s| s.keyed("AddReg"))
            .flat_map(|line| line.fields.iter())
            .filter(|f| !f.is_empty())
            .map(|f| f.to_ascii_lowercase())
            .collect()
    }
}

/// `reg-root, [subkey], [value-name], [flags], [value]`.
#[derive(Debug)]
struct RegLine {
    section: String,
    number: usize,
    root: String,
    subkey: String,
    name: String,
    flags: u32,
    value: String,
}

impl RegLine {
    fn from_line(section: &str, line: &InfLine) -> RegLine {
        assert!(line.key.is_none(), "[{section}] line {}: a registry line has no `=`", line.number);
        let flags = line.field(3);
        RegLine {
            section: section.to_string(),
            number: line.number,
            root: line.field(0).to_string(),
            subkey: line.field(1).to_string(),
            name: line.field(2).to_string(),
            flags: if flags.is_empty() { 0 } else { parse_number(flags) },
            value: line.field(4).to_string(),
        }
    }

    fn at(&self) -> String {
        format!("[{}] line {}", self.section, self.number)
    }
}

/// An INF number: `0x` hexadecimal or decimal.
fn parse_number(text: &str) -> u32 {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    }
    .unwrap_or_else(|e| panic!("not an INF number: {text:?} ({e})"))
}

// AddReg flags (setupapi.h).
const FLG_ADDREG_NOCLOBBER: u32 = 0x0000_0002;
const FLG_ADDREG_TYPE_MASK: u32 = 0xFFFF_0001;
const FLG_ADDREG_TYPE_SZ: u32 = 0x0000_0000;
const FLG_ADDREG_TYPE_EXPAND_SZ: u32 = 0x0002_0000;
const FLG_ADDREG_TYPE_DWORD: u32 = 0x0001_0001;
// AddService flags.
const SPSVCINST_ASSOCSERVICE: u32 = 0x0000_0002;

// ---------------------------------------------------------------------------------------------
// The package's files

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn inx_text() -> String {
    let path = workspace_root().join("inf").join("logbridge.inx");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn inx() -> Inf {
    Inf::parse(&inx_text()).unwrap_or_else(|e| panic!("inf/logbridge.inx: {e}"))
}

/// The `[<Models>.<decoration>]` sections named by `[Manufacturer]`.
fn models_sections(inf: &Inf) -> Vec<&Section> {
    let manufacturer = inf.expect_section("Manufacturer");
    assert_eq!(manufacturer.lines.len(), 1, "one manufacturer");
    let line = &manufacturer.lines[0];
    let models = line.field(0);
    assert!(!models.is_empty(), "the manufacturer names a models section");
    let decorations = &line.fields[1..];
    assert!(!decorations.is_empty(), "the models section is decorated (NT$ARCH$.10.0...<build>)");
    decorations.iter().map(|decoration| inf.expect_section(&format!("{models}.{decoration}"))).collect()
}

/// The one device of the models section: (description, install section, hardware ID).
fn the_device(inf: &Inf) -> (String, String, String) {
    let sections = models_sections(inf);
    let lines: Vec<&InfLine> = sections.iter().flat_map(|s| s.lines.iter()).collect();
    assert_eq!(lines.len(), 1, "exactly one device in the models section: {lines:?}");
    let line = lines[0];
    assert_eq!(line.fields.len(), 2, "`description = install-section, hardware-id` (no compatible IDs): {line:?}");
    (line.key.clone().unwrap_or_default(), line.field(0).to_string(), line.field(1).to_string())
}

fn device_section<'a>(inf: &'a Inf, suffix: &str) -> &'a Section {
    let (_, install, _) = the_device(inf);
    inf.expect_section(&format!("{install}{suffix}"))
}

/// `AddService = name, flags, service-section[, event-log-section[, log[, source]]]`, with the
/// documented defaults filled in (log: System; source: the service name).
struct AddService {
    name: String,
    flags: u32,
    service_section: String,
    event_log_section: String,
    log: String,
    source: String,
}

fn add_service(inf: &Inf) -> AddService {
    let services = device_section(inf, ".NT.Services");
    let fields = services.single("AddService");
    let field = |i: usize| fields.get(i).cloned().unwrap_or_default();
    let name = field(0);
    let or_default = |value: String, default: &str| if value.is_empty() { default.to_string() } else { value };
    AddService {
        flags: parse_number(&field(1)),
        service_section: field(2),
        event_log_section: field(3),
        log: or_default(field(4), "System"),
        source: or_default(field(5), &name),
        name,
    }
}

fn driver_stem() -> &'static str {
    identity::DRIVER_BINARY.strip_suffix(".sys").expect("DRIVER_BINARY ends in .sys")
}

// ---------------------------------------------------------------------------------------------
// The reader itself

#[test]
fn reader_handles_quotes_comments_escapes_and_crlf() {
    let text = "; leading comment\r\n\
                \r\n\
                [Version] ; comment after a header\r\n\
                Signature = \"$WINDOWS NT$\" ; comment after a value\r\n\
                Empty =\r\n\
                [strings]\r\n\
                Name = \"Quoted ; not a comment, with comma\"\r\n\
                Spaced = \"  kept  \"\r\n\
                [Other]\n\
                HKR,,Value,0x00020000,\"a,b;c \"\"q\"\" %%X%% %13%\\y %NAME%\"\r\n\
                key = a, \"b, c\" , d = e ; c\r\n\
                HKR,,Sddl,,\"D:P(A;;GA;;;SY)\"\r\n\
                bare\r\n\
                %name% = x\r\n\
                [OTHER]\r\n\
                merged = %spaced%,%1%\r\n";
    let inf = Inf::parse(text).unwrap();
    let version = inf.section("VERSION").unwrap();
    assert_eq!(version.single("signature"), ["$WINDOWS NT$"]);
    assert_eq!(version.single("Empty"), [""]);
    let other = inf.section("other").unwrap();
    assert_eq!(other.name, "Other", "the first spelling names the merged section");
    let bare = other.bare();
    assert_eq!(bare.len(), 3);
    assert_eq!(
        bare[0].fields,
        ["HKR", "", "Value", "0x00020000", "a,b;c \"q\" %X% %13%\\y Quoted ; not a comment, with comma"]
    );
    assert_eq!(bare[0].number, 10);
    assert_eq!(bare[1].fields, ["HKR", "", "Sddl", "", "D:P(A;;GA;;;SY)"]);
    assert_eq!(bare[2].fields, ["bare"]);
    assert_eq!(other.single("KEY"), ["a", "b, c", "d = e"], "only the first unquoted `=` before a comma splits");
    assert_eq!(other.single("Quoted ; not a comment, with comma"), ["x"], "keys are expanded too");
    assert_eq!(other.single("merged"), ["  kept  ", "%1%"], "quoted whitespace is kept");
    assert_eq!(inf.dirids, BTreeSet::from([1, 13]));
    // [Strings] values are not expanded.
    assert_eq!(inf.section("Strings").unwrap().single("Spaced"), ["  kept  "]);
    // A byte-order mark and LF-only files are fine.
    assert!(Inf::parse("\u{feff}[A]\nx = 1\n").unwrap().section("a").is_some());
}

#[test]
fn reader_rejects_what_it_does_not_understand() {
    for (text, why) in [
        ("[A\r\nx = 1\r\n", "unterminated section header"),
        ("[A] junk\r\n", "text after the section header"),
        ("[]\r\n", "empty section name"),
        ("x = 1\r\n[A]\r\n", "content before the first section"),
        ("[A]\r\nx = \"open\r\n", "unterminated quoted string"),
        ("[A]\r\nx = %Undefined%\r\n", "is not defined in [Strings]"),
        ("[A]\r\nx = 50%\r\n", "unterminated `%` token"),
        ("[A]\r\nx = a, \\\r\n  b\r\n", "line continuation"),
        ("[Strings]\r\nbare\r\n", "[Strings] line without `=`"),
    ] {
        let error = Inf::parse(text).expect_err(text);
        assert!(error.contains(why), "{text:?}: expected an error containing {why:?}, got {error:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The INX against identity.rs and Parameter

#[test]
fn the_inx_is_ascii_with_crlf_line_endings() {
    let text = inx_text();
    assert!(text.is_ascii(), "keep the INX ASCII (no code page surprises for stampinf and SetupAPI)");
    for (index, line) in text.split_inclusive('\n').enumerate() {
        assert!(
            line.ends_with("\r\n"),
            "line {} does not end in CRLF (.gitattributes: *.inx text eol=crlf)",
            index + 1
        );
    }
}

#[test]
fn version_section_is_a_signed_pnp_locked_package() {
    let inf = inx();
    let version = inf.expect_section("Version");
    assert_eq!(version.single("Signature"), ["$WINDOWS NT$"]);
    assert!(!version.single("Provider")[0].is_empty(), "Provider names a string");
    assert_eq!(version.single("PnpLockdown"), ["1"]);
    // stampinf writes DriverVer (-d * -v *); the INX leaves it empty or out.
    for line in version.keyed("DriverVer") {
        assert_eq!(line.fields, [""], "DriverVer is stamped, not written by hand");
    }
}

#[test]
fn service_name_is_the_same_in_add_service_kmdf_service_and_event_source() {
    let inf = inx();
    let AddService { name, flags, event_log_section: event_section, log, source, .. } = add_service(&inf);
    assert_eq!(name, identity::SERVICE_NAME, "AddService service name");
    assert_eq!(flags & SPSVCINST_ASSOCSERVICE, SPSVCINST_ASSOCSERVICE, "the service is the function driver");
    assert!(log.eq_ignore_ascii_case("System"), "the source is registered under the System log, not {log:?}");
    assert_eq!(source, identity::SERVICE_NAME, "the event source (EventName) is the service name");
    assert!(
        event_section.to_ascii_lowercase().starts_with(&identity::SERVICE_NAME.to_ascii_lowercase()),
        "the event-log install section {event_section:?} is named after the service"
    );
    inf.expect_section(&event_section);
    let kmdf = device_section(&inf, ".NT.Wdf").single("KmdfService");
    assert_eq!(kmdf[0], identity::SERVICE_NAME, "KmdfService names the same service");
}

#[test]
fn service_install_section_is_a_demand_start_kernel_driver_from_dirid_13() {
    let inf = inx();
    let service = inf.expect_section(&add_service(&inf).service_section);
    assert_eq!(service.single("ServiceType"), ["1"], "SERVICE_KERNEL_DRIVER");
    assert_eq!(service.single("StartType"), ["3"], "SERVICE_DEMAND_START");
    assert_eq!(service.single("ErrorControl"), ["1"], "SERVICE_ERROR_NORMAL");
    assert!(!service.single("DisplayName")[0].is_empty());
    assert_eq!(service.single("ServiceBinary"), [format!("%13%\\{}", identity::DRIVER_BINARY)]);
}

#[test]
fn source_files_copy_files_and_catalog_name_the_driver_binary() {
    let inf = inx();
    let files = inf.expect_section("SourceDisksFiles");
    let names: Vec<&str> = files.lines.iter().filter_map(|l| l.key.as_deref()).collect();
    assert_eq!(names, [identity::DRIVER_BINARY], "SourceDisksFiles lists the driver and nothing else");
    let disk = files.lines[0].field(0);
    assert!(
        inf.expect_section("SourceDisksNames").keyed(disk).len() == 1,
        "the driver's disk {disk:?} is in SourceDisksNames"
    );

    let copy_files = device_section(&inf, ".NT").single("CopyFiles");
    let mut copied = Vec::new();
    for name in copy_files {
        if let Some(file) = name.strip_prefix('@') {
            copied.push(file.to_string());
        } else {
            copied.extend(inf.expect_section(name).bare().iter().map(|line| line.field(0).to_string()));
        }
    }
    assert_eq!(copied, [identity::DRIVER_BINARY], "CopyFiles copies the driver");

    assert_eq!(inf.expect_section("Version").single("CatalogFile"), [format!("{}.cat", driver_stem())]);
    assert_eq!(identity::INF_NAME, format!("{}.inf", driver_stem()), "the INX stamps into INF_NAME");
}

#[test]
fn models_section_maps_exactly_one_device_to_the_root_hardware_id() {
    let inf = inx();
    let manufacturer = &inf.expect_section("Manufacturer").lines[0];
    for decoration in &manufacturer.fields[1..] {
        let build = decoration
            .strip_prefix("NT$ARCH$.10.0...")
            .unwrap_or_else(|| panic!("decoration {decoration:?} is NT$ARCH$.10.0...<build>"));
        assert!(parse_number(build) >= 16299, "%13% (run from the Driver Store) needs build 16299");
    }
    let (description, install, hardware_id) = the_device(&inf);
    assert!(!description.is_empty(), "the device has a description");
    // PnP compares hardware IDs case-insensitively.
    assert!(
        hardware_id.eq_ignore_ascii_case(identity::HARDWARE_ID),
        "hardware ID {hardware_id:?} is identity::HARDWARE_ID {:?}",
        identity::HARDWARE_ID
    );
    for suffix in [".NT", ".NT.HW", ".NT.Services", ".NT.Wdf"] {
        assert!(inf.section(&format!("{install}{suffix}")).is_some(), "[{install}{suffix}] exists");
    }
}

#[test]
fn class_is_system_with_its_guid_not_sample() {
    let inf = inx();
    let version = inf.expect_section("Version");
    let class = &version.single("Class")[0];
    assert_eq!(class, identity::DEVICE_CLASS);
    assert!(!class.eq_ignore_ascii_case("Sample"), "Sample is for Microsoft's samples only");
    let guid = Guid::parse(&version.single("ClassGuid")[0]).expect("ClassGuid is a GUID");
    assert_eq!(guid, identity::DEVICE_CLASS_GUID);
    assert!(version.single("ClassGuid")[0].starts_with('{'), "ClassGuid is written in braces");
}

#[test]
fn package_is_isolated_pnp_lockdown_dirid_13_and_no_hklm() {
    let inf = inx();
    assert_eq!(inf.expect_section("Version").single("PnpLockdown"), ["1"]);
    let dirs = inf.expect_section("DestinationDirs");
    assert_eq!(dirs.single("DefaultDestDir"), ["13"]);
    for line in &dirs.lines {
        assert_eq!(line.field(0), "13", "line {}: every destination is DIRID 13 (the Driver Store)", line.number);
    }
    assert_eq!(inf.dirids, BTreeSet::from([13]), "no DIRID other than 13 is used");
    for forbidden in ["ClassInstall32", "CoInstallers", "LogConfigOverride", "FactDef"] {
        assert!(
            !inf.sections.iter().any(|s| s.name.to_ascii_lowercase().contains(&forbidden.to_ascii_lowercase())),
            "{forbidden} sections are not valid in a universal INF"
        );
    }
    for forbidden in ["DelReg", "DelFiles", "DelService", "BitReg", "RenFiles", "RegisterDlls", "UpdateInis"] {
        assert!(
            inf.sections.iter().all(|s| s.keyed(forbidden).is_empty()),
            "{forbidden} is not valid in a universal INF"
        );
    }
    let add_reg = inf.add_reg_sections();
    assert!(!add_reg.is_empty());
    for section in inf.sections.iter().filter(|s| add_reg.contains(&s.name.to_ascii_lowercase())) {
        for line in &section.lines {
            let reg = RegLine::from_line(&section.name, line);
            assert_eq!(reg.root, "HKR", "{}: only HKR is allowed (driver package isolation)", reg.at());
        }
    }
    let hklm = inf.sections.iter().flat_map(|s| &s.lines).flat_map(|l| &l.fields).any(|f| {
        let f = f.to_ascii_uppercase();
        f == "HKLM" || f == "HKEY_LOCAL_MACHINE"
    });
    assert!(!hklm, "no HKLM anywhere");
}

#[test]
fn event_log_source_registers_iologmsg_and_the_driver_with_all_types() {
    let inf = inx();
    let lines = inf.add_reg(inf.expect_section(&add_service(&inf).event_log_section));
    for line in &lines {
        assert!(line.root == "HKR" && line.subkey.is_empty(), "{}: HKR is the event source's own key", line.at());
    }
    let message_file: Vec<&RegLine> =
        lines.iter().filter(|l| l.name.eq_ignore_ascii_case("EventMessageFile")).collect();
    assert_eq!(message_file.len(), 1, "one EventMessageFile");
    assert_eq!(message_file[0].flags, FLG_ADDREG_TYPE_EXPAND_SZ, "REG_EXPAND_SZ (0x00020000)");
    // After the reader's %% handling; %13% stays for SetupAPI to resolve to the Driver Store path.
    let expected = format!("%SystemRoot%\\System32\\IoLogMsg.dll;%13%\\{}", identity::DRIVER_BINARY);
    assert_eq!(message_file[0].value, expected);

    let types: Vec<&RegLine> = lines.iter().filter(|l| l.name.eq_ignore_ascii_case("TypesSupported")).collect();
    assert_eq!(types.len(), 1, "one TypesSupported");
    assert_eq!(types[0].flags & FLG_ADDREG_TYPE_MASK, FLG_ADDREG_TYPE_DWORD, "REG_DWORD");
    assert_eq!(parse_number(&types[0].value), identity::EVENT_TYPES_SUPPORTED);
    assert_eq!(lines.len(), 2, "the event source sets only EventMessageFile and TypesSupported");
}

#[test]
fn parameter_defaults_match_the_parameter_table_and_survive_reinstall() {
    let inf = inx();
    let lines: Vec<RegLine> = inf
        .add_reg(inf.expect_section(&add_service(&inf).service_section))
        .into_iter()
        .filter(|l| l.root == "HKR" && l.subkey.eq_ignore_ascii_case("Parameters"))
        .collect();
    for line in &lines {
        assert!(
            Parameter::ALL.iter().any(|p| p.name() == line.name),
            "{}: unknown parameter {:?} (not in Parameter::ALL)",
            line.at(),
            line.name
        );
    }
    assert_eq!(lines.len(), Parameter::ALL.len(), "one line per parameter");
    for parameter in Parameter::ALL {
        let found: Vec<&RegLine> = lines.iter().filter(|l| l.name == parameter.name()).collect();
        assert_eq!(found.len(), 1, "exactly one default for {}", parameter.name());
        let line = found[0];
        assert_eq!(line.flags & FLG_ADDREG_TYPE_MASK, FLG_ADDREG_TYPE_DWORD, "{}: REG_DWORD", line.at());
        assert_eq!(
            line.flags & FLG_ADDREG_NOCLOBBER,
            FLG_ADDREG_NOCLOBBER,
            "{}: NOCLOBBER keeps admin values",
            line.at()
        );
        let value = parse_number(&line.value);
        assert_eq!(value, parameter.default_value(), "{}: default of {}", line.at(), parameter.name());
        let (low, high) = parameter.range();
        assert!((low..=high).contains(&value), "{}: default {value} outside {low}..={high}", line.at());
    }
}

#[test]
fn device_node_security_and_secure_open_match_identity() {
    let inf = inx();
    let lines = inf.add_reg(device_section(&inf, ".NT.HW"));
    let find = |name: &str| {
        let found: Vec<&RegLine> = lines.iter().filter(|l| l.name.eq_ignore_ascii_case(name)).collect();
        assert_eq!(found.len(), 1, "exactly one {name} in the .NT.HW AddReg");
        assert!(found[0].root == "HKR" && found[0].subkey.is_empty(), "{}: HKR,,{name}", found[0].at());
        found[0]
    };
    let security = find("Security");
    assert_eq!(security.flags & FLG_ADDREG_TYPE_MASK, FLG_ADDREG_TYPE_SZ, "Security is a REG_SZ SDDL string");
    assert_eq!(security.value, identity::DEVICE_SDDL);
    let characteristics = find("DeviceCharacteristics");
    assert_eq!(characteristics.flags & FLG_ADDREG_TYPE_MASK, FLG_ADDREG_TYPE_DWORD, "REG_DWORD");
    assert_eq!(parse_number(&characteristics.value), identity::FILE_DEVICE_SECURE_OPEN);
}

#[test]
fn wdf_section_leaves_the_kmdf_version_to_stampinf() {
    let inf = inx();
    let kmdf = device_section(&inf, ".NT.Wdf").single("KmdfService");
    assert_eq!(kmdf.len(), 2, "KmdfService = service, wdf-section");
    let wdf = inf.expect_section(&kmdf[1]);
    assert_eq!(wdf.single("KmdfLibraryVersion"), ["$KMDFVERSION$"], "stampinf -k <major>.<minor> fills it");

    // The version stampinf gets comes from Cargo.toml's [package.metadata.wdk.driver-model].
    let model = driver_model();
    assert_eq!(model.get("driver-type").map(String::as_str), Some("KMDF"));
    assert_eq!(model.get("kmdf-version-major").map(String::as_str), Some("1"));
    let minor = kmdf_minor(&model);
    assert!(
        first_build_with_kmdf(minor).is_some(),
        "target-kmdf-version-minor = {minor}: not a KMDF 1.x release this test knows (see KMDF_RELEASES)"
    );
}

// ---------------------------------------------------------------------------------------------
// OS targeting: the models decoration against the KMDF version and the kernel routines

/// KMDF 1.x releases: (minor, first Windows build that ships it, that Windows), from Microsoft's
/// "KMDF version history". A driver built for 1.N loads only where KMDF 1.N or later is in the box.
const KMDF_RELEASES: [(u32, u32, &str); 10] = [
    (15, 10240, "Windows 10 1507"),
    (17, 10586, "Windows 10 1511"),
    (19, 14393, "Windows 10 1607 / Server 2016"),
    (21, 15063, "Windows 10 1703"),
    (23, 16299, "Windows 10 1709"),
    (25, 17134, "Windows 10 1803"),
    (27, 17763, "Windows 10 1809 / Server 2019"),
    (29, 18362, "Windows 10 1903"),
    (31, 19041, "Windows 10 2004"),
    // Windows 11 21H2 is 22000; Server 2022 (20348) ships 1.33 too and is the older of the two.
    (33, 20348, "Windows Server 2022 / Windows 11 21H2"),
];

/// The driver imports `ExAllocatePool2`, which exists from Windows 10 2004 (build 19041) on: no
/// older Windows can load the image, whatever its KMDF version.
const EX_ALLOCATE_POOL2_BUILD: u32 = 19041;

/// The first Windows build that ships KMDF 1.`minor`.
fn first_build_with_kmdf(minor: u32) -> Option<(u32, &'static str)> {
    KMDF_RELEASES.iter().find(|(m, _, _)| *m == minor).map(|&(_, build, name)| (build, name))
}

/// `[package.metadata.wdk.driver-model]` of the root Cargo.toml, key → value (quotes removed).
fn driver_model() -> BTreeMap<String, String> {
    let manifest = fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let mut in_model = false;
    let mut model = BTreeMap::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_model = line == "[package.metadata.wdk.driver-model]";
        } else if in_model && let Some((key, value)) = line.split_once('=') {
            model.insert(key.trim().to_string(), value.trim().trim_matches('"').to_string());
        }
    }
    model
}

fn kmdf_minor(model: &BTreeMap<String, String>) -> u32 {
    let minor = model.get("target-kmdf-version-minor").expect("target-kmdf-version-minor in Cargo.toml");
    minor.parse().unwrap_or_else(|e| panic!("target-kmdf-version-minor = {minor:?}: {e}"))
}

/// The Windows build of every models decoration (`NT$ARCH$.10.0...<build>`).
fn decoration_builds(inf: &Inf) -> Vec<u32> {
    let manufacturer = &inf.expect_section("Manufacturer").lines[0];
    manufacturer.fields[1..]
        .iter()
        .map(|decoration| {
            let build = decoration
                .strip_prefix("NT$ARCH$.10.0...")
                .unwrap_or_else(|| panic!("decoration {decoration:?} is NT$ARCH$.10.0...<build>"));
            parse_number(build)
        })
        .collect()
}

/// Why a decoration of `build` is too old for a driver built for KMDF 1.`minor`, if it is.
fn decoration_problem(build: u32, minor: u32) -> Option<String> {
    let Some((kmdf_build, windows)) = first_build_with_kmdf(minor) else {
        return Some(format!("KMDF 1.{minor} is not a release this test knows"));
    };
    if build < kmdf_build {
        return Some(format!(
            "NT$ARCH$.10.0...{build} lets the package install on builds without KMDF 1.{minor}, \
             which ships with {windows} (build {kmdf_build}): decorate with ...{kmdf_build} or later"
        ));
    }
    if build < EX_ALLOCATE_POOL2_BUILD {
        return Some(format!(
            "NT$ARCH$.10.0...{build} lets the package install on builds without ExAllocatePool2, which \
             the driver imports (Windows 10 2004, build {EX_ALLOCATE_POOL2_BUILD}): the driver would not load"
        ));
    }
    None
}

#[test]
fn decoration_rule_refuses_what_cannot_load() {
    // The previous pairing: KMDF 1.33 with ...16299 installed on every Windows 10 and failed to load.
    assert!(decoration_problem(16299, 33).unwrap().contains("KMDF 1.33"));
    assert!(decoration_problem(19041, 33).unwrap().contains("20348"));
    assert_eq!(decoration_problem(20348, 33), None);
    assert_eq!(decoration_problem(22000, 33), None);
    // KMDF 1.29 (1903) would fit ...18362, but ExAllocatePool2 needs 2004.
    assert!(decoration_problem(18362, 29).unwrap().contains("ExAllocatePool2"));
    assert_eq!(decoration_problem(19041, 29), None);
    assert!(decoration_problem(17763, 31).unwrap().contains("KMDF 1.31"));
    assert_eq!(decoration_problem(19041, 31), None);
    assert!(decoration_problem(30000, 35).is_some(), "an unknown KMDF version is refused");
}

#[test]
fn models_decoration_admits_only_windows_that_can_load_the_driver() {
    let inf = inx();
    let minor = kmdf_minor(&driver_model());
    let builds = decoration_builds(&inf);
    assert!(!builds.is_empty());
    for build in builds {
        if let Some(problem) = decoration_problem(build, minor) {
            panic!("inf/logbridge.inx with target-kmdf-version-minor = {minor}: {problem}");
        }
    }
    // The kernel routine that sets the floor is still imported; if it goes, revisit the floor.
    let pool = fs::read_to_string(workspace_root().join("src/wrappers/pool.rs")).unwrap();
    assert!(pool.contains("ExAllocatePool2"), "src/wrappers/pool.rs no longer uses ExAllocatePool2");
}

// ---------------------------------------------------------------------------------------------
// Makefile.toml: the cargo-make flow

/// The tables of `Makefile.toml`: `[table]` → key → raw value text, for one-line values;
/// multi-line `'''` strings are skipped. Enough for the keys checked here.
fn toml_tables(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut tables: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    let mut in_multiline = false;
    for line in text.lines() {
        if in_multiline {
            in_multiline = !line.contains("'''");
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            current = header.trim_end_matches(']').trim().to_string();
            tables.entry(current.clone()).or_default();
            continue;
        }
        let (key, value) = trimmed.split_once('=').unwrap_or_else(|| panic!("not `key = value`: {line:?}"));
        let value = value.trim();
        if value.starts_with("'''") && value.matches("'''").count() == 1 {
            in_multiline = true;
        }
        tables.entry(current.clone()).or_default().insert(key.trim().to_string(), value.to_string());
    }
    tables
}

fn makefile_text() -> String {
    fs::read_to_string(workspace_root().join("Makefile.toml")).unwrap()
}

/// The quoted strings of a one-line TOML array (or the one quoted string of a scalar).
fn toml_strings(value: &str) -> Vec<String> {
    value.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn cargo_make_runs_once_at_the_root_not_in_every_member() {
    // cargo-make's default (default_to_workspace = true) runs the flow in every workspace member
    // and in the root as member `.`: wdk-build's tasks would then run in each host crate too.
    let makefile = toml_tables(&makefile_text());
    let config = &makefile["config"];
    assert_eq!(
        config.get("default_to_workspace").map(String::as_str),
        Some("false"),
        "Makefile.toml [config] must set default_to_workspace = false"
    );
    assert!(config.contains_key("load_script"));
    assert_eq!(makefile[""].get("extend").map(String::as_str), Some("\"target/rust-driver-makefile.toml\""));
    // The INX the flow copies is where the override says.
    assert!(makefile_text().contains("${CARGO_MAKE_WORKING_DIRECTORY}/inf/logbridge.inx"));
    assert!(workspace_root().join("inf/logbridge.inx").is_file());
}

#[test]
fn cargo_make_puts_logbridge_ctl_into_the_package_after_the_driver_flow() {
    let text = makefile_text();
    let makefile = toml_tables(&text);
    // `cargo make` (= `default`) runs a task that depends on the driver flow, then the app copy.
    let default = &makefile["tasks.default"];
    assert_eq!(default.get("clear").map(String::as_str), Some("true"), "replaces wdk-build's alias");
    let alias = toml_strings(default.get("alias").expect("tasks.default is an alias"));
    let flow = &makefile[&format!("tasks.{}", alias[0])];
    let steps = toml_strings(flow.get("dependencies").expect("the default flow has dependencies"));
    assert_eq!(steps.first().map(String::as_str), Some("package-driver-flow"), "{steps:?}");

    // The copy runs after the package exists and after the app is built.
    let copy_name = steps.iter().find(|s| s.contains("logbridge-ctl")).expect("a step puts logbridge-ctl in");
    let copy = &makefile[&format!("tasks.{copy_name}")];
    let after = toml_strings(copy.get("dependencies").expect("the copy has dependencies"));
    assert!(after.contains(&"package-driver-flow".to_string()), "{after:?}");
    let build_name = after.iter().find(|s| s.starts_with("build-")).expect("the copy depends on a build");
    let build = &makefile[&format!("tasks.{build_name}")];
    assert_eq!(build.get("command").map(String::as_str), Some("\"cargo\""));
    let args = toml_strings(build.get("args").expect("build args"));
    assert!(args.windows(2).any(|w| w == ["--package", "logbridge-ctl"]), "{args:?}");
    // The flags wdk-build forwards carry the profile (--release / --profile) and --locked.
    assert!(args.iter().any(|a| a.contains("CARGO_MAKE_CARGO_BUILD_TEST_FLAGS")), "{args:?}");

    // The script copies the exe from the profile's output directory into <crate>_package, and a
    // failed copy fails the flow.
    let script = text.split(&format!("[tasks.{copy_name}]")).nth(1).unwrap().split("\n[").next().unwrap();
    assert!(
        script.contains(
            "cp ${WDK_BUILD_OUTPUT_DIRECTORY}/logbridge-ctl.exe \
             ${WDK_BUILD_OUTPUT_DIRECTORY}/${CARGO_MAKE_CRATE_FS_NAME}_package/logbridge-ctl.exe"
        ),
        "{script}"
    );
    assert!(script.contains("assert ${copied}"), "{script}");
}
