import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderHtml, writeHtmlReport } from '../../../pipelines/reports/html';
import type { CodeCell, Notebook } from '../../../pipelines/notebook/model';
import {
  PNG_1X1,
  ZERO_DIVISION_TRACEBACK,
  codeCell,
  display,
  error,
  executedNotebook,
  markdownCell,
  result,
  stream,
} from './notebook-fixtures';
import { htmlTags } from './python-parsers';
import type { HtmlTag } from './python-parsers';
import { useTempDir } from '../../helpers/temp-dirs';
import { METRIC_MIME as METRIC } from '../../../pipelines/reports/run-metadata';

const SVG_WITH_SCRIPT =
  '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">' +
  '<script>alert(1)</script><rect width="10" height="10"/></svg>';
const GIF_1X1 = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

/** A failed run whose notebook tries every trick an output or a markdown cell could play. */
function hostileRun(): Notebook {
  return executedNotebook(
    [
      markdownCell(
        '# Results\n\nSome *emphasis* and a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n' +
          '<script>alert(1)</script><img src="x.png" onerror="alert(1)">\n\n' +
          '[click](javascript:alert(1)) <a href="JaVaScRiPt:alert(1)">a</a>\n\n' +
          '<iframe src="https://evil.example"></iframe><div style="color:red">styled</div>\n\n' +
          `![inline](data:image/png;base64,${PNG_1X1}) ![att](attachment:plot.png)`,
        { 'plot.png': { 'image/png': PNG_1X1 } },
      ),
      codeCell(
        'epochs = 3',
        { status: 'ok', durationMs: 3, stage: null },
        [
          stream('stdout', 'loading \x1b[32mok\x1b[0m <tag>\n 10%\r100%\n'),
          stream('stderr', 'careful\n'),
        ],
        1,
      ),
      codeCell(
        'show()',
        { status: 'ok', durationMs: 1234, stage: 'train' },
        [
          display(
            { 'image/png': PNG_1X1, 'text/plain': '<Figure>' },
            {
              'image/png': { width: 320, height: 200 },
            },
          ),
          display({ 'image/jpeg': PNG_1X1 }),
          display({ 'image/gif': GIF_1X1 }),
          display({ 'image/svg+xml': SVG_WITH_SCRIPT }),
          display({
            'text/html':
              '<style>body{display:none}</style><script>alert(1)</script>' +
              '<table border="1" class="dataframe evil"><tr><th>loss</th></tr>' +
              '<tr><td onclick="alert(1)">0.1</td></tr></table>' +
              `<img src="data:image/png;base64,${PNG_1X1}" onerror="alert(1)">` +
              '<img src="x" onerror="alert(1)"><svg onload="alert(1)"><text>svgtext</text></svg>' +
              '<a href="javascript:alert(1)">js</a><a href="https://jenkins.io/">ok link</a>' +
              '<form action="https://evil.example"><input name="q"></form>' +
              '<object data="evil.swf"></object><embed src="evil.swf">' +
              '<base href="https://evil.example/"><meta http-equiv="refresh" content="0">' +
              '<link rel="stylesheet" href="https://evil.example/x.css"><p style="color:red">p</p>',
            'text/plain': '<DataFrame>',
          }),
          display({ 'text/html': '<script>Plotly.newPlot()</script>', 'text/plain': 'Figure()' }),
          display({ 'text/markdown': 'Loss went **down**' }),
          display({ 'application/json': { a: [1, 2], b: 'x' } }),
          display({ 'text/latex': '$\\alpha < \\beta$' }),
          display({ [METRIC]: { name: 'accuracy', value: 0.93 }, 'text/plain': 'accuracy' }),
          display({ 'application/vnd.custom+json': { x: 1 } }),
          result({ 'text/plain': "{'epochs': 3}" }, 2),
        ],
        2,
      ),
      codeCell(
        'evaluate(0)',
        { status: 'error', durationMs: 9, stage: 'evaluate' },
        [error('ZeroDivisionError', 'division by zero', ZERO_DIVISION_TRACEBACK)],
        3,
      ),
      codeCell('print("after")', { status: 'aborted', stage: 'evaluate' }),
      codeCell('print("not selected")'),
    ],
    {
      status: 'failed',
      job: 'ml/train',
      build: 42,
      stages: ['train', 'evaluate'],
      parameters: { epochs: 3, api_key: '****' },
      metrics: {
        accuracy: 0.93,
        confusion: [
          [1, 2],
          [3, 4],
        ],
      },
      exception: { cell_index: 3, ename: 'ZeroDivisionError', evalue: 'division by zero' },
      environment: { python: '3.11.7', host: 'agent-1' },
    },
  );
}

