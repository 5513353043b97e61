import dataclasses
import json
from pathlib import Path

import pytest

from agentgym.core.registration import entry
from agentgym.envs import ENV_ENTRIES
from agentgym.leaderboard.boards import (
    PACKAGED_BOARDS,
    Board,
    BoardMismatchError,
    board_for_results,
    board_from_json,
    load_boards,
)
from agentgym.leaderboard.results import load_results, split_kwargs, validate_results
from agentgym.leaderboard.runner import make_env, verify_results
from agentgym.leaderboard.stats import summarize

REPO_BOARDS = PACKAGED_BOARDS
SPLIT_ENVS = {"AlfWorld-v0", "WebShop-v0", "WebShop-Browser-v0", "ToolQA-v0", "SearchQA-v0"}
#: Boards whose opponent searches for seconds a move: replayed only by the slow test.
SLOW_BOARDS = {"ConnectFour-v0/mars-mcts-100", "ConnectFour-v0/mars-mcts-1000", "TicTacToe-v0/mars-mcts-1000"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"split": "train"}, "ranks split 'default'; the file has split 'train'"),
        ({"env_kwargs": {"goal": 1}}, "is played with env_kwargs {}"),
        ({"seeds": [0, 1, 2]}, r"needs episodes with seeds 0..5 \(6 episodes, in order\); the file has 3 \(missing seeds \[3, 4, 5\]\)"),
        ({"seeds": [0, 1, 2, 3, 4, 9]}, r"missing seeds \[5\]; seeds not on the board \[9\]"),
        ({"env_id": "Other-v0"}, "ranks agentgym-test/Line-v0; the file has env_id 'Other-v0'"),
    ],
)
def test_a_file_off_the_board_is_refused(run_file, line_board, change, message):
    results = validate_results(json.loads(run_file("expert").read_text()))
    line_board.check(results)
    with pytest.raises(BoardMismatchError, match=message):
        line_board.check(dataclasses.replace(results, **change))


def test_a_cut_board_has_its_own_id(line_board):
    small = line_board.first(3)
    assert small.id == "agentgym-test/Line-v0/default@3" and small.seeds == [0, 1, 2]
    assert line_board.first(100) is line_board


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{oops", "not valid JSON"),
        ('{"env_id": "X-v0"}', "not a board definition"),
        ('{"format": "agentgym-board", "env_id": "X-v0", "split": "a", "episodes": "5"}', "'episodes' must be a int"),
        ('{"format": "agentgym-board", "env_id": "X-v0", "split": "a", "episodes": 5, "metric": "elo"}', "metric 'elo' is not one of"),
    ],
)
def test_a_malformed_board_file_is_named(tmp_path, content, message):
    (tmp_path / "X-v0").mkdir()
    (tmp_path / "X-v0" / "a.json").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        load_boards(tmp_path)
    assert "a.json" in str(error.value)


def test_a_missing_board_directory_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="--boards DIR"):
        load_boards(tmp_path / "nowhere")


# ---- the committed boards -----------------------------------------------------------------------

BOARDS = load_boards(REPO_BOARDS)


def test_every_registered_env_has_a_board():
    assert {e.id for e in ENV_ENTRIES if e.family != "toy"} <= {b.env_id for b in BOARDS}  # KeyDoor-v0: no board
    alfworld = {b.split for b in BOARDS if b.env_id == "AlfWorld-v0"}
    assert alfworld == {"eval_in_distribution", "eval_out_of_distribution"}
    # MARS's evaluation opponents (thu-nics/MARS examples/model_game_eval/agentic_rollout_eval.yaml)
    assert {b.id for b in BOARDS} >= {"TicTacToe-v0/mars-mcts-100", "TicTacToe-v0/mars-mcts-1000",
                                      "ConnectFour-v0/mars-mcts-100", "ConnectFour-v0/mars-mcts-1000",
                                      "KuhnPoker-v0/cfr", "LeducHoldem-v0/cfr"}


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.id)
def test_committed_board_is_consistent(board: Board):
    assert board.path == REPO_BOARDS / board.env_id / f"{board.split}.json"
    if entry(board.env_id).family == "games":  # the split names the opponent; both seats play
        assert board.env_kwargs == {"opponent": board.split, "seat": "both"} and board.episodes % 2 == 0
        assert board.reference and board.metric == "mean_return"
        assert board.forfeit == (-1.0 if "Hanabi" not in board.env_id else None)
    else:
        assert board.env_kwargs == split_kwargs(board.split)
        assert (board.split == "default") == (board.env_id not in SPLIT_ENVS)
    assert board.paired == (board.env_id in ("KuhnPoker-v0", "LeducHoldem-v0"))
    assert board_from_json(board.to_json()) == dataclasses.replace(board, path=None)


