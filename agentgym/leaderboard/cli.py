"""`agentgym eval`, `agentgym leaderboard {submit,show,export}` and `agentgym suite`.

Each command function takes the argparse Namespace and returns an exit code; bad input raises
`ValueError` / `FileNotFoundError` with a clear message (the main CLI prints it as one line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from agentgym.core.terminal import escape_control
from agentgym.leaderboard.boards import Board, board_for_results, find_board, load_boards
from agentgym.leaderboard.results import DEFAULT_SPLIT, FORMAT, RunResults, load_results, split_kwargs

DEFAULT_EPISODES = 10
BASELINE_AGENTS = "random,expert"


def add_commands(subparsers: Any) -> None:
    """Add `eval`, `leaderboard` and `suite` to the `agentgym` command."""
    from agentgym.agents import AGENTS

    p = subparsers.add_parser("eval", help="evaluate an agent on an env and split; write a results file")
    p.add_argument("--agent", required=True, choices=sorted(AGENTS), help="which agent plays")
    p.add_argument("--agent-kwargs", default="", help="agent kwargs as key=value,key=value (e.g. seed=3)")
    p.add_argument("--model", default=None,
                   help="llm agent: smollm2-135m (embedded), a local path, or http://HOST:PORT/v1 (OpenAI-compatible server)")
    p.add_argument("--env", required=True, help="environment id, e.g. Sokoban-v0")
    p.add_argument("--split", default=DEFAULT_SPLIT, help="split (passed as split= unless 'default')")
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: the board's, else 10)")
    p.add_argument("--first-seed", type=int, default=None, help="first seed (default: the board's, else 0)")
    p.add_argument("--env-kwargs", default="", help="extra env kwargs key=value,... (off-board experiments)")
    p.add_argument("-o", "--output", required=True, help="results file to write (resumes a partial run)")
    p.add_argument("--boards", default=None, help="board definitions directory (default: the boards shipped in the package)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)

    board = subparsers.add_parser("leaderboard", help="submit verified results, show and export boards")
    commands = board.add_subparsers(dest="leaderboard_command", metavar="COMMAND", required=True)

    p = commands.add_parser("submit", help="replay-verify results files and store them")
    p.add_argument("files", nargs="+", help="results files, or directories searched for them")
    _store_args(p)
    p.add_argument("--no-replay", action="store_true", help="store without replaying (marked unverified)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_submit)

    p = commands.add_parser("show", help="ranked tables in the terminal")
    p.add_argument("board_id", nargs="?", help="a board (Sokoban-v0/default) or an env id (all its boards)")
    _store_args(p)
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("export", help="a static HTML page with the tables and plots")
    p.add_argument("--html", required=True, metavar="DIR", help="directory to write index.html into")
    p.add_argument("--metrics", nargs="*", default=[], metavar="FILE", help="training metrics JSONL files for learning curves")
    _store_args(p)
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("suite", help="eval -> submit -> show for the baselines on every importable board")
    p.add_argument("--agents", default=BASELINE_AGENTS, help=f"comma-separated agents (default {BASELINE_AGENTS})")
    p.add_argument("--llm", action="store_true", help="also evaluate the llm agent (slow on CPU)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--episodes", type=int, default=None, help="cut every board to its first N episodes (a smoke board ID@N)")
    size.add_argument("--full", action="store_true",
                      help="play whole boards; by default a board with a slow opponent is cut to its suite_episodes")
    p.add_argument("--env", action="append", default=None, help="only boards of this env id (repeatable)")
    p.add_argument("--runs", default=None, help="directory for the results files (default: beside the database)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _store_args(p)
    p.set_defaults(func=cmd_suite)


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None, help="SQLite path or SQLAlchemy URL (default $AGENTGYM_LEADERBOARD_DB or ~/.agentgym/leaderboard.db)")
    p.add_argument("--boards", default=None, help="board definitions directory (default: the boards shipped in the package)")


def _progress_bar(total: int, description: str, disable: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="ep", disable=disable, file=sys.stderr, dynamic_ncols=True)


def _parse_kwargs(text: str) -> dict[str, Any]:
    from agentgym.cli import parse_kwargs

    return parse_kwargs(text)


def _boards(args: argparse.Namespace) -> list[Board]:
    return load_boards(args.boards)


# ---- eval -------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from agentgym.agents import make_agent
    from agentgym.leaderboard.runner import evaluate

    board = None
    try:
        board = find_board(_boards(args), args.env, args.split)
    except FileNotFoundError:
        if args.boards is not None:
            raise
    episodes = args.episodes if args.episodes is not None else (board.episodes if board else DEFAULT_EPISODES)
    first_seed = args.first_seed if args.first_seed is not None else (board.first_seed if board else 0)
    if episodes < 1 or first_seed < 0:
        raise ValueError(f"--episodes must be >= 1 and --first-seed >= 0, got {episodes} and {first_seed}")
    if Path(args.output).is_dir():
        raise ValueError(f"-o {args.output!r} is a directory; name a results file, e.g. -o {Path(args.output) / 'run.json'}")
    env_kwargs = dict(board.env_kwargs) if board else split_kwargs(args.split)
    env_kwargs.update(_parse_kwargs(args.env_kwargs))
    agent_kwargs = _parse_kwargs(args.agent_kwargs)
    if args.model is not None:
        if args.agent != "llm":
            raise ValueError(f"--model is for --agent llm; agent {args.agent!r} has no model")
        agent_kwargs["model"] = args.model
    if args.agent == "llm":
        agent_kwargs.setdefault("env", args.env)  # the family's prompt and output format
    agent = make_agent(args.agent, **agent_kwargs)
    try:
        with _progress_bar(episodes, f"{args.env}/{args.split} {args.agent}", args.no_progress) as bar:
            results = evaluate(args.env, args.split, agent, range(first_seed, first_seed + episodes),
                               env_kwargs=env_kwargs, output=args.output, progress=bar.update)
    except KeyboardInterrupt:
        from agentgym.leaderboard.runner import partial_path

        sidecar = partial_path(args.output)
        done = max(0, len(sidecar.read_text(encoding="utf-8").splitlines()) - 1) if sidecar.exists() else 0
        if done:
            print(f"\n{done} finished episodes are kept in {sidecar}; run the same command to resume", file=sys.stderr)
        raise
    print(_summary_line(results) + f"  -> {args.output}")
    smoke = board.first(episodes) if board is not None else None
    if smoke is not None and smoke.limited and (first_seed, env_kwargs) == (board.first_seed, board.env_kwargs):
        print(f"note: this run ranks on the smoke board {smoke.id} (the first {episodes} of {board.episodes} seeds)")
    elif board is not None and (episodes, first_seed, env_kwargs) != (board.episodes, board.first_seed, board.env_kwargs):
        print(f"note: board {board.id} ranks seeds {board.seeds[0]}..{board.seeds[-1]} with env_kwargs "
              f"{board.env_kwargs}; this run will not be accepted there")
    return 0


def _summary_line(results: RunResults) -> str:
    from agentgym.leaderboard.stats import wilson_interval

    low, high = wilson_interval(results.successes, len(results.episodes))
    return (f"{results.env_id}/{results.split} {results.agent_name}: success {100 * results.success_rate:.1f}% "
            f"[{100 * low:.1f}, {100 * high:.1f}] over {len(results.episodes)} episodes, "
            f"mean return {results.mean_return:.3f}, mean steps {results.mean_steps:.1f}")


# ---- submit -----------------------------------------------------------------------------------


def _results_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                try:
                    with open(candidate, encoding="utf-8") as handle:
                        head = handle.read(200)
                except OSError:
                    continue
                if f'"format": "{FORMAT}"' in head or f'"format":"{FORMAT}"' in head:
                    files.append(candidate)
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"results file {name!r} does not exist (write one with `agentgym eval ... -o FILE`)")
    if not files:
        raise FileNotFoundError(f"no results files under {paths}")
    return files


def cmd_submit(args: argparse.Namespace) -> int:
    from agentgym.leaderboard.store import DuplicateSubmissionError, Store
    from agentgym.leaderboard.submission import submit

    files = _results_files(args.files)
    boards = _boards(args)
    single = len(files) == 1 and not Path(args.files[0]).is_dir()
    rejected = 0
    with Store(args.db) as store:
        for path in files:
            try:
                results = load_results(path)
                board = board_for_results(boards, results)
                with _progress_bar(len(results.episodes), f"replay {path.name}", args.no_progress or args.no_replay) as bar:
                    entry = submit(results, board, store, replay=not args.no_replay, progress=bar.update)
            except DuplicateSubmissionError as error:
                if single:
                    raise ValueError(f"{path}: rejected: {error}") from None
                print(escape_control(f"duplicate {path}: {error}"))
                continue
            except ValueError as error:
                if single:
                    raise ValueError(f"{path}: rejected: {error}") from None
                rejected += 1
                print(escape_control(f"rejected  {path}: {error}"), file=sys.stderr)
                continue
            status = "verified by replay" if entry.verified else "stored unverified (--no-replay)"
            print(escape_control(f"accepted  {path} -> {entry.board} entry {entry.id} ({entry.agent}, "
                                 f"success {100 * entry.success_rate:.1f}%, {status})"))
    return 1 if rejected else 0


# ---- show / export ------------------------------------------------------------------------------


def _select_boards(store_boards: list[str], defined: list[Board], wanted: str | None) -> list[str]:
    ids = sorted(set(store_boards) | {b.id for b in defined})
    if wanted is None:
        return ids
    chosen = [b for b in ids if b.split("@", 1)[0] == wanted or b.startswith(wanted.rstrip("/") + "/")]
    if not chosen:
        raise ValueError(f"no board {wanted!r}; boards: {', '.join(ids) or '(none defined)'}")
    return chosen


def _defined_boards(args: argparse.Namespace) -> list[Board]:
    try:
        return _boards(args)
    except FileNotFoundError:
        if args.boards is not None:
            raise
        return []


def _printable_value(value: Any) -> Any:
    if isinstance(value, str):
        return escape_control(value)
    if isinstance(value, dict):
        return {_printable_value(k): _printable_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_printable_value(v) for v in value)
    return value


def printable(entry: Any) -> Any:
    """`entry` with every text a submitter chose (agent name and metadata, task types) safe for a terminal."""
    import dataclasses

    return dataclasses.replace(entry, agent=escape_control(entry.agent), board=escape_control(entry.board),
                               agent_metadata=_printable_value(entry.agent_metadata),
                               by_task=_printable_value(entry.by_task), created=escape_control(entry.created))


def cmd_show(args: argparse.Namespace) -> int:
    from agentgym.leaderboard.boards import board_by_id
    from agentgym.leaderboard.render import summaries, text_table
    from agentgym.leaderboard.store import Store

    defined = _defined_boards(args)
    by_id = {b.id: b for b in defined}
    with Store(args.db) as store:
        chosen = _select_boards(store.boards(), defined, args.board_id)
        entries = [printable(e) for e in store.entries(boards=defined)]
        details = summaries(store, [e for e in entries if e.board in chosen], by_id)
    tables = []
    for board_id in chosen:
        rows = [e for e in entries if e.board == board_id]
        if rows or args.board_id is not None:
            tables.append(text_table(board_id, rows, board_by_id(by_id, board_id), details))
    empty = [b for b in chosen if not any(e.board == b for e in entries)]
    print("\n\n".join(tables) if tables else "no entries yet: run `agentgym suite` or `agentgym leaderboard submit FILE`")
    if args.board_id is None and empty:
        print(f"\n{len(empty)} boards without entries: {', '.join(empty)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from agentgym.leaderboard.render import export_html, summaries
    from agentgym.leaderboard.store import Store

    boards = {b.id: b for b in _defined_boards(args)}
    with Store(args.db) as store:
        entries = store.entries(boards=list(boards.values()))
        details = summaries(store, entries, boards)
    target = export_html(args.html, entries, boards, args.metrics, details)
    print(f"wrote {target} ({len(entries)} entries, {len({e.board for e in entries})} boards)")
    return 0


# ---- suite --------------------------------------------------------------------------------------


def _env_problem(board: Board) -> str | None:
    """None when the board's env builds and resets, else a one-line reason."""
    from agentgym.leaderboard.runner import make_env

    try:
        env = make_env(board.env_id, board.env_kwargs)
        try:
            env.reset(seed=board.first_seed)
        finally:
            env.close()
    except Exception as error:  # any failure to import or build the env skips its boards
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {text}"[:300]
    return None


