"""How long masking takes on long messages (issue 10: the old regex was quadratic).

Run: ``.venv/bin/python benchmarks/bench_masking.py [--max-seconds N]``

Times :func:`bot.masking.mask_sensitive` on messages of 24 000 characters and of
1 MB built the way an attacker would (many code words and digit groups, no
match at the end), plus the widget's copy (widget/src/mask.js, in Node) on the
same inputs. Nothing here asserts: speed is measured here and reported, never
asserted by a timed unit test. ``--max-seconds`` gives up on one input after
that long (the old code needed about half an hour for 1 MB).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZES = {"24 000 chars": 24_000, "1 MB": 1_000_000}

# Shapes that hurt backtracking regexes: long words containing a code word,
# long runs of digits and separators, and many keywords with no digits after.
PATTERNS = {
    "one long word of kod": "kod",
    "kod-words": "kodkodkodkod" * 10 + " ",
    "digit-groups": "1 2-3/4.5 ",
    "keywords": "pinkod ",
}


def message(pattern: str, size: int) -> str:
    """``size`` characters of ``pattern`` ending in one digit (a message with
    no digit at all is skipped at once)."""
    return (pattern * (size // len(pattern) + 1))[: size - 1] + "7"


def _time_python(text: str, out: multiprocessing.Queue[float]) -> None:
    from bot.masking import mask_sensitive

    started = time.perf_counter()
    mask_sensitive(text)
    out.put(time.perf_counter() - started)


def time_python(text: str, limit: float) -> Optional[float]:
    """Seconds for one mask_sensitive call, or None when it took over ``limit``."""
    queue: multiprocessing.Queue[float] = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_time_python, args=(text, queue))
    proc.start()
    proc.join(limit)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return None
    return queue.get()


NODE = """
import { maskSensitive } from './src/mask.js';
const [pattern, size] = [process.argv[1], Number(process.argv[2])];
const text = pattern.repeat(Math.floor(size / pattern.length) + 1).slice(0, size - 1) + "7";
const started = performance.now();
maskSensitive(text);
console.log(JSON.stringify((performance.now() - started) / 1000));
"""


def time_node(pattern: str, size: int, limit: float) -> Optional[float]:
    try:
        out = subprocess.run(
            ["node", "--input-type=module", "-e", NODE, pattern, str(size)],
            cwd=REPO / "widget", capture_output=True, text=True, timeout=limit + 5, check=True,
        ).stdout
    except subprocess.TimeoutExpired:
        return None
    return float(json.loads(out))


def fmt(seconds: Optional[float], limit: float) -> str:
    return f"> {limit:.0f} s" if seconds is None else f"{seconds * 1000:9.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--no-node", action="store_true", help="skip widget/src/mask.js")
    args = parser.parse_args()
    results: Dict[str, Dict[str, Optional[float]]] = {}
    runners: Dict[str, Callable[[str, int], Optional[float]]] = {
        "python": lambda p, n: time_python(message(p, n), args.max_seconds),
    }
    if not args.no_node:
        runners["widget (node)"] = lambda p, n: time_node(p, n, args.max_seconds)
    print(f"{'input':<28}{'size':>14}" + "".join(f"{name:>16}" for name in runners))
    for label, pattern in PATTERNS.items():
        for size_label, size in SIZES.items():
            row = {name: run(pattern, size) for name, run in runners.items()}
            results[f"{label} / {size_label}"] = row
            print(f"{label:<28}{size_label:>14}"
                  + "".join(f"{fmt(v, args.max_seconds):>16}" for v in row.values()))


if __name__ == "__main__":
    main()
