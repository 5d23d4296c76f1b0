"""What the OpenAI API refuses, met as it asks: tool names it does not take (BFCL's `requests.get`) are sent as it takes
them and read back as the tools' own, and a reasoning model's refusal of `max_tokens` and of temperature 0 changes the
request. Against a server on 127.0.0.1 that refuses as the API does (its error bodies), through the openai client."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentflan.data.schema import Tool
from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.endpoint import api_names, run_endpoint
from agentflan.evaluation.scoring import Prediction, judge

NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # the OpenAI API's pattern for a function's name
# the API's refusals, as reasoning models (o-series, gpt-5) give them
MAX_TOKENS_REFUSED = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
)
TEMPERATURE_REFUSED = (
    "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported."
)


class OpenAIShaped(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions with a call to the first offered tool; refuses a name the API would refuse (400,
    its error body), as api.openai.com does."""

    seen: list[dict] = []
    reasoning = False  # refuse `max_tokens` and temperature 0, as o-series and gpt-5 models do

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        if self.reasoning and "max_tokens" in body:
            return self._refuse("max_tokens", "unsupported_parameter", MAX_TOKENS_REFUSED)
        if self.reasoning and body.get("temperature", 1) != 1:
            return self._refuse("temperature", "unsupported_value", TEMPERATURE_REFUSED)
        names = [t["function"]["name"] for t in body.get("tools", [])]
        names += [c["function"]["name"] for m in body["messages"] for c in m.get("tool_calls") or []]
        bad = next((n for n in names if not NAME.fullmatch(n)), None)
        if bad is not None:
            error = {
                "message": f"Invalid function name {bad!r}: string does not match pattern.",
                "code": "invalid_value",
            }
            return self._send(400, {"error": {**error, "type": "invalid_request_error"}})
        call = {"id": "call_0", "type": "function", "function": {"name": names[0], "arguments": '{"url": "x"}'}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
        self._send(200, {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]})

    def _refuse(self, param: str, code: str, message: str) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        self._send(400, {"error": error})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), OpenAIShaped)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    OpenAIShaped.seen, OpenAIShaped.reasoning = [], False
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_dotted_tool_names_are_sent_as_the_api_takes_them_and_read_back(server):
    get = Tool("requests.get", "Sends a GET request.", {"type": "object", "properties": {"url": {"type": "string"}}})
    sample = Sample(
        "s", "tool_needed_offered_unseen", "action", "Fetch x.", [get], "call", "requests.get", {"url": ["x"]}
    )
    history = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "requests.get", "arguments": {"url": "y"}}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "name": "requests.get", "content": "404"},
    ]
    followed = Sample(
        "m", "multi_step_next_call", "action", "Fetch y, then x.", [get], "call", "requests.get", history=history
    )
    replies = run_endpoint([sample, followed], server, "m", 16)
    assert [r["tool_calls"][0]["name"] for r in replies] == ["requests.get", "requests.get"]  # the tool's own name
    sent = OpenAIShaped.seen
    assert [t["function"]["name"] for t in sent[0]["tools"]] == ["requests_get"]
    assert sent[1]["messages"][1]["tool_calls"][0]["function"]["name"] == "requests_get"
    assert sent[1]["messages"][2]["name"] == "requests_get"
    verdict = judge(Prediction.from_dict({**sample.to_dict(), "protocol": "native", **replies[0]}))
    assert verdict["tool_correct"] and not verdict["hallucinated"] and verdict["args_correct"]


def test_names_the_api_takes_stay_and_two_that_would_meet_stay_apart(server):
    assert api_names(["get_weather", "math.factorial", "math_factorial", "a" * 70]) == {
        "get_weather": "get_weather",
        "math.factorial": "math_factorial_1",  # "math_factorial" is another tool's
        "math_factorial": "math_factorial",
        "a" * 70: "a" * 64,
    }
    plain = Sample("p", "plain_tools_offered", "action", "Hi", [Tool("get_weather", "", {"type": "object"})], "plain")
    assert run_endpoint([plain], server, "m", 16)[0]["tool_calls"][0]["name"] == "get_weather"
    assert OpenAIShaped.seen[0]["tools"][0]["function"]["name"] == "get_weather"


def test_without_the_renaming_the_server_refuses_the_name(server):
    """The stand-in refuses as the API does: what the renaming avoids."""
    from openai import OpenAI

    api = OpenAI(base_url=server, api_key="none", max_retries=0)
    tool = {"type": "function", "function": {"name": "requests.get", "parameters": {"type": "object"}}}
    with pytest.raises(Exception, match="does not match pattern"):
        api.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], tools=[tool])


def test_a_reasoning_models_refusals_change_the_request_once(server, capsys):
    """`max_tokens` refused: `max_completion_tokens` instead; temperature 0 refused: the server's default, said on
    stderr; the first request settles it and the others are sent so."""
    OpenAIShaped.reasoning = True
    tool = Tool("get_weather", "", {"type": "object", "properties": {"city": {"type": "string"}}})
    samples = [
        Sample(f"s{i}", "tool_needed_offered_seen", "action", "Oslo?", [tool], "call", "get_weather") for i in range(3)
    ]
    replies = run_endpoint(samples, server, "o-model", 512)
    assert [r["tool_calls"][0]["name"] for r in replies] == ["get_weather"] * 3
    sent = OpenAIShaped.seen
    assert len(sent) == 3 + 2  # the first asked three times, the others once
    assert all(b["max_completion_tokens"] == 512 and "max_tokens" not in b and "temperature" not in b for b in sent[2:])
    assert "sampled, not greedy" in capsys.readouterr().err