function attr(tag: HtmlTag, name: string): string | null | undefined {
  return tag.attrs.find(([k]) => k === name)?.[1];
}

describe('renderHtml', () => {
  const { html, assets } = renderHtml(hostileRun(), {
    title: 'train <#42>',
    assetsDirName: 'report_files',
  });
  const tags = htmlTags(html);
  const assetNames = assets.map((a) => a.name);

  it('carries no script, frame, form, style element or foreign stylesheet', () => {
    const names = new Set(tags.map((t) => t.tag));
    for (const forbidden of [
      'script',
      'iframe',
      'object',
      'embed',
      'form',
      'style',
      'base',
      'svg',
    ]) {
      expect(names.has(forbidden)).toBe(false);
    }
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('alert(');
    expect(html).not.toContain('svgtext');
    const links = tags.filter((t) => t.tag === 'link');
    expect(links.map((l) => attr(l, 'href'))).toEqual(['report_files/report.css']);
    const metas = tags.filter((t) => t.tag === 'meta' && attr(t, 'http-equiv') !== undefined);
    expect(metas.map((m) => attr(m, 'http-equiv'))).toEqual(['Content-Security-Policy']);
  });

  it('has no event handler, style attribute, javascript: or data: URL anywhere', () => {
    for (const tag of tags) {
      for (const [name, value] of tag.attrs) {
        expect(name.startsWith('on')).toBe(false);
        expect(name).not.toBe('style');
        expect(value ?? '').not.toMatch(/^\s*(javascript|data|vbscript):/i);
      }
    }
    expect(html).not.toMatch(/style=/i);
    expect(html).not.toMatch(/data:/i);
    expect(html).not.toMatch(/javascript:/i);
  });

  it('declares the Jenkins CSP for itself and links the stylesheet asset', () => {
    const csp = tags.find((t) => attr(t, 'http-equiv') === 'Content-Security-Policy');
    expect(attr(csp as HtmlTag, 'content')).toBe(
      "default-src 'none'; img-src 'self'; style-src 'self';",
    );
    const css = assets.find((a) => a.name === 'report_files/report.css');
    expect(css?.data.toString()).toBe(
      readFileSync(path.join(__dirname, '../../../pipelines/reports/report.css'), 'utf8'),
    );
  });

  it('writes images as files and refers to them with relative img src', () => {
    expect(assetNames).toEqual(
      expect.arrayContaining([
        'report_files/cell0-img1.png',
        'report_files/cell0-plot.png',
        'report_files/cell2-out0.png',
        'report_files/cell2-out1.jpg',
        'report_files/cell2-out2.gif',
        'report_files/cell2-out3.svg',
        'report_files/cell2-out4-img1.png',
      ]),
    );
    const png = assets.find((a) => a.name === 'report_files/cell2-out0.png');
    expect(Buffer.isBuffer(png?.data)).toBe(true);
    expect(png?.data).toEqual(Buffer.from(PNG_1X1, 'base64'));
    const srcs = tags
      .filter((t) => t.tag === 'img')
      .map((t) => attr(t, 'src'))
      .filter((s): s is string => typeof s === 'string');
    for (const src of srcs.filter((s) => s.startsWith('report_files/'))) {
      expect(assetNames).toContain(src);
    }
    expect(srcs).toEqual(expect.arrayContaining(['report_files/cell2-out3.svg']));
    const figure = tags.find(
      (t) => t.tag === 'img' && attr(t, 'src') === 'report_files/cell2-out0.png',
    );
    expect(attr(figure as HtmlTag, 'width')).toBe('320');
    expect(attr(figure as HtmlTag, 'height')).toBe('200');
  });

  it('writes SVG outputs as files, never inline', () => {
    const svg = assets.find((a) => a.name === 'report_files/cell2-out3.svg');
    expect(svg?.data.toString()).toContain('<rect');
    expect(html).not.toContain('<rect');
  });

  it('renders markdown, keeping tables and dropping what is unsafe', () => {
    expect(html).toContain('<h1>Results</h1>');
    expect(html).toContain('<em>emphasis</em>');
    expect(tags.filter((t) => t.tag === 'table').length).toBeGreaterThanOrEqual(2);
    expect(html).toContain('styled');
    expect(html).toContain('Loss went <strong>down</strong>');
  });

  it('keeps DataFrame tables and ordinary links from HTML outputs', () => {
    const dataframe = tags.find((t) => t.tag === 'table' && attr(t, 'class') === 'dataframe');
    expect(dataframe).toBeDefined();
    expect(attr(dataframe as HtmlTag, 'border')).toBe('1');
    expect(tags.some((t) => t.tag === 'a' && attr(t, 'href') === 'https://jenkins.io/')).toBe(true);
  });

  it('falls back to text/plain when the HTML is nothing but script', () => {
    expect(html).toContain('Figure()');
  });

  it('shows JSON pretty-printed, LaTeX as text and unknown data as a placeholder', () => {
    expect(html).toContain(
      '{\n  &quot;a&quot;: [\n    1,\n    2\n  ],\n  &quot;b&quot;: &quot;x&quot;\n}',
    );
    expect(html).toContain('$\\alpha &lt; \\beta$');
    expect(html).toContain('application/vnd.custom+json');
    expect(html).toContain('Out [2]');
  });

  it('renders streams and tracebacks with ANSI colours as classes, escaped', () => {
    expect(html).toContain('loading <span class="ansi-green-fg">ok</span> &lt;tag&gt;\n100%\n');
    expect(html).toContain('<span class="ansi-red-fg">ZeroDivisionError</span>: division by zero');
    expect(html).not.toContain('\x1b');
    expect(html).toMatch(/class="output-stream output-stderr">careful/);
  });

  it('has a header with title, status, kernel, duration, parameters and metrics', () => {
    expect(html).toContain('<title>train &lt;#42&gt;</title>');
    expect(html).toContain('<h1>train &lt;#42&gt;</h1>');
    expect(html).toMatch(/class="badge badge-failed">failed</);
    expect(html).toContain('python3');
    expect(html).toContain('3.21 s');
    expect(html).toContain('ml/train #42');
    expect(html).toMatch(/<th scope="row">epochs<\/th><td class="value number"><code>3<\/code>/);
    expect(html).toMatch(/<th scope="row">api_key<\/th>/);
    expect(html).toMatch(/<th scope="row">accuracy<\/th><td class="value number"><code>0.93</);
    expect(html).toContain('[[1,2],[3,4]]');
  });

  it('summarises the exception with a link to the failing cell', () => {
    const link = tags.find((t) => t.tag === 'a' && attr(t, 'class') === 'exception-link');
    expect(attr(link as HtmlTag, 'href')).toBe('#cell-3');
    expect(tags.some((t) => t.tag === 'section' && attr(t, 'id') === 'cell-3')).toBe(true);
    expect(html).toContain('ZeroDivisionError: division by zero</code>');
  });

  it('shows each code cell with its execution count, status, duration and stage', () => {
    const cell = tags.find((t) => attr(t, 'id') === 'cell-2');
    expect(attr(cell as HtmlTag, 'class')).toBe('cell cell-code status-ok');
    expect(html).toContain('In [2]');
    expect(html).toContain('1.23 s');
    expect(html).toMatch(/status-chip status-aborted">not run</);
    expect(html).toMatch(/stage-label">stage<\/span> evaluate/);
    const untouched = tags.find((t) => attr(t, 'id') === 'cell-5');
    expect(attr(untouched as HtmlTag, 'class')).toBe('cell cell-code status-none');
  });

  it('encodes an assets folder name with spaces in URLs but not in asset names', () => {
    const out = renderHtml(hostileRun(), { title: 't', assetsDirName: 'my report_files' });
    expect(out.html).toContain('href="my%20report_files/report.css"');
    expect(out.assets.map((a) => a.name)).toContain('my report_files/cell2-out0.png');
  });

  it('finds the metrics in the outputs when the run metadata has none', () => {
    const nb = executedNotebook([
      codeCell('record()', { status: 'ok', durationMs: 1 }, [
        display({ [METRIC]: { name: 'loss', value: 0.25 } }),
      ]),
    ]);
    const out = renderHtml(nb, { title: 't', assetsDirName: 'a' });
    expect(out.html).toMatch(/<th scope="row">loss<\/th><td class="value number"><code>0.25</);
  });

  it("shows each cell's peak memory beside its duration, and the largest in the header", () => {
    const withPeak = (cell: CodeCell, bytes: number): CodeCell => {
      cell.metadata.nbstage = { ...cell.metadata.nbstage, peak_rss_bytes: bytes };
      return cell;
    };
    const nb = executedNotebook([
      withPeak(codeCell('x = load()', { status: 'ok', durationMs: 400 }), 390175539),
      withPeak(codeCell('fit(x)', { status: 'error', durationMs: 1200 }), 8589934592),
      codeCell('y = 1', { status: 'ok', durationMs: 5 }),
    ]);
    const out = renderHtml(nb, { title: 't', assetsDirName: 'a' }).html;
    const peakTitle =
      'title="peak resident memory of the kernel&#39;s processes while the cell ran"';
    expect(out).toContain(
      '<span class="chip status-chip status-ok">ok</span><span class="cell-duration">0.40 s</span>' +
        `<span class="cell-peak" ${peakTitle}>peak 372.1 MiB</span></div>`,
    );
    expect(out).toContain(
      '<span class="cell-duration">1.20 s</span>' +
        `<span class="cell-peak" ${peakTitle}>peak 8 GiB</span></div>`,
    );
    expect(out).toContain(
      '<span class="chip status-chip status-ok">ok</span><span class="cell-duration">0.01 s</span></div>',
    );
    expect(out.match(/class="cell-peak"/g)).toHaveLength(2);
    expect(out).toContain(
      '<div class="fact"><dt>Peak memory</dt><dd>8 GiB (<a href="#cell-1">cell 1</a>)</dd></div>',
    );
  });

  it("shows a cell's GPU peak beside its memory peak, on GPU workers", () => {
    const cell = codeCell('fit(x)', { status: 'ok', durationMs: 1200 });
    cell.metadata.nbstage = {
      ...cell.metadata.nbstage,
      peak_rss_bytes: 2147483648,
      peak_gpu_memory_bytes: 42949672960,
    };
    const out = renderHtml(executedNotebook([cell, codeCell('y = 1', { status: 'ok' })]), {
      title: 't',
      assetsDirName: 'a',
    }).html;
    expect(out).toContain(
      'peak 2 GiB</span><span class="cell-peak cell-peak-gpu" ' +
        'title="peak memory used on the run&#39;s GPUs while the cell ran">GPU 40 GiB</span></div>',
    );
    expect(out.match(/cell-peak-gpu/g)).toHaveLength(1);
  });

  it('shows no peak memory where no cell has one', () => {
    expect(html).not.toContain('cell-peak');
    expect(html).not.toContain('Peak memory');
  });

  it('renders a notebook that no run touched', () => {
    const nb = executedNotebook([markdownCell('hello'), codeCell('1 + 1')]);
    delete nb.metadata.nbstage;
    const out = renderHtml(nb, { title: 'plain', assetsDirName: 'a' });
    expect(out.html).toContain('not run by nbstage');
    expect(out.assets.map((a) => a.name)).toEqual(['a/report.css']);
  });
});

describe('writeHtmlReport', () => {
  const dir = useTempDir();

  it('writes the page and its assets folder beside it, every img resolving to a file', async () => {
    const target = path.join(dir(), 'train.html');
    await writeHtmlReport(target, hostileRun(), 'train');
    const html = await readFile(target, 'utf8');
    expect(html).toContain('href="train_files/report.css"');
    const files = await readdir(path.join(dir(), 'train_files'));
    expect(files).toEqual(
      expect.arrayContaining(['report.css', 'cell2-out0.png', 'cell2-out3.svg']),
    );
    for (const tag of htmlTags(html).filter((t) => t.tag === 'img')) {
      const src = attr(tag, 'src');
      if (typeof src === 'string' && src.startsWith('train_files/')) {
        expect(existsSync(path.join(dir(), decodeURIComponent(src)))).toBe(true);
      }
    }
    expect(await readFile(path.join(dir(), 'train_files', 'cell2-out0.png'))).toEqual(
      Buffer.from(PNG_1X1, 'base64'),
    );
  });

  it('removes files an earlier report left in the assets folder', async () => {
    const target = path.join(dir(), 'r.html');
    await mkdir(path.join(dir(), 'r_files'));
    await writeFile(path.join(dir(), 'r_files', 'cell9-out0.png'), 'stale');
    await writeHtmlReport(target, executedNotebook([markdownCell('# hi')]), 'r');
    expect(await readdir(path.join(dir(), 'r_files'))).toEqual(['report.css']);
  });
});
