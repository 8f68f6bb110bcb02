"""Equiformer: one training step (forward + force double backward) of noether's block against a
straightforward e3nn implementation of the same block, and against equiformer-pytorch.

    .venv/bin/python benchmarks/bench_equiformer.py            # paper irreps, 4 x 21-atom molecules
    .venv/bin/python benchmarks/bench_equiformer.py --quick    # small sizes, a smoke run

What is timed: positions -> edge harmonics and radial basis -> one transformer block (MLP attention,
non-linear messages, the paper's L_max=2 irreps) -> energy = sum of the output scalars; forces
-dE/dr with ``create_graph=True``; loss = E² + |F|²; backward to every parameter. That is one step
of energy+force training. The e3nn reference gets noether's weights and must agree to 1e-9 (float64)
before it is timed, so the two are the same function. equiformer-pytorch (lucidrains) is not the
paper's architecture (its own basis, dense k-NN batches); it is timed at a comparable size
(degrees 0-2 of widths 128/64/32, 4 heads, one block, MLP attention; its MLP attention needs
``attend_self=True`` in 0.5.4, which adds self-pairs) as a second reference point.

Timings are the best of ``--repeat`` runs; on a shared machine they are noisy (say so when quoting).
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from e3nn import nn as e3nn_nn
from e3nn import o3
from torch import Tensor, nn

from noether.atoms.models.equiformer.attention import smooth_leaky_relu
from noether.atoms.models.equiformer.block import TransformerBlock
from noether.atoms.models.equiformer.radial import cosine_cutoff, radial_basis
from noether.atoms.models.equiformer.tensor_product import SeparableTensorProduct

PAPER = dict(
    irreps_node="128x0e+64x1e+32x2e",
    irreps_sh="1x0e+1x1e+1x2e",
    irreps_head="32x0e+16x1e+8x2e",
    num_heads=4,
    irreps_mlp_mid="384x0e+192x1e+96x2e",
)
QUICK = dict(
    irreps_node="16x0e+8x1e+4x2e",
    irreps_sh="1x0e+1x1e+1x2e",
    irreps_head="8x0e+4x1e+2x2e",
    num_heads=2,
    irreps_mlp_mid="48x0e+24x1e+12x2e",
)


# ----------------------------------------------------------------------------------------------
# The straightforward e3nn implementation: mul_ir layout, o3.TensorProduct, o3.Linear, nn.Gate.
# ----------------------------------------------------------------------------------------------
def _weight_views(lin: o3.Linear):
    """``(instruction, view (mul_in, mul_out))`` of an ``o3.Linear``'s weights (biases skipped)."""
    offset = 0
    for ins in lin.instructions:
        if ins.i_in == -1:
            continue
        size = math.prod(ins.path_shape)
        yield ins, lin.weight.narrow(-1, offset, size).view(ins.path_shape)
        offset += size


def _copy_linear(ref: o3.Linear, weights: dict[o3.Irrep, Tensor], bias: Tensor | None) -> None:
    """Load ``ref`` with per-irrep matrices ``(mul_in, mul_out)`` whose scale is in the weights."""
    with torch.no_grad():
        for ins, view in _weight_views(ref):
            ir = ref.irreps_in[ins.i_in].ir
            view.copy_(weights[ir] / ins.path_weight)
        if bias is not None:
            ref.bias.copy_(bias)


def linear_from_ours(ours) -> o3.Linear:
    ref = o3.Linear(ours.irreps_in, ours.irreps_out, biases=ours.bias is not None)
    weights = {ours.layout_in.blocks[k_in].ir: w for (k_in, _), w in zip(ours._paths, ours.weights)}
    _copy_linear(ref, weights, ours.bias)
    return ref


