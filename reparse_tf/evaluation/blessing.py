"""Blessing: does an evaluation pass the thresholds that allow pushing the model? (TFX-style.)

A threshold is a one-line rule ``"<lhs> <op> <rhs>"``: each side is a number or a dotted path
into the evaluator's JSON result (e.g. ``"discrete.accuracy > random_gt.discrete.accuracy"`` or
``"continuous.l1 <= 0.5"``); ``op`` is one of ``> >= < <=``. Rules are strings so they travel as
plain pipeline parameters and CLI flags. Standard library only.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reparse_tf.serving.artifacts import write_json

BLESSING_FILE = "blessing.json"
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
_RULE = re.compile(r"^\s*(\S+)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass
class Blessing:
    """The verdict: ``blessed`` when every rule holds; ``checks`` says what was compared."""

    blessed: bool
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """One line per failed rule."""
        return [c["message"] for c in self.checks if not c["passed"]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, directory: str | Path) -> Path:
        """Write ``directory/blessing.json`` (temporary name, then rename)."""
        return write_json(Path(directory) / BLESSING_FILE, self.to_json())

    @classmethod
    def load(cls, directory: str | Path) -> Blessing:
        path = Path(directory)
        path = path / BLESSING_FILE if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no blessing file (was the evaluator run?)")
        data = json.loads(path.read_text())
        return cls(bool(data["blessed"]), list(data.get("checks", [])))


def lookup(result: Mapping[str, Any], dotted: str) -> float:
    """The number at ``dotted`` (``"a.b.c"``) in ``result``; KeyError names what exists there."""
    node: Any = result
    walked: list[str] = []
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            where = ".".join(walked) or "<top>"
            known = ", ".join(sorted(map(str, node))) if isinstance(node, Mapping) else type(node).__name__
            raise KeyError(f"metric {dotted!r}: no {key!r} under {where} (available: {known})")
        node = node[key]
        walked.append(key)
    try:
        return float(node)
    except (TypeError, ValueError):
        raise KeyError(f"metric {dotted!r} is not a number: {node!r}") from None


def _value(result: Mapping[str, Any], token: str) -> float:
    try:
        return float(token)
    except ValueError:
        return lookup(result, token)


def check(result: Mapping[str, Any], rules: Sequence[str]) -> Blessing:
    """Evaluate every rule against ``result``; a rule naming a missing metric fails with a reason.

    Raises:
        ValueError: a rule that does not parse as ``<lhs> <op> <rhs>``.
    """
    checks = []
    for rule in rules:
        m = _RULE.match(rule)
        if not m:
            raise ValueError(f"threshold {rule!r} is not '<metric or number> <op> <metric or number>' "
                             f"with op in {', '.join(_OPS)}")
        lhs, op, rhs = m.groups()
        try:
            left, right = _value(result, lhs), _value(result, rhs)
        except KeyError as exc:
            checks.append({"rule": rule, "passed": False, "message": f"{rule}: {exc.args[0]}"})
            continue
        passed = bool(_OPS[op](left, right))
        checks.append({"rule": rule, "passed": passed, "left": left, "right": right,
                       "message": f"{rule}: {left:.6g} {op} {right:.6g} is {passed}"})
    return Blessing(all(c["passed"] for c in checks), checks)
