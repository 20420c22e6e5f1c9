#!/usr/bin/env bash
# Puts back, one at a time, the defects and broken defences of Tests/Mutations/*.patch and
# reports how many simulator seeds each needed to be caught (and, with SUITE=1, whether the
# scenario suite fails on it). The tree must be clean; each patch is reverted after its run.
#   bash scripts/mutations.sh                 every mutation, up to 300 seeds each
#   SEEDS=1000 bash scripts/mutations.sh 05   only the mutations whose name contains 05
#   SUITE=1 bash scripts/mutations.sh 06      also the scenario suite (about 5 minutes each)
#   SUITE=1 SUITE_PATH=scenarios/attacks/25-30-ownership.yaml bash scripts/mutations.sh 13
#                                             the suite restricted to some scenarios
set -uo pipefail
cd "$(dirname "$0")/.."
SEEDS=${SEEDS:-300}
SUITE=${SUITE:-0}
SUITE_PATH=${SUITE_PATH:-scenarios}
filter=${1:-}
if ! git diff --quiet -- Sources; then echo "Sources has uncommitted changes: commit or stash them first" >&2; exit 2; fi
results=()
for patch in Tests/Mutations/*.patch; do
  name=$(basename "$patch" .patch)
  [[ -n "$filter" && "$name" != *"$filter"* ]] && continue
  git apply "$patch" || { results+=("$name | does not apply"); continue; }
  trap 'git apply -R "'"$patch"'"' EXIT
  echo "== $name"
  if ! swift build --product quickpay 2>&1 | tail -1; then results+=("$name | does not build"); git apply -R "$patch"; trap - EXIT; continue; fi
  out=$(.build/debug/quickpay simulate --seeds "$SEEDS" --until-failure --no-shrink 2>&1)
  caught=$(grep -o 'caught after [0-9]* seed' <<<"$out" | grep -o '[0-9]*')
  violation=$(grep -m1 'FAILED:' <<<"$out" | sed 's/.*FAILED: //' | cut -c1-150)
  sim=${caught:+caught at seed $caught}
  sim=${sim:-not caught in $SEEDS seeds}
  line="$name | simulator: $sim${violation:+ ($violation)}"
  if [[ "$SUITE" == 1 ]]; then
    swift build --product qp-bank >/dev/null 2>&1; swift build >/dev/null 2>&1
    suite=$(.build/debug/quickpay run "$SUITE_PATH" 2>&1 | grep -E '^FAILED:' | sed 's/FAILED: //; s/ (.*//' | tr '\n' ' ')
    line="$line | suite: ${suite:-passes (not caught)}"
  fi
  echo "$line"
  results+=("$line")
  git apply -R "$patch"
  trap - EXIT
done
echo
echo "mutation | caught by"
printf '%s\n' "${results[@]}"
