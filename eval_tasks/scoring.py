"""Per-item verdicts and dataset-level aggregates for the 14 benchmark columns (+ MME).

Every benchmark has two pure functions, shared by the lighteval metrics (`eval_tasks.tasks`), the scoring benchmark
(`bench/eval_scoring.py`) and the tests:

- `score_<name>(completion, item) -> dict`: the per-item record. `item` is the JSON-able `Doc.specific` the prompt
  function stored (gold answer, options, group keys). The record keeps the group keys the aggregate needs plus
  `correct` (bool) and `status`: "rule" (decided by rules), "unparsed" (no answer could be read: counted wrong and
  reported, never guessed), "judge" (decided by the judge model), "needs_judge" (only a judge can decide and none was
  configured).
- `aggregate_<name>(records) -> dict[str, float]`: `score` on the leaderboard's scale plus item counts and breakdowns.

"Is this answer right" is decided by `reward_funcs.grading` (answer extraction, option inference, yes/no, answer
equivalence). Only the rules that belong to one benchmark live here: DynaMath's JSON answers, OCRBench's substring
rule, MathVista's float precision, and the group aggregates (CircularEval, worst case, WeMath 4-D, MME, Hallusion).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable

from reward_funcs.grading import extract_answer, extract_choice, extract_choices, extract_yes_no, grade
from reward_funcs.grading import parse_number as _grading_number

# A bare answer with no <answer>/\boxed{}/"the answer is" is taken as-is only when it is this short (a letter, a number,
# a word); longer free text is what the reference toolkit hands to its judge, so here it counts as unparsed.
MAX_BARE_ANSWER_CHARS = 32

_THINK_BLOCK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)

MAX_COMPLETION_CHARS = 20_000  # generation is capped at 2048 tokens; anything longer is not a model answer
MAX_RETRY_CHARS = 4000  # the tail of an unparsed output kept for the judge

STATUSES = ("rule", "judge", "unparsed", "needs_judge", "judge_failed")


def answer_text(completion: str) -> tuple[str, bool]:
    """The part of a completion that holds the answer, and whether it was explicitly marked as the answer.

    Reasoning outputs carry it in <answer>...</answer> (or a last \\boxed{}); other outputs are read whole, with any
    <think> block removed so that letters inside the reasoning are not mistaken for the choice.
    """
    completion = (completion or "")[-MAX_COMPLETION_CHARS:]
    extracted = extract_answer(completion)
    if extracted is not None:
        return extracted.strip(), True
    return _THINK_BLOCK.sub(" ", completion).strip(), False


def _free_form_prediction(completion: str) -> str | None:
    text, explicit = answer_text(completion)
    if explicit or (text and len(text) <= MAX_BARE_ANSWER_CHARS):
        return text
    return None


def _record(item: dict, keys: Iterable[str], correct: bool, status: str, extracted, completion: str = "") -> dict:
    record = {key: item.get(key) for key in keys}
    record.update(correct=bool(correct), status=status, extracted=None if extracted is None else str(extracted))
    # What a judge needs to extract an answer the rules could not read (JSON text: one flat column in the details).
    record["retry"] = (
        json.dumps({"item": item, "raw": completion[-MAX_RETRY_CHARS:]}) if status == "unparsed" else None
    )
    return record


def _choice_record(completion: str, item: dict, keys: Iterable[str]) -> dict:
    """Single-answer multiple choice: VLMEvalKit can_infer semantics via the grading core; unparsed is wrong."""
    text, _ = answer_text(completion)
    letter = extract_choice(text, item["options"])
    if letter is None:
        return _record(item, keys, False, "unparsed", None, completion)
    return _record(item, keys, letter == item["answer"], "rule", letter)


def _free_record(completion: str, item: dict, keys: Iterable[str], **grade_kwargs) -> dict:
    prediction = _free_form_prediction(completion)
    if prediction is None:
        return _record(item, keys, False, "unparsed", None, completion)
    return _record(item, keys, grade(prediction, item["answer"], **grade_kwargs), "rule", prediction)


def number_value(text: str | None) -> float | None:
    """The value of a numeric answer ("12", "1,234.5", "12 cm", "\\frac{1}{2}"; "2π" as DynaMath writes it), via the
    grading core's number parser; None when the answer is not a number."""
    if not text:
        return None
    if "π" in text:
        factor = text.replace("π", "").strip()
        base = _grading_number(factor) if factor else None
        return math.pi * (base.value if base else 1.0) if base or not factor else None
    parsed = _grading_number(text)
    return parsed.value if parsed else None


