/**
 * ajv validation of what the queue reads back: payloads, records, events, control messages.
 */
import { ValidationError } from '../../../pipelines/errors';
import {
  parseControlMessage,
  parseJobInfo,
  parseJsonText,
  parseQueueEvent,
  parseRunJobPayload,
  parseWorkerInfo,
  readMessage,
  runIdOfJobData,
} from '../../../server/queue/validate';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) {
      return err.field;
    }
    throw err;
  }
  return undefined;
}

describe('payload validation', () => {
  const good = {
    runId: 'run-1',
    labels: ['gpu'],
    session: null,
    gpus: 1,
    priority: 3,
    spec: { a: 1 },
  };

  test('accepts a valid payload as is', () => {
    expect(parseRunJobPayload(good)).toEqual(good);
    expect(parseRunJobPayload({ runId: 'r', labels: [], spec: {} })).toEqual({
      runId: 'r',
      labels: [],
      spec: {},
    });
  });

  test('names the offending field', () => {
    expect(fieldOf(() => parseRunJobPayload({ ...good, runId: 'a:b' }))).toBe('payload.runId');
    expect(fieldOf(() => parseRunJobPayload({ ...good, runId: 'x'.repeat(129) }))).toBe(
      'payload.runId',
    );
    expect(fieldOf(() => parseRunJobPayload({ ...good, labels: ['ok', 'a/b'] }))).toBe(
      'payload.labels.1',
    );
    expect(fieldOf(() => parseRunJobPayload({ ...good, labels: ['a', 'a'] }))).toBe(
      'payload.labels',
    );
    expect(fieldOf(() => parseRunJobPayload({ ...good, gpus: -1 }))).toBe('payload.gpus');
    expect(fieldOf(() => parseRunJobPayload({ ...good, priority: 1001 }))).toBe('payload.priority');
    expect(fieldOf(() => parseRunJobPayload({ ...good, session: '' }))).toBe('payload.session');
    const { spec: _spec, ...noSpec } = good;
    expect(fieldOf(() => parseRunJobPayload(noSpec))).toBe('payload.spec');
    expect(fieldOf(() => parseRunJobPayload('x'))).toBe('payload');
  });

  test('messages are one readable line with the NBSTAGE_VALIDATION code', () => {
    expect(() => parseRunJobPayload({ ...good, labels: 'gpu' })).toThrow(
      'invalid payload: payload.labels must be array',
    );
    expect(() => parseRunJobPayload({ ...good, extra: 1 })).toThrow(
      expect.objectContaining({
        code: 'NBSTAGE_VALIDATION',
        message: 'invalid payload: payload.extra is not allowed',
      }),
    );
  });
});

describe('records and messages read back from Redis', () => {
  test('job records', () => {
    const info = {
      runId: 'r',
      state: 'failed',
      enqueuedAt: 't',
      error: { code: 'C', message: 'm' },
    };
    expect(parseJobInfo(info)).toEqual(info);
    expect(fieldOf(() => parseJobInfo({ ...info, state: 'lost' }))).toBe('job.state');
    expect(fieldOf(() => parseJobInfo({ ...info, error: { code: 'C' } }))).toBe(
      'job.error.message',
    );
  });

  test('events, control messages and heartbeats', () => {
    expect(parseQueueEvent({ runId: 'r', type: 'progress', data: { a: 1 } })).toEqual({
      runId: 'r',
      type: 'progress',
      data: { a: 1 },
    });
    expect(fieldOf(() => parseQueueEvent({ runId: 'r', type: 'exploded' }))).toBe('event.type');
    expect(parseControlMessage({ type: 'cancel', runId: 'r' })).toEqual({
      type: 'cancel',
      runId: 'r',
    });
    expect(parseControlMessage({ type: 'wake', queue: 'runs/-' })).toEqual({
      type: 'wake',
      queue: 'runs/-',
    });
    expect(() => parseControlMessage({ type: 'cancel' })).toThrow(ValidationError);
    expect(() =>
      parseWorkerInfo({ id: 'w', labels: [], concurrency: 0, active: 0, sessions: [] }),
    ).toThrow(ValidationError);
    expect(runIdOfJobData({ runId: 'r', junk: 1 })).toBe('r');
    expect(runIdOfJobData({ runId: 5 })).toBeUndefined();
  });

  test('text that is not JSON is a ValidationError naming what it was', () => {
    expect(parseJsonText('{"a":1}', 'event')).toEqual({ a: 1 });
    expect(fieldOf(() => parseJsonText('{nope', 'event'))).toBe('event');
  });
});

describe('readMessage', () => {
  test('a valid message is parsed; one that is not JSON or not valid is reported, not thrown', () => {
    const errors: string[] = [];
    const onError = (err: Error): number => errors.push(err.message);
    const cancel = '{"type":"cancel","runId":"r"}';
    expect(readMessage(cancel, 'control message', parseControlMessage, onError)).toEqual({
      type: 'cancel',
      runId: 'r',
    });
    expect(readMessage('{', 'control message', parseControlMessage, onError)).toBeUndefined();
    expect(readMessage('{"type":"x"}', 'event', parseQueueEvent, onError)).toBeUndefined();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^invalid control message: not JSON/);
  });
});
