"""A scripted stand-in for the three model roles, for tests and the throughput bench.

`ScriptedRoles` is a responder for `tests.doubles.scripted_server.ScriptedOpenAIServer`: it reads the stage marker every
prompt template starts with, finds the image (VLM requests carry it as a data URL; text-only requests carry the
caption it wrote, which names the image) and answers like a well-behaved model would, with per-image quirks a test
can ask for: a disagreeing VLM, a judge that rejects, a filter that rejects, malformed replies. Every reply ends with
`<!-- req:HASH -->`, a hash of the request body, so a test can tell which logical request a journaled reply answered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections import Counter
from pathlib import Path

from tests.doubles.scripted_server import Reply, Request

STAGE_MARKER = re.compile(r"\[wethink-synthesis stage=(\w+) version=\w+\]")
SCENE_TAG = re.compile(r"\[scene ([^\]]+)\]")
QUIRKS = (
    "vlm_disagrees",  # the VLM answers differently: the judge decides
    "judge_rejects",  # ... and the judge finds the reasoner wrong
    "filter_rejects",  # the filter labels the first question unverifiable
    "malformed_caption",  # the coarse caption has no <caption> tags
    "malformed_question",  # the multiple-choice question's JSON is broken
)


def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()[:16]


class ScriptedRoles:
    def __init__(
        self,
        images_dir: str | Path,
        *,
        quirks: dict[str, set[str]] | None = None,
        quirk_rates: dict[str, float] | None = None,
        delay_s: float = 0.0,
        detail_turns: int = 1,
    ):
        """quirks: image path -> quirk names; quirk_rates: quirk -> share of images (picked by a hash of the path)."""
        root = Path(images_dir)
        self.image_by_url_hash: dict[str, str] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file():
                encoded = base64.b64encode(path.read_bytes())
                self.image_by_url_hash[hashlib.sha1(encoded).hexdigest()] = path.relative_to(root).as_posix()
        self.quirks = {image: set(names) for image, names in (quirks or {}).items()}
        unknown = {q for names in self.quirks.values() for q in names} | set(quirk_rates or {})
        if unknown - set(QUIRKS):
            raise ValueError(f"unknown quirks {sorted(unknown - set(QUIRKS))}; known: {QUIRKS}")
        for quirk, rate in (quirk_rates or {}).items():
            for image in self.image_by_url_hash.values():
                if int(hashlib.sha1(f"{quirk}:{image}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < rate:
                    self.quirks.setdefault(image, set()).add(quirk)
        self.delay_s = delay_s
        self.detail_turns = detail_turns
        self.counts: Counter = Counter()  # (stage, image) -> requests received
        self.by_hash: Counter = Counter()  # request_hash -> requests received
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        text = request.last_text
        marker = STAGE_MARKER.search(text)
        stage = marker.group(1) if marker else "unknown"
        image = self._image_of(request)
        digest = request_hash(request.body)
        with self._lock:
            self.counts[(stage, image)] += 1
            self.by_hash[digest] += 1
        quirks = self.quirks.get(image, set())
        answer = getattr(self, f"_{stage}", None)
        body = answer(text, image, quirks) if answer else "I do not understand."
        reasoning = None
        if stage == "answer_reasoner":  # like vLLM's reasoning parser: the chain arrives as reasoning_content
            reasoning, _, body = body.partition("\n\n")
        return Reply(text=f"{body}\n<!-- req:{digest} -->", reasoning=reasoning, delay_s=self.delay_s)

    def _image_of(self, request: Request) -> str:
        content = request.messages[-1]["content"] if request.messages else ""
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    encoded = url.split(",", 1)[1].encode()
                    return self.image_by_url_hash.get(hashlib.sha1(encoded).hexdigest(), "unknown-image")
        scene = SCENE_TAG.search(request.last_text)
        return scene.group(1) if scene else "unknown-image"

    # -- one method per stage ------------------------------------------------------------------------------------
    def _coarse_caption(self, text, image, quirks):
        if "malformed_caption" in quirks:
            return "Sure! The image shows some shapes."
        return f"<caption>[scene {image}] Three red squares and two blue circles on a white background.</caption>"

    def _refine_ask(self, text, image, quirks):
        asked = text.count("\nQ")
        if asked >= self.detail_turns:
            return "<done/>"
        return "<question>Exactly how many red squares are there, and where are they?</question>"

    def _refine_answer(self, text, image, quirks):
        return "<detail>There are exactly three red squares, all in the top row.</detail>"

    def _merge_caption(self, text, image, quirks):
        return (
            f"<caption>[scene {image}] Three red squares in the top row and two blue circles below them, "
            "on a white background.</caption>"
        )

    def _formulate(self, text, image, quirks):
        prior = len(re.findall(r"^  - ", text, flags=re.M))
        kind = re.search(r"question type: ([\w-]+)", text).group(1)
        if kind == "multiple-choice" and "malformed_question" in quirks:
            return '```json\n{"question": "How many squares?", "options": \n```'
        if kind == "multiple-choice":
            question = {
                "question": f"How many red squares are in the top row? (q{prior})",
                "options": {"A": "two", "B": "three", "C": "four", "D": "five"},
            }
        elif kind == "fill-in-the-blank":
            question = {"question": f"There are ___ shapes in the image in total. (q{prior})", "options": {}}
        else:
            question = {"question": f"Describe how the shapes are arranged by color. (q{prior})", "options": {}}
        question |= {"abilities": ["Reasoning", "Math", "Spatial awareness"], "visual_focus": "the squares"}
        return "Here is the question.\n```json\n" + json.dumps(question) + "\n```"

    def _filter(self, text, image, quirks):
        if "filter_rejects" in quirks and "(q0)" in text:
            return "<verdict>unverifiable</verdict><reason>The caption does not show this.</reason>"
        return "<verdict>valid</verdict><reason>Checkable from the image.</reason>"

    def _answer_reasoner(self, text, image, quirks):
        final = _right_answer(text)
        return f"The caption lists three red squares and two blue circles, so the answer follows.\n\n<answer>{final}</answer>"

    def _answer_vlm(self, text, image, quirks):
        if "vlm_disagrees" in quirks:
            return "<answer>A</answer>" if "A. two" in text else "<answer>7</answer>"
        return f"<answer>{_right_answer(text)}</answer>"

    def _judge(self, text, image, quirks):
        if "judge_rejects" in quirks:
            return "<verdict>incorrect</verdict><reason>The first answer miscounts.</reason>"
        return "<verdict>correct</verdict><reason>Matches the description.</reason>"

    def _refine_cot(self, text, image, quirks):
        return "<refined_cot>I see three red squares in the top row and two blue circles below.</refined_cot>"


def _right_answer(text: str) -> str:
    if "A. two" in text:
        return "B"
    if "___ shapes" in text:
        return "5"
    return "Three red squares form the top row and two blue circles sit below them."
