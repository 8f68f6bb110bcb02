import pytest
import torch
from atoms_testkit import PairMLP

from noether.atoms.checkpoint import load_potential, save_potential
from noether.atoms.reference import Morse


def test_round_trip_rebuilds_class_weights_dtype_and_priors(tmp_path):
    model = PairMLP(cutoff=3.5, hidden=8, dtype=torch.float64)
    model.scale_shift.set(1.7, -0.3)
    model.atomref.energies[6] = -1000.0
    save_potential(tmp_path / "m.pt", model, note="test")
    back = load_potential(tmp_path / "m.pt")
    assert type(back) is PairMLP and back.cutoff == 3.5 and back.dtype == torch.float64
    assert back.hparams == {"cutoff": 3.5, "hidden": 8, "dtype": "torch.float64"}
    z = torch.tensor([6, 1, 8])
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0.2, 0], [0, 1.2, 0.3]], dtype=torch.float64)
    a, b = model.eval()(z, pos), back(z, pos)
    assert torch.equal(a["energy"], b["energy"]) and torch.equal(a["forces"], b["forces"])


def test_bad_checkpoints(tmp_path):
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"not a noether potential checkpoint"):
        load_potential(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk.pt: not a readable noether checkpoint"):
        load_potential(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        load_potential(tmp_path / "none.pt")
    with pytest.raises(TypeError, match="needs a noether Potential"):
        save_potential(tmp_path / "x.pt", torch.nn.Linear(2, 2))
    save_potential(tmp_path / "morse.pt", Morse())
    assert isinstance(load_potential(tmp_path / "morse.pt"), Morse)
