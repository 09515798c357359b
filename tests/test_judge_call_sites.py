"""At every judge call site a failed call is counted as a failure, never as "no answer" (loopback judge).

The reward side (`hybrid` / `judge`) is covered in test_judge_hardening.py and test_grpo_judge.py; here the
evaluation's answer extraction and MM-Vet grading. (Synthesis re-evaluation: a failed judge call raises
`EndpointError`, which `SynthesisRun.process_image` records in `failures` for the next run; a reply without a verdict
is a `malformed_reply` rejection -- never a pass.)
"""

from __future__ import annotations

import logging

import pytest

from eval_tasks.judge import JudgeSettings, judge_mmvet, judge_unparsed
from eval_tasks.scoring import choice_record
from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

ITEM = {"answer": "B", "options": {"A": "a cat", "B": "a dog"}, "question": "What animal is it?"}
RAMBLING = "It is hard to tell from this picture; the animal could be several things, and I will not commit. " * 3


def score_choice(completion: str, item: dict) -> dict:
    return choice_record(completion, item, ["answer"])


def unparsed_records(n: int) -> list[dict]:
    records = [score_choice(RAMBLING, ITEM) for _ in range(n)]
    assert all(r["status"] == "unparsed" for r in records)
    return records


@pytest.mark.parametrize(
    "reply, expected",
    [
        (Reply(status=500), "judge_failed"),
        (Reply(garbage=b"not a chat completion"), "judge_failed"),
        (Reply(text="GRADE?", delay_s=3.0), "judge_failed"),  # past the 0.5 s timeout
        (Reply(text="None"), "unparsed"),  # the judge read the response and found no answer
        (Reply(text="B"), "judge"),
    ],
    ids=["5xx", "garbage", "hang", "no-answer", "answer"],
)
def test_answer_extraction_counts_a_failed_call_as_judge_failed(reply, expected, caplog):
    records = unparsed_records(2)
    with ScriptedOpenAIServer(lambda request: reply) as server:
        settings = JudgeSettings(base_url=server.base_url, model="judge", timeout=0.5, max_retries=0)
        with caplog.at_level(logging.WARNING, logger="eval_tasks.judge"):
            judge_unparsed(records, settings, score_choice)
    assert [r["status"] for r in records] == [expected] * 2
    assert (server.base_url in caplog.text) == (expected == "judge_failed")
    if expected == "judge":
        assert all(r["correct"] for r in records)


def test_mmvet_counts_a_judge_that_never_answers_as_judge_failed(caplog):
    from eval_tasks.scoring import score_mmvet

    item = {"question_id": "v1_0", "capability": ["rec"], "question": "Colour?", "answer": "red"}
    records = [score_mmvet("<answer>red</answer>", item)]
    with ScriptedOpenAIServer(lambda request: Reply(status=503)) as server:
        with caplog.at_level(logging.WARNING, logger="eval_tasks.judge"):
            judge_mmvet(
                records, JudgeSettings(base_url=server.base_url, model="judge", timeout=0.5, attempts=2, max_retries=0)
            )
    assert records[0]["status"] == "judge_failed" and records[0]["judge_score"] == 0.0
    assert server.base_url in caplog.text
