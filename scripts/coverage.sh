#!/usr/bin/env bash
# Coverage of the driver's own code (`src/`) by the tests that run it on the KMDF model
# (issue "The driver's own code runs on Linux", section 4).
#
# Builds the root package's driver tests (tests/kmdf_*.rs and tests/bad_input.rs, those that exist)
# with `-C instrument-coverage`, runs them, merges the profiles with llvm-profdata, exports them
# with llvm-cov and then:
#   * prints the line coverage of src/, in total and per file;
#   * lists every function defined in src/ that no test executed (closures included; a generic
#     function counts as executed if any of its instances ran), and fails if there is one that
#     scripts/coverage-allow.txt does not name (a line: a substring of the function's demangled
#     path, ` # `, the reason it cannot run on the host).
#
# The LLVM tools must match the LLVM that rustc was built with (the .profraw format changes with
# LLVM's major version): LLVM_PROFDATA and LLVM_COV if set, else the toolchain's own
# (`rustup component add llvm-tools`), else /usr/lib/llvm-<major>/bin, else llvm-profdata-<major>
# / llvm-profdata on PATH, whichever reports rustc's LLVM major version.
#
# Environment: LOGBRIDGE_COVERAGE_TARGET_DIR (default: ${CARGO_TARGET_DIR:-target}/coverage, a
# target directory of its own, since the instrumented build must not replace the normal one);
# LOGBRIDGE_COVERAGE_JSON=FILE keeps the llvm-cov export.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

rustc_bin="${RUSTC:-rustc}"
rustc_llvm="$("$rustc_bin" -vV | sed -n 's/^LLVM version: //p')"
rustc_major="${rustc_llvm%%.*}"
if [ -z "$rustc_major" ]; then
    echo "coverage: cannot tell which LLVM $rustc_bin was built with (no 'LLVM version' in rustc -vV)" >&2
    exit 1
fi

# The major version an LLVM tool reports, or nothing if it does not run.
# (llvm-profdata before LLVM 15 knows --version only after a subcommand.)
tool_major() {
    { "$1" --version 2>/dev/null || "$1" merge --version 2>/dev/null || true; } |
        sed -n 's/.*LLVM version \([0-9][0-9]*\).*/\1/p' | head -n 1
}

