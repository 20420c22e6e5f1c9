"""Measure a Cashu mint (nutshell, PyPI `cashu==0.21.0`) doing swaps, for scripts/compare-cashu.sh.

Runs inside the venv that compare-cashu.sh makes. Two subcommands:

  serve    start the nutshell mint (its own `mint` entry point, configured by the MINT_* /
           FAKEWALLET_* environment that compare-cashu.sh sets) after adding one SQLAlchemy
           connect hook: PRAGMA synchronous=FULL on every SQLite connection. Nutshell itself
           sets only foreign_keys=ON and journal_mode=WAL (cashu/core/db.py) and leaves
           synchronous at SQLite's default; the hook makes FULL explicit, and logs the value
           read back.
  measure  setup, not timed: nutshell's wallet library mints 1-sat proofs (FakeWallet pays the
           invoices itself) in mints of <= 1,000 outputs, and one blinded 1-sat output is made
           per proof. Timed: closed loop at each concurrency (asyncio + httpx), each operation one
           POST /v1/swap with ONE input proof and ONE output; warm-up, then a measured window.
           An operation counts as a success only if the mint answers 200 with one signature.
           Ops/s = successes completed inside the window / window length; p50/p99 over them.
           Writes JSON to --out and prints it.
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import time


def serve() -> None:
    import sqlalchemy
    from sqlalchemy import event

    logged = []

    @event.listens_for(sqlalchemy.engine.Engine, "connect")
    def _full_sync(dbapi_connection, _record):
        if "sqlite" not in type(dbapi_connection).__module__.lower():
            return
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL;")
        if not logged:  # read it back once, for the record
            cursor.execute("PRAGMA synchronous;")
            value = cursor.fetchone()[0]
            print(f"cashu_swaps serve: SQLite PRAGMA synchronous = {value} (2 = FULL)", file=sys.stderr, flush=True)
            logged.append(value)
        cursor.close()

    from cashu.mint.main import main

    sys.argv = ["mint"]  # host/port come from MINT_LISTEN_HOST / MINT_LISTEN_PORT
    main()


async def make_proofs(url: str, work: str, count: int) -> tuple:
    """Mint `count` 1-sat proofs with nutshell's wallet library (not timed)."""
    from cashu.core.base import MintQuoteState
    from cashu.wallet.wallet import Wallet
    from loguru import logger

    logger.remove()  # the wallet library logs every step at DEBUG; keep warnings only
    logger.add(sys.stderr, level="WARNING")
    wallet = await Wallet.with_db(url=url, db=os.path.join(work, "wallet"), name="bench")
    await wallet.load_mint()
    proofs = []
    while len(proofs) < count:
        batch = min(1000, count - len(proofs))  # mint_max_request_length defaults to 1,000
        quote = await wallet.request_mint(batch)
        for _ in range(600):  # FakeWallet marks the invoice paid by itself
            if (await wallet.get_mint_quote(quote.quote)).state == MintQuoteState.paid:
                break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit(f"mint quote {quote.quote} was never paid")
        proofs += await wallet.mint(batch, quote_id=quote.quote, split=[1] * batch)
        print(f"  minted {len(proofs)}/{count} 1-sat proofs", file=sys.stderr, flush=True)
    return proofs, wallet.keyset_id


def swap_bodies(proofs: list, keyset_id: str) -> list:
    """One request body per proof: that proof in, one fresh blinded 1-sat output out (not timed)."""
    from cashu.core.crypto.b_dhke import step1_alice

    bodies = []
    for proof in proofs:
        B_, _r = step1_alice(secrets.token_hex(32))
        body = {"inputs": [proof.to_dict()], "outputs": [{"amount": 1, "id": keyset_id, "B_": B_.format().hex()}]}
        bodies.append(json.dumps(body).encode())
    return bodies


def percentile(sorted_values: list, p: float):
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))  # nearest rank
    return sorted_values[int(rank) - 1]


