"""`make bench`: the bot's NLU quality, reply latency, training time and memory.

Runs the real trained model and action server on loopback (bot.local_stack),
prints a summary table and keeps the raw numbers in
benchmarks/results/bot.json. Nothing here asserts: figures are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import List

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import percentiles, rss_mib, table, write_results  # noqa: E402
from bot.local_stack import REPO, bot_stack  # noqa: E402
from bot.nlu_eval import evaluate, load_examples  # noqa: E402


def measure_training() -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).parent / "rasa"), "train", "--force", "--out", out,
             "--fixed-model-name", "bench"],
            cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return round(time.perf_counter() - start, 1)


def sequential_latency(url: str, texts: List[str], rounds: int) -> List[float]:
    samples = []
    with httpx.Client(timeout=30) as client:
        for i in range(rounds):
            text = texts[i % len(texts)]
            start = time.perf_counter()
            client.post(f"{url}/webhooks/rest/webhook",
                        json={"sender": f"seq-{i % 10}", "message": text}).raise_for_status()
            samples.append((time.perf_counter() - start) * 1000)
    return samples


async def concurrent_latency(url: str, texts: List[str], users: int, turns: int) -> dict:
    samples: List[float] = []

    async def user(client: httpx.AsyncClient, n: int) -> None:
        sender = f"conc-{uuid.uuid4().hex[:8]}"
        for t in range(turns):
            text = texts[(n * turns + t) % len(texts)]
            start = time.perf_counter()
            r = await client.post(f"{url}/webhooks/rest/webhook",
                                  json={"sender": sender, "message": text})
            r.raise_for_status()
            samples.append((time.perf_counter() - start) * 1000)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=users)) as c:
        start = time.perf_counter()
        await asyncio.gather(*(user(c, n) for n in range(users)))
        wall = time.perf_counter() - start
    return {**percentiles(samples), "throughput_msg_s": round(len(samples) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()

    results: dict = {"machine": {"cores": __import__("os").cpu_count()}}
    if not args.skip_training:
        print("Timing a full training run ...", flush=True)
        results["training_s"] = measure_training()

    examples = load_examples()
    texts = [t for t, _ in examples]
    with tempfile.TemporaryDirectory() as tmp, bot_stack(Path(tmp), debug=False) as bot:
        print("NLU on the held-out file ...", flush=True)
        report = evaluate(lambda t: bot.parse(t)["intent"]["name"], examples)
        results["nlu"] = report.as_dict()
        sequential_latency(bot.url, texts, 20)  # warm-up
        print("REST latency, sequential ...", flush=True)
        results["rest_sequential"] = percentiles(sequential_latency(bot.url, texts, args.rounds))
        print("REST latency, 20 concurrent conversations ...", flush=True)
        results["rest_20_concurrent"] = asyncio.run(concurrent_latency(bot.url, texts, 20, 15))
        results["memory_mib"] = {"rasa": rss_mib(bot.pid), "action_server": rss_mib(bot.action_pid)}

    seq, conc = results["rest_sequential"], results["rest_20_concurrent"]
    nlu = results["nlu"]
    rows = [
        ["measure", "value"],
        ["held-out examples", nlu["examples"]],
        ["NLU accuracy (held-out)", f"{nlu['accuracy']:.3f}"],
        ["NLU macro-F1 (held-out)", f"{nlu['macro_f1']:.3f}"],
        ["asked back (nlu_fallback)", nlu["fallback"]],
        ["REST sequential median / p95", f"{seq['median_ms']} / {seq['p95_ms']} ms"],
        ["REST 20 concurrent median / p95", f"{conc['median_ms']} / {conc['p95_ms']} ms"],
        ["throughput at 20 concurrent", f"{conc['throughput_msg_s']} msg/s"],
        ["training time", f"{results.get('training_s', '-')} s"],
        ["Rasa server memory (RSS)", f"{results['memory_mib']['rasa']} MiB"],
        ["action server memory (RSS)", f"{results['memory_mib']['action_server']} MiB"],
    ]
    print()
    print(table(rows))
    print("\nConfusions (text | expected -> predicted):")
    for c in nlu["confusions"]:
        print(f"  {c['text']} | {c['expected']} -> {c['predicted']}")
    print(f"\nRaw numbers: {write_results('bot', results)}")


if __name__ == "__main__":
    main()
