"""Realistic camera noise for clean sRGB photos: unprocess to raw, add sensor noise, process back.

A camera adds its noise on the Bayer mosaic, in linear raw units, and then demosaics, white
balances, colour-corrects, gamma-encodes, tone-maps, denoises the chroma and JPEG-compresses it.
Each of those steps shapes the noise that ends up in the photo: the demosaic spreads every raw
sample over its neighbours (so real noise is spatially correlated, not white), white balance
amplifies the red and blue channels' noise, the colour matrix mixes the channels' noise, gamma
and tone curve make the noise depend on brightness, chroma noise reduction leaves mostly
luminance grain, and JPEG removes some of the fine grain. Following Brooks et al., "Unprocessing
Images for Learned Raw Denoising" (CVPR 2019), a clean sRGB photo is run backwards through an
approximate camera pipeline to raw, noise is added there, and the result is run forwards again;
the chroma noise reduction and JPEG steps are additions for camera JPEGs such as PolyU's.

Arrays are float32 HxWx3 in [0, 1]; any height and width work (the mosaic is RGGB from the top
left). ``add_camera_noise`` returns the noisy image; the clean target stays the input photo,
because the pipeline without noise returns its input (to float precision, before the final clip
to [0, 1] and the optional JPEG). The clean signal is not demosaicked: only the noise is (see
``add_camera_noise``).

Where the default parameter ranges come from (``CameraNoiseRange``):

- Shot-noise variance per unit of raw signal (raw white level = 1; the variance of a pixel is
  ``shot_variance * signal + read_variance``), log-uniform in [2e-5, 2e-2]. ``shot_variance`` is
  1 / (photo-electrons at white). The low end is a full-frame DSLR at base ISO (roughly 50,000
  electrons at white); the high end a small-pixel smartphone sensor at ISO 3200-6400 (roughly
  50-80 electrons at white). Brooks et al.'s range, fitted to the four cameras of the Darmstadt
  Noise Dataset (Sony A7R, Olympus E-M10, Sony RX100 IV and the Nexus 6P phone), is
  [1e-4, 1.2e-2] and lies inside.
- Read-noise variance from the shot variance on Brooks et al.'s log-linear fit,
  ``log(read) = 2.18 * log(shot) + 1.20``, plus normal scatter with standard deviation 0.26
  (their value), here truncated at two standard deviations so that the range is bounded.
- White-balance gains: red uniform in [1.9, 2.4], blue uniform in [1.5, 1.9] (Brooks et al.,
  daylight-like gains of the DND cameras); a global brightness gain uniform in [1.0, 1.65], the
  central 95 % of Brooks et al.'s 1 / N(0.8, 0.1).
- Colour matrices: XYZ-to-camera matrices (D65, as in the Adobe DNG Converter / dcraw tables) of
  the four PolyU training cameras and of the four DND cameras; each image mixes a random pair of
  them with a uniform weight. The Sony A7 II, PolyU's held-out camera, is deliberately absent.
- Chroma noise reduction: a Gaussian blur of the noise's Cb and Cr, sigma uniform in [1, 4]
  pixels. Camera and phone JPEG engines all suppress chroma noise; on PolyU's train crops sigma
  ~3 reproduces the residual's Cb/Cr standard deviation and autocorrelation (measured with
  benchmarks/noise_stats.py and docs/noise.md), and the range spans milder and stronger engines.
- JPEG: half of the images are compressed at a quality uniform in [70, 95] (Pillow, 4:2:0
  chroma). PolyU's full-size camera JPEGs have quantisation tables of about quality 90-98; its
  512x512 crops were re-saved at quality 75, 4:2:0.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from litedenoise.data.noise import linear_to_srgb, srgb_to_linear

Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]

# XYZ (D65) -> camera raw matrices, rows R, G, B, as published in the Adobe DNG Converter
# ColorMatrix tables (dcraw's adobe_coeff, in units of 1/10000) and by Brooks et al. (DND).
CAMERA_XYZ_TO_RAW: dict[str, tuple[float, ...]] = {
    "canon_eos_5d_mark_ii": (0.4716, 0.0603, -0.0830, -0.7798, 1.5474, 0.2480, -0.1496, 0.1937, 0.6651),
    "canon_eos_80d": (0.7457, -0.0671, -0.0937, -0.4849, 1.2495, 0.2643, -0.1213, 0.2354, 0.5492),
    "canon_eos_600d": (0.6461, -0.0907, -0.0882, -0.4300, 1.2184, 0.2378, -0.0819, 0.1944, 0.5931),
    "nikon_d800": (0.7866, -0.2108, -0.0555, -0.4869, 1.2483, 0.2681, -0.1176, 0.2069, 0.7501),
    # The four DND cameras (Sony A7R, Olympus E-M10, Sony RX100 IV, Huawei Nexus 6P) in the
    # order Brooks et al. list them; they do not say which matrix is which camera.
    "dnd_1": (1.0234, -0.2969, -0.2266, -0.5625, 1.6328, -0.0469, -0.0703, 0.2188, 0.6406),
    "dnd_2": (0.4913, -0.0541, -0.0202, -0.6130, 1.3513, 0.2906, -0.1564, 0.2151, 0.7183),
    "dnd_3": (0.8380, -0.2630, -0.0639, -0.2887, 1.0725, 0.2496, -0.0627, 0.1427, 0.5438),
    "dnd_4": (0.6596, -0.2079, -0.0562, -0.4782, 1.3016, 0.1933, -0.0970, 0.1581, 0.5181),
}

# Linear sRGB -> CIE XYZ, D65 white (IEC 61966-2-1).
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)

# Full-range YCbCr (JPEG, ITU-R BT.601) from sRGB values, and back.
SRGB_TO_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
YCBCR_TO_SRGB = np.linalg.inv(SRGB_TO_YCBCR)

# Which colour each site of the RGGB mosaic records (0 red, 1 green, 2 blue), by (row, column) parity.
_RGGB = np.array([[0, 1], [1, 2]])

# Bilinear demosaic as 3x3 filters over the sparse colour planes: green sites form a quincunx,
# red and blue a square lattice with one sample in every 2x2 block.
_GREEN_KERNEL = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4
_RED_BLUE_KERNEL = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4
_DEMOSAIC_KERNELS = np.stack([_RED_BLUE_KERNEL, _GREEN_KERNEL, _RED_BLUE_KERNEL], axis=-1).astype(np.float32)


@dataclass(frozen=True)
class CameraNoiseParams:
    """One simulated camera and exposure.

    ``camera_to_srgb`` is the colour matrix from white-balanced camera RGB to linear sRGB (rows
    sum to 1, so grey stays grey). ``red_gain`` and ``blue_gain`` are the white-balance gains
    (green is 1) and ``brightness_gain`` a global digital gain, all applied to raw values.
    ``shot_variance`` and ``read_variance`` are in raw units where 1.0 is the white level: a raw
    sample of mean ``s`` has variance ``shot_variance * s + read_variance``.
    ``chroma_blur_sigma`` is the in-camera chroma noise reduction, a Gaussian blur of the noise's
    Cb and Cr in pixels (0 is off). ``luma_lowpass_weight`` (0 is off) and ``luma_lowpass_sigma``
    give the noise's luminance a low-frequency part at the same variance (``shape_luma_noise``).
    ``jpeg_quality`` is 1-100, or None for no JPEG.
    """

    camera_to_srgb: Matrix3
    red_gain: float
    blue_gain: float
    brightness_gain: float
    shot_variance: float
    read_variance: float
    chroma_blur_sigma: float = 0.0
    luma_lowpass_weight: float = 0.0
    luma_lowpass_sigma: float = 0.0
    jpeg_quality: int | None = None

    def raw_gains(self) -> np.ndarray:
        """Per-channel gains from raw to white-balanced camera RGB, shape (3,)."""
        return self.brightness_gain * np.array([self.red_gain, 1.0, self.blue_gain], np.float32)

    def srgb_to_camera(self) -> np.ndarray:
        """The inverse colour matrix, linear sRGB -> white-balanced camera RGB, shape (3, 3)."""
        return np.linalg.inv(np.array(self.camera_to_srgb))


@dataclass(frozen=True)
class CameraNoiseRange:
    """Ranges ``sample`` draws ``CameraNoiseParams`` from; the module docstring says where the
    defaults come from. Shot variance is log-uniform; read variance follows it on the line
    ``log(read) = read_line[0] * log(shot) + read_line[1]`` with normal scatter of standard
    deviation ``read_scatter`` truncated at two standard deviations."""

    shot_variance: tuple[float, float] = (2e-5, 2e-2)
    read_line: tuple[float, float] = (2.18, 1.20)
    read_scatter: float = 0.26
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    brightness_gain: tuple[float, float] = (1.0, 1.65)
    cameras: tuple[str, ...] = tuple(CAMERA_XYZ_TO_RAW)
    chroma_blur_sigma: tuple[float, float] = (1.0, 4.0)
    # Off by default, and then not drawn at all, so that the default draws stay as they were.
    luma_lowpass_weight: tuple[float, float] = (0.0, 0.0)
    luma_lowpass_sigma: tuple[float, float] = (3.0, 6.0)  # the range fitted to PolyU train crops (docs/noise.md)
    jpeg_probability: float = 0.5
    jpeg_quality: tuple[int, int] = (70, 95)

    def __post_init__(self) -> None:
        for name in ("shot_variance", "red_gain", "blue_gain", "brightness_gain", "chroma_blur_sigma",
                     "luma_lowpass_weight", "luma_lowpass_sigma", "jpeg_quality"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"camera noise {name} must be a range [low, high] with 0 <= low <= high, got {[low, high]}")
        if self.shot_variance[0] <= 0:
            raise ValueError(f"camera noise shot_variance must be positive, got {list(self.shot_variance)}")
        if self.luma_lowpass_weight[1] > 1:
            raise ValueError(f"camera noise luma_lowpass_weight must lie in [0, 1], got {list(self.luma_lowpass_weight)}")
        if not 0 <= self.jpeg_probability <= 1:
            raise ValueError(f"camera noise jpeg_probability must lie in [0, 1], got {self.jpeg_probability}")
        unknown = [camera for camera in self.cameras if camera not in CAMERA_XYZ_TO_RAW]
        if unknown or not self.cameras:
            raise ValueError(f"camera noise cameras must be among {', '.join(CAMERA_XYZ_TO_RAW)}; got {', '.join(unknown) or 'none'}")

    def read_variance_bounds(self, shot_variance: float) -> tuple[float, float]:
        """The smallest and largest read variance ``sample`` can pair with ``shot_variance``."""
        centre = self.read_line[0] * np.log(shot_variance) + self.read_line[1]
        return float(np.exp(centre - 2 * self.read_scatter)), float(np.exp(centre + 2 * self.read_scatter))

    def sample(self, rng: np.random.Generator) -> CameraNoiseParams:
        """Draw one camera and exposure; the same generator state gives the same parameters."""
        # Two different cameras (or one with itself), mixed with a uniform weight.
        first, second = rng.choice(len(self.cameras), size=2, replace=len(self.cameras) < 2)
        weight = rng.uniform()
        xyz_to_raw = weight * _xyz_to_raw(self.cameras[first]) + (1 - weight) * _xyz_to_raw(self.cameras[second])
        shot = float(np.exp(rng.uniform(*np.log(self.shot_variance))))
        scatter = float(np.clip(rng.normal(0.0, self.read_scatter), -2 * self.read_scatter, 2 * self.read_scatter))
        read = float(np.exp(self.read_line[0] * np.log(shot) + self.read_line[1] + scatter))
        use_jpeg = rng.uniform() < self.jpeg_probability
        # Drawn with or without JPEG, so that the number of draws, and all later ones, do not depend on it.
        quality = int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1))
        red_gain, blue_gain, brightness_gain = (float(rng.uniform(*r)) for r in (self.red_gain, self.blue_gain, self.brightness_gain))
        chroma_blur_sigma = float(rng.uniform(*self.chroma_blur_sigma))
        lowpass_weight = lowpass_sigma = 0.0
        if self.luma_lowpass_weight[1] > 0:
            lowpass_weight = float(rng.uniform(*self.luma_lowpass_weight))
            lowpass_sigma = float(rng.uniform(*self.luma_lowpass_sigma))
        return CameraNoiseParams(
            camera_to_srgb=camera_to_srgb_matrix(xyz_to_raw),
            red_gain=red_gain,
            blue_gain=blue_gain,
            brightness_gain=brightness_gain,
            shot_variance=shot,
            read_variance=read,
            chroma_blur_sigma=chroma_blur_sigma,
            luma_lowpass_weight=lowpass_weight,
            luma_lowpass_sigma=lowpass_sigma,
            jpeg_quality=quality if use_jpeg else None,
        )


def _xyz_to_raw(camera: str) -> np.ndarray:
    return np.array(CAMERA_XYZ_TO_RAW[camera]).reshape(3, 3)


def camera_to_srgb_matrix(xyz_to_raw: np.ndarray) -> Matrix3:
    """Camera RGB -> linear sRGB matrix from an XYZ -> camera matrix, rows normalised to sum 1."""
    srgb_to_camera = xyz_to_raw @ SRGB_TO_XYZ
    srgb_to_camera = srgb_to_camera / srgb_to_camera.sum(axis=1, keepdims=True)
    return tuple(tuple(float(v) for v in row) for row in np.linalg.inv(srgb_to_camera))


# --- the pipeline, step by step ----------------------------------------------------------------


def tone_curve(image: np.ndarray) -> np.ndarray:
    """Global S-shaped tone curve (smoothstep, 3x^2 - 2x^3); [0, 1] -> [0, 1]."""
    return image * image * (3 - 2 * image)


def inverse_tone_curve(image: np.ndarray) -> np.ndarray:
    """Inverse of ``tone_curve`` on [0, 1] (input clipped first)."""
    image = np.clip(image, 0.0, 1.0)
    return 0.5 - np.sin(np.arcsin(1 - 2 * image) / 3)


def apply_colour_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Multiply every pixel of an HxWx3 image by a 3x3 matrix (output channel = matrix row)."""
    return image @ np.asarray(matrix, np.float32).T


