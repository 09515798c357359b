"""Command line: render the cards and push folders to the Hub.

python -m model_cards render --model-dir RUN [--sft-dir SFT_RUN] [--eval-dir EVAL] [--sweep-dir SWEEP] [--base-model ID]
                           [--dataset ID]
python -m model_cards render --dataset-dir OUT [--synthesis-stats STATS.json]
python -m model_cards push --model-dir RUN | --dataset-dir OUT --repo-id ORG/NAME [--revision R] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys

from model_cards.push import PushError, format_plan, plan_push, push


def _add_target(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--model-dir", help="output_dir of a finished training run (model + trainer_state.json)")
    target.add_argument("--dataset-dir", help="output folder of `python -m dataset_builder build`")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_cards", description="WeThink Hub cards and upload.")
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="write README.md (the Hub card) into a model or dataset folder")
    _add_target(render)
    render.add_argument("--repo-id", help="Hub id used in the card's loading snippet (default: the folder name)")
    render.add_argument("--sft-dir", help="model card: output_dir of the SFT stage GRPO started from")
    render.add_argument("--eval-dir", help="model card: --output-dir of `python -m eval_tasks run`")
    render.add_argument("--sweep-dir", help="model card: --output-dir of `python recipes/sweep.py` (its table)")
    render.add_argument("--base-model", help="model card: Hub id of the model training started from")
    render.add_argument("--dataset", action="append", default=[], help="model card: Hub id of training data")
    render.add_argument(
        "--synthesis-stats",
        nargs="+",
        help="dataset card: the synthesis pipeline's stats.md/stats.json (default: found beside the built records)",
    )

    upload = commands.add_parser("push", help="create the Hub repo and upload the folder in one commit")
    _add_target(upload)
    upload.add_argument("--repo-id", required=True, help="ORG/NAME on the Hub")
    upload.add_argument("--revision", help="branch to commit to (created if missing); default: main")
    upload.add_argument("--private", action="store_true", help="create the repo private")
    upload.add_argument("--dry-run", action="store_true", help="list files and print the card; upload nothing")
    return parser


def run_render(args: argparse.Namespace) -> None:
    from model_cards.cards import load_eval_outputs, load_sweep_table, render_dataset_card, render_model_card

    if args.dataset_dir:
        render_dataset_card(args.dataset_dir, repo_id=args.repo_id, synthesis_stats=args.synthesis_stats)
        print(f"dataset card written to {args.dataset_dir}/README.md")
        return
    model_name = (args.repo_id or args.model_dir.rstrip("/")).split("/")[-1]
    results, table = load_eval_outputs(args.eval_dir, model_name) if args.eval_dir else ([], None)
    render_model_card(
        args.model_dir,
        repo_id=args.repo_id,
        base_model=args.base_model,
        datasets=args.dataset,
        sft_dir=args.sft_dir,
        eval_results=results,
        eval_table=table,
        sweep_table=load_sweep_table(args.sweep_dir, args.model_dir) if args.sweep_dir else None,
    )
    print(f"model card written to {args.model_dir}/README.md")


def run_push(args: argparse.Namespace) -> None:
    folder, repo_type = (args.model_dir, "model") if args.model_dir else (args.dataset_dir, "dataset")
    plan = plan_push(folder, repo_type)
    if args.dry_run:
        print(format_plan(plan, args.repo_id, args.revision))
        return
    url = push(plan, args.repo_id, revision=args.revision, private=args.private)
    print(f"uploaded {len(plan.files)} files to {args.repo_id}: {url}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run_render(args) if args.command == "render" else run_push(args)
    except (PushError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
