"""A Jupyter server whose kernels and own life are owned: ``python -m nbstage_owned ARGS...``.

Runs jupyter_server with ``ARGS`` and two guarantees nbstage relies on:

- **It dies with its owner.** With ``NBSTAGE_OWNER_PID`` set (nbstage serve, nbstage worker, a
  private server of nbstage run), the server gets SIGTERM when that process dies, even by
  SIGKILL (``PR_SET_PDEATHSIG``, backed by a watcher thread), shuts its kernels down, and exits
  within a few seconds at the latest. A shared server (no owner) ends when it idles out.
- **Its kernels end with what they started.** ``OwnedKernelManager`` launches every kernel
  through ``nbstage_init``, which ends the kernel's background processes with it and ends the
  kernel with the server.
"""

import ctypes
import os
import signal
import sys
import threading
import time

from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

PR_SET_PDEATHSIG = 1
# After the owner is gone: this long for a clean shutdown of the kernels, then a hard exit
# (each kernel's wrapper dies with the server either way).
GRACE_SECONDS = 4.0


class OwnedKernelManager(ServerKernelManager):
    """jupyter_server's kernel manager, starting each kernel under ``nbstage_init``."""

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, "-m", "nbstage_init", "--", *cmd]


def _watch_owner(owner):
    """Ends this process when `owner` is no longer its parent."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watcher below still works
        pass

    def watch():
        while os.getppid() == owner:
            time.sleep(0.25)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(GRACE_SECONDS)
        os._exit(1)

    if os.getppid() != owner:
        os._exit(1)
    threading.Thread(target=watch, name="nbstage-owner-watch", daemon=True).start()


def main():
    owner = os.environ.pop("NBSTAGE_OWNER_PID", "")
    if owner:
        _watch_owner(int(owner))
    from jupyter_server.serverapp import launch_new_instance

    sys.argv = ["jupyter-server", *sys.argv[1:]]
    launch_new_instance()


if __name__ == "__main__":
    main()
