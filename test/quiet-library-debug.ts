/**
 * @jupyterlab/services logs every websocket it opens with console.debug; the CLI silences it
 * (cli/main.ts) and so do the tests, so that test output shows only what matters.
 */
console.debug = (): void => undefined;
