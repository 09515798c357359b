"""Hub cards (model and dataset) rendered with huggingface_hub's card classes, and a one-commit Hub upload."""

from model_cards.cards import render_dataset_card, render_model_card

__all__ = ["render_dataset_card", "render_model_card"]
