"""The seeded, synthetic demo corpus, written in the real upstream formats.

- `toolbench.json`: ToolLLaMA training format, a JSON array with one record per step as ToolBench's
  `preprocess_toolllama_data.py` writes it (ids "Step N: <query>", the API list as a Python repr);
- `agentinstruct_os.jsonl`, `agentinstruct_db.jsonl`: AgentInstruct OS and DB splits, with the
  1-shot example turns at `loss: false`;
- `sharegpt.jsonl`: general chat.

Same config and seed give byte-identical files. Every tool of the world appears: which tools and
queries the model never trains on is the `benchmark` stage's choice (`benchmark.heldout_*`), as it is
for any other corpus.
"""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentflan.config import DemoConfig
from agentflan.data.jsonio import atomic_writer
from agentflan.data.prompts import FORMAT_REQUESTS
from agentflan.demo import world

# The files write_demo makes, and the upstream format each is in.
DEMO_FILES = {
    "toolbench.json": "toolbench",
    "agentinstruct_os.jsonl": "agentinstruct",
    "agentinstruct_db.jsonl": "agentinstruct",
    "sharegpt.jsonl": "sharegpt",
}

TOOLBENCH_SYSTEM = (
    "You are AutoGPT, you can use many tools(functions) to do the following task.\n"
    "First I will give you the task description, and your task start.\n"
    "At each step, you need to give your thought to analyze the status now and what to do next, with a function call "
    "to actually excute your step. Your output should follow this format:\nThought:\nAction\nAction Input:\n\n"
    "After the call, you will get the call result, and you are now in a new state.\n"
    "Then you will analyze your status now, then decide what to do next...\n"
    "After many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.\n"
    "Remember: \n1.the state change is irreversible, you can't go back to one of the former state, if you want to "
    'restart the task, say "I give up and restart".\n2.All the thought is short, at most in 5 sentence.\n'
    "3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the "
    "conditions per try.\nLet's Begin!\nTask description: You should use functions to help handle the real time user "
    'querys. Remember:\n1.ALWAYS call "Finish" function at the end of the task. And the final answer should contain '
    "enough information to show to the user,If you can't handle the task, or you find that function calls always "
    "fail(the function is invalid now), use function Finish->give_up_and_restart.\n2.Do not use origin tool "
    "response, only use the useful information you need to get.\n"
    "Specifically, you have access to the following APIs: "
)
OS_INSTRUCTIONS = (
    "You are an assistant that will act like a person, I'will play the role of linux(ubuntu) operating system. Your "
    "goal is to implement the operations required by me or answer to the question proposed by me. For each of your "
    'turn, you should first think what you should do, and then take exact one of the three actions: "bash", '
    '"finish" or "answer". \n\n1. If you think you should execute some bash code, take bash action, and you '
    "should print like this:\n\nThink: put your thought here.\n\nAct: bash\n\n```bash\n# put your bash code here\n```"
    "\n\n2. If you think you have finished the task, take finish action, and you should print like this:\n\nThink: "
    "put your thought here.\n\nAct: finish\n\n3. If you think you have got the answer to the question, take answer "
    "action, and you should print like this:\n\nThink: put your thought here.\n\nAct: answer(Your answer to the "
    "question should be put in this pair of parentheses)\n\nIf the output is too long, I will truncate it. The "
    "truncated output is not complete. You have to deal with the truncating problem by yourself. Attention, your "
    "bash code should not contain any input operation. Once again, you should take only exact one of the three "
    "actions in each turn.\n\nNow, my problem is:\n\n"
)
OS_EXAMPLE = [
    ("human", None, OS_INSTRUCTIONS + 'tell me how many files are in the directory "/etc"?'),
    (
        "gpt",
        False,
        "Think: To count the files in /etc, I need to print all the files in it.\n\nAct: bash\n\n```bash\nls /etc\n```",
    ),
    (
        "human",
        None,
        "The output of the OS:\ncpi cron.hourly fuse.conf iproute2 lvm networkd-dispatcher protocols selinux tmpfiles.d [truncated because the output is too long]",
    ),
    (
        "gpt",
        False,
        "Think: The output has been truncated because it is too long, so I need to count files by script directly.\n\nAct: bash\n\n```bash\nls -1 /etc | wc -l\n```",
    ),
    ("human", None, "The output of the OS:\n220"),
    ("gpt", False, "Think: Now I get the answer, it is 220.\n\nAct: answer(220)"),
]
DB_INSTRUCTIONS = (
    "\nI will ask you a question, then you should help me operate a MySQL database with SQL to answer the question.\n"
    "You have to explain the problem and your solution to me and write down your thoughts.\n"
    "After thinking and explaining thoroughly, every round you can choose to operate or to answer.\n"
    "your operation should be like this:\nAction: Operation\n```sql\nSELECT * FROM table WHERE condition;\n```\n"
    "You MUST put SQL in markdown format without any other comments. Your SQL should be in one line.\n"
    "Every time you can only execute one SQL statement. I will only execute the statement in the first SQL code "
    "block. Every time you write a SQL, I will execute it for you and give you the output.\n"
    "If you are done operating, and you want to commit your final answer, then write down:\nAction: Answer\n"
    'Final Answer: ["ANSWER1", "ANSWER2", ...]\nDO NOT write this pattern unless you are sure about your answer. '
    "I expect an accurate and correct answer.\nYour answer should be accurate. Your answer must be exactly the same "
    "as the correct answer.\nIf the question is about modifying the database, then after done operation, your "
    "answer field can be anything.\nIf your response cannot match any pattern I mentioned earlier, you will be "
    "judged as FAIL immediately.\nYour input will be raw MySQL response, you have to deal with the problem by "
    "yourself.\n"
)