class E3nnSeparableTP(nn.Module):
    """e3nn ``TensorProduct`` (uvu, path_normalization='none') then ``o3.Linear``, with the
    weights of a noether :class:`SeparableTensorProduct`."""

    def __init__(self, ours: SeparableTensorProduct, outputs: list[tuple[str, o3.Irreps, slice]]):
        super().__init__()
        inst = [(p.i1, p.i2, k, "uvu", True) for k, p in enumerate(ours.paths)]
        self.edge_weights = ours.edge_weights
        self.tp = o3.TensorProduct(
            ours.irreps_in, ours.irreps_sh, ours.irreps_mid, inst,
            internal_weights=not ours.edge_weights, shared_weights=not ours.edge_weights,
            path_normalization="none",
        )  # fmt: skip
        # where each e3nn path's weights and linear rows live in the noether module
        perm, rows = [], []
        for g in ours._groups:
            members = [
                k for k, p in enumerate(ours.paths) if p.i1 == g.k_in and p.ir_out == g.ir_out
            ]
            mul = ours.layout_in.blocks[g.k_in].mul
            for j, k in enumerate(members):
                perm.append(
                    (k, torch.arange(g.weight_start + j * mul, g.weight_start + (j + 1) * mul))
                )
                rows.append((k, g, j, mul))
        perm.sort(key=lambda t: t[0])
        self.register_buffer("perm", torch.cat([p for _, p in perm]), persistent=False)
        if not ours.edge_weights:
            with torch.no_grad():
                self.tp.weight.copy_(ours.weight[self.perm])
        # one o3.Linear per requested output: (name, irreps, channel slice of the 0e block or None)
        self.linears = nn.ModuleDict()
        rows.sort(key=lambda t: t[0])
        for name, irreps, scalar_slice in outputs:
            lin = o3.Linear(ours.irreps_mid, irreps, biases=True)
            with torch.no_grad():
                for ins, view in _weight_views(lin):
                    k, g, j, mul = rows[ins.i_in]
                    w = ours.linear_weights[g.linear_index][j * mul : (j + 1) * mul]
                    if g.ir_out == o3.Irrep("0e"):
                        w = w[:, scalar_slice]
                    view.copy_(w / ins.path_weight)
                lin.bias.copy_(ours.bias[scalar_slice])
            self.linears[name] = lin

    def forward(self, x: Tensor, sh: Tensor, weight: Tensor | None = None) -> dict[str, Tensor]:
        t = self.tp(x, sh, weight[:, self.perm]) if self.edge_weights else self.tp(x, sh)
        return {name: lin(t) for name, lin in self.linears.items()}


class E3nnLayerNorm(nn.Module):
    """The paper's per-degree layer norm in e3nn's mul_ir layout."""

    def __init__(self, ours):
        super().__init__()
        self.irreps, self.eps = ours.irreps, ours.eps
        self.weight, self.bias = ours.weight, ours.bias

    def forward(self, x: Tensor) -> Tensor:
        out, iw = [], 0
        for (mul, ir), sl in zip(self.irreps, self.irreps.slices()):
            f = x[:, sl].reshape(-1, mul, ir.dim)
            if ir == o3.Irrep("0e"):
                f = f - f.mean(dim=1, keepdim=True)
            norm = f.pow(2).mean(-1).mean(dim=1, keepdim=True)
            f = f * ((norm + self.eps).pow(-0.5) * self.weight[None, iw : iw + mul]).unsqueeze(-1)
            iw += mul
            if ir == o3.Irrep("0e"):
                f = f + self.bias.reshape(mul, 1)
            out.append(f.reshape(-1, mul * ir.dim))
        return torch.cat(out, dim=-1)


def e3nn_gate(irreps_out: o3.Irreps) -> e3nn_nn.Gate:
    scalars = o3.Irreps([(m, ir) for m, ir in irreps_out if ir == o3.Irrep("0e")])
    gated = o3.Irreps([(m, ir) for m, ir in irreps_out if ir != o3.Irrep("0e")])
    gates = o3.Irreps(f"{gated.num_irreps}x0e")
    return e3nn_nn.Gate(scalars, [torch.nn.functional.silu], gates, [torch.sigmoid], gated)