def counts(records: list[dict]) -> dict[str, float]:
    by_status = defaultdict(int)
    for record in records:
        by_status[record["status"]] += 1
    return {"n": float(len(records)), **{f"n_{status}": float(by_status[status]) for status in STATUSES}}


def accuracy(records: list[dict]) -> float:
    return 100.0 * sum(r["correct"] for r in records) / len(records) if records else float("nan")


def _by_key(records: list[dict], key: str) -> dict[str, list[dict]]:
    groups = defaultdict(list)
    for record in records:
        groups[str(record.get(key))].append(record)
    return groups


def plain_accuracy(records: list[dict], category_key: str | None = None) -> dict[str, float]:
    result = {"score": accuracy(records), **counts(records)}
    if category_key:
        for category, members in sorted(_by_key(records, category_key).items()):
            result[f"{category_key}/{category}"] = accuracy(members)
    return result


# --- MathVista ---------------------------------------------------------------------------------------------------
MATHVISTA_KEYS = ("pid", "question_type", "answer_type")


def score_mathvista(completion: str, item: dict) -> dict:
    """MC via option inference; integer: int(pred) == int(gold); float: equal at the precision the question states.

    The reference never matches text/list answers (its normalizer returns them unchanged against a list): fixed
    here by comparing them with the grading core.
    """
    if item["question_type"] == "multi_choice":
        return _choice_record(completion, item, MATHVISTA_KEYS)
    prediction = _free_form_prediction(completion)
    if prediction is None:
        return _record(item, MATHVISTA_KEYS, False, "unparsed", None, completion)
    if item["answer_type"] in ("integer", "float"):
        value = number_value(prediction)
        if value is None:
            return _record(item, MATHVISTA_KEYS, False, "unparsed", None, completion)
        gold = float(item["answer"])
        if item["answer_type"] == "integer":
            correct = math.isfinite(value) and int(value) == int(gold)
        else:
            digits = int(item.get("precision") or 0)
            correct = round(value, digits) == round(gold, digits)
        return _record(item, MATHVISTA_KEYS, correct, "rule", value)
    return _record(item, MATHVISTA_KEYS, grade(prediction, item["answer"]), "rule", prediction)


def aggregate_mathvista(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "answer_type")


# --- MathVision, MathVerse, MMMU (MC or free-form) -----------------------------------------------------------------
def _mc_or_free(completion: str, item: dict, keys: Iterable[str]) -> dict:
    if item.get("options"):
        return _choice_record(completion, item, keys)
    return _free_record(completion, item, keys, question_type="fill-in-the-blank")


def score_mathvision(completion: str, item: dict) -> dict:
    """Equal if the stripped lowercase strings match or the values (LaTeX included) agree, via the grading core."""
    return _mc_or_free(completion, item, ("id", "subject"))


def aggregate_mathvision(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "subject")


def score_mathverse(completion: str, item: dict) -> dict:
    """Vision-only: the options are drawn in the image, so a MC answer is compared as a letter by the grading core.

    The reference asks an LLM judge on every item; the rules decide here and the judge is not needed.
    """
    keys = ("sample_index", "question_type")
    question_type = "multiple-choice" if item["question_type"] == "multi-choice" else "fill-in-the-blank"
    return _free_record(completion, item, keys, question_type=question_type)


def aggregate_mathverse(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "question_type")


def score_mmmu(completion: str, item: dict) -> dict:
    """MC by option inference; open questions match any of the accepted answers (lmms-eval parse_open_response)."""
    keys = ("id", "question_type")
    if item.get("options"):
        return _choice_record(completion, item, keys)
    prediction = _free_form_prediction(completion)
    if prediction is None:
        return _record(item, keys, False, "unparsed", None, completion)
    golds = item["answer"] if isinstance(item["answer"], list) else [item["answer"]]
    correct = any(grade(prediction, gold, question_type="fill-in-the-blank") for gold in golds)
    return _record(item, keys, correct, "rule", prediction)


def aggregate_mmmu(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "question_type")


# --- Plain multiple choice: MMStar, AI2D -----------------------------------------------------------------------------
def score_mmstar(completion: str, item: dict) -> dict:
    return _choice_record(completion, item, ("index", "category"))


def aggregate_mmstar(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "category")


def score_ai2d(completion: str, item: dict) -> dict:
    return _choice_record(completion, item, ("index",))


