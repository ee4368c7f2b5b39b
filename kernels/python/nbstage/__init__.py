"""Helpers for notebooks run by nbstage (this folder is on the kernels' PYTHONPATH).

``record(name, value)`` publishes a metric: nbstage stores it in the run, shows it in the
report and plots it across builds. ``nbstage.zeppelin`` gives Zeppelin notes their ``z``.
Standard library and IPython only.
"""

import json
import math

__all__ = ["METRIC_MIME", "record"]

#: Mimetype of a metric in a cell's display data.
METRIC_MIME = "application/vnd.nbstage.metric+json"


def _plain(value):
    """The value as plain JSON data (tuples become lists; numpy scalars and arrays their lists)."""
    module = type(value).__module__ or ""
    if module.split(".")[0] == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _check_json(value, path):
    """Raises TypeError unless value is JSON data: None, bool, int, finite float, str, list, dict."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{path} is {value!r}, which JSON cannot hold (use None or a string)")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} has a key {key!r} that is not a string")
            _check_json(item, f"{path}[{key!r}]")
        return
    raise TypeError(
        f"{path} is a {type(value).__name__}, which is not JSON-serializable "
        "(use numbers, strings, bools, None, lists or dicts)"
    )


def record(name, value):
    """Record a metric of this run, e.g. ``record("accuracy", 0.93)``.

    The value must be JSON data: a number, string, bool, None, or a list or dict of those
    (numpy scalars and arrays are converted). Raises TypeError for anything else, for NaN or
    infinity, and for a name that is not a non-empty string.
    """
    if not isinstance(name, str) or name.strip() == "":
        raise TypeError(f"record(): name must be a non-empty string, got {name!r}")
    plain = _plain(value)
    _check_json(plain, f"record({name!r}): value")
    # Round-trip so what is published is exactly what JSON holds.
    plain = json.loads(json.dumps(plain, allow_nan=False))
    from IPython.display import display

    display(
        {METRIC_MIME: {"name": name, "value": plain}, "text/plain": f"{name} = {value!r}"},
        raw=True,
    )
