/**
 * The events of one run, in order, numbered from 0: kept in memory for late joiners (a websocket
 * that connects mid-run gets everything it missed, then live events) and appended to a JSON-lines
 * file so that a restarted service can still rebuild what an interrupted run had produced.
 */
import fs from 'node:fs';
import type { JSONObject } from '../../pipelines/notebook/model';

/** One logged event: its sequence number and the event itself (a run event or a service event). */
export interface LoggedEvent {
  seq: number;
  event: JSONObject;
}

/** A listener of logged events; `end` is called once when the log is closed. */
export interface EventLogListener {
  event(logged: LoggedEvent): void;
  end(): void;
}

/** The ordered events of one run. */
export class RunEventLog {
  private readonly events: LoggedEvent[] = [];
  private readonly listeners = new Set<EventLogListener>();
  private ended = false;
  private fd: number | null;

  /** Opens a log, reading what `file` already holds (after a restart). */
  constructor(file: string | null) {
    this.fd = null;
    if (file !== null) {
      if (fs.existsSync(file)) {
        for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
          if (line.trim() === '') {
            continue;
          }
          try {
            this.events.push({ seq: this.events.length, event: JSON.parse(line) as JSONObject });
          } catch {
            // A line cut short by a crash: everything before it is kept.
            break;
          }
        }
      }
      this.fd = fs.openSync(file, 'a', 0o600);
    }
  }

  /** Number of events so far. */
  get length(): number {
    return this.events.length;
  }

  /** Whether the run is over (no more events will come). */
  get closed(): boolean {
    return this.ended;
  }

  /** All events so far (a copy of the list). */
  all(): LoggedEvent[] {
    return [...this.events];
  }

  /** Appends an event and hands it to the listeners. Ignored after {@link end}. */
  append(event: JSONObject): void {
    if (this.ended) {
      return;
    }
    const logged = { seq: this.events.length, event };
    this.events.push(logged);
    if (this.fd !== null) {
      fs.writeSync(this.fd, `${JSON.stringify(event)}\n`);
    }
    for (const listener of this.listeners) {
      listener.event(logged);
    }
  }

  /**
   * Replays the events from `fromSeq` on, then delivers live ones until the log ends. Replay and
   * live hand-over are synchronous, so no event is missed or repeated.
   */
  subscribe(listener: EventLogListener, fromSeq = 0): () => void {
    for (const logged of this.events.slice(Math.max(0, fromSeq))) {
      listener.event(logged);
    }
    if (this.ended) {
      listener.end();
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
    for (const listener of this.listeners) {
      listener.end();
    }
    this.listeners.clear();
  }
}
