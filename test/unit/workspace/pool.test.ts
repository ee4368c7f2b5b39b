/**
 * mapLimit: results in order, never more calls in flight than the limit, the first failure
 * thrown; Yielder: a long run of synchronous work still lets the event loop turn.
 */
import { Yielder, mapLimit } from '../../../pipelines/workspace/pool';

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapLimit', () => {
  it('keeps the order of the items and at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3, 0, 2], 3, async (n) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await tick(n);
      inFlight -= 1;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30, 0, 20]);
    expect(most).toBe(3);
  });

  it('throws the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await tick(1);
        if (n === 1) {
          throw new Error('boom');
        }
        return n;
      }),
    ).rejects.toThrow('boom');
    expect(started.length).toBeLessThan(6);
  });

  it('handles no items', async () => {
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });
});

describe('Yielder', () => {
  it('lets timers run during a long stretch of synchronous work', async () => {
    let fired = 0;
    const timer = setInterval(() => (fired += 1), 1);
    try {
      const yielder = new Yielder();
      const end = Date.now() + 100;
      while (Date.now() < end) {
        await yielder.tick();
      }
    } finally {
      clearInterval(timer);
    }
    expect(fired).toBeGreaterThan(3);
  });
});
