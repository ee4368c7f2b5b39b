/**
 * The red team's probe, as a notebook cell: from inside a kernel it reads what it can of other
 * processes (environments, command lines), of the service's files and of other kernels
 * (connection files anywhere it can see, and every listening TCP port and Unix socket, which it
 * subscribes to and sends an unsigned execute_request), and prints every finding REVERSED, so
 * that masking cannot hide a leak: a test looks for the reversed secrets in what it printed.
 * The victim's cell prints its secret until its gate opens, so a kernel reachable through its
 * sockets shows it to a probe that subscribes.
 */

/** Options of {@link probeCell}. */
export interface ProbeOptions {
  /** Files and folders of the service that must stay unreadable (tokens.json, ...). */
  unreadable: string[];
  /** How long to listen on every socket found, in seconds. */
  listenSeconds?: number;
}

/** The probe's cell. Its lines are `<what> <finding>`; findings of other processes reversed. */
export function probeCell(options: ProbeOptions): string {
  return String.raw`
import json, os, socket, time, uuid, zmq
def rev(text):
    return text[::-1]
found_env = 0
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        env = open(f"/proc/{pid}/environ", "rb").read().decode("utf8", "replace")
        found_env += 1
        print("environ", pid, rev(env.replace("\0", "\n")))
    except OSError as e:
        print("environ-refused", pid, type(e).__name__)
    try:
        print("cmdline", pid, rev(open(f"/proc/{pid}/cmdline", "rb").read().decode("utf8", "replace").replace("\0", " ")))
    except OSError:
        pass
print("environs-read", found_env)
print("own-names", " ".join(sorted(os.environ)))
print("own-environ", rev("\n".join(f"{k}={v}" for k, v in os.environ.items())))
for target in ${JSON.stringify(options.unreadable)}:
    try:
        if os.path.isdir(target):
            print("service-file", target, "listed", rev(" ".join(os.listdir(target))))
        else:
            print("service-file", target, "read", rev(open(target).read()))
    except OSError as e:
        print("service-file", target, type(e).__name__)
connection_files = []
for top in ("/",):
    for folder, dirs, files in os.walk(top):
        if folder == "/":
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr")]
        for name in files:
            p = os.path.join(folder, name)
            if not name.endswith(".json") or os.path.islink(p):
                continue
            try:
                head = open(p, "rb").read(4096)
            except OSError:
                continue
            if b"signature_scheme" in head:
                connection_files.append(p)
                print("connection-file", p, rev(head.decode("utf8", "replace")))
print("connection-files", len(connection_files))
endpoints = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        cols = row.split()
        if cols[3] == "0A":
            port = int(cols[1].split(":")[1], 16)
            endpoints.append(f"tcp://127.0.0.1:{port}" if table.endswith("tcp") else f"tcp://[::1]:{port}")
try:
    for row in open("/proc/net/unix").read().splitlines()[1:]:
        cols = row.split()
        if len(cols) >= 8 and cols[7].startswith("/"):
            endpoints.append("ipc://" + cols[7])
except OSError:
    pass
print("endpoints", len(endpoints))
ctx = zmq.Context()
subs, dealers = [], []
for ep in sorted(set(endpoints)):
    s = ctx.socket(zmq.SUB); s.setsockopt(zmq.LINGER, 0); s.setsockopt(zmq.SUBSCRIBE, b"")
    d = ctx.socket(zmq.DEALER); d.setsockopt(zmq.LINGER, 0)
    try:
        s.connect(ep); d.connect(ep)
    except zmq.ZMQError:
        s.close(); d.close(); continue
    subs.append((ep, s)); dealers.append((ep, d))
header = {"msg_id": uuid.uuid4().hex, "username": "probe", "session": uuid.uuid4().hex,
          "msg_type": "execute_request", "version": "5.3", "date": ""}
content = {"code": "print('reached by the probe')", "silent": False, "store_history": False,
           "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
frames = [b"<IDS|MSG>", b"", json.dumps(header).encode(), b"{}", b"{}", json.dumps(content).encode()]
for ep, d in dealers:
    try:
        d.send_multipart(frames, zmq.NOBLOCK)
    except zmq.ZMQError:
        pass
poller = zmq.Poller()
for _, s in subs + dealers:
    poller.register(s, zmq.POLLIN)
names = {s: ep for ep, s in subs + dealers}
heard = 0
deadline = time.time() + ${options.listenSeconds ?? 3}
while time.time() < deadline:
    for s, _ in poller.poll(200):
        for part in s.recv_multipart():
            heard += 1
            print("heard", names[s], rev(part.decode("utf8", "replace")))
print("heard-parts", heard)
for _, s in subs + dealers:
    s.close()
ctx.term()
`.trimStart();
}

/** The victim's cell: prints its secret `name` every 50 ms until `gate` exists. */
export function victimCell(name: string, gate: string): string {
  return [
    'import os, time',
    `while not os.path.exists(${JSON.stringify(gate)}):`,
    `    print("victim", os.environ[${JSON.stringify(name)}], flush=True)`,
    '    time.sleep(0.05)',
  ].join('\n');
}

/** `text` reversed (what the probe prints of what it found). */
export function reversed(text: string): string {
  return [...text].reverse().join('');
}
