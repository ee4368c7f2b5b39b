/**
 * How a long-running command (`serve`, `worker`) waits for its end: the first SIGINT or SIGTERM
 * resolves the wait so the command can drain; what a second one does is the command's choice.
 */

/**
 * Resolves at the first SIGINT or SIGTERM. With `secondExits`, a second signal during the drain
 * exits at once with 130.
 */
export function untilStopSignal(options: { secondExits?: boolean } = {}): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (options.secondExits === true) {
        process.once('SIGINT', () => process.exit(130));
        process.once('SIGTERM', () => process.exit(130));
      }
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
