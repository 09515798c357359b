"""lighteval custom tasks for the WeThink evaluation: the paper's 14 columns (MathVista twice) plus MME.

Each benchmark reads its real Hub dataset (ids below) or a local Parquet folder in the same schema (`data_dir`), builds
the benchmark's own question/option prompt with the WeThink <think>/<answer> system prompt (not on OCRBench and AI2D,
as in the paper's settings), and scores with one corpus-level metric: per item it stores a record (verdict, status,
the group keys), and the corpus aggregate applies the benchmark's rule (see `eval_tasks.scoring`).

Task names carry the `wethink_` prefix so they never collide with lighteval's built-ins. With network access the
module also works as a plain lighteval custom-tasks file:

    lighteval accelerate "model_name=WeThink/WeThink-Qwen2.5VL-7B,dtype=bfloat16" "wethink_mathvista|0" \
        --custom-tasks eval_tasks/tasks.py --vision-model

(`WETHINK_EVAL_DATA_DIR`, `WETHINK_JUDGE_BASE_URL` and `WETHINK_JUDGE_MODEL` configure it from the environment.)
Offline, use `python -m eval_tasks run`, which loads only these tasks.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lighteval.metrics.metrics_corpus import CorpusLevelComputation
from lighteval.metrics.metrics_sample import SampleLevelComputation
from lighteval.metrics.utils.metric_utils import CorpusLevelMetric
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc, SamplingMethod

from eval_tasks.judge import JudgeSettings, judge_mmvet, judge_unparsed
from eval_tasks.scoring import SCORERS
from reward_funcs.answer_format import SYSTEM_PROMPT
from reward_funcs.grading import parse_options

TASK_PREFIX = "wethink_"
GENERATION_SIZE = 2048  # max_new_tokens of the reported numbers
MCQ_INSTRUCTION = "Please select the correct answer from the options above."
LETTERS = string.ascii_uppercase


def _rgb(image):
    return image.convert("RGB") if image.mode != "RGB" else image


def _doc(task_name: str, query: str, images: list, specific: dict, gold: str, *, system_prompt: bool = True) -> Doc:
    return Doc(
        task_name=task_name,
        query=query,
        choices=[str(gold)],
        gold_index=0,
        images=[_rgb(image) for image in images],
        specific=specific,
        instruction=SYSTEM_PROMPT if system_prompt else None,
    )


def mcq_prompt(question: str, options: dict[str, str], hint: str | None = None) -> str:
    """VLMEvalKit's multiple-choice layout (ImageMCQDataset.build_prompt)."""
    prompt = f"Hint: {hint}\n" if hint else ""
    prompt += f"Question: {question}\n"
    if options:
        prompt += "Options:\n" + "".join(f"{letter}. {text}\n" for letter, text in options.items())
        prompt += MCQ_INSTRUCTION
    return prompt.rstrip("\n")


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) and str(value).strip() != ""


# --- prompt functions (one per benchmark; `line` is a row in the benchmark's Hub schema) ---------------------------
def prompt_mathvista(line: dict, task_name: str = "") -> Doc:
    choices = line.get("choices") or []
    options = {LETTERS[i]: str(c) for i, c in enumerate(choices)}
    gold = line["answer"]
    if line["question_type"] == "multi_choice":
        matches = [letter for letter, text in options.items() if text == line["answer"]]
        if not matches:
            raise ValueError(f"answer {line['answer']!r} is not one of the choices {choices}")
        gold = matches[0]
    specific = {
        "pid": str(line["pid"]),
        "question_type": line["question_type"],
        "answer_type": line["answer_type"],
        "precision": line.get("precision"),
        "answer": gold,
        "options": options,
    }
    return _doc(task_name, line["query"], [line["decoded_image"]], specific, gold)


def prompt_mathvision(line: dict, task_name: str = "") -> Doc:
    options = {LETTERS[i]: str(o) for i, o in enumerate(line.get("options") or [])}
    query = mcq_prompt(line["question"], options) if options else line["question"]
    specific = {"id": str(line["id"]), "subject": line.get("subject"), "answer": line["answer"], "options": options}
    return _doc(task_name, query, [line["decoded_image"]], specific, line["answer"])


def prompt_mathverse(line: dict, task_name: str = "") -> Doc:
    specific = {
        "sample_index": str(line["sample_index"]),
        "question_type": line["question_type"],
        "answer": line["answer"],
    }
    return _doc(task_name, line["query_wo"], [line["image"]], specific, line["answer"])


def mathverse_vision_only(line: dict) -> bool:
    return line["problem_version"] == "Vision Only"


