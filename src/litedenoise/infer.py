"""The one inference path: pad, tile, run, stitch, crop.

Every caller (``denoise``, evaluation, validation during training, export checks) goes through
``run_tiles``, by way of ``denoise`` (numpy images) or ``denoise_tensor`` (float tensors), with an
``nn.Module`` or a ``runtimes.Backend`` (ONNX Runtime, LiteRT, PyTorch bf16). Tiles start and end on multiples of the model's size multiple and overlap by
at least its receptive-field radius, and each output pixel is taken from a tile in which it lies
at least that far from any cut edge. The network therefore sees, for every pixel it keeps, exactly
the context it would see on the whole image, so tiled output equals untiled output (up to float
summation order) and a hard stitch needs no feathering. A static-shape backend (an exported file)
gets tiles of exactly its size: the image is padded up to it where smaller, and the tiles keep
their full size, the extra width being extra context.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from litedenoise.errors import LiteDenoiseError
from litedenoise.runtimes import Backend, TorchBackend, bf16_convolutions_use_im2col

DEFAULT_MEMORY_BUDGET_MB = 2048
# For a network that does not say its own working_bytes_per_pixel: above every network of ours measured.
FALLBACK_WORKING_BYTES_PER_PIXEL = 4000


@dataclass(frozen=True)
class Tile:
    """One tile in padded-image coordinates: the input window and the output rows/cols it owns."""

    top: int
    left: int
    height: int
    width: int
    keep_top: int
    keep_bottom: int
    keep_left: int
    keep_right: int


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _axis_windows(length: int, tile: int, overlap: int, multiple: int, fixed: bool = False) -> list[tuple[int, int, int, int]]:
    """(start, size, keep_start, keep_end) along one axis of a padded length (a multiple).

    A window keeps what lies at least ``overlap`` from its cut edges; at the image's own edges
    it needs no context, so the first and last windows keep ``overlap`` more than the others.
    Uses the fewest windows that fit in ``tile``, then shrinks them to one common size so that
    little is computed twice: 2432 px with 2304-px tiles and 144 px of overlap becomes two
    1360-px windows. With ``fixed`` every window is ``tile`` long (a static-shape model;
    ``length`` is at least ``tile``): the kept chunks are the same, the windows are wider.
    """
    if tile >= length:
        return [(0, length, 0, length)]
    if tile - 2 * overlap < multiple:
        raise LiteDenoiseError(
            f"tile {tile} is too small: this model needs at least {2 * overlap + multiple} "
            f"({overlap} pixels of context on each side)"
        )

    def window_size(count: int) -> int:  # n windows of one size keep 2 (size - overlap) + (n - 2) (size - 2 overlap)
        return _round_up(-(-(length + 2 * (count - 1) * overlap) // count), multiple)

    count = 2
    while window_size(count) > tile:
        count += 1
    size = window_size(count)
    windows = []
    keep_start, keep_end = 0, size - overlap
    while keep_start < length:
        if length - keep_start <= size - overlap:  # the last window: no cut edge after it
            keep_end = length
        start, end = max(keep_start - overlap, 0), min(keep_end + overlap, length)
        if fixed:
            start, end = min(start, length - tile), min(start, length - tile) + tile
        windows.append((start, end - start, keep_start, keep_end))
        keep_start, keep_end = keep_end, keep_end + size - 2 * overlap
    return windows


def plan_tiles(height: int, width: int, tile: int | tuple[int, int], overlap: int, multiple: int, *, fixed: bool = False) -> list[Tile]:
    """Tiles covering a padded ``height`` x ``width`` image (both multiples of ``multiple``).

    ``tile`` is the largest tile side, or (height, width); ``overlap`` the context each kept
    pixel needs on every side. Both are rounded to multiples of ``multiple`` (down and up) so
    that strided layers see the same sampling grid in a tile as in the whole image. With
    ``fixed`` every tile is exactly ``tile`` (multiples of ``multiple``, no larger than the image).
    """
    tile_height, tile_width = (tile, tile) if isinstance(tile, int) else tile
    if fixed and (tile_height % multiple or tile_width % multiple or tile_height > height or tile_width > width):
        raise ValueError(f"fixed tile {tile_height}x{tile_width} must be multiples of {multiple} within the {height}x{width} image")
    if not fixed:
        tile_height, tile_width = (max(side // multiple * multiple, multiple) for side in (tile_height, tile_width))
    overlap = _round_up(overlap, multiple)
    tiles = []
    for top, tile_h, keep_top, keep_bottom in _axis_windows(height, tile_height, overlap, multiple, fixed):
        for left, tile_w, keep_left, keep_right in _axis_windows(width, tile_width, overlap, multiple, fixed):
            tiles.append(Tile(top, left, tile_h, tile_w, keep_top, keep_bottom, keep_left, keep_right))
    return tiles


def tile_side_for_budget(model: nn.Module, memory_budget_mb: float, *, bf16: bool = False) -> int:
    """Largest square tile side whose forward pass (fp32, or ``bf16``) fits ``memory_budget_mb``
    of working memory, by ``working_bytes_per_pixel``."""
    side = int(math.sqrt(memory_budget_mb * 2**20 / working_bytes_per_pixel(model, bf16=bf16)))
    return max(side // model.size_multiple * model.size_multiple, smallest_tile(model))


def working_bytes_per_pixel(model: nn.Module, *, bf16: bool = False) -> int:
    """The network's own figure for a forward pass here, fp32 or ``bf16`` (it grows with the
    width; bf16 on a CPU where PyTorch convolves it by im2col has its own, larger one), or the
    fallback for a network that gives none."""
    measured = getattr(model, "working_bytes_per_pixel", None)
    if measured is None:
        return FALLBACK_WORKING_BYTES_PER_PIXEL
    if bf16 and all(parameter.device.type == "cpu" for parameter in model.parameters()) and bf16_convolutions_use_im2col():
        return measured(True, im2col=True)
    return measured(bf16)


def smallest_tile(model: nn.Module | Backend) -> int:
    """The smallest tile side that can be cut from a larger image: the context each kept pixel
    needs on both sides, plus one size multiple to keep."""
    return 2 * _round_up(model.receptive_field_radius, model.size_multiple) + model.size_multiple


def padded_indices(side: int, multiple: int, minimum: int = 0) -> torch.Tensor:
    """For one axis of ``side`` pixels padded at the end to a multiple of ``multiple`` (and to at
    least ``minimum``): the source pixel of every padded position.

    Reflect padding continues image structure better than zeros; reflect needs the pad to be
    smaller than the side, so an axis padded by more (a tiny image) falls back to replicate.
    """
    index = torch.arange(max(_round_up(side, multiple), minimum))
    if len(index) - side < side:
        return torch.where(index < side, index, 2 * (side - 1) - index)
    return index.clamp(max=side - 1)


def pad_to_multiple(image: torch.Tensor, multiple: int, min_size: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Pad an NCHW tensor at the bottom and right to multiples of ``multiple``, and to at least
    ``min_size`` (height, width), as ``padded_indices`` says."""
    rows = padded_indices(image.shape[-2], multiple, min_size[0])
    cols = padded_indices(image.shape[-1], multiple, min_size[1])
    return image[..., rows[:, None], cols[None, :]]


