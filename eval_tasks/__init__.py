"""lighteval custom tasks, scoring, runner and decontamination for the WeThink evaluation (see README.md)."""
