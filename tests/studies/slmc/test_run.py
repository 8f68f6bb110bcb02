import json

import pytest
import torch

from noether.cli import main


def test_slmc_command_writes_table_plots_and_checkpoints(tmp_path):
    threads = torch.get_num_threads()
    argv = ["slmc", "--L", "3", "--J", "4", "--mu", "-2", "--temperature", "0.2", "--max-layers", "1",
            "--chains", "2", "--ref-sweeps", "6", "--train-steps", "4", "--slmc-steps", "6",
            "--scan-sweeps", "6", "--temperatures", "0.3", "--out", str(tmp_path)]  # fmt: skip
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    for name in ("table.md", "results.json", "acceptance_vs_layers.png", "loss_vs_parameters.png",
                 "acceptance_vs_loss.png", "magnetisation_vs_T.png", "model-0-layers.pt",
                 "model-1-layers.pt"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0, name
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["layers"] for r in results["models"]] == [0, 1]
    assert [s["T"] for s in results["scan"]] == [0.2, 0.3]
    assert 0 <= results["models"][1]["acceptance"] <= 1
    table = (tmp_path / "table.md").read_text()
    assert "reference Metropolis" in table and "SLMC transformer" in table
    assert "Sokal's window not reached" in table
    for row in [results["reference"], *results["models"]]:
        assert isinstance(row["tau_m_window"], bool) and isinstance(row["tau_e_window"], bool)
    checkpoint = torch.load(tmp_path / "model-1-layers.pt")
    assert checkpoint["config"]["n_layers"] == 1 and checkpoint["physics"]["L"] == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--L", "1"], "lattice size L must be an integer >= 2, got 1"),
        (["--temperature", "0"], "temperature T must be positive"),
        (["--temperature", "-0.1"], "temperature T must be positive"),
        (["--temperatures", "0.05,-1"], "--temperatures must all be positive and finite, got -1.0"),
        (["--temperatures", "0.05,x"], "--temperatures must be comma-separated numbers"),
        (["--max-layers", "-1"], "--max-layers must be at least 0"),
        (["--chains", "1"], "--chains must be at least 2"),
        (["--scale", "0"], "--scale must be positive"),
    ],
)
def test_slmc_command_refuses_bad_options_before_sampling(tmp_path, capsys, options, message):
    assert main(["slmc", *options, "--out", str(tmp_path / "out")]) == 2
    assert f"noether slmc: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing started, nothing written
