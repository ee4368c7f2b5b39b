"""Each cell's peak resident memory, measured inside a Python kernel, exactly.

nbstage installs it silently before a run's first cell (``install()``). Before each cell it
resets the high-water mark (``VmHWM``) of the kernel and of every process under it
(``/proc/PID/clear_refs``: 5); after the cell it sums their marks. The sum goes back in the
cell's own execute reply: nbstage's execute request asks for ``PEAK_EXPRESSION`` in its
``user_expressions`` (key ``PEAK_KEY``), which ipykernel evaluates after the cell and its
``post_run_cell`` hooks, so no message is added. A failed cell's reply carries no user
expressions, so for a failed cell the sum is published instead, as one display message of
mimetype ``RESOURCES_MIME``, which nbstage takes out of the cell's outputs. Either way nbstage
records it as ``metadata.nbstage.peak_rss_bytes``. Doing both in the kernel, as the cell starts
and ends, keeps a short spike in its own cell whatever the timing of the messages. A kernel
without children (asked with one ``waitid``) is the whole tree: no walk of ``/proc``. Processes
that share pages are counted in each. Linux only; elsewhere nothing is measured.
"""

import os

__all__ = ["PEAK_EXPRESSION", "PEAK_KEY", "RESOURCES_MIME", "install", "tree_pids"]

#: Mimetype of a failed cell's resources on the kernel's iopub channel.
RESOURCES_MIME = "application/vnd.nbstage.resources+json"

#: The key of the peak in an execute request's ``user_expressions`` (and in its reply's).
PEAK_KEY = "nbstage.peak_rss_bytes"

#: The user expression that takes the last cell's peak (bytes; ``None`` when it was published or
#: not measured): evaluated in the notebook's namespace, it names nothing of it.
PEAK_EXPRESSION = '__import__("IPython").get_ipython()._nbstage_resources.take()'

#: ``waitid`` option: children of any exit signal count (Linux's ``__WALL``).
_WALL = 0x40000000


def _read(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _has_children():
    """Whether this process (any of its threads) has a child, alive or not yet waited for."""
    try:
        # WNOWAIT: a child that ended stays waitable for whoever started it.
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT | _WALL)
    except ChildProcessError:
        return False
    except OSError:
        pass  # cannot tell: walk
    return True


def tree_pids(root=None):
    """This process (or ``root``) and every process below it."""
    if root is None and not _has_children():
        return [os.getpid()]
    seen, todo = [], [root or os.getpid()]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                todo.extend(int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split())
            except OSError:
                pass
    return seen


def _reset():
    for pid in tree_pids():
        try:
            fd = os.open(f"/proc/{pid}/clear_refs", os.O_WRONLY)
            try:
                os.write(fd, b"5")
            finally:
                os.close(fd)
        except OSError:
            pass


def _peak():
    total = None
    for pid in tree_pids():
        try:
            status = _read(f"/proc/{pid}/status")
        except OSError:
            continue
        start = status.find(b"\nVmHWM:")
        if start >= 0:
            end = status.find(b"\n", start + 1)
            total = (total or 0) + int(status[start + 7 : end].split()[0]) * 1024
    return total


class _Hooks:
    """The two hooks on one IPython, and the peak that waits for the cell's reply."""

    def __init__(self, ip):
        self.ip = ip
        self.peak = None

    def before(self, info=None):
        self.peak = None
        _reset()

    def after(self, result=None):
        peak = _peak()
        # ipykernel evaluates user expressions only for a cell that succeeded (an error in the
        # display hook fails it too): any other cell's peak would never reach nbstage.
        ok = (
            result is not None
            and result.success
            and not getattr(self.ip, "_last_traceback_during_displayhook", False)
        )
        if ok:
            self.peak = peak
        elif peak is not None:
            from IPython.display import publish_display_data

            publish_display_data({RESOURCES_MIME: {"peak_rss_bytes": peak}})

    def take(self):
        """The peak of the cell that just ended, once (``PEAK_EXPRESSION`` calls it)."""
        peak, self.peak = self.peak, None
        return peak


def install(ip=None):
    """Registers the two hooks on the running IPython (once). Without ``/proc`` none is: then
    ``PEAK_EXPRESSION`` answers ``None``."""
    if ip is None:
        from IPython import get_ipython

        ip = get_ipython()
    if ip is None or getattr(ip, "_nbstage_resources", None) is not None:
        return
    hooks = _Hooks(ip)
    if os.path.isdir("/proc/self/task"):
        ip.events.register("pre_run_cell", hooks.before)
        ip.events.register("post_run_cell", hooks.after)
    ip._nbstage_resources = hooks
