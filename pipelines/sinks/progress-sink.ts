/**
 * A one-line progress bar on a TTY (stderr): cells done of cells to run, the current cell and
 * the elapsed time. It erases itself before any other output is written and redraws after.
 */
import type { RunEvent, RunEventListener } from '../executor/events';

/** A progress bar with `before` (erase) and `after` (redraw) listeners around the console sink. */
export interface ProgressBar {
  before: RunEventListener;
  after: RunEventListener;
  stop(): void;
}

/** Creates a progress bar writing to `stream` (a TTY). */
export function createProgressBar(stream: NodeJS.WriteStream): ProgressBar {
  let total = 0;
  let done = 0;
  let current = '';
  let shown = false;
  const started = Date.now();
  const erase = (): void => {
    if (shown) {
      stream.write('\r\x1b[2K');
      shown = false;
    }
  };
  const draw = (): void => {
    const width = 24;
    const filled = total === 0 ? 0 : Math.round((done / total) * width);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const cols = stream.columns || 80;
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} ${secs}s ${current}`;
    stream.write(`\r\x1b[2K\x1b[2m${line.slice(0, cols - 1)}\x1b[0m`);
    shown = true;
  };
  const timer = setInterval(() => {
    if (shown) {
      draw();
    }
  }, 500);
  timer.unref();
  return {
    before: (event: RunEvent) => {
      if (event.type !== 'run-start') {
        erase();
      }
    },
    after: (event: RunEvent) => {
      switch (event.type) {
        case 'run-start':
          total = event.cells.length;
          draw();
          break;
        case 'cell-start':
          current = `cell ${event.index}${event.stage ? ` (${event.stage})` : ''}`;
          draw();
          break;
        case 'cell-end':
          done += 1;
          draw();
          break;
        case 'run-end':
          clearInterval(timer);
          erase();
          break;
        default:
          draw();
      }
    },
    stop: () => {
      clearInterval(timer);
      erase();
    },
  };
}
