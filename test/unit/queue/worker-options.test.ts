/**
 * Worker options both backends check, and the BullMQ backend's timings.
 */
import { timingsOf } from '../../../server/queue/bullmq/backend';
import { checkWorkerOptions } from '../../../server/queue/worker-options';
import type { WorkerOptions } from '../../../server/queue';

const base: WorkerOptions = { labels: ['gpu'], concurrency: 1, handler: async () => ({}) };

describe('worker options', () => {
  test('accepts valid options', () => {
    expect(() => checkWorkerOptions({ ...base, id: 'host-1.a_b', sessionIdleMs: 5 })).not.toThrow();
  });

  test('names the bad option', () => {
    const cases: [Partial<WorkerOptions>, string][] = [
      [{ id: 'has space' }, 'id'],
      [{ id: 'a:b' }, 'id'],
      [{ labels: ['a+b'] }, 'labels'],
      [{ concurrency: 0 }, 'concurrency'],
      [{ concurrency: 1.5 }, 'concurrency'],
      [{ sessionIdleMs: 0 }, 'sessionIdleMs'],
    ];
    for (const [options, field] of cases) {
      expect(() => checkWorkerOptions({ ...base, ...options })).toThrow(
        expect.objectContaining({ code: 'NBSTAGE_VALIDATION', field }),
      );
    }
  });
});

describe('BullMQ timings', () => {
  test('follow from the stall interval', () => {
    expect(timingsOf({ url: 'redis://x', stalledIntervalMs: 2000 })).toMatchObject({
      stalledIntervalMs: 2000,
      lockDurationMs: 1000,
      stalledCheckMs: 500,
      tickMs: 500,
      heartbeatTtlMs: 2000,
    });
    expect(timingsOf({ url: 'redis://x' }).stalledIntervalMs).toBe(30_000);
    expect(() => timingsOf({ url: 'redis://x', stalledIntervalMs: 100 })).toThrow(
      expect.objectContaining({ field: 'stalledIntervalMs' }),
    );
  });
});