class E3nnBlock(nn.Module):
    """The Equiformer block written the straightforward way on e3nn, loaded from a noether
    :class:`TransformerBlock` (MLP attention, non-linear messages)."""

    def __init__(self, ours: TransformerBlock):
        super().__init__()
        ga = ours.attention
        self.heads, self.mul_alpha = ga.num_heads, ga.mul_alpha
        self.irreps_head = ga.irreps_head
        self.norm_1, self.norm_2 = E3nnLayerNorm(ours.norm_1), E3nnLayerNorm(ours.norm_2)
        self.merge_src, self.merge_dst = (
            linear_from_ours(ga.merge_src),
            linear_from_ours(ga.merge_dst),
        )
        self.radial = ga.radial
        gate_in = ga.gate.irreps_in
        n0 = gate_in.count(o3.Irrep("0e"))
        first = [
            ("alpha", o3.Irreps(f"{self.mul_alpha}x0e"), slice(0, self.mul_alpha)),
            ("gate", gate_in, slice(self.mul_alpha, self.mul_alpha + n0)),
        ]
        self.dtp_1 = E3nnSeparableTP(ga.dtp_1, first)
        self.gate = e3nn_gate(ga.gate.irreps_out)
        heads = ga.heads_layout.irreps
        self.dtp_2 = E3nnSeparableTP(
            ga.dtp_2, [("value", heads, slice(0, heads.count(o3.Irrep("0e"))))]
        )
        self.alpha_dot = ga.alpha_dot
        self.proj = linear_from_ours(ga.proj)
        self.ffn_1 = linear_from_ours(ours.ffn.linear_1)
        self.ffn_gate = e3nn_gate(ours.ffn.gate.irreps_out)
        self.ffn_2 = linear_from_ours(ours.ffn.linear_2)
        self.heads_irreps = heads

    def _split_heads(self, v: Tensor) -> Tensor:  # (E, dim) -> (E, H, dim / H), the paper's order
        out = []
        for sl in self.heads_irreps.slices():
            out.append(v[:, sl].reshape(v.shape[0], self.heads, -1))
        return torch.cat(out, dim=2)

    def _join_heads(self, v: Tensor) -> Tensor:
        out, start = [], 0
        for mul, ir in self.irreps_head:
            width = mul * ir.dim
            out.append(v[:, :, start : start + width].reshape(v.shape[0], -1))
            start += width
        return torch.cat(out, dim=1)

    def forward(self, x, edge_index, sh, basis, envelope):
        t, s = edge_index[0], edge_index[1]
        h = self.norm_1(x)
        x_ts = self.merge_src(h)[s] + self.merge_dst(h)[t]
        f = self.dtp_1(x_ts, sh, self.radial(basis))
        value = self.dtp_2(self.gate(f["gate"]), sh)["value"]
        alpha = smooth_leaky_relu(f["alpha"].view(-1, self.heads, self.mul_alpha // self.heads))
        logits = torch.einsum("ehk,hk->eh", alpha, self.alpha_dot)
        top = torch.zeros(x.shape[0], self.heads, dtype=x.dtype).index_reduce(
            0, t, logits.detach(), "amax", include_self=False
        )
        p = torch.exp(logits - top[t]) * envelope[:, None]
        alpha = p / torch.zeros_like(top).index_add(0, t, p)[t]
        message = self._split_heads(value) * (alpha * envelope[:, None]).unsqueeze(-1)
        agg = torch.zeros(x.shape[0], self.heads, message.shape[-1], dtype=x.dtype)
        x = x + self.proj(self._join_heads(agg.index_add(0, t, message)))
        return x + self.ffn_2(self.ffn_gate(self.ffn_1(self.norm_2(x))))


# ----------------------------------------------------------------------------------------------
# The step
# ----------------------------------------------------------------------------------------------
def molecules(n_mol: int, n_atoms: int, seed: int = 0, dtype=torch.float32):
    """Compact random molecules: atoms 1-1.6 Å from an earlier atom, so most pairs lie within 5 Å
    (like the research note's CPU measurements)."""
    g = torch.Generator().manual_seed(seed)
    pos = []
    for _ in range(n_mol):
        p = [torch.zeros(3, dtype=torch.float64)]
        while len(p) < n_atoms:
            anchor = p[int(torch.randint(len(p), (1,), generator=g))]
            d = torch.randn(3, generator=g, dtype=torch.float64)
            cand = (
                anchor
                + (1.0 + 0.6 * torch.rand(1, generator=g, dtype=torch.float64)) * d / d.norm()
            )
            if min((cand - q).norm() for q in p) > 0.95:
                p.append(cand)
        pos.append(torch.stack(p))
    return torch.cat(pos).to(dtype), n_mol, n_atoms


def edges(pos: Tensor, n_mol: int, n_atoms: int, cutoff: float = 5.0) -> Tensor:
    batch = torch.arange(n_mol).repeat_interleave(n_atoms)
    d = torch.cdist(pos, pos)
    mask = (d < cutoff) & (batch[:, None] == batch[None]) & ~torch.eye(len(pos), dtype=torch.bool)
    return torch.nonzero(mask).T.contiguous()


def make_step(block, x0: Tensor, edge_index: Tensor, irreps_sh, rbf, cutoff: float, e3nn_layout):
    """One training step: energy, forces with create_graph, loss, backward."""
    params = [p for p in block.parameters() if p.requires_grad]

    def step(pos: Tensor) -> float:
        pos = pos.detach().requires_grad_(True)
        vec = pos[edge_index[1]] - pos[edge_index[0]]
        length = vec.norm(dim=-1)
        sh = o3.spherical_harmonics(irreps_sh, vec, True, normalization="component")
        basis = rbf(length)
        env = cosine_cutoff(length, cutoff)
        out = block(x0, edge_index, sh, basis, env)
        n0 = e3nn_layout
        energy = out[:, :n0].sum()
        (grad,) = torch.autograd.grad(energy, pos, create_graph=True)
        loss = energy.square() + grad.square().sum()
        for p in params:
            p.grad = None
        loss.backward()
        return float(loss)

    return step


def best_time(fn, *args, repeat: int = 3) -> float:
    fn(*args)  # warm-up
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def counted_flops(fn, *args) -> int:
    """Matrix-multiply FLOPs of one call (torch's FlopCounterMode: mm, bmm, einsum, ...)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


def gemm_rate(threads: int) -> float:
    """FLOP/s of a large float32 GEMM on this machine with ``threads`` threads (best of 3)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048**3 / best_time(torch.matmul, a, b, repeat=3)


def profile_ops(fn, *args, rows: int = 8) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(*args)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def build(config: dict, seed: int = 0):
    torch.manual_seed(seed)
    ours = TransformerBlock(
        config["irreps_node"], config["irreps_sh"], config["irreps_head"], config["num_heads"],
        config["irreps_mlp_mid"], config["irreps_node"], num_basis=32, radial_hidden=(64, 64),
    )  # fmt: skip
    with torch.no_grad():  # the norms' affine parameters start at 1 and 0; move them off
        for p in ours.parameters():
            if p.ndim == 1:
                p.add_(0.1 * torch.randn_like(p))
    return ours, E3nnBlock(ours)


def check_same(config: dict) -> float:
    """Largest |noether - e3nn| of the block output and forces, float64 (both built in float64:
    e3nn keeps its Clebsch-Gordan buffers in the dtype they were built in)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ours, ref = build(config)
    finally:
        torch.set_default_dtype(previous)
    pos, n_mol, n_atoms = molecules(2, 6, dtype=torch.float64)
    edge_index = edges(pos, n_mol, n_atoms)
    sh_irreps = o3.Irreps(config["irreps_sh"])
    node = ours.norm_1.layout
    rbf = radial_basis("expnorm", 32, 5.0).double()
    x0 = torch.randn(len(pos), node.dim, dtype=torch.float64)
    err = 0.0
    outs = []
    for block, x in ((ours, x0), (ref, node.to_e3nn(x0))):
        p = pos.clone().requires_grad_(True)
        vec = p[edge_index[1]] - p[edge_index[0]]
        sh = o3.spherical_harmonics(sh_irreps, vec, True, normalization="component")
        length = vec.norm(dim=-1)
        y = block(x, edge_index, sh, rbf(length), cosine_cutoff(length, 5.0))
        if block is ours:
            y = node.to_e3nn(y)
        (f,) = torch.autograd.grad(y.square().sum(), p)
        outs.append((y, f))
    err = max(
        (outs[0][0] - outs[1][0]).abs().max().item(), (outs[0][1] - outs[1][1]).abs().max().item()
    )
    return err


def equiformer_pytorch_step(n_mol: int, n_atoms: int, pos: Tensor, quick: bool):
    from equiformer_pytorch import Equiformer as LucidEquiformer

    torch.manual_seed(0)
    dims = (16, 8, 4) if quick else (128, 64, 32)
    heads_dims = (8, 4, 2) if quick else (32, 16, 8)
    model = LucidEquiformer(
        num_tokens=10, dim=dims, dim_head=heads_dims, heads=(4, 4, 4) if not quick else (2, 2, 2),
        num_degrees=3, depth=1, valid_radius=5.0, l2_dist_attention=False, reduce_dim_out=True,
    )  # fmt: skip
    tokens = torch.randint(0, 10, (n_mol, n_atoms))
    coords = pos.view(n_mol, n_atoms, 3)
    mask = torch.ones(n_mol, n_atoms, dtype=torch.bool)
    params = list(model.parameters())

    def step(c: Tensor) -> float:
        c = c.detach().requires_grad_(True)
        energy = model(tokens, c, mask=mask).type0.sum()
        (grad,) = torch.autograd.grad(energy, c, create_graph=True)
        loss = energy.square() + grad.square().sum()
        for p in params:
            p.grad = None
        loss.backward()
        return float(loss)

    n_params = sum(p.numel() for p in params)
    return step, coords, n_params


def full_model_step(n_mol: int, n_atoms: int, quick: bool):
    """One training step of the whole potential (the paper's MD17 recipe unless ``quick``)."""
    from noether.atoms.models.equiformer import Equiformer

    torch.manual_seed(0)
    model = Equiformer.from_preset("small" if quick else "md17").train()
    pos, _, _ = molecules(n_mol, n_atoms, seed=1)
    numbers = torch.tensor([6, 1, 8, 7] * n_atoms)[:n_atoms].repeat(n_mol)
    batch = torch.arange(n_mol).repeat_interleave(n_atoms)
    params = list(model.parameters())

    def step(p: Tensor) -> float:
        out = model(numbers, p, batch)
        loss = out["energy"].square().mean() + 80 * out["forces"].square().mean()
        for q in params:
            q.grad = None
        loss.backward()
        return float(loss)

    return step, pos, sum(p.numel() for p in params), len(model.backbone.blocks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=4)
    parser.add_argument("--atoms", type=int, default=21, help="atoms per molecule (aspirin: 21)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small irreps (a smoke run)")
    parser.add_argument("--no-peer", action="store_true", help="skip equiformer-pytorch")
    parser.add_argument("--profile", action="store_true", help="print the top ops of both")
    parser.add_argument(
        "--full-model", action="store_true", help="also time the whole MD17-recipe potential"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = QUICK if args.quick else PAPER

    err = check_same(config)
    print(
        f"noether block == e3nn block: max |difference| (float64, outputs and forces) = {err:.2e}"
    )
    if err > 1e-9:
        raise SystemExit("the e3nn reference does not compute the same block; not timing it")

    ours, ref = build(config)
    pos, n_mol, n_atoms = molecules(args.molecules, args.atoms)
    edge_index = edges(pos, n_mol, n_atoms)
    node = ours.norm_1.layout
    n0 = node.scalar_dim()
    rbf = radial_basis("expnorm", 32, 5.0)
    x0 = torch.randn(len(pos), node.dim)
    sh_irreps = o3.Irreps(config["irreps_sh"])
    print(
        f"irreps {config['irreps_node']}, {args.molecules} molecules x {args.atoms} atoms, "
        f"{edge_index.shape[1]} edges, {args.threads} threads, float32, best of {args.repeat}"
    )
    step_ours = make_step(ours, x0, edge_index, sh_irreps, rbf, 5.0, n0)
    step_ref = make_step(ref, node.to_e3nn(x0), edge_index, sh_irreps, rbf, 5.0, n0)
    t_ours = best_time(step_ours, pos, repeat=args.repeat)
    t_ref = best_time(step_ref, pos, repeat=args.repeat)
    n_params = sum(p.numel() for p in ours.parameters())
    flops, rate = counted_flops(step_ours, pos), gemm_rate(args.threads)
    print(
        f"FLOP floor: {flops / 1e9:.1f} GFLOP of matrix products per step (torch FlopCounterMode) "
        f"at {rate / 1e9:.0f} GFLOP/s (a 2048² GEMM here) = {1e3 * flops / rate:.0f} ms"
    )
    print(f"{'':34s}{'ms/step':>10s}{'ratio':>8s}")
    print(
        f"{'noether Equiformer block':34s}{1e3 * t_ours:10.1f}{1.0:8.2f}   ({n_params:,} parameters)"
    )
    print(f"{'straightforward e3nn block':34s}{1e3 * t_ref:10.1f}{t_ref / t_ours:8.2f}")
    if not args.no_peer:
        try:
            step_peer, coords, n_peer = equiformer_pytorch_step(n_mol, n_atoms, pos, args.quick)
            t_peer = best_time(step_peer, coords, repeat=args.repeat)
            print(
                f"{'equiformer-pytorch (1 block)':34s}{1e3 * t_peer:10.1f}{t_peer / t_ours:8.2f}"
                f"   ({n_peer:,} parameters; dense all-pairs, not the paper's block)"
            )
        except ImportError as err:
            print(f"equiformer-pytorch not timed: {err} (pip install equiformer-pytorch)")
    if args.full_model:
        step_full, pos_full, n_full, n_blocks = full_model_step(8, args.atoms, args.quick)
        t_full = best_time(step_full, pos_full, repeat=args.repeat)
        print(
            f"{'noether Equiformer, whole model':34s}{1e3 * t_full:10.1f}{'':8s}"
            f"   ({n_full:,} parameters, 8 x {args.atoms} atoms, {n_blocks} blocks)"
        )
    if args.profile:
        print("\nwhere the time goes, noether (one step, top ops by self CPU time):")
        print(profile_ops(step_ours, pos))
        print("where the time goes, e3nn reference:")
        print(profile_ops(step_ref, pos))


if __name__ == "__main__":
    main()
