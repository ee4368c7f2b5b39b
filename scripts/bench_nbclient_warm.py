"""nbclient on a kernel that is already running: the nbclient side of `npm run bench`'s warm-pool.

Usage: bench_nbclient_warm.py REPEAT NOTEBOOK...

Starts one python3 kernel with jupyter_client's AsyncKernelManager (the kernel manager class
nbclient itself uses), with the in-memory history nbclient gives the kernels it starts, and runs
one untimed notebook on it. Then, REPEAT times, for each NOTEBOOK in turn, times reading it and
``NotebookClient(nb, km=km).async_execute()``. nbclient starts no kernel for a manager that has
one (``async_setup_kernel`` checks ``km.has_kernel``) and, as it does not own that manager
(``owns_km`` is false), does not shut it down either; each client opens its own kernel client
(channels, then kernel_info until the kernel answers), the same for every notebook. Its channels
are closed after the clock stops. Prints one JSON object: {NOTEBOOK: [ms, ...], ...}.
"""

import asyncio
import json
import sys
import time

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient


async def execute(path: str, km: AsyncKernelManager) -> float:
    """Reads and executes the notebook at `path` on `km`'s kernel; its wall time in ms."""
    start = time.perf_counter()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, km=km, kernel_name="python3")
    await client.async_execute()
    ms = (time.perf_counter() - start) * 1000
    if client.kc is not None:
        client.kc.stop_channels()
    return ms


async def main(repeat: int, paths: list[str]) -> dict[str, list[float]]:
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
    try:
        await execute(paths[0], km)
        times: dict[str, list[float]] = {path: [] for path in paths}
        for _ in range(repeat):
            for path in paths:
                times[path].append(await execute(path, km))
        return times
    finally:
        # Also removes the connection file.
        await km.shutdown_kernel()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(int(sys.argv[1]), sys.argv[2:]))))