DYNAMATH_GUIDE = (
    "\n## Answer Instruction Please provide an answer to the question outlined above. Your response should adhere "
    "to the following JSON format, which includes two keys: 'solution' and 'short answer'. The 'solution' key can "
    "contain detailed steps needed to solve the question, and the 'short answer' key should provide a concise "
    "response. {instruction}\n\nExample of expected JSON response format:\n\n"
    '{{"solution": "[Detailed step-by-step explanation]", "short answer": "[Concise Answer]"}}'
)
DYNAMATH_TYPE_INSTRUCTION = {
    "multiple choice": "Provide the corresponding choice option in the 'short answer' key, such as 'A', 'B', 'C', or 'D'.",
    "float": "Format the answer as a three-digit floating-point number and provide it in the 'short answer' key.",
}
DYNAMATH_DEFAULT_INSTRUCTION = "Float numbers in the answer should be formatted as three-digit floating-point numbers."


def prompt_dynamath(line: dict, task_name: str = "") -> Doc:
    instruction = DYNAMATH_TYPE_INSTRUCTION.get(line["answer_type"], DYNAMATH_DEFAULT_INSTRUCTION)
    query = line["question"] + DYNAMATH_GUIDE.format(instruction=instruction)
    specific = {
        "qid": str(line["qid"] if "qid" in line else line["id"]),  # seed question: its variants share it
        "variant": str(line["id"]),
        "answer_type": line["answer_type"],
        "answer": str(line["ground_truth"]),
    }
    return _doc(task_name, query, [line["decoded_image"]], specific, line["ground_truth"])


def prompt_wemath(line: dict, task_name: str = "") -> Doc:
    options = parse_options(line["option"])
    specific = {"ID": str(line["ID"]), "key": line["key"], "answer": line["answer"].strip(), "options": options}
    return _doc(task_name, mcq_prompt(line["question"], options), [line["image_path"]], specific, line["answer"])


def prompt_logicvista(line: dict, task_name: str = "") -> Doc:
    specific = {"id": str(line["id"]), "skill": line.get("skill"), "answer": line["answer"], "letters": "ABCDE"}
    return _doc(task_name, line["question"], [line["image"]], specific, line["answer"])


def prompt_mmstar(line: dict, task_name: str = "") -> Doc:
    options = parse_options(line["question"].rpartition("Options:")[2])
    specific = {
        "index": str(line["index"]),
        "category": line["category"],
        "answer": line["answer"],
        "options": options,
    }
    return _doc(task_name, f"{line['question']}\n{MCQ_INSTRUCTION}", [line["image"]], specific, line["answer"])


def prompt_mmbench(line: dict, task_name: str = "") -> Doc:
    options = {letter: str(line[letter]) for letter in "ABCDEFGH" if letter in line and _present(line[letter])}
    hint = line.get("hint") if _present(line.get("hint")) else None
    specific = {
        "index": int(line["index"]),
        "g_index": int(line["index"]) % 1_000_000,
        "l2_category": line.get("l2-category") or line.get("category"),
        "answer": line["answer"],
        "options": options,
    }
    return _doc(task_name, mcq_prompt(line["question"], options, hint), [line["image"]], specific, line["answer"])


def prompt_mmmu(line: dict, task_name: str = "") -> Doc:
    raw_options = ast.literal_eval(line["options"]) if line.get("options") else []
    options = {LETTERS[i]: str(o) for i, o in enumerate(raw_options)} if line["question_type"] != "open" else {}
    text = line["question"] + " " + " ".join(options.values())
    order = []
    for number in re.findall(r"<image (\d+)>", text):
        if int(number) not in order:
            order.append(int(number))
    images = [line[f"image_{k}"] for k in order if line.get(f"image_{k}") is not None]
    if not images:  # a few questions never reference their image in the text
        images = [line[f"image_{k}"] for k in range(1, 8) if line.get(f"image_{k}") is not None]
    if options:
        query = mcq_prompt(line["question"], options)
        answer = line["answer"]
    else:
        query = f"{line['question']}\nAnswer the question using a single word or phrase."
        answer = line["answer"]
        if answer.startswith("["):
            answer = [str(a) for a in ast.literal_eval(answer)]
    specific = {"id": line["id"], "question_type": line["question_type"], "answer": answer, "options": options}
    return _doc(task_name, query, images, specific, line["answer"])


def prompt_hallusionbench(line: dict, task_name: str = "") -> Doc:
    gold = "yes" if str(line["gt_answer"]).strip() == "1" else "no"
    specific = {
        "category": line["category"],
        "subcategory": line["subcategory"],
        "set_id": str(line["set_id"]),
        "figure_id": str(line["figure_id"]),
        "question_id": str(line["question_id"]),
        "answer": gold,
    }
    return _doc(task_name, line["question"], [line["image"]], specific, gold)


