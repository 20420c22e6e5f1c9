#!/usr/bin/env bash
# ATTACKS 28 measured: the login-flood scenario with the password hashes on the app server's
# worker pool (as deployed), then with them on its serving thread (QUICKPAY_WORKERS=0, as before
# the pool), back to back with one build. Prints an honest customer's p99 of balance, load and
# payment, before and during the flood, for both.
#   bash scripts/login-flood.sh            release build (make release first)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release}
scenario=scenarios/attacks/25-30-ownership.yaml
run() { "$BIN/quickpay" run "$scenario" --filter login-flood 2>&1; }
pool=$(run)
inline=$(QUICKPAY_WORKERS=0 run)
figures() { grep -E '^ +(balance|load|pay) x|flood answers|passed|FAIL' <<<"$1" | sed 's/^ */  /'; }
echo "== hashes on the worker pool (deployed); each group: before the flood, then during it"
figures "$pool"
echo "== hashes on the serving thread (QUICKPAY_WORKERS=0)"
figures "$inline"
