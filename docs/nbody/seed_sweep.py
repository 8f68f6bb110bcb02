"""One n-body training run in a plain PyTorch loop, logged every 50 steps: the diagnostic behind
docs/nbody.md's "Why GATr runs stalled" (validation MSE, gradient norm before clipping).

    python docs/nbody/seed_sweep.py --model cga --seed 2 --lr 2e-3 --data data/nbody-canonical \
        --out runs/seed-sweep/cga-lr2e-3-2.json

The recipe is the study's: AdamW, 5 % linear warm-up then cosine decay to 1 % of ``--lr``, gradient
clipping at 10, batches of 32 of the first ``--n`` training systems, one thread. Prints one JSON
line per log point and writes them all to ``--out``.
"""

import argparse
import json
import math
import time

import torch

from noether.core.io import atomic_write_json
from noether.sims.nbody.task import NBodyTask
from noether.studies.algebras.plan import model_specs
from noether.train.config import build, load_config

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", default="cga", help="a model of the algebra study")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--data", default="data/nbody-canonical")
parser.add_argument("--n", type=int, default=1000, help="training systems")
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--width", default="small")
parser.add_argument("--out", required=True)
args = parser.parse_args()

torch.set_num_threads(1)
spec = model_specs(args.width)[args.model]
task = NBodyTask(args.data, n_train=args.n, n_val=250, augment=spec.augment)
torch.manual_seed(args.seed)
config = load_config(
    {"seed": args.seed, "model": spec.model, "task": {"name": "nbody", "path": args.data}}
)
net = build(config.model, "model")
splits = task.datasets()
val = task.collate([splits.val[i] for i in range(len(splits.val))])
optimizer = torch.optim.AdamW(net.parameters(), lr=args.lr)
warm = args.steps // 20


def factor(step: int) -> float:
    if step < warm:
        return (step + 1) / warm
    t = (step - warm) / max(1, args.steps - warm)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))


schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
generator = torch.Generator().manual_seed(args.seed)
order, at, log, start = torch.randperm(args.n, generator=generator), 0, [], time.time()
for step in range(args.steps):
    if at + 32 > args.n:
        order, at = torch.randperm(args.n, generator=generator), 0
    batch = task.collate([splits.train[int(i)] for i in order[at : at + 32]])
    at += 32
    net.train()
    loss = task.loss(task.forward(net, batch), batch)
    optimizer.zero_grad()
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
    optimizer.step()
    schedule.step()
    if step % 50 == 0 or step == args.steps - 1:
        net.eval()
        with torch.no_grad():
            val_mse = task.loss(task.forward(net, val), val).item()
        record = {
            "step": step,
            "loss": loss.item(),
            "val": val_mse,
            "grad_norm": norm.item(),
            "seconds": time.time() - start,
        }
        log.append(record)
        print(json.dumps(record), flush=True)
atomic_write_json(args.out, {"args": vars(args), "log": log})
