"""The regression gate: judge NEW against BASE benchmark by benchmark, plus fairness verdicts.

A benchmark regresses when it is gated, its test rejects "no change" at ``alpha`` and the whole
``1 - alpha`` interval of the ratio new / base lies above ``1 + max_regression``: we are confident
it got slower by more than the allowed amount, not merely that it moved. Which test depends on
what NEW holds (``judged``):

- processes: NEW timed the base commit's code beside the benchmark (``hongbao bench --base-ref``)
  in K >= 2 fresh processes. Each process is one sample of where the machine code landed, so the
  per-process median ratios are the units: a t-test of their logs and the t interval of the mean.
- same-run: the same pairs from one process (Wilcoxon on the per-round ratios, bootstrap interval
  of their median). Its rounds cannot see the placement that one process drew (identical code has
  read +3% to +12% on a whole family of cases, p down to 5e-14), so a slowdown it finds beyond the
  allowance is at most SUSPECTED: one layout, undecided (exit 5), until K processes decide it.
- cross-run: two unpaired runs. One run's samples cannot show how much whole runs move, so the
  figures are judged against the spread between repeated runs that BASE (or NEW) recorded
  (``hongbao bench --processes K``), else against the ``spread`` a thresholds rule assumes, with a
  Bonferroni share of ``alpha`` per gated benchmark. Significantly slower but not decidably beyond
  the allowance is INCONCLUSIVE; so is a slowdown when no spread is known at all.

Changes under ``min_effect`` are never reported as changes. Thresholds come from CLI flags, then
per-benchmark rules in a TOML file (seeds/thresholds.toml), first matching rule wins.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from hongbao.harness import repeats, stats
from hongbao.harness.results import Run, UnusableInput, short_name

FASTER, SLOWER, REGRESSION, SAME = "faster", "slower", "REGRESSION", "no significant change"
NOT_GATED, NOT_CONFIRMED = "slower (not gated)", "slower (not confirmed)"
INCONCLUSIVE = "inconclusive"
SUSPECTED = "suspected (one layout)"


@dataclass(frozen=True)
class Thresholds:
    max_regression: float = 0.10
    min_effect: float = 0.05
    alpha: float = 0.01
    gate: bool = True
    reason: str = ""
    spread: float | None = None  # cross-run: between-run log spread assumed when no run recorded one


#: How a benchmark is judged: against the base commit's kernels timed beside it in NEW's own run,
#: or against the BASE run's figures (RNG fills per share). A rule's ``judged`` picks one or both
#: (rules for "same-run" apply to base pairs from one process and from several alike).
SAME_RUN, CROSS_RUN, PROCESSES = "same-run", "cross-run", "processes"


@dataclass(frozen=True)
class Rule:
    match: str
    overrides: dict
    judged: tuple[str, ...] = (SAME_RUN, CROSS_RUN)


@dataclass
class Row:
    name: str
    diff: stats.Difference
    verdict: str
    thresholds: Thresholds
    unit: str  # "RNG fills/share" (machine-independent) or "s" (raw, no control)
    confirmations: list[stats.Difference] = field(default_factory=list)  # re-runs that reproduced it
    base_commit: str | None = None  # judged against this commit's kernels timed in the same run
    drift: stats.Difference | None = None  # then: the figure against the BASE run, shown, not judged
    judged: str = CROSS_RUN  # PROCESSES, SAME_RUN or CROSS_RUN
    basis: str = ""  # what the interval rests on, e.g. "6 processes" or "spread 8% (assumed)"


@dataclass
class FairnessRow:
    algorithm: str
    base_fair: bool | None
    new_fair: bool | None
    claimed: bool
    min_p_value: float | None
    regression: bool


@dataclass
class Comparison:
    rows: list[Row]
    fairness: list[FairnessRow] = field(default_factory=list)
    only_base: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    family: int = 0  # gated cross-run benchmarks sharing alpha (Bonferroni)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == REGRESSION]

    @property
    def inconclusive(self) -> list[Row]:
        """Rows the data cannot decide: a cross-run slowdown the spread cannot place, or a slowdown
        seen in a single process (one memory layout per side)."""
        return [r for r in self.rows if r.verdict in (INCONCLUSIVE, SUSPECTED)]

    @property
    def suspected(self) -> list[Row]:
        return [r for r in self.rows if r.verdict == SUSPECTED]

    @property
    def fairness_regressions(self) -> list[FairnessRow]:
        return [f for f in self.fairness if f.regression]

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.fairness_regressions)


def parse_fraction(text: str | float, field_name: str) -> float:
    """'10%' or '0.1' -> 0.1; ValueError naming the field otherwise."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{field_name} must be a percentage like 10% or a fraction like 0.1 (got {text!r})") from None
    if not 0.0 <= value < 10.0:
        raise ValueError(f"{field_name} must be between 0% and 1000% (got {text!r})")
    return value


