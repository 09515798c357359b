"""Upload a trained model folder or a built dataset folder to the Hub in one commit.

Everything is checked before anything is created on the Hub: the folder and its card parse, no file contains the
token, the token comes from the environment (HF_TOKEN or HUGGING_FACE_HUB_TOKEN, never printed), the Hub is not
disabled (HF_HUB_OFFLINE) and answers `whoami`. Then `create_repo` and a single `create_commit` of exactly the
listed files: large files go through the Hub's normal LFS/Xet pre-upload, and nothing becomes visible unless the
commit itself succeeds (a failure after `create_repo` can leave an empty repo, never a partial commit).
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import DatasetCard, ModelCard

TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


class PushError(RuntimeError):
    """A push that cannot go ahead; the message says why and what to do."""


@dataclass
class PushPlan:
    folder: Path
    repo_type: str  # "model" | "dataset"
    files: list[tuple[str, int]]  # (path in repo, size in bytes)
    card: str

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


# The Hub refuses commits that put more files than this in one folder.
MAX_FILES_PER_FOLDER = 10_000


# The resume state a checkpoint folder holds beside the model (transformers' Trainer and DeepSpeed): left out when a
# checkpoint is pushed as a model; `include_checkpoints` uploads whole checkpoint-* folders, states included.
TRAINING_STATE_PATTERNS = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth", "global_step*/*", "latest",
                           "zero_to_fp32.py")  # fmt: skip


def _ignored(relative: str, repo_type: str, include_checkpoints: bool = False, training_state: bool = True) -> bool:
    """Never uploaded: intermediate checkpoints (unless `include_checkpoints`), hidden files and caches (lighteval
    writes its sample cache inside a local model folder), tensorboard runs, logs; for datasets also the ShareGPT
    export's image copies (the images are already embedded in the Parquet files, and one folder of them would exceed
    the Hub's per-folder limit); without `training_state`, a checkpoint's optimizer/scheduler/RNG states."""
    parts = relative.split("/")
    if any(p.startswith(".") or p == "__pycache__" for p in parts):
        return True
    if not include_checkpoints and any(p.startswith("checkpoint-") for p in parts):
        return True
    if not training_state and any(fnmatch.fnmatch(relative, pattern) for pattern in TRAINING_STATE_PATTERNS):
        return True
    if repo_type == "dataset" and relative.startswith("sharegpt/images/"):
        return True
    return fnmatch.fnmatch(relative, "runs/*") or relative.endswith(".log")


def plan_push(
    folder: str | Path, repo_type: str, *, include_checkpoints: bool = False, training_state: bool = True
) -> PushPlan:
    """List what would be uploaded and load the card; raise PushError on anything that would fail later.

    include_checkpoints: also upload `checkpoint-*` subfolders (resume states included).
    training_state: False leaves out a checkpoint folder's optimizer/scheduler/RNG states (pushing one checkpoint
    as a model).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PushError(f"{folder} is not a folder")
    readme = folder / "README.md"
    if not readme.is_file():
        raise PushError(f"{readme} not found: render the card first (`python -m model_cards render ...`)")
    card_class = ModelCard if repo_type == "model" else DatasetCard
    try:
        card = card_class.load(readme)
    except Exception as err:  # the Hub would reject the same YAML
        raise PushError(f"{readme}: invalid card metadata: {err}") from err
    if repo_type == "model" and not any(folder.glob("*.safetensors")):
        raise PushError(f"{folder}: no *.safetensors weights: pass the output_dir of a finished training run")
    if repo_type == "dataset" and not any(folder.glob("*/*.parquet")):
        raise PushError(f"{folder}: no <config>/*.parquet files: pass a dataset_builder output folder")
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not _ignored(relative, repo_type, include_checkpoints, training_state):
            files.append((relative, path.stat().st_size))
    per_folder = Counter(relative.rpartition("/")[0] for relative, _ in files)
    crowded = [(name or ".", n) for name, n in per_folder.items() if n > MAX_FILES_PER_FOLDER]
    if crowded:
        raise PushError(
            f"{folder}: {crowded[0][1]} files in {crowded[0][0]}/, more than the Hub accepts in one folder "
            f"({MAX_FILES_PER_FOLDER}); shard them into subfolders first"
        )
    return PushPlan(folder, repo_type, files, str(card))


