#!/usr/bin/env bash
# The run report as a person sees it: runs two small scenarios (a double spend, and message
# faults through a proxy), opens the report in headless Chromium, and checks that
#   - the page ran its script without an error (the page records errors on <body>),
#   - every scenario's diagram draws an arrow for every message its logs hold (counted here from
#     the log lines, independently of the report's code),
#   - the double spend's rejected coin is in the diagram (an arrow with code REPLAYED_COIN),
#   - no id is defined twice (each diagram's arrowhead is its own),
# then saves a screenshot of the double-spend scenario under runs/.
# Usage: BIN=.build/debug bash scripts/report-check.sh   (installs chromium with apt-get if missing)
set -euo pipefail
BIN=${BIN:-.build/debug}
OUT=${OUT:-runs/report-check}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

if ! command -v chromium >/dev/null; then
  echo "installing chromium (apt-get)"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

rm -rf "$OUT"
mkdir -p "$OUT"
"$BIN/quickpay" run scenarios/attacks/01-replay.yaml scenarios/faults/messages.yaml --runs "$OUT" > "$OUT/run.log" 2>&1 \
  || { echo "report-check: the scenarios failed; see $OUT/run.log"; exit 1; }
RUN=$(ls -d "$OUT"/20*/ | head -1)
RUN=${RUN%/}
test -f "$RUN/report.html" || { echo "report-check: no report.html in $RUN"; exit 1; }

# --dump-dom prints the DOM after the page's scripts ran. A profile of its own, no /dev/shm
# (small in containers) and no sandbox (CI runs as root).
DOM="$OUT/dom.html"
BROWSER=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir="$PWD/$OUT/chromium-profile")
timeout 120 "${BROWSER[@]}" --dump-dom "file://$PWD/$RUN/report.html" > "$DOM" 2> "$OUT/chromium.log"
SCREENSHOT="$OUT/screenshot-attack-01.png"
timeout 120 "${BROWSER[@]}" --hide-scrollbars --window-size=1400,2900 \
  --screenshot="$PWD/$SCREENSHOT" "file://$PWD/$RUN/report.html#focus-attack-01-replay-a-coin" >> "$OUT/chromium.log" 2>&1

python3 - "$DOM" "$RUN" "$SCREENSHOT" <<'EOF'
import collections, html.parser, json, os, sys
dom_path, run, screenshot = sys.argv[1:4]
dom = open(dom_path, encoding="utf-8").read()
failures = []

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.body = {}
        self.scenario = None
        self.drawn = collections.Counter()
        self.codes = collections.defaultdict(set)
        self.ids = collections.Counter()
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids[attrs["id"]] += 1
        if tag == "body":
            self.body = attrs
        if tag == "details" and "scenario" in (attrs.get("class") or ""):
            self.scenario = attrs.get("id", "")[2:]
        if tag == "g" and (attrs.get("class") or "").split(" ")[0] == "msg":
            self.drawn[self.scenario] += int(attrs["data-count"])
            if attrs.get("data-code"):
                self.codes[self.scenario].add(attrs["data-code"])

page = Page()
page.feed(dom)
if page.body.get("data-ready") != "1":
    failures.append("the page's script did not finish (no data-ready on <body>)")
# An id defined twice (an arrowhead, say) renders only while its first copy is shown.
twice = [name for name, count in page.ids.items() if count > 1]
if twice:
    failures.append(f"ids defined more than once: {', '.join(sorted(twice)[:5])}")
if page.body.get("data-script-errors"):
    failures.append(f"script errors: {page.body.get('data-script-errors')} ({page.body.get('data-last-error')})")

# The messages the logs hold: per (request id, type), as many as the more numerous of its sends
# and its receives (a send nobody logged receiving is one message; so is a receive from a
# process that does not log).
results = json.load(open(os.path.join(run, "results.json")))
for scenario in results["scenarios"]:
    name = scenario["name"]
    sends, recvs = collections.Counter(), collections.Counter()
    logs = os.path.join(run, name, "logs")
    for file in os.listdir(logs):
        for line in open(os.path.join(logs, file), encoding="utf-8", errors="replace"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("msg") != "message":
                continue
            key = (event["rid"], event["type"])
            (sends if event["ev"] == "send" else recvs)[key] += 1
    expected = sum(max(sends[k], recvs[k]) for k in set(sends) | set(recvs))
    anchor = "".join(c if c.isalnum() else "-" for c in name)
    drawn = page.drawn.get(anchor, 0)
    print(f"report-check: {name}: {expected} messages in the logs, {drawn} drawn")
    if expected == 0:
        failures.append(f"{name}: the logs hold no message (tracing is off?)")
    if drawn != expected:
        failures.append(f"{name}: the diagram draws {drawn} messages, the logs hold {expected}")
if "REPLAYED_COIN" not in page.codes.get("attack-01-replay-a-coin", set()):
    failures.append("attack-01-replay-a-coin: no arrow with REPLAYED_COIN (the rejected coin) in the diagram")
if not os.path.exists(screenshot) or os.path.getsize(screenshot) < 10000:
    failures.append(f"no screenshot at {screenshot}")
for failure in failures:
    print("report-check FAILED:", failure)
if failures:
    sys.exit(1)
print(f"report-check: passed; screenshot {screenshot}; report {run}/report.html")
EOF
