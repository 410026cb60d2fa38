import numpy as np
import pytest
import torch
from PIL import Image

from litedenoise.models.student import LiteDenoiseNet
from litedenoise.weights import save_weights


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def _export_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("export-cache")


@pytest.fixture(autouse=True)
def _private_export_cache(_export_cache, monkeypatch):
    """Exports a test does not place itself (``denoise --runtime onnx``, ``eval --runtime tflite``)
    go to a folder of the test session, never to the user's ~/.cache."""
    monkeypatch.setenv("LITEDENOISE_CACHE", str(_export_cache))


@pytest.fixture()
def data_root(tmp_path):
    """A tiny training data folder: 3 noisy/clean pairs in pairs/ and one clean photo in photos/."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for index in range(3):
        clean = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
        for kind, image in (("noisy", noisy), ("clean", clean)):
            (root / "pairs" / kind).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "pairs" / kind / f"{index}.png")
    (root / "photos").mkdir()
    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(root / "photos" / "p.png")
    return root


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A width-2 student saved as a .safetensors file (seed 0)."""
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    torch.manual_seed(0)
    save_weights(path, LiteDenoiseNet(width=2), {"data": "test"})
    return path