def load_thresholds(path: Path) -> tuple[dict, list[Rule]]:
    """Read a thresholds TOML: ``[defaults]`` and ``[[rule]] match = "glob"`` tables."""
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise UnusableInput(f"--thresholds {path}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UnusableInput(f"--thresholds {path}: not valid TOML ({exc})") from None
    known = {"max_regression", "min_effect", "alpha", "gate", "reason", "spread"}

    def clean(table: dict, where: str) -> dict:
        out = {}
        for key, value in table.items():
            if key == "match":
                continue
            if key not in known:
                raise UnusableInput(
                    f"--thresholds {path}: {where} has unknown key {key!r} (known: {', '.join(sorted(known))}, match)"
                )
            if key in ("max_regression", "min_effect", "alpha", "spread"):
                try:
                    value = parse_fraction(value, f"{where}.{key}")
                except ValueError as exc:
                    raise UnusableInput(f"--thresholds {path}: {exc}") from None
            out[key] = value
        return out

    defaults = clean(doc.get("defaults", {}), "[defaults]")
    rules = []
    for i, table in enumerate(doc.get("rule", [])):
        if not isinstance(table.get("match"), str):
            raise UnusableInput(f'--thresholds {path}: [[rule]] #{i + 1} needs match = "glob"')
        judged = table.pop("judged", None)
        if judged is not None and judged not in (SAME_RUN, CROSS_RUN):
            raise UnusableInput(
                f'--thresholds {path}: [[rule]] #{i + 1} judged must be "{SAME_RUN}" or "{CROSS_RUN}" (got {judged!r})'
            )
        rules.append(
            Rule(table["match"], clean(table, f"[[rule]] #{i + 1}"), (judged,) if judged else (SAME_RUN, CROSS_RUN))
        )
    return defaults, rules


def base_thresholds(file_defaults: dict) -> Thresholds:
    """The thresholds every benchmark starts from: a thresholds file's ``[defaults]`` over the built-in ones."""
    return Thresholds(**{k: v for k, v in file_defaults.items() if k in ("max_regression", "min_effect", "alpha")})


def thresholds_for(name: str, base: Thresholds, rules: Sequence[Rule], judged: str = CROSS_RUN) -> Thresholds:
    for rule in rules:
        if judged not in rule.judged:
            continue
        if fnmatch.fnmatchcase(name, rule.match) or fnmatch.fnmatchcase(short_name(name), rule.match):
            return replace(base, **rule.overrides)
    return base


def verdict(diff: stats.Difference, t: Thresholds, judged: str = SAME_RUN) -> str:
    significant = diff.p_value < t.alpha and abs(diff.change) >= t.min_effect
    if not significant:
        return SAME
    if diff.change < 0:
        return FASTER
    if not t.gate:
        return NOT_GATED
    if diff.ratio_ci[0] > 1.0 + t.max_regression:
        return REGRESSION
    if judged == CROSS_RUN and diff.ratio_ci[1] > 1.0 + t.max_regression:
        return INCONCLUSIVE  # slower than runs move, but the spread cannot tell whether beyond the allowance
    return SLOWER


def _cross_run(name: str, b, n, t: Thresholds, spreads: dict, family: int) -> Row:
    """A benchmark of two unpaired runs, judged against the between-run spread (see the module doc)."""
    confidence = 1.0 - t.alpha / max(1, family)
    (bf, bk), (nf, nk) = repeats.run_figure(b), repeats.run_figure(n)
    recorded = spreads.get(repeats.implementation(name))
    if recorded is not None:
        sd, df = recorded
        basis = f"spread {sd:.1%} ({int(df)} df recorded)"
    elif t.spread is not None:
        sd, df = t.spread, float("inf")
        basis = f"spread {sd:.1%} (assumed)"
    else:  # nothing says how much whole runs move: the samples' test is shown, a slowdown undecided
        diff = stats.difference(b.gated_samples(), n.gated_samples(), confidence=confidence)
        v = verdict(diff, t, SAME_RUN)
        return Row(
            name, diff, INCONCLUSIVE if v == REGRESSION else v, t, "RNG fills/share", basis="no between-run spread"
        )
    diff = stats.against_spread(bf, nf, sd, df, bk, nk, confidence=confidence)
    t = replace(t, alpha=t.alpha / max(1, family))
    return Row(name, diff, verdict(diff, t, CROSS_RUN), t, "RNG fills/share", basis=basis)


def compare_runs(
    base: Run, new: Run, defaults: Thresholds, rules: Sequence[Rule] = (), family: int | None = None
) -> Comparison:
    """Compare every benchmark present in both runs, plus fairness when both folders have it.
    ``family``: how many gated cross-run benchmarks share alpha (default: those of this comparison)."""
    common = [n for n in base.benchmarks if n in new.benchmarks]
    if not common:
        raise UnusableInput(
            f"BASE {base.source} and NEW {new.source} have no benchmark in common (different profile or filter?)"
        )
    rules = list(rules)
    cross = [
        name
        for name in common
        if new.benchmarks[name].base_pairs() is None
        and base.benchmarks[name].normalised
        and new.benchmarks[name].normalised
        and thresholds_for(name, defaults, rules, CROSS_RUN).gate
    ]
    family = len(cross) if family is None else family
    spreads = repeats.between_run_spread([base, new])
    rows = []
    for name in common:
        b, n = base.benchmarks[name], new.benchmarks[name]
        both = b.normalised and n.normalised
        t = thresholds_for(name, defaults, rules, CROSS_RUN)
        pairs = n.base_pairs()
        if pairs is not None:  # NEW timed the base commit's code beside it, round by round: judge on that
            drift = stats.difference(
                b.gated_samples() if both else b.samples_s,
                n.gated_samples() if both else n.samples_s,
                confidence=1.0 - t.alpha,
            )
            t = thresholds_for(name, defaults, rules, SAME_RUN)
            processes = n.process_ratios()
            if processes is not None:
                diff = stats.across_processes(*processes, confidence=1.0 - t.alpha)
                judged, basis = PROCESSES, f"{len(processes[0])} processes"
            else:
                diff = stats.paired_difference(*pairs, confidence=1.0 - t.alpha)
                judged, basis = SAME_RUN, "1 process"
            v = verdict(diff, t, judged)
            if v == REGRESSION and judged == SAME_RUN:  # one layout per side: suspected, never decided
                v = SUSPECTED
            rows.append(
                Row(
                    name,
                    diff,
                    v,
                    t,
                    "s",
                    base_commit=n.extra.get("base_commit"),
                    drift=drift,
                    judged=judged,
                    basis=basis,
                )
            )
            continue
        if not both:  # raw seconds carry no same-run control: shown, never gated
            t = replace(t, gate=False, reason=t.reason or "no same-run control (raw seconds)")
            figures = stats.difference(b.samples_s, n.samples_s, confidence=1.0 - t.alpha)
            rows.append(Row(name, figures, verdict(figures, t), t, "s"))
            continue
        rows.append(_cross_run(name, b, n, t, spreads, family))
    return Comparison(
        rows,
        compare_fairness(base.fairness, new.fairness),
        [n for n in base.benchmarks if n not in new.benchmarks],
        [n for n in new.benchmarks if n not in base.benchmarks],
        family,
    )


def compare_fairness(base: dict | None, new: dict | None) -> list[FairnessRow]:
    """Fair -> unfair for an algorithm the registry claims position-fair (as recorded in NEW's
    fairness.json for its cap, else the registry itself) is a regression."""
    if not base or not new:
        return []
    from hongbao.kernels import ALGORITHMS

    out = []
    for name, entry in new["algorithms"].items():
        if name not in base["algorithms"]:
            continue
        was, now = base["algorithms"][name].get("position_fair"), entry.get("position_fair")
        # the scorecard records the registry's claim for that run's cap (beta's holds only uncapped)
        if isinstance(entry.get("claimed_position_fair"), bool):
            claimed = entry["claimed_position_fair"]
        else:
            claimed = bool(ALGORITHMS[name].position_fair) if name in ALGORITHMS else False
        out.append(
            FairnessRow(
                name,
                was,
                now,
                claimed,
                entry.get("min_p_value"),
                regression=claimed and was is True and now is not True,
            )
        )
    return out


def confirm(
    result: Comparison,
    base: Run,
    reruns: list[Run],
    rules: Sequence[Rule] = (),
    defaults: Thresholds = Thresholds(),
    family: int | None = None,
) -> None:
    """Keep a REGRESSION only if every re-run of that benchmark regresses against BASE too.

    On a shared machine a burst of load can slow one benchmark's rounds by 20-30%; a real
    regression reproduces in a fresh run, a burst rarely hits the same benchmark again."""
    for row in result.regressions:
        for rerun in reruns:
            if row.name not in rerun.benchmarks:
                row.verdict = NOT_CONFIRMED
                break
            again = compare_runs(
                Run(base.source, {row.name: base.benchmarks[row.name]}, base.doc),
                Run(rerun.source, {row.name: rerun.benchmarks[row.name]}, rerun.doc),
                defaults,
                rules,
                family or result.family,
            ).rows[0]
            if again.verdict != REGRESSION:
                row.verdict = NOT_CONFIRMED
                break
            row.confirmations.append(again.diff)
