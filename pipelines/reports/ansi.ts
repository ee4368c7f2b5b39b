/**
 * ANSI terminal escapes in kernel output: stripping them (for XML and plain consoles) and turning
 * SGR colours into `<span class="ansi-...">` for the HTML report. Only classes are emitted, never
 * `style` attributes, because the report is served under a CSP that forbids inline styles.
 */

/** Matches every escape sequence we know how to skip: CSI, OSC, other two-byte ESC, C1 CSI. */
const ESCAPE_RE =
  // CSI: ESC [ params intermediates final | OSC: ESC ] ... (BEL | ESC \) | OSC without end |
  // two-byte ESC (ESC @..Z, \, ], ^, _) | 8-bit CSI | a lone ESC.
  // eslint-disable-next-line no-control-regex -- escape sequences are what this module is about
  /\x1b\[([0-?]*)([ -/]*)([@-~])|\x1b\][\s\S]*?(?:\x07|\x1b\\)|\x1b\][^\x07\x1b]*$|\x1b[@-Z\\^_]|\x9b[0-?]*[ -/]*[@-~]|\x1b/g;

/** Removes all ANSI escape sequences (CSI, including SGR colours, and OSC) from `text`. */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE_RE, '');
}

/**
 * Applies the two terminal controls that rewrite text in place, as Jupyter's front ends do:
 * a carriage return discards what came before it on the line (progress bars), a backspace
 * deletes the character before it.
 */
export function applyCarriageReturns(text: string): string {
  let out = text.replace(/\r+\n/g, '\n').replace(/^[^\n]*\r(?!$)/gm, '');
  out = out.replace(/\r+$/, '');
  while (out.includes('\b')) {
    // eslint-disable-next-line no-control-regex -- backspace is the character handled here
    const next = out.replace(/[^\n\b]\x08/g, '').replace(/^\x08+/gm, '');
    if (next === out) {
      break;
    }
    out = next;
  }
  return out;
}

/** Names of the eight basic ANSI colours, in SGR order (30-37 / 40-47). */
const COLOR_NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

/** RGB of the 16 palette colours the classes stand for (xterm defaults). */
const PALETTE: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [205, 0, 0],
  [0, 205, 0],
  [205, 205, 0],
  [0, 0, 238],
  [205, 0, 205],
  [0, 205, 205],
  [229, 229, 229],
  [127, 127, 127],
  [255, 0, 0],
  [0, 255, 0],
  [255, 255, 0],
  [92, 92, 255],
  [255, 0, 255],
  [0, 255, 255],
  [255, 255, 255],
];

/** The class name of palette colour `index` (0-15) as foreground or background. */
function colorClass(index: number, layer: 'fg' | 'bg'): string {
  const name = COLOR_NAMES[index % 8];
  return index >= 8 ? `ansi-bright-${name}-${layer}` : `ansi-${name}-${layer}`;
}

/** The palette index (0-15) nearest to an RGB colour. */
function nearestPaletteIndex(r: number, g: number, b: number): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  PALETTE.forEach(([pr, pg, pb], i) => {
    // Weighted Euclidean distance ("redmean"), close enough to perceived difference.
    const rMean = (r + pr) / 2;
    const dr = r - pr;
    const dg = g - pg;
    const db = b - pb;
    const distance =
      (2 + rMean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - rMean) / 256) * db * db;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = i;
    }
  });
  return best;
}

/** The RGB value of an xterm 256-colour index. */
function xterm256ToRgb(n: number): [number, number, number] {
  if (n < 16) {
    const [r, g, b] = PALETTE[n];
    return [r, g, b];
  }
  if (n < 232) {
    const levels = [0, 95, 135, 175, 215, 255];
    const i = n - 16;
    return [levels[Math.floor(i / 36)], levels[Math.floor(i / 6) % 6], levels[i % 6]];
  }
  const grey = 8 + 10 * (n - 232);
  return [grey, grey, grey];
}

