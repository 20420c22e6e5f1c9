#!/usr/bin/env python3
"""Where an online payment's time goes, from the message traces of one load run.

Run the online merchant with every message traced, then point this at the run folder:

    .build/release/quickpay load scenarios/load/one-online-merchant.yaml --trace-messages --seconds 3
    python3 scripts/payment-timeline.py runs/load-<time>/one-online-merchant [MERCHANT]

MERCHANT is the merchant's id (news-stand, that load file's, unless told).

Each payment is followed by its request id through the merchant's and the bank's logs: received
by the merchant, its verification sent (in the first batch the merchant sends after it), that
batch received and answered by the bank, the answer received by the merchant, the payment
answered. Times are the actors' own (one host, one clock); tracing adds its own cost.
"""
import json
import statistics
import sys
from datetime import datetime


def micros(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1e6


def events(path):
    with open(path) as log:
        for line in log:
            if '"msg":"message"' in line:
                event = json.loads(line)
                yield micros(event["ts"]), event["ev"], event["type"], event["rid"]


def main(folder, merchant):
    bank = {}
    for at, direction, kind, rid in events(f"{folder}/logs/bank.log"):
        if kind == "batch" and direction == "recv":
            bank.setdefault(rid, {})["recv"] = at
        if kind == "batch_reply" and direction == "send":
            bank.setdefault(rid, {})["send"] = at
    received, waiting, batch_of, answer_received = {}, [], {}, {}
    segments = {name: [] for name in ("before its verification left", "to the bank", "at the bank", "back", "to the answer", "in the merchant")}
    for at, direction, kind, rid in events(f"{folder}/logs/merchant-{merchant}.log"):
        if direction == "recv" and kind == "payment":
            received[rid] = at
            waiting.append(rid)
        elif direction == "send" and kind == "batch":
            for payment in waiting:
                batch_of[payment] = (rid, at)
            waiting = []
        elif direction == "recv" and kind == "batch_reply":
            answer_received[rid] = at
        elif direction == "send" and kind == "payment_reply" and rid in batch_of:
            batch, sent = batch_of[rid]
            if "send" not in bank.get(batch, {}) or batch not in answer_received:
                continue
            times = (received[rid], sent, bank[batch]["recv"], bank[batch]["send"], answer_received[batch], at)
            for name, value in zip(segments, [b - a for a, b in zip(times, times[1:])] + [at - received[rid]]):
                segments[name].append(value)
    count = len(segments["in the merchant"])
    if not count:
        sys.exit("no payment followed through a batch: was the run traced (--trace-messages) and online?")
    print(f"{count} payments followed")
    for name, values in segments.items():
        values.sort()
        print(f"  {name:30s} mean {statistics.mean(values):7.0f} µs   p50 {values[len(values) // 2]:7.0f}   p90 {values[int(len(values) * 0.9)]:7.0f}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "news-stand")
