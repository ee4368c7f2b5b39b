"""What a Python kernel runs on, asked of the kernel itself before a run's first cell.

nbstage runs ``nbstage.environment.publish()`` silently (no cell, no history); it publishes one
display message of mimetype ``ENVIRONMENT_MIME`` that the run records in
``metadata.nbstage.environment`` and never shows. Standard library only, and cheap: the
installed distributions are read from the names of their ``.dist-info`` folders on ``sys.path``
(``name-version.dist-info``, as the packaging spec lays them out), in ``sys.path`` order so the
one the kernel imports wins, as ``importlib.metadata`` finds them; only other layouts (eggs)
have their metadata parsed. Nothing is imported to learn a version: torch, tensorflow and jax
are reported from their distributions too.
"""

import importlib.metadata
import os
import platform
import re
import sys

__all__ = ["ENVIRONMENT_MIME", "collect", "publish"]

#: Mimetype of the environment record on the kernel's iopub channel.
ENVIRONMENT_MIME = "application/vnd.nbstage.environment+json"

#: The frameworks whose versions a record names on their own.
FRAMEWORKS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax", "jaxlib": "jaxlib"}

_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+?)\.dist-info$")


def _normalized(name):
    """A distribution name as PEP 503 compares them (``Foo_Bar`` is ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def packages():
    """The distributions the kernel can import: ``{normalized name: version}``."""
    found = {}
    for dist in importlib.metadata.distributions():
        folder = getattr(dist, "_path", None)
        match = _DIST_INFO.match(getattr(folder, "name", "") or "")
        if match is not None:
            name, version = match.group("name"), match.group("version")
        else:
            name, version = dist.metadata["Name"], dist.version
        if name:
            found.setdefault(_normalized(name), version)
    return dict(sorted(found.items()))


def _libc():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None


def collect():
    """The record: the interpreter, OS and libc, the packages, conda, the frameworks."""
    installed = packages()
    conda = os.environ.get("CONDA_DEFAULT_ENV")
    record = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "prefix": sys.prefix,
        },
        "os": {"system": platform.system(), "release": platform.release(), "machine": platform.machine()},
        "libc": _libc(),
        "packages": installed,
        "frameworks": {key: installed[dist] for key, dist in FRAMEWORKS.items() if dist in installed},
    }
    if conda:
        record["conda"] = {"env": conda, "prefix": os.environ.get("CONDA_PREFIX")}
    return record


def publish():
    """Sends the record as one display message (it reaches nbstage, not the notebook)."""
    from IPython.display import publish_display_data

    publish_display_data({ENVIRONMENT_MIME: collect()})
