"""`python -m dataset_builder {build,check,synthesize} ...` (see each command's --help).

Each command parses its own dataclass with HfArgumentParser, like the recipes (`--output-dir` and `--output_dir` both
work).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Literal

from transformers import HfArgumentParser

from dataset_builder.sources import BadInputError, BadRecordError


@dataclass
class BuildArguments:
    source: list[str] = field(metadata={"help": "Record files (*.json, *.jsonl) or folders holding them."})
    images: list[str] = field(
        metadata={
            "help": "Image folders, zips, or split zip parts (one part or the folder of image.zip.part-aa ...); "
            "searched in order."
        }
    )
    output_dir: str = field(metadata={"help": "Where OUT/<config>/*.parquet, README.md, build_report.* etc. go."})
    max_shard_size: str = field(default="500MB", metadata={"help": "Largest Parquet shard before starting a new one."})
    on_error: Literal["raise", "skip"] = field(
        default="raise",
        metadata={"help": "raise: stop at the first bad record; skip: write it to OUT/rejected.jsonl and go on."},
    )
    spellings: str | None = field(
        default=None, metadata={"help": "YAML file of extra category/reward spellings (see `check`)."}
    )
    repo_id: str | None = field(
        default=None,
        metadata={
            "help": "Hub id the card's loading snippet names. Upload with `python -m model_cards push "
            "--dataset-dir OUT --repo-id ID` (token from HF_TOKEN)."
        },
    )
    no_sharegpt: bool = field(default=False, metadata={"help": "Skip the LLaMA-Factory ShareGPT export."})
    sharegpt_copy_images: bool = field(
        default=False,
        metadata={
            "help": "Write the images next to the ShareGPT JSON (default: paths relative to the image bundle, "
            "LLaMA-Factory media_dir)."
        },
    )


@dataclass
class CheckArguments:
    source: list[str] = field(metadata={"help": "Record files (*.json, *.jsonl) or folders holding them."})
    images: list[str] | None = field(
        default=None,
        metadata={"help": "Image roots as for build: every image is looked up (not decoded). Default: not checked."},
    )
    spellings: str | None = field(default=None, metadata={"help": "YAML file of extra category/reward spellings."})
    output_dir: str = field(
        default="data/wethink", metadata={"help": "The --output-dir the printed build command names."}
    )


def run_build(args: BuildArguments) -> int:
    from dataset_builder.build import build_dataset
    from dataset_builder.schema import Spellings

    try:
        report = build_dataset(
            args.source,
            args.images,
            args.output_dir,
            on_error=args.on_error,
            max_shard_size=args.max_shard_size,
            repo_id=args.repo_id,
            export_sharegpt_json=not args.no_sharegpt,
            sharegpt_copy_images=args.sharegpt_copy_images,
            spellings=Spellings.load(args.spellings),
        )
    except (BadRecordError, BadInputError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"{report.rows_out} rows written, {report.rows_rejected} rejected, of {report.rows_in} read "
        f"in {report.seconds:.1f} s -> {args.output_dir}"
    )
    return 0


def run_check(args: CheckArguments) -> int:
    from dataset_builder.check import check_release, format_report
    from dataset_builder.schema import Spellings

    try:
        report = check_release(args.source, args.images, Spellings.load(args.spellings))
    except (BadInputError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        format_report(
            report, sources=args.source, images=args.images, output_dir=args.output_dir, spellings_file=args.spellings
        )
    )
    return 0 if report.build_would_succeed else 1


def commands() -> dict:
    from dataset_builder.synthesis.cli import SynthesizeArguments, run_synthesize

    return {
        "build": (BuildArguments, run_build, "build release records + images into Parquet configs, report and card"),
        "check": (CheckArguments, run_check, "preflight: every spelling, duplicate, missing field and image at once"),
        "synthesize": (SynthesizeArguments, run_synthesize, "turn raw images into verified QA records"),
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    available = commands()
    if not argv or argv[0] not in available:
        usage = "\n".join(f"  {name:11s} {summary}" for name, (_, _, summary) in available.items())
        print(f"usage: python -m dataset_builder {{{','.join(available)}}} ...\n\n{usage}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    arguments, run, summary = available[argv[0]]
    parser = HfArgumentParser(arguments, prog=f"python -m dataset_builder {argv[0]}", description=summary)
    (args,) = parser.parse_args_into_dataclasses(args=argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
