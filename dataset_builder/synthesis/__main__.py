"""`python -m dataset_builder.synthesis synthesize ...` (same as `python -m dataset_builder synthesize ...`)."""

from dataset_builder.synthesis.cli import main

raise SystemExit(main())
