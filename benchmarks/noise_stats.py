"""How realistic is the synthetic noise? Real PolyU residuals against synthetic ones on the same clean crops.

    .venv/bin/python benchmarks/noise_stats.py [--data ../shared/data] [--out docs/img]

The data folder defaults to $LITEDENOISE_DATA. Residual = noisy - clean, in 8-bit levels. Real:
PolyU ``train`` crops (512x512, re-saved as JPEG quality 75, 4:2:0), and 512x512 windows of the
``train`` full-size camera JPEGs (quality ~95+, 4:2:2) for reference. Synthetic, from the same
clean crops and quantised to 8 bits as training does: camera noise (``add_camera_noise``), plain
Poisson-Gaussian noise in linear light (``add_poisson_gaussian_noise``) and plain Gaussian noise.

Each synthetic model is level-matched per crop: its parameters are drawn from its default range
and then scaled so that the crop's residual variance equals the real one, so the figures compare
the shape of the noise (how it depends on intensity and channel, how it is correlated), not its
overall level. The noisy-PSNR spread of the unscaled default ranges is printed as well, and of
``POLYU_LIKE``, the narrower range with the luminance low-pass that a recipe can set.

Writes ``noise_variance.png`` and ``noise_correlation.png`` to ``--out`` and prints the numbers
that docs/noise.md tabulates. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt  # falls back to the Agg backend where there is no display
import numpy as np

from litedenoise.data.camera_noise import (
    SRGB_TO_YCBCR,
    CameraNoiseParams,
    CameraNoiseRange,
    add_camera_noise,
)
from litedenoise.data.noise import (
    PoissonGaussianLevel,
    PoissonGaussianRange,
    add_poisson_gaussian_noise,
)
from litedenoise.data.paired import data_root, polyu_pairs
from litedenoise.imageio import read_rgb_uint8

BINS = np.linspace(0, 1, 17)  # clean intensity bins
MIN_PIXELS_PER_BIN = 5000
LAGS = (1, 2, 3, 4)
FULL_WINDOWS_PER_IMAGE = 2
# The PolyU-like synthesis tried for issue 6 (docs/noise.md): PolyU's levels and the luma low-pass.
POLYU_LIKE = CameraNoiseRange(shot_variance=(2e-4, 2e-3), luma_lowpass_weight=(0.05, 0.2), luma_lowpass_sigma=(3.0, 6.0))
WINDOW = 512

# A noise model: (clean crop, strength multiplier, rng) -> noisy crop; strength 1 is the sampled level.
NoiseModel = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclasses.dataclass
class ResidualStats:
    """Accumulated residual statistics of one source (real or a model) over many crops."""

    sums: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((3, len(BINS) - 1)))
    squares: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((3, len(BINS) - 1)))
    counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((3, len(BINS) - 1)))
    autocorrelation: list[np.ndarray] = dataclasses.field(default_factory=list)  # per crop: (2 directions, lags)
    channel_correlation: list[np.ndarray] = dataclasses.field(default_factory=list)  # per crop: (R-G, G-B, R-B)
    channel_std: list[np.ndarray] = dataclasses.field(default_factory=list)  # per crop: (R, G, B)
    ycbcr_std: list[np.ndarray] = dataclasses.field(default_factory=list)  # per crop: (Y, Cb, Cr)
    psnr: list[float] = dataclasses.field(default_factory=list)

    def add(self, clean: np.ndarray, noisy: np.ndarray) -> None:
        residual = (noisy - clean) * 255
        bins = np.clip(np.digitize(clean, BINS) - 1, 0, len(BINS) - 2)
        for channel in range(3):
            index, values = bins[..., channel].ravel(), residual[..., channel].ravel()
            self.sums[channel] += np.bincount(index, values, len(BINS) - 1)
            self.squares[channel] += np.bincount(index, values**2, len(BINS) - 1)
            self.counts[channel] += np.bincount(index, None, len(BINS) - 1)
        self.autocorrelation.append(autocorrelation(residual))
        flat = residual.reshape(-1, 3).T
        matrix = np.corrcoef(flat)
        self.channel_correlation.append(np.array([matrix[0, 1], matrix[1, 2], matrix[0, 2]]))
        self.channel_std.append(flat.std(axis=1))
        self.ycbcr_std.append((SRGB_TO_YCBCR @ flat).std(axis=1))
        self.psnr.append(psnr(clean, noisy))

    def std_by_intensity(self) -> np.ndarray:
        """Residual standard deviation per channel and clean-intensity bin (NaN where too few pixels)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.sums / self.counts
            std = np.sqrt(self.squares / self.counts - mean**2)
        return np.where(self.counts >= MIN_PIXELS_PER_BIN, std, np.nan)