def token_from_env() -> str:
    for name in TOKEN_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    raise PushError(
        f"no Hub token: set {' or '.join(TOKEN_ENV_VARS)} to a write token (https://hf.co/settings/tokens)"
    )


def check_can_push() -> str:
    """The token, when a push could go ahead in this environment; PushError otherwise. Cheap and local (no Hub
    call), so a training run can refuse `--push_to_hub true` before it starts rather than after hours."""
    from huggingface_hub import constants

    token = token_from_env()
    if constants.HF_HUB_OFFLINE:
        raise PushError("HF_HUB_OFFLINE is set: the Hub is disabled in this environment; unset it to push")
    return token


def check_no_secret(plan: PushPlan, token: str, max_scan_bytes: int = 50_000_000) -> None:
    """Refuse to upload a file that contains the token (e.g. a config or log that captured the environment)."""
    needle = token.encode()
    for relative, size in plan.files:
        if size <= max_scan_bytes and needle in (plan.folder / relative).read_bytes():
            raise PushError(f"{plan.folder / relative} contains the Hub token; remove it before pushing")


def push(
    plan: PushPlan,
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool | None = False,
    commit_message: str | None = None,
) -> str:
    """Create the repo (and branch) and upload the planned files in one commit; return the commit URL.

    A `repo_id` without a namespace goes to the token owner's namespace (as the Hub's create_repo resolves it)."""
    from huggingface_hub import CommitOperationAdd, HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError

    if constants.HF_HUB_OFFLINE:
        raise PushError("HF_HUB_OFFLINE is set: the Hub is disabled in this environment; unset it to push")
    token = token_from_env()
    check_no_secret(plan, token)
    api = HfApi(token=token)
    try:
        user = api.whoami()
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise PushError(
            f"the Hub at {constants.ENDPOINT} rejected the token (HTTP {status}); nothing was uploaded"
        ) from None
    except Exception as err:  # connection refused, DNS, TLS, timeout
        raise PushError(
            f"cannot reach the Hub at {constants.ENDPOINT} ({type(err).__name__}); nothing was uploaded"
        ) from None
    if not user:
        raise PushError("the token is not valid for this Hub; nothing was uploaded")
    try:
        repo_id = api.create_repo(repo_id, repo_type=plan.repo_type, private=private, exist_ok=True).repo_id
        if revision:
            api.create_branch(repo_id, repo_type=plan.repo_type, branch=revision, exist_ok=True)
        # Exactly the planned files, one commit; large files go through the Hub's LFS/Xet pre-upload first.
        commit = api.create_commit(
            repo_id=repo_id,
            repo_type=plan.repo_type,
            revision=revision,
            operations=[CommitOperationAdd(relative, plan.folder / relative) for relative, _ in plan.files],
            commit_message=commit_message or f"Upload {plan.repo_type} with wethink-recipes",
        )
    except Exception as err:
        raise PushError(
            f"upload to {repo_id} failed ({type(err).__name__}: {err}); no commit was made "
            "(the repo itself may have been created)"
        ) from None
    return commit.commit_url


def format_plan(plan: PushPlan, repo_id: str, revision: str | None) -> str:
    lines = [f"Would upload {len(plan.files)} files ({_human(plan.total_bytes)}) to {plan.repo_type} {repo_id}"]
    lines[0] += f" @ {revision}" if revision else ""
    width = max((len(r) for r, _ in plan.files), default=0)
    lines += [f"  {relative:<{width}}  {_human(size):>10}" for relative, size in plan.files]
    lines += ["", "----- README.md -----", plan.card]
    return "\n".join(lines)


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
