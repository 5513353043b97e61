from collections.abc import Sequence

import pytest

import agentgym
import agentgym.train.toy  # noqa: F401 - registers KeyDoor-v0
from agentgym.agents import make_agent
from agentgym.agents.llm import LLMAgent
from agentgym.agents.prompts import FORMATS, INVALID_ACTION, PromptBuilder, parse_output
from agentgym.llm.base import Backend, Generation, SamplingParams


class ScriptedBackend(Backend):
    """Answers with the given completions in turn and records the prompts."""

    name = "scripted"

    def __init__(self, replies: Sequence[str]):
        self.replies = list(replies)
        self.prompts: list[str] = []

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        out = []
        for conversation in conversations:
            self.prompts.append(conversation[-1]["content"])
            text = self.replies.pop(0)
            out.append(Generation(text, [1, 2], [3, 4], [-0.5, -0.25]))
        return out

    def describe(self):
        return {"backend": self.name, "model": "scripted"}


@pytest.mark.parametrize("fmt, text, action, extra", [
    ("think_action", "<think>key is east</think><action>east</action>", "east", {"think": "key is east"}),
    ("think_action", "<think>x</think>\n<action> take </action>", "take", {}),
    ("hiper", "<switch>SWITCH</switch><subgoal>get key</subgoal><action>east</action>", "east", {"subgoal": "get key"}),
    ("hiper", "<switch>keep</switch><subgoal>get key</subgoal><action>east</action>", "east", {"switch": "keep"}),
    ("mars", "<think>center</think><answer><X(1,1)></answer>", "<X(1,1)>", {}),
    ("action", "<action>open</action>", "open", {}),
    ("plain", "  west \n", "west", {}),
])
def test_well_formed_outputs_parse(fmt, text, action, extra):
    parsed = parse_output(text, fmt)
    assert parsed.valid and parsed.action == action
    assert all(parsed.fields[k] == v for k, v in extra.items())


@pytest.mark.parametrize("fmt, text, error", [
    ("think_action", "east", "missing"),
    ("think_action", "<think>a</think>", "<action>"),
    ("think_action", "<action>east</action><think>a</think>", "out of order"),
    ("think_action", "<think>a</think><action>east</action><action>west</action>", "2 times"),
    ("think_action", "<think>a</think><action>  </action>", "empty"),
    ("hiper", "<switch>MAYBE</switch><subgoal>g</subgoal><action>east</action>", "KEEP or SWITCH"),
    ("mars", "<think>a</think><action>east</action>", "<answer>"),
    ("plain", "   ", "empty"),
    ("action", "<action>east", "missing"),
])
def test_malformed_outputs_are_invalid_not_errors(fmt, text, error):
    parsed = parse_output(text, fmt)
    assert not parsed.valid and parsed.action is None and error in parsed.error


def test_unknown_format_names_the_choices():
    with pytest.raises(ValueError, match="think_action"):
        parse_output("x", "xml")
    with pytest.raises(ValueError, match="think_action"):
        LLMAgent(backend=ScriptedBackend([]), format="xml")


def test_prompt_holds_task_history_observation_actions_and_format():
    builder = PromptBuilder("sokoban", "think_action", history=2)
    past = [("obs A", "up"), ("obs B", "down"), ("obs C", "left")]
    text = builder.messages("obs D", task="the task", past=past, admissible=["up", "right"], step=3)[0]["content"]
    assert "Sokoban" in text and "the task" in text and "obs D" in text
    assert "obs A" not in text and "obs B" in text and "action: left" in text  # only the last 2 steps
    assert "Admissible actions: up | right" in text
    assert FORMATS["think_action"][2] in text


def test_show_task_false_leaves_the_first_observation_out():
    backend = ScriptedBackend(["<think>a</think><action>up</action>"] * 2)
    agent = LLMAgent(backend=backend, env="Sokoban-v0", history=0, show_task=False).for_env("Sokoban-v0")
    agent.start(1)
    agent.act(["start grid"], [{}], [0])
    agent.act(["next grid"], [{}], [0])
    assert "next grid" in backend.prompts[-1] and "start grid" not in backend.prompts[-1]
    assert agent.metadata()["show_task"] is False and agent.prompts.family == "sokoban"
    with_task = PromptBuilder("sokoban", "think_action").messages("next grid", task="start grid")[0]["content"]
    assert "Task (first observation):\nstart grid" in with_task


