"""`python -m dataset_builder synthesize --images DIR --config synthesis.yaml --output-dir OUT [--shard i/n]`."""

from __future__ import annotations

import argparse
import logging
import sys

from dataset_builder.synthesis.config import load_config
from dataset_builder.synthesis.pipeline import synthesize


def parse_shard(value: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects i/n (e.g. 0/8), got {value!r}") from None
    if count < 1 or not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"--shard {value}: need n >= 1 and 0 <= i < n")
    return index, count


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synthesize",
        help="turn raw images into verified QA records with reasoning paths (vlm / reasoner / judge endpoints)",
        description="Caption, refine, formulate, filter, answer, cross-check and refine QA pairs for every image, "
        "resumably. Writes OUT/records.jsonl (release schema + provenance) that `build --source` reads.",
    )
    parser.add_argument("--images", required=True, help="image folder; record image_path is relative to it")
    parser.add_argument(
        "--config", required=True, help="synthesis YAML (see dataset_builder/synthesis/synthesis.yaml)"
    )
    parser.add_argument("--output-dir", required=True, help="OUT: records.jsonl, rejected.jsonl, stats.*, checkpoint/")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        default=(0, 1),
        metavar="I/N",
        help="process shard I of N (split by a stable hash of the image path); give each shard its own --output-dir",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes on this machine sharing the shard and the endpoints' concurrency (when one CPU core cannot "
        "keep up with the endpoints)",
    )
    parser.add_argument("--limit", type=int, default=None, help="process at most this many images of the shard")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_synthesize)
    return parser


def run_synthesize(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        summary = synthesize(
            config,
            args.images,
            args.output_dir,
            shard=args.shard,
            limit=args.limit,
            workers=args.workers,
            progress=not args.no_progress,
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
    parser = argparse.ArgumentParser(prog="python -m dataset_builder.synthesis")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)
