"""
name:
DynaMath

dataset:
DynaMath/DynaMath_Sample, splits sample_variant1 ... sample_variant10 (501 seed questions x 10 variants)

abstract:
Robustness of visual math reasoning: every seed question is drawn 10 times with other values. Answer types
"float", "multiple choice" (options inline: `Choices: (A) yes (B) no`) and "text" (`Feb`, `y = 4`, `(2, 4)`, `AC`).

paper:
https://arxiv.org/abs/2411.00836

The prompt asks for JSON {"solution": ..., "short answer": ...} (VLMEvalKit's guide); the short answer is read from
the first `{` to the last `}`, else from the answer tags or a closing "the answer is X". Scoring as in VLMEvalKit:
float |pred - gold| <= 1e-3 ("2π" reads as 2 x pi); text: the short answer is a case-insensitive substring of the
gold (the reference's rule, lenient: a lone "a" matches "Jan"); multiple choice: the one option the short answer
picks, by the letter or the option's text, over every option the question lists (a few real questions go to
(F); the reference only knows A-E). The reference reads a multi-character short answer by the letters A-E
it contains, and this project once took its first character ("Option C" -> O, "A, B" -> A): here an answer naming
several options is wrong and one naming none is unparsed. Leaderboard score: worst case (a seed counts only if all
its variants are right); `average` is the plain accuracy.

Rows in the Hub schema have the seed id in `id` (shared by its 10 variants) and the variant in the split;
VLMEvalKit's TSV has `qid`/`varid`, and its gold is `answer` (the Hub's is `ground_truth`): both are read.
"""

from __future__ import annotations

import json
import re
import string

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import (
    MAX_BARE_ANSWER_CHARS,
    accuracy,
    answer_text,
    by_key,
    counts,
    number_value,
    record,
    unparsed,
)
from reward_funcs.grading import extract_choice, extract_choices, parse_options

KEYS = ("qid", "variant", "answer_type")
SPLITS = tuple(f"sample_variant{i}" for i in range(1, 11))

GUIDE = (
    "\n## Answer Instruction Please provide an answer to the question outlined above. Your response should adhere "
    "to the following JSON format, which includes two keys: 'solution' and 'short answer'. The 'solution' key can "
    "contain detailed steps needed to solve the question, and the 'short answer' key should provide a concise "
    "response. {instruction}\n\nExample of expected JSON response format:\n\n"
    '{{"solution": "[Detailed step-by-step explanation]", "short answer": "[Concise Answer]"}}'
)
TYPE_INSTRUCTION = {
    "multiple choice": "Provide the corresponding choice option in the 'short answer' key, such as 'A', 'B', 'C', or 'D'.",
    "float": "Format the answer as a three-digit floating-point number and provide it in the 'short answer' key.",
}
DEFAULT_INSTRUCTION = "Float numbers in the answer should be formatted as three-digit floating-point numbers."
MC_LETTERS = "ABCDE"  # when the question lists no options


def item(line: dict) -> dict:
    gold = line["ground_truth"] if "ground_truth" in line else line["answer"]
    seed = line["qid"] if line.get("qid") is not None else line["id"]
    variant = line.get("varid") or line.get("split") or line.get("id")
    result = {"qid": str(seed), "variant": str(variant), "answer_type": line["answer_type"], "answer": str(gold)}
    if line["answer_type"] == "multiple choice":
        options = parse_options(line["question"]) or dict.fromkeys(MC_LETTERS, "")
        result["options"] = options
        if result["answer"].strip().upper() not in options:
            result["unwinnable"] = True
    return result


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    instruction = TYPE_INSTRUCTION.get(line["answer_type"], DEFAULT_INSTRUCTION)
    query = line["question"] + GUIDE.format(instruction=instruction)
    return make_doc(task_name, query, [line["decoded_image"]], item(line))


def parse_json_answer(completion: str) -> str | None:
    """The "short answer" of the {"solution": ..., "short answer": ...} reply (first '{' to last '}'), or None."""
    text, _ = answer_text(completion)
    for candidate in (text, completion or ""):
        start, end = candidate.find("{"), candidate.rfind("}")
        if 0 <= start < end:
            try:
                parsed = json.loads(candidate[start : end + 1].replace("\\", "\\\\"), strict=False)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("short answer") is not None:
                return str(parsed["short answer"]).strip()
            match = re.search(r'"short answer"\s*:\s*"?([^"\n}]*)', candidate[start : end + 1])
            if match and match.group(1).strip():
                return match.group(1).strip()
    return None


