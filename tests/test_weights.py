import pytest
import torch
from safetensors.torch import save_file

from litedenoise.errors import LiteDenoiseError
from litedenoise.models import LiteDenoiseNet
from litedenoise.weights import interpolate_models, load_model, read_metadata, save_weights


def test_saved_weights_reload_with_their_metadata_and_identical_outputs(tmp_path):
    model = LiteDenoiseNet(width=4).eval()
    path = tmp_path / "tiny.safetensors"
    save_weights(path, model, {"data": "unit test", "val_psnr": "12.34"})
    metadata = read_metadata(path)
    assert metadata["architecture"] == "LiteDenoiseNet"
    assert metadata["width"] == "4" and metadata["data"] == "unit test"
    assert int(metadata["params"]) == sum(p.numel() for p in model.parameters())
    reloaded = load_model(path)
    image = torch.rand(1, 3, 32, 32)
    assert torch.equal(reloaded(image), model(image))


def test_weights_saved_in_fp16_take_half_the_file_and_reload_as_fp32_rounded_to_half(tmp_path):
    model = LiteDenoiseNet(width=4).eval()
    save_weights(tmp_path / "fp32.safetensors", model, {})
    save_weights(tmp_path / "fp16.safetensors", model, {}, dtype=torch.float16)
    fp32_size, fp16_size = ((tmp_path / name).stat().st_size for name in ("fp32.safetensors", "fp16.safetensors"))
    assert fp16_size < 0.6 * fp32_size
    reloaded = load_model(tmp_path / "fp16.safetensors")
    for (name, original), (_, loaded) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert loaded.dtype == torch.float32 and torch.equal(loaded, original.half().float()), name


def test_tensors_that_do_not_fit_the_architecture_are_refused_with_the_mismatch(tmp_path):
    path = tmp_path / "wrong.safetensors"
    state = LiteDenoiseNet(width=4).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"architecture": "LiteDenoiseNet", "width": "8"})
    with pytest.raises(LiteDenoiseError, match="wrong shape"):
        load_model(path)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "fake.safetensors"
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(LiteDenoiseError, match="not a readable safetensors"):
        load_model(path)


def test_unknown_names_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(LiteDenoiseError, match="not found"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(LiteDenoiseError, match="no shipped weights"):
        load_model("teacher")


def test_interpolation_blends_every_tensor_and_keeps_its_endpoints():
    torch.manual_seed(0)
    start, end = LiteDenoiseNet(width=4).eval(), LiteDenoiseNet(width=4).eval()
    end_before = {key: tensor.clone() for key, tensor in end.state_dict().items()}
    for fraction, expected in ((0.0, start), (1.0, end)):
        blended = interpolate_models(start, end, fraction)
        assert all(torch.equal(a, b) for a, b in zip(blended.state_dict().values(), expected.state_dict().values(), strict=True))
    middle = interpolate_models(start, end, 0.25).state_dict()
    for key, tensor in end.state_dict().items():
        assert torch.allclose(middle[key], 0.75 * start.state_dict()[key] + 0.25 * tensor)
    assert not torch.equal(middle["in_conv.weight"], end.state_dict()["in_conv.weight"])
    assert all(torch.equal(end_before[key], tensor) for key, tensor in end.state_dict().items())


def test_interpolation_refuses_networks_of_different_shapes_and_fractions_outside_0_1():
    with pytest.raises(LiteDenoiseError, match="cannot interpolate"):
        interpolate_models(LiteDenoiseNet(width=4), LiteDenoiseNet(width=8), 0.5)
    with pytest.raises(LiteDenoiseError, match="fraction"):
        interpolate_models(LiteDenoiseNet(width=4), LiteDenoiseNet(width=4), 1.5)


@pytest.mark.parametrize(
    "target, options, message",
    [
        ("w.safetensors", {"dtype": torch.int8}, "float type"),
        ("w.safetensors", {"metadata": {"architecture": "TeacherNet"}}, "metadata architecture=TeacherNet contradicts the network"),
        (".", {}, "it is a folder"),
        ("missing/w.safetensors", {}, "no folder"),
    ],
    ids=["int8", "reserved-key", "folder", "no-parent"],
)
def test_save_weights_refuses_what_would_write_a_wrong_file_and_leaves_nothing(tmp_path, target, options, message):
    path = tmp_path / target
    with pytest.raises(LiteDenoiseError, match=message):
        save_weights(path, LiteDenoiseNet(width=2), options.get("metadata", {}), **({"dtype": options["dtype"]} if "dtype" in options else {}))
    assert sorted(p.name for p in tmp_path.rglob("*")) == []


def test_a_folder_named_student_in_the_working_directory_does_not_hide_the_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "student").mkdir()
    assert load_model("student").metadata["architecture"] == "LiteDenoiseNet"


def test_saved_weights_get_the_permissions_of_any_new_file(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        save_weights(tmp_path / "w.safetensors", LiteDenoiseNet(width=2), {})
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "w.safetensors").stat().st_mode) == 0o644  # not 0600: others may read shared weights
