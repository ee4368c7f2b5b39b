"""ZeppelinContext for Zeppelin notes run by nbstage.

Zeppelin paragraphs call ``z``: ``z.input(name, default)`` and the other forms read the run's
parameters instead of asking a user, and ``z.show(table)`` publishes a table that nbstage writes
back as a Zeppelin TABLE result. nbstage runs ``install(params_json)`` in the kernel first, which
binds ``z``. Standard library and IPython only.
"""

import json
from itertools import islice

__all__ = ["TABLE_MIME", "ZeppelinContext", "install"]

#: Mimetype of a table published by ``show`` (header line, then one line per row).
TABLE_MIME = "text/tab-separated-values"

_MISSING = object()
_PLAIN_LIMIT = 100_000


def _option_values(options):
    """The values of Zeppelin options: ``[(value, label), ...]`` or plain values."""
    values = []
    for option in options:
        if isinstance(option, (tuple, list)) and len(option) == 2:
            values.append(option[0])
        else:
            values.append(option)
    return values


def _cell(value):
    """A table cell as Zeppelin writes it: tabs and line breaks become spaces."""
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _is_dataframe(obj):
    return hasattr(obj, "columns") and hasattr(obj, "itertuples")


def _table(obj, max_rows, show_index):
    """(header, rows, total) for a DataFrame, a list of dicts, or a list of lists with a header."""
    if _is_dataframe(obj):
        header = [str(c) for c in obj.columns]
        if show_index:
            index_name = getattr(getattr(obj, "index", None), "name", None)
            header = ["" if index_name is None else str(index_name)] + header
        rows = list(islice(obj.itertuples(index=show_index, name=None), max_rows))
        return header, rows, len(obj)
    if isinstance(obj, (list, tuple)):
        items = list(obj)
        if items and all(isinstance(item, dict) for item in items):
            header = []
            for item in items:
                header.extend(key for key in item if key not in header)
            rows = [[item.get(key) for key in header] for item in items[:max_rows]]
            return [str(key) for key in header], rows, len(items)
        if items and all(isinstance(item, (list, tuple)) for item in items):
            header = [str(col) for col in items[0]]
            body = items[1:]
            return header, [list(row) for row in body[:max_rows]], len(body)
        if not items:
            return [], [], 0
    raise TypeError(
        "z.show() takes a pandas DataFrame, a list of dicts, or a list of rows whose first row "
        f"is the header; got {type(obj).__name__}"
    )


class ZeppelinContext:
    """The ``z`` of a Zeppelin note, backed by the run's parameters."""

    def __init__(self, params=None, max_result=1000):
        self._params = dict(params or {})
        #: Default row limit of ``show`` (Zeppelin's ``zeppelin.python.maxResult``).
        self.max_result = max_result

    def _get(self, name, default):
        return self._params[name] if name in self._params else default

    def input(self, name, default="", defaultValue=_MISSING):
        """The parameter ``name``, or ``default`` when the run does not set it."""
        return self._get(name, default if defaultValue is _MISSING else defaultValue)

    textbox = input
    noteTextbox = input

    def password(self, name, default=""):
        """The (secret) parameter ``name``."""
        return self._get(name, default)

    def select(self, name, options, default=None, defaultValue=_MISSING):
        """The parameter ``name`` (one of ``options``), or ``default``."""
        return self._get(name, default if defaultValue is _MISSING else defaultValue)

    noteSelect = select

    def checkbox(self, name, options, default=None, defaultChecked=_MISSING):
        """The checked values: the parameter ``name`` as a list (a string is split on commas),
        else ``default``, else every option (as Zeppelin checks them all by default)."""
        if defaultChecked is not _MISSING:
            default = defaultChecked
        if name in self._params:
            value = self._params[name]
            if isinstance(value, str):
                return [part.strip() for part in value.split(",") if part.strip() != ""]
            if isinstance(value, (list, tuple)):
                return list(value)
            return [value]
        if default is not None:
            return list(default)
        return _option_values(options)

    noteCheckbox = checkbox

    def show(self, obj, max_rows=None, show_index=False):
        """Publish a table: a pandas DataFrame, a list of dicts, or a list of rows whose first
        row is the header. At most ``max_rows`` rows (default 1000) are published."""
        limit = self.max_result if max_rows is None else max_rows
        header, rows, total = _table(obj, limit, show_index)
        lines = ["\t".join(_cell(col) for col in header)]
        lines.extend("\t".join(_cell(value) for value in row) for row in rows)
        plain = repr(obj)
        if len(plain) > _PLAIN_LIMIT:
            plain = plain[:_PLAIN_LIMIT] + "..."
        bundle = {TABLE_MIME: "\n".join(lines) + "\n", "text/plain": plain}
        metadata = {}
        if total > len(rows):
            metadata = {TABLE_MIME: {"truncated": True, "rows": len(rows), "total_rows": total}}
        from IPython.display import display

        display(bundle, raw=True, metadata=metadata)


def install(params_json):
    """Bind ``z`` in the IPython user namespace to a ZeppelinContext over the parameters given
    as a JSON object (a string; a dict is accepted too). Returns the context."""
    params = json.loads(params_json) if isinstance(params_json, (str, bytes)) else params_json
    if not isinstance(params, dict):
        raise TypeError("install() needs a JSON object of parameters")
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("nbstage.zeppelin.install() must run inside an IPython kernel")
    context = ZeppelinContext(params)
    shell.user_ns["z"] = context
    return context
