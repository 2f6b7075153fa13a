"""Where MuseTalk 1.5's files live: the `models/` folder its `download_weights.sh` fills.

This module knows names only (no torch), so planning a job can hash the weights without loading a
model. `--checkpoint-dir` points at that folder:

    musetalkV15/unet.pth, musetalkV15/musetalk.json   the UNet and its UNet2DConditionModel config
    sd-vae/ (or sd-vae-ft-mse/)                       the SD VAE in diffusers format: config.json +
                                                      diffusion_pytorch_model.safetensors (or .bin)
    whisper/                                          whisper-tiny in transformers format: config.json,
                                                      model.safetensors (or pytorch_model.bin),
                                                      preprocessor_config.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from heygem_ops.errors import CheckpointError
from heygem_ops.i18n import N_, Message

DOWNLOAD = N_("MuseTalk's download_weights.sh puts it at models/{where}; pass that models folder as --checkpoint-dir")
UNET_DIR = "musetalkV15"
VAE_DIRS = ("sd-vae", "sd-vae-ft-mse")  # the download script's name, then the Hugging Face repository's
WHISPER_DIR = "whisper"
VAE_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
WHISPER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class MuseTalkFiles:
    """The files of one MuseTalk 1.5 set, each checked to exist."""

    unet: Path
    unet_config: Path
    vae_config: Path
    vae: Path
    whisper_config: Path
    whisper: Path
    whisper_preprocessor: Path

    @property
    def weights(self) -> tuple[Path, ...]:
        """Every file whose bytes change the output (what a job's identity hashes)."""
        return (self.unet_config, self.unet, self.vae_config, self.vae, self.whisper_config, self.whisper)


def missing(path: Path, where: str) -> CheckpointError:
    return CheckpointError("MuseTalk file not found", path=path, hint=Message(DOWNLOAD, where=where))


def _one_of(folder: Path, names: tuple[str, ...], where: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise CheckpointError(
        "MuseTalk file not found (looked for {names})",
        path=folder,
        hint=Message(DOWNLOAD, where=where),
        names=" or ".join(names),
    )


def _file(folder: Path, name: str, where: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise missing(path, f"{where}/{name}")
    return path


def locate(root: str | Path) -> MuseTalkFiles:
    """The files under `root` (MuseTalk's models folder); CheckpointError naming the first one missing."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CheckpointError(
            "MuseTalk checkpoint folder not found",
            path=root,
            hint="{download} (a folder)",
            download=Message(DOWNLOAD, where=""),
        )
    vae_dir = next((root / name for name in VAE_DIRS if (root / name).is_dir()), root / VAE_DIRS[0])
    unet_dir, whisper_dir = root / UNET_DIR, root / WHISPER_DIR
    return MuseTalkFiles(
        unet=_file(unet_dir, "unet.pth", UNET_DIR),
        unet_config=_file(unet_dir, "musetalk.json", UNET_DIR),
        vae_config=_file(vae_dir, "config.json", vae_dir.name),
        vae=_one_of(vae_dir, VAE_WEIGHTS, vae_dir.name),
        whisper_config=_file(whisper_dir, "config.json", WHISPER_DIR),
        whisper=_one_of(whisper_dir, WHISPER_WEIGHTS, WHISPER_DIR),
        whisper_preprocessor=_file(whisper_dir, "preprocessor_config.json", WHISPER_DIR),
    )


def where(files: MuseTalkFiles, path: Path) -> str:
    """`path` relative to the models folder, as the download script names it (for messages)."""
    root = files.unet.parent.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
