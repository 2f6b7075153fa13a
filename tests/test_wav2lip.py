"""The Wav2Lip network, its strict checkpoint loading, and the engine's batching, on random weights.

Checkpoints are written here in the public format (`{"state_dict": ...}`, keys with or without the
DataParallel `module.` prefix): no real weights exist offline, and none are needed to check that
every key and shape loads, that bad files fail clearly, and that the engine computes what the
reference recipe says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from heygem_ops import CheckpointError, InputError, ResourceError, available_engines, create_engine
from heygem_ops.engines.base import InferenceBatch
from heygem_ops.engines.wav2lip import Wav2Lip, Wav2LipEngine, load_wav2lip
from heygem_ops.engines.wav2lip.checkpoint import check_state_dict, skeleton
from heygem_ops.engines.wav2lip.engine import choose_precision
from heygem_ops.face.landmarks import N_POINTS

# A few names and shapes of the public checkpoints (ConvTranspose weights are (in, out, k, k)).
KNOWN_SHAPES = {
    "face_encoder_blocks.0.0.conv_block.0.weight": (16, 6, 7, 7),
    "face_encoder_blocks.6.1.conv_block.0.weight": (512, 512, 1, 1),
    "audio_encoder.3.conv_block.0.weight": (64, 32, 3, 3),
    "audio_encoder.12.conv_block.1.running_var": (512,),
    "face_decoder_blocks.1.0.conv_block.0.weight": (1024, 512, 3, 3),
    "face_decoder_blocks.6.2.conv_block.1.weight": (64,),
    "output_block.0.conv_block.0.weight": (32, 80, 3, 3),
    "output_block.1.weight": (3, 32, 1, 1),
}


def random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A Wav2Lip state dict with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    state = Wav2Lip().state_dict()
    for key, value in state.items():
        if key.endswith("running_mean"):
            value.normal_(0.0, 0.1)
        elif key.endswith("running_var"):
            value.uniform_(0.5, 1.5)
    return state


def save_checkpoint(path: Path, state: dict[str, torch.Tensor], *, prefix: str = "") -> Path:
    """Write `state` the way the Wav2Lip training script does."""
    payload = {"state_dict": {prefix + k: v for k, v in state.items()}, "optimizer": {}, "global_step": 1}
    torch.save(payload, path)
    return path


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    return random_state()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, state) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("w2l") / "wav2lip.pth", state)


@pytest.fixture(scope="module")
def engine(checkpoint) -> Wav2LipEngine:
    return Wav2LipEngine(torch.device("cpu"), checkpoint, precision="fp32")


def inputs(count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (count, 96, 96, 3), dtype=np.uint8)
    mels = rng.uniform(-4, 4, (count, 80, 16)).astype(np.float32)
    return crops, mels


def test_network_has_the_public_layout():
    model = Wav2Lip().eval()
    state = model.state_dict()
    assert len(state) == 352
    assert sum(p.numel() for p in model.parameters()) == 36_298_035
    assert {key: tuple(state[key].shape) for key in KNOWN_SHAPES} == KNOWN_SHAPES
    with torch.inference_mode():
        out = model(torch.rand(2, 1, 80, 16), torch.rand(2, 6, 96, 96))
    assert out.shape == (2, 3, 96, 96) and float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_checkpoints_load_strictly_with_either_key_style(tmp_path, state, checkpoint):
    prefixed = save_checkpoint(tmp_path / "w.pth", state, prefix="module.")
    for path in (checkpoint, prefixed):
        loaded = load_wav2lip(path).state_dict()
        assert loaded.keys() == state.keys()
        assert all(torch.equal(loaded[key], state[key]) for key in state)


def test_a_bare_state_dict_of_an_older_torch_loads_too(tmp_path, state):
    """No {"state_dict": ...} wrapper, and no BatchNorm step counters (saved before torch 0.4.1)."""
    torch.save({k: v for k, v in state.items() if "num_batches" not in k}, tmp_path / "bare.pth")
    loaded = load_wav2lip(tmp_path / "bare.pth").state_dict()
    assert torch.equal(loaded["output_block.1.bias"], state["output_block.1.bias"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: s.pop("audio_encoder.3.conv_block.0.weight"), ["1 missing keys", "audio_encoder.3.conv_block.0"]),
        (lambda s: s.__setitem__("extra.weight", torch.zeros(1)), ["1 unexpected keys", "extra.weight"]),
        (
            lambda s: s.__setitem__("output_block.1.weight", torch.zeros(3, 16, 1, 1)),
            ["shape mismatch", "(3, 16, 1, 1)"],
        ),
        (lambda s: s["output_block.1.bias"].fill_(float("nan")), ["non-finite", "output_block.1.bias"]),
    ],
)
def test_a_checkpoint_of_the_wrong_shape_is_refused_by_name(state, change, words):
    broken = {key: value.clone() for key, value in state.items()}
    change(broken)
    with pytest.raises(CheckpointError) as error:
        check_state_dict(broken, skeleton(), "bad.pth")
    assert "bad.pth" in str(error.value)
    assert all(word in str(error.value) for word in words), str(error.value)


def test_the_syncnet_expert_is_named_as_the_likely_mix_up(tmp_path):
    torch.save({"state_dict": {"face_encoder.0.conv_block.0.weight": torch.zeros(32, 15, 7, 7)}}, tmp_path / "e.pth")
    with pytest.raises(CheckpointError, match="lipsync_expert"):
        load_wav2lip(tmp_path / "e.pth")


def test_truncated_empty_and_missing_files_fail_clearly(tmp_path, checkpoint):
    truncated = tmp_path / "cut.pth"
    with open(checkpoint, "rb") as whole:
        truncated.write_bytes(whole.read(2_000_000))
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_wav2lip(truncated)
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_wav2lip(tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="not found"):
        load_wav2lip(tmp_path / "absent.pth")
    (tmp_path / "noise.pth").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch checkpoint"):
        load_wav2lip(tmp_path / "noise.pth")


def test_pickled_objects_are_not_unpickled(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(1)}, "callback": Path("x")}, tmp_path / "objects.pth")
    with pytest.raises(CheckpointError, match="other than tensors"):
        load_wav2lip(tmp_path / "objects.pth")


def test_engine_without_a_checkpoint_says_how_to_give_one():
    with pytest.raises(CheckpointError, match="HEYGEM_WAV2LIP_CHECKPOINT"):
        Wav2LipEngine(torch.device("cpu"))


def test_precision_choice():
    cpu = torch.device("cpu")
    assert choose_precision("auto", cpu) == "fp32"
    assert choose_precision("auto", torch.device("cuda")) == "fp16"
    with pytest.raises(InputError, match="CUDA"):
        choose_precision("fp16", cpu)
    with pytest.raises(InputError, match="fp32"):
        choose_precision("fp64", cpu)


def reference_patches(state: dict[str, torch.Tensor], crops: np.ndarray, mels: np.ndarray) -> np.ndarray:
    """The public inference recipe, step by step, on the unfused network: BGR, lower half zeroed, /255."""
    model = Wav2Lip().eval()
    model.load_state_dict(state)
    bgr = crops[..., ::-1].astype(np.float32)
    masked = bgr.copy()
    masked[:, 48:] = 0
    faces = torch.from_numpy(np.concatenate([masked, bgr], axis=3) / 255.0).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        out = model(torch.from_numpy(mels)[:, None], faces)
    return (out.permute(0, 2, 3, 1).numpy() * 255.0)[..., ::-1]


def test_engine_follows_the_reference_recipe_and_is_deterministic(engine, state):
    crops, mels = inputs(3)
    first = engine.generate(crops, mels)
    assert first.shape == (3, 96, 96, 3) and first.dtype == np.uint8
    assert np.array_equal(first, engine.generate(crops, mels))
    assert np.abs(first.astype(np.float32) - reference_patches(state, crops, mels)).max() <= 1.0


def test_engine_call_skips_faceless_frames(engine):
    crops, mels = inputs(4)
    landmarks = np.zeros((4, N_POINTS, 2), dtype=np.float32)
    landmarks[2] = np.nan
    batch = InferenceBatch(landmarks=landmarks, features=None, mouth_width=1.0, crops=crops, mel=mels)  # type: ignore[arg-type]
    update = engine(batch)
    assert update.present.tolist() == [True, True, False, True]
    assert update.patches is not None and not update.patches[2].any()
    assert np.array_equal(update.patches[[0, 1, 3]], engine.generate(crops[[0, 1, 3]], mels[[0, 1, 3]]))


def test_out_of_memory_halves_the_batch_and_retries(engine, monkeypatch):
    monkeypatch.setattr(engine, "batch_size", 8)
    crops, mels = inputs(6)
    expected = engine.generate(crops, mels)
    forward = engine.model.forward

    def small_only(mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        if len(faces) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(mel, faces)

    monkeypatch.setattr(engine.model, "forward", small_only)
    assert np.array_equal(engine.generate(crops, mels), expected)
    assert engine.batch_size == 2

    monkeypatch.setattr(engine.model, "forward", lambda *_: (_ for _ in ()).throw(torch.OutOfMemoryError("oom")))
    with pytest.raises(ResourceError, match="even with one face"):
        engine.generate(crops, mels)


def test_engine_is_registered(checkpoint):
    assert "wav2lip" in available_engines()
    built = create_engine("wav2lip", torch.device("cpu"), checkpoint=str(checkpoint))
    assert isinstance(built, Wav2LipEngine) and built.needs.crop_size == 96 and built.needs.mel
