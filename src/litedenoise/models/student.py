"""LiteDenoiseNet: the 1.96M-parameter student built only from NPU-native operations.

Layer table: ``../shared/docs/paper-spec.md``. Every convolution is 3x3 with bias and padding 1;
the only other operations are ReLU, nearest 2x upsampling, concatenation, addition and the final
clamp to [0, 1]. Input and output are NCHW float RGB in [0, 1], sides multiples of 16.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)


class LiteBlock(nn.Module):
    """conv f->f/2, ReLU, conv f/2->f, add the block input, ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.squeeze = conv3x3(channels, channels // 2)
        self.expand = conv3x3(channels // 2, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place on the convolutions' fresh outputs (autograd needs none of them unchanged):
        # fewer full-resolution buffers, so less memory at inference (docs/deployment.md)
        return F.relu_(self.expand(F.relu_(self.squeeze(x))).add_(x))


class Down(nn.Module):
    """Stride-2 3x3 conv doubling the width, then ReLU."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = conv3x3(in_channels, 2 * in_channels, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu_(self.conv(x))


class Up(nn.Module):
    """Nearest 2x upsample of the deeper feature, concat [upsampled, skip], fuse conv, LiteBlock."""

    def __init__(self, deep_channels: int, skip_channels: int):
        super().__init__()
        self.fuse = conv3x3(deep_channels + skip_channels, skip_channels)
        self.block = LiteBlock(skip_channels)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(deep, scale_factor=2.0, mode="nearest")
        return self.block(self.fuse(torch.cat([upsampled, skip], dim=1)))


class LiteDenoiseNet(nn.Module):
    """Four-level U-Net of LiteBlocks with a global residual.

    ``width`` is the first level's channel count (16 in the paper); levels double it up to
    ``16 * width`` at the H/16 bottleneck. Smaller widths give tiny models for tests.
    """

    size_multiple = 16
    # Measured with tests/test_models.py::test_receptive_field_radius_covers_the_measured_extent.
    receptive_field_radius = 140

    def working_bytes_per_pixel(self, bf16: bool = False, *, im2col: bool = False) -> int:
        """Peak memory of no-grad forwards through the inference path (channels-last), bytes per
        input pixel, fp32 or bf16: lines above every measurement of widths 4-32 with tiles of
        768 px and more (docs/foundation.md), fp32 with the CLI's allocator (``allocator.py``),
        whose fragmented heap needs up to 1.6x what glibc's default does. ``im2col``: bf16 where
        PyTorch convolves it by im2col (``runtimes.bf16_convolutions_use_im2col``)."""
        if bf16 and im2col:
            return 300 + 80 * self.width
        return 80 + 22 * self.width if bf16 else 100 + 56 * self.width

    def __init__(self, width: int = 16):
        super().__init__()
        if width < 2 or width % 2:
            raise ValueError(f"width must be an even number >= 2, got {width}")
        self.width = width
        widths = [width * 2**level for level in range(5)]  # 16, 32, 64, 128, 256
        self.in_conv = conv3x3(3, widths[0])
        self.encoder_blocks = nn.ModuleList(LiteBlock(w) for w in widths[:4])
        self.downs = nn.ModuleList(Down(w) for w in widths[:4])
        self.bottleneck = LiteBlock(widths[4])
        # Decoder from deep to shallow: fuse3 (384->128), fuse2, fuse1, fuse0.
        self.ups = nn.ModuleList(Up(widths[level + 1], widths[level]) for level in reversed(range(4)))
        self.out_conv = conv3x3(widths[0], 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.in_conv(x)
        skips = []
        for block, down in zip(self.encoder_blocks, self.downs):
            features = block(features)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features)
        for up, skip in zip(self.ups, reversed(skips)):
            features = up(features, skip)
        return torch.clamp(x + self.out_conv(features), 0.0, 1.0)
