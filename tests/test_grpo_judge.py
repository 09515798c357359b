"""Judge failures never move the policy, proved with TRL's own advantage computation.

Each run is one real `GRPOTrainer` step on the tiny Qwen2.5-VL (CPU): two prompts x 4 completions, rewards
`hybrid` (judged, weight 0.7) + `format` (0.3), the judge a loopback server. The completions are written by a
scripted rollout through TRL's `rollout_func` hook (a random tiny model never writes an `<answer>`, so nothing would
reach the judge); everything after it -- log-probabilities, rewards, NaN handling, group normalisation, loss,
optimizer step -- is TRL's code. The advantages are read from the completions table TRL writes with
`log_completions` (`output_dir/completions/*.parquet`), and the judge counts from `log_history`.
"""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

from tests.doubles.scripted_server import Reply, ScriptedOpenAIServer

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

FORMATTED = "<think>I look at it.</think><answer>{}</answer>"
UNFORMATTED = "<answer>{}</answer>"  # an answer the judge grades, but format scores 0
# Per prompt: the completions of its group, in order. The judge fails on "fail" (when told to).
SCRIPT = {
    "Describe the car.": [FORMATTED.format("right"), FORMATTED.format("wrong"), UNFORMATTED.format("right"),
                          FORMATTED.format("fail")],
    "Describe the cat.": [FORMATTED.format("right"), FORMATTED.format("wrong"), UNFORMATTED.format("half"),
                          UNFORMATTED.format("wrong")],
}  # fmt: skip
CAR, CAT = SCRIPT


def judge_replies(fail: bool):
    def reply(request) -> Reply:
        answer = request.last_text.rsplit("<model_answer>", 1)[1].split("</model_answer>")[0].strip()
        if answer == "fail":
            return Reply(status=500) if fail else Reply(text="GRADE: INCORRECT")
        tier = {"right": "CORRECT", "half": "PARTIAL"}.get(answer, "INCORRECT")
        return Reply(text=f"Compared with the reference.\nGRADE: {tier}")

    return reply


def scripted_rollout(prompts: list, trainer) -> dict:
    """TRL's `rollout_func`: one scripted completion per prompt entry (TRL passes each prompt num_generations
    times), tokenized with the trainer's own processor."""
    tokenizer = trainer.processing_class.tokenizer
    seen: dict[str, int] = {}
    prompt_ids, completion_ids = [], []
    for prompt in prompts:
        question = (
            prompt[-1]["content"][0]["text"] if isinstance(prompt[-1]["content"], list) else prompt[-1]["content"]
        )
        text = SCRIPT[question][seen.get(question, 0)]
        seen[question] = seen.get(question, 0) + 1
        rendered = trainer.processing_class.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        prompt_ids.append(tokenizer.encode(rendered, add_special_tokens=False))
        completion_ids.append(tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id])
    return {
        "prompt_ids": prompt_ids,
        "completion_ids": completion_ids,
        "logprobs": [[0.0] * len(c) for c in completion_ids],
    }


def train_one_step(
    model_dir, output_dir, reward_names, weights, judge_url=None, judge_model="judge"
) -> tuple[pd.DataFrame, list[dict]]:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from reward_funcs import JudgeConfig, get_reward_funcs

    rows = [
        {"id": f"row-{i}", "prompt": [{"role": "user", "content": question}], "problem": question,
         "solution": "the reference", "question_type": "descriptive", "reward_method": "model"}
        for i, question in enumerate(SCRIPT)
    ]  # fmt: skip
    judge = None
    if judge_url:  # a short grade budget: the real server in the end-to-end test is a tiny CPU model
        judge = JudgeConfig(base_url=judge_url, model=judge_model, timeout=60, max_retries=0, max_tokens=16)
    args = GRPOConfig(
        output_dir=str(output_dir), per_device_train_batch_size=8, num_generations=4, max_completion_length=32,
        max_steps=1, learning_rate=1e-5, beta=0.0, reward_weights=weights, logging_steps=1, save_strategy="no",
        report_to="none", log_completions=True, num_completions_to_print=0, bf16=False, seed=0,
        model_init_kwargs={"dtype": "float32"}, disable_tqdm=True,
    )  # fmt: skip
    reward_funcs = get_reward_funcs(reward_names, judge=judge)
    trainer = GRPOTrainer(
        model=str(model_dir),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        rollout_func=scripted_rollout,
    )
    try:
        trainer.train()
    finally:
        for func in reward_funcs:
            if callable(getattr(func, "close", None)):
                func.close()
    table = pd.read_parquet(output_dir / "completions" / "completions_00001.parquet")
    table["question"] = [prompt[-1]["content"] for prompt in table["prompt"]]
    table["text"] = [completion[-1]["content"] for completion in table["completion"]]
    return table, trainer.state.log_history