def autocorrelation(residual: np.ndarray) -> np.ndarray:
    """Correlation of the residual with itself shifted by each lag, (horizontal, vertical) x lags,
    averaged over the three channels."""
    result = np.zeros((2, len(LAGS)))
    for channel in range(3):
        plane = residual[..., channel] - residual[..., channel].mean()
        for i, lag in enumerate(LAGS):
            for direction, (a, b) in enumerate([(plane[:, :-lag], plane[:, lag:]), (plane[:-lag], plane[lag:])]):
                result[direction, i] += np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)) / 3
    return result


def psnr(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((np.float64(noisy) - clean) ** 2)))


def quantise(image: np.ndarray) -> np.ndarray:
    """Round to 8-bit levels, as training quantises synthetic pairs."""
    return np.round(np.clip(image, 0, 1) * 255) / 255


# --- noise models, each scalable by a strength multiplier -----------------------------------------


def camera_model(params: CameraNoiseParams, jpeg_quality: int | None | str = "sampled") -> NoiseModel:
    """Camera noise at ``params``; strength scales shot variance linearly and read variance along
    the shot-read line (slope 2.18), so a scaled camera stays a plausible camera."""

    def make_noisy(clean, strength, rng):
        scaled = dataclasses.replace(
            params,
            shot_variance=params.shot_variance * strength,
            read_variance=params.read_variance * strength**CameraNoiseRange().read_line[0],
            jpeg_quality=params.jpeg_quality if jpeg_quality == "sampled" else jpeg_quality,
        )
        return quantise(add_camera_noise(clean, scaled, rng))

    return make_noisy


def poisson_gaussian_model(level: PoissonGaussianLevel) -> NoiseModel:
    def make_noisy(clean, strength, rng):
        scaled = dataclasses.replace(level, shot_gain=level.shot_gain * strength, read_sigma=level.read_sigma * np.sqrt(strength))
        return quantise(add_poisson_gaussian_noise(clean, scaled, rng))

    return make_noisy


def gaussian_model(sigma: float) -> NoiseModel:
    def make_noisy(clean, strength, rng):
        return quantise(clean + rng.normal(0.0, sigma * np.sqrt(strength), clean.shape))

    return make_noisy


def level_matched(model: NoiseModel, clean: np.ndarray, target_variance: float, seed: int) -> np.ndarray:
    """The model's noisy crop at the strength whose residual variance equals ``target_variance``.

    Secant steps on log(variance) against log(strength), with the same random numbers at every
    step so that the variance is a smooth function of the strength.
    """

    def log_variance(log_strength: float) -> tuple[float, np.ndarray]:
        noisy = model(clean, float(np.exp(log_strength)), np.random.default_rng(seed))
        return float(np.log(np.var(noisy - clean) + 1e-12)), noisy

    target = np.log(target_variance)
    points = [(0.0, *log_variance(0.0)), (1.0, *log_variance(1.0))]
    for _ in range(8):
        (x0, y0, _), (x1, y1, _) = points[-2], points[-1]
        if abs(y1 - target) < 0.01:
            break
        slope = (y1 - y0) / (x1 - x0) if abs(x1 - x0) > 1e-9 and y1 != y0 else 1.0
        x2 = x1 + float(np.clip((target - y1) / max(slope, 0.1), -3, 3))
        points.append((x2, *log_variance(x2)))
    return min(points, key=lambda p: abs(p[1] - target))[2]


# --- data ---------------------------------------------------------------------------------------


