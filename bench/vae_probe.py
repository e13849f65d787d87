"""The model class docs/tuning.md left untried for the 0.27 target, autoencoders. A probe, not production.

Three steps, on the validation split (carved from the training part only) unless ``--test``:

* ``vae``: Mult-VAE and Mult-DAE (Liang et al. 2018, "Variational autoencoders for collaborative
  filtering"): a member's artists (binary, L2-normalised, input dropout) → tanh layer → latent →
  tanh layer → a softmax over the artists, multinomial likelihood, KL weight annealed to ``beta``
  (VAE) or no latent noise (DAE). Trained with Adam; NDCG@10 is logged every ``eval_every`` epochs,
  so one point reports its whole curve. Needs PyTorch, which is not a project dependency:
  ``pip install --target /tmp/torchlib torch==2.13.0`` and run with ``PYTHONPATH=/tmp/torchlib``.
* ``ease``: the closed-form linear autoencoders of Steck 2020 ("Autoencoders that don't overfit
  towards the identity"): EDLAE is EASE^R whose ridge on artist j is ``lam + p/(1-p)·G_jj``
  (dropout ``p`` emphasised on the dropped entries), DLAE the same without the zero diagonal.
* ``blend``: per-member max-normalised scores of production's Spark ALS (one seed, three seeds)
  with the best autoencoder points, added with weights.

Artists with fewer than 2 listeners in the fitted part are left out of the autoencoders and rank
below every kept artist (as in ``bench/ials_probe.py``'s EASE^R). The scorer is
``bench/als_confidence.ndcg_at_10``; one JSON line per point goes to ``--log``.

    PYTHONPATH=/tmp/torchlib .venv/bin/python bench/vae_probe.py vae '{"epochs": 100}' ...
    .venv/bin/python bench/vae_probe.py ease '{"p": 0.33, "lam": 30}' ...
    PYTHONPATH=/tmp/torchlib .venv/bin/python bench/vae_probe.py blend [--test]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.probes import (  # noqa: E402
    als_bases,
    ease_scores,
    log_point,
    normalised,
)
from bench.probes import load as load_probe_data  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lastfm-2k"
# The best points on validation (from the logged runs; every point is in docs/tuning.md), and the
# best blends on validation with one and three ALS seeds, measured once on test.
BEST_VAE: dict[str, Any] = {"epochs": 60, "dropout": 0.7, "beta": 1.0}
BEST_EDLAE: dict[str, Any] = {"lam": 100.0, "p": 0.5, "zero_diag": False}
CHOSEN_BLEND: tuple[tuple[str, float, float], ...] = (("als", 1.0, 0.2), ("als3", 0.5, 0.5))


def _kept(u: np.ndarray, i: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(shape, dtype=np.float32)
    x[u, i] = 1.0
    keep = np.flatnonzero(x.sum(axis=0) >= 2)
    return x, keep


def _spread(kept_scores: np.ndarray, keep: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    s = np.full(shape, float(kept_scores.min()) - 1.0)
    s[:, keep] = kept_scores
    return s


def edlae_scores(
    u: np.ndarray, i: np.ndarray, shape: tuple[int, int], *, lam: float, p: float, zero_diag: bool = True
) -> np.ndarray:
    x, keep = _kept(u, i, shape)
    xk = x[:, keep].astype(np.float64)
    g = xk.T @ xk
    ridge = lam + p / (1 - p) * np.diag(g)
    g[np.diag_indices_from(g)] += ridge
    pinv = np.linalg.inv(g)
    if zero_diag:  # EDLAE (EASE^R's constraint with the emphasised-dropout ridge)
        b = -pinv / np.diag(pinv)
        b[np.diag_indices_from(b)] = 0
    else:  # DLAE: B = I - P·Λ; the identity only touches the member's own artists, excluded anyway
        b = -pinv * ridge[None, :]
    return _spread(xk @ b, keep, shape)


def vae_scores(
    u: np.ndarray,
    i: np.ndarray,
    shape: tuple[int, int],
    *,
    score: Callable[[np.ndarray], float] | None = None,
    hidden: int = 600,
    latent: int = 200,
    dropout: float = 0.5,
    beta: float = 0.2,
    anneal_epochs: int = 50,
    epochs: int = 100,
    lr: float = 1e-3,
    batch: int = 128,
    weight_decay: float = 0.0,
    dae: bool = False,
    eval_every: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, dict[int, float]]:
    """The final epoch's scores, and NDCG@10 every ``eval_every`` epochs when ``score`` is given."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x, keep = _kept(u, i, shape)
    data = torch.from_numpy(x[:, keep])
    n_items = data.shape[1]

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(n_items, hidden)
            self.mid = nn.Linear(hidden, latent if dae else 2 * latent)
            self.dec1 = nn.Linear(latent, hidden)
            self.dec2 = nn.Linear(hidden, n_items)
            for layer in (self.enc, self.mid, self.dec1, self.dec2):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.normal_(layer.bias, std=0.001)

        def forward(self, batch_x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = nn.functional.normalize(batch_x, dim=1)
            h = nn.functional.dropout(h, dropout, training=self.training)
            h = self.mid(torch.tanh(self.enc(h)))
            kl = torch.zeros(())
            if dae:
                z = h
            else:
                mu, logvar = h[:, :latent], h[:, latent:]
                z = mu
                if self.training:
                    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
                kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)).mean()
            return self.dec2(torch.tanh(self.dec1(torch.tanh(z) if dae else z))), kl

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    curve: dict[int, float] = {}

    def predict() -> np.ndarray:
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(data[lo : lo + 512])[0] for lo in range(0, len(data), 512)])
        model.train()
        return _spread(out.numpy().astype(np.float64), keep, shape)

    steps_per_epoch = -(-len(data) // batch)
    step = 0
    for epoch in range(1, epochs + 1):
        for idx in np.array_split(rng.permutation(len(data)), steps_per_epoch):
            bx = data[idx]
            logits, kl = model(bx)
            nll = -(nn.functional.log_softmax(logits, dim=1) * bx).sum(dim=1).mean()
            anneal = 0.0 if dae else min(beta, beta * step / max(1, anneal_epochs * steps_per_epoch))
            loss = nll + anneal * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
        if score is not None and (epoch % eval_every == 0 or epoch == epochs):
            curve[epoch] = round(score(predict()), 4)
    return predict(), curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=("vae", "ease", "blend"))
    ap.add_argument("points", nargs="*", help="points as JSON objects (steps 'vae' and 'ease')")
    ap.add_argument("--test", action="store_true", help="the protocol's test split (chosen points only)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--log", type=Path, default=ROOT / "var" / "vae_probe.jsonl")
    args = ap.parse_args()
    d = load_probe_data(args.data, test=args.test)
    if d is None:
        return
    os.environ.setdefault("TASTEMAKER_SPARK_MASTER", "local[2]")
    u, i, shape, score = d.u, d.i, d.shape, d.score

    def log(rec: Mapping[str, object]) -> None:
        log_point(args.log, d.split_name, rec)

    if args.step in ("vae", "ease"):
        for text in args.points:
            point = json.loads(text)
            t0 = time.perf_counter()
            if args.step == "vae":
                s, curve = vae_scores(u, i, shape, score=score, **point)
                rec: dict[str, object] = {"model": "dae" if point.get("dae") else "vae", **point}
                rec["curve"] = curve
                rec["ndcg"] = curve[max(curve)]
            else:
                s = edlae_scores(u, i, shape, **point)
                rec = {"model": "edlae" if point.get("zero_diag", True) else "dlae", **point}
                rec["ndcg"] = round(score(s), 4)
            rec["seconds"] = round(time.perf_counter() - t0, 1)
            log(rec)
        return
    models = {
        **als_bases(d),
        "vae": normalised(vae_scores(u, i, shape, **BEST_VAE)[0], u, i),
        "edlae": normalised(edlae_scores(u, i, shape, **BEST_EDLAE), u, i),
        "ease": normalised(ease_scores(u, i, shape, 100.0), u, i),
    }
    for name, s in models.items():
        log({"model": name, "ndcg": round(score(s), 4)})
    grid = (
        CHOSEN_BLEND
        if args.test
        else [(b, wv, we) for b in ("als", "als3") for wv in (0, 0.25, 0.5, 1.0) for we in (0, 0.2, 0.5)]
    )
    for base, wv, we in grid:
        value = score(models[base] + wv * models["vae"] + we * models["edlae"])
        log({"model": f"{base} + {wv}·vae + {we}·edlae", "ndcg": round(value, 4)})


if __name__ == "__main__":
    main()
