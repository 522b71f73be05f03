"""Whether a webhook's filter admits an event: the rule, apart from the query that narrows by
workspace, type and toggle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def filter_admits(filter_: Mapping[str, str], data: Mapping[str, Any]) -> bool:
    """An empty filter admits every event of its type; otherwise each key must equal the data's
    value exactly (case and spaces count: `Order Closed` is not `order closed`)."""
    return all(data.get(key) == value for key, value in filter_.items())
