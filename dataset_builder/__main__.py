"""`python -m dataset_builder build ...` (and `synthesize ...` once dataset_builder.synthesis provides it)."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys

from dataset_builder.build import ON_ERROR_CHOICES, build_dataset
from dataset_builder.sources import BadInputError, BadRecordError


def add_build_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "build",
        help="build release records + images into Parquet configs (default, rl, sft), a card and a report",
        description="Build WeThink release records (and any JSONL in the same schema) into Hub-ready Parquet.",
    )
    parser.add_argument(
        "--source", nargs="+", required=True, help="record files (*.json, *.jsonl) or folders holding them"
    )
    parser.add_argument(
        "--images",
        nargs="+",
        required=True,
        help="image folders, zips, or split zip parts (one part or the folder of image.zip.part-aa ...); "
        "searched in order",
    )
    parser.add_argument("--output-dir", required=True, help="where OUT/<config>/*.parquet, README.md etc. go")
    parser.add_argument("--max-shard-size", default="500MB", help="largest Parquet shard before starting a new one")
    parser.add_argument(
        "--on-error",
        choices=ON_ERROR_CHOICES,
        default="raise",
        help="raise: stop at the first bad record; skip: write it to OUT/rejected.jsonl and go on",
    )
    parser.add_argument("--push-to-hub", metavar="REPO", help="upload OUT to this dataset repo (token from HF_TOKEN)")
    parser.add_argument("--no-sharegpt", action="store_true", help="skip the LLaMA-Factory ShareGPT export")
    parser.add_argument(
        "--sharegpt-copy-images",
        action="store_true",
        help="write the images next to the ShareGPT JSON (default: paths relative to the image bundle, LLaMA-Factory "
        "media_dir)",
    )
    parser.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    try:
        report = build_dataset(
            args.source,
            args.images,
            args.output_dir,
            on_error=args.on_error,
            max_shard_size=args.max_shard_size,
            push_to_hub=args.push_to_hub,
            export_sharegpt_json=not args.no_sharegpt,
            sharegpt_copy_images=args.sharegpt_copy_images,
        )
    except (BadRecordError, BadInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"{report.rows_out} rows written, {report.rows_rejected} rejected, of {report.rows_in} read "
        f"in {report.seconds:.1f} s -> {args.output_dir}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset_builder", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_build_parser(subparsers)
    # The synthesis pipeline registers `synthesize` itself when its package is present.
    if importlib.util.find_spec("dataset_builder.synthesis") and importlib.util.find_spec(
        "dataset_builder.synthesis.cli"
    ):
        from dataset_builder.synthesis.cli import add_parser

        add_parser(subparsers)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):  # a subcommand registered without set_defaults(func=...)
        parser.error(f"the {args.command!r} subcommand did not register a handler (set_defaults(func=...))")
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
