"""WeThink rewards: one grading core (`grading`), TRL reward functions (`rewards`) and their registry."""

from reward_funcs.grading import Verdict, extract_answer, grade, parse_gold, verify
from reward_funcs.registry import REWARD_NAMES, get_reward_funcs, load_reward_func
from reward_funcs.rewards import (
    HybridReward,
    JudgeConfig,
    JudgeReward,
    accuracy_reward,
    format_reward,
)

__all__ = [
    "REWARD_NAMES",
    "HybridReward",
    "JudgeConfig",
    "JudgeReward",
    "Verdict",
    "accuracy_reward",
    "extract_answer",
    "format_reward",
    "get_reward_funcs",
    "grade",
    "load_reward_func",
    "parse_gold",
    "verify",
]
