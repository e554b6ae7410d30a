#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (logbridge-core's decoders, size planner and ring log, and
# the CRC-32C engines) for a fixed number of executions each, and reports what each run did.
#
#   scripts/fuzz.sh [smoke|long] [TARGET...]
#
#   smoke     20000 executions per target (the default): about 20 s for all six targets, plus
#             about 90 s for a first build on a 2-core machine
#   long      5000000 executions per target
#   FUZZ_RUNS=N overrides the execution count of either mode.
#   TARGET    packet_decoders, wnode_decoder, ring_stream_decoder, size_planner, ring_ops,
#             crc32c_engines (all of them by default).
#
# Installs nothing: it needs the nightly toolchain and cargo-fuzz (`cargo install --locked cargo-fuzz`).
# The build goes to fuzz/target (with cargo-fuzz's defaults: release, debug assertions,
# AddressSanitizer); corpora grow in fuzz/corpus/<target> and are reused by the next run; crashes
# are written to fuzz/artifacts/<target>/; the full libFuzzer output is in
# fuzz/target/fuzz-logs/<target>.log. The byte-level targets also read a seed corpus of well-formed
# packets, event items and record streams that fuzz/src/bin/seed_corpus.rs writes to
# fuzz/target/seeds/<target> on every run. None of these are committed.
#
# Per target it prints the executions done, executions per second (over the run's wall time: with
# a short run libFuzzer's own average rounds the seconds down), coverage (libFuzzer's `cov:` edges
# and `ft:` features from its final stats line), the corpus size (libFuzzer's units, and the files
# in fuzz/corpus/<target>) and whether it crashed.
# Exits 1 if any target crashed, timed out or failed to run.
#
# To minimise a crash: cargo +nightly fuzz tmin <target> fuzz/artifacts/<target>/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ALL_TARGETS=(packet_decoders wnode_decoder ring_stream_decoder size_planner ring_ops crc32c_engines)

usage() {
    sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//'
}

# Largest input per target: a little above what the format can use, so that oversized inputs are
# tried too without slowing the run down.
max_len_for() {
    case $1 in
        packet_decoders) echo 1024 ;;     # an IO_ERROR_LOG_PACKET is at most 255 bytes
        wnode_decoder) echo 2048 ;;       # an event item is at most 1 KiB
        ring_stream_decoder) echo 4096 ;; # several records and garbage between them
        size_planner) echo 2048 ;;        # strings, dump and preview of one spec
        ring_ops) echo 4096 ;;            # up to 64 operations
        crc32c_engines) echo 8192 ;;      # past the longest lane block (4080 bytes) twice
    esac
}

mode=smoke
case "${1:-}" in
    smoke | long)
        mode=$1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
esac
if [ "$mode" = smoke ]; then runs=20000; else runs=5000000; fi
if [ -n "${FUZZ_RUNS:-}" ]; then
    if ! [[ $FUZZ_RUNS =~ ^[1-9][0-9]*$ ]]; then
        echo "fuzz.sh: FUZZ_RUNS must be a positive integer, not '$FUZZ_RUNS'" >&2
        exit 2
    fi
    runs=$FUZZ_RUNS
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${ALL_TARGETS[@]}")
fi
for t in "${targets[@]}"; do
    if [ -z "$(max_len_for "$t")" ]; then
        echo "fuzz.sh: unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

if ! version=$(cargo +nightly fuzz --version 2>/dev/null); then
    cat >&2 <<'EOF'
fuzz.sh: `cargo +nightly fuzz` is not available. This script installs nothing; set it up with
    rustup toolchain install nightly
    cargo install --locked cargo-fuzz
EOF
    exit 1
fi

# Always build into fuzz/target, whatever the caller's environment says.
export CARGO_TARGET_DIR="$root/fuzz/target"
logs="$root/fuzz/target/fuzz-logs"
mkdir -p "$logs"

echo "== $version, mode $mode: $runs executions per target"
build_start=$(date +%s)
# One cargo invocation builds every target and the seed generator (all bins of fuzz/Cargo.toml).
cargo +nightly fuzz build
echo "== build: $(($(date +%s) - build_start)) s"

host=$(cargo +nightly -vV | sed -n 's/^host: //p')
seeds="$root/fuzz/target/seeds"
rm -rf "$seeds"
"$root/fuzz/target/$host/release/seed_corpus" "$seeds"

summary=()
failed=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    echo "== $t: -runs=$runs -max_len=$(max_len_for "$t")"
    start=$(date +%s%N)
    status=0
    corpora=("$root/fuzz/corpus/$t")
    mkdir -p "${corpora[0]}"
    # New inputs go to the first directory; the seeds are only read.
    if [ -d "$seeds/$t" ]; then corpora+=("$seeds/$t"); fi
    # -timeout: an input running longer than 25 s counts as a crash (a hang), not a stuck script.
    cargo +nightly fuzz run "$t" "${corpora[@]}" -- \
        -runs="$runs" \
        -max_len="$(max_len_for "$t")" \
        -timeout=25 \
        -print_final_stats=1 \
        > "$log" 2>&1 || status=$?
    millis=$((($(date +%s%N) - start) / 1000000))

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=
    if [ -n "$execs" ] && [ "$millis" -gt 0 ]; then
        rate=$((execs * 1000 / millis))
    fi
    # libFuzzer's last status line, e.g. "#20000 DONE cov: 412 ft: 1290 corp: 180/9812b ...".
    final=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$final")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$final")
    units=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$final")
    files=$(find "$root/fuzz/corpus/$t" -type f 2> /dev/null | wc -l)

    if [ "$status" -eq 0 ] && grep -q 'DONE' <<< "$final"; then
        result="no crash"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if [ -n "$artifact" ]; then
            result="CRASH: $artifact"
        else
            result="FAILED (exit $status; see $log)"
        fi
        # The assertion or sanitizer report, for the summary.
        grep -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY:" "$log" | head -n 4 | sed 's/^/    /' || true
    fi
    # corpus: libFuzzer's corpus (units it keeps) and the files in fuzz/corpus/<target>, which only grows.
    line=$(printf '%-20s execs %-8s exec/s %-6s cov %-5s ft %-6s corpus %-5s files %-5s %6.1fs  %s' \
        "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" "$files" \
        "$(awk "BEGIN{print $millis/1000}")" "$result")
    echo "$line"
    summary+=("$line")
done

echo "== summary ($mode, $runs executions per target)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: at least one target crashed or failed (logs in fuzz/target/fuzz-logs)" >&2
    exit 1
fi
