"""The Wav2Lip generator network (Prajwal et al., ACM MM 2020), laid out so that the public
checkpoints' parameter names and shapes match it one to one.

A face encoder reads the masked + reference crop (6×96×96) down to a 512×1×1 code, an audio encoder
reads one 1×80×16 mel window down to another; the decoder upsamples the audio code back to 96×96,
concatenating the face encoder's feature map of the same size at every step (a U-Net), and a small
head turns 80 channels into a 3-channel image in [0, 1]. Every convolution is followed by BatchNorm
and ReLU, optionally with an identity shortcut; names (`conv_block.0`, `conv_block.1`) follow the
checkpoints. `fuse_batchnorm` folds each BatchNorm into its convolution for inference.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

FACE_SIZE = 96  # px, side of the square face crop
MEL_BINS, MEL_STEPS = 80, 16  # shape of the audio window

# Face encoder stages: (in, out, kernel, stride, padding, residual repeats). 96 -> 48 -> ... -> 3 -> 1.
_FACE_STAGES = (
    (6, 16, 7, 1, 3, 0),
    (16, 32, 3, 2, 1, 2),
    (32, 64, 3, 2, 1, 3),
    (64, 128, 3, 2, 1, 2),
    (128, 256, 3, 2, 1, 2),
    (256, 512, 3, 2, 1, 1),
)
# Audio encoder: (in, out, kernel, stride, padding, residual repeats); 80×16 -> 1×1.
_AUDIO_STAGES = (
    (1, 32, 3, 1, 1, 2),
    (32, 64, 3, (3, 1), 1, 2),
    (64, 128, 3, 3, 1, 2),
    (128, 256, 3, (3, 2), 1, 1),
    (256, 512, 3, 1, 0, 0),
    (512, 512, 1, 1, 0, 0),
)
# Decoder stages after the first: (in = previous out + skip channels, out, stride, residual repeats).
_DECODER_STAGES = (
    (1024, 512, 1, 1),  # 1 -> 3, 3×3 kernel without padding
    (1024, 512, 2, 2),  # 3 -> 6
    (768, 384, 2, 2),  # 6 -> 12
    (512, 256, 2, 2),  # 12 -> 24
    (320, 128, 2, 2),  # 24 -> 48
    (160, 64, 2, 2),  # 48 -> 96
)


class ConvBlock(nn.Module):
    """Convolution (or transposed convolution) + BatchNorm + ReLU, optionally adding its input back."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int | tuple[int, int] = 1,
        padding: int = 0,
        *,
        residual: bool = False,
        transpose: bool = False,
    ) -> None:
        super().__init__()
        if transpose:
            output_padding = 1 if stride == 2 else 0
            conv: nn.Module = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding)
        else:
            conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.conv_block = nn.Sequential(conv, nn.BatchNorm2d(cout))
        self.residual = residual
        self.transpose = transpose

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return torch.relu(out)

    def fuse_batchnorm(self) -> None:
        """Fold the (eval-mode) BatchNorm into the convolution: same output, one op fewer."""
        conv, norm = self.conv_block[0], self.conv_block[1]
        if isinstance(norm, nn.BatchNorm2d):
            self.conv_block = nn.Sequential(fuse_conv_bn_eval(conv, norm, transpose=self.transpose))


def _stage(
    cin: int, cout: int, kernel: int, stride: int | tuple[int, int], padding: int, repeats: int
) -> list[nn.Module]:
    """One strided block then `repeats` residual 3×3 blocks at the new width."""
    blocks: list[nn.Module] = [ConvBlock(cin, cout, kernel, stride, padding)]
    blocks += [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
    return blocks


def _decoder_stage(cin: int, cout: int, stride: int, repeats: int) -> nn.Sequential:
    """An upsampling transposed convolution, then residual blocks."""
    padding = 0 if stride == 1 else 1
    blocks = [ConvBlock(cin, cout, 3, stride, padding, transpose=True)]
    blocks += [ConvBlock(cout, cout, 3, 1, 1, residual=True) for _ in range(repeats)]
    return nn.Sequential(*blocks)


class Wav2Lip(nn.Module):
    """The generator: (mel windows, face crops) -> lower-face images, batch-first."""

    def __init__(self) -> None:
        super().__init__()
        face = [nn.Sequential(*_stage(*spec)) for spec in _FACE_STAGES]
        face.append(nn.Sequential(ConvBlock(512, 512, 3, 1, 0), ConvBlock(512, 512, 1, 1, 0)))  # 3 -> 1
        self.face_encoder_blocks = nn.ModuleList(face)
        self.audio_encoder = nn.Sequential(*[block for spec in _AUDIO_STAGES for block in _stage(*spec)])
        decoder = [nn.Sequential(ConvBlock(512, 512, 1, 1, 0))]
        decoder += [_decoder_stage(*spec) for spec in _DECODER_STAGES]
        self.face_decoder_blocks = nn.ModuleList(decoder)
        self.output_block = nn.Sequential(ConvBlock(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """mel (B, 1, 80, 16), faces (B, 6, 96, 96) in [0, 1] (masked crop, then reference crop,
        BGR channel order as in training) -> (B, 3, 96, 96) BGR in [0, 1]."""
        skips = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            skips.append(x)
        x = self.audio_encoder(mel)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), skips.pop()), dim=1)
        return self.output_block(x)

    def fuse_batchnorm(self) -> Wav2Lip:
        """Fold every BatchNorm into its convolution (inference only; the state dict changes)."""
        self.eval()
        for module in self.modules():
            if isinstance(module, ConvBlock):
                module.fuse_batchnorm()
        return self
