"""The MuseTalk 1.5 engine on random weights: strict loading in the real layout, the full-size
configs on the meta device, damaged files, whisper windows, and the engine against a direct
diffusers/transformers computation of MuseTalk's recipe."""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from musetalk_factory import FULL_UNET, FULL_VAE, FULL_WHISPER, make_checkpoint_set, write_configs
from transformers import WhisperFeatureExtractor, WhisperModel

from heygem_ops.engines.base import InferenceBatch, SpeechNeeds
from heygem_ops.engines.musetalk import MuseTalkEngine, load_musetalk, locate
from heygem_ops.engines.musetalk.audio import window_starts
from heygem_ops.engines.musetalk.checkpoint import WHISPER_EXTRA, check_state, skeletons, vae_state, whisper_state
from heygem_ops.errors import CheckpointError
from heygem_ops.speech import speech_window

SR = 16000


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return make_checkpoint_set(tmp_path_factory.mktemp("musetalk") / "models")


@pytest.fixture(scope="module")
def engine(weights) -> MuseTalkEngine:
    return MuseTalkEngine(torch.device("cpu"), checkpoint_dir=weights, batch_size=2)


@pytest.mark.parametrize(("vae_dir", "safetensors"), [("sd-vae", False), ("sd-vae-ft-mse", True)])
def test_a_set_in_the_real_layout_loads_strictly(tmp_path, vae_dir, safetensors):
    root = make_checkpoint_set(tmp_path / "models", vae_dir=vae_dir, safetensors=safetensors)
    models = load_musetalk(root)
    assert models.files.vae.parent.name == vae_dir
    assert isinstance(models.unet, UNet2DConditionModel) and isinstance(models.vae, AutoencoderKL)
    tensors = [t for model in (models.unet, models.vae, models.whisper) for t in model.state_dict().values()]
    assert all(t.device.type == "cpu" and not t.is_meta for t in tensors)
    saved = torch.load(root / "musetalkV15" / "unet.pth", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in models.unet.state_dict().items())


def test_full_size_configs_cover_every_key_and_shape_of_the_real_files(tmp_path):
    """The public configs build on the meta device; their sizes are the released files' sizes, and the
    checker accepts the released key names (old VAE attention names, whisper under model.)."""
    root = write_configs(tmp_path / "models", FULL_UNET, FULL_VAE, FULL_WHISPER)
    for name in ("musetalkV15/unet.pth", "sd-vae/diffusion_pytorch_model.bin", "whisper/pytorch_model.bin"):
        (root / name).touch()  # never read: only the configs are
    files = locate(root)
    unet, vae, whisper = skeletons(files)
    assert all(p.is_meta for model in (unet, vae, whisper) for p in model.parameters())  # nothing allocated
    assert abs(_bytes(unet) - 3.4e9) < 0.02 * 3.4e9  # unet.pth: 3.4 GB of float32
    assert abs(_bytes(vae) - 334.6e6) < 0.01 * 334.6e6  # sd-vae-ft-mse diffusion_pytorch_model.bin: 335 MB
    assert abs(_bytes(whisper) - 151e6) < 0.01 * 151e6  # whisper-tiny pytorch_model.bin: 151 MB
    assert unet.conv_in.weight.shape == (320, 8, 3, 3) and unet.conv_out.weight.shape == (4, 320, 3, 3)
    key = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"
    assert unet.state_dict()[key].shape == (320, 384)  # cross-attention reads whisper's 384 channels
    released_vae = {_old_attention_name(name): value for name, value in vae.state_dict().items()}
    released_whisper = {f"model.{name}": value for name, value in whisper.state_dict().items()}
    released_whisper["proj_out.weight"] = whisper.state_dict()["decoder.embed_tokens.weight"]
    check_state(files, files.unet, unet.state_dict(), unet)
    check_state(files, files.vae, vae_state(released_vae), vae)
    check_state(files, files.whisper, whisper_state(released_whisper), whisper, extra=WHISPER_EXTRA)
    broken = dict(unet.state_dict())
    broken.pop(key)
    broken["conv_in.weight"] = torch.empty((320, 4, 3, 3), device="meta")
    with pytest.raises(CheckpointError) as caught:
        check_state(files, files.unet, broken, unet)
    message = str(caught.value)
    assert "unet.pth" in message and "1 missing keys (down_blocks.0.attentions" in message
    assert "conv_in.weight (320, 4, 3, 3) (expected (320, 8, 3, 3))" in message
    assert "download_weights.sh" in message and "musetalkV15/unet.pth" in message