@torch.no_grad()
def denoise_tensor(
    image: torch.Tensor,
    model: nn.Module | Backend,
    *,
    tile: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    bf16: bool = False,
    tta: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Denoise an NCHW float tensor in [0, 1] of any height and width; returns the same shape.

    ``model`` is a network or a ``runtimes.Backend``. ``tile`` fixes the tile side; otherwise it
    follows from ``memory_budget_mb`` and the precision; a backend with a ``fixed_size`` always
    gets tiles of that size. ``bf16`` runs a network under bfloat16 autocast (fast on CPUs with
    AVX-512 BF16 or AMX, slightly less exact; for a backend, ``load_backend("torch-bf16", ...)``).
    ``tta`` is the x8 self-ensemble: the mean of the outputs for the 8 flips and 90-degree
    rotations, each undone (8x the time). ``progress(done, total)`` is called before the first
    tile and after each (with ``tta``, before the first of the 8 passes and after each).
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 3 or not image.is_floating_point():
        got = f"a {image.dtype} tensor of shape {tuple(image.shape)}" if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"expected an Nx3xHxW float tensor in [0, 1], got {got}")
    backend = _as_backend(model, bf16)
    if tta:
        passes = iter(range(1, 9))
        if progress:
            progress(0, 8)

        def one_pass(turned: torch.Tensor) -> torch.Tensor:
            result = denoise_tensor(turned, backend, tile=tile, memory_budget_mb=memory_budget_mb)
            if progress:
                progress(next(passes), 8)
            return result

        return dihedral_mean(one_pass, image)
    output = torch.empty_like(image)

    def keep(rows: slice, cols: slice, result: torch.Tensor) -> None:
        output[..., rows, cols] = result

    run_tiles(image, backend, keep, tile=tile, memory_budget_mb=memory_budget_mb, progress=progress)
    return output