def mosaic(image: np.ndarray) -> np.ndarray:
    """RGGB Bayer mosaic (HxW) of a full-colour HxWx3 image: each site keeps one colour."""
    return np.take_along_axis(image, _bayer_colours(image.shape[:2])[..., None], axis=2)[..., 0]


def demosaic_bilinear(bayer: np.ndarray) -> np.ndarray:
    """Full-colour HxWx3 image from an RGGB mosaic, each missing colour the mean of its nearest samples."""
    colours = _bayer_colours(bayer.shape)
    sparse = np.zeros((3, *bayer.shape), np.float32)  # channels first: contiguous planes filter faster
    for channel in range(3):
        sparse[channel] = np.where(colours == channel, bayer, 0.0)
    # Reflecting without repeating the edge keeps the mosaic's row and column parity.
    padded = np.pad(sparse, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    height, width = bayer.shape
    result = np.zeros_like(sparse)
    for dy in range(3):
        for dx in range(3):
            result += _DEMOSAIC_KERNELS[dy, dx, :, None, None] * padded[:, dy : dy + height, dx : dx + width]
    return result.transpose(1, 2, 0)


def add_sensor_noise(
    bayer: np.ndarray, shot_variance: float, read_variance: float, rng: np.random.Generator
) -> np.ndarray:
    """Noisy copy of a raw mosaic: Poisson shot noise (variance ``shot_variance * signal``) plus
    Gaussian read noise (variance ``read_variance``). Zero variances add nothing."""
    noisy = bayer.astype(np.float32)
    if shot_variance > 0:
        signal = np.maximum(noisy, 0.0)
        noisy += rng.poisson(signal / shot_variance).astype(np.float32) * np.float32(shot_variance) - signal
    if read_variance > 0:
        noisy += rng.normal(0.0, np.sqrt(read_variance), bayer.shape).astype(np.float32)
    return noisy


def reduce_chroma_noise(clean: np.ndarray, noisy: np.ndarray, sigma: float) -> np.ndarray:
    """In-camera chroma noise reduction: blur the Cb and Cr of ``noisy - clean`` (HxWx3 sRGB) with
    a Gaussian of ``sigma`` pixels; returns the new noisy image, clipped to [0, 1]."""
    if sigma <= 0:
        return noisy
    from skimage.filters import gaussian  # here, not at the top: it costs every CLI command 0.3 s of import

    residual = apply_colour_matrix(noisy - clean, SRGB_TO_YCBCR)
    residual[..., 1:] = gaussian(residual[..., 1:], sigma=sigma, mode="reflect", channel_axis=-1)
    return np.clip(clean + apply_colour_matrix(residual, YCBCR_TO_SRGB), 0.0, 1.0)


def shape_luma_noise(clean: np.ndarray, noisy: np.ndarray, weight: float, sigma: float) -> np.ndarray:
    """Give the luminance of ``noisy - clean`` (HxWx3 sRGB) a low-frequency part: mix ``weight`` of
    its variance from a Gaussian blur of ``sigma`` pixels of it, then restore its standard deviation,
    so only the spatial correlation changes. Real camera JPEGs (PolyU's) keep luminance noise
    correlated over 4-8 pixels, more than a bilinear demosaic gives (docs/noise.md); in-camera
    luminance noise reduction is one likely cause. Returns the new noisy image, clipped to [0, 1]."""
    if weight <= 0 or sigma <= 0:
        return noisy
    from skimage.filters import gaussian  # as in reduce_chroma_noise

    residual = apply_colour_matrix(noisy - clean, SRGB_TO_YCBCR)
    # Only the zero-mean part is reshaped: the clip to [0, 1] gives the noise a small mean, which
    # the rescaled blur would otherwise multiply into a brightness shift.
    bias = float(residual[..., 0].mean())
    luma = residual[..., 0] - bias
    blurred = gaussian(luma, sigma=sigma, mode="reflect")
    luma_std, blurred_std = float(luma.std()), float(blurred.std())
    if blurred_std == 0.0:
        return noisy
    mixed = np.sqrt(1 - weight) * luma + np.sqrt(weight) * blurred * (luma_std / blurred_std)
    mixed -= mixed.mean()
    residual[..., 0] = bias + mixed * (luma_std / max(float(mixed.std()), 1e-12))
    return np.clip(clean + apply_colour_matrix(residual, YCBCR_TO_SRGB), 0.0, 1.0)


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an HxWx3 [0, 1] image as an 8-bit JPEG at ``quality`` (Pillow, 4:2:0) and decode it."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"), np.float32) / 255


