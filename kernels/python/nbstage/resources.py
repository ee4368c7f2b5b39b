"""Each cell's peak resident memory, measured inside a Python kernel, exactly.

nbstage installs it silently before a run's first cell (``install()``). Before each cell it
resets the high-water mark (``VmHWM``) of the kernel and of every process under it
(``/proc/PID/clear_refs``: 5); after the cell it sums their marks and publishes them as one
display message of mimetype ``RESOURCES_MIME``, which nbstage takes out of the cell's outputs
and records as ``metadata.nbstage.peak_rss_bytes``. Doing both in the kernel, as the cell
starts and ends, keeps a short spike in its own cell whatever the timing of the messages.
Processes that share pages are counted in each. Linux only; elsewhere nothing is published.
"""

import os

__all__ = ["RESOURCES_MIME", "install", "tree_pids"]

#: Mimetype of a cell's resources on the kernel's iopub channel.
RESOURCES_MIME = "application/vnd.nbstage.resources+json"


def tree_pids(root=None):
    """This process (or ``root``) and every process below it."""
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
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return seen


def _reset():
    for pid in tree_pids():
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def _peak():
    total = None
    for pid in tree_pids():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total = (total or 0) + int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def install(ip=None):
    """Registers the two hooks on the running IPython (once)."""
    if not os.path.isdir("/proc/self/task"):
        return
    if ip is None:
        from IPython import get_ipython

        ip = get_ipython()
    if ip is None or getattr(ip, "_nbstage_resources", False):
        return
    from IPython.display import publish_display_data

    def after(result=None):
        peak = _peak()
        if peak is not None:
            publish_display_data({RESOURCES_MIME: {"peak_rss_bytes": peak}})

    ip.events.register("pre_run_cell", lambda info=None: _reset())
    ip.events.register("post_run_cell", after)
    ip._nbstage_resources = True
