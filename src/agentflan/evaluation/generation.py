"""Generation for the benchmark, in four protocols, batched greedy decoding with the KV cache.

- `native` (primary; how agent frameworks call a served model): the user's query alone, the tools through the
  chat template, and the output parsed by the tokenizer's response parser (`tokenizer.parse_response`, the
  `response_template` that `transformers serve` uses): its `tool_calls` are the model's calls, structured; a
  `<tool_call>` region that does not parse is kept as a parse error, an attempted call;
- `chat` (mirrors the paper's elicited training data): the query under the natural system prompt,
  the tools offered through the chat template; when the first answer announces a step (`announces_step`:
  decided from the answer alone, never from the sample's truth, so the harness leaks no label) the harness
  plays the eliciting user turns the training data teaches: "Which tool will you call?" (unless the answer
  named one), then "Give the arguments as JSON.", and the tool name and the arguments are read from those
  answers; on a plain sample, a tool named there is a hallucinated call;
- `react` and `json`: one turn under the format-following system prompt of that format.
A multi-step sample's `history` (the calls made so far and their results) follows the query in each protocol's own
form (`history_for`): native messages as they are, the chat protocol's eliciting turns, ReAct steps, JSON objects;
the results are tool messages in every protocol, as training writes them.
Every sample is put to the model in every protocol. The model is loaded the way users load it
(`from_pretrained`) and prompted through its own chat template (`ChatFormat`: tools as the template takes
them, BOS as the tokenizer declares it); generation stops on the template's end-of-turn token(s) and the model's own
stop tokens.
"""

from __future__ import annotations

import json

from agentflan.data.prompts import ELICIT, NATURAL_SYSTEM, format_system, json_step_text, react_step_text
from agentflan.evaluation.benchmark import Sample
from agentflan.evaluation.judges import announces_step, names_a_tool
from agentflan.evaluation.scoring import PROTOCOLS, Prediction, native_call
from agentflan.training.chat_format import ChatFormat
from agentflan.training.model import stop_ids

ASK_TOOL = ELICIT["tool"][0]  # "Which tool will you call?"
ASK_ARGUMENTS = ELICIT["arguments"][1]  # "Give the arguments as JSON."


