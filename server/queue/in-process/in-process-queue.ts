/**
 * The in-process backend's RunQueue: a view on its hub for the service; closing it only detaches
 * its listeners.
 */
import type { JobInfo, QueueEvent, RunJobPayload, RunQueue, WorkerInfo } from '../types';
import type { Hub } from './hub';

/** A view on the hub for the service; closing it only detaches its listeners. */
export class InProcessQueue implements RunQueue {
  private readonly unsubscribes = new Set<() => void>();
  private closed = false;

  constructor(private readonly hub: Hub) {}

  async enqueue(payload: RunJobPayload): Promise<JobInfo> {
    return this.hub.enqueue(payload);
  }

  async get(runId: string): Promise<JobInfo | null> {
    return this.hub.get(runId);
  }

  async cancel(runId: string): Promise<boolean> {
    return this.hub.cancel(runId);
  }

  async depth(): Promise<{ queued: number; active: number }> {
    return this.hub.depth();
  }

  async workers(): Promise<WorkerInfo[]> {
    return this.hub.workerInfos();
  }

  onEvent(listener: (e: QueueEvent) => void): () => void {
    if (this.closed) {
      return () => undefined;
    }
    const unsubscribe = this.hub.listen(listener);
    const off = (): void => {
      unsubscribe();
      this.unsubscribes.delete(off);
    };
    this.unsubscribes.add(off);
    return off;
  }

  async close(): Promise<void> {
    this.closed = true;
    [...this.unsubscribes].forEach((off) => off());
  }
}
