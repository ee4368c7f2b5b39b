/**
 * The sessions one worker holds and how long each has been idle. Both backends' workers use it:
 * a session is held from its first job (or from the worker's start, for `sessions` it already
 * holds) until it has had no running job for `idleMs`, or until it is released by hand.
 */

/** Sessions held by one worker, with an idle timer per session. */
export class SessionTracker {
  private readonly held = new Map<
    string,
    { running: number; timer: ReturnType<typeof setTimeout> | undefined }
  >();

  /**
   * @param idleMs - how long a session with no running job is kept
   * @param onIdle - called when a session has been idle that long (it is still held then: the
   *   callback releases it)
   */
  constructor(
    private readonly idleMs: number,
    private readonly onIdle: (session: string) => void,
  ) {}

  /** Starts holding a session (no-op when held); its idle timer starts if nothing runs in it. */
  hold(session: string): void {
    if (!this.held.has(session)) {
      this.held.set(session, { running: 0, timer: undefined });
      this.arm(session);
    }
  }

  /** A job of the session starts on this worker. */
  begin(session: string): void {
    this.hold(session);
    const entry = this.held.get(session);
    if (entry !== undefined) {
      entry.running += 1;
      this.disarm(session);
    }
  }

  /** A job of the session ended; the idle timer starts when it was the last one running. */
  end(session: string): void {
    const entry = this.held.get(session);
    if (entry !== undefined) {
      entry.running = Math.max(0, entry.running - 1);
      this.arm(session);
    }
  }

  /** Stops holding a session; true when it was held. */
  drop(session: string): boolean {
    this.disarm(session);
    return this.held.delete(session);
  }

  /** True when the session is held. */
  has(session: string): boolean {
    return this.held.has(session);
  }

  /** The sessions held now. */
  list(): string[] {
    return [...this.held.keys()];
  }

  /** Stops every timer and holds nothing more; returns what was held. */
  clear(): string[] {
    const sessions = this.list();
    sessions.forEach((session) => this.drop(session));
    return sessions;
  }

  private arm(session: string): void {
    const entry = this.held.get(session);
    if (entry === undefined || entry.running > 0) {
      return;
    }
    this.disarm(session);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (this.held.get(session) === entry && entry.running === 0) {
        this.onIdle(session);
      }
    }, this.idleMs);
    entry.timer.unref();
  }

  private disarm(session: string): void {
    const entry = this.held.get(session);
    if (entry?.timer !== undefined) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }
}