def load(model_dir):
    """(model, tokenizer) on the best device there is: CUDA (bf16 where supported), else the CPU in fp32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    if torch.cuda.is_available():
        model = model.to("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32)
    return model, tokenizer


def system_prompt(protocol: str) -> str:
    return NATURAL_SYSTEM if protocol == "chat" else format_system(protocol)


def protocols_for(tokenizer) -> tuple[str, ...]:
    """The protocols a model can be put to: `native` needs a template that renders tools and calls and a response
    template that parses them (the ones that cannot, a Llama-3 base say, are scored in the text protocols)."""
    fmt = ChatFormat.of(tokenizer)
    return PROTOCOLS if fmt.renders_tool_calls and fmt.parses_tool_calls else PROTOCOLS[1:]


def history_for(history: list[dict] | None, protocol: str) -> list[dict]:
    """A multi-step sample's history as `protocol` writes calls: native `tool_calls` as they are; the chat protocol's
    thought, then per call the eliciting turns and their answers (the tool's name, the arguments as JSON); a ReAct
    step; a JSON object per call. Tool results stay tool messages."""
    if protocol == "native" or not history:
        return list(history or [])
    out: list[dict] = []
    for m in history:
        calls = [c.get("function", c) for c in m.get("tool_calls") or []]
        if m["role"] != "assistant" or not calls:
            out.append(m)
        elif protocol == "react":
            out.append({"role": "assistant", "content": react_step_text(m.get("content") or "", calls)})
        elif protocol == "json":
            text = "\n".join(json_step_text(m.get("content") or "", c) for c in calls)
            out.append({"role": "assistant", "content": text})
        else:
            if m.get("content"):
                out.append({"role": "assistant", "content": m["content"]})
            for c in calls:
                if out and out[-1]["role"] == "assistant":
                    out.append({"role": "user", "content": ASK_TOOL})
                out += [
                    {"role": "assistant", "content": c["name"]},
                    {"role": "user", "content": ASK_ARGUMENTS},
                    {"role": "assistant", "content": json.dumps(c["arguments"], ensure_ascii=False)},
                ]
    return out


def prompt_texts(fmt: ChatFormat, dialogues: list[tuple[list[dict], list[dict] | None]]) -> list[str]:
    return [fmt.render(*fmt.dialogue(m, t or None), generation_prompt=True) for m, t in dialogues]


def generate(
    model, tokenizer, dialogues: list[tuple[list[dict[str, str]], list[dict]]], max_new_tokens: int, batch_size: int
) -> tuple[list[list[int]], list[list[int]], set[int]]:
    """(prompt ids, reply ids) of each (messages, tools) dialogue's next assistant turn, batched by length (left
    padding, KV cache), and the stop tokens (`stop_ids`: the template's end of turn, the model's own); a reply ends
    with the first stop token it generated (the padding after it dropped)."""
    import torch

    fmt = ChatFormat.of(tokenizer)
    stops = stop_ids(model, fmt.end_of_turn_ids)
    tokenizer.padding_side = "left"
    prompts = fmt.encode_prompts(prompt_texts(fmt, dialogues))
    order = sorted(range(len(dialogues)), key=lambda i: (-len(prompts[i]), i))  # similar lengths batch together
    replies: list[list[int]] = [[] for _ in dialogues]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer.pad({"input_ids": [prompts[i] for i in idx]}, return_tensors="pt").to(model.device)
        with torch.no_grad():
            gen = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                use_cache=True,
                eos_token_id=stops,
                pad_token_id=tokenizer.pad_token_id,
            )
        for i, row in zip(idx, gen[:, enc["input_ids"].shape[1] :].tolist()):
            end = next((k for k, t in enumerate(row) if t in stops), len(row) - 1)
            replies[i] = row[: end + 1]
    return prompts, replies, set(stops)


def complete(
    model, tokenizer, dialogues: list[tuple[list[dict[str, str]], list[dict]]], max_new_tokens: int, batch_size: int
) -> list[str]:
    """The text of each dialogue's next assistant turn (`generate`, `reply_text`)."""
    _, replies, stops = generate(model, tokenizer, dialogues, max_new_tokens, batch_size)
    return [reply_text(tokenizer, r, stops) for r in replies]


def reply_text(tokenizer, reply: list[int], stops: set[int]) -> str:
    """A reply's text as the model wrote it, special tokens and all (a call's delimiters, a reasoning channel's
    markers: the judges read them), the stop token that closed it left out."""
    return tokenizer.decode(reply[:-1] if reply and reply[-1] in stops else reply).strip()


def parse_calls(
    tokenizer, reply: str | list[int], prompt: str | list[int], tools: list[dict] | None, text: str = ""
) -> tuple[str, list[dict], str | None]:
    """(content, calls as {"name", "arguments"}, parse error) of a generated turn, by the tokenizer's response parser.
    `reply` and `prompt` as token ids where there are ids, as `transformers serve` parses them: a template whose call
    delimiters are special tokens (Gemma 4's `<|tool_call>`, Mistral's `[TOOL_CALLS]`) finds them only there, since a
    decoded text leaves special tokens out. A `<tool_call>` region that is not valid JSON is an attempted call that
    failed: its error is returned, never taken for a plain answer (the content then: `text`, the reply's own where it
    is a text)."""
    text = reply if isinstance(reply, str) else text
    try:
        message = tokenizer.parse_response(reply, prefix=prompt, tools=tools or None)
    except ValueError as e:
        return text, [], str(e).splitlines()[0]
    calls = [c.get("function", c) if isinstance(c, dict) else c for c in message.get("tool_calls") or []]
    unnamed = next((c for c in calls if not (isinstance(c, dict) and isinstance(c.get("name"), str))), None)
    if unnamed is not None:  # `{"arguments": ...}` or a bare value in a call region: attempted, malformed
        return text, [], f"a tool call without a name: {json.dumps(unnamed, ensure_ascii=False)[:80]}"
    return message.get("content") or "", [{"name": c["name"], "arguments": c.get("arguments")} for c in calls], None


