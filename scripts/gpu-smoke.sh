#!/usr/bin/env bash
# GPU smoke test, for a host with an NVIDIA GPU (nothing in CI depends on it):
# starts `nbstage serve` (its worker finds the GPUs with nvidia-smi), submits a notebook that
# asks for one GPU and uses it with torch (or, without torch, asks nvidia-smi from the kernel),
# and checks what the run recorded: the worker's labels, CUDA_VISIBLE_DEVICES of the kernel, the
# GPU model, driver and peak memory in run.json, and the cell's GPU peak in its metadata. Where
# bubblewrap works the kernel runs in its sandbox: the script checks that it sees its GPU's
# device nodes and not the service's home.
#   bash scripts/gpu-smoke.sh            (needs nvidia-smi; torch optional in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nvidia-smi >/dev/null || { echo "gpu-smoke: no nvidia-smi on this host" >&2; exit 2; }
bash scripts/setup.sh >/dev/null
WORK=$(mktemp -d)
trap 'kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NBSTAGE_ADMIN_TOKEN=$TOKEN NBSTAGE_GPU_SAMPLE_MS=100 node bin/nbstage.js serve --port "$PORT" --home "$WORK/home" --workers 1 \
  2>"$WORK/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
.venv/bin/python - "$PORT" "$TOKEN" "$WORK/home" <<'PY'
import json, sys, time, urllib.request
port, token = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}/api/v1"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as res:
        return json.loads(res.read())
code = """import os, subprocess
print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"))
# In a sandbox the kernel sees its lease's device nodes and nothing of the service's home.
print("sandboxed", not os.path.exists(HOME_PATH + "/tokens.json"),
      "devices", sorted(d for d in os.listdir("/dev") if d.startswith("nvidia")))
try:
    import torch
    x = torch.randn(4096, 4096, device="cuda")
    y = (x @ x).sum().item()
    print("torch", torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count())
    from nbstage import record
    record("gpu_devices", torch.cuda.device_count())
except ImportError:
    print(subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout)
"""
code = code.replace("HOME_PATH", repr(sys.argv[3]))
nb = {"nbformat": 4, "nbformat_minor": 5,
      "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
      "cells": [{"cell_type": "code", "id": "gpu", "source": code, "metadata": {}, "execution_count": None, "outputs": []}]}
workers = call("GET", "/workers")
print("workers:", json.dumps(workers))
assert any("gpu" in w["labels"] for w in workers), "the worker does not advertise the gpu label"
run = call("POST", "/runs", {"notebook": nb, "notebookName": "gpu-smoke.ipynb", "gpus": 1, "labels": ["gpu"], "job": "gpu-smoke", "build": "1"})
for _ in range(600):
    run = call("GET", f"/runs/{run['id']}")
    if run["state"] not in ("queued", "running"):
        break
    time.sleep(0.5)
print("run:", json.dumps({k: run[k] for k in ("state", "error", "gpus", "version")}, indent=1))
assert run["state"] == "completed", run
gpus = run.get("gpus") or []
assert len(gpus) == 1, f"expected one GPU recorded, got {gpus}"
g = gpus[0]
assert g["name"] and g["driver"] and g["memoryTotalMiB"] > 0, g
nbx = call("GET", f"/runs/{run['id']}/notebook")
text = "".join("".join(o.get("text", "")) for o in nbx["cells"][0]["outputs"])
print(text)
assert "CUDA_VISIBLE_DEVICES GPU-" in text or "CUDA_VISIBLE_DEVICES 0" in text, "the kernel did not get its GPU"
cell_peak = (nbx["cells"][0]["metadata"].get("nbstage") or {}).get("peak_gpu_memory_bytes")
print("cell GPU peak:", cell_peak)
if "torch" in text:
    assert g["peakMemoryMiB"] > 0, "peak memory not recorded"
    # The cell holds its tensors while it runs on: samples every 100 ms see them.
    assert (cell_peak or 0) > 0, "the cell's GPU peak (peak_gpu_memory_bytes) not recorded"
if "sandboxed True" in text:
    # bubblewrap is there (nbstage doctor: sandbox ok): CUDA worked inside the sandbox.
    assert "nvidiactl" in text, "the sandbox hid the driver's device nodes"
    print("gpu-smoke: the kernel ran sandboxed, with its GPU")
print("gpu-smoke: OK", g["name"], "driver", g["driver"], "peak", g["peakMemoryMiB"], "MiB")
PY
