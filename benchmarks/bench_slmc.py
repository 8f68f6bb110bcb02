"""Cost of one exact energy (the SLMC bottleneck): noether's batched torch path vs a numpy loop.

The peer is the straightforward reference implementation: build ``h[S]`` per configuration and
call ``numpy.linalg.eigvalsh`` one matrix at a time. Prints milliseconds per configuration, the
ratio, and the cost of one effective-model forward pass for comparison. Best of 5 repeats,
in CPU time.

Both sides run on one thread: numpy's OpenBLAS would otherwise start a thread per core, and on a
shared machine those threads stall each other (an early version of this script compared one torch
thread with two OpenBLAS threads and reported 3-7x instead of the 0.8-1.5x of a fair comparison).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"  # before numpy loads its BLAS

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from noether.lattice import DoubleExchangeModel, EffectiveModel, random_spins  # noqa: E402

PAULI = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.array([[1, 0], [0, -1]])]


def numpy_energy(model: DoubleExchangeModel, spins: np.ndarray, hop: np.ndarray) -> float:
    h = hop.astype(complex)
    for i in range(model.n_sites):
        h[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] += (
            0.5 * model.J * sum(spins[i, a] * PAULI[a] for a in range(3))
        )
    x = -(np.linalg.eigvalsh(h) - model.mu) / model.T
    return float(-model.T * np.logaddexp(0.0, x).sum())


def best(fn, repeats: int = 5) -> float:
    """Least CPU time of ``repeats`` calls, in s: one thread, so it is the work, whatever else
    the machine runs (wall time on a shared machine is mostly waiting)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    torch.set_num_threads(1)
    batch = 32
    for L in (6, 8, 10):
        model = DoubleExchangeModel(L=L, J=4.0, mu=-3.0, T=0.03)
        spins = random_spins(batch, n_sites=model.n_sites)
        hop = np.kron(model.lattice.hopping_matrix().numpy(), np.eye(2))
        check = np.array([numpy_energy(model, s, hop) for s in spins[:4].numpy()])
        gap = np.abs(model.energy(spins[:4]).numpy() - check).max()
        if gap > 1e-9:  # never time two implementations that disagree
            raise SystemExit(f"L={L}: ours and the numpy loop differ by {gap:.3g}")
        ours = best(lambda: model.energy(spins)) / batch  # noqa: B023
        peer = best(lambda: [numpy_energy(model, s, hop) for s in spins.numpy()]) / batch  # noqa: B023
        eff = EffectiveModel(model.lattice, n_layers=6, dtype=torch.float32)
        with torch.no_grad():
            forward = best(lambda: eff(spins)) / batch  # noqa: B023
        print(
            f"L={L:2d} (2N={2 * model.n_sites:3d}): exact energy ours {ours * 1e3:.3f} ms, "
            f"numpy loop {peer * 1e3:.3f} ms, ratio {peer / ours:.2f}x; "
            f"6-layer effective model forward {forward * 1e3:.3f} ms per configuration"
        )


if __name__ == "__main__":
    main()