profdata=""
cov=""
tried=()
consider() { # consider PROFDATA COV
    [ -n "$profdata" ] && return 0
    [ -x "$1" ] && [ -x "$2" ] || return 0
    local p c
    p="$(tool_major "$1")"
    c="$(tool_major "$2")"
    tried+=("$1 (LLVM ${p:-?}), $2 (LLVM ${c:-?})")
    if [ "$p" = "$rustc_major" ] && [ "$c" = "$rustc_major" ]; then
        profdata="$1"
        cov="$2"
    fi
}
if [ -n "${LLVM_PROFDATA:-}${LLVM_COV:-}" ]; then
    # An explicit choice is the only one considered.
    consider "$(command -v "${LLVM_PROFDATA:-llvm-profdata}" || true)" "$(command -v "${LLVM_COV:-llvm-cov}" || true)"
    [ ${#tried[@]} -gt 0 ] || tried+=("LLVM_PROFDATA=${LLVM_PROFDATA:-} LLVM_COV=${LLVM_COV:-} (not found)")
else
    sysroot_bin="$("$rustc_bin" --print sysroot)/lib/rustlib/$("$rustc_bin" -vV | sed -n 's/^host: //p')/bin"
    consider "$sysroot_bin/llvm-profdata" "$sysroot_bin/llvm-cov"
    consider "/usr/lib/llvm-$rustc_major/bin/llvm-profdata" "/usr/lib/llvm-$rustc_major/bin/llvm-cov"
    consider "$(command -v "llvm-profdata-$rustc_major" || true)" "$(command -v "llvm-cov-$rustc_major" || true)"
    consider "$(command -v llvm-profdata || true)" "$(command -v llvm-cov || true)"
fi
if [ -z "$profdata" ]; then
    {
        echo "coverage: no llvm-profdata/llvm-cov of LLVM $rustc_major (rustc is built with LLVM $rustc_llvm);"
        echo "the profile format is specific to LLVM's version, so a mismatched pair cannot read it."
        if [ ${#tried[@]} -gt 0 ]; then
            printf '  tried: %s\n' "${tried[@]}"
        fi
        echo "Install the toolchain's own: rustup component add llvm-tools"
        echo "(or Debian's llvm-$rustc_major), or set LLVM_PROFDATA and LLVM_COV."
    } >&2
    exit 1
fi
echo "== coverage: rustc $("$rustc_bin" -V | cut -d' ' -f2) (LLVM $rustc_llvm); $profdata, $cov"

# The driver tests that exist (kmdf_faults and bad_input may not yet).
tests=()
names=()
for file in tests/kmdf_*.rs tests/bad_input.rs; do
    [ -e "$file" ] || continue
    names+=("$(basename "$file" .rs)")
    tests+=(--test "$(basename "$file" .rs)")
done
if [ ${#names[@]} -eq 0 ]; then
    echo "coverage: no driver test under tests/ (kmdf_*.rs, bad_input.rs)" >&2
    exit 1
fi

target_dir="${LOGBRIDGE_COVERAGE_TARGET_DIR:-${CARGO_TARGET_DIR:-target}/coverage}"
work="$(mktemp -d "${TMPDIR:-/tmp}/logbridge-coverage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/profraw"

export CARGO_TARGET_DIR="$target_dir"
# -C instrument-coverage in RUSTFLAGS replaces the config's rustflags, which only Windows targets
# have (.cargo/config.toml): nothing of the host build is lost.
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C instrument-coverage"
export LLVM_PROFILE_FILE="$work/profraw/%p-%m.profraw"
# Reproducible property tests, as scripts/test.sh runs them.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-1105}"

echo "== build (${names[*]}) into $target_dir"
cargo test --locked -p logbridge "${tests[@]}" --no-run --message-format=json-render-diagnostics > "$work/build.json"
mapfile -t binaries < <(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if message.get("reason") == "compiler-artifact" and message.get("executable") and message["target"]["name"] in sys.argv[2:]:
        print(message["executable"])
' "$work/build.json" "${names[@]}")
if [ ${#binaries[@]} -eq 0 ]; then
    echo "coverage: cargo built no test binary" >&2
    exit 1
fi

echo "== run"
# Profiles of the build scripts (instrumented too) are not wanted.
rm -f "$work"/profraw/*
if ! cargo test --locked -p logbridge "${tests[@]}" -q; then
    echo "coverage: the tests failed; no coverage figure" >&2
    exit 1
fi

echo "== merge and export"
"$profdata" merge -sparse "$work"/profraw/*.profraw -o "$work/merged.profdata"
objects=()
for binary in "${binaries[@]}"; do
    objects+=(-object "$binary")
done
"$cov" export -format=text -instr-profile="$work/merged.profdata" "${objects[@]}" > "$work/export.json"
if [ -n "${LOGBRIDGE_COVERAGE_JSON:-}" ]; then
    cp "$work/export.json" "$LOGBRIDGE_COVERAGE_JSON"
fi

demangler=""
for candidate in rustfilt "$(dirname "$cov")/llvm-cxxfilt" llvm-cxxfilt c++filt; do
    if command -v "$candidate" > /dev/null 2>&1; then
        demangler="$(command -v "$candidate")"
        break
    fi
done

python3 - "$work/export.json" "$root" scripts/coverage-allow.txt "$demangler" <<'PY'
import functools
import json
import os
import re
import subprocess
import sys

export_path, root, allow_path, demangler = sys.argv[1:5]

with open(export_path) as f:
    data = json.load(f)["data"]


@functools.lru_cache(maxsize=None)
def real(path):
    return os.path.realpath(path)


src = real(os.path.join(root, "src")) + os.sep


def in_src(path):
    return real(path).startswith(src)


def rel(path):
    return os.path.relpath(real(path), real(root))


def line_counts(segments):
    """{line: count} of every line with code, as `llvm-cov show` computes it (LineCoverageStats).
    A segment is [line, column, count, has_count, is_region_entry, is_gap_region]."""
    counts = {}
    wrapped = None
    index = 0
    for line in range(segments[0][0] if segments else 1, segments[-1][0] + 1 if segments else 1):
        starts = []
        while index < len(segments) and segments[index][0] == line:
            starts.append(segments[index])
            index += 1
        entries = [s for s in starts if s[3] and s[4] and not s[5]]
        skipped = bool(starts) and not starts[0][3] and starts[0][4]
        mapped = not skipped and ((wrapped is not None and wrapped[3]) or bool(entries))
        mapped = mapped or any(s[3] and s[4] for s in starts)
        if mapped:
            count = wrapped[2] if wrapped is not None else 0
            for s in entries:
                count = max(count, s[2])
            counts[line] = count
        if starts:
            wrapped = starts[-1]
    return counts


def ranges(lines):
    out = []
    for line in sorted(lines):
        if out and out[-1][1] == line - 1:
            out[-1][1] = line
        else:
            out.append([line, line])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


# Line coverage: llvm-cov's summary of each file (llvm-cov merges the objects' records).
files = {}
uncovered = {}
for export in data:
    for entry in export["files"]:
        if in_src(entry["filename"]):
            lines = entry["summary"]["lines"]
            files[rel(entry["filename"])] = (lines["covered"], lines["count"])
            zero = [line for line, count in line_counts(entry["segments"]).items() if count == 0]
            uncovered[rel(entry["filename"])] = zero

if not files:
    sys.exit("coverage: the export has no file under src/ (was the driver linked into the tests?)")

covered = sum(c for c, _ in files.values())
total = sum(t for _, t in files.values())
print(f"line coverage of src/: {covered}/{total} lines, {100.0 * covered / max(total, 1):.1f}% (llvm-cov's summary)")
for name in sorted(files):
    c, t = files[name]
    missed = f"  not run: {ranges(uncovered[name])}" if uncovered[name] else ""
    print(f"  {name:28} {c:4}/{t:<4} {100.0 * c / max(t, 1):5.1f}%{missed}")

# Functions: one per source span (the instances of a generic function share it). A function is
# executed if any instance's count is non-zero.
spans = {}
for export in data:
    for function in export["functions"]:
        names = [f for f in function["filenames"] if in_src(f)]
        if not names or not function["regions"]:
            continue
        region = function["regions"][0]
        file_id = region[5]
        filename = function["filenames"][file_id]
        if not in_src(filename):
            continue
        key = (rel(filename), region[0], region[1])
        known = spans.setdefault(key, {"count": 0, "names": set()})
        known["count"] = max(known["count"], function["count"])
        known["names"].add(function["name"])


def demangle(names):
    names = list(names)
    if demangler:
        try:
            out = subprocess.run([demangler], input="\n".join(names) + "\n", capture_output=True, text=True,
                                 check=True).stdout.splitlines()
            if len(out) == len(names):
                names = out
        except (OSError, subprocess.CalledProcessError):
            pass
    # Legacy Rust symbols end in a hash (`::h0123456789abcdef`); coverage names of unused
    # functions may carry the file path before a ':' as well.
    return sorted({re.sub(r"::h[0-9a-f]{16}$", "", n.split(":", 1)[1] if re.match(r"^[^:]+\.rs:", n) else n)
                   for n in names})


allow = []
if os.path.exists(allow_path):
    with open(allow_path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            pattern, sep, reason = line.partition(" # ")
            if not sep or not pattern.strip() or not reason.strip():
                sys.exit(f"{allow_path}:{number}: expected `FUNCTION-PATH-SUBSTRING # REASON`")
            allow.append((pattern.strip(), reason.strip()))

never = []
allowed = []
for (filename, line, column), known in sorted(spans.items()):
    if known["count"] > 0:
        continue
    names = demangle(known["names"])
    reasons = [reason for pattern, reason in allow if any(pattern in n for n in names)]
    entry = f"{filename}:{line}:{column} {' | '.join(names)}"
    if reasons:
        allowed.append(f"{entry}  (allowed: {reasons[0]})")
    else:
        never.append(entry)

executed = sum(1 for k in spans.values() if k["count"] > 0)
print(f"functions of src/ (closures included): {executed}/{len(spans)} executed")
for entry in allowed:
    print(f"  never executed, allowed: {entry}")
if never:
    print(f"{len(never)} function(s) of src/ never executed by the tests:")
    for entry in never:
        print(f"  {entry}")
    sys.exit(1)
print("every function of src/ was executed")
PY
