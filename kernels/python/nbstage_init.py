"""Runs a kernel so that nothing it starts outlives it: ``python -m nbstage_init -- ARGV...``.

A notebook may leave processes behind (``subprocess.Popen(..., start_new_session=True)``,
``nohup sleep 300 &``); a process group does not hold them. This wrapper (W) puts the kernel in
a process tree that ends with it:

- **pid namespace** (when the process may create one: root, or CAP_SYS_ADMIN): W forks an init
  (I) that is pid 1 of a new pid namespace with its own ``/proc``; I starts the kernel (K). When
  K exits, I exits, and the kernel of the operating system kills every process left in the
  namespace. When I is killed (SIGKILL of the process group), the namespace goes with it.
- **subreaper** (otherwise): I marks itself a child subreaper, so orphaned descendants become
  its children; when K exits, I kills every process under it before it exits.

W dies with its parent (the Jupyter server, or nbstage itself) and I dies with W
(``PR_SET_PDEATHSIG``), so a SIGKILLed owner leaves nothing running. W and I ignore SIGINT and
SIGTERM themselves: Jupyter signals the whole process group, which K is part of, so the kernel
gets every interrupt and termination once. W exits with K's exit status (or dies of K's signal).

The mode used is written to ``NBSTAGE_KERNEL_ISOLATION`` in K's environment (``pid-namespace``
or ``subreaper``); ``NBSTAGE_NO_PIDNS=1`` forces the subreaper.
"""

import ctypes
import errno
import os
import select
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_SLAVE = 1 << 19

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


def _prctl(option, value):
    return _libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0) == 0


def _die_with_parent(sig, alive_fd):
    """Dies of `sig` when the parent dies; exits now if it is already gone (the fd hung up)."""
    _prctl(PR_SET_PDEATHSIG, sig)
    ready, _, _ = select.select([alive_fd], [], [], 0)
    if ready:  # EOF: the parent closed its end by dying before the prctl took effect
        os._exit(1)


def _quiet_handlers():
    """W and I take no part in interrupts: Jupyter signals the process group, K included."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda *_: None)


def _new_pid_namespace():
    if os.environ.get("NBSTAGE_NO_PIDNS") == "1":
        return False
    return _libc.unshare(CLONE_NEWPID | CLONE_NEWNS) == 0


def _mount_proc():
    """Inside the new namespaces: /proc shows this namespace's processes (psutil, ps work)."""
    if _libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
        return False
    return _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) == 0


def _limit_memory(env):
    """``--memory``: the kernel and what it starts may map at most NBSTAGE_MEMORY_LIMIT bytes.

    An address-space limit (RLIMIT_AS): an allocation over it fails (Python's MemoryError)
    instead of the OS killing the kernel. glibc reserves address space per malloc arena, so
    fewer arenas are asked for unless the caller chose a number.
    """
    limit = env.get("NBSTAGE_MEMORY_LIMIT")
    if not limit:
        return
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    value = int(limit) if hard == resource.RLIM_INFINITY else min(int(limit), hard)
    resource.setrlimit(resource.RLIMIT_AS, (value, value))
    env.setdefault("MALLOC_ARENA_MAX", "2")


def _exec_kernel(argv, mode, parent_pid):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    env = dict(os.environ)
    env["NBSTAGE_KERNEL_ISOLATION"] = mode
    # ipykernel exits when its parent changes from JPY_PARENT_PID: its parent is I now.
    if mode == "pid-namespace":
        env.pop("JPY_PARENT_PID", None)
    else:
        env["JPY_PARENT_PID"] = str(parent_pid)
    try:
        _limit_memory(env)
        os.execvpe(argv[0], argv, env)
    except OSError as err:
        sys.stderr.write(f"nbstage_init: cannot start the kernel {argv[0]!r}: {err.strerror}\n")
        os._exit(127)


def _descendants(root):
    """Pids of every process under `root` (from /proc), deepest last."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap_all_under_me():
    """Subreaper mode: kill what K left behind and reap it."""
    for _ in range(50):
        pids = _descendants(os.getpid())
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] != 0:
                pass
        except ChildProcessError:
            break


def _status_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _init(argv, alive_fd, pidns):
    """I: starts K, reaps every orphan, exits with K's status."""
    _die_with_parent(signal.SIGKILL, alive_fd)
    mode = "pid-namespace" if pidns and _mount_proc() else "subreaper"
    if mode == "subreaper":
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    me = os.getpid()
    kernel = os.fork()
    if kernel == 0:
        os.close(alive_fd)
        _exec_kernel(argv, mode, me)
    _quiet_handlers()
    code = 1
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == kernel:
            code = _status_code(status)
            break
    if mode == "subreaper":
        _reap_all_under_me()
    # In a pid namespace, the exit of its init ends every process still in it.
    os._exit(code)


def main(argv):
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.stderr.write("usage: python -m nbstage_init -- KERNEL-ARGV...\n")
        return 2
    # W dies with whoever started it; JPY_PARENT_PID (set by jupyter_client) says who that was.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    expected = int(os.environ.get("JPY_PARENT_PID") or 0)
    if expected and os.getppid() != expected:
        return 1
    parent_r, parent_w = os.pipe()
    pidns = _new_pid_namespace()
    init = os.fork()
    if init == 0:
        os.close(parent_w)
        _init(argv, parent_r, pidns)
    os.close(parent_r)
    _quiet_handlers()
    while True:
        try:
            _, status = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1
    code = _status_code(status)
    if code > 128 and code - 128 in {s.value for s in signal.Signals}:
        # K died of a signal: so does W, for whoever watches the kernel's process.
        sig = code - 128
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as err:
        if err.errno != errno.EINTR:
            raise