def load_pairs(root: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[tuple[np.ndarray, np.ndarray]]]:
    """(PolyU train crops, 512x512 windows of the PolyU train full-size images) as float [0, 1] pairs."""
    crops = [(read_rgb_uint8(p.noisy) / 255.0, read_rgb_uint8(p.clean) / 255.0) for p in polyu_pairs(root, "train", "crops")]
    rng = np.random.default_rng(0)
    windows = []
    for pair in polyu_pairs(root, "train", "full"):
        noisy, clean = read_rgb_uint8(pair.noisy), read_rgb_uint8(pair.clean)
        for _ in range(FULL_WINDOWS_PER_IMAGE):
            top = rng.integers(0, clean.shape[0] - WINDOW + 1)
            left = rng.integers(0, clean.shape[1] - WINDOW + 1)
            window = np.s_[top : top + WINDOW, left : left + WINDOW]
            windows.append((noisy[window] / 255.0, clean[window] / 255.0))
    return crops, windows


# --- figures ------------------------------------------------------------------------------------

STYLES = {
    "PolyU crops (real)": {"color": "black", "lw": 2.2},
    "PolyU full, camera JPEG (real)": {"color": "black", "lw": 1.4, "ls": "--"},
    "camera noise, JPEG as sampled": {"color": "tab:blue", "lw": 2},
    "camera noise, no JPEG": {"color": "tab:blue", "lw": 1.2, "ls": ":"},
    "camera noise, no chroma NR, no JPEG": {"color": "tab:purple", "lw": 1.2, "ls": ":"},
    "camera noise, JPEG q75 4:2:0": {"color": "tab:cyan", "lw": 1.4, "ls": "-."},
    "camera noise + luma low-pass, JPEG as sampled": {"color": "tab:green", "lw": 2},
    "Poisson-Gaussian": {"color": "tab:orange", "lw": 1.6},
    "Gaussian": {"color": "tab:gray", "lw": 1.6},
}
IN_VARIANCE_FIGURE = ["PolyU crops (real)", "PolyU full, camera JPEG (real)", "camera noise, JPEG as sampled", "Poisson-Gaussian", "Gaussian"]


