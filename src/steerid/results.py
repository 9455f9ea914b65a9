"""One protocol for result objects (statistics, experiments, recovery): JSON, repr, summary.

Every result dataclass mixes in :class:`ResultMixin` and so has

* ``to_dict()`` — a JSON-safe dict (:func:`jsonable` of each field; NaN and ±inf stay floats,
  which ``json.dumps`` writes as ``NaN`` / ``Infinity``, so an undefined quantity stays visible);
* a compact ``__repr__`` — the class name and its few headline scalars (declare them in
  ``_repr_fields``; arrays show their shape, never their values);
* ``summary()`` — a :class:`Summary`: a statsmodels-style table that prints as text and renders
  as an HTML table in a notebook (``_repr_html_``). A dict of diagnostic numbers, where a
  result has one, is ``diagnostics()``, never ``summary()``.

Declare result dataclasses with ``repr=False`` so that the mixin's ``__repr__`` is used.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from steerid.errors import DataError

_WIDTH = 78


def jsonable(value: Any) -> Any:
    """Return ``value`` as built-in JSON types: dicts, lists, str, int, float, bool, None.

    Objects with ``to_dict()`` are converted through it; other dataclasses field by field;
    mappings keep their keys (as ``str``); tuples, lists and arrays become lists; NumPy scalars
    become the matching built-in type. Anything else is returned unchanged.

    Example:
        >>> jsonable({"a": np.float64(0.5), "b": (np.int64(1), np.array([True]))})
        {'a': 0.5, 'b': [1, [True]]}
    """
    if not isinstance(value, type) and callable(getattr(value, "to_dict", None)):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value


def fields_dict(obj: Any, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """``{name: value}`` of a dataclass instance's fields (``ClassVar`` settings are not fields)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in exclude}


def fmt(value: Any) -> str:
    """Format one cell: floats with 4 significant digits, pairs as ``[low, high]``, arrays by shape."""
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    if isinstance(value, np.ndarray):
        return f"array{tuple(value.shape)}"
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float, np.number)) for v in value):
        return f"[{fmt(value[0])}, {fmt(value[1])}]"
    return str(value)


def ratio_ci_text(estimate: Any, low: Any, high: Any, *, unstable: bool = False, digits: int = 2) -> str:
    """``estimate [low, high]`` of a ratio, or ``estimate (unstable, no CI)`` when no interval can be trusted.

    A ratio's bootstrap interval means nothing when its denominator is not resolved (``unstable``),
    when a bound is missing or infinite (an unbounded interval), or when the interval does not even
    contain its own estimate (what a bootstrap of an unstable ratio can give). ``—`` when there is no
    estimate.

    Example:
        >>> ratio_ci_text(0.98, 0.9, 1.1), ratio_ci_text(-22.07, -450.59, -49.71)
        ('0.98 [0.90, 1.10]', '-22.07 (unstable, no CI)')
    """
    def number(x: Any) -> float | None:
        return float(x) if isinstance(x, (int, float, np.number)) and not isinstance(x, bool) and math.isfinite(x) else None

    est, lo, hi = number(estimate), number(low), number(high)
    if est is None:
        return "—"
    if unstable or lo is None or hi is None or not lo <= est <= hi:
        return f"{est:.{digits}f} (unstable, no CI)"
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of a :class:`Summary`: column names and rows of cells (formatted by :func:`fmt`)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    title: str = ""

    def cells(self) -> list[list[str]]:
        """Header then rows, every cell as its printed string."""
        return [list(self.header), *[[fmt(c) for c in row] for row in self.rows]]

    def text(self) -> list[str]:
        """The table as right-aligned text lines (first column left-aligned)."""
        grid = self.cells()
        widths = [max(len(r[j]) for r in grid if j < len(r)) for j in range(len(self.header))]
        lines = [self.title] if self.title else []
        for row in grid:
            lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
        return lines


def records_table(records: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], title: str = "") -> Table:
    """A :class:`Table` of dict records: ``columns`` are (header, dotted key path), missing → none.

    Example:
        >>> records_table([{"rho": 1.0, "tost": {"p": 0.01}}], [("ρ", "rho"), ("p", "tost.p")]).rows
        ((1.0, 0.01),)
    """
    def get(record: Any, path: str) -> Any:
        for part in path.split("."):
            if not isinstance(record, Mapping) or part not in record:
                return None
            record = record[part]
        return record

    return Table(tuple(h for h, _ in columns), tuple(tuple(get(r, k) for _, k in columns) for r in records), title)