def run_native(model, tokenizer, samples: list[Sample], max_new_tokens: int, batch_size: int) -> list[dict]:
    """Each sample as an agent framework sends it (the query, the tools) and the reply parsed into content and calls."""
    dialogues = [
        (
            [{"role": "user", "content": s.query}, *history_for(s.history, "native")],
            [t.to_openai() for t in s.tools] or None,
        )
        for s in samples
    ]
    prompts, replies, stops = generate(model, tokenizer, dialogues, max_new_tokens, batch_size)
    out = []
    for reply, prompt, (_, tools) in zip(replies, prompts, dialogues):
        text = reply_text(tokenizer, reply, stops)
        content, calls, error = parse_calls(tokenizer, reply, prompt, tools, text)
        out.append({"response": text, "content": content, "tool_calls": calls, "parse_error": error})
    return out


def run_protocol(
    model,
    tokenizer,
    samples: list[Sample],
    protocol: str,
    max_new_tokens: int,
    batch_size: int,
    ask_always: bool = False,
) -> list:
    """Each sample's answer in `protocol`: the parsed reply (native), one turn, or up to three (chat, a step said;
    `ask_always`: after every first answer, as a probe of what the elicited form's turns leave unsaid)."""
    if protocol == "native":
        return run_native(model, tokenizer, samples, max_new_tokens, batch_size)
    tools = [[t.to_openai() for t in s.tools] for s in samples]
    messages = [
        [
            {"role": "system", "content": system_prompt(protocol)},
            {"role": "user", "content": s.query},
            *history_for(s.history, protocol),
        ]
        for s in samples
    ]
    first = complete(model, tokenizer, list(zip(messages, tools)), max_new_tokens, batch_size)
    turns = [[r] for r in first]
    if protocol != "chat":
        return turns
    # the harness plays the eliciting turns wherever the first answer announced a step, whatever the truth: the tool
    # choice (unless the first answer already named one), then the arguments
    calls = [i for i, s in enumerate(samples) if ask_always or announces_step(first[i], [t.name for t in s.tools])]
    ask_tool = [i for i in calls if names_a_tool(first[i], [t.name for t in samples[i].tools]) is None]
    for i in calls:
        messages[i] += [{"role": "assistant", "content": first[i]}]
    for i in ask_tool:
        messages[i] += [{"role": "user", "content": ASK_TOOL}]
    for i, r in zip(
        ask_tool, complete(model, tokenizer, [(messages[i], tools[i]) for i in ask_tool], max_new_tokens, batch_size)
    ):
        turns[i].append(r)
        messages[i] += [{"role": "assistant", "content": r}]
    for i in calls:
        messages[i] += [{"role": "user", "content": ASK_ARGUMENTS}]
    for i, r in zip(
        calls, complete(model, tokenizer, [(messages[i], tools[i]) for i in calls], max_new_tokens, batch_size)
    ):
        turns[i].append(r)
    return turns


def predictions(samples: list[Sample], answers: list, protocol: str) -> list[Prediction]:
    """Prediction rows of one protocol: `answers` as `run_protocol` returns them."""
    out = []
    for s, a in zip(samples, answers):
        base = dict(
            id=s.id,
            category=s.category,
            tools=[t.name for t in s.tools],
            expected=s.expected,
            expected_tool=s.expected_tool,
            schemas={t.name: t.parameters for t in s.tools},
            expected_arguments=s.expected_arguments,
            protocol=protocol,
            query=s.query,
            reference=s.reference,
            key_values=s.key_values,
            expected_calls=s.expected_calls,
            from_knowledge=s.from_knowledge,
            history=s.history,
        )
        if protocol == "native":
            calls = [native_call(c, f"tool_calls[{i}]") for i, c in enumerate(a["tool_calls"])]  # arguments as objects
            out.append(
                Prediction(
                    **base, response=a["response"], content=a["content"], tool_calls=calls, parse_error=a["parse_error"]
                )
            )
        else:
            out.append(Prediction(**base, response=a[-1] if protocol != "chat" else "\n".join(a), turns=a))
    return out
