"""Parameters with physical units: declaration, parsing and validation.

Every model factory in :mod:`sbp_brian.equations` declares its parameters as a
table of :class:`Param` (unit, default, allowed range, meaning).  The same
table validates keyword arguments given in Python and values read from model
files (``"20*ms"`` strings), so a parameter has exactly one definition.
"""
from __future__ import annotations

import ast
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import brian2
from brian2 import Quantity, Unit
from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

__all__ = ["Param", "ParameterError", "parse_quantity", "validate_params", "format_quantity",
           "describe_fields"]


class ParameterError(ValueError):
    """A parameter value is missing, unknown, of the wrong unit or out of range."""


@dataclass(frozen=True)
class Param:
    """Declaration of one model parameter.

    Parameters
    ----------
    unit : brian2 Unit or 1
        The unit the value must carry (``1`` for dimensionless numbers).
    default : Quantity, float or None
        Value used when the caller gives none; ``None`` makes it required.
    low, high : float or None
        Inclusive range bounds, in units of ``unit``.
    strict_low : bool
        If true the lower bound is exclusive (time constants must be > 0).
    doc : str
        Meaning of the parameter, with the equation it appears in.
    integer : bool
        The value must be an integer (sizes, seeds).
    many : bool
        A non-empty list of values is accepted too, each checked (e.g. one size per hidden
        layer).
    """

    unit: Any
    default: Any = None
    low: float | None = None
    high: float | None = None
    strict_low: bool = False
    doc: str = ""
    integer: bool = False
    many: bool = False

    @property
    def dimensionless(self) -> bool:
        return not isinstance(self.unit, Quantity)

    @property
    def dimensions(self):
        return DIMENSIONLESS if self.dimensionless else get_dimensions(self.unit)

    def unit_name(self) -> str:
        return "1 (dimensionless)" if self.dimensionless else str(self.unit)

    def _bound(self, limit: float) -> str:
        return f"{limit:g}" if self.dimensionless else f"{limit:g} {self.unit}"

    def check(self, name: str, value: Any, where: str = "") -> Any:
        """Return ``value`` if it has the right unit and lies in range, else raise."""
        prefix = f"{where}: " if where else ""
        if isinstance(value, (list, tuple)):
            if not self.many:
                raise ParameterError(f"{prefix}'{name}' takes one value, got a list")
            if not value:
                raise ParameterError(f"{prefix}'{name}' is an empty list")
            return [self.check(name, item, where) for item in value]
        if isinstance(value, bool):
            raise ParameterError(f"{prefix}'{name}' must be a number, got a boolean")
        if self.integer:
            if isinstance(value, Quantity) or not float(value).is_integer():
                raise ParameterError(f"{prefix}'{name}' must be an integer, got {value!r}")
            value = int(value)
        dims = get_dimensions(value)
        if dims is not self.dimensions and dims != self.dimensions:
            if dims is DIMENSIONLESS:
                raise ParameterError(
                    f"{prefix}'{name}' has no unit: expected a value in {self.unit_name()}, "
                    f"e.g. \"{_example(self.unit)}\"")
            raise ParameterError(
                f"{prefix}'{name}' = {format_quantity(value)} has the wrong unit: "
                f"expected {self.unit_name()}")
        magnitude = float(value) if self.dimensionless else float(value / self.unit)
        if math.isnan(magnitude):
            raise ParameterError(f"{prefix}'{name}' is NaN")
        if self.low is not None:
            if magnitude < self.low or (self.strict_low and magnitude == self.low):
                relation = ">" if self.strict_low else ">="
                raise ParameterError(
                    f"{prefix}'{name}' = {format_quantity(value)} is out of range: "
                    f"must be {relation} {self._bound(self.low)}")
        if self.high is not None and magnitude > self.high:
            raise ParameterError(
                f"{prefix}'{name}' = {format_quantity(value)} is out of range: "
                f"must be <= {self._bound(self.high)}")
        return value


def _example(unit) -> str:
    return f"10*{unit}"


def format_quantity(value: Any) -> str:
    return str(value) if isinstance(value, Quantity) else repr(value)


def _unit_table() -> dict[str, Any]:
    table = {}
    for name in dir(brian2.units):
        obj = getattr(brian2.units, name)
        if isinstance(obj, Unit):
            table[name] = obj
    return table


_UNITS = _unit_table()


def parse_quantity(text: str | int | float) -> Any:
    """Parse ``"20*ms"``, ``"-65*mV"``, ``"0.5"`` or ``"1*nS/mV"`` into a Quantity or float.

    Only numbers, Brian2 unit names and ``* / ** -`` are accepted; anything
    else (function calls, attribute access, unknown names) is an error, so a
    model file can never execute code.
    """
    if isinstance(text, bool):
        raise ParameterError(f"expected a number or a quantity string, got {text!r}")
    if isinstance(text, (int, float)):
        return text
    if not isinstance(text, str):
        raise ParameterError(f"expected a number or a quantity string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ParameterError(f"cannot parse quantity {text!r}: {err.msg}") from None
    return _evaluate(tree.body, text)


def _evaluate(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _UNITS:
            return _UNITS[node.id]
        if node.id in ("inf", "infinity"):
            return math.inf
        raise ParameterError(f"unknown unit {node.id!r} in {text!r}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _evaluate(node.operand, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
        left, right = _evaluate(node.left, text), _evaluate(node.right, text)
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            return left / right
        return left ** right
    raise ParameterError(f"cannot parse quantity {text!r}: only numbers, units and * / ** are allowed")


def validate_params(table: Mapping[str, Param], given: Mapping[str, Any],
                    where: str = "") -> dict[str, Any]:
    """Check ``given`` against ``table`` and fill in defaults.

    Raises :class:`ParameterError` naming the first unknown key, missing
    required key, wrong unit or out-of-range value.
    """
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(given) - set(table))
    if unknown:
        raise ParameterError(
            f"{prefix}unknown parameter '{unknown[0]}'; known parameters: {', '.join(sorted(table))}")
    values = {}
    for name, spec in table.items():
        if name in given:
            values[name] = spec.check(name, given[name], where)
        elif spec.default is not None:
            values[name] = spec.default
        else:
            raise ParameterError(f"{prefix}missing required parameter '{name}' ({spec.doc})")
    return values


def describe_fields(config) -> dict:
    """A dataclass configuration as JSON-friendly values: quantities (also inside dicts) as
    strings, everything else as it is (the ``describe()`` of the network configurations)."""
    def strings(table: dict) -> dict:  # nested tables (per-layer parameters) too
        return {str(k): strings(v) if isinstance(v, dict) else str(v) for k, v in table.items()}

    out = {}
    for key, value in dataclasses.asdict(config).items():
        if isinstance(value, dict):
            out[key] = strings(value)
        elif hasattr(value, "dim"):
            out[key] = str(value)
        else:
            out[key] = value
    return out
