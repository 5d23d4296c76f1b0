"""The benchmark against any OpenAI-compatible server (vLLM, TGI, SGLang, Ollama, `transformers serve`, a hosted API),
in the native protocol: each sample is sent as an agent framework sends it (the user's message and the tools), greedy,
and the reply's `tool_calls` are scored by the same scorer as the in-process model, so a tuned model, its base and a
hosted model sit side by side in one table.

The API key is read from an environment variable (named by `eval.api_key_env`), never from params, and is not written
anywhere; an unreachable server fails within seconds, in one line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

from agentflan.evaluation.benchmark import Sample

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # one reply of a slow CPU server


class EndpointError(RuntimeError):
    """The server cannot be used: unreachable, refusing the key, or answering with an error (the message says which)."""


def client(url: str, api_key_env: str):
    from openai import OpenAI, Timeout

    return OpenAI(
        base_url=url,
        api_key=os.environ.get(api_key_env) or "EMPTY",
        max_retries=0,
        timeout=Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
    )


def ask(api, model: str, sample: Sample, max_new_tokens: int, settings: dict, first: bool = False) -> dict:
    """One sample's reply as `run_native` returns it: text, content, calls (`{"name", "arguments"}`; the server parsed
    them, the arguments come as the JSON string the OpenAI API gives). A server error on one sample (5xx) is kept as
    that sample's parse error, an attempted reply that failed, as the in-process parser keeps a call region it cannot
    read, and so is a connection the server drops on a later request (`transformers serve` 5.24 drops it on a call
    without "arguments"); a refused request (4xx: key, model name) or a first request that cannot connect stops the
    run. `settings`: what each request asks for (`GREEDY`, as `adapt` changes it on the first request)."""
    import openai

    called = [c["function"]["name"] for m in sample.history or [] for c in m.get("tool_calls") or []]
    names = api_names([*(t.name for t in sample.tools), *called])
    request = {
        "model": model,
        "messages": [{"role": "user", "content": sample.query}, *api_messages(sample.history, names)],
    }
    if sample.tools:
        request["tools"] = [renamed(t.to_openai(), names) for t in sample.tools]
    try:
        while True:
            sampling = {k: v for k, v in settings.items() if k != "length"}
            try:
                reply = api.chat.completions.create(**request, **sampling, **{settings["length"]: max_new_tokens})
                break
            except openai.BadRequestError as e:
                if not (first and adapt(settings, e)):
                    raise
    except openai.APIConnectionError as e:
        if first:
            raise EndpointError(f"{api.base_url}: unreachable ({e.__cause__ or e})") from None
        return failed(f"server dropped the connection ({e.__cause__ or e})")
    except openai.APIStatusError as e:
        if (
            e.status_code >= 500
        ):  # the server could not write this reply (transformers serve: a call region it cannot parse)
            return failed(f"server error {e.status_code}: {str(e.message)[:200]}")
        raise EndpointError(
            f"{api.base_url}: HTTP {e.status_code} for model {model!r} ({str(e.message)[:200]})"
        ) from None
    message = reply.choices[0].message
    given = {sent: name for name, sent in names.items()}  # the tools' own names back
    calls = [
        {"name": given.get(c.function.name, c.function.name), "arguments": c.function.arguments}
        for c in message.tool_calls or []
    ]
    return {
        "response": message.content or "",
        "content": message.content or "",
        "tool_calls": calls,
        "parse_error": None,
    }


GREEDY = {"temperature": 0, "length": "max_tokens"}  # what each request asks for, unless the server refuses it


def adapt(settings: dict, error: Exception) -> bool:
    """`settings` changed as the server's refusal of the first request asks, as OpenAI's reasoning models (o-series,
    gpt-5) refuse `max_tokens` ("Use 'max_completion_tokens' instead") and a temperature of 0 ("Only the default (1)
    value is supported"); False when there is nothing to change. A dropped temperature is said on stderr: the
    replies are then the server's sampling, not greedy."""
    body = getattr(error, "body", None)
    body = body.get("error", body) if isinstance(body, dict) else {}
    param = body.get("param") if isinstance(body, dict) else None
    text = str(getattr(error, "message", error))
    if settings["length"] == "max_tokens" and (param == "max_tokens" or "max_completion_tokens" in text):
        settings["length"] = "max_completion_tokens"
        return True
    if "temperature" in settings and (param == "temperature" or "'temperature'" in text):
        del settings["temperature"]
        print("warning: the server refuses temperature 0; its replies are sampled, not greedy", file=sys.stderr)
        return True
    return False


def api_messages(history: list[dict] | None, names: dict[str, str] | None = None) -> list[dict]:
    """A multi-step sample's history as the OpenAI API takes it: each call's arguments as a JSON string, its tool's
    name as sent (`api_names`)."""
    names = names or {}
    out = []
    for m in history or []:
        if m.get("tool_calls"):
            calls = [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "name": names.get(c["function"]["name"], c["function"]["name"]),
                        "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False),
                    },
                }
                for c in m["tool_calls"]
            ]
            m = {**m, "tool_calls": calls}
        if m.get("role") == "tool" and m.get("name") in names:
            m = {**m, "name": names[m["name"]]}
        out.append(m)
    return out


_API_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # what the OpenAI API takes as a function's name


def api_names(names: list[str]) -> dict[str, str]:
    """Each tool name -> the name sent: itself where the OpenAI API takes it, else with every other character as `_`
    (cut to 64, numbered where two would meet), as BFCL sends `math.factorial` to OpenAI as `math_factorial`; a
    reply's calls are read back to the tools' own names."""
    out: dict[str, str] = {}
    taken = {n for n in names if _API_NAME.fullmatch(n)}
    for name in names:
        if name in out:
            continue
        if _API_NAME.fullmatch(name):
            out[name] = name
            continue
        base = re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:64] or "tool"
        sent, i = base, 1
        while sent in taken:
            sent, i = f"{base[:58]}_{i}", i + 1
        taken.add(sent)
        out[name] = sent
    return out


def renamed(tool: dict, names: dict[str, str]) -> dict:
    """An OpenAI tool entry under the name `api_names` gave it."""
    name = tool["function"]["name"]
    return {**tool, "function": {**tool["function"], "name": names.get(name, name)}}


def failed(why: str) -> dict:
    return {"response": "", "content": "", "tool_calls": [], "parse_error": why}


def run_endpoint(
    samples: list[Sample],
    url: str,
    model: str,
    max_new_tokens: int,
    api_key_env: str = "OPENAI_API_KEY",
    concurrency: int = 1,
) -> list[dict]:
    """Every sample's reply from the server, in sample order; the first request goes alone, so a server that cannot be
    used fails before the others are sent. One request at a time by default: `transformers serve` 5.24 without
    `--continuous-batching` answers concurrent requests wrongly (seen here: replies that are not the model's greedy
    ones, and dropped connections); raise `concurrency` for servers that batch (vLLM, TGI, hosted APIs)."""
    api = client(url, api_key_env)
    if not samples:
        return []
    settings = {**GREEDY}  # the first request settles what the server takes
    first = ask(api, model, samples[0], max_new_tokens, settings, first=True)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        rest = list(pool.map(lambda s: ask(api, model, s, max_new_tokens, settings), samples[1:]))
    return [first, *rest]
