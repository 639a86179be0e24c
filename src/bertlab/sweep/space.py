"""Search space: Hydra sweep overrides ⇄ Optuna distributions.

The syntax is the one of hydra-optuna-sweeper, so configs read the same:

- ``choice(a, b, c)`` or ``a,b,c``   → categorical
- ``interval(lo, hi)``               → uniform float
- ``tag(log, interval(lo, hi))``     → log-uniform float
- ``range(start, stop[, step])``     → int (or float) grid of steps

One deliberate difference: ``range`` follows Hydra's own (and Python's) meaning, so ``stop``
is exclusive: ``range(1,4)`` is 1, 2, 3 — as the basic sweeper reads it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)

from bertlab.sweep.errors import SweepError


@dataclass(frozen=True)
class SearchSpace:
    """A parsed search space.

    Attributes:
        params: Optuna parameter name → distribution (name is the key without ``+``/``++``).
        keys: Optuna parameter name → override key as written (e.g. ``+trainer.foo``).
        fixed: Overrides passed through unchanged to every trial.
    """

    params: dict[str, BaseDistribution]
    keys: dict[str, str]
    fixed: list[str]

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """Turn sampled values into Hydra overrides, after the fixed ones."""
        swept = [f"{self.keys[name]}={format_value(values[name])}" for name in self.params]
        return [*self.fixed, *swept]

    def example(self) -> list[str]:
        """Overrides of one point of the space (first choices, lower bounds), to check keys."""
        values = {
            name: dist.choices[0] if isinstance(dist, CategoricalDistribution) else dist.low
            for name, dist in self.params.items()
        }
        return self.overrides(values)

    def grid(self) -> dict[str, list[Any]]:
        """The finite value lists GridSampler needs.

        Raises:
            SweepError: When a parameter is a continuous interval.
        """
        out: dict[str, list[Any]] = {}
        for name, dist in self.params.items():
            if isinstance(dist, CategoricalDistribution):
                out[name] = list(dist.choices)
            elif dist.step is not None and not getattr(dist, "log", False):
                n = round((dist.high - dist.low) / dist.step)
                out[name] = [_clean(dist.low + i * dist.step, dist) for i in range(n + 1)]
            else:
                raise SweepError(
                    f"The grid sampler needs finite values, but {name} is an interval; "
                    "use choice(...) or range(...)."
                )
        return out


def parse_space(params: Mapping[str, Any] | None, arguments: Sequence[str]) -> SearchSpace:
    """Parse ``hydra.sweeper.params`` and the command-line overrides into a search space.

    Command-line sweep overrides replace config params with the same key; plain
    command-line overrides are fixed for every trial.

    Args:
        params: Mapping of override key to sweep expression (``hydra.sweeper.params``).
        arguments: Command-line task overrides.

    Raises:
        SweepError: On an expression that cannot be turned into a distribution.
    """
    parser = OverridesParser.create()
    lines = [f"{k}={v}" for k, v in _flatten(params or {}).items()] + list(arguments)
    dists: dict[str, BaseDistribution] = {}
    keys: dict[str, str] = {}
    fixed: dict[str, str] = {}
    for override in parser.parse_overrides(lines):
        name = override.key_or_group
        if override.package:
            name = f"{name}@{override.package}"
        dists.pop(name, None)
        fixed.pop(name, None)
        keys.pop(name, None)
        if override.is_sweep_override():
            dists[name] = to_distribution(override)
            keys[name] = override.get_key_element()
        else:
            fixed[name] = override.input_line or ""
    return SearchSpace(dists, keys, list(fixed.values()))


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"dropout": e}}`` (dotted key set on the command line) → ``model.dropout``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def to_distribution(override: Override) -> BaseDistribution:
    """One sweep override → one Optuna distribution.

    Raises:
        SweepError: For shuffled sweeps or reversed/empty ranges.
    """
    value = override.value()
    key = override.get_key_element()
    if getattr(value, "shuffle", False):
        raise SweepError(f"{key}: shuffle(...) has no meaning in an Optuna search.")
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution([_choice(v) for v in value.list])
    if isinstance(value, IntervalSweep):
        lo, hi = float(value.start), float(value.end)
        if not lo < hi:
            raise SweepError(f"{key}: interval({lo}, {hi}) is empty.")
        return FloatDistribution(lo, hi, log="log" in value.tags)
    if isinstance(value, RangeSweep):
        return _range(key, value)
    raise SweepError(f"{key}: unsupported sweep {override.input_line!r}.")


def _range(key: str, value: RangeSweep) -> BaseDistribution:
    start, stop, step = value.start, value.stop, value.step
    if step is None or step <= 0 or stop is None or start is None or not start < stop:
        raise SweepError(f"{key}: range({start}, {stop}, {step}) must have start < stop, step > 0.")
    n = math.ceil((stop - start) / step - 1e-9)  # number of values, stop exclusive
    if all(isinstance(x, int) for x in (start, stop, step)):
        return IntDistribution(start, start + (n - 1) * step, step=step)
    last = round(start + (n - 1) * step, 12)
    if n == 1:
        return CategoricalDistribution([float(start)])
    return FloatDistribution(float(start), last, step=float(step))


def _choice(value: Any) -> Any:
    """Keep plain scalars as they are (readable in the summary); encode anything else."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    return Transformer.encode(value)


