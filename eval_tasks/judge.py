"""Judge-model steps of the evaluation, through the project's OpenAI-compatible client.

- MM-Vet grading (`judge_mmvet`): the judge fills the official few-shot grading table.
- Answer extraction where the rules found none (`judge_unparsed`), on the benchmarks whose reference toolkit uses a
  judge for that; the extracted answer is then graded by the same rules.

The MM-Vet prompt is MM-Vet's own (GPT-4 grader): the judge completes the last "Correctness" cell with 0.0 ... 1.0. As in the
reference, a reply that holds no score in [0, 1] is retried (with rising temperature); an item whose judge never
answers usefully is scored 0 and counted as `judge_failed`, so the report shows it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from reward_funcs.client import ChatClient, EndpointConfig, EndpointError

logger = logging.getLogger(__name__)

MMVET_GRADER_PROMPT = """Compare the ground truth and prediction from AI models, to give a correctness score for the prediction. <AND> in the ground truth means it is totally right only when all elements in the ground truth are present in the prediction, and <OR> means it is totally right when any one element in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space of the correctness score.

Question | Ground truth | Prediction | Correctness
--- | --- | --- | ---
What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0
What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5
What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland is not very icy and Greenland isn't very green. | 0.4
Can you explain this meme? | This meme is poking fun at the fact that the names of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person has trust issues because the names of these countries do not accurately represent their landscapes. | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why I have trust issues' is a playful way to suggest that these contradictions can lead to distrust or confusion. The humor in this meme is derived from the unexpected contrast between the names of the countries and their actual physical characteristics. | 1.0
"""

_SCORE = re.compile(r"(?<![\d.])(0(?:\.\d+)?|1(?:\.0+)?)(?![\d.])")


@dataclass
class JudgeSettings(EndpointConfig):
    """Where the judge model is served (the client's `EndpointConfig`, e.g. `vllm serve Qwen/Qwen2.5-72B-Instruct` ->
    base_url http://host:8000/v1), and how hard to try."""

    timeout: float = field(default=120.0, metadata={"help": "Seconds per request."})
    attempts: int = field(default=5, metadata={"help": "Tries per item when the reply holds no score."})
    max_retries: int = field(default=5, metadata={"help": "Client retries of a failed request (timeouts, 429, 5xx)."})

    @classmethod
    def from_flags(cls, base_url: str | None, model: str | None, api_key_env: str) -> JudgeSettings | None:
        """The judge the `--judge-base-url/--judge-model` flags of `run` and `score` name; None when neither is set."""
        if bool(base_url) != bool(model):
            raise ValueError("--judge-base-url and --judge-model go together")
        return cls(base_url, model, api_key_env=api_key_env) if base_url else None

    def endpoint(self) -> EndpointConfig:
        return EndpointConfig(
            base_url=self.base_url,
            model=self.model,
            api_key_env=self.api_key_env,
            max_concurrency=self.max_concurrency,
            timeout=self.timeout,
            sampling={**self.sampling, "max_tokens": 8},
        )


def mmvet_grader_messages(question: str, answer: str, prediction: str) -> list[dict]:
    gold = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    row = f"{question} | {gold} | {prediction.replace(chr(10), ' ')} | "
    return [{"role": "user", "content": MMVET_GRADER_PROMPT + row}]


def parse_judge_score(text: str) -> float | None:
    match = _SCORE.search(text or "")
    return float(match.group(1)) if match else None


def judge_mmvet(records: list[dict], settings: JudgeSettings) -> list[dict]:
    """Fill `judge_score` and `status` on MM-Vet records; returns the same records."""
    pending = [r for r in records if r.get("judge_score") is None]
    if not pending:
        return records
    client = ChatClient([settings.endpoint()], max_retries=settings.max_retries)
    try:
        for attempt in range(settings.attempts):
            if not pending:
                break
            batch = [mmvet_grader_messages(r["question"], r["answer"], r["prediction"] or "") for r in pending]
            replies = client.chat_many_sync(batch, temperature=0.2 * attempt)
            still_pending = []
            for record, reply in zip(pending, replies):
                score = None if isinstance(reply, EndpointError) else parse_judge_score(reply.text)
                if score is None:
                    still_pending.append(record)
                    continue
                record.update(judge_score=score, correct=score >= 0.5, status="judge")
            pending = still_pending
    finally:
        client.close()
    if pending:
        logger.warning(
            "MM-Vet judge at %s gave no usable score for %d items (failed calls or no score); they score 0 "
            "(judge_failed)",
            settings.base_url,
            len(pending),
        )
    for record in pending:
        record.update(judge_score=0.0, correct=False, status="judge_failed")
    return records


EXTRACTION_PROMPT = """You read a model's response to a benchmark question and report the final answer it gives.
Reply with the answer only: an option letter (or letters separated by commas) when options are listed, "yes" or "no"
for a yes/no question, otherwise the number, expression or short phrase the response concludes with. Do not solve
the question yourself. If the response gives no final answer, reply None.
{options}
Response:
{response}

Final answer:"""


def extraction_messages(response: str, options: dict[str, str] | None) -> list[dict]:
    listed = "Options:\n" + "\n".join(f"{k}. {v}" for k, v in options.items()) + "\n" if options else ""
    return [{"role": "user", "content": EXTRACTION_PROMPT.format(options=listed, response=response)}]


def judge_unparsed(records: list[dict], settings: JudgeSettings, score_item) -> list[dict]:
    """Where the rules could not read an answer, the judge extracts it and the same rules grade the extraction.

    This is what the reference toolkit does with a judge (answer extraction, then its own matching), minus its
    random-option fallback: an answer the judge cannot find either stays unparsed and wrong. A failed judge call
    (unreachable, timeout, 5xx, garbage) is no such finding: the item is counted as `judge_failed`.
    """
    pending = [r for r in records if r["status"] == "unparsed" and r.get("retry")]
    if not pending:
        return records
    payloads = [json.loads(r["retry"]) for r in pending]
    client = ChatClient([settings.endpoint()], max_retries=settings.max_retries)
    try:
        replies = client.chat_many_sync(
            [extraction_messages(p["raw"], p["item"].get("options")) for p in payloads], temperature=0.0, max_tokens=64
        )
    finally:
        client.close()
    failed = 0
    for record, payload, reply in zip(pending, payloads, replies):
        if isinstance(reply, EndpointError):  # the judge was not heard: a failure, not "the response has no answer"
            record.update(correct=False, status="judge_failed")
            failed += 1
            continue
        answer = reply.text.strip()
        if not answer or answer.lower().rstrip(".") == "none":
            continue
        rescored = score_item(f"<answer>{answer}</answer>", payload["item"])
        if rescored["status"] == "rule":
            record.update(correct=rescored["correct"], extracted=rescored["extracted"], status="judge")
    if failed:
        logger.warning(
            "answer-extraction judge at %s failed on %d/%d items; counted as judge_failed (scored 0)",
            settings.base_url,
            failed,
            len(pending),
        )
    return records
