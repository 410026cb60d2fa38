"""Resumed and multi-process training take exactly the steps a single uninterrupted run takes."""

import os
import signal
import subprocess
import sys
import textwrap

import torch

from litedenoise.train import loop
from litedenoise.train.config import config_to_yaml, make_config


def two_stage_config(**changes):
    values = dict(
        width=2, real_pair_sets=["pairs"], clean_photo_dirs=["photos"], real_fraction=0.5, val_set="pairs",
        stages=[{"crop_size": 16, "batch_size": 4, "steps": 3}, {"crop_size": 32, "batch_size": 2, "steps": 3}],
        warmup_steps=2, val_every=100, checkpoint_every=1, num_workers=1,
    )
    return make_config({**values, **changes})


def final_state(run_dir):
    return torch.load(run_dir / loop.CHECKPOINT_NAME, weights_only=True)


def max_difference(first: dict, second: dict) -> float:
    return max(float((first[key].float() - second[key].float()).abs().max()) for key in first)


def test_a_run_killed_just_after_a_stage_boundary_resumes_to_the_same_weights(tmp_path, data_root):
    config = two_stage_config()
    loop.train(config, tmp_path / "uninterrupted", data_root)

    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "config.yaml").write_text(config_to_yaml(config))
    # The child process SIGKILLs itself right after writing the checkpoint of step 4,
    # one step into the second stage: no clean shutdown, no final flush.
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from litedenoise.train import loop
        from litedenoise.train.config import load_recipe
        original = loop.save_checkpoint
        def save_then_die(path, **state):
            original(path, **state)
            if state["step"] == 4:
                os.kill(os.getpid(), signal.SIGKILL)
        loop.save_checkpoint = save_then_die
        loop.train(load_recipe(Path({str(killed / "config.yaml")!r})), Path({str(killed)!r}), Path({str(data_root)!r}))
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert final_state(killed)["step"] == 4

    loop.train(config, killed, data_root, resume=True)
    resumed, uninterrupted = final_state(killed), final_state(tmp_path / "uninterrupted")
    assert resumed["step"] == uninterrupted["step"] == 6
    assert max_difference(resumed["model"], uninterrupted["model"]) <= 1e-6
    assert max_difference(resumed["ema"], uninterrupted["ema"]) <= 1e-6


def test_two_gloo_processes_with_disjoint_shards_match_one_process(tmp_path, data_root):
    config = two_stage_config(num_workers=0, checkpoint_every=100)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(config_to_yaml(config))
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    common = ["train", "student", "--recipe", str(recipe), "--data", str(data_root)]
    single = subprocess.run(
        [sys.executable, "-m", "litedenoise.cli", *common, "--run-dir", str(tmp_path / "one")],
        env=environment, capture_output=True, text=True,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    double = subprocess.run(
        [*torchrun, "-m", "litedenoise.cli", *common, "--run-dir", str(tmp_path / "two")],
        env=environment, capture_output=True, text=True,
    )
    assert double.returncode == 0, double.stderr[-3000:]
    one, two = final_state(tmp_path / "one"), final_state(tmp_path / "two")
    assert one["step"] == two["step"] == 6
    # Gradients are averaged in a different order than one process sums them: float rounding only.
    assert max_difference(one["model"], two["model"]) <= 1e-5