def _committed_results() -> list[Path]:
    return sorted(REPO_BOARDS.glob("*/*/*.json"))


def _board_of(path: Path) -> Board:
    return next(b for b in BOARDS if b.results_dir == path.parent)


@pytest.mark.parametrize("path", _committed_results(), ids=lambda p: str(p.relative_to(REPO_BOARDS)))
def test_committed_results_match_their_board(path: Path):
    """`<agent>.json` plays the whole board, `<agent>@N.json` its first N seeds (a smoke board)."""
    results = load_results(path)
    board = board_for_results([_board_of(path)], results)
    board.check(results)
    name, _, count = path.stem.partition("@")
    assert name.split("-", 1)[0] == results.agent_name
    assert (board.limited, board.episodes) == ((True, int(count)) if count else (False, _board_of(path).episodes))


def _entries(board: Board) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for path in sorted(board.results_dir.glob("*.json")):
        files.setdefault(path.stem.split("-", 1)[0].split("@", 1)[0], []).append(path)
    return files


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.id)
def test_every_board_has_reference_random_and_llm_entries(board: Board):
    files = _entries(board)
    assert {"expert", "random"} <= set(files)
    assert "llm" in files, "every board has a replay-verified SmolLM2-135M entry (agentgym eval --agent llm)"


@pytest.mark.parametrize("board", BOARDS, ids=lambda b: b.id)
def test_the_reference_ranks_at_least_as_high_as_random(board: Board):
    """On every board, over the committed entries: the exact solver (or strongest reference bot)
    is not below random by the board's own ranking (compared on the same seeds)."""
    files = _entries(board)
    expert, random = (load_results(files[name][0]) for name in ("expert", "random"))
    assert expert.seeds == random.seeds
    e, r = (summarize(results, board.paired, board.forfeit) for results in (expert, random))
    key = (lambda s: (s.success, s.score)) if board.metric == "success_rate" else (lambda s: (s.score, s.success))
    assert key(e) >= key(r), (board.id, e, r)


def test_every_game_board_pays_each_seat_its_return():
    """Every seed of every game board: the rewards sum to the game's return for the seat played
    (a random agent; MCTS opponents are swapped for random ones, which pay the same way)."""
    from agentgym.envs.games import rules

    played = 0
    for board in BOARDS:
        if entry(board.env_id).family != "games":
            continue
        kwargs = dict(board.env_kwargs)
        if kwargs["opponent"].startswith("mars-mcts"):
            kwargs["opponent"] = "random"
        env = make_env(board.env_id, kwargs)
        rng = __import__("random").Random(0)
        for seed in board.seeds:
            _, info = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, info = env.step(rng.choice(info["admissible_actions"]))
                total, done = total + reward, terminated or truncated
            view = env.unwrapped
            if terminated:
                assert total == pytest.approx(rules.mars_returns(view.spec_, view._ost)[seed % 2]), (board.id, seed)
            played += 1
        env.close()
    assert played == sum(b.episodes for b in BOARDS if entry(b.env_id).family == "games")


def _replay_committed(path: Path, episodes: int | None) -> None:
    results = load_results(path)
    try:
        make_env(results.env_id, results.env_kwargs).close()
    except Exception as error:  # an env that does not import here cannot be replayed here
        pytest.skip(f"{results.env_id} is not available: {type(error).__name__}: {error}")
    if episodes is not None:
        results = dataclasses.replace(results, episodes=results.episodes[:episodes], seeds=results.seeds[:episodes])
    verify_results(results)


@pytest.mark.parametrize(
    "path", [p for p in _committed_results() if "Browser" not in str(p) and _board_of(p).id not in SLOW_BOARDS],
    ids=lambda p: str(p.relative_to(REPO_BOARDS)),
)
def test_committed_results_still_replay(path: Path):
    """The first episodes of every committed entry replay on today's env (an env change must bump -vN)."""
    _replay_committed(path, episodes=3 if "mars-mcts" not in str(path) else 1)


@pytest.mark.slow
@pytest.mark.parametrize("path", _committed_results(), ids=lambda p: str(p.relative_to(REPO_BOARDS)))
def test_committed_results_replay_in_full(path: Path):
    _replay_committed(path, episodes=None)


def test_the_boards_ship_as_package_data():
    """Every board file is matched by pyproject's package-data, so `pip install` has them (no checkout)."""
    import fnmatch

    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["agentgym.leaderboard"]
    package = REPO_BOARDS.parent
    files = [p.relative_to(package).as_posix() for p in REPO_BOARDS.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, pattern) and f.count("/") == pattern.count("/") for pattern in patterns)
                         for f in files)
