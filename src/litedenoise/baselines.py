"""Classical denoisers to compare against: the noisy input itself, BM3D and non-local means.

Both filters need a noise level. ``estimate_noise_sigma`` gives scikit-image's wavelet estimate,
which assumes white noise: on real camera noise, spatially correlated by demosaicking and in-camera
processing, it is several times too low, so an untuned BM3D barely touches the image (a straw man).
Each filter's level is therefore ``estimated sigma x multiplier``, the multiplier tuned once per
kind of noise by ``benchmarks/tune_baselines.py`` and stored in ``TUNED_MULTIPLIERS``: real camera
noise on PolyU ``train`` crops, the synthetic evaluation noise on CBSD432 photos (the multiplier
for one does not transfer to the other: x32 on real noise wipes out detail under synthetic noise).

Outputs are cached by a hash of the input and the settings under
``$LITEDENOISE_CACHE/baselines`` (BM3D takes about 15 s per 512x512 image on two cores), with the
seconds the computation took, so that a cached result still reports its own speed.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

from litedenoise.errors import LiteDenoiseError

BASELINES = ("identity", "bm3d", "nlm")

# (estimated sigma) x multiplier, per kind of noise: "real" tuned on PolyU train crops, "synthetic"
# on CBSD432 photos with the evaluation levels of data.camera_noise. Produced by
#   .venv/bin/python benchmarks/tune_baselines.py --data ../shared/data --noise real|synthetic
# (grid, per-multiplier PSNR and the date in docs/results/baseline-tuning.json).
NOISE_KINDS = ("real", "synthetic")
TUNED_MULTIPLIERS = {
    "real": {"bm3d": 32.0, "nlm": 8.0},
    "synthetic": {"bm3d": 2.0, "nlm": 1.0},
}

# OpenCV's non-local means: patch 7x7, search window 21x21 (its documented recommendations).
NLM_TEMPLATE_WINDOW = 7
NLM_SEARCH_WINDOW = 21


def estimate_noise_sigma(noisy: np.ndarray) -> float:
    """Noise standard deviation of a uint8 HxWx3 image in [0, 1] units (wavelet MAD, mean of channels)."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(noisy.astype(np.float32) / 255.0, channel_axis=-1, average_sigmas=True))


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (the ``bm3d`` package, default profile) of a uint8 HxWx3 image; returns uint8. Its colour
    version, except for a grey image (R = G = B), whose chroma it would divide by a zero range
    (an all-NaN, black output): that gets the grey version on one channel."""
    import bm3d

    image = noisy.astype(np.float32) / 255.0
    if is_grey_rgb(noisy):
        result = np.repeat(np.atleast_3d(bm3d.bm3d(image[..., 0], sigma_psd=max(sigma, 1e-4))), 3, axis=2)
    else:
        result = bm3d.bm3d_rgb(image, sigma_psd=max(sigma, 1e-4))
    if not np.isfinite(result).all():
        raise LiteDenoiseError("BM3D returned non-finite values: one of its colour-transform channels is constant in this image")
    return np.round(np.clip(result, 0.0, 1.0) * 255.0).astype(np.uint8)


def is_grey_rgb(image: np.ndarray) -> bool:
    """Whether an HxWx3 image's three channels are equal everywhere."""
    return bool((image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all())


def nlm_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV's colour non-local means of a uint8 HxWx3 RGB image with filter strength h = sigma (0-255 units)."""
    import cv2

    strength = max(sigma * 255.0, 0.1)
    return cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(noisy), None, strength, strength, NLM_TEMPLATE_WINDOW, NLM_SEARCH_WINDOW)


@dataclass(frozen=True)
class Baseline:
    """A classical method with its noise-level multiplier; ``__call__`` maps uint8 HxWx3 to uint8 HxWx3.

    ``seconds`` after a call is the time the output took to compute: measured now, or read from the
    cache entry written when it was first computed.
    """

    method: str
    multiplier: float = 1.0
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.method not in BASELINES:
            raise LiteDenoiseError(f"unknown baseline {self.method!r}; choose from {', '.join(BASELINES)}")

    @property
    def name(self) -> str:
        return self.method if self.method == "identity" else f"{self.method} (sigma x {self.multiplier:g})"

    def settings(self) -> dict:
        """What the output depends on besides the input: method, multiplier, package version."""
        package = {"bm3d": "bm3d", "nlm": "opencv-python-headless", "identity": None}[self.method]
        settings = {"method": self.method, "multiplier": self.multiplier}
        if package:
            settings["version"] = _package_version(package)
        return settings

    def __call__(self, noisy: np.ndarray) -> tuple[np.ndarray, float]:
        """(denoised uint8 image, seconds it took to compute)."""
        if self.method == "identity":
            return noisy, 0.0
        entry = self._cache_entry(noisy)
        if entry is not None and entry.with_suffix(".json").is_file() and entry.with_suffix(".png").is_file():
            seconds = json.loads(entry.with_suffix(".json").read_text())["seconds"]
            return np.asarray(Image.open(entry.with_suffix(".png")).convert("RGB")), seconds
        started = time.perf_counter()
        sigma = estimate_noise_sigma(noisy) * self.multiplier
        output = bm3d_denoise(noisy, sigma) if self.method == "bm3d" else nlm_denoise(noisy, sigma)
        seconds = time.perf_counter() - started
        if entry is not None:
            self._store(entry, output, {"seconds": seconds, "sigma": sigma, **self.settings()})
        return output, seconds

    def _cache_entry(self, noisy: np.ndarray) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode())
        digest.update(str(noisy.shape).encode())
        if self.method == "bm3d" and is_grey_rgb(noisy):  # not the black output cached before grey BM3D
            digest.update(b"grey bm3d")
        digest.update(np.ascontiguousarray(noisy).tobytes())
        return self.cache_dir / self.method / digest.hexdigest()[:32]

    @staticmethod
    def _store(entry: Path, output: np.ndarray, record: dict) -> None:
        """Write the PNG, then its JSON: a JSON file means a complete entry. A cache that cannot be
        written is skipped, not an error (the result is still returned)."""
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            Image.fromarray(output).save(buffer, format="PNG")
            for suffix, data in ((".png", buffer.getvalue()), (".json", json.dumps(record).encode())):
                partial = entry.with_suffix(suffix + ".partial")
                partial.write_bytes(data)
                partial.replace(entry.with_suffix(suffix))
        except OSError:
            pass


def tuned_baseline(method: str, cache_dir: Path | None = None, noise: str = "real") -> Baseline:
    """``method`` with its multiplier for ``noise`` ("real" or "synthetic") from ``TUNED_MULTIPLIERS`` (identity needs none)."""
    if noise not in NOISE_KINDS:
        raise LiteDenoiseError(f"unknown kind of noise {noise!r}; choose from {', '.join(NOISE_KINDS)}")
    return Baseline(method, TUNED_MULTIPLIERS[noise].get(method, 1.0), cache_dir)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except Exception:  # installed under another distribution name (e.g. opencv-python)
        return "unknown"
