"""`noether train --init-from RUN --freeze PREFIXES`: fine-tuning from the command line, end to end
on tiny molecular data (an ET trained on C, H, O, fine-tuned on a molecule with nitrogen)."""

import pytest
import torch
import yaml
from atoms_testkit import morse_frames

from noether.cli import main
from noether.core.checkpoints import load_trained_model

TINY_ET = {"name": "et", "hidden": 8, "layers": 2, "heads": 2, "num_rbf": 4, "max_z": 10}


def _config(path, data, run_dir):
    config = {
        "model": TINY_ET,
        "task": {"name": "atoms", "path": str(data)},
        "data": {"batch_size": 4},
        "trainer": {"max_epochs": 2, "precision": "64", "progress_bar": False},
        "run": {"dir": str(run_dir)},
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    morse_frames(root / "cho.h5", [6, 6, 8, 1, 1, 1], 20, seed=0)
    morse_frames(root / "chno.h5", [6, 7, 8, 1, 1, 1], 20, seed=1)
    assert main(["train", _config(root / "src.yaml", root / "cho.h5", root / "src")]) == 0
    return root


def test_init_from_and_freeze_on_the_command_line(source, tmp_path, capsys):
    config = _config(tmp_path / "ft.yaml", source / "chno.h5", tmp_path / "ft")
    status = main(
        ["train", config, "--init-from", str(source / "src"), "--freeze", "embedding, layers.0",
         "--optim.lr=3e-4"]
    )  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "new elements N: rows of embedding.weight" in out
    assert "frozen: embedding, layers.0" in out
    saved = yaml.safe_load((tmp_path / "ft" / "config.yaml").read_text())
    assert saved["finetune"] == {
        "init_from": str(source / "src"),
        "freeze": ["embedding", "layers.0"],
        "new_elements": "mean",
    }
    assert saved["optim"]["lr"] == 3e-4
    before = load_trained_model(source / "src").state_dict()
    after = load_trained_model(tmp_path / "ft", prefer="last.ckpt").state_dict()
    for key in before:
        if key.startswith("layers.0."):
            assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["layers.1.qkv.weight"], before["layers.1.qkv.weight"])


def test_an_unknown_prefix_is_one_line_and_status_2(source, tmp_path, capsys):
    config = _config(tmp_path / "ft.yaml", source / "chno.h5", tmp_path / "ft")
    assert main(["train", config, "--init-from", str(source / "src"), "--freeze", "layer.0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("noether train: error: finetune.freeze: 'layer.0' names no parameter")
    assert "embedding, neighbor_embedding, layers.0, layers.1, out_norm, head" in err
    assert "\n" not in err and not (tmp_path / "ft").exists()


def test_another_width_is_refused_with_one_line(source, tmp_path, capsys):
    config = _config(tmp_path / "ft.yaml", source / "chno.h5", tmp_path / "ft")
    status = main(["train", config, "--init-from", str(source / "src"), "--model.hidden=4"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert "incompatible model (model.hidden: 8 there, 4 here)" in err and "\n" not in err
