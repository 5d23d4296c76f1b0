"""From chat messages with native calls to what the converter renders: the one builder every function-calling format
shares (OpenAI/HF messages, LLaMA-Factory, Hermes, glaive, xLAM, ToolBench answer trees).

A reader turns its record into `Msg`s (role, text, calls, the tool a result comes from) and the offered tools; `build`
makes the events: an assistant message with calls is a step (its text the thought, its calls parallel calls), an
assistant message that answers from tool results is the final answer, any other assistant message is chat; a record
that calls nothing is a dialogue that keeps its tools ("tools offered, plain answer", the paper's negatives for free).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentflan.data.formats.base import Dialogue, Message, RecordError, Step, Trajectory
from agentflan.data.schema import Tool, ToolCall

ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Msg:
    role: str  # system | user | assistant | tool
    content: str
    calls: list[ToolCall] = field(default_factory=list)
    name: str | None = None  # a tool result: the tool it comes from, when the source says
    loss: bool = True  # an assistant message is learned unless the source says otherwise


def build(rid: str, source: str, msgs: list[Msg], tools: list[Tool], where: str = "messages") -> Trajectory | Dialogue:
    """The record's events; `where` names the field a structural problem is reported under."""
    if not any(m.role == "user" for m in msgs):
        raise RecordError(where, "no user message")
    if not any(m.role == "assistant" for m in msgs):
        raise RecordError(where, "no assistant message")
    query = next(m.content for m in msgs if m.role == "user").strip()
    if not any(m.calls for m in msgs):
        messages = [Message(m.role, m.content, loss=m.loss and m.role == "assistant", name=m.name) for m in msgs]
        return Dialogue(rid, source, "general", "plain", messages, tools=tools)
    events: list[Step | Message] = []
    after_result = False
    for m in msgs:
        if m.role == "assistant" and m.calls:
            events.append(Step(raw="", thought=m.content.strip(), calls=list(m.calls), loss=m.loss))
        elif m.role == "assistant" and after_result:
            events.append(Step(raw="", thought="", answer=m.content, loss=m.loss))
        else:
            events.append(Message(m.role, m.content, loss=m.loss and m.role == "assistant", name=m.name))
        after_result = m.role == "tool" or (after_result and m.role != "user")
    return Trajectory(rid, source, query, tools, events)
