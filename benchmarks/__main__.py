"""Run every benchmark: ``python -m benchmarks [name ...]`` (``make bench``).

Each ``benchmarks/bench_*.py`` module has a ``main()`` that measures nbdiag against the peer
library on the same data in one run, prints ratios, and writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    names = [p.stem for p in sorted(here.glob("bench_*.py"))]
    wanted = [a for a in argv if not a.startswith("-")]
    if wanted:
        unknown = [w for w in wanted if f"bench_{w}" not in names and w not in names]
        if unknown:
            print(f"unknown benchmarks {unknown}; available: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted or n.removeprefix("bench_") in wanted]
    for name in names:
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
