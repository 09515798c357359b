"""The main job on an embedded default, fully offline: `make demo`.

Builds the tiny random Qwen2.5-VL into OUTPUT_DIR/model-init; later stages (dataset build, SFT, GRPO, evaluation,
cards) are added as they land.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recipes.tiny_model import build_tiny_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the WeThink main job offline on an embedded default.")
    parser.add_argument("--output-dir", default="outputs/demo")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    model_dir = build_tiny_model(out / "model-init", seed=0, overwrite=True)
    print(f"tiny model: {model_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