class _UniqueQueries:
    """Queries must be unique (ToolBench ids are "Step N: <query>"): vary the opening when one repeats."""

    OPENINGS = ("", "Hi! ", "Quick question: ", "Please help: ", "Hey, ", "I wonder: ", "Could you check this? ")

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, query: str) -> str:
        for opening in self.OPENINGS:
            candidate = opening + query
            if candidate not in self.seen:
                self.seen.add(candidate)
                return candidate
        n = 2
        while f"{query} (request {n})" in self.seen:
            n += 1
        self.seen.add(f"{query} (request {n})")
        return f"{query} (request {n})"


def _args_text(args: dict[str, Any]) -> str:
    return json.dumps(args, indent=2, ensure_ascii=False)  # OpenAI function_call arguments, as ToolBench stores them


def toolbench_trajectory(rng: random.Random, cfg: DemoConfig, unique: _UniqueQueries) -> list[dict[str, Any]]:
    """One query's trajectory as ToolBench's preprocessing writes it: one record per assistant step."""
    pool = list(world.TOOLS)
    needed = rng.sample(pool, 2 if rng.random() < cfg.two_tool_fraction else 1)
    calls = [world.sample_call(t, rng) for t in needed]
    query = calls[0][0] if len(calls) == 1 else f"{calls[0][0]} Also, {calls[1][0][0].lower()}{calls[1][0][1:]}"
    query = unique(query)
    distractors = rng.sample([t for t in pool if t not in needed], min(cfg.distractors, len(pool) - len(needed)))
    offered = needed + distractors
    rng.shuffle(offered)
    functions = [world.toolbench_function(t) for t in offered] + [world.FINISH_SPEC]
    messages: list[dict[str, str]] = [
        {"from": "system", "value": TOOLBENCH_SYSTEM + str(functions)},
        {"from": "user", "value": f"\n{query}\nBegin!\n"},
    ]
    gives_up = rng.random() < cfg.give_up_fraction
    answers = []
    for i, (tool, (_, args)) in enumerate(zip(needed, calls)):
        thought = "" if i > 0 and rng.random() < cfg.empty_thought_fraction else tool.thought.format(**args)
        messages.append(
            {
                "from": "assistant",
                "value": f"\nThought: {thought}\nAction: {tool.name}\nAction Input: {_args_text(args)}",
            }
        )
        if gives_up:
            messages.append(
                {
                    "from": "function",
                    "value": json.dumps(
                        {"error": "Timeout error...HTTPSConnectionPool: Read timed out.", "response": ""}
                    ),
                }
            )
            finish = {"return_type": "give_up_and_restart"}
            thought = "The API keeps timing out, so I cannot get the data. I give up and restart."
            break
        observation = tool.respond(args, rng)
        messages.append({"from": "function", "value": json.dumps({"error": "", "response": json.dumps(observation)})})
        answers.append(tool.answer(args, observation))
    else:
        finish = {"return_type": "give_answer", "final_answer": " ".join(answers)}
        thought = "I have all the information I need to answer."
    messages.append(
        {"from": "assistant", "value": f"\nThought: {thought}\nAction: Finish\nAction Input: {_args_text(finish)}"}
    )
    return [
        {"id": f"Step {m}: {query}", "conversations": messages[: m + 1]}
        for m, msg in enumerate(messages)
        if msg["from"] == "assistant"
    ]


