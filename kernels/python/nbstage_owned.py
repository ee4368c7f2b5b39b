"""A Jupyter server whose kernels and own life are owned: ``python -m nbstage_owned ARGS...``.

Runs jupyter_server with ``ARGS`` and the guarantees nbstage relies on:

- **It dies with its owner.** With ``NBSTAGE_OWNER_PID`` set (nbstage serve, nbstage worker, a
  private server of nbstage run), the server gets SIGTERM when that process dies, even by
  SIGKILL (``PR_SET_PDEATHSIG``, backed by a watcher thread), shuts its kernels down, and exits
  within a few seconds at the latest. A shared server (no owner) ends when it idles out.
- **Its kernels end with what they started.** ``OwnedKernelManager`` launches every kernel
  through ``nbstage_init``, which ends the kernel's background processes with it and ends the
  kernel with the server.
- **A run's kernel ends with the run.** ``OwnedWebsocketConnection`` (with ``orphan_grace``
  set, as the shared server of embedded runs has it) shuts a kernel down when its last websocket
  has been closed that many seconds, so the kernel of an ``nbstage run`` that was SIGKILLed stops
  at once instead of running its queued cells; spare kernels and session kernels, which wait
  without a connection, are kept. It also turns TCP_NODELAY on for the kernel websocket:
  jupyter_server leaves Nagle's algorithm on, so every small message would wait for the peer's
  delayed ACK (about 40 ms on Linux).
- **Its token is on no command line.** nbstage passes it in ``NBSTAGE_SERVER_TOKEN``, which is
  taken out of the environment before any kernel starts (kernels inherit the server's).
- **What a kernel writes to its real stdout and stderr once a run uses it stays out of the log.**
  ipykernel sends what cells write to fd 1 and 2 (``os.write``, subprocesses, C libraries) to
  the notebook, where nbstage masks it, and echoes it to the real fd; a subprocess given
  ``sys.stdout`` writes to the real fd only. A kernel that inherited the server's stdout and
  stderr would put all of that, unmasked, into the shared server's log file. So each writes
  into a pipe the server reads (``OwnedKernelManager``): what comes before any client has sent
  the kernel a request other than ``kernel_info_request`` (an import error, a crash on start,
  the kernel's own warnings) is copied into the log, each line marked with the kernel's id, so
  a kernel that cannot start can still be diagnosed; from a client's first other request on,
  for good, it is read and dropped. Only a client's request can bring a kernel a run's
  secrets: the shared server's environment, which its kernels start with, holds no run's
  variables (kernels/kernel-env.ts). Masking instead would need each run's secrets in the
  server, for kernels that serve one run after another, and a second copy of nbstage's masker;
  the log is for the server's own health and does without the runs' output.
"""

import asyncio
import ctypes
import json
import os
import signal
import sys
import threading
import time

from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager
from traitlets import Bool, Float

# Sessions whose kernels wait without a connection: spares, and kernels of named sessions.
KEPT_SESSION_PREFIXES = ("nbstage-spare/", "nbstage-sessions/")

PR_SET_PDEATHSIG = 1
# After the owner is gone: this long for a clean shutdown of the kernels, then a hard exit
# (each kernel's wrapper dies with the server either way).
GRACE_SECONDS = 4.0


class OwnedKernelManager(ServerKernelManager):
    """jupyter_server's kernel manager, starting each kernel under ``nbstage_init``, its stdout and
    stderr in a pipe of the server's: logged until its first real request, dropped after.

    An IPython kernel keeps its input history in memory (as nbclient's own tests run it): a CI
    run's cells do not belong in ``~/.ipython``, and parallel kernels would contend for its
    SQLite file.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # Set once a client sent the kernel a request other than kernel_info (see the module);
        # read by the threads that relay the kernel's output.
        self._output_dropped = threading.Event()

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if any("ipykernel" in part for part in cmd) and not any(
            part.startswith("--HistoryManager.hist_file") for part in cmd
        ):
            cmd.append("--HistoryManager.hist_file=:memory:")
        return [sys.executable, "-m", "nbstage_init", "--", *cmd]

    @property
    def output_logged(self):
        """Whether what the kernel writes to its stdout and stderr is still copied to the log."""
        return not self._output_dropped.is_set()

    def stop_logging_output(self):
        """From now on, for good (restarts too), the kernel's stdout and stderr are dropped.

        Called before the request that may bring secrets is passed on to the kernel: whatever the
        kernel writes after it received that request is read after this, and dropped.
        """
        self._output_dropped.set()

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        # Every launch (restarts too) gets a pipe of its own instead of the server's stdout/err.
        read_end, write_end = os.pipe()
        try:
            await super()._async_launch_kernel(kernel_cmd, **{**kw, "stdout": write_end, "stderr": write_end})
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        threading.Thread(
            target=self._relay_output,
            args=(read_end, f"[kernel {self.kernel_id}] ".encode()),
            name="nbstage-kernel-output",
            daemon=True,
        ).start()

    def _relay_output(self, read_end, prefix):
        """Reads the kernel's output until every process holding the pipe is gone.

        Copies it to the server's stderr, line by line with `prefix`, while it is logged; drops it
        after. Reading never stops, so a kernel never blocks on a full pipe.
        """
        at_line_start = True
        with open(read_end, "rb", buffering=0) as pipe:
            while True:
                data = pipe.read(65536)
                if not data:
                    break
                if not self.output_logged:
                    continue
                lines = data.splitlines(keepends=True)
                out = b"".join((prefix if at_line_start or i > 0 else b"") + line for i, line in enumerate(lines))
                at_line_start = data.endswith((b"\n", b"\r"))
                _write_all(2, out)


def _write_all(fd, data):
    """Writes all of `data` to `fd` (os.write may write less); gives up quietly on errors."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass


V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"


def _message_type(ws_msg, subprotocol, unpack):
    """The msg_type of a message a websocket client sends, or None when it cannot be read."""
    try:
        if subprotocol == V1_PROTOCOL:
            _, parts = deserialize_msg_from_ws_v1(ws_msg)
            header = unpack(parts[0])
        elif isinstance(ws_msg, bytes):
            header = deserialize_binary_message(ws_msg)["header"]
        else:
            header = json.loads(ws_msg)["header"]
        return header.get("msg_type")
    except Exception:
        return None


class OwnedWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The stock kernel websocket, with TCP_NODELAY on and orphaned run kernels shut down."""

    nodelay = Bool(True, config=True, help="Set TCP_NODELAY on the kernel websocket.")
    orphan_grace = Float(
        0.0,
        config=True,
        help="Seconds after a run kernel's last websocket closed before it is shut down (0: never).",
    )

    def handle_incoming_message(self, incoming_msg):
        kernel = self.kernel_manager
        if isinstance(kernel, OwnedKernelManager) and kernel.output_logged:
            # Before the message goes on: see OwnedKernelManager.stop_logging_output.
            if _message_type(incoming_msg, self.subprotocol, self.session.unpack) != "kernel_info_request":
                kernel.stop_logging_output()
        return super().handle_incoming_message(incoming_msg)

    def connect(self):
        if self.nodelay:
            try:
                self.websocket_handler.set_nodelay(True)
            except Exception:  # pragma: no cover - a closed stream has nothing to tune
                self.log.debug("nbstage: could not set TCP_NODELAY", exc_info=True)
        return super().connect()

    def disconnect(self):
        kernels = self.multi_kernel_manager
        kernel_id = self.kernel_id
        sessions = self.websocket_handler.settings.get("session_manager")
        result = super().disconnect()
        if self.orphan_grace > 0 and sessions is not None:
            asyncio.get_event_loop().call_later(
                self.orphan_grace,
                lambda: asyncio.ensure_future(_end_if_orphaned(kernels, sessions, kernel_id, self.log)),
            )
        return result


async def _end_if_orphaned(kernels, sessions, kernel_id, log):
    """Shuts `kernel_id` down unless something reconnected or a kept session holds it."""
    if kernel_id not in kernels or kernels._kernel_connections.get(kernel_id, 0) > 0:
        return
    held = [s for s in await sessions.list_sessions() if s["kernel"]["id"] == kernel_id]
    if any(s.get("path", "").startswith(KEPT_SESSION_PREFIXES) for s in held):
        return
    log.info("nbstage: kernel %s lost its last connection; shutting it down", kernel_id)
    try:
        for session in held:
            await sessions.delete_session(session["id"])
        if kernel_id in kernels:
            await kernels.shutdown_kernel(kernel_id)
    except Exception:  # the kernel went away meanwhile
        log.debug("nbstage: could not shut down kernel %s", kernel_id, exc_info=True)


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
    token = os.environ.pop("NBSTAGE_SERVER_TOKEN", None)
    from jupyter_server.serverapp import launch_new_instance

    # Set in this process only: /proc/<pid>/cmdline keeps the arguments it was started with.
    extra = [] if token is None else [f"--IdentityProvider.token={token}"]
    sys.argv = ["jupyter-server", *sys.argv[1:], *extra]
    launch_new_instance()


if __name__ == "__main__":
    main()
