"""Random-weight MuseTalk 1.5 checkpoint sets in the real folder layout, from small or full configs.

The full configs are the public ones (MuseTalk's musetalkV15/musetalk.json, stabilityai's
sd-vae-ft-mse config.json, openai's whisper-tiny config.json); the tiny ones keep every structural
choice (8 input channels, 4 latent channels, a 1/8 VAE, whisper's 3000-frame input) at a width
that runs in seconds on two CPU cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

FULL_UNET = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 384,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 8,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
FULL_VAE = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 256,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
FULL_WHISPER = {
    "d_model": 384,
    "encoder_layers": 4,
    "decoder_layers": 4,
    "encoder_attention_heads": 6,
    "decoder_attention_heads": 6,
    "encoder_ffn_dim": 1536,
    "decoder_ffn_dim": 1536,
    "num_mel_bins": 80,
    "vocab_size": 51865,
    "max_source_positions": 1500,
    "max_target_positions": 448,
}
TINY_UNET = {
    **FULL_UNET,
    "attention_head_dim": 4,
    "block_out_channels": [16, 32],
    "cross_attention_dim": 16,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 32,
}
TINY_VAE = {**FULL_VAE, "block_out_channels": [8, 8, 8, 8], "layers_per_block": 1, "norm_num_groups": 4}
TINY_WHISPER = {
    **FULL_WHISPER,
    "d_model": 16,
    "encoder_layers": 2,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_target_positions": 16,
}
TINY = (TINY_UNET, TINY_VAE, TINY_WHISPER)


def write_configs(root: Path, unet: dict, vae: dict, whisper: dict, vae_dir: str = "sd-vae") -> Path:
    """The three configs and whisper's preprocessor config in MuseTalk's layout under `root`."""
    for folder in ("musetalkV15", vae_dir, "whisper"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "musetalkV15" / "musetalk.json").write_text(json.dumps(unet))
    (root / vae_dir / "config.json").write_text(json.dumps(vae))
    (root / "whisper" / "config.json").write_text(json.dumps(whisper))
    WhisperFeatureExtractor(feature_size=whisper["num_mel_bins"]).save_pretrained(root / "whisper")
    return root


def make_checkpoint_set(
    root: Path, seed: int = 0, vae_dir: str = "sd-vae", safetensors: bool = False, full: bool = False
) -> Path:
    """A random-weight MuseTalk 1.5 set under `root` (MuseTalk's models folder), as distributed:
    unet.pth a plain state dict, the VAE by diffusers' save_pretrained, whisper as
    WhisperForConditionalGeneration (keys under model.). Tiny configs, or with `full` the public
    ones (3.9 GB of files; for benchmarks)."""
    torch.manual_seed(seed)
    unet_config, vae_config, whisper_config = (FULL_UNET, FULL_VAE, FULL_WHISPER) if full else TINY
    write_configs(root, unet_config, vae_config, whisper_config, vae_dir)
    unet = UNet2DConditionModel.from_config(unet_config)
    with torch.no_grad():  # diffusers zero-initialises the output conv; random weights everywhere draw a face
        for parameter in unet.parameters():
            parameter.normal_(0.0, 0.05 if not full else 0.01)
    torch.save(unet.state_dict(), root / "musetalkV15" / "unet.pth")
    AutoencoderKL.from_config(vae_config).save_pretrained(root / vae_dir, safe_serialization=safetensors)
    whisper = WhisperForConditionalGeneration(WhisperConfig(**whisper_config))
    whisper.save_pretrained(root / "whisper", safe_serialization=True)
    return root