def short_answer(completion: str) -> str | None:
    short = parse_json_answer(completion)
    if short is not None:
        return short
    text, explicit = answer_text(completion, prose=True)
    return text if text and (explicit or len(text) <= MAX_BARE_ANSWER_CHARS) else None


def score(completion: str, item: dict) -> dict:
    short = short_answer(completion)
    if not short:
        return unparsed(item, KEYS, completion)
    gold = item["answer"].strip()
    if item["answer_type"] == "float":
        value = number_value(short)
        if value is None:
            return unparsed(item, KEYS, completion)
        return record(item, KEYS, abs(value - float(gold)) <= 1e-3, "rule", f"{value:g}")
    if item["answer_type"] == "multiple choice":
        letter = extract_choice(short, item["options"])
        if letter is None:
            several = extract_choices(short, item["options"])
            if several and len(several) > 1:  # names several options ("A, B"): wrong, not unreadable
                return record(item, KEYS, False, "rule", ", ".join(several))
            return unparsed(item, KEYS, completion)
        return record(item, KEYS, letter == gold.upper(), "rule", letter)
    return record(item, KEYS, short.lower() in gold.lower(), "rule", short)


def group_key(item: dict):
    return item["qid"]


def aggregate(records: list[dict]) -> dict[str, float]:
    groups = by_key(records, "qid")
    worst = [all(r["correct"] for r in members) for members in groups.values()]
    return {
        "score": 100.0 * sum(worst) / len(worst) if worst else float("nan"),
        "average": accuracy(records),
        "n_seeds": float(len(groups)),
        **counts(records),
    }


TEXT_GOLDS = ("Feb", "y = 4", "(2, 4)", "AC", "7:45", "White")


def fixture_rows(rng, n):
    """Seeds of the three real answer types: float (4 decimals), multiple choice with inline `Choices: (A) ...`
    (letters, or yes/no options), and text golds in the real shapes."""
    splits = {split: [] for split in SPLITS}
    for seed in range(1, n + 1):
        kind = ("float", "multiple choice", "text")[seed % 3]
        for variant, split in enumerate(SPLITS, start=1):
            count, color, image = draw.count_item(rng)
            if kind == "float":
                question, truth = f"What is one third of the number of {color} squares?", f"{count / 3:.4f}"
            elif kind == "multiple choice" and seed % 2:
                question = f"Are there more than 4 {color} squares? Choices: (A) yes (B) no"
                truth = "A" if count > 4 else "B"
            elif kind == "multiple choice":
                options, gold = draw.count_options(rng, count)
                question = f"How many {color} squares are there? Choices: " + " ".join(
                    f"({string.ascii_uppercase[j]}) {o}" for j, o in enumerate(options)
                )
                truth = string.ascii_uppercase[gold]
            else:
                truth = TEXT_GOLDS[(seed + variant) % len(TEXT_GOLDS)]
                question = f"What does the label next to the {color} squares read? Answer: {truth}."
            splits[split].append(
                {
                    "id": str(seed),
                    "question": question,
                    "image": f"images/{seed}-{variant}.png",
                    "decoded_image": image,
                    "ground_truth": truth,
                    "answer_type": kind,
                    "subject": "arithmetic",
                    "knowledge_level": "elementary school",
                }
            )
    features = Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "image": Value("string"),
            "decoded_image": Image(),
            "ground_truth": Value("string"),
            "answer_type": Value("string"),
            "subject": Value("string"),
            "knowledge_level": Value("string"),
        }
    )
    return splits, features


BENCHMARK = Benchmark(
    name="dynamath",
    column="DynaMath",
    position=4,
    hub_repo="DynaMath/DynaMath_Sample",
    hub_subset="default",
    splits=SPLITS,
    size=5010,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    group_key=group_key,
    metric_name="worst-case accuracy",
    reference={"WeThink-VL-7B": 24.8, "Qwen2.5-VL-7B": 21.8},
    image_columns=("decoded_image",),
)

TASKS_TABLE = [task_config(BENCHMARK)]
