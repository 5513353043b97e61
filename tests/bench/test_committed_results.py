"""The committed credit benchmark (baselines/credit-benchmark) covers every task and estimator.

No training here: the test reads the committed report and run files, so adding a task or an
estimator without running it (or committing a report of another budget) fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path

from agentgym.bench.credit import ALGOS, DEFAULT_BUDGET, DEFAULT_TASKS, load_runs
from agentgym.bench.tasks import TASKS

COMMITTED = Path(__file__).resolve().parents[2] / "baselines" / "credit-benchmark"


def test_committed_table_covers_every_task_and_estimator_with_five_seeds():
    report = json.loads((COMMITTED / "results.json").read_text())
    assert report["complete"] and report["budget_key"] == DEFAULT_BUDGET.key()
    assert set(DEFAULT_TASKS) == set(TASKS) == set(report["tasks"])
    assert report["algos"] == list(ALGOS) and len(report["seeds"]) >= 5
    cells = {(c["task"], c["algo"]): c for c in report["cells"]}
    assert set(cells) == {(t, a) for t in TASKS for a in ALGOS}
    for cell in cells.values():
        assert cell["seeds"] == report["seeds"]
        lo, hi = cell["auc"]["ci"]
        assert lo <= cell["auc"]["mean"] <= hi
    runs = {(r["task"], r["algo"], r["seed"]) for r in load_runs(COMMITTED, DEFAULT_BUDGET)}
    assert {(t, a, s) for t in TASKS for a in ALGOS for s in report["seeds"]} <= runs
    for task in TASKS:  # the run files hold the task as it is defined now
        run = json.loads((COMMITTED / "runs" / task / "grpo" / "seed0.json").read_text())
        assert run["env_kwargs"] == TASKS[task].env_kwargs and run["threshold"] == TASKS[task].threshold