def test_choice_format_answers_the_number_of_a_listed_action():
    backend = ScriptedBackend(["2", " 1\n", "9", "go to desk 1"])
    agent = LLMAgent(backend=backend, env="AlfWorld-v0", format="choice", history=0)
    agent.start(4)
    infos = [{"admissible_actions": ["look", "go to desk 1"]}] * 4
    decisions = agent.act(["o"] * 4, infos, [0, 1, 2, 3])
    assert [d.action for d in decisions] == ["go to desk 1", "look", INVALID_ACTION, INVALID_ACTION]
    assert decisions[2].info["format_error"] == "not the number of a listed action"
    assert "Admissible actions: 1: look | 2: go to desk 1" in backend.prompts[0]
    assert FORMATS["choice"][2] in backend.prompts[0]


def test_agent_acts_parses_and_remembers_history():
    backend = ScriptedBackend(["<think>a</think><action>east</action>", "garbage", "<think>b</think><action>take</action>"])
    agent = LLMAgent(backend=backend, env="KeyDoor-v0", history=3)
    agent.start(2)
    first = agent.act(["obs 0", "obs 1"], [{"admissible_actions": ["east"]}, {}], [0, 1])
    assert [d.action for d in first] == ["east", INVALID_ACTION]
    assert first[0].info["format_valid"] and not first[1].info["format_valid"]
    assert first[0].info["token_ids"] == [3, 4] and first[0].info["logprobs"] == [-0.5, -0.25]
    assert "format_error" in first[1].info and first[1].info["raw"] == "garbage"
    agent.act(["obs 0b"], [{}], [0])
    assert "obs 0" in backend.prompts[-1] and "action: east" in backend.prompts[-1]
    agent.start(2)
    backend.replies.append("<think>c</think><action>west</action>")
    agent.act(["fresh"], [{}], [0])
    assert "action: east" not in backend.prompts[-1]


def test_malformed_output_reaches_the_env_as_an_invalid_action():
    from agentgym.vector import GroupVectorEnv, collect

    agent = LLMAgent(backend=ScriptedBackend(["no tags at all"] * 20), env="KeyDoor-v0")
    with GroupVectorEnv("KeyDoor-v0", num_groups=1, group_size=2) as envs:
        trajectories = collect(agent, envs, seeds=[0])
    infos = [info for t in trajectories for info in t.infos[1:]]
    assert infos and not any(info["action_valid"] for info in infos)
    assert all(not a["format_valid"] for t in trajectories for a in t.agent_info)
    assert len({i["state_hash"] for i in [t.infos[0] for t in trajectories] + infos}) == 1


def test_metadata_describes_model_and_settings():
    agent = LLMAgent(backend=ScriptedBackend([]), env="KeyDoor-v0", temperature=0.3, history=4, max_new_tokens=77)
    meta = agent.metadata()
    assert meta["name"] == "llm" and meta["model"] == "scripted" and meta["backend"] == "scripted"
    assert (meta["temperature"], meta["history"], meta["max_new_tokens"], meta["format"]) == (0.3, 4, 77, "think_action")


def test_games_default_to_the_mars_format():
    assert LLMAgent(backend=ScriptedBackend([]), env="TicTacToe-v0").format == "mars"
    agent = LLMAgent(backend=ScriptedBackend(["<think>t</think><answer><X(0,0)></answer>"]))  # as `agentgym eval` builds it
    decision = agent.act(["board"], [{"player": 0, "admissible_actions": ["<X(0,0)>"]}], [0])[0]
    assert agent.format == "mars" and decision.action == "<X(0,0)>"