def prompt_ai2d(line: dict, task_name: str = "") -> Doc:
    options = {LETTERS[i]: str(o) for i, o in enumerate(line["options"])}
    gold = LETTERS[int(line["answer"])]
    specific = {"index": str(line.get("__index", "")), "answer": gold, "options": options}  # no id column
    return _doc(task_name, mcq_prompt(line["question"], options), [line["image"]], specific, gold, system_prompt=False)


def prompt_ocrbench(line: dict, task_name: str = "") -> Doc:
    answers = line["answer"] if isinstance(line["answer"], list) else [line["answer"]]
    specific = {
        "id": f"{line.get('dataset', '')}:{line.get('__index', '')}",  # source set : row (no id column)
        "question_type": line["question_type"],
        "answer": [str(a) for a in answers],
    }
    return _doc(task_name, line["question"], [line["image"]], specific, answers[0], system_prompt=False)


def prompt_mmvet(line: dict, task_name: str = "") -> Doc:
    capability = line.get("capability") or []
    if isinstance(capability, str):
        capability = [c.strip() for c in capability.split(",") if c.strip()]
    specific = {
        "question_id": str(line["question_id"]),
        "capability": list(capability),
        "question": line["question"],
        "answer": line["answer"],
    }
    return _doc(task_name, line["question"], [line["image"]], specific, line["answer"])


def prompt_mme(line: dict, task_name: str = "") -> Doc:
    gold = str(line["answer"]).strip().lower()
    specific = {"question_id": str(line["question_id"]), "category": line["category"], "answer": gold}
    return _doc(task_name, line["question"], [line["image"]], specific, gold)


@dataclass(frozen=True)
class Benchmark:
    name: str  # short key; the task is f"wethink_{name}"
    column: str  # the paper's column header
    hub_repo: str
    hub_subset: str
    splits: tuple[str, ...]
    size: int  # items in the full evaluation set
    prompt_function: Callable[[dict, str], Doc]
    hf_filter: Callable[[dict], bool] | None = None
    needs_judge: bool = False  # only a judge can score it (MM-Vet)
    judge_extracts: bool = True  # with a judge configured, it extracts answers the rules could not read
    # What decontamination compares with training items: the question text and the image column(s).
    question_column: str = "question"
    image_columns: tuple[str, ...] = ("image",)

    @property
    def task_name(self) -> str:
        return TASK_PREFIX + self.name


DYNAMATH_SPLITS = tuple(f"sample_variant{i}" for i in range(1, 11))

# In the paper's column order (reasoning leaderboard, then general), MME last.
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "mathvista",
            "MathVista",
            "AI4Math/MathVista",
            "default",
            ("testmini",),
            1000,
            prompt_mathvista,
            image_columns=("decoded_image",),
        ),
        Benchmark(
            "mathvision",
            "MathVision",
            "MathLLMs/MathVision",
            "default",
            ("test",),
            3040,
            prompt_mathvision,
            image_columns=("decoded_image",),
        ),
        Benchmark(
            "mathverse",
            "MathVerse",
            "AI4Math/MathVerse",
            "testmini",
            ("testmini",),
            788,
            prompt_mathverse,
            hf_filter=mathverse_vision_only,
            question_column="question_for_eval",
        ),
        Benchmark(
            "dynamath",
            "DynaMath",
            "DynaMath/DynaMath_Sample",
            "default",
            DYNAMATH_SPLITS,
            5010,
            prompt_dynamath,
            image_columns=("decoded_image",),
        ),
        Benchmark(
            "wemath",
            "WeMath",
            "We-Math/We-Math",
            "default",
            ("testmini",),
            1740,
            prompt_wemath,
            image_columns=("image_path",),
        ),
        Benchmark("logicvista", "LogicVista", "lscpku/LogicVista", "default", ("test",), 448, prompt_logicvista),
        Benchmark("mmbench", "MMB1.1", "lmms-lab/MMBench", "en", ("dev",), 4329, prompt_mmbench),
        Benchmark("mmstar", "MMStar", "Lin-Chen/MMStar", "val", ("val",), 1500, prompt_mmstar),
        Benchmark(
            "mmmu",
            "MMMU",
            "lmms-lab/MMMU",
            "default",
            ("validation",),
            900,
            prompt_mmmu,
            image_columns=tuple(f"image_{k}" for k in range(1, 8)),
        ),
        Benchmark(
            "hallusionbench", "Hallu", "lmms-lab/HallusionBench", "default", ("image",), 951, prompt_hallusionbench
        ),
        Benchmark("ai2d", "AI2D", "lmms-lab/ai2d", "default", ("test",), 3088, prompt_ai2d),
        Benchmark(
            "ocrbench",
            "OCRBench",
            "echo840/OCRBench",
            "default",
            ("test",),
            1000,
            prompt_ocrbench,
            judge_extracts=False,  # the reference never uses a judge here
        ),
        Benchmark(
            "mmvet",
            "MMVet",
            "lmms-lab/MMVet",
            "default",
            ("test",),
            218,
            prompt_mmvet,
            needs_judge=True,
            judge_extracts=False,
        ),
        Benchmark("mme", "MME", "lmms-lab/MME", "default", ("test",), 2374, prompt_mme),
    )
}


