"""
name:
HallusionBench

dataset:
lmms-lab-encoder/HallusionBench (moved from lmms-lab/HallusionBench, which redirects), split image (951 items:
the questions with a figure, `visual_input` "1" original or "2" edited)

abstract:
Language hallucination and visual illusion in image-context reasoning: yes/no questions grouped by figure and by
question across a set's original and edited figures. `gt_answer` is "1" (yes) or "0" (no).

paper:
https://arxiv.org/abs/2310.14566

Score: mean of aAcc (questions), fAcc (figures whose questions are all right) and qAcc (questions right on every
figure). Groups key on (category, subcategory, set_id, figure_id / question_id), as the benchmark's authors and
lmms-eval do. VLMEvalKit's `Hallusion_rating` (the OpenCompass leaderboard) drops `category`, which on the real data
merges 14 figure groups and 26 question groups across VD/VS: `score_vlmevalkit` (with `fAcc_vlmevalkit`,
`qAcc_vlmevalkit`) is that figure, for comparison with the leaderboard.
"""

from __future__ import annotations

from datasets import Features, Image, Value
from lighteval.tasks.requests import Doc

from eval_tasks.benchmarks import fixture_images as draw
from eval_tasks.benchmarks.base import Benchmark, make_doc, task_config
from eval_tasks.scoring import accuracy, all_right_share, counts, yes_no_record

KEYS = ("category", "subcategory", "set_id", "figure_id", "question_id")
FIGURE = ("category", "subcategory", "set_id", "figure_id")
QUESTION = ("category", "subcategory", "set_id", "question_id")


def has_figure(line: dict) -> bool:
    return str(line.get("visual_input", "1")) != "0"


def item(line: dict) -> dict:
    gold = str(line["gt_answer"]).strip()
    if gold not in ("0", "1"):
        raise ValueError(f"gt_answer {gold!r} is neither '1' (yes) nor '0' (no)")
    return {
        "category": line["category"],
        "subcategory": line["subcategory"],
        "set_id": str(line["set_id"]),
        "figure_id": str(line["figure_id"]),
        "question_id": str(line["question_id"]),
        "answer": "yes" if gold == "1" else "no",
    }


def prompt_fn(line: dict, task_name: str = "") -> Doc:
    return make_doc(task_name, line["question"], [line["image"]], item(line))


def score(completion: str, item: dict) -> dict:
    return yes_no_record(completion, item, KEYS)


def group_key(item: dict):
    return item["category"], item["subcategory"], item["set_id"]


def aggregate(records: list[dict]) -> dict[str, float]:
    a_acc = accuracy(records)
    f_acc, n_figures = all_right_share(records, FIGURE)
    q_acc, n_questions = all_right_share(records, QUESTION)
    f_ref, n_figures_ref = all_right_share(records, FIGURE[1:])
    q_ref, n_questions_ref = all_right_share(records, QUESTION[1:])
    return {
        "score": (a_acc + f_acc + q_acc) / 3,
        "aAcc": a_acc,
        "fAcc": f_acc,
        "qAcc": q_acc,
        "n_figure_groups": float(n_figures),
        "n_question_groups": float(n_questions),
        "score_vlmevalkit": (a_acc + f_ref + q_ref) / 3,
        "fAcc_vlmevalkit": f_ref,
        "qAcc_vlmevalkit": q_ref,
        "n_figure_groups_vlmevalkit": float(n_figures_ref),
        "n_question_groups_vlmevalkit": float(n_questions_ref),
        **counts(records),
    }


def fixture_rows(rng, n):
    """Sets with an original and an edited figure, several questions each; VD and VS sets share set ids (as on the
    real data, where dropping the category merges groups)."""
    rows = []
    for set_id in range(n):
        category = ("VD", "VS")[set_id % 2]
        for figure_id in range(2):
            count, color, image = draw.count_item(rng)
            for question_id, asked in enumerate((count, count + 1)):
                rows.append(
                    {
                        "category": category,
                        "subcategory": "chart",
                        "visual_input": "1" if figure_id == 0 else "2",
                        "set_id": str(set_id // 2),
                        "figure_id": str(figure_id),
                        "sample_note": "fixture",
                        "question_id": str(question_id),
                        "question": f"Are there {asked} {color} squares in the image?",
                        "gt_answer_details": f"There are {count} {color} squares.",
                        "gt_answer": "1" if asked == count else "0",
                        "filename": f"images/{set_id}_{figure_id}.png",
                        "image": image,
                    }
                )
    features = Features({k: Image() if k == "image" else Value("string") for k in rows[0]})
    return {"image": rows}, features


BENCHMARK = Benchmark(
    name="hallusionbench",
    column="Hallu",
    position=10,
    hub_repo="lmms-lab-encoder/HallusionBench",
    hub_subset="default",
    splits=("image",),
    size=951,
    item=item,
    prompt_fn=prompt_fn,
    score=score,
    aggregate=aggregate,
    fixture_rows=fixture_rows,
    group_key=group_key,
    row_filter=has_figure,
    metric_name="mean of aAcc, fAcc, qAcc",
    reference={"WeThink-VL-7B": 55.3, "Qwen2.5-VL-7B": 51.9},
    reference_rule_metric="score_vlmevalkit",
    moved_from="lmms-lab/HallusionBench",
)

TASKS_TABLE = [task_config(BENCHMARK)]
