#!/usr/bin/env python3
"""Prints the tables of docs/PERFORMANCE.md from two saved criterion baselines.

    cargo bench -p logbridge-core  --bench peers      -- --save-baseline A
    cargo bench -p logbridge-model --bench write_path -- --save-baseline A
    cargo bench -p logbridge-core  --bench core       -- --save-baseline A
    cargo bench -p logbridge-crc32c --bench crc32c    -- --save-baseline A
    (the same again with B)
    scripts/bench-report.py A B

Each figure is criterion's point estimate of the time per iteration (the slope of its linear
fit where it made one, else the mean) from target/criterion/<bench>/<baseline>/estimates.json
(or $CARGO_TARGET_DIR/criterion). "spread" is |A - B| / min(A, B). Ratios use run A.
"""
import json
import os
import sys
from pathlib import Path

PEER_SIZES = [16, 64, 255, 1024, 4096]
PEERS = ["bbqueue_write_read", "ringbuf_write_read", "mutex_vecdeque_write_read"]
PEER_ROWS = [
    ("memcpy_write_read", "memcpy write + read (the floor)"),
    ("logbridge_write_read", "**LogBridge write + read, CRC as the driver computes it**"),
    ("logbridge_write_read_software_crc", "LogBridge write + read, software CRC"),
    ("logbridge_write_read_prepared", "LogBridge write + read, CRC outside (not timed)"),
    ("bbqueue_write_read", "bbqueue write + read"),
    ("ringbuf_write_read", "ringbuf write + read"),
    ("mutex_vecdeque_write_read", "Mutex<VecDeque> write + read"),
    ("memcpy_write", "memcpy write"),
    ("logbridge_append", "LogBridge append (CRC outside)"),
    ("logbridge_prepare_append", "LogBridge CRC + append"),
    ("logbridge_read", "LogBridge read"),
    ("crc32c_hardware", "CRC-32C, hardware engine"),
    ("crc32c_software", "CRC-32C, software tables"),
]


def load(baseline):
    root = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    figures = {}
    for bench in root.glob(f"**/{baseline}/benchmark.json"):
        full_id = json.loads(bench.read_text())["full_id"]
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        pick = estimates.get("slope") or estimates["mean"]
        figures[full_id] = pick["point_estimate"]
    if not figures:
        sys.exit(f"bench-report: no criterion results saved as baseline {baseline!r} under {root}")
    return figures


def ns(value):
    if value is None:
        return "–"
    if value >= 10_000:
        return f"{value / 1000:,.1f} µs"
    if value >= 100:
        return f"{value:,.0f} ns"
    return f"{value:.1f} ns"


def spread(a, b):
    if a is None or b is None:
        return "–"
    return f"{abs(a - b) / min(a, b) * 100:.0f} %"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])

    print("### Ring against peers: ns per record (write + read unless named), run A, run B, spread\n")
    for size in PEER_SIZES:
        group = f"peers/{size}"
        if f"{group}/memcpy_write_read" not in a:
            continue
        floor = a[f"{group}/memcpy_write_read"]
        best_name = min(PEERS, key=lambda p: a.get(f"{group}/{p}", float("inf")))
        best = a.get(f"{group}/{best_name}")
        print(f"**{size} B** (best peer: {best_name.removesuffix('_write_read')})\n")
        print("| Contender | run A | run B | spread | × memcpy write + read | × best peer |")
        print("|---|--:|--:|--:|--:|--:|")
        for key, label in PEER_ROWS:
            va, vb = a.get(f"{group}/{key}"), b.get(f"{group}/{key}")
            if va is None:
                continue
            pair = key.endswith("write_read")
            to_floor = f"{va / floor:.2f}" if pair else ""
            to_best = f"{va / best:.2f}" if pair and best and key not in PEERS else ""
            print(f"| {label} | {ns(va)} | {ns(vb)} | {spread(va, vb)} | {to_floor} | {to_best} |")
        print()

    print("### Several writers: total payload GiB/s, run A (run B)\n")
    for size in [255, 4096]:
        rows = {}
        for full_id in a:
            prefix = f"multi_writer/{size}/"
            if full_id.startswith(prefix):
                name, threads = full_id[len(prefix):].rsplit("/", 1)
                rows.setdefault(name, {})[int(threads)] = full_id
        if not rows:
            continue
        print(f"**{size} B**\n")
        print("| Contender | 1 writer | 2 writers | 4 writers | 2 writers / 1 writer |")
        print("|---|--:|--:|--:|--:|")
        for name, by_threads in rows.items():
            cells, rates = [], {}
            for threads in (1, 2, 4):
                full_id = by_threads.get(threads)
                if full_id is None:
                    cells.append("–")
                    continue
                rate_a = size * threads / a[full_id] * 1e9 / 2**30
                rate_b = size * threads / b[full_id] * 1e9 / 2**30 if full_id in b else None
                rates[threads] = rate_a
                cells.append(f"{rate_a:.2f} ({rate_b:.2f})" if rate_b else f"{rate_a:.2f}")
            ratio = f"{rates[2] / rates[1]:.2f}" if 1 in rates and 2 in rates else "–"
            print(f"| {name} | {' | '.join(cells)} | {ratio} |")
        print()

    print("### Write path per write: run A, run B, spread\n")
    print("| Benchmark | run A | run B | spread |")
    print("|---|--:|--:|--:|")
    for full_id in sorted(k for k in a if k.startswith(("bare/", "model/"))):
        print(f"| `{full_id}` | {ns(a[full_id])} | {ns(b.get(full_id))} | {spread(a[full_id], b.get(full_id))} |")
    print()

    print("### CRC-32C engines: time and GB/s, run A (run B)\n")
    sizes = sorted({int(k.split("/")[1]) for k in a if k.startswith("crc32c/")})
    kinds = sorted({k.split("/")[2] for k in a if k.startswith("crc32c/")}, key=lambda k: k != "software")
    if sizes:
        print("| Bytes | " + " | ".join(kinds) + " |")
        print("|--:|" + "--:|" * len(kinds))
        for size in sizes:
            cells = []
            for kind in kinds:
                full_id = f"crc32c/{size}/{kind}"
                if full_id in a:
                    cells.append(f"{ns(a[full_id])}, {size / a[full_id]:.1f} GB/s ({ns(b.get(full_id))})")
                else:
                    cells.append("–")
            print(f"| {size:,} | " + " | ".join(cells) + " |")
        print()

    print("### core: run A, run B, spread\n")
    print("| Benchmark | run A | run B | spread |")
    print("|---|--:|--:|--:|")
    for full_id in sorted(k for k in a if k.startswith(("packet/", "ring_append/", "record_decode/"))):
        print(f"| `{full_id}` | {ns(a[full_id])} | {ns(b.get(full_id))} | {spread(a[full_id], b.get(full_id))} |")


if __name__ == "__main__":
    main()
