"""The credit-assignment benchmark: every estimator, same policy, same budget, several seeds.

Each run trains the trainer of `agentgym.train` (`Trainer.step`) with one estimator on one task
(`agentgym.bench.tasks`) from a random-init tiny transformer (`random:tiny`, ~1.4M parameters,
a word-level vocabulary, one-word answers, the current observation as the whole prompt; on
ALFWorld the task, the observation and the numbered admissible actions, answered by a number), as
`tests/train/test_train_learning.py` does. A run of seed s uses seed s for the weights, the
sampling and the env seeds, so estimators are paired by seed. Per run it records the sampled
success of every iteration and the anchor-group statistics of its rollouts, in
`OUT/runs/TASK/ALGO/seedS.json` (written when the run ends, so an interrupted benchmark
restarts only the runs without a file). The report (`write_report`)
gives per task and estimator: iterations to the task's success threshold, final success, area
under the success curve, each as a mean over seeds with a percentile-bootstrap 95% interval,
and the paired difference to GRPO over the same seeds.

MARS runs its advantage arithmetic (thu-nics/MARS's turn-level return to go with its
normalisations) over the agent's turns as one seat: the tasks are single-agent, so there is no
self-play. HiPER runs with the one-word format, so no turn writes `<switch>`: a missing switch is
KEEP (HiPER-agent's `hier_mask.py`), so each episode is one segment; its value heads still train.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agentgym.bench.tasks import TASKS, BenchTask, anchor_stats, get_task

logger = logging.getLogger(__name__)

#: Estimators the benchmark trains (MARS over one seat; see the module docstring).
ALGOS: tuple[str, ...] = ("grpo", "rloo", "gigpo", "hgpo", "hiper", "mars", "spa", "salt", "mcgrpo")
BASELINE = "grpo"


@dataclass(frozen=True)
class Budget:
    """What every run gets: iterations x groups x group_size episodes, the same policy and update."""

    iterations: int = 15
    groups: int = 4
    group_size: int = 4
    lr: float = 1e-3
    mini_batch_size: int = 32
    train: dict[str, Any] = field(default_factory=dict)
    """Other `TrainConfig` fields (kl_coef, invalid_penalty, ...) shared by every run."""

    def key(self) -> str:
        """A short fingerprint: run files of another budget are not mixed into a report."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


DEFAULT_BUDGET = Budget()
QUICK_BUDGET = Budget(iterations=2, groups=2, group_size=2, mini_batch_size=32)
QUICK_TASKS = ("keydoor5",)
QUICK_ALGOS = ("grpo", "gigpo")
DEFAULT_TASKS = tuple(TASKS)


def train_config(task: BenchTask, algo: str, seed: int, budget: Budget, output_dir: str) -> Any:
    """The `TrainConfig` of one run (the tiny policy of the trainer's learning test)."""
    from agentgym.train.config import TrainConfig

    values: dict[str, Any] = dict(
        algo=algo, env=task.env, env_kwargs=dict(task.env_kwargs), model="random:tiny", tokenizer="words",
        format="plain", intro="", history=0, list_actions=False, show_task=False, max_new_tokens=1,
        groups=budget.groups, group_size=budget.group_size, iterations=budget.iterations, seed=seed,
        lr=budget.lr, kl_coef=0.0, mini_batch_size=budget.mini_batch_size, micro_batch_size=budget.mini_batch_size,
        output_dir=output_dir, save_every=0, torch_threads=1,
    )
    values.update(task.train)
    values.update(budget.train)
    return TrainConfig(**values)


def run_path(out: Path, task: str, algo: str, seed: int) -> Path:
    return Path(out) / "runs" / task / algo / f"seed{seed}.json"