OS_TASKS = (
    ('How many files are in the directory "{d}"?', "ls -1 {d} | wc -l", lambda r: str(r.randint(3, 300)), "answer"),
    ('How many lines of {f} contain the word "{w}"?', "grep -c '{w}' {f}", lambda r: str(r.randint(0, 40)), "answer"),
    (
        "What is the size of the largest file in {d}? Answer in bytes.",
        "ls -lS {d} | awk 'NR==2 {{print $5}}'",
        lambda r: str(r.randint(100, 90000)),
        "answer",
    ),
    (
        "How many users on this system have a login shell of /bin/bash?",
        "grep -c '/bin/bash$' /etc/passwd",
        lambda r: str(r.randint(1, 9)),
        "answer",
    ),
    ("Create an empty file named {n} in {d}.", "touch {d}/{n}", lambda r: "", "finish"),
    ("Make a directory called {n} under {d}.", "mkdir -p {d}/{n}", lambda r: "", "finish"),
)
OS_DIRS = ["/etc", "/var/log", "/usr/bin", "/home/user", "/tmp", "/opt", "/srv/data"]
OS_FILES = ["/var/log/syslog", "/etc/hosts", "/home/user/notes.txt", "/etc/services", "/tmp/report.csv"]
OS_WORDS = ["error", "localhost", "TODO", "warning", "tcp"]
OS_NAMES = ["backup", "cache", "todo.txt", "reports", "scratch", "config.bak"]


def agentinstruct_os(i: int, rng: random.Random) -> dict[str, Any]:
    template, cmd, output, final = rng.choice(OS_TASKS)
    slots = {"d": rng.choice(OS_DIRS), "f": rng.choice(OS_FILES), "w": rng.choice(OS_WORDS), "n": rng.choice(OS_NAMES)}
    problem, command, out = template.format(**slots), cmd.format(**slots), output(rng)
    turns = list(OS_EXAMPLE)
    turns.append(("human", None, f"Now, I will start a new problem in a new OS. My problem is:\n\n{problem}"))
    turns.append(
        (
            "gpt",
            True,
            f"Think: I can get this with one command: {command.split()[0]}.\n\nAct: bash\n\n```bash\n{command}\n```",
        )
    )
    turns.append(("human", None, f"The output of the OS:\n{out}" if out else "The output of the OS:\n\n[no output]"))
    if final == "answer":
        turns.append(("gpt", True, f"Think: The output shows the answer is {out}.\n\nAct: answer({out})"))
    else:
        turns.append(("gpt", True, "Think: The command ran without errors, so the task is done.\n\nAct: finish"))
    return {"id": f"os_{i}", "conversations": [{"from": f, "loss": loss, "value": v} for f, loss, v in turns]}


DB_TABLES = (
    ("Matches", ["Team", "Opponent", "Goals"], "Goals", "Team"),
    ("Employees", ["Name", "Department", "Salary"], "Salary", "Department"),
    ("Books", ["Title", "Author", "Pages"], "Pages", "Author"),
    ("Cities", ["City", "Country", "Population"], "Population", "Country"),
)
DB_VALUES = {
    "Team": ["Lions", "Tigers", "Eagles"],
    "Department": ["Sales", "IT", "HR"],
    "Author": ["Austen", "Tolstoy", "Orwell"],
    "Country": ["France", "Japan", "Peru"],
}