/** The text attributes in force at a point of the stream. */
interface SgrState {
  fg: number | null;
  bg: number | null;
  bold: boolean;
  faint: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

/** The state after a reset. */
function initialState(): SgrState {
  return {
    fg: null,
    bg: null,
    bold: false,
    faint: false,
    italic: false,
    underline: false,
    inverse: false,
    strike: false,
  };
}

/**
 * Reads an extended colour (`5;n` or `2;r;g;b`) starting at `params[i]`; returns the palette
 * index (or null when malformed) and how many parameters it used.
 */
function readExtendedColor(params: number[], i: number): { color: number | null; used: number } {
  const mode = params[i];
  if (mode === 5) {
    const n = params[i + 1];
    if (n === undefined || Number.isNaN(n) || n < 0 || n > 255) {
      return { color: null, used: 2 };
    }
    if (n < 16) {
      return { color: n, used: 2 };
    }
    const [r, g, b] = xterm256ToRgb(n);
    return { color: nearestPaletteIndex(r, g, b), used: 2 };
  }
  if (mode === 2) {
    const [r, g, b] = [params[i + 1], params[i + 2], params[i + 3]];
    if ([r, g, b].some((v) => v === undefined || Number.isNaN(v))) {
      return { color: null, used: 4 };
    }
    return { color: nearestPaletteIndex(clamp(r), clamp(g), clamp(b)), used: 4 };
  }
  return { color: null, used: 1 };
}

/** Clamps a colour channel to 0-255. */
function clamp(v: number): number {
  return Math.max(0, Math.min(255, v));
}

/** Parses the parameter string of an SGR sequence (`1;31`, `38;5;208`, `38:2::255:0:0`). */
function parseSgrParams(raw: string): number[][] {
  if (raw === '') {
    return [[0]];
  }
  return raw.split(';').map((group) =>
    group
      .split(':')
      .filter((p, i, all) => !(all.length > 1 && i === 2 && all[1] === '2' && p === ''))
      .map((p) => (p === '' ? 0 : Number.parseInt(p, 10))),
  );
}

/** Applies the parameters of one SGR sequence to `state`. */
function applySgr(state: SgrState, raw: string): SgrState {
  let next = { ...state };
  const groups = parseSgrParams(raw);
  // Flatten `;`-separated parameters, but keep `:`-subparameter groups together.
  for (let g = 0; g < groups.length; g += 1) {
    const group = groups[g];
    const code = group[0];
    if (code === 38 || code === 48) {
      let color: number | null;
      if (group.length > 1) {
        color = readExtendedColor(group, 1).color;
      } else {
        const rest = groups.slice(g + 1).map((x) => x[0]);
        const ext = readExtendedColor(rest, 0);
        color = ext.color;
        g += ext.used;
      }
      if (color !== null) {
        next = code === 38 ? { ...next, fg: color } : { ...next, bg: color };
      }
      continue;
    }
    next = applySimpleCode(next, code);
  }
  return next;
}

/** Applies one single-number SGR code. Unknown codes are ignored. */
function applySimpleCode(state: SgrState, code: number): SgrState {
  if (code === 0 || Number.isNaN(code)) {
    return initialState();
  }
  if (code >= 30 && code <= 37) {
    return { ...state, fg: code - 30 };
  }
  if (code >= 90 && code <= 97) {
    return { ...state, fg: code - 90 + 8 };
  }
  if (code >= 40 && code <= 47) {
    return { ...state, bg: code - 40 };
  }
  if (code >= 100 && code <= 107) {
    return { ...state, bg: code - 100 + 8 };
  }
  switch (code) {
    case 1:
      return { ...state, bold: true };
    case 2:
      return { ...state, faint: true };
    case 3:
      return { ...state, italic: true };
    case 4:
      return { ...state, underline: true };
    case 7:
      return { ...state, inverse: true };
    case 9:
      return { ...state, strike: true };
    case 21:
    case 22:
      return { ...state, bold: false, faint: false };
    case 23:
      return { ...state, italic: false };
    case 24:
      return { ...state, underline: false };
    case 27:
      return { ...state, inverse: false };
    case 29:
      return { ...state, strike: false };
    case 39:
      return { ...state, fg: null };
    case 49:
      return { ...state, bg: null };
    default:
      return state;
  }
}

/** The CSS classes for a state (empty when it is the default look). */
function stateClasses(state: SgrState): string[] {
  const classes: string[] = [];
  const fg = state.inverse ? state.bg : state.fg;
  const bg = state.inverse ? state.fg : state.bg;
  if (state.inverse) {
    classes.push('ansi-inverse');
  }
  if (fg !== null) {
    classes.push(colorClass(fg, 'fg'));
  }
  if (bg !== null) {
    classes.push(colorClass(bg, 'bg'));
  }
  if (state.bold) {
    classes.push('ansi-bold');
  }
  if (state.faint) {
    classes.push('ansi-faint');
  }
  if (state.italic) {
    classes.push('ansi-italic');
  }
  if (state.underline) {
    classes.push('ansi-underline');
  }
  if (state.strike) {
    classes.push('ansi-strike');
  }
  return classes;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Converts terminal text to HTML: text is escaped, SGR colours and attributes become
 * `<span class="ansi-...">` (8/16 colours by name; 256-colour and truecolour mapped to the nearest
 * of the 16), every other escape sequence is dropped. Spans never stay open at the end.
 */
export function ansiToHtml(text: string): string {
  let html = '';
  let state = initialState();
  let open: string | null = null;
  let last = 0;
  const emit = (chunk: string): void => {
    if (chunk === '') {
      return;
    }
    const classes = stateClasses(state).join(' ');
    const wanted = classes === '' ? null : classes;
    if (wanted !== open) {
      if (open !== null) {
        html += '</span>';
      }
      if (wanted !== null) {
        html += `<span class="${wanted}">`;
      }
      open = wanted;
    }
    html += escapeHtml(chunk);
  };
  for (const match of text.matchAll(ESCAPE_RE)) {
    const at = match.index ?? 0;
    emit(text.slice(last, at));
    last = at + match[0].length;
    if (match[3] === 'm' && match[2] === '') {
      state = applySgr(state, match[1] ?? '');
    }
  }
  emit(text.slice(last));
  if (open !== null) {
    html += '</span>';
  }
  return html;
}
