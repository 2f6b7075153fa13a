"""Strict loading of MuseTalk 1.5 as it is distributed: UNet, SD VAE and whisper-tiny, never from a hub.

Every config is read and every weight file's keys and shapes are compared with the network its
config describes (built on the meta device, so nothing is allocated for the comparison) before any
weight is placed: a partial load would run and draw garbage. Anything wrong is a `CheckpointError`
naming the file, what is wrong, and where MuseTalk's download script puts that file. Weight files
are read as safetensors or with `torch.load(weights_only=True)`: they are user-supplied, and
unpickling arbitrary objects runs code. The hubs' offline switches are set before diffusers or
transformers import, and every `from_pretrained` is `local_files_only`.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _switch in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DIFFUSERS_OFFLINE"):
    os.environ.setdefault(_switch, "1")

import torch  # noqa: E402
from diffusers import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel  # noqa: E402

from heygem_ops.engines.musetalk.layout import DOWNLOAD, MuseTalkFiles, locate, where  # noqa: E402
from heygem_ops.errors import CheckpointError  # noqa: E402
from heygem_ops.i18n import N_, Message  # noqa: E402

SHOWN = 5  # offending keys quoted in a message
LATENT_CHANNELS = 4  # SD VAE latents; the UNet reads masked + reference latents (8) and writes 4
WHISPER_PREFIX = "model."  # whisper-tiny's file is WhisperForConditionalGeneration: model.encoder..., model.decoder...
WHISPER_EXTRA = ("proj_out.weight",)  # its output projection (tied to the token embedding): present or not
# Attention names of VAE files saved by diffusers before 0.14 (sd-vae-ft-mse's .bin among them)
_OLD_VAE_ATTENTION = {".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."}


@dataclass(frozen=True)
class MuseTalkModels:
    """The loaded networks, float32 on the CPU, in eval mode."""

    files: MuseTalkFiles
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    whisper: torch.nn.Module  # the whisper encoder
    features: WhisperFeatureExtractor


def _fault(files: MuseTalkFiles, path: Path, what: Message) -> CheckpointError:
    download = Message(DOWNLOAD, where=where(files, path))
    return CheckpointError(what, path=path, hint="{download}; download it again", download=download)


def read_config(files: MuseTalkFiles, path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _fault(files, path, Message("is not a readable JSON config ({error})", error=err)) from err
    if not isinstance(config, dict):
        raise _fault(files, path, Message("is not a JSON object of settings"))
    return config


def read_weights(files: MuseTalkFiles, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors or PyTorch file, on the CPU; CheckpointError when it is damaged."""
    if path.stat().st_size == 0:
        raise _fault(files, path, Message("is empty (0 bytes)"))
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            payload: object = load_file(path, device="cpu")
        else:
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():
            raise _fault(
                files, path, Message("holds Python objects besides tensors (not loaded: that could run code)")
            ) from err
        raise _fault(
            files, path, Message("is truncated or not a weights file (its bytes are not a valid pickle)")
        ) from err
    except Exception as err:  # torch and safetensors report damage as RuntimeError, EOFError, SafetensorError ...
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise _fault(files, path, Message("is truncated or not a weights file ({error})", error=first)) from err
    state = payload.get("state_dict", payload) if isinstance(payload, Mapping) else None
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _fault(files, path, Message("holds no state dict of tensors"))
    return {str(key): value for key, value in state.items()}


def check_state(
    files: MuseTalkFiles, path: Path, state: Mapping[str, torch.Tensor], model: torch.nn.Module, extra: tuple = ()
) -> None:
    """CheckpointError unless `state` has exactly `model`'s keys (plus optional `extra`), same shapes, finite."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected and key not in extra]
    wrong = [
        f"{key} {tuple(state[key].shape)} (expected {tuple(value.shape)})"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    problems = [
        Message(label, count=len(keys), keys=", ".join(keys[:SHOWN]))
        for keys, label in (
            (missing, N_("{count} missing keys ({keys})")),
            (unexpected, N_("{count} unexpected keys ({keys})")),
            (wrong, N_("{count} shape mismatches ({keys})")),
        )
        if keys
    ]
    if problems:
        raise _fault(
            files,
            path,
            Message(
                "does not match {model} of its config: {problems}",
                model=model.__class__.__name__,
                problems=problems,
            ),
        )
    # one float64 sum per tensor: NaN or inf anywhere makes it non-finite (meta tensors, shapes only, have no values)
    broken = [
        key
        for key, value in state.items()
        if value.is_floating_point() and not value.is_meta and not torch.isfinite(value.sum(dtype=torch.float64))
    ]
    if broken:
        raise _fault(
            files,
            path,
            Message(
                "has non-finite values in {count} tensors ({keys})", count=len(broken), keys=", ".join(broken[:SHOWN])
            ),
        )


def _build(files: MuseTalkFiles, path: Path, make: Any) -> torch.nn.Module:
    """The network of a config, on the meta device; a config the library refuses is the config's fault."""
    try:
        with torch.device("meta"):
            return make()
    except Exception as err:
        raise _fault(
            files,
            path,
            Message("describes no network the library can build ({error})", error=f"{type(err).__name__}: {err}"),
        ) from err