def _bytes(model: torch.nn.Module) -> int:
    return 4 * sum(p.numel() for p in model.parameters())


def _old_attention_name(name: str) -> str:
    """The key as diffusers before 0.14 saved it (the released sd-vae-ft-mse .bin)."""
    for new, old in ((".to_q.", ".query."), (".to_k.", ".key."), (".to_v.", ".value."), (".to_out.0.", ".proj_attn.")):
        name = name.replace(new, old)
    return name


def _direct_recipe(weights: Path, crops: np.ndarray, speech: np.ndarray, fps: Fraction, frames: np.ndarray):
    """MuseTalk 1.5's recipe written out with the libraries alone: (N, 256, 256, 3) uint8 faces."""
    vae = AutoencoderKL.from_pretrained(weights / "sd-vae", local_files_only=True).eval()
    unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(weights / "musetalkV15/musetalk.json"))
    unet.load_state_dict(torch.load(weights / "musetalkV15/unet.pth", weights_only=True))
    whisper = WhisperModel.from_pretrained(weights / "whisper", local_files_only=True).eval()
    extractor = WhisperFeatureExtractor.from_pretrained(weights / "whisper", local_files_only=True)
    with torch.no_grad():
        pixels = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
        upper = torch.zeros(256, 256)
        upper[:128] = 1.0
        encode = lambda x: vae.encode((x - 0.5) / 0.5).latent_dist.mean * vae.config.scaling_factor  # noqa: E731
        latents = torch.cat([encode(pixels * upper), encode(pixels)], dim=1)
        states = []
        for start in range(0, len(speech), 30 * SR):
            mel = extractor(speech[start : start + 30 * SR], sampling_rate=SR, return_tensors="pt").input_features
            states.append(torch.stack(whisper.encoder(mel, output_hidden_states=True).hidden_states, dim=2))
        feats = torch.cat(states, dim=1)[:, : math.floor(len(speech) / SR * 50)]
        step = 50 / fps
        pad = math.ceil(step)
        feats = torch.cat([torch.zeros_like(feats[:, : 2 * pad]), feats, torch.zeros_like(feats[:, : 6 * pad])], 1)
        audio = torch.cat([feats[:, math.floor(i * step) : math.floor(i * step) + 10] for i in frames]).flatten(1, 2)
        dim = audio.shape[-1]
        pe = torch.zeros(audio.shape[1], dim)
        position = torch.arange(audio.shape[1]).float()[:, None]
        div = torch.exp(torch.arange(0, dim, 2).float() * (-math.log(10000.0) / dim))
        pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
        predicted = unet(latents, torch.tensor([0]), encoder_hidden_states=audio + pe).sample
        image = vae.decode(predicted / vae.config.scaling_factor).sample
        image = ((image / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    return image.permute(0, 2, 3, 1).numpy()


def test_engine_output_equals_the_recipe_computed_directly(engine, weights, tmp_path):
    """A batch across the 30-s segment boundary: cached latents, whisper windows, one UNet pass, decode."""
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(SR * 33) * 0.1).astype(np.float32)
    np.save(tmp_path / "speech.npy", speech)
    fps, start, stop = Fraction(25), 746, 752  # 29.84 s .. 30.08 s
    crops = rng.integers(0, 256, (stop - start, 256, 256, 3), dtype=np.uint8)
    landmarks = np.zeros((stop - start, 68, 2), dtype=np.float32)
    landmarks[2] = np.nan  # a frame without a face gets no patch
    window = speech_window(tmp_path / "speech.npy", fps, start, stop, engine.needs.speech)
    assert window.offset == 0 and len(window.samples) == len(speech)  # both segments travel
    batch = InferenceBatch(
        landmarks=landmarks, features=None, mouth_width=1.0, speech=window, prepared=engine.prepare(crops)
    )
    update = engine(batch)
    frames = np.arange(start, stop)
    expected = _direct_recipe(weights, crops, speech, fps, frames)
    assert update.present.tolist() == [True, True, False, True, True, True]
    assert not update.patches[2].any()
    difference = np.abs(update.patches[update.present].astype(int) - expected[update.present].astype(int))
    assert difference.mean() < 0.05 and difference.max() <= 2, difference.max()  # latents kept in fp16
    assert expected.std() > 5  # the comparison is of real pictures, not of two blanks


def test_whisper_windows_follow_musetalk_at_any_frame_rate():
    assert window_starts(np.arange(4), Fraction(25)).tolist() == [-4, -2, 0, 2]  # 2 positions a frame, 2 frames lead
    assert window_starts(np.array([0, 3]), Fraction(60)).tolist() == [-2, 0]  # ceil(50/60) = 1: lead of 2
    ntsc = window_starts(np.array([30_000]), Fraction(30000, 1001))  # 1001 s in: the exact rate does not drift
    assert ntsc.tolist() == [50_050 - 4]


def test_speech_window_sends_the_whole_segments_a_batch_reaches(tmp_path):
    np.save(tmp_path / "s.npy", np.arange(70 * SR, dtype=np.float32))
    needs = SpeechNeeds(30 * SR, 5.0, 0.5)
    early = speech_window(tmp_path / "s.npy", Fraction(25), 0, 100, needs)
    assert (early.offset, len(early.samples), early.total, early.first_frame) == (0, 30 * SR, 70 * SR, 0)
    late = speech_window(tmp_path / "s.npy", Fraction(25), 1500, 1600, needs)  # 60 s .. 64 s, reaching back to 55 s
    assert (late.offset, len(late.samples)) == (30 * SR, 40 * SR)
    assert late.samples[0] == 30 * SR


def _copy(weights: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(weights, tmp_path / "models"))


def test_a_truncated_unet_is_a_clear_checkpoint_error(weights, tmp_path):
    root = _copy(weights, tmp_path)
    unet = root / "musetalkV15" / "unet.pth"
    unet.write_bytes(unet.read_bytes()[: unet.stat().st_size // 2])
    with pytest.raises(CheckpointError) as caught:
        load_musetalk(root)
    message = str(caught.value)
    assert str(unet) in message and "truncated" in message
    assert "download_weights.sh puts it at models/musetalkV15/unet.pth" in message


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("whisper/preprocessor_config.json", "models/whisper/preprocessor_config.json"),
        ("sd-vae/diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors or diffusion_pytorch_model.bin"),
        ("musetalkV15/musetalk.json", "models/musetalkV15/musetalk.json"),
    ],
)
def test_a_missing_file_is_named_with_where_musetalk_puts_it(weights, tmp_path, name, words):
    root = _copy(weights, tmp_path)
    (root / name).unlink()
    with pytest.raises(CheckpointError, match="not found") as caught:
        MuseTalkEngine(torch.device("cpu"), checkpoint_dir=root)
    assert words in str(caught.value) and "download_weights.sh" in str(caught.value)


def test_weights_that_do_not_fit_the_config_are_refused_before_any_work(weights, tmp_path):
    root = _copy(weights, tmp_path)
    config = root / "musetalkV15" / "musetalk.json"
    config.write_text(config.read_text().replace('"block_out_channels": [16, 32]', '"block_out_channels": [16, 48]'))
    with pytest.raises(CheckpointError, match=r"unet\.pth.*does not match UNet2DConditionModel.*shape mismatches"):
        load_musetalk(root)
    config.write_text('{"in_channels": 4, ' + config.read_text()[1:].replace('"in_channels": 8,', ""))
    with pytest.raises(CheckpointError, match=r"in_channels=4; MuseTalk 1\.5 needs 8"):
        load_musetalk(root)
    config.write_text("{not json")
    with pytest.raises(CheckpointError, match=r"musetalk\.json.*not a readable JSON config"):
        load_musetalk(root)


def test_whisper_weights_with_a_foreign_key_are_refused(weights, tmp_path):
    from safetensors.torch import load_file, save_file

    root = _copy(weights, tmp_path)
    path = root / "whisper" / "model.safetensors"
    state = load_file(path)
    state["model.encoder.extra.weight"] = torch.zeros(3)
    save_file(state, path)
    with pytest.raises(CheckpointError, match=r"1 unexpected keys \(encoder\.extra\.weight\)"):
        load_musetalk(root)


def test_no_folder_says_how_to_give_one(monkeypatch, tmp_path):
    with pytest.raises(CheckpointError, match="--checkpoint-dir DIR or set HEYGEM_MUSETALK_DIR"):
        MuseTalkEngine(torch.device("cpu"))
    with pytest.raises(CheckpointError, match="checkpoint folder not found"):
        MuseTalkEngine(torch.device("cpu"), checkpoint_dir=tmp_path / "nowhere")


def test_musetalk_boxes_follow_its_rule_and_have_their_own_cache_entry():
    from heygem_ops.face.crops import CropRule, crops_entry_name, musetalk_boxes

    points = np.zeros((1, 68, 2), dtype=np.float32)
    points[0, :, 0] = np.linspace(100.4, 200.9, 68)
    points[0, :, 1] = 150.0
    points[0, 8, 1] = 260.7  # the chin
    points[0, 29, 1] = 180.2  # the nose bridge
    box = musetalk_boxes(points, CropRule("musetalk", bbox_shift=0, extra_margin=10))[0]
    assert box.tolist() == [100.0, 100.0, 200.0, 270.0]  # top: 180 - (260 - 180); bottom: chin + 10
    shifted = musetalk_boxes(points, CropRule("musetalk", bbox_shift=5, extra_margin=0))[0]
    assert shifted.tolist() == [100.0, 110.0, 200.0, 260.0]
    assert crops_entry_name("track-mesh-facelargest-v1.npz", 96) == "crops96-v1-track-mesh-facelargest-v1.npz"
    assert crops_entry_name("t.npz", 256, CropRule("musetalk")) == "crops256-musetalk+0m10-v1-t.npz"


def test_blending_modes_nest_raw_inside_jaw_inside_neck():
    from heygem_ops.compose.paste import blend_region

    rng = np.random.default_rng(3)
    landmarks = _face_landmarks() + rng.normal(0, 0.5, (68, 2)).astype(np.float32)
    box = (60, 40, 200, 230)
    raw, jaw, neck = (blend_region((300, 300), box, landmarks, mode) for mode in ("raw", "jaw", "neck"))
    assert raw.sum() < jaw.sum() < neck.sum()
    assert not (raw & ~jaw).any() and not (jaw & ~neck).any()
    with pytest.raises(ValueError, match="unknown blending mode"):
        blend_region((300, 300), box, landmarks, "hair")


def _face_landmarks() -> np.ndarray:
    """A frontal 68-point face about 120 px wide, centred near (130, 130)."""
    angles = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    jaw = np.stack([130 - 60 * np.cos(angles), 120 + 70 * np.sin(angles)], axis=1)
    brows = np.stack([np.linspace(85, 175, 10), np.full(10, 85.0)], axis=1)
    nose = np.stack([np.full(9, 130.0), np.linspace(95, 150, 9)], axis=1)
    eyes = np.concatenate([np.stack([100 + 8 * np.cos(t), 105 + 3 * np.sin(t)], 1) for t in [np.linspace(0, 6, 6)]] * 2)
    eyes[6:, 0] += 60
    lips = np.stack(
        [130 + 25 * np.cos(np.linspace(0, 2 * np.pi, 20)), 175 + 8 * np.sin(np.linspace(0, 2 * np.pi, 20))], 1
    )
    return np.concatenate([jaw, brows, nose, eyes, lips]).astype(np.float32)


def test_new_options_keep_old_job_ids_unless_changed():
    from heygem_ops.options import GenerateOptions

    plain = GenerateOptions().identity()
    assert "parsing_mode" not in plain and "bbox_shift" not in plain and "extra_margin" not in plain
    assert GenerateOptions(parsing_mode="neck").identity()["parsing_mode"] == "neck"
    assert "checkpoint_dir" not in GenerateOptions(checkpoint_dir="/models").identity()
    from heygem_ops.errors import InputError

    with pytest.raises(InputError, match="parsing_mode='hair'"):
        GenerateOptions(parsing_mode="hair")


def test_reading_the_layout_imports_neither_diffusers_nor_transformers():
    """heygem doctor and the UI's System tab read the layout: they must not pay seconds of imports."""
    loaded = "sorted({'diffusers', 'transformers'} & {*sys.modules})"
    code = f"import sys, heygem_ops.engines.musetalk.layout; print({loaded})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doctor_says_whether_the_musetalk_files_are_there(weights, tmp_path, monkeypatch):
    from heygem_ops.doctor import diagnose
    from heygem_ops.settings import get_settings

    def musetalk():
        get_settings.cache_clear()
        return next(check for check in diagnose().checks if check.name == "musetalk")

    assert not musetalk().ok and "HEYGEM_MUSETALK_DIR" in musetalk().fix
    monkeypatch.setenv("HEYGEM_MUSETALK_DIR", str(weights))
    assert musetalk().ok and "unet.pth" in musetalk().files
    monkeypatch.setenv("HEYGEM_MUSETALK_DIR", str(tmp_path))
    found = musetalk()
    assert not found.ok and "unet.pth" in found.detail and "download_weights.sh" in found.fix
