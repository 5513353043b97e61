"""`agentgym bench credit`: the credit-assignment benchmark (see `agentgym.bench.credit`)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from agentgym.bench.credit import (
    ALGOS,
    DEFAULT_BUDGET,
    DEFAULT_TASKS,
    QUICK_ALGOS,
    QUICK_TASKS,
    budget_from,
    run_benchmark,
    write_report,
)
from agentgym.bench.tasks import TASKS


def add_commands(subparsers: Any) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks of the library (credit assignment)")
    kinds = bench.add_subparsers(dest="bench", metavar="BENCHMARK", required=True)
    p = kinds.add_parser(
        "credit", help="train every credit estimator on small CPU tasks over several seeds; report with intervals",
        description="Trains each estimator (same tiny random-init policy, same budget) for every seed on every task, "
        "then writes OUT/results.{md,json,csv}, a plot and OUT/index.html. Each run writes "
        "OUT/runs/TASK/ALGO/seedS.json when it ends: rerunning the same command resumes, doing only missing runs.",
    )
    p.add_argument("--out", "-o", default="runs/bench-credit", help="results directory (default runs/bench-credit)")
    p.add_argument("--quick", action="store_true",
                   help=f"a CI-sized check: {', '.join(QUICK_TASKS)}, {', '.join(QUICK_ALGOS)}, 2 seeds, 2 iterations")
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), help=f"default: {' '.join(DEFAULT_TASKS)}")
    p.add_argument("--algos", nargs="+", help=f"estimators (default all: {' '.join(ALGOS)})")
    p.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 5; --quick 2)")
    p.add_argument("--iterations", type=int, help=f"iterations per run (default {DEFAULT_BUDGET.iterations})")
    p.add_argument("--groups", type=int, help=f"seed groups per iteration (default {DEFAULT_BUDGET.groups})")
    p.add_argument("--group-size", type=int, help=f"episodes per group (default {DEFAULT_BUDGET.group_size})")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (0: in this process)")
    p.add_argument("--report-only", action="store_true", help="write the report from the run files already there")
    p.set_defaults(func=cmd_credit)

    p = kinds.add_parser(
        "anchors", help="how often GiGPO step groups form under a random policy, per benchmark task (no model)",
        description="Rolls out a uniform random policy over the admissible actions in groups of episodes from one "
        "seed, as a training iteration does, and counts the steps that share a true state with another step of "
        "their group. Writes OUT/anchors.md and OUT/anchors.json.",
    )
    p.add_argument("--out", "-o", default="runs/bench-credit", help="directory for anchors.md/json")
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), help="default: all")
    p.add_argument("--groups", type=int, default=DEFAULT_BUDGET.groups)
    p.add_argument("--group-size", type=int, default=DEFAULT_BUDGET.group_size)
    p.add_argument("--iterations", type=int, default=5, help="batches of groups x group-size episodes")
    p.set_defaults(func=cmd_anchors)


def cmd_credit(args: argparse.Namespace) -> int:
    tasks = args.tasks or list(QUICK_TASKS if args.quick else DEFAULT_TASKS)
    algos = args.algos or list(QUICK_ALGOS if args.quick else ALGOS)
    n_seeds = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    if n_seeds < 1:
        raise ValueError(f"--seeds must be >= 1; got {n_seeds}")
    for name, value in (("iterations", args.iterations), ("groups", args.groups), ("group-size", args.group_size)):
        if value is not None and value < (2 if name == "group-size" else 1):
            raise ValueError(f"--{name} must be >= {2 if name == 'group-size' else 1}; got {value}")
    budget = budget_from(args.quick, iterations=args.iterations, groups=args.groups, group_size=args.group_size)
    seeds = list(range(n_seeds))
    out = Path(args.out)
    command = _command(args)
    start = time.perf_counter()
    missing = []
    if not args.report_only:
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            print("agentgym bench credit needs torch and transformers: pip install 'agentgym[train]'", file=sys.stderr)
            return 2
        missing = run_benchmark(out, tasks, algos, seeds, budget, jobs=args.jobs)
    summary = write_report(out, tasks, algos, seeds, budget, command=command)
    print((out / "results.md").read_text())
    state = "complete" if summary["complete"] else f"PARTIAL ({len(summary['missing'])} runs missing; rerun to resume)"
    print(f"{state}: {out}/results.md, results.json, results.csv, index.html ({time.perf_counter() - start:.0f} s)")
    return 1 if missing else 0


def _command(args: argparse.Namespace) -> str:
    """The command line that reruns (resumes) this benchmark, for the report."""
    words = ["agentgym", "bench", "credit", "-o", str(args.out)]
    if args.quick:
        words.append("--quick")
    for flag, value in (("--tasks", args.tasks), ("--algos", args.algos)):
        if value:
            words += [flag, *value]
    for flag, value in (("--seeds", args.seeds), ("--iterations", args.iterations), ("--groups", args.groups),
                        ("--group-size", args.group_size), ("--jobs", args.jobs)):
        if value is not None and not (flag == "--jobs" and value == 1):
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def cmd_anchors(args: argparse.Namespace) -> int:
    import json

    from agentgym.bench.tasks import anchor_survey

    if args.groups < 1 or args.group_size < 2 or args.iterations < 1:
        raise ValueError("--groups and --iterations must be >= 1 and --group-size >= 2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in args.tasks or list(TASKS):
        rows[name] = anchor_survey(TASKS[name], args.groups, args.group_size, args.iterations)
    lines = [f"Uniform random policy over the admissible actions; {args.iterations} x {args.groups} seed groups x "
             f"{args.group_size} episodes per task.", "",
             "| task | env | episode length | random success | step groups / batch | steps in groups > 1 "
             "| in groups spanning episodes | mean group size |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        t = TASKS[name]
        lines.append(f"| {name} | {t.env} {json.dumps(t.env_kwargs)} | {r['episode_length']:.1f} | {r['random_success']:.2f} "
                     f"| {r['step_groups']:.1f} | {r['anchored_share']:.2f} | {r['cross_episode_share']:.2f} "
                     f"| {r['mean_group_size']:.2f} |")
    text = "\n".join(lines) + "\n"
    (out / "anchors.md").write_text(text)
    (out / "anchors.json").write_text(json.dumps({"groups": args.groups, "group_size": args.group_size,
                                                  "iterations": args.iterations, "tasks": rows}, indent=1))
    print(text)
    return 0