def aggregate_ai2d(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records)


# --- LogicVista (possibly several letters) ----------------------------------------------------------------------------
def score_logicvista(completion: str, item: dict) -> dict:
    """Correct when the sorted set of extracted letters equals the sorted reference letters ("A, C")."""
    keys = ("id", "skill")
    text, _ = answer_text(completion)
    letters = extract_choices(text, item["letters"])
    if not letters:
        return _record(item, keys, False, "unparsed", None, completion)
    gold = sorted(set(re.findall(r"[A-Z]", item["answer"].upper())))
    return _record(item, keys, sorted(set(letters)) == gold, "rule", ", ".join(sorted(set(letters))))


def aggregate_logicvista(records: list[dict]) -> dict[str, float]:
    return plain_accuracy(records, "skill")


# --- MMBench: CircularEval ------------------------------------------------------------------------------------------
def score_mmbench(completion: str, item: dict) -> dict:
    return _choice_record(completion, item, ("index", "g_index", "l2_category"))


def aggregate_mmbench(records: list[dict]) -> dict[str, float]:
    """A question (all rotations sharing g_index = index % 1e6) scores only if every rotation is right."""
    groups = _by_key(records, "g_index")
    passed = {g: all(r["correct"] for r in members) for g, members in groups.items()}
    result = {"score": 100.0 * sum(passed.values()) / len(passed) if passed else float("nan"), **counts(records)}
    result["n_groups"] = float(len(groups))
    by_category = defaultdict(list)
    for g, members in groups.items():
        by_category[str(members[0]["l2_category"])].append(passed[g])
    for category, flags in sorted(by_category.items()):
        result[f"l2_category/{category}"] = 100.0 * sum(flags) / len(flags)
    return result


# --- DynaMath: JSON answers, worst case over 10 variants -----------------------------------------------------------
def parse_dynamath_json(completion: str) -> str | None:
    """The "short answer" of the {"solution": ..., "short answer": ...} reply (first '{' to last '}'), or None."""
    text, _ = answer_text(completion)
    for candidate in (text, completion or ""):
        start, end = candidate.find("{"), candidate.rfind("}")
        if 0 <= start < end:
            try:
                parsed = json.loads(candidate[start : end + 1].replace("\\", "\\\\"))
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("short answer") is not None:
                return str(parsed["short answer"]).strip()
            match = re.search(r'"short answer"\s*:\s*"?([^"\n}]*)', candidate[start : end + 1])
            if match and match.group(1).strip():
                return match.group(1).strip()
    return None


def score_dynamath(completion: str, item: dict) -> dict:
    """float: |pred - gold| <= 1e-3; multiple choice: letter equality; other: pred is a substring of gold."""
    keys = ("qid", "variant", "answer_type")
    short = parse_dynamath_json(completion)
    if short is None:
        short, explicit = answer_text(completion)
        if not explicit and len(short) > MAX_BARE_ANSWER_CHARS:
            return _record(item, keys, False, "unparsed", None, completion)
    gold = str(item["answer"]).strip()
    if item["answer_type"] == "float":
        value = number_value(short)
        if value is None:
            return _record(item, keys, False, "unparsed", None, completion)
        return _record(item, keys, abs(value - float(gold)) <= 1e-3, "rule", value)
    if item["answer_type"] == "multiple choice":
        letter = re.sub(r"[^A-Za-z]", "", short)[:1].upper()
        if not letter:
            return _record(item, keys, False, "unparsed", None, completion)
        return _record(item, keys, letter == gold.upper(), "rule", letter)
    if not short:
        return _record(item, keys, False, "unparsed", None, completion)
    return _record(item, keys, short.lower() in gold.lower(), "rule", short)


def aggregate_dynamath(records: list[dict]) -> dict[str, float]:
    """Leaderboard score = worst case: a seed question counts only if all of its variants are right."""
    groups = _by_key(records, "qid")
    worst = [all(r["correct"] for r in members) for members in groups.values()]
    return {
        "score": 100.0 * sum(worst) / len(worst) if worst else float("nan"),
        "average": accuracy(records),
        "n_seeds": float(len(groups)),
        **counts(records),
    }


# --- WeMath: 4-D metrics, Score(Strict) -------------------------------------------------------------------------------
def score_wemath(completion: str, item: dict) -> dict:
    return _choice_record(completion, item, ("ID", "key"))


