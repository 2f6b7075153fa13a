"""Strict loading of the public Wav2Lip checkpoints (`wav2lip.pth`, `wav2lip_gan.pth`).

Those files are `torch.save({"state_dict": ..., "optimizer": ..., "global_step": ..., ...})`, their
keys prefixed `module.` when trained under DataParallel. Every parameter and buffer must be present
with its exact shape: a partial load would run and quietly draw garbage mouths, so anything less is
a `CheckpointError` naming the file, what is wrong and what to do. Files are read with
`weights_only=True`: a checkpoint is user-supplied, and unpickling arbitrary objects runs code.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

from heygem_ops.engines.wav2lip.model import Wav2Lip
from heygem_ops.errors import CheckpointError
from heygem_ops.i18n import N_, Message

PREFIX = "module."  # added by torch.nn.DataParallel during training
OPTIONAL_SUFFIX = "num_batches_tracked"  # BatchNorm step counters: unused at inference, absent in old files
GET_WEIGHTS = N_("use the generator weights wav2lip.pth or wav2lip_gan.pth from the Wav2Lip project")
SHOWN = 5  # offending keys quoted in a message


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, `module.` prefixes removed, on the CPU.

    Accepts `{"state_dict": {...}}` (the released format) and a bare state dict.
    Raises CheckpointError when the file is missing, truncated, or not a PyTorch state dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError("Wav2Lip checkpoint not found", path=path, hint=GET_WEIGHTS)
    if path.stat().st_size == 0:
        raise CheckpointError("Wav2Lip checkpoint is empty (0 bytes)", path=path, hint="download it again")
    payload = _load(path)
    state = payload.get("state_dict", payload) if isinstance(payload, Mapping) else None
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(
            "holds no state dict (expected a dict with a 'state_dict' entry of tensors)", path=path, hint=GET_WEIGHTS
        )
    if not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise CheckpointError("its state dict holds values that are not tensors", path=path, hint=GET_WEIGHTS)
    return {_strip(str(key)): value for key, value in state.items()}


def _load(path: Path) -> object:
    """torch.load with weights_only, each failure mapped to a message a user can act on."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" not in str(err).lower():  # not a refused class, but bytes that are no pickle at all
            raise _truncated(path, "its bytes are not a valid pickle") from err
        raise CheckpointError(
            "holds Python objects other than tensors, which are not loaded (unpickling them could run code)",
            path=path,
            hint="if you trust the file, re-save only its state_dict: {command}",
            command="torch.save({'state_dict': sd}, path)",
        ) from err
    except Exception as err:  # torch reports a damaged file as RuntimeError, EOFError, KeyError ...
        raise _truncated(path, _first_line(err)) from err


def _truncated(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(
        "is truncated or not a PyTorch checkpoint ({reason})",
        reason=reason,
        path=path,
        hint="download it again and compare its size with the original",
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _strip(key: str) -> str:
    return key[len(PREFIX) :] if key.startswith(PREFIX) else key


def check_state_dict(state: Mapping[str, torch.Tensor], model: torch.nn.Module, path: str | Path) -> None:
    """Raise CheckpointError unless `state` has every key of `model`, each with the same shape, and no other."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state and not key.endswith(OPTIONAL_SUFFIX)]
    unexpected = [key for key in state if key not in expected]
    wrong = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(value.shape)})"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = []
    if missing:
        problems.append(Message("{count} missing keys ({keys})", count=len(missing), keys=", ".join(missing[:SHOWN])))
    if unexpected:
        problems.append(
            Message("{count} unexpected keys ({keys})", count=len(unexpected), keys=", ".join(unexpected[:SHOWN]))
        )
    if wrong:
        problems.append(Message("{count} shape mismatches ({keys})", count=len(wrong), keys=", ".join(wrong[:SHOWN])))
    if problems:
        raise CheckpointError(
            "is not a Wav2Lip generator checkpoint: {problems}",
            path=path,
            hint=_hint(state),
            problems=problems,
        )
    # one float64 sum per tensor: NaN or inf anywhere makes it non-finite, and it allocates nothing
    broken = [
        key
        for key, value in state.items()
        if value.is_floating_point() and not torch.isfinite(value.sum(dtype=torch.float64))
    ]
    if broken:
        raise CheckpointError(
            "has non-finite values in {count} tensors ({keys})",
            count=len(broken),
            keys=", ".join(broken[:SHOWN]),
            path=path,
            hint="the file is damaged; download it again",
        )


def _hint(state: Mapping[str, torch.Tensor]) -> Message:
    """Name the likely mix-up: the SyncNet expert shares the project but is not the generator."""
    if any(key.startswith("face_encoder.") for key in state) and not any("face_decoder" in key for key in state):
        return Message(
            "this looks like the SyncNet lip-sync expert (lipsync_expert.pth), not the generator; {weights}",
            weights=Message(GET_WEIGHTS),
        )
    return Message(GET_WEIGHTS)


def skeleton() -> Wav2Lip:
    """The network's structure without weights (on the meta device): building random ones is wasted work."""
    with torch.device("meta"):
        return Wav2Lip()


def load_wav2lip(path: str | Path) -> Wav2Lip:
    """A Wav2Lip generator with every weight from `path`, in eval mode, float32, on the CPU."""
    state = read_state_dict(path)
    model = skeleton()
    check_state_dict(state, model, path)
    counters = {key: torch.zeros((), dtype=torch.long) for key in model.state_dict() if key.endswith(OPTIONAL_SUFFIX)}
    weights = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    model.load_state_dict({**counters, **weights}, assign=True)
    return model.eval()