def plot_variance(stats: dict[str, ResidualStats], path: Path) -> None:
    centres = (BINS[:-1] + BINS[1:]) / 2 * 255
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
    for channel, (axis, name) in enumerate(zip(axes, ("red", "green", "blue"))):
        for label in IN_VARIANCE_FIGURE:
            axis.plot(centres, stats[label].std_by_intensity()[channel], label=label, **STYLES[label])
        axis.set_title(f"{name} channel")
        axis.set_xlabel("clean intensity (8-bit level)")
        axis.set_xlim(0, 255)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("residual std (8-bit levels)")
    axes[0].set_ylim(bottom=0)
    axes[2].legend(fontsize=7, loc="upper right")
    figure.suptitle("Residual noise vs clean intensity, PolyU train crops (synthetic models level-matched per crop)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_correlation(stats: dict[str, ResidualStats], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for direction, axis in enumerate(axes):
        for label, source in stats.items():
            axis.plot(LAGS, np.mean(source.autocorrelation, axis=0)[direction], marker="o", ms=3, label=label, **STYLES[label])
        axis.set_title(("horizontal", "vertical")[direction])
        axis.set_xlabel("lag (pixels)")
        axis.set_xticks(LAGS)
        axis.axhline(0, color="k", lw=0.5)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("residual autocorrelation")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    figure.suptitle("Spatial correlation of the residual (mean over crops and channels)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


# --- report -------------------------------------------------------------------------------------


def print_table(stats: dict[str, ResidualStats]) -> None:
    print("\n| source | std R / G / B | std Y / Cb / Cr | lag-1 h / v | lag-2 h / v | lag-4 h / v | corr R-G / G-B |")
    print("|---|---|---|---|---|---|---|")
    for label, source in stats.items():
        std = np.mean(source.channel_std, axis=0)
        ycbcr = np.mean(source.ycbcr_std, axis=0)
        auto = np.mean(source.autocorrelation, axis=0)
        channels = np.mean(source.channel_correlation, axis=0)
        lag = {lag: f"{auto[0, i]:.2f} / {auto[1, i]:.2f}" for i, lag in enumerate(LAGS)}
        print(
            f"| {label} | {std[0]:.2f} / {std[1]:.2f} / {std[2]:.2f} | {ycbcr[0]:.2f} / {ycbcr[1]:.2f} / {ycbcr[2]:.2f} "
            f"| {lag[1]} | {lag[2]} | {lag[4]} "
            f"| {channels[0]:.2f} / {channels[1]:.2f} |"
        )


def print_psnr_spread(label: str, values: list[float]) -> None:
    values = np.asarray(values)
    low, median, high = np.percentile(values, [5, 50, 95])
    print(f"| {label} | {len(values)} | {values.min():.1f} | {low:.1f} | {median:.1f} | {high:.1f} | {values.max():.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None, help="shared data folder (default: $LITEDENOISE_DATA)")
    parser.add_argument("--out", default="docs/img", help="folder for the two PNG figures")
    parser.add_argument("--samples-per-crop", type=int, default=3, help="default-range draws per crop for the PSNR spread")
    args = parser.parse_args()
    started = time.perf_counter()
    crops, windows = load_pairs(data_root(args.data))
    print(f"{len(crops)} PolyU train crops, {len(windows)} full-image windows ({time.perf_counter() - started:.0f} s)")

    stats = {label: ResidualStats() for label in STYLES}
    for noisy, clean in crops:
        stats["PolyU crops (real)"].add(clean, noisy)
    for noisy, clean in windows:
        stats["PolyU full, camera JPEG (real)"].add(clean, noisy)

    rng = np.random.default_rng(0)
    lowpass_rng = np.random.default_rng(1)  # its own generator: the other rows' draws stay as they were
    camera_range, pg_range = CameraNoiseRange(), PoissonGaussianRange()
    for index, (noisy, clean) in enumerate(crops):
        target = float(np.var(noisy - clean))
        camera = camera_range.sample(rng)
        lowpass = {
            "luma_lowpass_weight": lowpass_rng.uniform(*POLYU_LIKE.luma_lowpass_weight),
            "luma_lowpass_sigma": lowpass_rng.uniform(*POLYU_LIKE.luma_lowpass_sigma),
        }
        models = {
            "camera noise, JPEG as sampled": camera_model(camera),
            "camera noise, no JPEG": camera_model(camera, jpeg_quality=None),
            "camera noise, no chroma NR, no JPEG": camera_model(dataclasses.replace(camera, chroma_blur_sigma=0.0), jpeg_quality=None),
            "camera noise, JPEG q75 4:2:0": camera_model(camera, jpeg_quality=75),
            "camera noise + luma low-pass, JPEG as sampled": camera_model(dataclasses.replace(camera, **lowpass)),
            "Poisson-Gaussian": poisson_gaussian_model(pg_range.sample(rng)),
            "Gaussian": gaussian_model(np.sqrt(target)),
        }
        for label, model in models.items():
            stats[label].add(clean, level_matched(model, clean, target, seed=index))
    print(f"level-matched synthesis done ({time.perf_counter() - started:.0f} s)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_variance(stats, out / "noise_variance.png")
    plot_correlation(stats, out / "noise_correlation.png")
    print_table(stats)

    # Unscaled default ranges: which noise levels training would see, against PolyU's.
    camera_psnr, pg_psnr, polyu_like_psnr = [], [], []
    for _, clean in crops:
        for _ in range(args.samples_per_crop):
            camera_psnr.append(psnr(clean, quantise(add_camera_noise(clean, camera_range.sample(rng), rng))))
            pg_psnr.append(psnr(clean, quantise(add_poisson_gaussian_noise(clean, pg_range.sample(rng), rng))))
            polyu_like_psnr.append(psnr(clean, quantise(add_camera_noise(clean, POLYU_LIKE.sample(lowpass_rng), lowpass_rng))))
    print("\n| noisy PSNR (dB) | n | min | 5 % | median | 95 % | max |")
    print("|---|---|---|---|---|---|---|")
    print_psnr_spread("PolyU train crops (real)", stats["PolyU crops (real)"].psnr)
    print_psnr_spread("PolyU train full windows (real)", stats["PolyU full, camera JPEG (real)"].psnr)
    print_psnr_spread("CameraNoiseRange() defaults", camera_psnr)
    print_psnr_spread("PoissonGaussianRange() defaults", pg_psnr)
    print_psnr_spread("POLYU_LIKE (shot variance 2e-4 to 2e-3, luma low-pass)", polyu_like_psnr)
    print(f"\ndone in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
