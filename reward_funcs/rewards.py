"""WeThink's hybrid reward as TRL reward functions.

Every function follows GRPOTrainer's contract: `f(completions, **kwargs) -> list[float | None]`, where the dataset
columns (`solution`, `question_type`, `reward_method`, `problem`, `id`) arrive as keyword lists and a completion is
either a plain string or a conversation ([{"role": "assistant", "content": "..."}]). `None` means "could not score
this sample": TRL turns it into NaN.

What a None does in TRL 1.16 (`GRPOTrainer._generate_and_score_completions`): a completion is left out only when
*every* reward function returned None for it; otherwise its weighted rewards are `nansum`med, so a None counts as 0.
With `format` always scored, one failed judgement would therefore score like a wrong answer. The judged rewards
(`judge`, `hybrid`) never return a None for part of a group: when the judge cannot grade one completion of a prompt's
group (the completions TRL normalises over), the judged reward of the whole group is None, and that group's advantage
comes from the other rewards alone. How that reads under `multi_objective_aggregation`:

- `sum_then_normalize` (default): the group's summed reward is the other rewards' weighted sum (e.g. 0.3 * format),
  normalised over the group as usual, so its advantages are those of a run without the judged reward.
- `normalize_then_sum`: each reward is normalised per group first; the judged column of a voided group is all NaN and
  drops out of the `nansum`, so again only the other rewards' normalised values remain.
- a judged reward alone (no other reward): every completion of a voided group is unscorable and TRL sets its
  advantage to 0.

Voided groups, judged completions and failed judge requests are logged per step with TRL's `log_metric`
(`<reward>/voided_groups`, `<reward>/judged`, `<reward>/judge_failures`).

- `format_reward`: 1.0 for `<think>...</think><answer>...</answer>`, whether or not the chat template prefilled
  `<think>` (a completion that starts inside the think block is well formed).
- `accuracy_reward`: rule-based correctness through `reward_funcs.grading` (the same rules the evaluation uses).
- `JudgeReward` ("judge"): a model judge on an OpenAI-compatible endpoint (e.g. `vllm serve`), with the published,
  versioned prompt in `reward_funcs/prompts/judge_v1.txt` returning CORRECT / PARTIAL / INCORRECT -> 1 / 0.5 / 0.
- `HybridReward` ("hybrid"): the paper's routing: `reward_method` "rule" rows by rule, "model" rows by the judge
  (falling back to `question_type`: descriptive -> judge). Without a judge, model rows get None.

The paper weights accuracy (hybrid) 0.7 and format 0.3: put them in GRPOConfig's `reward_weights`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reward_funcs.answer_format import completion_text, format_reward, is_well_formatted  # noqa: F401
from reward_funcs.client import EndpointConfig
from reward_funcs.grading import MAX_ANSWER_CHARS, extract_answer, parse_gold, parse_options, verify

logger = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent / "prompts"
JUDGE_TIERS = {"CORRECT": 1.0, "PARTIAL": 0.5, "INCORRECT": 0.0}
_GRADE_LABEL_RE = re.compile(r"grade\s*:", re.IGNORECASE)
_GRADE_RE = re.compile(r"GRADE\s*:\s*\**\s*(CORRECT|PARTIAL|INCORRECT)\b", re.IGNORECASE)


def _column(kwargs: dict, name: str, size: int) -> list:
    values = kwargs.get(name)
    if values is None:
        return [None] * size
    if len(values) != size:
        raise ValueError(f"column {name!r} has {len(values)} values for {size} completions")
    return list(values)


# ----------------------------------------------------------------------------------------------------------------
# accuracy
# ----------------------------------------------------------------------------------------------------------------


def _options_for(problem: str | None, question_type: str | None) -> dict[str, str] | None:
    if problem and question_type in (None, "multiple-choice"):
        return parse_options(problem) or None
    return None


def _rule_score(text: str, gold: Any, question_type: str | None, problem: str | None) -> tuple[float | None, str]:
    """(score, extracted answer); score None when the row has no usable gold answer."""
    if gold is None or not str(gold).strip():
        return None, ""
    try:
        parsed = parse_gold(str(gold), question_type, _options_for(problem, question_type))
    except ValueError:
        return None, ""
    verdict = verify(text, parsed)
    return float(verdict.correct), verdict.extracted or ""


def accuracy_reward(
    completions: list, solution: list[str], question_type: list[str] | None = None, log_extra=None, **kwargs
) -> list[float | None]:
    """1.0 when the final answer matches `solution` under the grading rules, 0.0 when not, None without a gold."""
    size = len(completions)
    question_types = question_type if question_type is not None else [None] * size
    problems = _column(kwargs, "problem", size)
    rewards, extracted = [], []
    for completion, gold, qtype, problem in zip(completions, solution, question_types, problems):
        score, answer = _rule_score(completion_text(completion), gold, qtype, problem)
        rewards.append(score)
        extracted.append(answer)
    if log_extra is not None:
        log_extra("accuracy_extracted", extracted)
    return rewards


# ----------------------------------------------------------------------------------------------------------------
# judge
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class JudgeConfig(EndpointConfig):
    """Where the judge model is served (the client's `EndpointConfig`: base_url, model, api_key_env, ...) and how hard
    to try; the API key is read from `api_key_env` at call time."""

    timeout: float = field(default=60.0, metadata={"help": "Seconds one judge request may take before a retry."})
    max_concurrency: int = field(default=32, metadata={"help": "Judge requests in flight at once."})
    max_retries: int = field(default=2, metadata={"help": "Retries of a failed request (timeouts, 429, 5xx)."})
    prompt_version: str = field(default="v2", metadata={"help": "Judge prompt `reward_funcs/prompts/judge_<v>.txt`."})
    temperature: float = field(default=0.0, metadata={"help": "Sampling temperature of the judge."})
    max_tokens: int = field(default=512, metadata={"help": "Most tokens the judge may write."})

    def __post_init__(self):
        if not self.base_url or not self.model:
            raise ValueError(
                f"JudgeConfig needs base_url and model, got base_url={self.base_url!r} model={self.model!r}"
            )
        super().__post_init__()


def load_judge_prompt(version: str = "v1") -> str:
    path = PROMPTS_DIR / f"judge_{version}.txt"
    if not path.is_file():
        available = sorted(p.stem.removeprefix("judge_") for p in PROMPTS_DIR.glob("judge_*.txt"))
        raise ValueError(f"no judge prompt {path.name}; available versions: {available}")
    return path.read_text(encoding="utf-8")


# Characters a reader (or a model) may take for an angle bracket: the ASCII ones, the fullwidth and small forms
# (whose NFKC form is one) and the common lookalikes (single guillemets, angle brackets, modifier arrows, ...).
_LEFT_BRACKETS = "<\uff1c\ufe64\u2039\u2329\u3008\u27e8\u02c2\u1438\u276e\u29fc\u2b9c"
_RIGHT_BRACKETS = ">\uff1e\ufe65\u203a\u232a\u3009\u27e9\u02c3\u1433\u276f\u29fd\u2b9e"
_ESCAPES = str.maketrans(
    {"&": "&amp;", **dict.fromkeys(_LEFT_BRACKETS, "&lt;"), **dict.fromkeys(_RIGHT_BRACKETS, "&gt;")}
)


def escape_answer(text: str) -> str:
    """The answer as inert text: `&` and every angle bracket or lookalike become entities (`&amp;`, `&lt;`, `&gt;`),
    so no spelling of a tag (`</MODEL_ANSWER>`, `</model_answer >`, fullwidth brackets, attributes, ...) survives
    to close the `<model_answer>` block; any `grade:` label is defused so an echoed answer cannot supply the grade
    line."""
    return _GRADE_LABEL_RE.sub("grade -", text.translate(_ESCAPES))


def render_judge_prompt(template: str, question: str, reference: str, prediction: str) -> str:
    # The answer is untrusted (the policy writes it): it must not be able to close its tag or write the grade line.
    prediction = escape_answer(prediction[:MAX_ANSWER_CHARS])
    return template.format(question=question.strip(), reference=reference.strip(), prediction=prediction.strip())


def parse_judge_grade(reply: str) -> float | None:
    """The score of the last `GRADE: <tier>` line of a judge reply, None when there is none."""
    grades = _GRADE_RE.findall(reply or "")
    return JUDGE_TIERS[grades[-1].upper()] if grades else None


def _prompt_text(prompt: Any) -> str:
    """The user's question when only the conversational prompt is available."""
    if isinstance(prompt, str) or prompt is None:
        return prompt or ""
    users = [message for message in prompt if isinstance(message, dict) and message.get("role") == "user"]
    return completion_text(users[-1:]) if users else ""


@dataclass
class JudgeBatch:
    """One batch's judgements: a score per prediction, and whether the judge was asked and could not grade it."""

    scores: list[float | None]
    failed: list[bool]
    requests: int = 0  # distinct (question, reference, answer) triples sent
    failures: int = 0  # of those, how many got no grade (error, timeout, garbage, no GRADE line)


def prompt_groups(kwargs: dict, size: int) -> list[list[int]] | None:
    """The completions of each prompt, as index runs: TRL's RepeatSampler puts the `num_generations` completions of
    a prompt next to each other, and within one generation batch every dataset row appears in one group only.
    Rows are told apart by the dataset's `id` column, else by the prompt; None when neither is passed (a direct call
    outside a trainer), and then no grouping is applied."""
    keys = kwargs.get("id") or kwargs.get("prompts")
    if keys is None:
        return None
    if len(keys) != size:
        raise ValueError(f"{len(keys)} prompt keys for {size} completions")
    groups: list[list[int]] = []
    for index, key in enumerate(keys):
        if groups and keys[groups[-1][0]] == key:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def void_failed_groups(rewards: list[float | None], failed: list[bool], groups: list[list[int]] | None) -> int:
    """Set the reward of every completion of a group to None where the judge failed on any of them (TRL would
    `nansum` a lone None to 0, i.e. score a failed judgement as a wrong answer); returns how many groups were voided.
    Without groups, only the failed completions themselves are None."""
    if groups is None:
        return sum(failed)
    voided = 0
    for group in groups:
        if any(failed[i] for i in group):
            voided += 1
            for index in group:
                rewards[index] = None
    return voided


class JudgeReward:
    """Model-judged reward ("judge"): 1 / 0.5 / 0 by tier; None for a whole prompt group when the judge could not
    grade one of its completions (unreachable, timed out, 5xx, garbage, no grade line), and for rows without a
    reference. Completions without a final answer score 0 without a request. Identical (question, reference,
    answer) triples in a batch are judged once, and the batch's requests run concurrently."""

    __name__ = "judge_reward"

    def __init__(self, config: JudgeConfig, client=None):
        self.config = config
        self.template = load_judge_prompt(config.prompt_version)
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from reward_funcs.client import ChatClient

            endpoint = EndpointConfig(
                base_url=self.config.base_url,
                model=self.config.model,
                api_key_env=self.config.api_key_env,
                max_concurrency=self.config.max_concurrency,
                timeout=self.config.timeout,
                sampling={
                    **self.config.sampling,
                    "temperature": self.config.temperature,
                    "max_tokens": self.config.max_tokens,
                },
            )
            self._client = ChatClient([endpoint], max_retries=self.config.max_retries)
        return self._client

    def __getstate__(self):  # picklable for TRL's spawned rollout workers: the client is rebuilt there
        return {**self.__dict__, "_client": None}

    def grade(self, questions: list[str], references: list[str], predictions: list[str | None]) -> JudgeBatch:
        """Judge a batch concurrently: one score per prediction, and which ones the judge failed on."""
        # No final answer scores 0 without a request; no reference answer cannot be judged (None, not a failure).
        batch = JudgeBatch(scores=[0.0 if not p else None for p in predictions], failed=[False] * len(predictions))
        requests: dict[tuple[str, str, str], list[int]] = {}
        for index, (question, reference, prediction) in enumerate(zip(questions, references, predictions)):
            if prediction and reference is not None and str(reference).strip():
                requests.setdefault((question or "", str(reference), prediction), []).append(index)
        if not requests:
            return batch
        messages = [[{"role": "user", "content": render_judge_prompt(self.template, *triple)}] for triple in requests]
        batch.requests, last_error = len(messages), ""
        for result, indices in zip(self.client.chat_many_sync(messages), requests.values()):
            score = None if isinstance(result, Exception) else parse_judge_grade(result.text)
            if score is None:
                batch.failures += 1
                last_error = (
                    str(result) if isinstance(result, Exception) else f"no GRADE line in {result.text[:120]!r}"
                )
            for index in indices:
                batch.scores[index], batch.failed[index] = score, score is None
        if batch.failures:
            logger.warning(
                "judge at %s (model %s) could not grade %d/%d request(s); their prompt groups get no judged reward "
                "(None). Last error: %s",
                self.config.base_url,
                self.config.model,
                batch.failures,
                batch.requests,
                last_error,
            )
        return batch

    def score(self, questions: list[str], references: list[str], predictions: list[str | None]) -> list[float | None]:
        """Judge a batch concurrently; one score per prediction (None where the judge failed), no grouping."""
        return self.grade(questions, references, predictions).scores

    def __call__(self, completions: list, solution: list[str], log_metric=None, **kwargs) -> list[float | None]:
        size = len(completions)
        problems = _column(kwargs, "problem", size)
        prompts = _column(kwargs, "prompts", size)
        questions = [problem or _prompt_text(prompt) for problem, prompt in zip(problems, prompts)]
        predictions = [extract_answer(completion_text(completion)) for completion in completions]
        batch = self.grade(questions, solution, predictions)
        voided = void_failed_groups(batch.scores, batch.failed, prompt_groups(kwargs, size))
        judged = sum(
            score is not None and prediction is not None for score, prediction in zip(batch.scores, predictions)
        )
        log_judge_metrics(log_metric, self.__name__, judged, batch.failures, voided)
        return batch.scores

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def log_judge_metrics(log_metric, name: str, judged: int, failures: int, voided: int) -> None:
    """Per-step judge counts through TRL's `log_metric` (averaged over the logging window): completions graded by
    the judge (after voiding), judge requests that got no grade, prompt groups voided."""
    if log_metric is not None:
        log_metric(f"{name}/judged", float(judged))
        log_metric(f"{name}/judge_failures", float(failures))
        log_metric(f"{name}/voided_groups", float(voided))


# ----------------------------------------------------------------------------------------------------------------
# hybrid
# ----------------------------------------------------------------------------------------------------------------


def route(reward_method: str | None, question_type: str | None) -> str:
    """ "rule" or "model" for one row: its `reward_method`, else descriptive questions go to the judge."""
    if reward_method in ("rule", "model"):
        return reward_method
    return "model" if question_type == "descriptive" else "rule"


class HybridReward:
    """The paper's accuracy reward ("hybrid"): rule-based for `reward_method == "rule"` rows (multiple-choice and
    fill-in-the-blank), the model judge for `"model"` rows (descriptive). Without a judge, model rows get None; a
    group the judge failed on is None as a whole (see the module docstring)."""

    __name__ = "hybrid_reward"

    def __init__(self, judge: JudgeReward | None = None):
        self.judge = judge
        self._warned_no_judge = False

    def close(self) -> None:
        if self.judge is not None:
            self.judge.close()

    def __call__(
        self, completions: list, solution: list[str], log_extra=None, log_metric=None, **kwargs
    ) -> list[float | None]:
        size = len(completions)
        question_types = _column(kwargs, "question_type", size)
        routes = [
            route(method, qtype) for method, qtype in zip(_column(kwargs, "reward_method", size), question_types)
        ]
        problems = _column(kwargs, "problem", size)
        texts = [completion_text(completion) for completion in completions]
        rewards: list[float | None] = [None] * size
        extracted = [""] * size
        for index in (i for i, r in enumerate(routes) if r == "rule"):
            rewards[index], extracted[index] = _rule_score(
                texts[index], solution[index], question_types[index], problems[index]
            )
        model_rows = [i for i, r in enumerate(routes) if r == "model"]
        judged = failures = voided = 0
        if model_rows and self.judge is None:
            if not self._warned_no_judge:
                logger.warning(
                    "hybrid reward: %d model-judged row(s) in this batch get None (no judge configured); "
                    "pass judge=JudgeConfig(...) to get_reward_funcs to score them",
                    len(model_rows),
                )
                self._warned_no_judge = True
        elif model_rows:
            prompts = _column(kwargs, "prompts", size)
            predictions = [extract_answer(texts[i]) for i in model_rows]
            batch = self.judge.grade(
                [problems[i] or _prompt_text(prompts[i]) for i in model_rows],
                [solution[i] for i in model_rows],
                predictions,
            )
            failed = [False] * size
            for position, index in enumerate(model_rows):
                rewards[index], failed[index] = batch.scores[position], batch.failed[position]
                extracted[index] = predictions[position] or ""
            voided = void_failed_groups(rewards, failed, prompt_groups(kwargs, size))
            judged = sum(rewards[i] is not None and predictions[k] is not None for k, i in enumerate(model_rows))
            failures = batch.failures
        if self.judge is not None:  # every step, so the columns line up in the logs
            log_judge_metrics(log_metric, self.__name__, judged, failures, voided)
        if log_extra is not None:
            log_extra("hybrid_extracted", extracted)
            log_extra("hybrid_route", routes)
        return rewards