class BenchmarkItemScore(SampleLevelComputation):
    """Per item: the benchmark's record (verdict, status, group keys) from the raw generated text."""

    def __init__(self, benchmark: str):
        self.benchmark = benchmark

    def compute(self, doc: Doc, model_response, **kwargs) -> dict:
        score_item, _ = SCORERS[self.benchmark]
        return score_item(model_response.text[0], doc.specific)


class BenchmarkAggregate(CorpusLevelComputation):
    """Over the corpus: the benchmark's dataset-level rule. With a judge configured, MM-Vet is graded by it and
    unparsed answers elsewhere are extracted by it (then graded by the rules) before the rule is applied."""

    def __init__(self, benchmark: str, judge: JudgeSettings | None = None):
        self.benchmark = benchmark
        self.judge = judge

    def compute_corpus(self, items: list[dict]) -> dict[str, float]:
        score_item, aggregate = SCORERS[self.benchmark]
        benchmark = BENCHMARKS[self.benchmark]
        if self.judge is not None and benchmark.needs_judge:
            judge_mmvet(items, self.judge)
        if self.judge is not None and benchmark.judge_extracts:
            judge_unparsed(items, self.judge, score_item)
        return aggregate(items)


def benchmark_metric(benchmark: str, judge: JudgeSettings | None = None) -> CorpusLevelMetric:
    return CorpusLevelMetric(
        metric_name=f"{TASK_PREFIX}{benchmark}",
        higher_is_better=True,
        category=SamplingMethod.GENERATIVE,
        sample_level_fn=BenchmarkItemScore(benchmark),
        corpus_level_fn=BenchmarkAggregate(benchmark, judge),
    )


@dataclass
class TaskOptions:
    data_dir: str | None = field(
        default=None, metadata={"help": "Local folder with one Parquet dataset per benchmark (see fixtures.py)."}
    )
    judge: JudgeSettings | None = field(default=None, metadata={"help": "Judge endpoint for MM-Vet."})
    generation_size: int = field(default=GENERATION_SIZE, metadata={"help": "max_new_tokens per answer."})


def prompt_with_context(benchmark_name: str, line: dict, task_name: str = "") -> Doc:
    """The benchmark's prompt function; a row it cannot read is reported with the benchmark, row and field."""
    try:
        return BENCHMARKS[benchmark_name].prompt_function(line, task_name)
    except (KeyError, ValueError, TypeError, AttributeError, SyntaxError) as error:
        field_hint = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise ValueError(f"{benchmark_name}: row {line.get('__index', '?')}: {field_hint}") from error


def task_config(benchmark: Benchmark, options: TaskOptions) -> LightevalTaskConfig:
    if options.data_dir:
        local = Path(options.data_dir) / benchmark.name
        if not local.is_dir():
            raise FileNotFoundError(f"{benchmark.name}: no local dataset folder {local} (expected under --data-dir)")
        repo, subset = str(local), "default"
    else:
        repo, subset = benchmark.hub_repo, benchmark.hub_subset
    return LightevalTaskConfig(
        name=benchmark.task_name,
        prompt_function=functools.partial(prompt_with_context, benchmark.name),
        hf_repo=repo,
        hf_subset=subset,
        hf_filter=benchmark.hf_filter,
        hf_avail_splits=list(benchmark.splits),
        evaluation_splits=list(benchmark.splits),
        few_shots_split=None,
        few_shots_select=None,
        generation_size=options.generation_size,
        metrics=[benchmark_metric(benchmark.name, options.judge)],
        stop_sequence=[],
        version=0,
    )


def build_task_configs(
    names: list[str] | None = None, options: TaskOptions | None = None
) -> list[LightevalTaskConfig]:
    options = options or TaskOptions()
    names = names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    return [task_config(BENCHMARKS[name], options) for name in names]


def _options_from_env() -> TaskOptions:
    judge = None
    if os.environ.get("WETHINK_JUDGE_BASE_URL") and os.environ.get("WETHINK_JUDGE_MODEL"):
        judge = JudgeSettings(base_url=os.environ["WETHINK_JUDGE_BASE_URL"], model=os.environ["WETHINK_JUDGE_MODEL"])
    return TaskOptions(data_dir=os.environ.get("WETHINK_EVAL_DATA_DIR") or None, judge=judge)


# What `lighteval ... --custom-tasks eval_tasks/tasks.py` reads.
TASKS_TABLE = build_task_configs(options=_options_from_env())