def skeletons(files: MuseTalkFiles) -> tuple[UNet2DConditionModel, AutoencoderKL, WhisperModel]:
    """UNet, VAE and whisper of the configs, weightless; checks that the three fit each other."""
    unet_config, vae_config = read_config(files, files.unet_config), read_config(files, files.vae_config)
    unet = _build(files, files.unet_config, lambda: UNet2DConditionModel.from_config(unet_config))
    vae = _build(files, files.vae_config, lambda: AutoencoderKL.from_config(vae_config))
    whisper_config = read_config(files, files.whisper_config)
    whisper = _build(files, files.whisper_config, lambda: WhisperModel(WhisperConfig(**whisper_config)))
    shapes = {
        "in_channels": (unet.config.in_channels, 2 * vae.config.latent_channels),
        "out_channels": (unet.config.out_channels, vae.config.latent_channels),
        "cross_attention_dim": (unet.config.cross_attention_dim, whisper.config.d_model),
    }
    for name, (found, wanted) in shapes.items():
        if found != wanted:
            needed = Message(
                "has {name}={found}; MuseTalk 1.5 needs {wanted} for this VAE and whisper",
                name=name,
                found=found,
                wanted=wanted,
            )
            raise _fault(files, files.unet_config, needed)
    return unet, vae, whisper


def feature_extractor(files: MuseTalkFiles, whisper: WhisperModel) -> WhisperFeatureExtractor:
    """whisper's log-mel front end from preprocessor_config.json, checked against the encoder."""
    read_config(files, files.whisper_preprocessor)
    try:
        extractor = WhisperFeatureExtractor.from_pretrained(files.whisper_preprocessor.parent, local_files_only=True)
    except Exception as err:
        raise _fault(
            files, files.whisper_preprocessor, Message("is not a whisper feature extractor config ({error})", error=err)
        ) from err
    frames = 2 * whisper.config.max_source_positions  # the encoder's two stride-2 convolutions: 3000 mel frames
    if extractor.feature_size != whisper.config.num_mel_bins or extractor.nb_max_frames != frames:
        raise _fault(
            files,
            files.whisper_preprocessor,
            Message(
                "gives {bins} mel bins x {frames} frames; "
                "the encoder of {config} reads {wanted_bins} x {wanted_frames}",
                bins=extractor.feature_size,
                frames=extractor.nb_max_frames,
                config=files.whisper_config.name,
                wanted_bins=whisper.config.num_mel_bins,
                wanted_frames=frames,
            ),
        )
    return extractor


def vae_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """VAE keys in today's diffusers names (files saved before diffusers 0.14 use query/key/value/proj_attn)."""
    renamed = {}
    for key, value in state.items():
        if ".attentions." in key:
            for old, new in _OLD_VAE_ATTENTION.items():
                key = key.replace(old, new)
        renamed[key] = value
    return renamed


def whisper_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key.removeprefix(WHISPER_PREFIX): value for key, value in state.items()}


def load_musetalk(root: str | Path) -> MuseTalkModels:
    """MuseTalk 1.5 from its models folder `root` (see `layout`): every file and key checked, then placed."""
    files = locate(root)
    unet, vae, whisper = skeletons(files)
    extractor = feature_extractor(files, whisper)
    unet_state = read_weights(files, files.unet)
    check_state(files, files.unet, unet_state, unet)
    vae_weights = vae_state(read_weights(files, files.vae))
    check_state(files, files.vae, vae_weights, vae)
    whisper_weights = whisper_state(read_weights(files, files.whisper))
    check_state(files, files.whisper, whisper_weights, whisper, extra=WHISPER_EXTRA)
    encoder = {k.removeprefix("encoder."): v for k, v in whisper_weights.items() if k.startswith("encoder.")}
    return MuseTalkModels(
        files=files,
        unet=_place(unet, unet_state),
        vae=_place(vae, vae_weights),
        whisper=_place(whisper.encoder, encoder),
        features=extractor,
    )


def _place(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    weights = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    model.load_state_dict(weights, strict=True, assign=True)
    return model.eval().requires_grad_(False)
