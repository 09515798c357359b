"""`python -m reward_funcs calibrate --dataset DIR|HUB_ID --judge-base-url URL --judge-model NAME --output-dir OUT`

Measures how well the model judge agrees with the grading rules on rule-scorable rows (see
`reward_funcs/calibration.py`); `python -m reward_funcs calibrate --help` lists every option.
"""

from __future__ import annotations

import logging
import sys

COMMANDS = ("calibrate",)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m reward_funcs {{{','.join(COMMANDS)}}} [--help]\n\n{__doc__}", file=sys.stderr)
        return 2
    from transformers import HfArgumentParser

    from reward_funcs.calibration import CalibrationConfig, run_calibration

    parser = HfArgumentParser(CalibrationConfig, prog="python -m reward_funcs calibrate")
    (config,) = parser.parse_args_into_dataclasses(args=argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run_calibration(config)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(report["summary"])
    print(f"report: {config.output_dir}/report.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
