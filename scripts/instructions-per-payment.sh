#!/usr/bin/env bash
# Instructions per payment in the merchant's host core, counted by valgrind's callgrind: a figure
# the noisy machine cannot move (issue 14, target 3). Counts only inside one group of the host core
# (`measuredDrain` in ActorsBench.swift, which calls HostCore.drain and is never inlined: decoding,
# the idempotency stage, the actor, SQLite, encoding; not the bench's setup), over the bench's
# time-ordered run at 256 requests a group, 16 vouchers at a time (each spent to its end).
# Under valgrind SHA-256 runs BoringSSL's portable code, not the CPU's SHA instructions: the
# hashes weigh more here than on the machine (the receipt chain of each new voucher).
# Usage: bash scripts/instructions-per-payment.sh [PAYMENTS]   (release build; about 30 s)
set -euo pipefail
BIN=${BIN:-.build/release}
PAYMENTS=${1:-20000}
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install -y valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# valgrind 3.19 cannot read the DWARF 5 of Swift 6 builds: count a copy without debug info
# (the symbol table stays, so the function filter still matches).
objcopy --strip-debug "$BIN/quickpay" "$work/quickpay"
valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" --toggle-collect='*measuredDrain*' \
  "$work/quickpay" bench actors --payments "$PAYMENTS" --groups 256 --merchant-only --merchant-vouchers 16 --time-ordered-only \
  >"$work/bench.txt" 2>"$work/valgrind.txt"
total=$(grep -E '^summary:|^totals:' "$work/callgrind.out" | head -1 | awk '{print $2}')
python3 - "$total" "$PAYMENTS" "$work/callgrind.out" <<'PY'
import subprocess, sys
total, payments, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
print(f"callgrind: {total:,} instructions in HostCore.drain (measuredDrain) over {payments:,} payments: {total / payments:,.0f} instructions per payment")
annotate = subprocess.run(["callgrind_annotate", "--inclusive=yes", out], capture_output=True, text=True).stdout.splitlines()
parts = [("decode (hand path or SwiftProtobuf)", "WireCodecV6decode"), ("the merchant actor", "MerchantActorV3pay"),
         ("  of it, receipt chains of new vouchers (SHA-256)", "HashChainV4seed"), ("encode", "WireCodecV6encode"),
         ("stage batches", "SQLiteMerchantC0C5stage"), ("write positions", "writePositions"),
         ("kept answers (store, lookup)", "AnswerTableO5store"), ("", "AnswerTableO5fetch"), ("request digest", "requestDigest"),
         ("SQLite, all of it", "sqlite3_step")]
seen = {}
for line in annotate:
    for label, needle in parts:
        if needle in line and needle not in seen:
            try: seen[needle] = int(line.split()[0].replace(",", ""))
            except ValueError: pass
answers = seen.get("AnswerTableO5store", 0) + seen.get("AnswerTableO5fetch", 0)
for label, needle in parts:
    if not label: continue
    value = answers if needle == "AnswerTableO5store" else seen.get(needle)
    if value: print(f"  {label:52s} {value / payments:10,.0f} per payment ({100 * value / total:4.1f}%)")
PY
