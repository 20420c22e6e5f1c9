#!/usr/bin/env bash
# compare-cashu.sh: a peer e-cash mint and QuickPay's online merchant, measured side by side in one run.
#
#   bash scripts/compare-cashu.sh [OUT]        (OUT defaults to runs/compare-cashu-<UTC stamp>)
#
# nutshell (Cashu's mint, PyPI cashu==0.21.0, in a venv at runs/cashu-venv): FakeWallet backend,
# SQLite in OUT with PRAGMA synchronous=FULL (set by scripts/cashu_swaps.py serve), fees and rate
# limits off; scripts/cashu_swaps.py times POST /v1/swap with one 1-sat input proof and one output,
# closed loop at 1 and 64 outstanding (2 s warm-up, 10 s measured). Then QuickPay:
# scenarios/load/one-online-merchant.yaml at 64 outstanding, and the same file at 1 customer and 1
# outstanding. Prints one table from the measurements (OUT/table.txt).
# Needs python3 with venv + pip reaching PyPI, and a release build ($BIN, default .build/release).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${BIN:-.build/release}
OUT=${1:-runs/compare-cashu-$(date -u +%Y%m%dT%H%M%SZ)}
CASHU_VERSION=0.21.0
VENV=runs/cashu-venv
[[ -x "$BIN/quickpay" ]] || { echo "no $BIN/quickpay: build it first (swift build -c release)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# --- the venv -------------------------------------------------------------------------------
# cashu 0.21.0 declares breez-sdk-spark>=0.17,<0.18, which PyPI does not serve: so cashu goes in
# with --no-deps, then its declared requirements but that one, plus breez-sdk-spark 0.18.0 (imported
# at startup by cashu/lightning/__init__.py, used only by the Spark backend, not here). Two pins
# cashu lacks: environs 9.5 breaks on marshmallow 4, and slowapi 0.1.x on limits 5.
venv_ok() {
  "$VENV/bin/python" - "$CASHU_VERSION" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
import cashu.lightning, cashu.mint.limit, cashu.wallet.wallet  # noqa: F401  (imports fail if a dependency is off)
sys.exit(version("cashu") != sys.argv[1])
EOF
}
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
if ! venv_ok; then
  echo "== installing cashu==$CASHU_VERSION into $VENV"
  "$VENV/bin/pip" install -q --no-deps "cashu==$CASHU_VERSION"
  "$VENV/bin/python" -c '
from importlib.metadata import requires
print("\n".join(r for r in requires("cashu") if not r.lower().startswith("breez-sdk-spark")))' > "$OUT/cashu-requirements.txt"
  # pip reports the breez-sdk-spark mismatch with cashu's metadata as a conflict; it is expected.
  "$VENV/bin/pip" install -q -r "$OUT/cashu-requirements.txt" "breez-sdk-spark==0.18.0" "marshmallow<4" "limits<5" \
    2>&1 | grep -v -e "dependency resolver does not currently" -e "breez-sdk-spark<0.18.0" || true
  venv_ok || { echo "cashu==$CASHU_VERSION does not import in $VENV" >&2; exit 1; }
fi

# --- the mint -------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
MINT_PID=""
stop_mint() {
  if [[ -n "$MINT_PID" ]] && kill -0 "$MINT_PID" 2>/dev/null; then
    kill "$MINT_PID" 2>/dev/null || true
    wait "$MINT_PID" 2>/dev/null || true
  fi
  MINT_PID=""
}
trap stop_mint EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT/nutshell/home" "$OUT/nutshell/db"
echo "== nutshell $CASHU_VERSION on $URL (log: $OUT/nutshell/mint.log)"
# HOME and the working directory point into OUT so that no ~/.cashu/.env or ./.env (which nutshell
# reads, overriding the environment) changes the configuration.
(
  cd "$OUT/nutshell"
  exec env HOME="$OUT/nutshell/home" \
    MINT_BACKEND_BOLT11_SAT=FakeWallet \
    MINT_DATABASE="$OUT/nutshell/db" \
    MINT_PRIVATE_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
    MINT_LISTEN_HOST=127.0.0.1 MINT_LISTEN_PORT="$PORT" \
    MINT_RATE_LIMIT=FALSE \
    MINT_INPUT_FEE_PPK=0 \
    FAKEWALLET_DELAY_INCOMING_PAYMENT=0 \
    "$ROOT/$VENV/bin/python" "$ROOT/scripts/cashu_swaps.py" serve
) > "$OUT/nutshell/mint.log" 2>&1 &
MINT_PID=$!
up() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v1/info", timeout=2)' "$URL" 2>/dev/null; }
for _ in $(seq 1 120); do
  up && break
  kill -0 "$MINT_PID" 2>/dev/null || { tail -20 "$OUT/nutshell/mint.log" >&2; echo "the mint died" >&2; exit 1; }
  sleep 0.5
done
up || { tail -20 "$OUT/nutshell/mint.log" >&2; echo "the mint did not answer" >&2; exit 1; }

echo "== nutshell swaps"
"$VENV/bin/python" scripts/cashu_swaps.py measure --url "$URL" --out "$OUT/nutshell-swaps.json" \
  --work "$OUT/nutshell" --concurrency 1,64 --warmup 2 --seconds 10 | tee "$OUT/nutshell-swaps.log"
stop_mint  # leave the cores to QuickPay

# --- QuickPay -------------------------------------------------------------------------------
echo "== QuickPay online merchant, 64 outstanding"
"$BIN/quickpay" load --runs "$OUT" scenarios/load/one-online-merchant.yaml
echo "== QuickPay online merchant, 1 outstanding"
"$BIN/quickpay" load --runs "$OUT" --customers 1 --concurrency 1 scenarios/load/one-online-merchant.yaml

# --- the table ------------------------------------------------------------------------------
python3 - "$OUT" <<'EOF' | tee "$OUT/table.txt"
import glob, json, os, sys

out = sys.argv[1]
nutshell = json.load(open(os.path.join(out, "nutshell-swaps.json")))
rows = {}  # (system, outstanding) -> (ops/s, p50 us, p99 us)
for run in nutshell["runs"]:
    rows[("nutshell swap", run["concurrency"])] = (run["ops_per_second"], run["p50_us"], run["p99_us"])
for path in sorted(glob.glob(os.path.join(out, "load-*", "*", "result.json"))):
    r = json.load(open(path))
    single = r["latency_by_type"]["single"]
    rows[("QuickPay online", r["pacing"]["closed_loop_concurrency"])] = (r["accepted_per_second"], single["p50_us"], single["p99_us"])

ms = lambda us: "-" if us is None else f"{us / 1000:.2f}"
print(f"{'system':<17}{'outstanding':>12}{'operations/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
for (system, c), (ops, p50, p99) in sorted(rows.items(), key=lambda kv: (kv[0][0] != "nutshell swap", kv[0][1])):
    print(f"{system:<17}{c:>12}{ops:>14.1f}{ms(p50):>10}{ms(p99):>10}")
for c in sorted({c for _, c in rows}):
    n, q = rows.get(("nutshell swap", c)), rows.get(("QuickPay online", c))
    if n and q and n[0] > 0:
        print(f"QuickPay/nutshell at {c} outstanding: {q[0] / n[0]:.0f}x operations/s")
sync = [line.split("cashu_swaps serve: ")[1].strip() for line in open(os.path.join(out, "nutshell", "mint.log"))
        if "PRAGMA synchronous" in line]
failures = sum(run["failures"] for run in nutshell["runs"])
print(f"nutshell {nutshell['cashu_version']}: {failures} failed swaps in the measured windows; "
      + (sync[0] if sync else "SQLite synchronous not confirmed")
      + ("; WARNING: the proof pool ran out" if any(run["proofs_ran_out"] for run in nutshell["runs"]) else ""))
EOF