def run_one(task: BenchTask, algo: str, seed: int, budget: Budget, out: Path) -> dict[str, Any]:
    """Train one run and write its result file (atomically); returns the result."""
    import shutil
    import tempfile

    import torch

    from agentgym.train.trainer import Trainer

    class _Recording(Trainer):
        """The trainer, keeping the anchor statistics of each rollout."""

        anchors: dict[str, float] = {}

        def rollout(self, seeds: list[int]) -> list[Any]:
            trajectories = super().rollout(seeds)
            self.anchors = anchor_stats(trajectories)
            return trajectories

    torch.set_num_threads(1)
    scratch = tempfile.mkdtemp(prefix="agentgym-bench-")
    wall, cpu = time.perf_counter(), time.process_time()
    history = []
    trainer = _Recording(train_config(task, algo, seed, budget, scratch))
    try:
        while trainer.iteration < budget.iterations:
            metrics = trainer.step()
            history.append({
                "iteration": metrics["iteration"], "success": metrics["success"], "return": metrics["return"],
                "length": metrics["length"], "invalid_share": metrics["invalid_share"], **trainer.anchors,
            })
    finally:
        trainer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "task": task.name, "algo": algo, "seed": seed, "budget_key": budget.key(), "budget": asdict(budget),
        "env": task.env, "env_kwargs": task.env_kwargs, "threshold": task.threshold, "history": history,
        "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
    }
    path = run_path(out, task.name, algo, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)
    logger.info("%s %s seed %d: final success %.2f (%.0f s)", task.name, algo, seed, history[-1]["success"],
                result["wall_s"])
    return result


def plan(out: Path, tasks: list[str], algos: list[str], seeds: list[int], budget: Budget) -> list[tuple[str, str, int]]:
    """The runs still missing (no result file). A result file of another budget is an error."""
    missing = []
    for task in tasks:  # seed-major: a benchmark cut short leaves every estimator with the same seeds
        for seed in seeds:
            for algo in algos:
                path = run_path(out, task, algo, seed)
                if not path.exists():
                    missing.append((task, algo, seed))
                    continue
                try:
                    key = json.loads(path.read_text()).get("budget_key")
                except (OSError, json.JSONDecodeError):
                    logger.warning("%s is unreadable; it will be rerun", path)
                    missing.append((task, algo, seed))
                    continue
                if key != budget.key():
                    raise ValueError(f"{path} was run with another budget ({key} != {budget.key()}); "
                                     "use another --out directory or the same budget flags to resume")
    return missing