async def closed_loop(url: str, bodies: list, concurrency: int, warmup: float, seconds: float) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    latencies_us, failures, failure_samples = [], 0, []
    exhausted = False
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:
        start = time.perf_counter()
        window_start, window_end = start + warmup, start + warmup + seconds

        async def worker():
            nonlocal failures, exhausted
            while time.perf_counter() < window_end:
                if not bodies:
                    exhausted = True
                    return
                body = bodies.pop()
                sent = time.perf_counter()
                ok, why = False, ""
                try:
                    reply = await client.post("/v1/swap", content=body, headers=headers)
                    if reply.status_code == 200:
                        sigs = reply.json().get("signatures") or []
                        ok = len(sigs) == 1 and bool(sigs[0].get("C_"))
                        why = "" if ok else f"200 without one signature: {reply.text[:200]}"
                    else:
                        why = f"HTTP {reply.status_code}: {reply.text[:200]}"
                except Exception as e:  # connection error, timeout, bad JSON: a failure
                    why = f"{type(e).__name__}: {e}"
                done = time.perf_counter()
                if window_start <= done < window_end:  # only completions inside the window count
                    if ok:
                        latencies_us.append((done - sent) * 1e6)
                    else:
                        failures += 1
                        if len(failure_samples) < 5:
                            failure_samples.append(why)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies_us.sort()
    return {
        "concurrency": concurrency,
        "warmup_seconds": warmup,
        "seconds": seconds,
        "count": len(latencies_us),
        "failures": failures,
        "failure_samples": failure_samples,
        "ops_per_second": len(latencies_us) / seconds,
        "p50_us": percentile(latencies_us, 50),
        "p99_us": percentile(latencies_us, 99),
        "proofs_ran_out": exhausted,  # true: the window was cut short and ops/s understated
    }


async def measure(args) -> None:
    import cashu.core.settings as cashu_settings

    concurrencies = [int(c) for c in args.concurrency.split(",")]
    t = time.perf_counter()
    proofs, keyset_id = await make_proofs(args.url, args.work, args.proofs)
    bodies = swap_bodies(proofs, keyset_id)
    print(f"  setup: {len(bodies)} proofs and swap bodies in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    runs = []
    for i, concurrency in enumerate(concurrencies):
        quota = len(bodies) // (len(concurrencies) - i)  # a fair share of the proofs left
        pool = [bodies.pop() for _ in range(quota)]
        run = await closed_loop(args.url, pool, concurrency, args.warmup, args.seconds)
        bodies.extend(pool)  # proofs this run did not spend go to the next runs
        print(f"  concurrency {concurrency}: {run['ops_per_second']:.1f} swaps/s, {run['failures']} failures", file=sys.stderr, flush=True)
        runs.append(run)
    result = {
        "system": "nutshell",
        "cashu_version": cashu_settings.VERSION,
        "operation": "POST /v1/swap, one 1-sat input proof, one 1-sat output",
        "url": args.url,
        "proofs_minted": args.proofs,
        "runs": runs,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    if any(r["proofs_ran_out"] for r in runs):
        print("warning: the proof pool ran out during a window; raise --proofs", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the nutshell mint with SQLite synchronous=FULL")
    m = sub.add_parser("measure", help="mint proofs, then time swaps")
    m.add_argument("--url", required=True, help="the mint, e.g. http://127.0.0.1:3338")
    m.add_argument("--out", required=True, help="JSON file to write")
    m.add_argument("--work", required=True, help="folder for the wallet's database")
    m.add_argument("--concurrency", default="1,64", help="comma-separated (default 1,64)")
    m.add_argument("--warmup", type=float, default=2.0)
    m.add_argument("--seconds", type=float, default=10.0)
    m.add_argument("--proofs", type=int, default=5000,
                   help="1-sat proofs to mint, shared by the runs (default 5000: ~200 swaps/s over two 12 s runs)")
    args = parser.parse_args()
    if args.command == "serve":
        serve()
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()
