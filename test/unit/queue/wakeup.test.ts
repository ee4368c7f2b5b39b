/**
 * The wake-up call of the worker's fetch loop.
 */
import { Wakeup } from '../../../server/queue/wakeup';

describe('Wakeup', () => {
  test('notify wakes a waiting loop at once', async () => {
    const wakeup = new Wakeup();
    const started = Date.now();
    const waiting = wakeup.wait(10_000);
    wakeup.notify();
    await waiting;
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('a notify while nobody waits is kept for the next wait, unless reset', async () => {
    const wakeup = new Wakeup();
    wakeup.notify();
    const started = Date.now();
    await wakeup.wait(10_000);
    expect(Date.now() - started).toBeLessThan(1000);
    wakeup.notify();
    wakeup.reset();
    const again = Date.now();
    await wakeup.wait(50);
    expect(Date.now() - again).toBeGreaterThanOrEqual(45);
  });
});
