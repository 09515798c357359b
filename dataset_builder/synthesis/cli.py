"""`python -m dataset_builder synthesize --images DIR --config synthesis.yaml --output-dir OUT [--shard i/n]`."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from dataset_builder.synthesis.config import load_config
from dataset_builder.synthesis.pipeline import synthesize


@dataclass
class SynthesizeArguments:
    images: str = field(metadata={"help": "Image folder; record image_path is relative to it."})
    config: str = field(metadata={"help": "Synthesis YAML (see dataset_builder/synthesis/synthesis.yaml)."})
    output_dir: str = field(metadata={"help": "OUT: records.jsonl, rejected.jsonl, stats.*, checkpoint/."})
    shard: str = field(
        default="0/1",
        metadata={
            "help": "Process shard I/N (split by a stable hash of the image path); give each shard its own "
            "--output-dir."
        },
    )
    workers: int = field(
        default=1,
        metadata={
            "help": "Processes on this machine sharing the shard and the endpoints' concurrency (when one CPU core "
            "cannot keep up with the endpoints)."
        },
    )
    limit: int | None = field(default=None, metadata={"help": "Process at most this many images of the shard."})
    allow_config_change: bool = field(
        default=False,
        metadata={
            "help": "Resume although the models, sampling settings or prompts differ from the run that started OUT "
            "(new requests are sent for the changed stages; old replies stay in the journal, unused)."
        },
    )
    no_progress: bool = field(default=False, metadata={"help": "No progress bar."})


def parse_shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects i/n (e.g. 0/8), got {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {value}: need n >= 1 and 0 <= i < n")
    return index, count


def run_synthesize(args: SynthesizeArguments) -> int:
    try:
        config = load_config(args.config)
        summary = synthesize(
            config,
            args.images,
            args.output_dir,
            shard=parse_shard(args.shard),
            limit=args.limit,
            workers=args.workers,
            progress=not args.no_progress,
            allow_config_change=args.allow_config_change,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    stats = summary.stats
    print(
        f"{stats['records']} records from {stats['images']} images in {summary.output_dir} "
        f"({summary.records_written} new this run; agreement {stats['agreement_rate']}, "
        f"{stats['run']['requests_per_s']} requests/s)"
    )
    if summary.images_failed:
        print(
            f"error: {summary.images_failed} images failed after retries (see {summary.output_dir}/failed.jsonl); "
            "run the same command again to retry them",
            file=sys.stderr,
        )
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m dataset_builder.synthesis synthesize ...`, the same command as `python -m dataset_builder`."""
    from dataset_builder.__main__ import main as dataset_builder_main

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return dataset_builder_main(argv)
