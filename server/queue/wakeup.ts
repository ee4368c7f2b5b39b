/**
 * A wake-up call for a polling loop: `wait(ms)` sleeps until `notify()` or the timeout, and a
 * notify that comes while nobody waits is kept for the next wait, so none is lost between a
 * loop's look at its queues and its going to sleep.
 */

/** Lets one loop sleep until something happens or a timeout passes. */
export class Wakeup {
  private pending = false;
  private waiter: (() => void) | undefined;

  /** Wakes the waiting loop now, or the next wait at once. */
  notify(): void {
    const waiter = this.waiter;
    if (waiter === undefined) {
      this.pending = true;
      return;
    }
    this.waiter = undefined;
    waiter();
  }

  /** Forgets a kept notify (call before looking, so that what comes after is kept). */
  reset(): void {
    this.pending = false;
  }

  /** Resolves on `notify()` or after `ms`, whichever comes first. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (this.waiter === done) {
          this.waiter = undefined;
        }
        resolve();
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiter = done;
    });
  }
}
