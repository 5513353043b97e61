"""The credit-assignment benchmark: its statistics, anchor-group counts, resume and report.

The end-to-end test trains the `--quick` suite's two estimators for one seed of two iterations in
this process and checks the files and the table's rows, then that a rerun redoes only a deleted
run. It never checks a figure of the results.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from agentgym.bench.credit import QUICK_BUDGET, Budget, plan, run_path, write_report
from agentgym.bench.stats import bootstrap_ci, iterations_to, paired, run_metrics
from agentgym.bench.tasks import anchor_stats, get_task
from agentgym.cli import main


def test_run_metrics_censor_runs_that_never_reach_the_threshold():
    assert iterations_to([0.1, 0.5, 0.9, 0.2], 0.8, window=1) == 3
    assert iterations_to([0.1, 0.5, 0.9, 0.2], 0.8) is None  # one good batch is not enough
    assert iterations_to([0.9, 0.1, 0.8, 0.8, 0.9], 0.8) == 1  # the first iteration averages itself
    assert iterations_to([0.1, 0.9, 0.8, 0.8, 0.9], 0.8) == 4
    m = run_metrics([0.1, 0.5, 0.9, 1.0], 0.75, budget=4, last=2)
    assert m == {"iters_to_threshold": 4.0, "reached": True, "final_success": 0.95, "auc": pytest.approx(0.625)}
    never = run_metrics([0.0, 0.2], 0.8, budget=4)
    assert never["iters_to_threshold"] == 5.0 and not never["reached"]
    assert never["auc"] == pytest.approx(0.05)  # missing iterations count as 0


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [0.2, 0.4, 0.9, 0.5, 0.6]
    lo, hi = bootstrap_ci(values)
    assert lo < sum(values) / 5 < hi
    assert bootstrap_ci(values) == (lo, hi)
    assert bootstrap_ci([0.3, 0.3, 0.3]) == (pytest.approx(0.3), pytest.approx(0.3))


def test_paired_difference_counts_better_seeds_by_direction():
    algo, base = {0: 5.0, 1: 7.0, 2: 9.0}, {0: 6.0, 1: 9.0, 2: 9.0, 3: 1.0}
    d = paired(algo, base, lower_is_better=True)
    assert d["n"] == 3 and d["mean"] == pytest.approx(-1.0) and (d["better"], d["worse"]) == (2, 0)
    assert paired(algo, base)["better"] == 0 and paired({5: 1.0}, base) is None


def _traj(group, hashes, failed=None):
    return SimpleNamespace(group=group, failed=failed, rewards=[0.0] * len(hashes),
                           infos=[{"state_hash": h} for h in hashes] + [{"state_hash": "end"}])


def test_anchor_stats_count_step_groups_per_seed_group():
    stats = anchor_stats([_traj(0, ["a", "b", "a"]), _traj(0, ["a", "c"]), _traj(1, ["a"]), _traj(1, ["x"], "boom")])
    # groups: (0,a) x3 over two episodes, (0,b), (0,c), (1,a): 6 steps, 4 step groups
    assert stats["steps"] == 6 and stats["step_groups"] == 4
    assert stats["anchored_share"] == pytest.approx(3 / 6)
    assert stats["cross_episode_share"] == pytest.approx(3 / 6)
    assert stats["mean_group_size"] == pytest.approx(1.5)


def test_unknown_task_and_estimator_fail_with_the_choices(tmp_path, capsys):
    with pytest.raises(ValueError, match="keydoor5"):
        get_task("nope")
    assert main(["bench", "credit", "--algos", "ppo", "-o", str(tmp_path)]) == 2
    assert "unknown estimator(s) ppo for the benchmark; choose from grpo, rloo" in capsys.readouterr().err


def test_report_marks_missing_runs_partial(tmp_path):
    budget = Budget(iterations=3)
    path = run_path(tmp_path, "keydoor5", "grpo", 0)
    path.parent.mkdir(parents=True)
    history = [{"iteration": k + 1, "success": s, "steps": 10, "anchored_share": 0.5, "cross_episode_share": 0.4,
                "mean_group_size": 2.0, "invalid_share": bad} for k, (s, bad) in enumerate([(0.0, 0.9), (0.5, 0.3), (1.0, 0.0)])]
    path.write_text(json.dumps({"task": "keydoor5", "algo": "grpo", "seed": 0, "budget_key": budget.key(),
                                "history": history, "cpu_s": 1.0}))
    summary = write_report(tmp_path, ["keydoor5"], ["grpo", "gigpo"], [0, 1], budget)
    assert not summary["complete"]
    assert {(m["algo"], m["seed"]) for m in summary["missing"]} == {("grpo", 1), ("gigpo", 0), ("gigpo", 1)}
    text = (tmp_path / "results.md").read_text()
    assert text.startswith("**PARTIAL**") and "keydoor5/gigpo" in text
    assert summary["cells"][0]["iters_to_threshold"]["mean"] == 3.0  # (0 + 0.5 + 1) / 3 reaches keydoor5's 0.5
    assert summary["cells"][0]["final_invalid"]["mean"] == pytest.approx(0.4)  # (0.9 + 0.3 + 0) / 3
    assert "| keydoor5 | grpo | 1/1 | 3.0 [3.0, 3.0] | 0.50 [0.50, 0.50] | 0.500 [0.500, 0.500] | 0.40 [0.40, 0.40] |" in text
    with pytest.raises(ValueError, match="another budget"):
        plan(tmp_path, ["keydoor5"], ["grpo"], [0], Budget(iterations=4))


@pytest.mark.timeout(400)
def test_quick_benchmark_writes_its_table_and_resumes(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    args = ["bench", "credit", "--quick", "--seeds", "1", "--jobs", "0", "-o", str(tmp_path)]
    assert main(args) == 0
    text = (tmp_path / "results.md").read_text()
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| keydoor5 |")]
    assert [row[2].strip() for row in rows if len(row) == 12] == ["grpo", "gigpo"]  # the results table
    assert any(len(row) == 9 for row in rows)  # the anchor-group table
    result = json.loads((tmp_path / "results.json").read_text())
    assert result["complete"] and len(result["cells"]) == 2 and "keydoor5" in result["anchors"]
    assert (tmp_path / "results.csv").exists() and (tmp_path / "index.html").exists()
    run = json.loads(run_path(tmp_path, "keydoor5", "gigpo", 0).read_text())
    assert len(run["history"]) == QUICK_BUDGET.iterations and run["history"][0]["steps"] > 0
    kept, redo = run_path(tmp_path, "keydoor5", "grpo", 0), run_path(tmp_path, "keydoor5", "gigpo", 0)
    before = kept.stat().st_mtime_ns
    redo.unlink()
    assert main(args) == 0
    assert redo.exists() and kept.stat().st_mtime_ns == before


def test_anchor_survey_writes_its_table(tmp_path):
    args = ["bench", "anchors", "--tasks", "keydoor5", "--groups", "2", "--group-size", "2", "--iterations", "1",
            "-o", str(tmp_path)]
    assert main(args) == 0
    survey = json.loads((tmp_path / "anchors.json").read_text())["tasks"]["keydoor5"]
    assert survey["steps"] > 0 and 0.0 <= survey["anchored_share"] <= 1.0 and 0.0 <= survey["random_success"] <= 1.0
    assert "| keydoor5 |" in (tmp_path / "anchors.md").read_text()
    assert main(args[:2] + ["--group-size", "1", "-o", str(tmp_path)]) == 2


def test_alfworld_task_prompts_numbered_actions_and_trains_on_choices():
    from agentgym.bench.credit import DEFAULT_BUDGET, train_config

    config = train_config(get_task("alfworld-pick-small"), "grpo", 0, DEFAULT_BUDGET, "/tmp/unused")
    assert (config.format, config.list_actions, config.show_task, config.max_new_tokens) == ("choice", True, True, 1)
    keydoor = train_config(get_task("keydoor5"), "grpo", 0, DEFAULT_BUDGET, "/tmp/unused")
    assert (keydoor.format, keydoor.list_actions, keydoor.show_task) == ("plain", False, False)
