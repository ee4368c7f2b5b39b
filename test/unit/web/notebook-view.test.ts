/**
 * The web page's view of a stored version: each cell shows its peak memory beside its duration
 * (as the HTML report does, which renders it), a cell without one shows none, and the header
 * names the largest peak and its cell.
 */
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import { renderCell } from '../../../server/web/notebook-view';
import { versionPage } from '../../../server/web/pages/version-page';
import { codeCell, executedNotebook } from '../reports/notebook-fixtures';

const PEAK_TITLE = 'title="peak resident memory of the kernel&#39;s processes while the cell ran"';

/** `cell` with `metadata.nbstage.peak_rss_bytes` set, as the executor records it. */
function withPeak(cell: CodeCell, bytes: number): CodeCell {
  cell.metadata.nbstage = { ...cell.metadata.nbstage, peak_rss_bytes: bytes };
  return cell;
}

/** A stored run of three cells: two measured, one not. */
function storedRun(): Notebook {
  return executedNotebook(
    [
      withPeak(codeCell('x = load()', { status: 'ok', durationMs: 400 }, [], 1), 390175539),
      withPeak(codeCell('fit(x)', { status: 'ok', durationMs: 1200 }, [], 2), 1610612736),
      codeCell('y = 1', { status: 'ok', durationMs: 5 }, [], 3),
    ],
    { job: 'ml/train', build: 7 },
  );
}

/** The fragment of the page that holds cell `index`. */
function cellOf(page: string, index: number): string {
  const from = page.indexOf(`<div class="nb-cell" data-index="${index}">`);
  if (from < 0) {
    throw new Error(`cell ${index} is not on the page`);
  }
  const to = page.indexOf('<div class="nb-cell"', from + 1);
  return page.slice(from, to < 0 ? undefined : to);
}

describe('the version page', () => {
  const page = versionPage({
    principal: { id: 'abcdef012345', name: 'reader', role: 'read' },
    job: 'ml/train',
    build: '7',
    shown: { notebook: storedRun(), run: {}, commit: '0123456789abcdef', tag: 'ml/train/7' },
    builds: [],
  });

  it("shows each cell's peak memory beside its duration", () => {
    expect(cellOf(page, 0)).toContain(
      `<span class="cell-duration">0.40 s</span><span class="cell-peak" ${PEAK_TITLE}>peak 372.1 MiB</span>`,
    );
    expect(cellOf(page, 1)).toContain(
      `<span class="cell-duration">1.20 s</span><span class="cell-peak" ${PEAK_TITLE}>peak 1.5 GiB</span>`,
    );
  });

  it('shows no peak for a cell whose peak was not measured', () => {
    const last = cellOf(page, 2);
    expect(last).toContain('<span class="cell-duration">0.01 s</span></div>');
    expect(last).not.toContain('cell-peak');
  });

  it("names the run's largest peak and links its cell in the header", () => {
    expect(page).toContain(
      '<div class="fact"><dt>Peak memory</dt><dd>1.5 GiB (<a href="#cell-1">cell 1</a>)</dd></div>',
    );
  });
});

describe('the version page of a reproduction', () => {
  const page = (builds: string[]) =>
    versionPage({
      principal: { id: 'abcdef012345', name: 'reader', role: 'read' },
      job: 'ml/train',
      build: '7-repro-1',
      shown: {
        notebook: storedRun(),
        run: { reproduces: { build: '7', commit: '0123456789abcdef' } },
        commit: 'fedcba9876543210',
        tag: 'ml/train/7-repro-1',
      },
      builds: builds.map((build) => ({ build }) as never),
    });

  it('links the build it ran again, and the diff with it once', () => {
    const listed = page(['7-repro-1', '7', '6']);
    expect(listed).toContain(
      '<a class="reproduces" href="/jobs/ml%2Ftrain/builds/7">Reproduces #7</a>',
    );
    expect(listed.match(/>Diff with #7</g)).toHaveLength(1);
    // Another build came between them: the diff with the reproduced one is offered beside it.
    const between = page(['8', '7-repro-1', '6']);
    expect(between).toContain('>Diff with #7<');
    expect(between).toContain('>Diff with #6<');
  });

  it('says nothing of the kind for a build that reproduces none', () => {
    expect(
      versionPage({
        principal: { id: 'abcdef012345', name: 'reader', role: 'read' },
        job: 'ml/train',
        build: '7',
        shown: { notebook: storedRun(), run: {}, commit: '0123456789abcdef', tag: 'ml/train/7' },
        builds: [],
      }),
    ).not.toContain('Reproduces');
  });
});

describe('one cell of the live page', () => {
  it('carries its peak memory once the cell has one', () => {
    const nb = storedRun();
    expect(renderCell(nb, 0)).toContain('peak 372.1 MiB</span>');
    expect(renderCell(nb, 2)).not.toContain('cell-peak');
  });
});
