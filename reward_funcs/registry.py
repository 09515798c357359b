"""Reward functions by name, for recipes and command lines.

    get_reward_funcs(["hybrid", "format"], judge=JudgeConfig(base_url=..., model=...))
    get_reward_funcs(["format", "my_pkg.rewards:brevity"])  # a user's own function, by dotted path

Names: format, accuracy, judge, hybrid, length (DAPO soft overlong punishment, needs max_completion_length),
repetition (n-gram repetition penalty). Parameterised rewards are callable objects with a fixed `__name__`, so TRL
logs them as `rewards/<__name__>/mean` whatever their parameters. Weights go in GRPOConfig's `reward_weights`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from reward_funcs.rewards import HybridReward, JudgeConfig, JudgeReward, accuracy_reward, format_reward

REWARD_NAMES = ("format", "accuracy", "judge", "hybrid", "length", "repetition")


def load_reward_func(path: str) -> Callable:
    """A callable from "pkg.module:func" or "pkg.module.func"."""
    module_name, _, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"reward {path!r} is neither a known name {REWARD_NAMES} nor a 'pkg.module:func' path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"reward {path!r}: cannot import module {module_name!r} ({err})") from err
    func = getattr(module, attribute, None)
    if not callable(func):
        raise ValueError(f"reward {path!r}: module {module_name!r} has no callable {attribute!r}")
    return func


def get_reward_funcs(
    names: list[str],
    *,
    judge: JudgeConfig | None = None,
    max_completion_length: int | None = None,
    soft_punish_cache: int | None = None,
    repetition_ngram_size: int = 3,
    repetition_max_penalty: float = -1.0,
) -> list[Callable]:
    """Reward callables for GRPOTrainer, in the order named.

    judge: the model judge used by "judge" and by "hybrid" for model-rewarded rows (one client shared by both).
    max_completion_length / soft_punish_cache: "length" penalty window in tokens (cache defaults to a quarter).
    repetition_ngram_size / repetition_max_penalty: "repetition" penalty shape.
    """
    if isinstance(names, str):
        names = [names]
    judge_reward = JudgeReward(judge) if judge is not None else None
    funcs = []
    for name in names:
        if name == "format":
            funcs.append(format_reward)
        elif name == "accuracy":
            funcs.append(accuracy_reward)
        elif name == "judge":
            if judge_reward is None:
                raise ValueError(
                    "reward 'judge' needs a judge endpoint: get_reward_funcs(..., judge=JudgeConfig(...))"
                )
            funcs.append(judge_reward)
        elif name == "hybrid":
            funcs.append(HybridReward(judge_reward))
        elif name == "length":
            if not max_completion_length:
                raise ValueError("reward 'length' needs max_completion_length (the GRPOConfig value)")
            from trl.rewards import get_soft_overlong_punishment

            cache = soft_punish_cache if soft_punish_cache is not None else max_completion_length // 4
            funcs.append(get_soft_overlong_punishment(max_completion_length, cache))
        elif name == "repetition":
            from trl.rewards import get_repetition_penalty_reward

            funcs.append(get_repetition_penalty_reward(repetition_ngram_size, repetition_max_penalty))
        else:
            funcs.append(load_reward_func(name))
    return funcs
