"""Runs the synthesis stages over an image folder: many images at once, every model reply journaled.

Durability: each model reply is fsynced to OUT/checkpoint/journal.jsonl, keyed by (image, question index, stage,
turn) and a hash of the request (the role's models, sampling settings and image setting, the prompt template's
version and the rendered prompt), before the stage that asked for it goes on; a rerun replays journaled replies
instead of sending them again, and a changed config or prompt sends new requests (old replies stay, unused).
OUT/checkpoint/run.json records the image folder, the shard and the config; resuming with another config is refused
unless allow_config_change (the refusal says what changed). Images finished before a config change keep their
records, whose provenance names the models and prompt versions that made them.
Output records and rejections are written (fsynced) before their image is marked done in the journal, and a rerun
skips ids already in OUT/records.jsonl / OUT/rejected.jsonl, so each is written exactly once however often the run
is killed. Images whose requests failed after all retries are listed in OUT/failed.jsonl and retried by a rerun.
Each run starts by compacting the journal (finished images keep one row, their replies go), so it stays about the
size of the work in progress.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import mimetypes
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from tqdm.auto import tqdm

from dataset_builder.synthesis import stages
from dataset_builder.synthesis.config import ROLES, SynthesisConfig
from dataset_builder.synthesis.journal import DurableJsonl
from dataset_builder.synthesis.parsing import MalformedReply, check_length
from dataset_builder.synthesis.prompts import get_template
from dataset_builder.synthesis.resume import check_same_run, compact_journal, config_identity, exclusive
from dataset_builder.synthesis.stages import Rejection
from dataset_builder.synthesis.stats import build_stats, write_stats
from dataset_builder.synthesis.workers import run_workers
from reward_funcs.client import ChatClient, EndpointError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


def list_images(images_dir: str | Path) -> list[str]:
    """Image paths under images_dir, relative to it (POSIX), sorted."""
    root = Path(images_dir)
    if not root.is_dir():
        raise ValueError(f"--images {root}: not a folder")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def stable_hash(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:16], 16)


def in_shard(image_path: str, index: int, count: int) -> bool:
    """Shard membership by a hash of the relative path: stable across machines, runs and image-set growth."""
    return stable_hash(image_path) % count == index


def record_id(image_path: str, question_index: int) -> str:
    return hashlib.sha1(f"{image_path}#{question_index}".encode()).hexdigest()[:16]


@dataclass
class RunSummary:
    output_dir: Path
    images: int
    images_failed: int
    records_written: int
    stats: dict


class ImageContext:
    """The `StageContext` of one image: journal replay, the role clients, and the image's own counters."""

    def __init__(self, run: SynthesisRun, image_path: str):
        self.run = run
        self.image_path = image_path
        self.counters: Counter = Counter()
        self.models: dict[str, str] = {}
        self.prompts: dict[str, str] = {}
        self._image_url: str | None = None

    async def ask(self, role: str, stage: str, prompt: str, *, qidx: int = -1, turn: int | None = None):
        version = get_template(stage).version
        request = json.dumps([self.run.role_identity[role], version, prompt], sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(request.encode("utf-8")).hexdigest()[:16]
        key = f"{self.image_path}|{qidx}|{stage}" + (f"|{turn}" if turn is not None else "") + f"#{digest}"
        reply = self.run.replayable.pop(key, None)
        if reply is None:
            messages = await self._messages(role, prompt)
            result = await self.run.clients[role].chat(messages)
            reply = {
                "text": result.text,
                "reasoning": result.reasoning,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "model": self.run.model_by_endpoint[role][result.endpoint],
            }
            row = {"kind": "reply", "image": self.image_path, "key": key, "role": role, "reply": reply}
            await self.run.journal.append(row)
            self.counters["requests.sent"] += 1
        else:
            self.counters["requests.replayed"] += 1
        self.counters[f"role.{role}.requests"] += 1
        self.counters[f"role.{role}.prompt_tokens"] += reply["prompt_tokens"]
        self.counters[f"role.{role}.completion_tokens"] += reply["completion_tokens"]
        self.models[role] = reply["model"]
        self.prompts[stage] = version
        return SimpleNamespace(text=reply["text"] or "", reasoning=reply["reasoning"])

    def parse(self, stage: str, reply, parser):
        try:
            check_length(reply.text, self.run.config.pipeline.max_reply_chars)
            check_length(reply.reasoning or "", self.run.config.pipeline.max_reply_chars)
            return parser(reply)
        except MalformedReply as err:
            raise Rejection(stage, "malformed_reply", str(err)) from err

    async def _messages(self, role: str, prompt: str) -> list[dict]:
        if not self.run.config.roles[role].sees_image:
            return [{"role": "user", "content": prompt}]
        if self._image_url is None:
            path = self.run.images_dir / self.image_path
            data = await asyncio.to_thread(path.read_bytes)
            mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
            self._image_url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        image_part = {"type": "image_url", "image_url": {"url": self._image_url}}
        return [{"role": "user", "content": [image_part, {"type": "text", "text": prompt}]}]


class SynthesisRun:
    def __init__(
        self, config: SynthesisConfig, images_dir: str | Path, output_dir: str | Path, *, repair_tails: bool = True
    ):
        self.config = config
        self.images_dir = Path(images_dir)
        self.output_dir = Path(output_dir)
        self.clients = {
            role: ChatClient(
                config.roles[role].endpoints,
                max_retries=config.pipeline.max_retries,
                backoff_base=config.pipeline.backoff_base,
            )
            for role in ROLES
        }
        self.model_by_endpoint = {role: {e.base_url: e.model for e in config.roles[role].endpoints} for role in ROLES}
        self.role_identity = config_identity(config)["roles"]
        self.journal = DurableJsonl(self.output_dir / "checkpoint" / "journal.jsonl", repair_tail=repair_tails)
        self.records = DurableJsonl(self.output_dir / "records.jsonl", repair_tail=repair_tails)
        self.rejected = DurableJsonl(self.output_dir / "rejected.jsonl", repair_tail=repair_tails)
        # What earlier runs finished: whole images (with their counters), output ids, and replies to replay.
        self.finished: dict[str, dict] = {}
        pending: dict[str, tuple[str, dict]] = {}
        for row in self.journal:
            if row.get("kind") == "image_done":
                self.finished[row["image"]] = row["counters"]
            elif row.get("kind") == "reply":
                pending[row["key"]] = (row["image"], row["reply"])
        self.replayable = {key: reply for key, (image, reply) in pending.items() if image not in self.finished}
        self.written_ids = {row["provenance"]["record_id"] for row in self.records}
        self.rejected_ids = {row["id"] for row in self.rejected}
        self.failures: list[dict] = []
        self.records_this_run = 0

    # -- one image ------------------------------------------------------------------------------------------------
    async def process_image(self, image_path: str) -> tuple[Counter, bool]:
        """Runs every stage for one image; returns its counters and whether it finished. An image whose request
        failed for good is left for the next run, but the records and rejections it wrote count in this run's
        stats (its counters are not journaled: a rerun counts the image again, replaying what it has)."""
        ctx = ImageContext(self, image_path)
        try:
            await self._run_stages(image_path, ctx)
        except EndpointError as err:
            logger.warning("%s failed after retries, left for the next run: %s", image_path, err)
            self.failures.append({"image_path": image_path, "error": str(err)})
            return ctx.counters, False
        await self.journal.append({"kind": "image_done", "image": image_path, "counters": dict(ctx.counters)})
        return ctx.counters, True

    async def _run_stages(self, image_path: str, ctx: ImageContext) -> None:
        pipeline = self.config.pipeline
        base = {"image_path": image_path}
        try:
            base |= await stages.coarse_caption(base, ctx)
            ctx.counters["passed.coarse_caption"] += 1
            base |= await stages.refine_caption(base, ctx, pipeline.max_refinement_turns)
            ctx.counters["passed.refine_caption"] += 1
        except Rejection as rejection:
            await self._reject(ctx, {**base, "qidx": -1}, rejection)
            return
        types = pipeline.question_types
        offset = stable_hash(image_path)
        prior: list[str] = []
        tails = []
        for qidx in range(pipeline.questions_per_image):
            question_type = types[(offset + qidx) % len(types)]
            record = {**base, "qidx": qidx, "question_type": question_type, "prior_questions": list(prior)}
            try:
                record |= await stages.formulate(record, ctx)
                ctx.counters["passed.formulate"] += 1
                record |= stages.prefilter(record)
                ctx.counters["passed.prefilter"] += 1
            except Rejection as rejection:
                await self._reject(ctx, record, rejection)
                continue
            prior.append(record["question"])
            # Later questions only need the earlier ones' text: check and answer this one meanwhile.
            tails.append(asyncio.create_task(self._finish_question(record, ctx)))
        outcomes = await asyncio.gather(*tails, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _finish_question(self, record: dict, ctx: ImageContext) -> None:
        try:
            record |= await stages.filter_question(record, ctx)
            ctx.counters["passed.filter"] += 1
            record |= await stages.answer(record, ctx, self.config.pipeline.max_fib_answer_words)
            ctx.counters["passed.answer"] += 1
            record |= stages.agreement(record)
            ctx.counters["agreement.agree" if record["agreement"] else "agreement.disagree"] += 1
            if not record["agreement"]:
                record |= await stages.judge(record, ctx)
                ctx.counters["passed.judge"] += 1
            record |= await stages.refine_cot(record, ctx)
            ctx.counters["passed.refine_cot"] += 1
        except Rejection as rejection:
            await self._reject(ctx, record, rejection)
            return
        rid = record_id(record["image_path"], record["qidx"])
        if rid not in self.written_ids:
            await self.records.append(self._release_record(rid, record, ctx))
            self.written_ids.add(rid)
            self.records_this_run += 1
        ctx.counters["records"] += 1

    def _release_record(self, rid: str, record: dict, ctx: ImageContext) -> dict:
        question_type = record["question_type"]
        return {
            "problem": record["problem"],
            "answer": record["answer"],
            "category": question_type,
            "abilities": record["abilities"],
            "refined_cot": record["refined_cot"],
            "image_path": record["image_path"],
            "reward": stages.REWARD_METHOD[question_type],
            "provenance": {
                "record_id": rid,
                "generator": "wethink-recipes dataset_builder.synthesis",
                "question_index": record["qidx"],
                "models": dict(ctx.models),
                "prompt_versions": dict(ctx.prompts),
                "refinement_turns": record["refinement_turns"],
                "visual_focus": record["visual_focus"],
                "options": record["options"],
                "prefilter": record["prefilter"],
                "filter": record["filter"],
                "reasoner_answer": record["answer"],
                "vlm_answer": record["vlm_answer"],
                "agreement": record["agreement"],
                "judge": record.get("judge"),  # None when the VLM agreed and no re-evaluation was needed
            },
        }

    async def _reject(self, ctx: ImageContext, record: dict, rejection: Rejection) -> None:
        ctx.counters[f"rejected.{rejection.stage}.{rejection.reason}"] += 1
        qidx = record["qidx"]
        rid = record_id(record["image_path"], qidx)  # qidx -1: the image itself (a caption stage rejected it)
        if rid in self.rejected_ids:
            return
        await self.rejected.append(
            {
                "id": rid,
                "image_path": record["image_path"],
                "question_index": qidx,
                "stage": rejection.stage,
                "reason": rejection.reason,
                "detail": rejection.detail[:500],
                "problem": record.get("problem"),
            }
        )
        self.rejected_ids.add(rid)

    # -- a list of images -----------------------------------------------------------------------------------------
    async def run(self, images: list[str], *, on_progress: Callable[[int], None] = lambda n: None) -> WorkerResult:
        """Processes the images not finished by an earlier run; calls on_progress(n) as n more images are done."""
        cpu_started = time.process_time()
        todo = [image for image in images if image not in self.finished]
        on_progress(len(images) - len(todo))
        in_flight = self.config.pipeline.max_images_in_flight or 2 * sum(
            e.max_concurrency for role in self.config.roles.values() for e in role.endpoints
        )
        slots = asyncio.Semaphore(in_flight)
        new_counters: list[dict] = []
        partial_counters: list[dict] = []
        errors: list[BaseException] = []

        async def one(image_path: str) -> None:
            try:
                counters, finished = await self.process_image(image_path)
                (new_counters if finished else partial_counters).append(dict(counters))
            except Exception as err:  # a bug, or the disk failing: stop scheduling, surface it
                errors.append(err)
            finally:
                slots.release()
                on_progress(1)

        tasks = []
        for image_path in todo:
            await slots.acquire()
            if errors:
                break
            tasks.append(asyncio.create_task(one(image_path)))
        await asyncio.gather(*tasks)
        for client in self.clients.values():
            await client.aclose()
        if errors:
            raise errors[0]
        return WorkerResult(
            earlier_counters=[self.finished[image] for image in images if image in self.finished],
            new_counters=new_counters,
            partial_counters=partial_counters,
            failures=self.failures,
            records_written=self.records_this_run,
            cpu_s=time.process_time() - cpu_started,
            usage={role: client.usage.as_dict() for role, client in self.clients.items()},
        )

    def close(self) -> None:
        for output in (self.journal, self.records, self.rejected):
            output.close()


@dataclass
class WorkerResult:
    earlier_counters: list[dict]  # images of this run's list that earlier runs finished
    new_counters: list[dict]  # images finished now
    partial_counters: list[dict]  # images that failed now, with what they did before failing
    failures: list[dict]
    records_written: int
    cpu_s: float
    usage: dict[str, dict]


def run_images(
    config: SynthesisConfig,
    images_dir: str | Path,
    output_dir: str | Path,
    images: list[str],
    on_progress: Callable[[int], None] = lambda n: None,
    *,
    repair_tails: bool = True,
) -> WorkerResult:
    run = SynthesisRun(config, images_dir, output_dir, repair_tails=repair_tails)
    try:
        return asyncio.run(run.run(images, on_progress=on_progress))
    finally:
        run.close()


def synthesize(
    config: SynthesisConfig,
    images_dir: str | Path,
    output_dir: str | Path,
    *,
    shard: tuple[int, int] = (0, 1),
    limit: int | None = None,
    workers: int = 1,
    progress: bool = True,
    allow_config_change: bool = False,
) -> RunSummary:
    """Synthesizes QA records for the images of one shard into output_dir, resuming whatever is there.

    workers > 1 splits the images over that many processes on this machine (each endpoint's max_concurrency is
    divided between them), for when one Python process cannot keep up with the endpoints.
    Statistics cover the images of this call (the shard, or its first `limit` images). Resuming a run made with
    other models, sampling settings, prompts or pipeline settings raises ValueError saying what changed, unless
    allow_config_change.
    """
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"--shard {index}/{count}: need 0 <= i < n")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    images = [image for image in list_images(images_dir) if in_shard(image, index, count)]
    if limit is not None:
        images = images[:limit]
    output_dir = Path(output_dir)
    identity = {"images": str(Path(images_dir).resolve()), "shard": f"{index}/{count}"}
    check_same_run(output_dir, identity, config_identity(config), allow_config_change)
    started = time.perf_counter()
    with exclusive(output_dir), tqdm(total=len(images), unit="img", disable=not progress) as bar:
        compact_journal(output_dir / "checkpoint" / "journal.jsonl")
        if workers == 1:
            results = [run_images(config, images_dir, output_dir, images, bar.update)]
        else:
            results = run_workers(run_images, config, images_dir, output_dir, images, workers, bar.update)
    return _finish(output_dir, images, results, time.perf_counter() - started)


def _finish(output_dir: Path, images: list[str], results: list[WorkerResult], wall: float) -> RunSummary:
    new_counters = [c for r in results for c in r.new_counters]
    partial_counters = [c for r in results for c in r.partial_counters]
    failures = [f for r in results for f in r.failures]
    usage: dict[str, Counter] = {}
    for result in results:
        for role, numbers in result.usage.items():
            usage.setdefault(role, Counter()).update(numbers)
    run_info = {
        "images_in_shard": len(images),
        "images_done_before": sum(len(r.earlier_counters) for r in results),
        "images_processed": len(new_counters),
        "images_failed": len(failures),
        "records_written": sum(r.records_written for r in results),
        "workers": len(results),
        "wall_s": wall,
        "cpu_s": sum(r.cpu_s for r in results),
        "client": {role: dict(numbers) for role, numbers in usage.items()},
    }
    finished = [c for r in results for c in (*r.earlier_counters, *r.new_counters)]
    stats = build_stats(finished, run_info, new_counters + partial_counters, partial_counters)
    write_stats(stats, output_dir)
    with open(output_dir / "failed.jsonl", "w", encoding="utf-8") as handle:
        for failure in failures:
            handle.write(json.dumps(failure) + "\n")
    return RunSummary(output_dir, len(images), len(failures), run_info["records_written"], stats)
