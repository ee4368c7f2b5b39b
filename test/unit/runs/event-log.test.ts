import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunEventLog, type LoggedEvent } from '../../../server/runs/event-log';

function collect(log: RunEventLog, from = 0): { seen: LoggedEvent[]; ended: Promise<void> } {
  const seen: LoggedEvent[] = [];
  let resolve: () => void = () => undefined;
  const ended = new Promise<void>((r) => (resolve = r));
  log.subscribe({ event: (l) => seen.push(l), end: () => resolve() }, from);
  return { seen, ended };
}

describe('RunEventLog', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `test-${process.pid}-events-`));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves a late subscriber from the file, then live events, none missed or repeated', async () => {
    const log = new RunEventLog(path.join(dir, 'events.jsonl'));
    for (let i = 0; i < 1000; i++) {
      log.appendAll([{ type: 'output', i }]);
    }
    const late = collect(log, 10);
    // Live events while the file is read back wait their turn.
    log.append({ type: 'output', i: 1000 });
    log.end();
    await late.ended;
    expect(late.seen.map((l) => l.seq)).toEqual(Array.from({ length: 991 }, (_, k) => k + 10));
    expect(late.seen.map((l) => l.event.i)).toEqual(Array.from({ length: 991 }, (_, k) => k + 10));
    expect(JSON.parse(late.seen[0].raw)).toEqual({ type: 'output', i: 10 });
  });

  it('reads back a file after a restart, cutting off a line a crash left unfinished', async () => {
    const file = path.join(dir, 'events.jsonl');
    fs.writeFileSync(file, '{"type":"run-start"}\n{"type":"output","i":1}\n{"type":"outp');
    const seen: unknown[] = [];
    const log = new RunEventLog(file, (e) => seen.push(e));
    expect(log.length).toBe(2);
    expect(seen).toEqual([{ type: 'run-start' }, { type: 'output', i: 1 }]);
    log.append({ type: 'cell-end' });
    log.end();
    expect(
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    ).toHaveLength(3);
    const all = collect(log);
    await all.ended;
    expect(all.seen.map((l) => l.event.type)).toEqual(['run-start', 'output', 'cell-end']);
  });
});
