"""Small helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Dict, Iterable, List

RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(samples_ms: Iterable[float]) -> Dict[str, float]:
    data = sorted(samples_ms)
    if not data:
        return {}

    def pct(p: float) -> float:
        k = max(0, min(len(data) - 1, round(p / 100 * (len(data) - 1))))
        return round(data[k], 1)

    return {
        "n": len(data),
        "median_ms": round(statistics.median(data), 1),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": round(data[-1], 1),
    }


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def rss_mib(pid: int) -> float:
    """Resident memory of a process now (its children's is not included)."""
    return round(_status_kib(pid, "VmRSS") / 1024, 1)


def peak_rss_mib(pid: int) -> float:
    """Highest resident memory of a process so far (VmHWM)."""
    return round(_status_kib(pid, "VmHWM") / 1024, 1)


def write_results(name: str, data: Dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return path


def table(rows: List[List[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
