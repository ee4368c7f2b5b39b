/**
 * A line diff of two texts (longest common subsequence), as a list of kept, removed and added
 * lines: what `nbstage diff` shows for a cell's source or a text output.
 */

/** One line of a diff: kept (` `), removed (`-`) or added (`+`). */
export interface DiffLine {
  op: '+' | '-' | ' ';
  line: string;
}

/** Above this many cells in the LCS table, the middle is shown as all removed, then all added. */
const MAX_TABLE = 4_000_000;

/** The lines of a text, without their line breaks (`''` has no lines). */
export function textLines(text: string): string[] {
  if (text === '') {
    return [];
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  }
  return lines;
}

/** The LCS diff of two line lists, after trimming their common start and end. */
export function diffLineLists(a: string[], b: string[]): DiffLine[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) {
    start++;
  }
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const head = a.slice(0, start).map((line): DiffLine => ({ op: ' ', line }));
  const tail = a.slice(endA).map((line): DiffLine => ({ op: ' ', line }));
  const midA = a.slice(start, endA);
  const midB = b.slice(start, endB);
  return [...head, ...diffMiddle(midA, midB), ...tail];
}

function diffMiddle(a: string[], b: string[]): DiffLine[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_TABLE) {
    return [
      ...a.map((line): DiffLine => ({ op: '-', line })),
      ...b.map((line): DiffLine => ({ op: '+', line })),
    ];
  }
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], in one flat array.
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j]
          ? lcs[(i + 1) * width + j + 1] + 1
          : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: ' ', line: a[i] });
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      out.push({ op: '-', line: a[i] });
      i++;
    } else {
      out.push({ op: '+', line: b[j] });
      j++;
    }
  }
  for (; i < n; i++) {
    out.push({ op: '-', line: a[i] });
  }
  for (; j < m; j++) {
    out.push({ op: '+', line: b[j] });
  }
  return out;
}

/** The line diff of two texts. */
export function diffText(a: string, b: string): DiffLine[] {
  return diffLineLists(textLines(a), textLines(b));
}