@pytest.mark.slow
def test_default_agent_runs_the_embedded_model():
    agent = make_agent("llm", max_new_tokens=12, env="KeyDoor-v0")
    env = agentgym.make("KeyDoor-v0")
    observation, info = env.reset(seed=0)
    agent.start(1)
    decision = agent.act([observation], [info], [0])[0]
    _, _, _, _, after = env.step(decision.action)
    assert after["action_valid"] == (decision.action in info["admissible_actions"])
    assert agent.metadata()["model"] == "smollm2-135m" and len(decision.info["token_ids"]) <= 12


# ---- evaluation: batching across envs, the greedy cache, an OpenAI-compatible server by URL ------


class ChoosingBackend(Backend):
    """Answers every prompt with its first admissible action (in the think/action format); records batch sizes."""

    name = "choosing"

    def __init__(self):
        self.batches: list[int] = []

    def generate(self, conversations, params: SamplingParams) -> list[Generation]:
        self.batches.append(len(conversations))
        out = []
        for conversation in conversations:
            listed = conversation[-1]["content"].split("Admissible actions: ", 1)[1].split("\n", 1)[0]
            out.append(Generation(f"<think>t</think><action>{listed.split(' | ')[0]}</action>"))
        return out

    def describe(self):
        return {"backend": self.name, "model": "choosing"}


def test_evaluation_batches_the_envs_of_a_run_and_still_replays(tmp_path):
    from agentgym.leaderboard.runner import evaluate, verify_results

    backend = ChoosingBackend()
    agent = LLMAgent(backend=backend, env="KeyDoor-v0", batch=3, temperature=0.5)
    results = evaluate("KeyDoor-v0", "default", agent, range(7), output=tmp_path / "run.json")
    assert results.seeds == list(range(7)) and max(backend.batches) == 3  # three episodes per generation call
    assert sum(backend.batches) == sum(e.steps for e in results.episodes)
    assert results.agent["prompt_version"] >= 1
    verify_results(results)  # the recorded actions replay one env at a time


def test_a_server_url_as_model_uses_the_openai_backend(tmp_path):
    """`--model http://HOST/v1`: a real HTTP server on 127.0.0.1 speaking the OpenAI chat API."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from agentgym.cli import main

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"object": "list", "data": [{"id": "served-model", "object": "model"}]})

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(request)
            self._send({"choices": [{"message": {"content": "<think>go</think><action>east</action>"},
                                     "finish_reason": "stop"}]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        out = tmp_path / "run.json"
        code = main(["eval", "--agent", "llm", "--model", url, "--agent-kwargs", "temperature=0,batch=2",
                     "--env", "KeyDoor-v0", "--episodes", "2", "-o", str(out), "--no-progress"])
    finally:
        server.shutdown()
    data = json.loads(out.read_text())
    assert code == 0 and data["agent"]["model"] == "served-model" and data["agent"]["base_url"] == url
    assert seen and seen[0]["model"] == "served-model" and seen[0]["temperature"] == 0
    assert all(a == "east" for e in data["episodes"] for a in e["actions"])


def test_an_unreachable_server_is_named():
    from agentgym.agents.llm import served_model_id

    with pytest.raises(ConnectionError, match="127.0.0.1:9/v1/models"):
        served_model_id("http://127.0.0.1:9/v1", timeout=2)


def test_one_model_serves_each_family_with_its_prompt_and_format():
    backend = ScriptedBackend([])
    agent = LLMAgent(backend=backend)
    games, sokoban = agent.for_env("TicTacToe-v0"), agent.for_env("Sokoban-v0")
    assert (games.format, sokoban.format) == ("mars", "think_action") and games.backend is sokoban.backend is backend
    assert games.metadata()["family"] == "games" and sokoban.metadata()["family"] == "sokoban"
    assert LLMAgent(backend=backend, format="plain").for_env("TicTacToe-v0").format == "plain"


def test_model_is_only_for_the_llm_agent(tmp_path, capsys):
    from agentgym.cli import main

    code = main(["eval", "--agent", "random", "--model", "smollm2-135m", "--env", "KeyDoor-v0", "-o",
                 str(tmp_path / "r.json"), "--no-progress"])
    assert code == 2 and "--model is for --agent llm" in capsys.readouterr().err