def _as_backend(model: nn.Module | Backend, bf16: bool) -> Backend:
    if not isinstance(model, (nn.Module, Backend)):
        raise LiteDenoiseError(f"model must be a network (nn.Module) or a runtimes.Backend, not {type(model).__name__}: see litedenoise.load_model")
    if isinstance(model, Backend) and bf16:
        raise ValueError(f"bf16 is for an nn.Module, not the backend {model.name}: use load_backend('torch-bf16', ...)")
    return model if isinstance(model, Backend) else TorchBackend(model, bf16=bf16)


def run_tiles(
    image: torch.Tensor,
    backend: Backend,
    keep: Callable[[slice, slice, torch.Tensor], None],
    *,
    tile: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    scale: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Run ``backend`` over the tiles of an NCHW ``image`` and hand each tile's kept output to
    ``keep(rows, cols, result)``, in image coordinates (``denoise_tensor`` says how tiles are sized).
    ``progress(tiles done, tiles in all)`` is called once before the first tile and after each.

    The image may be of any dtype and memory layout: each tile is converted to float32 on its
    own and divided by ``scale``, so an 8-bit photo is never held in float as a whole.
    """
    if not (0 < memory_budget_mb < math.inf):
        raise LiteDenoiseError(f"the memory budget must be a number of MB above 0, got {memory_budget_mb}")
    if tile is not None and not (isinstance(tile, numbers.Integral) and tile > 0):
        raise LiteDenoiseError(f"the tile side must be a whole number of pixels above 0, got {tile!r}")
    tile = None if tile is None else int(tile)  # a NumPy integer too
    height, width = image.shape[-2:]
    multiple, radius, fixed = backend.size_multiple, backend.receptive_field_radius, backend.fixed_size
    if fixed is not None and tile is not None and (tile, tile) != fixed:
        raise LiteDenoiseError(f"{backend.name} runs {fixed[0]}x{fixed[1]} tiles only, not {tile}x{tile}; leave the tile size out")
    # the padded image is never built: each tile gathers its pixels, padding included, from the image
    rows = padded_indices(height, multiple, fixed[0] if fixed else 0)
    cols = padded_indices(width, multiple, fixed[1] if fixed else 0)
    # the memory budget is per network and precision: a PyTorch backend's module, else the fallback
    tile_size = fixed or tile or tile_side_for_budget(getattr(backend, "model", backend), memory_budget_mb, bf16=getattr(backend, "bf16", False))
    tile_height, tile_width = (tile_size, tile_size) if isinstance(tile_size, int) else tile_size
    smallest = smallest_tile(backend)
    if (len(rows) > tile_height and tile_height < smallest) or (len(cols) > tile_width and tile_width < smallest):
        given = f"{backend.name} runs {tile_height}x{tile_width} tiles only" if fixed else f"tile {tile_height}"
        raise LiteDenoiseError(
            f"{given}: too small to cut this {height}x{width} image into tiles; this network needs {smallest} or more ({radius} pixels of context on each side)"
        )
    tiles = plan_tiles(len(rows), len(cols), tile_size, radius, multiple, fixed=fixed is not None)
    if progress:
        progress(0, len(tiles))
    for done, t in enumerate(tiles, start=1):
        window = _window(image, rows[t.top : t.top + t.height], cols[t.left : t.left + t.width])
        if window.dtype != torch.float32:
            # a new tile, in the NHWC order TorchBackend runs (no second copy there), scaled in place
            window = window.to(torch.float32, memory_format=torch.channels_last)
            window.div_(scale)
        elif scale != 1.0:
            window = window / scale
        result = backend(window).to(torch.float32)
        bottom, right = min(t.keep_bottom, height), min(t.keep_right, width)
        kept = result[..., t.keep_top - t.top : bottom - t.top, t.keep_left - t.left : right - t.left]
        keep(slice(t.keep_top, bottom), slice(t.keep_left, right), kept)
        if progress:
            progress(done, len(tiles))


def _window(image: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """The pixels of an NCHW ``image`` at ``rows`` x ``cols`` (runs of ``padded_indices``): a view
    where they are one block of the image (steps of +1 throughout), else a gathered copy."""
    if rows[-1] - rows[0] == len(rows) - 1 and cols[-1] - cols[0] == len(cols) - 1:
        return image[..., int(rows[0]) : int(rows[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1]
    return image[..., rows[:, None], cols[None, :]]


def dihedral_mean(run: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """The x8 self-ensemble: the mean of ``run`` over the 8 flips and 90-degree rotations of an
    NCHW ``image``, each undone (TTA at inference; a self-ensemble teacher in distillation)."""
    total = torch.zeros_like(image)
    for variant in range(8):
        total += _undo_dihedral(run(_dihedral(image, variant)), variant)
    return total / 8


def _dihedral(image: torch.Tensor, variant: int) -> torch.Tensor:
    """Variant 0..7 of the flips and 90-degree rotations of an NCHW tensor (bit 2: flip, bits 0-1: turns)."""
    if variant & 4:
        image = image.flip(-1)
    return torch.rot90(image, variant & 3, dims=(-2, -1))


def _undo_dihedral(image: torch.Tensor, variant: int) -> torch.Tensor:
    image = torch.rot90(image, -(variant & 3), dims=(-2, -1))
    return image.flip(-1) if variant & 4 else image


def denoise(
    image: np.ndarray,
    model: nn.Module | Backend,
    *,
    tile: int | None = None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    bf16: bool = False,
    tta: bool = False,
    progress: Callable[[int, int], None] | None = None,
    strength: float = 1.0,
) -> np.ndarray:
    """Denoise an HxW, HxWx2 (grey and alpha), HxWx3 or HxWx4 image; returns the same shape and dtype.

    ``model`` is a network or a ``runtimes.Backend`` (``denoise_tensor`` says how each is tiled;
    ``tta`` is its x8 self-ensemble, ``progress(done, total)`` its calls as the tiles are done).
    uint8 and uint16 images use their full range; float images must lie in [0, 1]. Greyscale
    is denoised as grey RGB and averaged back; an alpha channel is passed through untouched.
    ``strength`` (0-1) is how much of the network's change to keep: the output is
    ``image + strength * (denoised - image)``, so below 1 some of the noise, and the texture hidden
    in it, stays.
    Without ``tta`` the image is never copied whole: each tile is converted on its own and its
    result written into the output.
    """
    if not isinstance(image, np.ndarray):
        raise LiteDenoiseError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)) or image.size == 0:
        raise LiteDenoiseError(f"expected an HxW, HxWx2, HxWx3 or HxWx4 image, got shape {image.shape}")
    integer = image.dtype == np.uint8 or image.dtype == np.uint16
    scale = float(np.iinfo(image.dtype).max) if integer else 1.0
    if not integer and not np.issubdtype(image.dtype, np.floating):
        raise LiteDenoiseError(f"unsupported image dtype {image.dtype}: use uint8, uint16 or float")
    if not integer and (not np.isfinite(image).all() or image.min() < 0.0 or image.max() > 1.0):
        raise LiteDenoiseError("float images must be finite and lie in [0, 1]")
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0.0 <= strength <= 1.0:
        raise LiteDenoiseError(f"the strength must be a number from 0 to 1, got {strength!r}")

    # the image is converted to float one tile at a time (the x8 self-ensemble excepted) and each
    # tile's result is written straight into the output array: a big photo needs little memory
    # beyond its own pixels, the result's and the tiles' budget
    with warnings.catch_warnings():  # a decoded image is often read-only; it is only ever read here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        pixels = torch.from_numpy(np.ascontiguousarray(image))
    channels = 1 if image.ndim == 2 else image.shape[2]
    grey, alpha = channels in (1, 2), channels in (2, 4)
    rgb = pixels.reshape(*image.shape[:2], channels)[..., :1].expand(-1, -1, 3) if grey else pixels[..., :3]
    output = np.empty_like(image)
    target = torch.from_numpy(output).reshape(*image.shape[:2], channels)
    target = target[..., 0] if grey else target[..., :3]

    def keep(rows: slice, cols: slice, result: torch.Tensor) -> None:
        result = result[0].permute(1, 2, 0)
        if grey:
            result = result.mean(dim=2)
        if strength != 1.0:
            noisy = (rgb[rows, cols, 0] if grey else rgb[rows, cols]).to(result.dtype) / scale
            result = torch.lerp(noisy, result, float(strength))
        if integer:
            result = result.clamp(0.0, 1.0).mul_(scale).round_()
        target[rows, cols] = result

    backend = _as_backend(model, bf16)
    if tta:
        tensor = rgb.permute(2, 0, 1)[None].to(torch.float32)
        if integer:
            tensor.div_(scale)
        keep(slice(None), slice(None), denoise_tensor(tensor, backend, tile=tile, memory_budget_mb=memory_budget_mb, tta=True, progress=progress))
    else:
        run_tiles(rgb.permute(2, 0, 1)[None], backend, keep, tile=tile, memory_budget_mb=memory_budget_mb, scale=scale, progress=progress)
    if alpha:
        output[..., -1] = image[..., -1]
    return output
