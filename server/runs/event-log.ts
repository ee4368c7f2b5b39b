/**
 * The events of one run, in order, numbered from 0, in a JSON-lines file and nowhere else: the
 * service keeps no run's events in memory, only their count. A listener that joins late (a
 * websocket that connects mid-run, or after the run) reads what it missed from the file, then
 * gets live events; a restarted service reads the file back to rebuild what an interrupted run
 * had produced.
 */
import fs from 'node:fs';
import type { JSONObject } from '../../pipelines/notebook/model';

/** One logged event: its sequence number, its JSON text and the event (parsed when asked). */
export interface LoggedEvent {
  seq: number;
  /** The event as one line of JSON (what the file holds). */
  raw: string;
  readonly event: JSONObject;
}

/** A listener of logged events; `end` is called once when the log is closed. */
export interface EventLogListener {
  event(logged: LoggedEvent): void;
  end(): void;
  /** Bytes the listener has not sent on yet: reading back from the file waits while it is high. */
  backlog?(): number;
}

/** Bytes a late listener may have waiting before the log reads more of the file for it. */
const MAX_BACKLOG = 4 * 1024 * 1024;

/** A logged event whose object is parsed from `raw` only when asked for. */
function loggedEvent(seq: number, raw: string, event?: JSONObject): LoggedEvent {
  let parsed = event;
  return {
    seq,
    raw,
    get event(): JSONObject {
      parsed ??= JSON.parse(raw) as JSONObject;
      return parsed;
    },
  };
}

/**
 * Calls `onLine` with every complete line of `file`, reading it in chunks. A last line cut short
 * by a crash is cut off the file, so the next event starts a line of its own.
 */
function scanLines(file: string, onLine: (line: string) => void): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    let rest = '';
    let position = 0;
    let complete = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) {
        break;
      }
      position += n;
      const text = rest + buffer.toString('utf8', 0, n);
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        complete += Buffer.byteLength(line, 'utf8') + 1;
        if (line.trim() !== '') {
          onLine(line);
        }
      }
    }
    if (complete < position) {
      fs.ftruncateSync(fd, complete);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The ordered events of one run, on disk. */
export class RunEventLog {
  private count = 0;
  private readonly listeners = new Set<EventLogListener>();
  private ended = false;
  private fd: number | null = null;

  /**
   * Opens the log of `file`, counting what it already holds (after a restart) and handing each
   * of those events to `onExisting`, if given.
   */
  constructor(
    private readonly file: string,
    onExisting?: (event: JSONObject) => void,
  ) {
    if (fs.existsSync(file)) {
      scanLines(file, (line) => {
        if (onExisting !== undefined) {
          try {
            onExisting(JSON.parse(line) as JSONObject);
          } catch {
            // An unreadable line is still counted: the numbering stays that of the file.
          }
        }
        this.count += 1;
      });
    }
    this.fd = fs.openSync(file, 'a', 0o600);
  }

  /** Number of events so far. */
  get length(): number {
    return this.count;
  }

  /** Whether the run is over (no more events will come). */
  get closed(): boolean {
    return this.ended;
  }

  /** Appends an event and hands it to the listeners. Ignored after {@link end}. */
  append(event: JSONObject): void {
    this.appendAll([event]);
  }

  /** Appends events with one write, then hands them to the listeners. Ignored after {@link end}. */
  appendAll(events: JSONObject[]): void {
    if (this.ended || events.length === 0) {
      return;
    }
    const logged = events.map((event) => loggedEvent(this.count++, JSON.stringify(event), event));
    if (this.fd !== null) {
      fs.writeSync(this.fd, `${logged.map((l) => l.raw).join('\n')}\n`);
    }
    for (const l of logged) {
      for (const listener of this.listeners) {
        listener.event(l);
      }
    }
  }

  /**
   * Delivers the events from `fromSeq` on (read back from the file), then live ones until the
   * log ends, in order, none missed or repeated: live events that come while the file is read
   * wait their turn.
   */
  subscribe(listener: EventLogListener, fromSeq = 0): () => void {
    const from = Math.max(0, fromSeq);
    if (from >= this.count) {
      if (this.ended) {
        listener.end();
        return () => undefined;
      }
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    }
    const upTo = this.count;
    const waiting: LoggedEvent[] = [];
    let ended = this.ended;
    let stopped = false;
    const catchingUp: EventLogListener = {
      event: (logged) => waiting.push(logged),
      end: () => {
        ended = true;
      },
    };
    if (!ended) {
      this.listeners.add(catchingUp);
    }
    const done = (): void => {
      this.listeners.delete(catchingUp);
      if (stopped) {
        return;
      }
      for (const logged of waiting) {
        listener.event(logged);
      }
      if (ended) {
        listener.end();
      } else {
        this.listeners.add(listener);
      }
    };
    void this.readBack(from, upTo, listener, () => stopped).then(done, done);
    return () => {
      stopped = true;
      this.listeners.delete(catchingUp);
      this.listeners.delete(listener);
    };
  }

  /** Hands events `from` to `upTo - 1` from the file to `listener`. */
  private async readBack(
    from: number,
    upTo: number,
    listener: EventLogListener,
    stopped: () => boolean,
  ): Promise<void> {
    const stream = fs.createReadStream(this.file, { encoding: 'utf8', highWaterMark: 256 * 1024 });
    let seq = 0;
    let rest = '';
    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim() === '') {
            continue;
          }
          if (seq >= from && seq < upTo && !stopped()) {
            listener.event(loggedEvent(seq, line));
          }
          seq += 1;
        }
        if (seq >= upTo || stopped()) {
          break;
        }
        while ((listener.backlog?.() ?? 0) > MAX_BACKLOG && !stopped()) {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    } finally {
      stream.destroy();
    }
  }

  /** Ends the log: listeners get `end`, the file is closed. Idempotent. */
  end(): void {
    if (this.ended) {
      return;
    }
    this.ended = true;
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    for (const listener of [...this.listeners]) {
      listener.end();
    }
    this.listeners.clear();
  }
}