def run_benchmark(out: Path, tasks: list[str], algos: list[str], seeds: list[int], budget: Budget,
                  jobs: int = 1) -> list[tuple[str, str, int]]:
    """Run every missing run; returns the runs that are still missing afterwards (failures).

    `jobs` 0 runs them in this process; otherwise in `jobs` worker processes
    (`python -m agentgym.bench.worker`), each taking every jobs-th run of the plan.
    """
    for name in tasks:
        get_task(name)
    unknown = sorted(set(algos) - set(ALGOS))
    if unknown:
        raise ValueError(f"unknown estimator(s) {', '.join(unknown)} for the benchmark; choose from {', '.join(ALGOS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = plan(out, tasks, algos, seeds, budget)
    logger.info("%d of %d runs to do", len(todo), len(tasks) * len(algos) * len(seeds))
    if jobs <= 0:
        for task, algo, seed in todo:
            run_one(get_task(task), algo, seed, budget, out)
    elif todo:
        procs = []
        for j in range(min(jobs, len(todo))):
            name = f"worker{j}-{os.getpid()}"  # two benchmarks may share OUT (on other tasks)
            spec = out / f"{name}.json"
            spec.write_text(json.dumps({"out": str(out), "budget": asdict(budget), "runs": todo[j::jobs]}))
            log = open(out / f"{name}.log", "a")
            procs.append((subprocess.Popen([sys.executable, "-m", "agentgym.bench.worker", str(spec)],
                                           stdout=log, stderr=subprocess.STDOUT), log, spec))
        try:
            for proc, _, _ in procs:
                proc.wait()
        finally:
            for proc, log, spec in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
                log.close()
                spec.unlink(missing_ok=True)
    return plan(out, tasks, algos, seeds, budget)


# ---- report -------------------------------------------------------------------------------------
def load_runs(out: Path, budget: Budget | None = None) -> list[dict[str, Any]]:
    runs = []
    for path in sorted((Path(out) / "runs").glob("*/*/seed*.json")):
        try:
            run = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("%s is unreadable; skipped", path)
            continue
        if budget is None or run.get("budget_key") == budget.key():
            runs.append(run)
    return runs


def summarize_runs(runs: list[dict[str, Any]], tasks: list[str], algos: list[str], seeds: list[int],
                   budget: Budget) -> dict[str, Any]:
    """Per task and estimator: metrics with bootstrap intervals, paired differences to GRPO,
    the mean success curve; per task: anchor-group statistics; and the missing cells."""
    from agentgym.bench.stats import paired, run_metrics, summarize

    by = {(r["task"], r["algo"], r["seed"]): r for r in runs}
    metric_names = ("iters_to_threshold", "final_success", "auc")
    cells, anchors, missing = [], {}, []
    for task in tasks:
        t = get_task(task)
        per_algo: dict[str, dict[int, dict[str, Any]]] = {}
        for algo in algos:
            per_seed = {}
            for seed in seeds:
                run = by.get((task, algo, seed))
                if run is None:
                    missing.append({"task": task, "algo": algo, "seed": seed})
                    continue
                per_seed[seed] = run_metrics([h["success"] for h in run["history"]], t.threshold, budget.iterations)
            per_algo[algo] = per_seed
        for algo in algos:
            per_seed = per_algo[algo]
            if not per_seed:
                continue
            cell: dict[str, Any] = {"task": task, "algo": algo, "seeds": sorted(per_seed),
                                    "reached": sum(bool(m["reached"]) for m in per_seed.values())}
            for name in metric_names:
                cell[name] = summarize([m[name] for m in per_seed.values()])
                if algo != BASELINE and per_algo.get(BASELINE):
                    cell[f"{name}_vs_{BASELINE}"] = paired(
                        {s: m[name] for s, m in per_seed.items()},
                        {s: m[name] for s, m in per_algo[BASELINE].items()},
                        lower_is_better=name == "iters_to_threshold",
                    )
            histories = [by[(task, algo, s)]["history"] for s in sorted(per_seed)]
            cell["final_invalid"] = summarize([sum(h.get("invalid_share", 0.0) for h in hist[-3:]) / len(hist[-3:])
                                               for hist in histories])
            curves = [[h["success"] for h in hist] for hist in histories]
            cell["curve"] = [sum(c[k] for c in curves) / len(curves) for k in range(min(map(len, curves)))]
            cell["cpu_s"] = sum(by[(task, algo, s)]["cpu_s"] for s in per_seed) / len(per_seed)
            cells.append(cell)
        rows = [h for (tk, _, _), r in by.items() if tk == task for h in r["history"]]
        firsts = [r["history"][0] for (tk, _, _), r in by.items() if tk == task and r["history"]]
        if rows:
            anchors[task] = {
                "runs": len(firsts),
                **{f"{key}_iter1": sum(h.get(key, 0.0) for h in firsts) / len(firsts)
                   for key in ("anchored_share", "cross_episode_share", "mean_group_size")},
                **{f"{key}_all": sum(h.get(key, 0.0) for h in rows) / len(rows)
                   for key in ("anchored_share", "cross_episode_share", "mean_group_size")},
                "steps_per_iteration": sum(h.get("steps", 0) for h in rows) / len(rows),
                "invalid_share_iter1": sum(h.get("invalid_share", 0.0) for h in firsts) / len(firsts),
                "invalid_share_all": sum(h.get("invalid_share", 0.0) for h in rows) / len(rows),
            }
    return {"budget": asdict(budget), "budget_key": budget.key(), "tasks": {n: asdict(get_task(n)) for n in tasks},
            "algos": list(algos), "seeds": list(seeds), "cells": cells, "anchors": anchors,
            "missing": missing, "complete": not missing}


def _fmt(summary: dict[str, Any] | None, digits: int = 2) -> str:
    if not summary:
        return "-"
    lo, hi = summary["ci"]
    return f"{summary['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def markdown(summary: dict[str, Any]) -> str:
    """The results table (and the anchor-group table) as markdown."""
    b = summary["budget"]
    lines = []
    if not summary["complete"]:
        cells = sorted({(m["task"], m["algo"]) for m in summary["missing"]})
        lines += [f"**PARTIAL**: {len(summary['missing'])} runs missing, in "
                  + ", ".join(f"{t}/{a}" for t, a in cells) + ".", ""]
    lines += [
        f"Budget per run: {b['iterations']} iterations x {b['groups']} groups x {b['group_size']} episodes, "
        f"lr {b['lr']}, mini-batch {b['mini_batch_size']} turns; seeds {summary['seeds']}. "
        "Mean over seeds [bootstrap 95% interval]. Iterations to threshold: until the mean success of the "
        f"last 3 iterations reaches the task's threshold; a run that never got there counts as {b['iterations'] + 1}. "
        "Final success: mean of the last 3 iterations. AUC: mean success over all iterations. "
        "Final invalid: share of invalid answers in the last 3 iterations. "
        f"Delta = estimator - {BASELINE} on the same seeds "
        "(better/worse seeds in brackets after it).", "",
        "| task | estimator | reached | iters to threshold | final success | AUC | final invalid | d iters vs grpo "
        "| d final vs grpo | d AUC vs grpo |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in summary["cells"]:
        deltas = []
        for name, digits in (("iters_to_threshold", 1), ("final_success", 2), ("auc", 3)):
            d = c.get(f"{name}_vs_{BASELINE}")
            deltas.append(f"{_fmt(d, digits)} ({d['better']}+/{d['worse']}-)" if d else "-")
        lines.append(f"| {c['task']} | {c['algo']} | {c['reached']}/{len(c['seeds'])} | "
                     f"{_fmt(c['iters_to_threshold'], 1)} | {_fmt(c['final_success'])} | {_fmt(c['auc'], 3)} | "
                     f"{_fmt(c.get('final_invalid'))} | "
                     + " | ".join(deltas) + " |")
    lines += ["", "Anchor groups (GiGPO step groups: same seed group, same true state) in the rollouts of all runs:", "",
              "| task | threshold | steps/iteration | steps in groups > 1 (iter 1 / all) | in groups spanning episodes "
              "(iter 1 / all) | mean group size (iter 1 / all) | invalid actions (iter 1 / all) |",
              "|---|---|---|---|---|---|---|"]
    for task, a in summary["anchors"].items():
        lines.append(f"| {task} | {summary['tasks'][task]['threshold']} | {a['steps_per_iteration']:.0f} | "
                     f"{a['anchored_share_iter1']:.2f} / {a['anchored_share_all']:.2f} | "
                     f"{a['cross_episode_share_iter1']:.2f} / {a['cross_episode_share_all']:.2f} | "
                     f"{a['mean_group_size_iter1']:.2f} / {a['mean_group_size_all']:.2f} | "
                     f"{a['invalid_share_iter1']:.2f} / {a['invalid_share_all']:.2f} |")
    return "\n".join(lines) + "\n"


def write_csv(summary: dict[str, Any], path: Path) -> None:
    import csv

    names = ("iters_to_threshold", "final_success", "auc")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        header = ["task", "algo", "seeds", "reached"]
        for n in names:
            header += [n, f"{n}_lo", f"{n}_hi", f"{n}_vs_{BASELINE}", f"{n}_vs_{BASELINE}_lo", f"{n}_vs_{BASELINE}_hi"]
        w.writerow(header + ["final_invalid", "final_invalid_lo", "final_invalid_hi"])
        for c in summary["cells"]:
            row = [c["task"], c["algo"], len(c["seeds"]), c["reached"]]
            for n in names:
                d = c.get(f"{n}_vs_{BASELINE}") or {"mean": "", "ci": ["", ""]}
                row += [c[n]["mean"], *c[n]["ci"], d["mean"], *d["ci"]]
            w.writerow(row + [c["final_invalid"]["mean"], *c["final_invalid"]["ci"]])


def write_plot(summary: dict[str, Any], out: Path) -> Path:
    """Mean success curves per task: PNG with matplotlib (`agentgym[bench]`), else SVG."""
    tasks = list(summary["anchors"]) or list(summary["tasks"])
    algos = summary["algos"]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _write_svg(summary, tasks, algos, out / "curves.svg")
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for c in summary["cells"]:
            if c["task"] == task:
                ax.plot(range(1, len(c["curve"]) + 1), c["curve"], label=c["algo"], lw=1.4)
        ax.axhline(summary["tasks"][task]["threshold"], color="grey", ls=":", lw=1)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylim(-0.02, 1.02)
    axes[0][0].set_ylabel(f"success (mean of {len(summary['seeds'])} seeds)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out / "curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def _write_svg(summary: dict[str, Any], tasks: list[str], algos: list[str], path: Path) -> Path:
    w, h, pad = 300, 220, 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * len(tasks)}" height="{h + 20 * ((len(algos) + 3) // 4)}" '
             'font-family="sans-serif" font-size="10">']
    for i, task in enumerate(tasks):
        x0 = i * w
        parts.append(f'<text x="{x0 + w / 2}" y="14" text-anchor="middle">{task}</text>')
        parts.append(f'<rect x="{x0 + pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#999"/>')
        for c in summary["cells"]:
            if c["task"] != task or not c["curve"]:
                continue
            n = max(len(c["curve"]) - 1, 1)
            points = " ".join(f"{x0 + pad + (w - 2 * pad) * k / n:.1f},{h - pad - (h - 2 * pad) * v:.1f}"
                              for k, v in enumerate(c["curve"]))
            color = _COLORS[algos.index(c["algo"]) % len(_COLORS)]
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>')
    for j, algo in enumerate(algos):
        x, y = 10 + 80 * (j % 4), h + 5 + 20 * (j // 4)
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{_COLORS[j % len(_COLORS)]}"/>'
                     f'<text x="{x + 14}" y="{y + 9}">{algo}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))
    return path


def write_report(out: Path, tasks: list[str], algos: list[str], seeds: list[int], budget: Budget,
                 command: str = "") -> dict[str, Any]:
    """Write results.json, results.csv, results.md, the plot and index.html into `out`."""
    import html

    out = Path(out)
    summary = summarize_runs(load_runs(out, budget), tasks, algos, seeds, budget)
    summary["command"] = command
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    write_csv(summary, out / "results.csv")
    table = markdown(summary)
    (out / "results.md").write_text(f"# Credit-assignment benchmark\n\n`{command}`\n\n{table}" if command else table)
    plot = write_plot(summary, out)
    body = "\n".join(f"<tr>{''.join(f'<td>{html.escape(x.strip())}</td>' for x in line.strip('|').split('|'))}</tr>"
                     for line in table.splitlines() if line.startswith("|") and not line.startswith("|---"))
    notes = "".join(f"<p>{html.escape(line)}</p>" for line in table.splitlines() if line and not line.startswith("|"))
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>agentgym credit-assignment benchmark</title>"
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}td{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
        f"<h1>Credit-assignment benchmark</h1><p><code>{html.escape(command)}</code></p>{notes}"
        f"<img src='{plot.name}' alt='mean success curves'><table>{body}</table>\n")
    return summary


def budget_from(quick: bool, **overrides: Any) -> Budget:
    base = QUICK_BUDGET if quick else DEFAULT_BUDGET
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


__all__ = ["ALGOS", "TASKS", "Budget", "run_benchmark", "run_one", "summarize_runs", "write_report"]
