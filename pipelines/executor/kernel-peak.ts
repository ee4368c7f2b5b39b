/**
 * A cell's peak resident memory as a kernel measures it itself (a Python kernel nbstage launched,
 * with the hooks of `kernels/python/nbstage/resources.py` installed). The peak comes back on a
 * message the cell sends anyway: the cell's execute request asks for {@link PEAK_EXPRESSION} in
 * its `user_expressions`, which ipykernel evaluates after the cell and answers in the reply. A
 * failed cell's reply carries no user expressions (ipykernel evaluates them only after a cell
 * that succeeded), so the kernel publishes a failed cell's peak as a display message of
 * {@link RESOURCES_MIME} instead, which the output collector takes out of the cell's outputs.
 * Neither is a guess: a cell with neither has no peak of its kernel's own.
 */
import type { KernelMessage } from '@jupyterlab/services';

/** Mimetype of a failed cell's resources on its kernel's iopub channel. */
export const RESOURCES_MIME = 'application/vnd.nbstage.resources+json';

/** The key of the peak in an execute request's `user_expressions` (`PEAK_KEY` in resources.py). */
export const PEAK_KEY = 'nbstage.peak_rss_bytes';

/**
 * The Python expression that answers the peak of the cell that just ran, in bytes (`None` when
 * it was published or not measured); `PEAK_EXPRESSION` in resources.py.
 */
export const PEAK_EXPRESSION = '__import__("IPython").get_ipython()._nbstage_resources.take()';

/** The `user_expressions` of a cell's execute request that asks its kernel for the cell's peak. */
export const PEAK_REQUEST: Readonly<Record<string, string>> = { [PEAK_KEY]: PEAK_EXPRESSION };

/** The peak (bytes) an execute reply answers to {@link PEAK_REQUEST}, or null when it has none. */
export function peakOfReply(reply: KernelMessage.IExecuteReplyMsg | null): number | null {
  const expressions = (reply?.content as { user_expressions?: Record<string, unknown> } | undefined)
    ?.user_expressions;
  const answer = expressions?.[PEAK_KEY] as
    { status?: unknown; data?: Record<string, unknown> } | undefined;
  const text = answer?.status === 'ok' ? answer.data?.['text/plain'] : undefined;
  // The repr of a Python int; `None` (nothing measured) is no peak.
  return typeof text === 'string' && /^\d+$/.test(text) ? Number(text) : null;
}