def _reusable(path: Path, board: Board, agent_metadata: dict[str, Any]) -> RunResults | None:
    """A finished results file for this board and agent from an earlier suite run."""
    if not path.is_file():
        return None
    try:
        results = load_results(path)
        board.check(results)
    except ValueError:
        return None
    return results if json.dumps(results.agent, sort_keys=True) == json.dumps(agent_metadata, sort_keys=True) else None


def _suite_entry(board: Board, name: str, agent: Any, path: Path, store: Any, bar: Any) -> tuple[str, bool]:
    """Evaluate (or reuse) one agent's run on one board and submit it; returns (line, ok)."""
    from agentgym.leaderboard.runner import ReplayMismatchError, evaluate
    from agentgym.leaderboard.store import DuplicateSubmissionError
    from agentgym.leaderboard.submission import submit

    episodes = len(board.seeds)
    results = _reusable(path, board, agent.metadata())
    reused = results is not None
    for attempt in range(2):
        if results is None:
            try:
                results = evaluate(board.env_id, board.split, agent, board.seeds, env_kwargs=board.env_kwargs,
                                   output=path, progress=bar.update)
            except Exception as error:  # an env or agent crash fails this entry, not the suite
                bar.update(2 * episodes)
                return f"FAILED    {board.id} {name}: {type(error).__name__}: {error}", False
        else:
            bar.update(episodes)
        try:
            entry = submit(results, board, store, progress=bar.update)
        except DuplicateSubmissionError:
            bar.update(episodes)
            return f"present   {board.id} {name}: already on the board", True
        except ReplayMismatchError as error:
            if reused and attempt == 0:  # a results file from an older env: play the board again
                bar.update(episodes)
                bar.total += 2 * episodes
                path.unlink(missing_ok=True)
                results, reused = None, False
                continue
            bar.update(episodes)
            return f"REJECTED  {board.id} {name}: {error}", False
        except ValueError as error:
            bar.update(episodes)
            return f"REJECTED  {board.id} {name}: {error}", False
        return (f"verified  {board.id} {name}: success {100 * entry.success_rate:.1f}%, "
                f"score {entry.mean_return:.3f}, entry {entry.id}"), True
    raise AssertionError("unreachable")


