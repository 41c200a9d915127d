"""What a task cost: a price table per model, applied to task metadata.

Prices are per million tokens, in and out, in one currency (the table's). A task's
metadata names its ``model`` and its ``tokens_in`` and ``tokens_out``; a task with
no model, or a model the table does not list, has no cost (None), which is not the
same as a cost of 0 and is counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["Price", "PriceTable", "task_cost"]


class Price(NamedTuple):
    """Price of a model, per million tokens."""

    input_per_mtok: float
    output_per_mtok: float


PriceTable = Mapping[str, Price]


def parse_prices(raw: Mapping[str, Any]) -> dict[str, Price]:
    """Check a price table such as TOML's ``[prices."gpt-4o"] input = 2.5  output = 10``.

    Raises:
        ValueError: naming the model and the key that is wrong.
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"prices must be a table of model -> {{input, output}}, not {raw!r}")
    table: dict[str, Price] = {}
    for model, entry in raw.items():
        if not isinstance(model, str) or not model:
            raise ValueError(f"prices: a model name must be a non-empty string, not {model!r}")
        if isinstance(entry, Price):
            entry = {"input": entry.input_per_mtok, "output": entry.output_per_mtok}
        if not isinstance(entry, Mapping) or set(entry) - {"input", "output"}:
            raise ValueError(f"prices.{model}: expected a table with 'input' and 'output', not {entry!r}")
        values = []
        for key in ("input", "output"):
            value = entry.get(key, 0.0)
            if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"prices.{model}.{key}: expected a price >= 0 per million tokens, "
                                 f"not {value!r}")
            values.append(float(value))
        table[model] = Price(values[0], values[1])
    return table


def task_cost(metadata: Mapping[str, Any], prices: PriceTable) -> float | None:
    """The task's cost from its metadata, or None when no listed model is named."""
    model = metadata.get("model")
    if type(model) is not str:
        return None
    price = prices.get(model)
    if price is None:
        return None
    tokens_in = metadata.get("tokens_in", 0)
    tokens_out = metadata.get("tokens_out", 0)
    if type(tokens_in) is not int or type(tokens_out) is not int or tokens_in < 0 or tokens_out < 0:
        return None
    return (tokens_in * price.input_per_mtok + tokens_out * price.output_per_mtok) / 1_000_000