def aggregate_wemath(records: list[dict]) -> dict[str, float]:
    """Per multi-step problem (ID): sub-problems "<k>steps_<i>" and the composite "<k>steps_multi".

    IK: some sub wrong & multi wrong; IG: all subs right & multi wrong; CM: all right; RM: some sub wrong & multi
    right. Score(Strict) = (N - 0.5 IG - RM - IK) / N with N the number of complete groups in the data (the reference
    hard-codes 525, the testmini count).
    """
    groups = defaultdict(lambda: {"subs": [], "multi": None})
    for record in records:
        group = groups[(str(record["key"]).split("steps")[0], str(record["ID"]))]
        if str(record["key"]).endswith("multi"):
            group["multi"] = record["correct"]
        else:
            group["subs"].append(record["correct"])
    complete = [g for g in groups.values() if g["multi"] is not None and g["subs"]]
    ik = sum(1 for g in complete if not all(g["subs"]) and not g["multi"])
    ig = sum(1 for g in complete if all(g["subs"]) and not g["multi"])
    cm = sum(1 for g in complete if all(g["subs"]) and g["multi"])
    rm = sum(1 for g in complete if not all(g["subs"]) and g["multi"])
    n = len(complete)
    score = 100.0 * (n - 0.5 * ig - rm - ik) / n if n else float("nan")
    return {
        "score": score,
        "IK": float(ik),
        "IG": float(ig),
        "CM": float(cm),
        "RM": float(rm),
        "n_groups": float(n),
        "n_incomplete_groups": float(len(groups) - n),
        "accuracy": accuracy(records),
        **counts(records),
    }


# --- Yes/no: MME, HallusionBench --------------------------------------------------------------------------------------
def _yes_no_record(completion: str, item: dict, keys: Iterable[str]) -> dict:
    text, _ = answer_text(completion)
    verdict = extract_yes_no(text)
    if verdict is None:
        return _record(item, keys, False, "unparsed", None, completion)
    return _record(item, keys, verdict == item["answer"], "rule", verdict)


MME_PERCEPTION = (
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
)
MME_COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def score_mme(completion: str, item: dict) -> dict:
    return _yes_no_record(completion, item, ("question_id", "category"))


def aggregate_mme(records: list[dict]) -> dict[str, float]:
    """Per category: acc (questions) x100 + acc+ (images with both questions right) x100; score = sum of all."""
    result = {}
    for category, members in _by_key(records, "category").items():
        images = _by_key(members, "question_id")
        acc_plus = 100.0 * sum(all(r["correct"] for r in m) for m in images.values()) / len(images)
        result[f"category/{category}"] = accuracy(members) + acc_plus
    perception = sum(v for k, v in result.items() if k.split("/", 1)[1] in MME_PERCEPTION)
    cognition = sum(v for k, v in result.items() if k.split("/", 1)[1] in MME_COGNITION)
    return {
        "score": perception + cognition,
        "perception": perception,
        "cognition": cognition,
        **result,
        **counts(records),
    }


def score_hallusionbench(completion: str, item: dict) -> dict:
    return _yes_no_record(completion, item, ("category", "subcategory", "set_id", "figure_id", "question_id"))


def aggregate_hallusionbench(records: list[dict]) -> dict[str, float]:
    """Mean of aAcc (questions), fAcc (figures all right) and qAcc (questions right on every figure)."""

    def group_accuracy(fields: tuple[str, ...]) -> float:
        groups = defaultdict(list)
        for r in records:
            groups[tuple(str(r[f]) for f in fields)].append(r["correct"])
        return 100.0 * sum(all(v) for v in groups.values()) / len(groups) if groups else float("nan")

    a_acc = accuracy(records)
    f_acc = group_accuracy(("category", "subcategory", "set_id", "figure_id"))
    q_acc = group_accuracy(("category", "subcategory", "set_id", "question_id"))
    return {"score": (a_acc + f_acc + q_acc) / 3, "aAcc": a_acc, "fAcc": f_acc, "qAcc": q_acc, **counts(records)}


