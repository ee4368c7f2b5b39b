/**
 * The service's Prometheus metrics on a registry of its own (never the global one): queue depth,
 * runs by state, cell latency, kernels busy/idle, HTTP requests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunEvent } from '../../pipelines/executor/events';
import type { RunQueue } from '../queue/types';
import type { ServiceRun } from '../runs/service-run';

/** What the service reports and the routes observe. */
export interface ServiceMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  observeRun(record: ServiceRun, event?: RunEvent): void;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

/** Metrics for one service instance. */
export function createServiceMetrics(options: {
  queue: RunQueue;
  kernels?: () => { busy: number; idle: number };
}): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'nbstage_process_' });
  const queue = options.queue;
  new Gauge({
    name: 'nbstage_queue_depth',
    help: 'runs queued and active',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const depth = await queue.depth();
      this.set({ state: 'queued' }, depth.queued);
      this.set({ state: 'active' }, depth.active);
    },
  });
  const runs = new Counter({
    name: 'nbstage_runs_total',
    help: 'runs that reached a state',
    labelNames: ['state'],
    registers: [registry],
  });
  const cells = new Histogram({
    name: 'nbstage_cell_duration_seconds',
    help: 'time a cell took in the kernel',
    labelNames: ['status'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  });
  new Gauge({
    name: 'nbstage_kernels',
    help: 'kernels of runs on this service, busy or idle',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const k = options.kernels?.() ?? { busy: 0, idle: 0 };
      this.set({ state: 'busy' }, k.busy);
      this.set({ state: 'idle' }, k.idle);
    },
  });
  const requests = new Histogram({
    name: 'nbstage_http_request_duration_seconds',
    help: 'HTTP requests',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2],
    registers: [registry],
  });
  const seen = new Map<string, string>();
  return {
    contentType: registry.contentType,
    render: () => registry.metrics(),
    observeRun(record, event) {
      if (event !== undefined) {
        if (event.type === 'cell-end' && event.status !== 'skipped' && event.status !== 'aborted') {
          cells.observe({ status: event.status }, event.durationMs / 1000);
        }
        return;
      }
      if (seen.get(record.id) !== record.state) {
        seen.set(record.id, record.state);
        runs.inc({ state: record.state });
      }
    },
    observeRequest(method, route, status, seconds) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
  };
}