class Summary(str):
    """A printable result summary rendered from rows: title, key–value rows, tables, sections.

    It *is* the rendered text (a ``str``), so it prints, compares and searches like one;
    ``_repr_html_`` renders the same rows as HTML tables for notebooks.

    Layout (text)::

        title (centred)
        ========
        key:   value            one line per (key, value) row
        --------
        table(s)
        --------
        verdict
        section:                e.g. assumptions, notes
          - line
        ========

    Example:
        >>> s = Summary("Paired TOST", rows=[("n", 40), ("p", 0.0123)], verdict="EQUIVALENT")
        >>> print(s.splitlines()[2])
        n:  40
        >>> "<table" in s._repr_html_()
        True
    """

    title: str
    rows: tuple[tuple[str, Any], ...]
    tables: tuple[Table, ...]
    verdict: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]

    def __new__(cls, title: str, rows: Sequence[tuple[str, Any]] = (), tables: Sequence[Table] = (),
                verdict: str = "", sections: Mapping[str, Sequence[str]] | None = None) -> Summary:
        rows_t = tuple((str(k), v) for k, v in rows)
        tables_t = tuple(tables)
        sections_t = tuple((str(k), tuple(str(x) for x in v)) for k, v in (sections or {}).items() if v)
        text = _render(title, rows_t, tables_t, verdict, sections_t)
        obj = super().__new__(cls, text)
        obj.title, obj.rows, obj.tables, obj.verdict, obj.sections = title, rows_t, tables_t, verdict, sections_t
        return obj

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickling a str subclass with a custom __new__
        return (self.title, self.rows, self.tables, self.verdict, dict(self.sections))

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return str.__str__(self)

    def _repr_html_(self) -> str:
        """The summary as HTML: a caption, a key–value table, one table per :class:`Table`."""
        e = html.escape
        parts = [f'<table class="steerid-summary"><caption>{e(self.title)}</caption>']
        parts.extend(f"<tr><th>{e(k)}</th><td>{e(fmt(v))}</td></tr>" for k, v in self.rows)
        if self.verdict:
            parts.append(f'<tr><th>verdict</th><td><b>{e(self.verdict)}</b></td></tr>')
        parts.append("</table>")
        for table in self.tables:
            grid = table.cells()
            caption = f"<caption>{e(table.title)}</caption>" if table.title else ""
            head = "".join(f"<th>{e(c)}</th>" for c in grid[0])
            body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in grid[1:])
            parts.append(f'<table class="steerid-summary">{caption}<tr>{head}</tr>{body}</table>')
        for name, lines in self.sections:
            items = "".join(f"<li>{e(x)}</li>" for x in lines)
            parts.append(f"<p>{e(name)}:</p><ul>{items}</ul>")
        return "\n".join(parts)


def _render(title: str, rows: tuple[tuple[str, Any], ...], tables: tuple[Table, ...], verdict: str,
            sections: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    table_lines = [t.text() for t in tables]
    width = max([_WIDTH, len(title)] + [len(x) for lines in table_lines for x in lines])
    key_w = max((len(k) for k, _ in rows), default=0) + 1
    lines = [title.center(width).rstrip(), "=" * width]
    lines.extend(f"{(k + ':').ljust(key_w)}  {fmt(v)}" for k, v in rows)
    for block in table_lines:
        lines.append("-" * width)
        lines.extend(block)
    if verdict:
        lines.append("-" * width)
        lines.append(verdict)
    for name, items in sections:
        lines.append(f"{name}:")
        lines.extend(f"  - {x}" for x in items)
    lines.append("=" * width)
    return "\n".join(lines)


class ResultMixin:
    """``to_dict`` / compact ``__repr__`` / ``summary`` for a result dataclass (module docstring).

    ``_repr_fields`` names the fields shown by ``repr`` (default: the first six scalar fields);
    ``summary`` defaults to one row per scalar field under the title ``_title``; results with
    tables or sections override it.
    """

    _repr_fields: ClassVar[tuple[str, ...]] = ()
    _title: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields."""
        return {k: jsonable(v) for k, v in fields_dict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """The result back from its :meth:`to_dict` form (as stored in ``results.json``).

        Fields are taken by name (nested records stay JSON mappings); keys that are not fields —
        written beside the result by the audit, e.g. ``n_confirm`` — are left out; a field with no
        default that is missing raises :class:`~steerid.errors.DataError`.
        """
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        missing = [f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise DataError(f"a stored {cls.__name__} lacks {', '.join(missing)}",
                            "read results written by this steerid version (schema_version), or re-run the unit")
        return cls(**{f.name: data[f.name] for f in fields if f.name in data})

    def _scalars(self) -> list[tuple[str, Any]]:
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if isinstance(getattr(self, f.name), (str, int, float, bool, np.number, np.bool_, type(None)))]

    def __repr__(self) -> str:
        if self._repr_fields:
            pairs = [(name, getattr(self, name)) for name in self._repr_fields]
        else:
            pairs = self._scalars()[:6]
        body = ", ".join(f"{k}={_short(v)}" for k, v in pairs)
        return f"{type(self).__name__}({body})"

    def summary(self) -> Summary:
        """A :class:`Summary` with one row per scalar field (title: ``_title`` or the class name)."""
        return Summary(self._title or type(self).__name__, rows=self._scalars())


def _short(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (list, tuple)) and not (len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        return f"[{len(value)} items]"
    if isinstance(value, Mapping):
        return f"{{{len(value)} keys}}"
    return fmt(value)


__all__ = ["ResultMixin", "Summary", "Table", "fields_dict", "fmt", "jsonable", "records_table"]
