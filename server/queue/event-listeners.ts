/**
 * The listeners of one queue handle's events, as both backends keep them: each hears every event
 * in order; one that throws is reported and the others still hear the event.
 */
import type { QueueEvent } from './types';

/** A set of queue event listeners. */
export class QueueListeners {
  private readonly listeners = new Set<(e: QueueEvent) => void>();

  /** @param onError - where a listener's error goes */
  constructor(private readonly onError: (err: Error) => void) {}

  /** Adds a listener; returns a function that removes it. */
  add(listener: (e: QueueEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Calls every listener (those there when the event came) with the event. */
  emit(event: QueueEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.onError(err as Error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners.clear();
  }
}