def _clean(x: float, dist: BaseDistribution) -> Any:
    return int(round(x)) if isinstance(dist, IntDistribution) else round(x, 12)


def format_value(value: Any) -> str:
    """Render a sampled value as the right-hand side of a Hydra override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def canonical(space: SearchSpace) -> dict[str, Any]:
    """The space as plain JSON data: the swept keys' distributions and the sorted fixed overrides.

    This is a study's identity: the same command gives the same data, in any order of keys.
    """
    params = {
        space.keys[name]: json.loads(distribution_to_json(dist))
        for name, dist in space.params.items()
    }
    return {"params": dict(sorted(params.items())), "fixed": sorted(space.fixed)}


def fingerprint(data: Mapping[str, Any]) -> str:
    """8 hex digits of sha256 over :func:`canonical` data."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def describe(data: Mapping[str, Any]) -> str:
    """One line for the log: ``x: interval(0.0, 1.0), y: choice(1, 2); fixed: a=1``."""
    params = ", ".join(f"{k}: {_expr(v)}" for k, v in data.get("params", {}).items())
    fixed = " ".join(data.get("fixed", []))
    return f"{params}; fixed: {fixed}" if fixed else params


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new`` (both :func:`canonical` data), one phrase each."""
    out: list[str] = []
    old_p, new_p = old.get("params", {}), new.get("params", {})
    for key in sorted(old_p.keys() | new_p.keys()):
        if key not in new_p:
            out.append(f"param {key} removed (was {_expr(old_p[key])})")
        elif key not in old_p:
            out.append(f"param {key} added ({_expr(new_p[key])})")
        elif old_p[key] != new_p[key]:
            out.append(f"param {key}: {_expr(old_p[key])} -> {_expr(new_p[key])}")
    old_f, new_f = set(old.get("fixed", [])), set(new.get("fixed", []))
    out += [f"fixed override {o} removed" for o in sorted(old_f - new_f)]
    out += [f"fixed override {o} added" for o in sorted(new_f - old_f)]
    return out


def _expr(dist_json: Mapping[str, Any]) -> str:
    """A stored distribution written back in the search space syntax."""
    dist = json_to_distribution(json.dumps(dist_json))
    if isinstance(dist, CategoricalDistribution):
        return f"choice({', '.join(format_value(c) for c in dist.choices)})"
    if dist.step is not None:
        stop = _clean(dist.high + dist.step, dist)
        step = "" if dist.step == 1 and isinstance(dist, IntDistribution) else f", {dist.step}"
        return f"range({dist.low}, {stop}{step})"
    text = f"interval({dist.low}, {dist.high})"
    return f"tag(log, {text})" if dist.log else text