def agentinstruct_db(i: int, rng: random.Random) -> dict[str, Any]:
    table, headers, number, key = rng.choice(DB_TABLES)
    value = rng.choice(DB_VALUES[key])
    agg, question = rng.choice(
        [
            ("SUM", f"What is the total {number.lower()} where {key} is {value}?"),
            ("MAX", f"What is the largest {number.lower()} where {key} is {value}?"),
            ("COUNT", f"How many rows have {key} equal to {value}?"),
        ]
    )
    target = f"`{number}`" if agg != "COUNT" else "*"
    result = rng.randint(1, 5000)
    sql = f"SELECT {agg}({target}) FROM `{table}` WHERE `{key}` = '{value}';"
    turns = [
        ("human", None, DB_INSTRUCTIONS),
        ("gpt", False, "Ok."),
        (
            "human",
            None,
            f"{question}\nThe name of this table is {table}, and the headers of this table are {', '.join(headers)}.",
        ),
        (
            "gpt",
            True,
            f"To answer this I compute {agg} over {number} for the rows where {key} is {value}.\nAction: Operation\n```sql\n{sql}\n```",
        ),
        ("human", None, f"[({result},)]"),
        (
            "gpt",
            True,
            f'The query returned {result}, so that is the answer.\nAction: Answer\nFinal Answer: ["{result}"]',
        ),
    ]
    return {"id": f"db_{i}", "conversations": [{"from": f, "loss": loss, "value": v} for f, loss, v in turns]}


def formatted(answer: str, request: str) -> str:
    """The answer in the shape a `FORMAT_REQUESTS` entry asks for."""
    if "bulleted" in request:
        return "\n".join(f"- {part.strip()}" for part in answer.replace("\n", ". ").split(". ") if part.strip())
    if "JSON" in request:
        return json.dumps({"answer": answer}, ensure_ascii=False)
    if "ten words" in request:
        return " ".join(answer.split()[:8]).rstrip(",.;:") + "."
    return answer.replace("\n", " ").split(". ")[0].rstrip(".") + "."


def sharegpt(i: int, rng: random.Random) -> dict[str, Any]:
    query, answer = world.sample_plain(rng)
    if rng.random() < 0.2:  # a user asking for a response format, as real chat data has
        request = rng.choice(FORMAT_REQUESTS)
        query, answer = f"{query} {request}", formatted(answer, request)
    turns = [{"from": "human", "value": query}, {"from": "gpt", "value": answer}]
    if rng.random() < 0.3:
        follow, reply = rng.choice(world.PLAIN_FOLLOWUPS)
        turns += [{"from": "human", "value": follow}, {"from": "gpt", "value": reply}]
    return {"id": f"sharegpt_{i}", "conversations": turns}


def _json_array(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    """A JSON array laid out exactly as `json.dump(records, f, indent=4, ensure_ascii=False)` does."""
    yield "["
    for n, rec in enumerate(records):
        yield ("," if n else "") + "\n" + textwrap.indent(json.dumps(rec, indent=4, ensure_ascii=False), "    ")
    yield "\n]"


def _jsonl(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    for rec in records:
        yield json.dumps(rec, ensure_ascii=False) + "\n"


def write_demo(out_dir: str | Path, cfg: DemoConfig) -> dict[str, int]:
    """Write the four raw files; returns the record count of each."""
    out = Path(out_dir)
    counts: dict[str, int] = {}

    def toolbench_records() -> Iterator[dict[str, Any]]:
        rng, unique = random.Random(f"{cfg.seed}:toolbench"), _UniqueQueries()
        for _ in range(cfg.toolbench):
            yield from toolbench_trajectory(rng, cfg, unique)

    def numbered(make, n: int, name: str) -> Iterator[dict[str, Any]]:
        rng = random.Random(f"{cfg.seed}:{name}")
        return (make(i, rng) for i in range(n))

    plan = {
        "toolbench.json": (_json_array, toolbench_records()),
        "agentinstruct_os.jsonl": (_jsonl, numbered(agentinstruct_os, cfg.agentinstruct_os, "os")),
        "agentinstruct_db.jsonl": (_jsonl, numbered(agentinstruct_db, cfg.agentinstruct_db, "db")),
        "sharegpt.jsonl": (_jsonl, numbered(sharegpt, cfg.sharegpt, "sharegpt")),
    }
    for name, (layout, records) in plan.items():
        n = 0

        def counted(recs: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            nonlocal n
            for r in recs:
                n += 1
                yield r

        with atomic_writer(out / name, "w") as f:
            for chunk in layout(counted(records)):
                f.write(chunk)
        counts[name] = n
    return counts
