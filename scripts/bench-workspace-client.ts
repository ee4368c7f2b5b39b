/**
 * The client side of a workspace transfer, alone, in a fresh process (as `nbstage run --server`
 * has it), for the workspace cases of `npm run bench`: `scan` times the scan (walk, hash cache,
 * manifest); `send` times all the client does before it creates the run (the scan, the
 * manifest, `POST /blobs/missing`, the uploads of what the service lacks). The clock starts once
 * the modules are loaded. Prints one JSON object: `ms`, `files`, `hashed`, and for `send`
 * `uploaded`, `uploaded_bytes`. The hash cache is the one `NBSTAGE_CACHE_DIR` names.
 *
 * Usage: node bench-workspace-client.js scan ROOT
 *        node bench-workspace-client.js send NOTEBOOK ROOT URL   (token in NBSTAGE_TOKEN)
 */
import { NbstageClient } from '../client/api-client';
import { sendWorkspace } from '../client/workspace-transfer';
import { scanWorkspace } from '../pipelines/workspace/scan';
import { msSince } from './bench-common';

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  const start = process.hrtime.bigint();
  if (mode === 'scan' && args.length === 1) {
    const scan = await scanWorkspace(args[0]);
    process.stdout.write(
      `${JSON.stringify({ ms: msSince(start), files: scan.files, hashed: scan.hashed })}\n`,
    );
    return;
  }
  if (mode === 'send' && args.length === 3) {
    const [notebook, root, url] = args;
    const client = new NbstageClient(url, process.env.NBSTAGE_TOKEN ?? '');
    const sent = await sendWorkspace(client, notebook, { dir: root });
    process.stdout.write(
      `${JSON.stringify({
        ms: msSince(start),
        files: sent.files,
        hashed: sent.hashed,
        uploaded: sent.uploaded,
        uploaded_bytes: sent.uploadedBytes,
      })}\n`,
    );
    return;
  }
  throw new Error('usage: bench-workspace-client.js scan ROOT | send NOTEBOOK ROOT URL');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-workspace-client: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
