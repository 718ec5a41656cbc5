"""Ctrl-C at random moments, then resume: the stress test of issue 36 at a larger setting.

Runs ``tests/test_orphans.py``'s stress test (a real Ctrl-C from ``_thread.interrupt_main`` at a
random moment of a search with random delays at its asks, tells and training, then a rerun that
must reach the total without ever waiting and leave no trial RUNNING and no heartbeat beating)
for ``rounds=N`` rounds (default 50) on a journal file, and on PostgreSQL where
``NAS_TEST_POSTGRES_URL`` is set. Prints and saves (results/bench/orphans.json) whether every
round passed and where the Ctrl-C landed (the innermost frame of the toolkit or Optuna).

    python -m bench.orphans [rounds=50] [seed=36]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

from bench.common import ROOT, quick, save


def main() -> None:
    args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    rounds = int(args.get("rounds", 2 if quick() else 50))
    seed = int(args.get("seed", 36))
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "landed.jsonl")
        env = {**os.environ, "NAS_STRESS_ROUNDS": str(rounds), "NAS_STRESS_SEED": str(seed), "NAS_STRESS_LOG": log}
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-o", "timeout=0",
                              "tests/test_orphans.py", "-k", "random_moments"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        landed = [json.loads(line) for line in open(log)] if os.path.exists(log) else []
    print(run.stdout[-3000:])
    results = {}
    for entry in landed:
        where = Counter(entry["landed"])
        results[entry["kind"]] = {"rounds": len(entry["landed"]), "fired": len(entry["landed"]) - where["not fired"],
                                  "landed": dict(where.most_common())}
        print(f"{entry['kind']}: {len(entry['landed'])} rounds passed, Ctrl-C fired in "
              f"{results[entry['kind']]['fired']}; landed in: "
              + ", ".join(f"{k} {v}" for k, v in where.most_common()))
    passed = run.returncode == 0
    print(f"{'all passed' if passed else 'FAILED'} in {seconds:.0f} s ({rounds} rounds per storage, seed {seed})")
    save("orphans", {"command": f"python -m bench.orphans rounds={rounds} seed={seed}", "rounds": rounds,
                     "seed": seed, "passed": passed, "seconds": round(seconds, 1), "storages": results,
                     "pytest_tail": run.stdout[-1500:]})


if __name__ == "__main__":
    main()
