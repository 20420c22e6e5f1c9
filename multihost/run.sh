#!/usr/bin/env bash
# make multihost: every actor on its own "host" (a network namespace with its own address),
# joined by veth pairs to a bridge that lives in a namespace of its own, so the test touches no
# interface of this machine. Over CURVE, with each host holding only its own secret key:
#   1-2  the happy path and double-spend attempts across hosts;
#   3    the merchants cut off from the bank (blackhole routes both ways): online payments fail
#        with UNAVAILABLE, offline payments go on, redemption waits;
#   4    the link back: redemption completes, unload refunds the rest.
# The namespaces and processes are removed on exit, on failure and on Ctrl-C.
# Needs root (ip netns). Without it, it says SKIPPED and exits 0 (make test calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/debug}

if [ "$(id -u)" != 0 ]; then echo "multihost: SKIPPED - ip netns needs root (run make multihost as root)"; exit 0; fi
if ! command -v ip >/dev/null; then echo "multihost: SKIPPED - iproute2 (ip) is not installed"; exit 0; fi
for exe in qp-bank qp-appserver qp-nsp qp-merchant qp-customer quickpay; do
  [ -x "$BIN/$exe" ] || { echo "multihost: $BIN/$exe is missing (swift build first)"; exit 1; }
done
BIN=$(cd "$BIN" && pwd)

P="qpmh$$"                                   # a prefix no other run shares
RUN="$PWD/runs/multihost-$(date +%Y%m%dT%H%M%S)-$$"
SUBNET=10.77.0
HOSTS=(bank appserver nsp chai news runner)
declare -A ADDRESS=([bank]=2 [appserver]=3 [nsp]=4 [chai]=5 [news]=6 [runner]=9)
PIDS=()

cleanup() {
  status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for host in switch "${HOSTS[@]}"; do ip netns del "$P-$host" 2>/dev/null || true; done
  left=$(ip netns list | grep -c "^$P-" || true)
  echo "multihost: namespaces removed ($left left); run folder $RUN"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== network: one namespace per host on $SUBNET.0/24, bridged in $P-switch"
ip netns add "$P-switch"
ip -n "$P-switch" link add br0 type bridge
ip -n "$P-switch" link set br0 up
for host in "${HOSTS[@]}"; do
  n=${ADDRESS[$host]}
  ip netns add "$P-$host"
  ip -n "$P-$host" link set lo up
  # The veth pair is made inside the two namespaces: nothing appears in this machine's own.
  ip -n "$P-$host" link add eth0 type veth peer name "port$n" netns "$P-switch"
  ip -n "$P-$host" addr add "$SUBNET.$n/24" dev eth0
  ip -n "$P-$host" link set eth0 up
  ip -n "$P-switch" link set "port$n" master br0 up
done

echo "== keys: one deployment; each host gets public/ and its own secret only"
mkdir -p "$RUN"
"$BIN/quickpay" keys deployment --out "$RUN/keys" --merchant chai-stall --merchant news-stand \
  --customer alice --customer chai-stall --customer news-stand \
  --phone +919800000001 --phone +919700000001 --phone +919700000002 > "$RUN/keys.txt"
ep() { echo "tcp://$SUBNET.${ADDRESS[$1]}:$2"; }
cat > "$RUN/deploy.yaml" <<YAML
keys: keys
actors:
  bank: {endpoint: "$(ep bank 7001)", control: "$(ep bank 7101)"}
  appserver: {endpoint: "$(ep appserver 7002)", control: "$(ep appserver 7102)"}
  nsp: {endpoint: "$(ep nsp 7003)", control: "$(ep nsp 7103)"}
  merchant-chai-stall: {endpoint: "$(ep chai 7004)", control: "$(ep chai 7104)", mode: offline}
  merchant-news-stand: {endpoint: "$(ep news 7005)", control: "$(ep news 7105)", mode: online}
  customer-alice: {control: "$(ep runner 7201)", phone: "+919800000001"}
  customer-chai-stall: {control: "$(ep runner 7202)", phone: "+919700000001"}
  customer-news-stand: {control: "$(ep runner 7203)", phone: "+919700000002"}
YAML
host_folder() {  # host_folder HOST ACTOR... : the host's deployment file, public keys and its actors' secrets
  local dir="$RUN/hosts/$1"; shift
  mkdir -p "$dir/keys"
  cp "$RUN/deploy.yaml" "$dir/deploy.yaml"
  cp -r "$RUN/keys/public" "$dir/keys/public"
  for actor in "$@"; do cp -r "$RUN/keys/$actor" "$dir/keys/$actor"; done
  echo "$dir"
}

start() {  # start HOST NAME COMMAND...: runs in the host's namespace, logs to RUN/logs/NAME.log
  local host=$1 name=$2; shift 2
  mkdir -p "$RUN/logs"
  ip netns exec "$P-$host" "$@" > "$RUN/logs/$name.log" 2>&1 &
  PIDS+=($!)
}

echo "== actors: each in its own namespace, configured by its deployment file"
H=$(host_folder bank bank)
start bank bank "$BIN/qp-bank" --deployment "$H/deploy.yaml" --data-dir "$H/data" --seed config/bank-seed.yaml
H=$(host_folder appserver appserver)
start appserver appserver "$BIN/qp-appserver" --deployment "$H/deploy.yaml" --data-dir "$H/data"
H=$(host_folder nsp nsp)
start nsp nsp "$BIN/qp-nsp" --deployment "$H/deploy.yaml" --data-dir "$H/data"
H=$(host_folder chai merchant-chai-stall)
start chai merchant-chai-stall "$BIN/qp-merchant" --id chai-stall --deployment "$H/deploy.yaml" --data-dir "$H/data"
H=$(host_folder news merchant-news-stand)
start news merchant-news-stand "$BIN/qp-merchant" --id news-stand --deployment "$H/deploy.yaml" --data-dir "$H/data"
# The runner's host plays the customers (the testbed's customer: the wallet plus the attacks),
# and, for the merchant attacks of 2-double-spend, a merchant toward the bank with its own key:
# in this test deployment it holds the merchants' key pairs too.
H=$(host_folder runner operator customer-alice customer-chai-stall customer-news-stand merchant-chai-stall merchant-news-stand sims)
mkdir -p "$H/data"
for customer in alice chai-stall news-stand; do
  start runner "customer-$customer" "$BIN/quickpay" customer serve --name "$customer" --deployment "$H/deploy.yaml" \
    --wallet "$H/data/$customer.sqlite"
done
mkdir -p "$H/data"

run() {  # run SCENARIO: the runner, on its own host, against the deployment
  ip netns exec "$P-runner" "$BIN/quickpay" run "multihost/scenarios/$1" --deployment "$H/deploy.yaml" --runs "$RUN/runs" \
    --junit "$RUN/junit-${1%.yaml}.xml"
}
partition() {  # partition add|del: blackhole routes between the merchants' hosts and the bank's
  for merchant in chai news; do
    ip -n "$P-$merchant" route "$1" blackhole "$SUBNET.${ADDRESS[bank]}/32"
    ip -n "$P-bank" route "$1" blackhole "$SUBNET.${ADDRESS[$merchant]}/32"
  done
}

run 1-happy-path.yaml
run 2-double-spend.yaml
echo "== cutting the merchants off from the bank"
partition add
run 3-partitioned.yaml
echo "== restoring the link"
partition del
run 4-healed.yaml

echo "== the bank's refused handshakes (CURVE): there should be none from this deployment's own actors"
grep -h "refused a connection" "$RUN/logs/"*.log || echo "none"
echo "multihost: PASSED (4 scenarios over CURVE across 6 network namespaces)"
