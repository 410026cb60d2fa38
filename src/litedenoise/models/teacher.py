"""TeacherNet: the ~41.6M-parameter dense U-Net used as the distillation teacher.

Layer description: ``../shared/docs/paper-spec.md``. Three levels (64/128/256) and a 512-wide
bottleneck, PReLU after every convolution, dense blocks, 2x2 strided convs down and 2x2
transposed convs up. It is not meant for NPUs; the student is. NCHW float RGB in [0, 1],
sides multiples of 8.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_prelu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    padding = kernel_size // 2 if stride == 1 else 0
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
        nn.PReLU(out_channels),
    )


class DenseBlock(nn.Module):
    """Four PReLU'd 3x3 convs, each fed the concatenation of the block input and all earlier
    outputs (inner width f/2); the fourth maps back to f and the block input is added."""

    def __init__(self, channels: int):
        super().__init__()
        inner = channels // 2
        self.convs = nn.ModuleList(
            conv_prelu(channels + i * inner, inner if i < 3 else channels) for i in range(4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs:
            features.append(conv(torch.cat(features, dim=1)))
        return x + features[-1]


class TeacherUp(nn.Module):
    """2x2 transposed conv + PReLU, concat [skip, upsampled], 3x3 conv + PReLU, two dense blocks."""

    def __init__(self, deep_channels: int, skip_channels: int):
        super().__init__()
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(deep_channels, deep_channels, kernel_size=2, stride=2),
            nn.PReLU(deep_channels),
        )
        self.fuse = conv_prelu(skip_channels + deep_channels, skip_channels)
        self.blocks = nn.Sequential(DenseBlock(skip_channels), DenseBlock(skip_channels))

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.fuse(torch.cat([skip, self.upsample(deep)], dim=1)))


class TeacherNet(nn.Module):
    """``width`` is the first level's channel count (64 in the paper)."""

    size_multiple = 8
    # Measured with tests/test_models.py::test_receptive_field_radius_covers_the_measured_extent.
    receptive_field_radius = 196

    def working_bytes_per_pixel(self, bf16: bool = False, *, im2col: bool = False) -> int:
        """Peak memory of no-grad forwards through the inference path (channels-last), bytes per
        input pixel, fp32 or bf16: lines above every measurement of widths 8-64 with tiles of
        768 px and more (docs/foundation.md), fp32 with the CLI's allocator (``allocator.py``).
        ``im2col``: bf16 where PyTorch convolves it by im2col (widths 8-32 measured)."""
        if bf16 and im2col:
            return 700 + 100 * self.width
        return 250 + 32 * self.width if bf16 else 300 + 72 * self.width

    def __init__(self, width: int = 64):
        super().__init__()
        if width < 2 or width % 2:
            raise ValueError(f"width must be an even number >= 2, got {width}")
        self.width = width
        widths = [width, 2 * width, 4 * width, 8 * width]
        self.in_block = nn.Sequential(conv_prelu(3, widths[0]), conv_prelu(widths[0], widths[0]))
        self.encoder_blocks = nn.ModuleList(
            nn.Sequential(DenseBlock(w), DenseBlock(w)) for w in widths[:3]
        )
        self.downs = nn.ModuleList(conv_prelu(w, 2 * w, kernel_size=2, stride=2) for w in widths[:3])
        self.bottleneck = nn.Sequential(DenseBlock(widths[3]), DenseBlock(widths[3]))
        self.ups = nn.ModuleList(TeacherUp(widths[level + 1], widths[level]) for level in reversed(range(3)))
        self.out_block = nn.Sequential(conv_prelu(widths[0], widths[0]), conv_prelu(widths[0], 3))
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)
        # With Kaiming everywhere the 14 residual dense blocks compound the activations' scale and
        # the untrained network clamps ~99% of its output pixels to 0 or 1, where no gradient
        # flows (measured at width 32: L1 stuck at 0.28 after 50 steps). Starting each dense block
        # and the output block at zero makes the untrained teacher the identity, x -> x.
        for module in self.modules():
            if isinstance(module, DenseBlock):
                nn.init.zeros_(module.convs[-1][0].weight)
        nn.init.zeros_(self.out_block[-1][0].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.in_block(x)
        skips = []
        for block, down in zip(self.encoder_blocks, self.downs):
            features = block(features)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features)
        for up, skip in zip(self.ups, reversed(skips)):
            features = up(features, skip)
        return torch.clamp(x + self.out_block(features), 0.0, 1.0)
