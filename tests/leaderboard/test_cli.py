import json
import shutil
import subprocess

import pytest

from agentgym.cli import main
from agentgym.leaderboard.boards import Board

LINE_ID = "agentgym-test/Line-v0"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store_args(db, boards_dir) -> list[str]:
    return ["--db", db, "--boards", str(boards_dir)]


def test_eval_submit_show(capsys, tmp_path, store_args):
    out_file = tmp_path / "run.json"
    code, out, _ = run(capsys, "eval", "--agent", "expert", "--env", LINE_ID, "-o", str(out_file),
                       "--boards", store_args[3], "--no-progress")
    assert code == 0 and "success 100.0%" in out
    data = json.loads(out_file.read_text())
    assert data["seeds"] == list(range(6)) and data["agent"]["name"] == "expert"
    assert data["agentgym_version"] and data["env_version"] == 0

    code, out, _ = run(capsys, "leaderboard", "submit", str(out_file), *store_args, "--no-progress")
    assert code == 0 and "verified by replay" in out

    code, out, _ = run(capsys, "leaderboard", "show", LINE_ID, *store_args)
    lines = out.splitlines()
    assert code == 0 and lines[1].split() == ["rank", "agent", "success", "95%", "CI", "score", "95%", "CI", "episodes",
                                          "configuration", "date", "verified"]
    assert lines[3].split()[:4] == ["1", "expert", "100.0%", "[61.0,"]  # Wilson lower bound of 6/6
    assert lines[3].split()[-1] == "yes"


