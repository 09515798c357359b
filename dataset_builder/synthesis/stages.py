"""The pipeline's stages. Each takes the record built so far (a dict) and a `StageContext` (which role answers,
journal replay, token accounting) and returns the fields it adds; a question that must not go on raises `Rejection`.

    coarse_caption -> refine_caption (refine_ask <-> refine_answer turns, merge_caption) -> formulate -> prefilter
    -> filter -> answer_reasoner + answer_vlm -> agreement (-> judge) -> refine_cot -> release record
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

from dataset_builder.schema import QUESTION_TYPES
from dataset_builder.synthesis import parsing
from dataset_builder.synthesis.parsing import MalformedReply
from dataset_builder.synthesis.prompts import get_template
from reward_funcs.grading import extract_answer, extract_choice, grade

MMVET_ABILITIES = ("Recognition", "OCR", "Knowledge", "Language generation", "Spatial awareness", "Math")
REASONING = "Reasoning"
TYPE_DEFINITIONS = {
    "multiple-choice": "Multiple-choice: a question with 2 to 8 options labelled A, B, C, ...; exactly one is right.",
    "fill-in-the-blank": "Fill-in-the-blank: a statement or question whose answer is one short exact value, word or "
    "phrase (a number, a name, a color, a label), written with ___ where the answer goes.",
    "descriptive": "Descriptive: asks for an explanation or description whose correctness can still be judged "
    "against the image (a reference answer of one to four sentences exists).",
}
FILTER_LABELS = ("valid", "forced", "open-ended", "unverifiable")
# Phrasings that ask for opinions or speculation: no reference answer can be checked (prefilter, stage 1).
OPEN_ENDED_PATTERN = re.compile(
    r"\b(what do you think|in your opinion|how do you feel|what might|imagine|could possibly|your favorite)\b", re.I
)
YES_NO_PATTERN = re.compile(r"^\s*(is|are|does|do|did|was|were|can|could|has|have|will|would|should)\b", re.I)


class Rejection(Exception):
    def __init__(self, stage: str, reason: str, detail: str = ""):
        super().__init__(f"{stage}: {reason}{' -- ' + detail if detail else ''}")
        self.stage, self.reason, self.detail = stage, reason, detail


class Reply(Protocol):
    text: str
    reasoning: str | None


class StageContext(Protocol):
    """What a stage needs from the pipeline: one model call per (stage, question, turn), replayed if journaled."""

    async def ask(self, role: str, stage: str, prompt: str, *, qidx: int = -1, turn: int | None = None) -> Reply: ...

    def parse(self, stage: str, reply: Reply, parser): ...


def _fields(**values) -> dict[str, str]:
    return {key: str(value) for key, value in values.items()}


async def coarse_caption(record: dict, ctx: StageContext) -> dict:
    reply = await ctx.ask("vlm", "coarse_caption", get_template("coarse_caption").render())
    return {"coarse_caption": ctx.parse("coarse_caption", reply, lambda r: parsing.tagged(r.text, "caption"))}


async def refine_caption(record: dict, ctx: StageContext, max_turns: int) -> dict:
    """The reasoner asks the VLM for missing details, up to max_turns; the VLM merges them into the fine caption."""
    dialogue: list[tuple[str, str]] = []
    for turn in range(max_turns):
        prompt = get_template("refine_ask").render(caption=record["coarse_caption"], dialogue=_dialogue(dialogue))
        reply = await ctx.ask("reasoner", "refine_ask", prompt, turn=turn)
        question = ctx.parse("refine_ask", reply, _detail_request)
        if question is None:
            break
        prompt = get_template("refine_answer").render(question=question)
        reply = await ctx.ask("vlm", "refine_answer", prompt, turn=turn)
        dialogue.append((question, ctx.parse("refine_answer", reply, lambda r: parsing.tagged(r.text, "detail"))))
    if not dialogue:
        return {"fine_caption": record["coarse_caption"], "refinement_turns": 0}
    prompt = get_template("merge_caption").render(caption=record["coarse_caption"], dialogue=_dialogue(dialogue))
    reply = await ctx.ask("vlm", "merge_caption", prompt)
    fine = ctx.parse("merge_caption", reply, lambda r: parsing.tagged(r.text, "caption"))
    return {"fine_caption": fine, "refinement_turns": len(dialogue)}


def _detail_request(reply: Reply) -> str | None:
    if re.search(r"<done\s*/?>", reply.text, flags=re.I) and "<question>" not in reply.text.lower():
        return None
    return parsing.tagged(reply.text, "question")


def _dialogue(turns: list[tuple[str, str]]) -> str:
    return "\n".join(f"Q{i}: {q}\nA{i}: {a}" for i, (q, a) in enumerate(turns, start=1)) or "(none yet)"


async def formulate(record: dict, ctx: StageContext) -> dict:
    """The reasoner writes question `qidx` of the image under the type, focus and ability-synergy constraints."""
    question_type = record["question_type"]
    prompt = get_template("formulate").render(
        caption=record["fine_caption"],
        question_type=question_type,
        type_definition=TYPE_DEFINITIONS[question_type],
        abilities=", ".join(MMVET_ABILITIES),
        prior_questions="\n".join(f"  - {q}" for q in record["prior_questions"]) or "  (none)",
    )
    reply = await ctx.ask("reasoner", "formulate", prompt, qidx=record["qidx"])
    return ctx.parse("formulate", reply, lambda r: _question_fields(r.text, question_type))


def _question_fields(text: str, question_type: str) -> dict:
    obj = parsing.json_object(text)
    question = parsing.string_field(obj, "question")
    options = obj.get("options") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) and v.strip() for v in options.values()):
        raise MalformedReply("field 'options' must map option letters to non-empty strings")
    options = {str(k).strip().upper(): v.strip() for k, v in options.items()}
    abilities = obj.get("abilities")
    if not isinstance(abilities, list) or not all(isinstance(a, str) for a in abilities):
        raise MalformedReply("field 'abilities' must be a list of strings")
    focus = obj.get("visual_focus")
    return {
        "question": question,
        "options": options,
        "abilities": _canonical_abilities(abilities),
        "visual_focus": focus.strip()[:300] if isinstance(focus, str) else None,
        "problem": _problem_text(question, options) if question_type == "multiple-choice" else question,
    }


def _canonical_abilities(names: list[str]) -> list[str]:
    known = {name.lower(): name for name in (REASONING, *MMVET_ABILITIES)}
    unknown = [n for n in names if n.strip().lower() not in known]
    if unknown:
        raise MalformedReply(f"unknown abilities {unknown[:3]}; expected {[REASONING, *MMVET_ABILITIES]}")
    return list(dict.fromkeys(known[n.strip().lower()] for n in names))


def _problem_text(question: str, options: dict[str, str]) -> str:
    return question + "\n" + "\n".join(f"{letter}. {text}" for letter, text in options.items())


def prefilter(record: dict) -> dict:
    """Filter stage 1, no model: structure, ability synergy, forced (guessable yes/no) and opinion questions."""
    question_type, options, question = record["question_type"], record["options"], record["question"]
    if question_type == "multiple-choice":
        expected = [chr(ord("A") + i) for i in range(len(options))]
        if not 2 <= len(options) <= 8 or list(options) != expected:
            raise Rejection("prefilter", "bad_options", f"options {list(options)} are not 2-8 letters A, B, ...")
        if len({text.lower() for text in options.values()}) < len(options):
            raise Rejection("prefilter", "forced", "duplicate options")
    elif options:
        raise Rejection("prefilter", "bad_options", f"a {question_type} question has options")
    elif YES_NO_PATTERN.match(question):
        raise Rejection("prefilter", "forced", "a yes/no question outside multiple-choice is a coin flip")
    if OPEN_ENDED_PATTERN.search(question):
        raise Rejection("prefilter", "open-ended", "asks for an opinion or speculation")
    if REASONING not in record["abilities"] or not set(record["abilities"]) & set(MMVET_ABILITIES):
        raise Rejection("prefilter", "ability_synergy", f"abilities {record['abilities']}")
    return {"prefilter": "pass"}


async def filter_question(record: dict, ctx: StageContext) -> dict:
    """Filter stage 2: the reasoner labels the question valid / forced / open-ended / unverifiable."""
    prompt = get_template("filter").render(
        caption=record["fine_caption"], question_type=record["question_type"], problem=record["problem"]
    )
    reply = await ctx.ask("reasoner", "filter", prompt, qidx=record["qidx"])
    verdict = ctx.parse("filter", reply, lambda r: parsing.choice(r.text, "verdict", FILTER_LABELS))
    if verdict != "valid":
        raise Rejection("filter", verdict, parsing.tagged(reply.text, "reason", required=False) or "")
    return {"filter": verdict}


async def answer(record: dict, ctx: StageContext, max_fib_answer_words: int) -> dict:
    """The reasoner answers from the fine caption with a chain of thought; the VLM answers from the image."""
    reasoner_prompt = get_template("answer_reasoner").render(caption=record["fine_caption"], problem=record["problem"])
    vlm_prompt = get_template("answer_vlm").render(problem=record["problem"])
    reasoner_reply, vlm_reply = await asyncio.gather(
        ctx.ask("reasoner", "answer_reasoner", reasoner_prompt, qidx=record["qidx"]),
        ctx.ask("vlm", "answer_vlm", vlm_prompt, qidx=record["qidx"]),
    )
    chain, final = ctx.parse(
        "answer_reasoner", reasoner_reply, lambda r: _reasoned_answer(r, record, max_fib_answer_words)
    )
    # The VLM's answer only votes: an unreadable one counts as a disagreement, which the judge then settles.
    vlm_answer = extract_answer(vlm_reply.text)
    if vlm_answer is not None and record["question_type"] == "multiple-choice":
        vlm_answer = extract_choice(vlm_answer, record["options"]) or vlm_answer
    return {"reasoning": chain, "answer": final, "vlm_answer": vlm_answer}


def _reasoned_answer(reply: Reply, record: dict, max_fib_answer_words: int) -> tuple[str, str]:
    chain, rest = parsing.think_and_rest(reply.text)
    chain = (reply.reasoning or "").strip() or chain or rest.split("<answer>")[0].strip()
    final = extract_answer(rest)
    if not final:
        raise MalformedReply("the reasoner's reply has no extractable final answer")
    if not chain:
        raise MalformedReply("the reasoner's reply has no reasoning before its answer")
    question_type = record["question_type"]
    if question_type == "multiple-choice":
        letter = extract_choice(final, record["options"])
        if letter is None:
            raise Rejection("answer_reasoner", "unverifiable", f"answer {final[:80]!r} is not one of the options")
        final = letter
    elif question_type == "fill-in-the-blank" and len(final.split()) > max_fib_answer_words:
        raise Rejection("answer_reasoner", "open-ended", f"fill-in-the-blank answer has {len(final.split())} words")
    return chain, final


def agreement(record: dict) -> dict:
    """The grading core decides whether the VLM's answer matches the reasoner's (the reasoner's is the gold)."""
    if record["vlm_answer"] is None:
        return {"agreement": False}
    agreed = grade(
        record["vlm_answer"],
        record["answer"],
        question_type=record["question_type"],
        options=record["options"] or None,
    )
    return {"agreement": bool(agreed)}


async def judge(record: dict, ctx: StageContext) -> dict:
    """On disagreement the judge re-evaluates the reasoner's answer; only an answer judged correct goes on."""
    prompt = get_template("judge").render(
        caption=record["fine_caption"],
        problem=record["problem"],
        reasoning=record["reasoning"][-6000:],  # the conclusion matters; bound the prompt
        reasoner_answer=record["answer"],
        vlm_answer=record["vlm_answer"] if record["vlm_answer"] is not None else "(no answer given)",
    )
    reply = await ctx.ask("judge", "judge", prompt, qidx=record["qidx"])
    verdict = ctx.parse("judge", reply, lambda r: parsing.choice(r.text, "verdict", ("correct", "incorrect")))
    if verdict != "correct":
        raise Rejection("judge", "judged_incorrect", parsing.tagged(reply.text, "reason", required=False) or "")
    return {"judge": verdict}


async def refine_cot(record: dict, ctx: StageContext) -> dict:
    """The VLM rewrites the raw chain concise and consistent with the image and the kept answer."""
    prompt = get_template("refine_cot").render(
        problem=record["problem"], answer=record["answer"], reasoning=record["reasoning"]
    )
    reply = await ctx.ask("vlm", "refine_cot", prompt, qidx=record["qidx"])
    return {"refined_cot": ctx.parse("refine_cot", reply, _refined_chain)}


def _refined_chain(reply: Reply) -> str:
    chain = parsing.tagged(reply.text, "refined_cot")
    if "<answer>" in chain.lower() or "<think>" in chain.lower():
        raise MalformedReply("the refined chain contains <think>/<answer> tags")
    return chain


# MC and FIB answers are checked by rule; descriptive ones need a model judge (the paper's hybrid reward).
REWARD_METHOD = {"multiple-choice": "rule", "fill-in-the-blank": "rule", "descriptive": "model"}
assert set(REWARD_METHOD) == set(QUESTION_TYPES)