def cmd_suite(args: argparse.Namespace) -> int:
    from agentgym.agents import AGENTS, make_agent
    from agentgym.leaderboard.render import summaries, text_table
    from agentgym.leaderboard.store import Store

    names = [n.strip() for n in args.agents.split(",") if n.strip()]
    if args.llm and "llm" not in names:
        names.append("llm")
    unknown = [n for n in names if n not in AGENTS]
    if unknown or not names:
        raise ValueError(f"--agents: unknown agent(s) {unknown}; choose from {sorted(AGENTS)}")
    if args.episodes is not None and args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    boards = _boards(args)
    if args.env:
        boards = [b for b in boards if b.env_id in set(args.env)]
        if not boards:
            raise ValueError(f"--env {args.env}: no board ranks these ids")
    cut = []
    if args.episodes is not None:
        boards = [b.first(args.episodes) for b in boards]
    elif not args.full:  # boards with slow opponents: their smoke board
        cut = [b.id for b in boards if b.suite_episodes and b.suite_episodes < b.episodes]
        boards = [b.first(b.suite_episodes) if b.suite_episodes else b for b in boards]

    runnable: list[Board] = []
    problems: dict[tuple[str, str], str | None] = {}
    for board in boards:
        key = (board.env_id, json.dumps(board.env_kwargs, sort_keys=True))
        if key not in problems:
            problems[key] = _env_problem(board)
        if problems[key]:
            print(f"skip  {board.id}: env not available ({problems[key]})")
        else:
            runnable.append(board)

    agents = {}
    for name in names:
        try:
            agents[name] = make_agent(name)
        except Exception as error:  # e.g. the llm extra not installed
            print(f"skip  agent {name}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    store = Store(args.db)
    runs = Path(args.runs) if args.runs else (
        Path(store.url.removeprefix("sqlite:///")).parent / "runs" if store.url.startswith("sqlite:///")
        else Path.home() / ".agentgym" / "runs")
    total = 2 * sum(b.episodes for b in runnable) * len(agents)
    failed = 0
    lines = []
    with store, _progress_bar(total, "suite", args.no_progress) as bar:
        for board in runnable:
            for name, agent in agents.items():
                path = runs / board.env_id / board.id.rsplit("/", 1)[1] / f"{name}.json"
                bar.set_description(f"{board.id} {name}")
                started = time.perf_counter()
                if hasattr(agent, "for_env"):  # the LLM agent: this family's prompt and output format
                    agent = agent.for_env(board.env_id)
                outcome, ok = _suite_entry(board, name, agent, path, store, bar)
                failed += not ok
                lines.append(f"{outcome}  [{time.perf_counter() - started:.1f} s]")
        entries = [printable(e) for e in store.entries(boards=runnable)]
        details = summaries(store, entries, {b.id: b for b in runnable})
    print(escape_control("\n".join(lines), keep_newlines=True))
    for board in runnable:
        print()
        print(text_table(board.id, [e for e in entries if e.board == board.id], board, details))
    skipped = len(boards) - len(runnable)
    print(f"\n{len(runnable)} boards run, {skipped} skipped, {failed} rejected or failed; results files in {runs}")
    if cut:
        print(f"{len(cut)} boards with slow opponents played as their smoke boards ({', '.join(cut)}); "
              "`agentgym suite --full` plays them whole")
    return 1 if failed else 0