# --- OCRBench ---------------------------------------------------------------------------------------------------------
def score_ocrbench(completion: str, item: dict) -> dict:
    """Correct if any reference is a substring of the prediction (lowercased, stripped, newlines as spaces);
    handwritten math expressions: case kept, all spaces removed on both sides."""
    keys = ("id", "question_type")
    text, _ = answer_text(completion)
    if not text:
        return _record(item, keys, False, "unparsed", None, completion)
    if item["question_type"] == "Handwritten Mathematical Expression Recognition":
        prediction = re.sub(r"\s+", "", text)
        correct = any(re.sub(r"\s+", "", ref) in prediction for ref in item["answer"])
    else:
        prediction = text.lower().strip().replace("\n", " ")
        correct = any(ref.lower().strip().replace("\n", " ") in prediction for ref in item["answer"])
    return _record(item, keys, correct, "rule", text[:200])


def aggregate_ocrbench(records: list[dict]) -> dict[str, float]:
    """Number of correct items, on the 0-1000 scale of the full set (= the count when all 1000 are scored)."""
    correct = sum(r["correct"] for r in records)
    result = {"score": 1000.0 * correct / len(records) if records else float("nan"), "correct": float(correct)}
    for category, members in sorted(_by_key(records, "question_type").items()):
        result[f"question_type/{category}"] = float(sum(r["correct"] for r in members))
    return {**result, **counts(records)}


# --- MM-Vet (judge) ---------------------------------------------------------------------------------------------------
MMVET_CAPABILITIES = ("rec", "ocr", "know", "gen", "spat", "math")


def score_mmvet(completion: str, item: dict) -> dict:
    """Only a judge can score open-ended answers: the record carries what the judge needs (see eval_tasks.judge)."""
    text, _ = answer_text(completion)
    record = _record(item, ("question_id", "capability", "question", "answer"), False, "needs_judge", None)
    record.update(prediction=text, judge_score=None)
    return record


def aggregate_mmvet(records: list[dict]) -> dict[str, float]:
    """100 x mean judge score, overall and per capability; NaN (reported as "needs judge") when items lack scores."""
    result = counts(records)
    if any(r.get("judge_score") is None for r in records):
        return {"score": float("nan"), "needs_judge": 1.0, **result}
    result["score"] = 100.0 * sum(r["judge_score"] for r in records) / len(records) if records else float("nan")
    for capability in MMVET_CAPABILITIES:
        members = [r for r in records if capability in (r.get("capability") or [])]
        if members:
            result[f"capability/{capability}"] = 100.0 * sum(r["judge_score"] for r in members) / len(members)
    return result


# Items that a dataset-level rule scores together; a --max-samples run keeps such groups whole.
GROUP_KEYS: dict[str, Callable[[dict], object]] = {
    "mmbench": lambda item: item["g_index"],
    "dynamath": lambda item: item["qid"],
    "wemath": lambda item: (str(item["key"]).split("steps")[0], item["ID"]),
    "mme": lambda item: item["question_id"],
    "hallusionbench": lambda item: (item["category"], item["subcategory"], item["set_id"]),
}


def whole_groups(name: str, items: list, max_items: int, specific=lambda x: x) -> list:
    """Whole groups, in the order their first item appears, until at least `max_items` items are chosen.

    `specific` maps an element of `items` to its item dict (lighteval Docs: `lambda doc: doc.specific`).
    """
    key = GROUP_KEYS.get(name)
    if key is None:
        return items[:max_items]
    members = defaultdict(list)
    for element in items:
        members[key(specific(element))].append(element)
    chosen = []
    for element in items:
        if len(chosen) >= max_items:
            break
        group = members.pop(key(specific(element)), None)
        if group is not None:
            chosen.extend(group)
    return chosen


ScoreFn = Callable[[str, dict], dict]
AggregateFn = Callable[[list[dict]], dict]

SCORERS: dict[str, tuple[ScoreFn, AggregateFn]] = {
    "mathvista": (score_mathvista, aggregate_mathvista),
    "mathvision": (score_mathvision, aggregate_mathvision),
    "mathverse": (score_mathverse, aggregate_mathverse),
    "dynamath": (score_dynamath, aggregate_dynamath),
    "wemath": (score_wemath, aggregate_wemath),
    "logicvista": (score_logicvista, aggregate_logicvista),
    "mmbench": (score_mmbench, aggregate_mmbench),
    "mmstar": (score_mmstar, aggregate_mmstar),
    "mmmu": (score_mmmu, aggregate_mmmu),
    "hallusionbench": (score_hallusionbench, aggregate_hallusionbench),
    "ai2d": (score_ai2d, aggregate_ai2d),
    "ocrbench": (score_ocrbench, aggregate_ocrbench),
    "mmvet": (score_mmvet, aggregate_mmvet),
    "mme": (score_mme, aggregate_mme),
}
