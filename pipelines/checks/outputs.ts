/**
 * A cell's outputs as nbval compares them: streams of one name merged into one text, every
 * other output cut into its mime types, errors reduced to ename and evalue, and whatever nbval
 * leaves out (metadata, execution counts, tracebacks, widget model ids) left out. Each piece is
 * an entry under a key (`stdout`, `stderr`, a mime type, `error`), normalized for comparison.
 */
import { METRIC_MIME } from '../notebook/metric';
import { joinSource, type JSONValue, type Output } from '../notebook/model';
import { PIXEL_IMAGE_MIMES, normalizeSvg } from './images';
import { normalizeText } from './normalize';

/** Mime types never compared: widget views carry a random model id, as nbval notes. */
export const SKIPPED_MIMES: readonly string[] = ['application/vnd.jupyter.widget-view+json'];

/** One comparable piece of a cell's outputs. */
export interface OutputEntry {
  /** `stdout`, `stderr`, a mime type, or `error`. */
  key: string;
  /** Index in the cell's `outputs` of the output it comes from (the first, for a stream). */
  outputIndex: number;
  /** How the entry compares: text with numeric tolerance, pixels, or an error. */
  kind: 'text' | 'pixels' | 'error';
  /** Normalized text; base64 for pixels; the normalized evalue for an error. */
  text: string;
  /** The error's name, for an error entry. */
  ename?: string;
}

/** JSON with keys sorted at every level, indented: equal values print equal, diffs read well. */
export function stableJson(value: JSONValue): string {
  const sort = (v: JSONValue): JSONValue => {
    if (Array.isArray(v)) {
      return v.map(sort);
    }
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, sort(v[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

/** Whether a value is nbformat text: a string or a list of strings. */
function isText(value: JSONValue): value is string | string[] {
  return (
    typeof value === 'string' ||
    (Array.isArray(value) && value.every((v): v is string => typeof v === 'string'))
  );
}

/** The comparable entry of one mime type's data. */
function mimeEntry(key: string, data: JSONValue, outputIndex: number): OutputEntry {
  const json = key === 'application/json' || key.endsWith('+json');
  if (PIXEL_IMAGE_MIMES.includes(key) && isText(data)) {
    return { key, outputIndex, kind: 'pixels', text: joinSource(data) };
  }
  if (!json && isText(data)) {
    const text = key === 'image/svg+xml' ? normalizeSvg(joinSource(data)) : joinSource(data);
    return { key, outputIndex, kind: 'text', text: normalizeText(text) };
  }
  // JSON data is compared as its serialized text, numbers with tolerance like any other text.
  return { key, outputIndex, kind: 'text', text: normalizeText(stableJson(data)) };
}

/**
 * The comparable entries of a cell's outputs, in output order. Streams with the same name are
 * merged (their text joined before normalizing, so a progress bar split over several stream
 * messages collapses as a terminal shows it); stdout and stderr stay apart. Display data and
 * execute results give one entry per mime type except {@link SKIPPED_MIMES}; their metadata and
 * execution counts are not compared, nor are the outputs of recorded metrics (`nbstage.record`),
 * which gates judge. An error gives one entry, its ename and normalized evalue;
 * the traceback is not compared.
 */
export function outputEntries(outputs: readonly Output[]): OutputEntry[] {
  const entries: OutputEntry[] = [];
  const streams = new Map<string, { entry: OutputEntry; raw: string }>();
  outputs.forEach((output, index) => {
    switch (output.output_type) {
      case 'stream': {
        const merged = streams.get(output.name);
        if (merged === undefined) {
          const entry: OutputEntry = {
            key: output.name,
            outputIndex: index,
            kind: 'text',
            text: '',
          };
          streams.set(output.name, { entry, raw: joinSource(output.text) });
          entries.push(entry);
        } else {
          merged.raw += joinSource(output.text);
        }
        break;
      }
      case 'display_data':
      case 'execute_result':
        if (METRIC_MIME in output.data) {
          // A metric (`nbstage.record`) is judged by the gates, with the tolerance they say:
          // comparing it here too would fail every change a gate lets through.
          break;
        }
        for (const [mime, data] of Object.entries(output.data)) {
          if (!SKIPPED_MIMES.includes(mime)) {
            entries.push(mimeEntry(mime, data, index));
          }
        }
        break;
      case 'error':
        entries.push({
          key: 'error',
          outputIndex: index,
          kind: 'error',
          ename: output.ename,
          text: normalizeText(output.evalue),
        });
        break;
    }
  });
  for (const { entry, raw } of streams.values()) {
    entry.text = normalizeText(raw);
  }
  return entries;
}
