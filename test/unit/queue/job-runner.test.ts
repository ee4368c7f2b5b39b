/**
 * The job runner both backends share: the order of its steps with a scripted handler and a
 * recording transport.
 */
import { CellExecutionError } from '../../../pipelines/errors';
import type { JobOutcome } from '../../../server/queue/job-outcome';
import { JobRunner, type JobTransport } from '../../../server/queue/job-runner';
import { SessionTracker } from '../../../server/queue/session-tracker';
import type { JSONObject, JobHandler, RunJobPayload } from '../../../server/queue/types';

function payload(extra: Partial<RunJobPayload> = {}): RunJobPayload {
  return { runId: 'test-run', labels: [], spec: {}, ...extra };
}

/** A runner with a recorded transport and release. */
function harness(handler: JobHandler, release?: (session: string) => Promise<void>) {
  const steps: string[] = [];
  const tracker = new SessionTracker(60_000, () => undefined);
  const outcomes: JobOutcome[] = [];
  const runner = new JobRunner({
    handler,
    tracker,
    releaseSession: async (session) => {
      steps.push(`release ${session} (running in it: ${tracker.has(session)})`);
      tracker.drop(session);
      await release?.(session);
    },
  });
  const transport: JobTransport = {
    progress: async (data) => void steps.push(`progress ${JSON.stringify(data)}`),
    finish: async (outcome) => {
      steps.push('finish');
      outcomes.push(outcome);
    },
  };
  const run = (p: RunJobPayload): Promise<void> =>
    runner.run(p, new AbortController().signal, transport);
  return { steps, tracker, outcomes, run };
}

describe('JobRunner', () => {
  test('a resolved handler completes with a JSON copy of its result', async () => {
    const result = { status: 'completed', nested: { n: 1 } };
    const h = harness(async (ctx) => {
      await ctx.progress({ step: 1 });
      return result;
    });
    await h.run(payload());
    expect(h.steps).toEqual(['progress {"step":1}', 'finish']);
    expect(h.outcomes).toEqual([{ result }]);
    expect((h.outcomes[0] as { result: JSONObject }).result).not.toBe(result);
  });

  test('a thrown error is the outcome, with its code and message', async () => {
    const h = harness(async () => {
      throw new CellExecutionError(0, 'ValueError', 'x', []);
    });
    await h.run(payload());
    expect(h.outcomes).toEqual([
      { error: { code: 'NBSTAGE_CELL_FAILED', message: 'cell 0 raised ValueError: x' } },
    ]);
  });

  test('progress after the handler settled is not published', async () => {
    let late: ((data: JSONObject) => Promise<void>) | undefined;
    const h = harness(async (ctx) => {
      late = ctx.progress;
      return {};
    });
    await h.run(payload());
    await late?.({ late: true });
    expect(h.steps).toEqual(['finish']);
  });

  test('the job counts as running in its session while the handler runs', async () => {
    let during = 0;
    const h = harness(async () => {
      during = h.tracker.list().length;
      return {};
    });
    h.tracker.hold('s');
    await h.run(payload({ session: 's' }));
    expect(during).toBe(1);
    expect(h.tracker.list()).toEqual(['s']);
  });

  test('a job that ends its session lets go of it before its end is reported', async () => {
    const h = harness(async () => ({}));
    await h.run(payload({ session: 's', endSession: true }));
    expect(h.steps).toEqual(['release s (running in it: true)', 'finish']);
    expect(h.tracker.list()).toEqual([]);
  });

  test('a failed release fails a job that completed, and keeps the error of one that failed', async () => {
    const release = async (): Promise<void> => {
      throw new Error('kernel shutdown failed');
    };
    const ok = harness(async () => ({}), release);
    await ok.run(payload({ session: 's', endSession: true }));
    expect(ok.outcomes).toEqual([
      { error: { code: 'NBSTAGE_INTERNAL', message: expect.stringContaining('kernel shutdown') } },
    ]);
    const failed = harness(async () => {
      throw new CellExecutionError(0, 'E', 'v', []);
    }, release);
    await failed.run(payload({ session: 's', endSession: true }));
    expect(failed.outcomes).toEqual([
      { error: expect.objectContaining({ code: 'NBSTAGE_CELL_FAILED' }) },
    ]);
  });
});
