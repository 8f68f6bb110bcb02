"""Spin attention: the O(3)- and lattice-equivariant transformer that makes effective spins.

One layer maps a field of 3-vectors ``s`` ``(..., N, 3)`` to another. For each head ``h``:

    Q^h = sum_n wq[h, n] A_n s,   K^h = sum_n wk[h, n] A_n s,   V^h = sum_n wv[h, n] A_n s
    a^h_ij = softmax_j( Q^h_i . K^h_j + b[h, shell(i, j)] )
    s_i <- normalise( s_i + sum_h sum_j a^h_ij V^h_j )

``A_n`` are the 0/1 shell matrices (shell 0 = the site itself). Every weight is a scalar per shell,
so a global rotation or reflection R acts on Q, K, V as on s and never mixes spin components; the
attention weights come from dot products and shell indices, which are invariant. Shells are unions
of orbits of the lattice translations and D4, so the layer commutes with those too. The output is
normalised site by site, so effective spins are unit vectors like the physical ones.

:class:`EffectiveModel` stacks the layers under a :class:`~noether.lattice.shells.ShellEnergy`
head; with no layers it *is* the linear model of SLMC.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from noether.lattice.geometry import SquareLattice
from noether.lattice.shells import ShellEnergy


def shell_convolution(spins: Tensor, weights: Tensor, shells: Tensor) -> Tensor:
    """``sum_n w[h, n] A_n s`` per head: spins ``(..., N, 3)``, weights ``(H, K+1)`` -> ``(..., H, N, 3)``.

    Computed as one matrix product ``(H N, N) @ (N, batch * 3)``.
    """
    n = spins.shape[-2]
    kernel = torch.einsum("hn,nij->hij", weights, shells).reshape(-1, n)
    batch = spins.shape[:-2]
    columns = spins.reshape(-1, n, 3).transpose(0, 1).reshape(n, -1)
    out = (kernel @ columns).reshape(weights.shape[0], n, -1, 3).permute(2, 0, 1, 3)
    return out.reshape(*batch, weights.shape[0], n, 3)


def normalise(vectors: Tensor, eps: float = 1e-12) -> Tensor:
    """Site-wise unit vectors ``v / sqrt(|v|^2 + eps)``: equivariant under O(3)."""
    return vectors * torch.rsqrt((vectors * vectors).sum(-1, keepdim=True) + eps)


class SpinAttention(nn.Module):
    """One equivariant attention layer with residual connection and site-wise normalisation."""

    def __init__(self, lattice: SquareLattice, n_heads: int = 2, n_shells: int | None = None):
        super().__init__()
        self.register_buffer("shells", lattice.shell_matrices(n_shells), persistent=False)
        k = self.shells.shape[0]
        index = lattice.shell_index.clamp_max(k)  # pairs beyond the last shell share one bias
        self.register_buffer("pair_shell", index, persistent=False)
        self.query = nn.Parameter(0.3 * torch.randn(n_heads, k, dtype=torch.float64))
        self.key = nn.Parameter(0.3 * torch.randn(n_heads, k, dtype=torch.float64))
        self.value = nn.Parameter(torch.zeros(n_heads, k, dtype=torch.float64))
        self.bias = nn.Parameter(torch.zeros(n_heads, k + 1, dtype=torch.float64))

    def forward(self, spins: Tensor) -> Tensor:
        heads = self.query.shape[0]
        weights = torch.cat([self.query, self.key, self.value])  # (3H, K+1)
        qkv = shell_convolution(spins, weights, self.shells)  # (..., 3H, N, 3)
        q, k, v = qkv.split(heads, dim=-3)
        logits = q @ k.transpose(-1, -2) + self.bias[:, self.pair_shell]
        update = (torch.softmax(logits, dim=-1) @ v).sum(-3)
        return normalise(spins + update)


class EffectiveModel(nn.Module):
    """Effective energy ``E_eff[S] = E_0 - sum_n J_n sum_<ij>_n S^eff_i . S^eff_j``.

    ``S^eff`` is the output of ``n_layers`` :class:`SpinAttention` layers (``S^eff = S`` for
    ``n_layers = 0``: the linear model). Input spins ``(..., N, 3)`` (cast to ``dtype``), output
    energy ``(...)`` in ``dtype``. float64 for exactness checks; float32 samples and trains about
    three times faster on CPU and is just as exact inside SLMC (the Metropolis test only needs
    ``E_eff`` to be a fixed function of the spins).
    """

    def __init__(
        self,
        lattice: SquareLattice,
        n_layers: int = 0,
        n_heads: int = 2,
        n_shells: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if n_layers < 0 or n_heads < 1:
            raise ValueError(f"need n_layers >= 0 and n_heads >= 1, got {n_layers}, {n_heads}")
        self.L = lattice.L
        self.n_layers, self.n_heads, self.n_shells_arg = n_layers, n_heads, n_shells
        self.layers = nn.ModuleList(
            SpinAttention(lattice, n_heads, n_shells) for _ in range(n_layers)
        )
        self.head = ShellEnergy(lattice, n_shells)
        self.to(dtype)

    @property
    def dtype(self) -> torch.dtype:
        return self.head.offset.dtype

    def effective_spins(self, spins: Tensor) -> Tensor:
        for layer in self.layers:
            spins = layer(spins)
        return spins

    def forward(self, spins: Tensor) -> Tensor:
        return self.head(self.effective_spins(spins.to(self.dtype)))

    def grown(self) -> EffectiveModel:
        """A copy with one more, freshly initialised layer on top.

        A fresh layer is the identity (its value weights are zero), so the grown model computes
        exactly what this one does: training it starts from this model's loss.
        """
        lattice = SquareLattice(self.L)
        bigger = EffectiveModel(
            lattice, self.n_layers + 1, self.n_heads, self.n_shells_arg, dtype=self.dtype
        )
        state = {k: v for k, v in bigger.state_dict().items()}
        state.update(self.state_dict())
        bigger.load_state_dict(state)
        return bigger

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def config(self) -> dict:
        return {
            "L": self.L,
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "n_shells": self.n_shells_arg,
            "dtype": str(self.dtype).removeprefix("torch."),
        }
