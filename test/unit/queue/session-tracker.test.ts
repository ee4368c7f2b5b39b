/**
 * Sessions held by a worker and their idle timers.
 */
import { SessionTracker } from '../../../server/queue/session-tracker';

describe('SessionTracker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('a session is idle only while none of its jobs runs', () => {
    const idle: string[] = [];
    const tracker = new SessionTracker(1000, (s) => idle.push(s));
    tracker.begin('s');
    jest.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
    tracker.begin('s');
    tracker.end('s');
    jest.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
    tracker.end('s');
    jest.advanceTimersByTime(999);
    expect(idle).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(idle).toEqual(['s']);
    expect(tracker.has('s')).toBe(true);
  });

  test('a held session with no job is idle from the start; a new job restarts the clock', () => {
    const idle: string[] = [];
    const tracker = new SessionTracker(1000, (s) => idle.push(s));
    tracker.hold('a');
    jest.advanceTimersByTime(600);
    tracker.begin('a');
    tracker.end('a');
    jest.advanceTimersByTime(600);
    expect(idle).toEqual([]);
    jest.advanceTimersByTime(400);
    expect(idle).toEqual(['a']);
  });

  test('dropped and cleared sessions never fire', () => {
    const idle: string[] = [];
    const tracker = new SessionTracker(1000, (s) => idle.push(s));
    tracker.hold('a');
    tracker.hold('b');
    expect(tracker.list()).toEqual(['a', 'b']);
    expect(tracker.drop('a')).toBe(true);
    expect(tracker.drop('a')).toBe(false);
    expect(tracker.clear()).toEqual(['b']);
    jest.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
    expect(tracker.list()).toEqual([]);
  });
});
