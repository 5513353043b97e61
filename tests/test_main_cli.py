import argparse

import pytest

from agentgym import cli
from agentgym.envs import ENV_ENTRIES


def test_list_prints_every_id_with_its_family(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for env_entry in ENV_ENTRIES:
        assert any(line.split()[:2] == [env_entry.id, env_entry.family] for line in lines), env_entry.id


def test_python_dash_m_agentgym_is_the_command():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "agentgym", "info", "Nope-v0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Nope-v0" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "agentgym", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Sokoban-v0" in done.stdout


def test_info_prints_the_card(capsys):
    assert cli.main(["info", "agentgym-test/Line-v0"]) == 0
    out = capsys.readouterr().out
    assert "max_episode_steps: 30" in out and "Walk left or right" in out


def test_unknown_id_is_one_clear_line(capsys):
    assert cli.main(["info", "Sokobn-v0"]) == 2
    err = capsys.readouterr().err
    assert "unknown environment id 'Sokobn-v0'" in err and "Sokoban-v0" in err and "Traceback" not in err


def test_play_follows_hints_to_a_win(capsys):
    # A person types a typo, then alternately asks for a hint and plays it.
    answers = iter(["fly"] + [x for _ in range(15) for x in ("hint", "__play_the_hint__")])

    def person(prompt: str) -> str:
        answer = next(answers)
        if answer == "__play_the_hint__":
            return capsys.readouterr().out.rsplit("expert: ", 1)[1].split()[0]
        return answer

    args = argparse.Namespace(env_id="agentgym-test/Line-v0", seed=0, kwargs="")
    assert cli.cmd_play(args, read=person) == 0
    assert "episode over: won" in capsys.readouterr().out


def test_play_reports_invalid_actions(capsys, monkeypatch):
    answers = iter(["fly", "quit"])
    args = argparse.Namespace(env_id="agentgym-test/Line-v0", seed=0, kwargs="")
    cli.cmd_play(args, read=lambda prompt: next(answers))
    assert "(invalid action)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text,expected",
    [("", {}), ("num_boxes=2", {"num_boxes": 2}), ("dim_room=(7, 7),split=train", {"dim_room": (7, 7), "split": "train"})],
)
def test_parse_kwargs(text, expected):
    assert cli.parse_kwargs(text) == expected


def test_parse_kwargs_names_the_fix():
    with pytest.raises(cli.UsageError, match="key=value"):
        cli.parse_kwargs("oops")
