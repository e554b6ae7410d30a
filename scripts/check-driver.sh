#!/usr/bin/env bash
# Type-checks and clippy-lints the KMDF driver source (src/, compiled only for target_os = "windows")
# for x86_64-pc-windows-msvc, with Debian's Rust 1.96, its clippy and its library source (packages
# rustc-web, cargo-web, rust-web-src, rust-web-clippy): rustup's toolchains have no Windows standard
# library here, so `-Zbuild-std` builds core and alloc from source.
#
# The real wdk-sys generates its bindings with bindgen from the WDK headers, and wdk-build does not
# compile on Linux, so tools/driver-check/ compiles src/lib.rs against facades of wdk-sys, wdk,
# wdk-alloc and wdk-panic transcribed from the wdk-sys 0.5.2 API reference. This checks types, not
# links: the Windows build with the real crates stays the authority.
#
# The lints are those the root package gets on Windows: its [lints] (today `workspace = true`, i.e.
# [workspace.lints.rust] and [workspace.lints.clippy] of Cargo.toml), read here at run time, plus
# -D warnings. Any error or warning fails.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/cargo ] || [ ! -d /usr/lib/rustlib/src/rust/library ] \
    || [ ! -x /usr/bin/cargo-clippy ] || [ ! -x /usr/bin/clippy-driver ]; then
    echo "check-driver: Debian's rustc-web, cargo-web, rust-web-src and rust-web-clippy are not installed (see .ci/run)" >&2
    exit 1
fi

# `cargo clippy` runs the first cargo-clippy on PATH: Debian's, whose clippy-driver matches
# /usr/bin/rustc (rustup's would be another compiler version than the one that builds core).
export PATH="/usr/bin:$PATH"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="${CARGO_TARGET_DIR_DRIVER:-target/driver-check}"
rustc_version=$(/usr/bin/rustc --version)
clippy_rustc_version=$(/usr/bin/clippy-driver --rustc --version)
if [ "${rustc_version%% (*}" != "${clippy_rustc_version%% (*}" ]; then
    echo "check-driver: clippy-driver ($clippy_rustc_version) does not match $rustc_version" >&2
    exit 1
fi

# The lint flags, the way cargo turns a [lints] table into rustc flags (ordered by priority;
# `check-cfg` of unexpected_cfgs becomes --check-cfg). Also checks the harness's version fields and
# Cargo.lock against the root package's.
lint_text=$(python3 - <<'EOF'
import sys, tomllib

with open("Cargo.toml", "rb") as f:
    root = tomllib.load(f)
with open("tools/driver-check/Cargo.toml", "rb") as f:
    harness = tomllib.load(f)

REFRESH = ("cp Cargo.lock tools/driver-check/Cargo.lock && "
           "/usr/bin/cargo metadata --format-version 1 --manifest-path tools/driver-check/Cargo.toml > /dev/null")
workspace = root.get("workspace", {})
package = root.get("package", {})

def resolved(key):
    value = package.get(key)
    if isinstance(value, dict) and value.get("workspace") is True:
        return workspace.get("package", {}).get(key)
    return value

for key in ("rust-version", "version", "edition"):
    if resolved(key) != harness["package"].get(key):
        sys.exit(f"check-driver: tools/driver-check/Cargo.toml has {key} = {harness['package'].get(key)!r}, "
                 f"the root package {resolved(key)!r}; make them equal")

# The harness's Cargo.lock must pin the versions of the main Cargo.lock (logbridge-core's deps).
def registry_packages(path):
    with open(path, "rb") as f:
        return {(p["name"], p["version"]) for p in tomllib.load(f).get("package", []) if "source" in p}
stale = sorted(registry_packages("tools/driver-check/Cargo.lock") - registry_packages("Cargo.lock"))
if stale:
    sys.exit("check-driver: tools/driver-check/Cargo.lock pins "
             + ", ".join(f"{name} {version}" for name, version in stale)
             + ", which the main Cargo.lock does not; refresh it: " + REFRESH)

lints = root.get("lints", {})
if lints.get("workspace") is True:
    lints = workspace.get("lints", {})
flag_of = {"forbid": "-F", "deny": "-D", "warn": "-W", "allow": "-A"}
entries, check_cfgs = [], []
for tool, table in lints.items():
    if tool == "workspace":
        continue
    for name, config in table.items():
        if isinstance(config, str):
            config = {"level": config}
        level = config["level"]
        if level not in flag_of:
            sys.exit(f"check-driver: lint level {level!r} of {tool}.{name} has no command-line flag")
        lint = name if tool == "rust" else f"{tool}::{name}"
        entries.append((config.get("priority", 0), lint, flag_of[level]))
        if tool == "rust" and name == "unexpected_cfgs":
            check_cfgs += config.get("check-cfg", [])
for _, lint, flag in sorted(entries):
    print(flag)
    print(lint)
for spec in check_cfgs:
    print("--check-cfg")
    print(spec)
print("-D")
print("warnings")
EOF
)
mapfile -t lint_flags <<< "$lint_text"

printed=""
for ((i = 0; i < ${#lint_flags[@]}; i += 2)); do
    printed+=" ${lint_flags[i]} ${lint_flags[i + 1]}"
done
echo "check-driver: lint flags (from Cargo.toml):$printed"

target=x86_64-pc-windows-msvc
echo "check-driver: src/lib.rs for $target against tools/driver-check/facade (clippy $(/usr/bin/cargo clippy --version | cut -d' ' -f2))"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The driver's files are ../../src/*.rs seen from tools/driver-check; --remap-path-prefix makes the
# diagnostics say src/*.rs, relative to the repository root.
/usr/bin/cargo clippy --locked -Zbuild-std=core,alloc --target "$target" \
    --manifest-path tools/driver-check/Cargo.toml -- "${lint_flags[@]}" --remap-path-prefix=../../= \
    2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    if grep -q 'lock file .* needs to be updated' "$log"; then
        echo "check-driver: tools/driver-check/Cargo.lock is out of date (logbridge-core's dependencies changed?);" \
            "refresh it from the main one: cp Cargo.lock tools/driver-check/Cargo.lock &&" \
            "/usr/bin/cargo metadata --format-version 1 --manifest-path tools/driver-check/Cargo.toml > /dev/null" >&2
    fi
    echo "check-driver: failed" >&2
    exit "$status"
fi
# -D warnings covers the driver crate; a warning anywhere else (cargo, logbridge-core, a facade)
# fails too.
if grep -q '^warning' "$log"; then
    echo "check-driver: failed (warnings above)" >&2
    exit 1
fi
echo "check-driver: ok"
