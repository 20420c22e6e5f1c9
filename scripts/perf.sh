#!/usr/bin/env bash
# make perf: every figure of docs/PERFORMANCE.md, each with its baseline measured in the same
# run, then issue 14's targets as target / measured / ratio (scripts/perf_summary.py).
# Usage: bash scripts/perf.sh [OUT]   (release build; about 15 minutes)
set -euo pipefail
BIN=${BIN:-.build/release}
OUT=${1:-runs/perf-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
Q="$BIN/quickpay"
L="$Q load --runs $OUT"
"$Q" bench core --seconds 1 --rounds 3
"$Q" bench zmq --seconds 1 --rounds 3 --sync-folder "$OUT"
"$Q" bench actors --payments 200000 | tee "$OUT/bench-actors.txt"
"$Q" bench actors --payments 200000 --groups 256 --merchant-only --merchant-vouchers 16 | tee "$OUT/bench-actors-streaming.txt"
bash scripts/instructions-per-payment.sh | tee "$OUT/instructions-per-payment.txt"
# Three times: its baseline (round trip + fdatasync, about 160 µs) moves by up to 10% run to run.
for i in 1 2 3; do $L scenarios/load/closed-loop-one-customer.yaml; done
$L scenarios/load/one-merchant.yaml --rate 8000
$L scenarios/load/one-merchant.yaml --rate 16000
$L scenarios/load/one-merchant.yaml --rate 20000
$L scenarios/load/one-merchant.yaml --seconds 60 --warmup 10 --metrics
$L scenarios/load/many-merchants.yaml scenarios/load/redemption-storm.yaml scenarios/load/mix.yaml
$L scenarios/load/one-merchant.yaml --concurrency 64 --compare-transports
# Kept apart: its traced and metrics runs are not the plain figures the summary reads.
"$Q" load --runs "$OUT-observability" scenarios/load/one-merchant.yaml --rate 8000 --compare-observability
$L scenarios/load/one-merchant.yaml --rate 30000 --seconds 6
$L scenarios/load/one-merchant.yaml --rate 36000 --seconds 6
$L scenarios/load/one-merchant.yaml --rate 40000 --seconds 6
# The stretch figure: 50,000/s.
$L scenarios/load/one-merchant.yaml --rate 50000 --seconds 6
for n in 1 2 4; do $L scenarios/load/one-merchant.yaml --rate 24000 --seconds 6 --merchants $n; done
for i in 1 2; do $L scenarios/load/one-online-merchant.yaml; done
python3 scripts/perf_summary.py "$OUT"