def advantages(table: pd.DataFrame, question: str) -> dict[str, float]:
    rows = table[table["question"] == question]
    return dict(zip(rows["text"], rows["advantage"]))


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo-judge")
    with ScriptedOpenAIServer(judge_replies(fail=True)) as failing:
        failed = train_one_step(tiny_model_dir, root / "failing", ["hybrid", "format"], [0.7, 0.3], failing.base_url)
    with ScriptedOpenAIServer(judge_replies(fail=False)) as healthy:
        ok = train_one_step(tiny_model_dir, root / "healthy", ["hybrid", "format"], [0.7, 0.3], healthy.base_url)
    format_only = train_one_step(tiny_model_dir, root / "format-only", ["format"], [0.3])
    return {"failing": failed, "healthy": ok, "format_only": format_only}


def test_a_judge_failure_voids_its_group_and_leaves_the_advantage_to_the_other_rewards(runs):
    failing, _ = runs["failing"]
    healthy, _ = runs["healthy"]
    format_only, _ = runs["format_only"]
    assert len(failing) == 8 and set(failing["question"]) == set(SCRIPT)

    # The voided group: no judged reward for any completion (not only the failed one) ...
    car = failing[failing["question"] == CAR]
    assert all(math.isnan(value) for value in car["hybrid_reward"])
    assert sorted(car["format_reward"]) == [0.0, 1.0, 1.0, 1.0]
    # ... so TRL's advantages for it are those of a run without the judged reward,
    assert advantages(failing, CAR) == pytest.approx(advantages(format_only, CAR), abs=1e-6)
    # the failed completion is not pushed down like the wrong answer, as it would be without the voiding,
    failed_text = FORMATTED.format("fail")
    assert advantages(failing, CAR)[failed_text] == pytest.approx(advantages(failing, CAR)[FORMATTED.format("wrong")])
    assert advantages(healthy, CAR) != pytest.approx(advantages(failing, CAR), abs=1e-3)  # the judge did matter
    # and the other group is untouched.
    assert advantages(failing, CAT) == pytest.approx(advantages(healthy, CAT), abs=1e-6)
    cat = failing[failing["question"] == CAT].set_index("text")
    assert cat.loc[FORMATTED.format("right"), "hybrid_reward"] == 1.0
    assert cat.loc[UNFORMATTED.format("half"), "hybrid_reward"] == 0.5


def test_judge_counts_are_logged_per_step(runs):
    [failing_step] = [entry for entry in runs["failing"][1] if "loss" in entry]
    [healthy_step] = [entry for entry in runs["healthy"][1] if "loss" in entry]
    assert failing_step["hybrid_reward/voided_groups"] == 1.0
    assert failing_step["hybrid_reward/judge_failures"] == 1.0
    assert failing_step["hybrid_reward/judged"] == 4.0  # the cat group; the car group was voided
    assert healthy_step["hybrid_reward/voided_groups"] == 0.0 and healthy_step["hybrid_reward/judged"] == 8.0
    assert "rewards/hybrid_reward/mean" in failing_step and "rewards/format_reward/mean" in failing_step


def test_hybrid_against_a_real_judge_server_end_to_end(tiny_model_dir, tiny_server, tmp_path):
    """`hybrid` calling `transformers serve` (the tiny random model: its grades are noise, the plumbing is real)."""
    table, history = train_one_step(
        tiny_model_dir, tmp_path / "run", ["hybrid", "format"], [0.7, 0.3], tiny_server.base_url, tiny_server.model
    )
    [step] = [entry for entry in history if "loss" in entry]
    assert math.isfinite(step["loss"])
    assert '"POST /v1/chat/completions HTTP/1.1" 200' in tiny_server.log_tail(200)  # the judge answered over HTTP
    # Every completion carries an answer, so each is either graded or in a voided group of 4.
    assert step["hybrid_reward/judged"] + 4 * step["hybrid_reward/voided_groups"] == 8
    assert step["hybrid_reward/judge_failures"] >= step["hybrid_reward/voided_groups"]
    assert {"rewards/hybrid_reward/mean", "rewards/format_reward/mean", "reward"} <= set(step)
    # The per-function reward columns of TRL's completions table, with the judged one NaN exactly in voided groups.
    assert {"hybrid_reward", "format_reward", "advantage", "hybrid_route"} <= set(table.columns)
    voided = table.groupby("question")["hybrid_reward"].apply(lambda column: column.isna().all())
    assert int(voided.sum()) == step["hybrid_reward/voided_groups"]
    assert (
        not table.groupby("question")["hybrid_reward"]
        .apply(lambda column: column.isna().any() and not column.isna().all())
        .any()
    )
