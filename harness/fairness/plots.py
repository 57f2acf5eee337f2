"""PNG plots of a fairness document (the fairness.json dict); they need nothing but that JSON."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hongbao.harness.report.plots import save  # noqa: E402

FILES = {
    "mean_std": "fairness_mean_std.png",
    "best_luck": "fairness_best_luck.png",
    "gini": "fairness_gini.png",
    "first_share": "fairness_first_share.png",
}


def _save(fig, path: Path) -> Path:
    return save(fig, path, dpi=110)


def _scored(doc: dict) -> dict:
    return {name: e for name, e in doc["algorithms"].items() if not e.get("broken")}


def _band(ax, x, values, ci, label):
    ci = np.asarray(ci)
    (line,) = ax.plot(x, values, marker="o", ms=3, label=label)
    ax.fill_between(x, ci[:, 0], ci[:, 1], color=line.get_color(), alpha=0.25)


def _std_ratio(ax, entries: dict) -> None:
    """Std relative to the first grabber's: a fair split stays at 1 (double_mean climbs ~1.3x)."""
    off = []
    for name, e in entries.items():
        std = np.asarray(e["positions"]["std_cents"])
        if std[0] <= 0:
            continue
        ratio = std / std[0]
        if ratio.min() < 0.5 or ratio.max() > 2:
            off.append(name)
        ax.plot(np.arange(1, len(std) + 1), ratio, marker="o", ms=3, label=name)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_ylim(0.5, 2.0)
    ax.set(title="Std relative to the first grabber", xlabel="grab position", ylabel="std / std at position 1")
    if off:
        ax.text(0.02, 0.03, "off scale: " + ", ".join(off), transform=ax.transAxes, fontsize=8, color="grey")


def plot_mean_std(doc: dict, path: Path) -> Path:
    entries = _scored(doc)
    fig, (ax_m, ax_s, ax_r) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, e in entries.items():
        pos = e["positions"]
        x = np.arange(1, len(pos["mean_cents"]) + 1)
        _band(ax_m, x, pos["mean_cents"], pos["mean_ci"], name)
        _band(ax_s, x, pos["std_cents"], pos["std_ci"], name)
    level = int(round(100 * next(iter(entries.values()))["ci_level"])) if entries else 95
    ax_m.set(title=f"Mean share by grab position ({level}% CI)", xlabel="grab position", ylabel="mean share (cents)")
    ax_s.set(
        title=f"Std of share by grab position ({level}% CI)", xlabel="grab position", ylabel="std of share (cents)"
    )
    _std_ratio(ax_r, entries)
    ax_m.legend(fontsize=8)
    fig.suptitle(f"{doc['envelopes']:,} envelopes of {doc['total_cents']:,} cents for {doc['count']}")
    return _save(fig, path)


def plot_best_luck(doc: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, e in _scored(doc).items():
        pos = e["positions"]
        x = np.arange(1, len(pos["best_luck_prob"]) + 1)
        _band(ax, x, pos["best_luck_prob"], pos["best_luck_ci"], name)
    ax.axhline(1 / doc["count"], color="grey", ls="--", lw=1, label="fair: 1/count")
    ax.set(
        title="P(best luck) by grab position (ties to the earliest grabber)",
        xlabel="grab position",
        ylabel="probability",
    )
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_gini(doc: dict, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    tops = []
    for name, e in _scored(doc).items():
        h = e["gini"]["histogram"]
        counts = np.asarray(h["counts"], dtype=float)
        frac = counts / max(counts.sum(), 1)
        spike = frac.max() > 0.5  # e.g. equal: every envelope at Gini ~ 0; keep the others readable
        tops.append(0.0 if spike else frac.max())
        label = f"{name} (mean {e['gini']['mean']:.3f}{', off scale' if spike else ''})"
        ax.stairs(frac, h["edges"], label=label)
    if 0 < max(tops) < 0.5:
        ax.set_ylim(0, 1.15 * max(tops))
    ax.set(title="Gini coefficient per envelope", xlabel="Gini (0 = equal shares)", ylabel="fraction of envelopes")
    ax.legend(fontsize=8, loc="upper center")
    return _save(fig, path)


def plot_first_share(doc: dict, path: Path) -> Path | None:
    fits = {name: e["theory"] for name, e in _scored(doc).items() if e.get("theory")}
    if not fits:
        return None
    cols = min(3, len(fits))
    rows = -(-len(fits) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (name, fit) in zip(axes.flat, fits.items(), strict=False):
        edges = np.asarray(fit["edges"], dtype=float)
        width = np.diff(edges)
        n = max(sum(fit["observed"]), 1)
        ax.stairs(np.asarray(fit["observed"]) / n / width, edges, fill=True, alpha=0.5, label="observed")
        ax.stairs(np.asarray(fit["expected"]) / n / width, edges, color="black", lw=1.2, label="exact law")
        ax.set_title(f"{name}: p = {fit['p_value']:.3g}", fontsize=9)
        ax.set_xlabel("first grabber's share (cents)", fontsize=8)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(fits) :]:
        ax.axis("off")
    fig.suptitle("First grabber's share against its exact law (chi-squared goodness of fit)")
    return _save(fig, path)


def write_plots(doc: dict, out_dir: Path) -> list[Path]:
    """Write every plot the document supports into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    if not _scored(doc):
        return []
    paths = [
        plot_mean_std(doc, out_dir / FILES["mean_std"]),
        plot_best_luck(doc, out_dir / FILES["best_luck"]),
        plot_gini(doc, out_dir / FILES["gini"]),
        plot_first_share(doc, out_dir / FILES["first_share"]),
    ]
    return [p for p in paths if p is not None]