def test_a_tampered_file_is_rejected_naming_episode_and_step(capsys, tmp_path, store_args, run_file):
    data = json.loads(run_file("expert").read_text())
    data["episodes"][4]["rewards"][-1] = 2.0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    code, _, err = run(capsys, "leaderboard", "submit", str(tampered), *store_args, "--no-progress")
    assert code == 2
    assert "rejected: episode 4 (seed 4), step" in err and "recorded reward 2.0" in err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    code, out, _ = run(capsys, "leaderboard", "show", *store_args)
    assert "(no entries yet)" in out or "no entries yet" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["leaderboard", "submit", "missing.json"], "does not exist"),
        (["eval", "--agent", "expert", "--env", "Sokobna-v0", "-o", "x.json", "--no-progress"], "did you mean 'Sokoban-v0'"),
        (["eval", "--agent", "expert", "--env", LINE_ID, "--episodes", "0", "-o", "x.json"], "--episodes must be >= 1"),
        (["eval", "--agent", "random", "--agent-kwargs", "bogus", "--env", LINE_ID, "-o", "x.json"], "is not key=value"),
        (["eval", "--agent", "random", "--env", LINE_ID, "--split", "test", "-o", "x.json", "--no-progress"],
         "envs without splits use the split 'default'"),
        (["leaderboard", "show", "Nothing-v0"], "no board 'Nothing-v0'"),
        (["leaderboard", "show", "--db", "bogus://x"], "neither a file path nor a SQLAlchemy URL"),
        (["suite", "--agents", "random,wizard"], "unknown agent"),
        (["leaderboard", "export", "--html", "out", "--metrics", "nope.jsonl"], "metrics file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, store_args, argv, message):
    monkeypatch.chdir(tmp_path)
    extra = store_args if argv[0] in ("leaderboard", "suite") and "--db" not in argv else []
    code, _, err = run(capsys, *argv, *extra)
    assert code == 2 and message in err and "Traceback" not in err


def test_submit_a_directory_reports_each_file(capsys, tmp_path, store_args, run_file):
    run_file("expert")
    run_file("random")
    runs = tmp_path / "runs"
    (runs / "not-results.json").write_text("{}")
    code, out, _ = run(capsys, "leaderboard", "submit", str(runs), *store_args, "--no-progress")
    assert code == 0 and out.count("accepted") == 2
    code, out, _ = run(capsys, "leaderboard", "submit", str(runs), *store_args, "--no-progress")
    assert code == 0 and sum(line.startswith("duplicate ") for line in out.splitlines()) == 2


def test_suite_runs_every_available_board_and_skips_the_rest(capsys, tmp_path, db, boards_dir):
    missing = Board(env_id="NotWrittenYet-v0", split="default", episodes=3)
    (boards_dir / "NotWrittenYet-v0").mkdir()
    (boards_dir / "NotWrittenYet-v0" / "default.json").write_text(json.dumps(missing.to_json()))
    argv = ["suite", "--db", db, "--boards", str(boards_dir), "--runs", str(tmp_path / "suite-runs"), "--no-progress"]
    code, out, _ = run(capsys, *argv, "--episodes", "4")
    assert code == 0
    assert "skip  NotWrittenYet-v0/default: env not available (UnknownEnvError" in out
    assert f"verified  {LINE_ID}/default@4 expert: success 100.0%, score 1.000" in out
    table = out[out.index(f"{LINE_ID}/default@4  (4 episodes"):]
    assert [line.split()[1] for line in table.splitlines()[3:5]] == ["expert", "random"]
    assert "1 boards run, 1 skipped, 0 rejected or failed" in out
    # a second run reuses the results files and finds the entries already there
    code, out, _ = run(capsys, *argv, "--episodes", "4")
    assert code == 0 and out.count("already on the board") == 2


def test_suite_plays_a_slow_board_as_its_smoke_board_unless_full(capsys, tmp_path, db, line_board):
    from dataclasses import replace

    from tests.leaderboard.conftest import write_board

    boards = tmp_path / "slow-boards"
    write_board(boards, replace(line_board, suite_episodes=2))
    argv = ["suite", "--db", db, "--boards", str(boards), "--runs", str(tmp_path / "runs"), "--no-progress",
            "--agents", "expert"]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and f"verified  {LINE_ID}/default@2 expert" in out and "(2 episodes" in out
    assert f"1 boards with slow opponents played as their smoke boards ({LINE_ID}/default)" in out
    code, out, _ = run(capsys, *argv, "--full")
    assert code == 0 and f"verified  {LINE_ID}/default expert" in out and "(6 episodes" in out
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--full", "--episodes", "3"])
    assert exit_info.value.code == 2 and "not allowed with argument --full" in capsys.readouterr().err


def test_export_html_renders_in_chromium(capsys, tmp_path, store_args, run_file):
    for agent in ("expert", "random"):
        run(capsys, "leaderboard", "submit", str(run_file(agent)), *store_args, "--no-progress")
    metrics = tmp_path / "gigpo" / "metrics.jsonl"
    metrics.parent.mkdir()
    metrics.write_text("\n".join(json.dumps({"iteration": i, "success": i / 10, "loss": 1.0}) for i in range(6))
                       + '\n{"event": "checkpoint"}\n')
    site = tmp_path / "site"
    code, out, _ = run(capsys, "leaderboard", "export", "--html", str(site), "--metrics", str(metrics), *store_args)
    assert code == 0 and "2 entries, 1 boards" in out
    page = (site / "index.html").read_text()
    # a score-interval chart and the learning curves; one task type: no bar chart
    assert page.count("<svg") == 2 and page.count('class="chart interval"') == 1 and "gigpo/metrics" in page
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: the page was written but not rendered in a browser")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
         "--dump-dom", (site / "index.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    assert '<table class="leaderboard"' in dom
    rows = dom.split('<tr class="entry"')[1:]
    assert [row.split('data-agent="')[1].split('"')[0] for row in rows] == ["expert", "random"]
    assert "<polyline" in dom and dom.count('<circle class="score"') == 2


def test_a_file_whose_env_cannot_be_built_is_rejected_in_one_line(capsys, tmp_path, db, run_file):
    data = json.loads(run_file("expert").read_text())
    data["env_id"] = "Ghost-v0"
    ghost = tmp_path / "ghost.json"
    ghost.write_text(json.dumps(data))
    boards = tmp_path / "ghost-boards"
    (boards / "Ghost-v0").mkdir(parents=True)
    (boards / "Ghost-v0" / "default.json").write_text(json.dumps(Board(env_id="Ghost-v0", split="default", episodes=6).to_json()))
    code, _, err = run(capsys, "leaderboard", "submit", str(ghost), "--db", db, "--boards", str(boards), "--no-progress")
    assert code == 2 and "cannot build Ghost-v0 with {} to replay the file: UnknownEnvError" in err


def test_suite_plays_again_when_a_kept_results_file_no_longer_replays(capsys, tmp_path, boards_dir):
    runs = tmp_path / "suite-runs"
    argv = ["suite", "--boards", str(boards_dir), "--runs", str(runs), "--no-progress", "--agents", "expert"]
    assert run(capsys, *argv, "--db", str(tmp_path / "first.db"))[0] == 0
    kept = runs / LINE_ID / "default" / "expert.json"
    data = json.loads(kept.read_text())
    honest = data["episodes"][0]["rewards"][-1]
    data["episodes"][0]["rewards"][-1] = 7.0  # as if the env's rewards had changed since
    kept.write_text(json.dumps(data))
    code, out, _ = run(capsys, *argv, "--db", str(tmp_path / "second.db"))
    assert code == 0 and f"verified  {LINE_ID}/default expert: success 100.0%" in out
    assert json.loads(kept.read_text())["episodes"][0]["rewards"][-1] == honest