def unprocess(clean_srgb: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """Camera raw (before white balance, full colour HxWx3, white = 1) from an sRGB image in [0, 1]."""
    linear = srgb_to_linear(inverse_tone_curve(clean_srgb.astype(np.float32)))
    camera = apply_colour_matrix(linear, params.srgb_to_camera())
    return camera / params.raw_gains()


def process(raw: np.ndarray, params: CameraNoiseParams) -> np.ndarray:
    """sRGB image in [0, 1] from full-colour camera raw: white balance, colour matrix, gamma, tone curve."""
    camera = raw * params.raw_gains()
    linear = apply_colour_matrix(camera, np.array(params.camera_to_srgb))
    return tone_curve(linear_to_srgb(linear)).astype(np.float32)


def add_camera_noise(clean_srgb: np.ndarray, params: CameraNoiseParams, rng: np.random.Generator) -> np.ndarray:
    """Noisy float32 HxWx3 copy of ``clean_srgb`` (float HxWx3 in [0, 1]) as a camera with
    ``params`` would have taken it; in [0, 1], multiples of 1/255 when JPEG-compressed.

    The clean signal keeps its full resolution and only the noise goes through the bilinear
    demosaic. A camera's own demosaic reconstructs edges far better than bilinear interpolation,
    so the clean photo stands for its output; interpolating the noise gives it the spatial
    correlation of real demosaicked noise. Demosaicking the whole mosaic bilinearly
    would instead blur and zipper the signal, and a denoiser trained on it would learn to sharpen.
    """
    raw = unprocess(clean_srgb, params)
    clean_bayer = mosaic(raw)
    noisy_bayer = add_sensor_noise(clean_bayer, params.shot_variance, params.read_variance, rng)
    noisy = process(raw + demosaic_bilinear(noisy_bayer - clean_bayer), params)
    noisy = reduce_chroma_noise(clean_srgb, noisy, params.chroma_blur_sigma)
    noisy = shape_luma_noise(clean_srgb, noisy, params.luma_lowpass_weight, params.luma_lowpass_sigma)
    if params.jpeg_quality is not None:
        noisy = jpeg_round_trip(noisy, params.jpeg_quality)
    return noisy.astype(np.float32)


def _bayer_colours(shape: tuple[int, ...]) -> np.ndarray:
    """HxW map of the colour (0 red, 1 green, 2 blue) each RGGB site records."""
    rows = np.arange(shape[0]) % 2
    cols = np.arange(shape[1]) % 2
    return _RGGB[rows[:, None], cols[None, :]]


def _evaluation_level(shot_variance: float) -> CameraNoiseParams:
    """A fixed camera (Nikon D800 colour, mid white balance, no digital gain, chroma NR sigma 2, no
    JPEG) at ``shot_variance``, its read variance on the centre of ``CameraNoiseRange.read_line``."""
    line = CameraNoiseRange().read_line
    return CameraNoiseParams(
        camera_to_srgb=camera_to_srgb_matrix(_xyz_to_raw("nikon_d800")),
        red_gain=2.15,
        blue_gain=1.7,
        brightness_gain=1.0,
        shot_variance=shot_variance,
        read_variance=float(np.exp(line[0] * np.log(shot_variance) + line[1])),
        chroma_blur_sigma=2.0,
    )


# Named noise levels for synthetic test sets (Kodak24, McMaster18): a large sensor at moderate ISO,
# a mid-range phone and a high-ISO phone frame (1 / electrons at white of 2000, 500 and 125).
EVALUATION_NOISE_LEVELS = {
    "low": _evaluation_level(5e-4),
    "medium": _evaluation_level(2e-3),
    "high": _evaluation_level(8e-3),
}


def evaluation_noise(clean: np.ndarray, level: str, seed: int, name: str) -> np.ndarray:
    """The noisy uint8 copy of a clean uint8 HxWx3 image at ``EVALUATION_NOISE_LEVELS[level]``.

    The generator is seeded with ``seed``, the level and a CRC of ``name`` (the image's file name),
    so a test set is the same on every machine and run, and no image shares another's noise.
    """
    import zlib

    if level not in EVALUATION_NOISE_LEVELS:
        raise ValueError(f"unknown noise level {level!r}; choose from {', '.join(EVALUATION_NOISE_LEVELS)}")
    rng = np.random.default_rng([seed, list(EVALUATION_NOISE_LEVELS).index(level), zlib.crc32(name.encode())])
    noisy = add_camera_noise(clean.astype(np.float32) / 255.0, EVALUATION_NOISE_LEVELS[level], rng)
    return np.round(np.clip(noisy, 0.0, 1.0) * 255.0).astype(np.uint8)
