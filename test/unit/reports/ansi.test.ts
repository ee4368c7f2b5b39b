import { ansiToHtml, applyCarriageReturns, stripAnsi } from '../../../pipelines/reports/ansi';
import { ZERO_DIVISION_TRACEBACK } from './notebook-fixtures';

describe('stripAnsi', () => {
  it('removes SGR colours, other CSI sequences and OSC sequences', () => {
    const text =
      '\x1b[1;31mred\x1b[0m \x1b[38;5;208morange\x1b[39m \x1b[2K\x1b[1Gline' +
      ' \x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07end';
    expect(stripAnsi(text)).toBe('red orange line link end');
  });

  it('strips a real ipykernel traceback to plain text', () => {
    const plain = stripAnsi(ZERO_DIVISION_TRACEBACK.join('\n'));
    expect(plain).not.toContain('\x1b');
    expect(plain).toContain('ZeroDivisionError: division by zero');
    expect(plain).toContain('----> 4 evaluate(0)');
  });

  it('leaves text without escapes alone', () => {
    expect(stripAnsi('a [31m b\n\tc')).toBe('a [31m b\n\tc');
  });
});

describe('ansiToHtml', () => {
  it('turns basic and bright colours into classes', () => {
    expect(ansiToHtml('\x1b[31mred\x1b[0m plain \x1b[92mgreen')).toBe(
      '<span class="ansi-red-fg">red</span> plain <span class="ansi-bright-green-fg">green</span>',
    );
  });

  it('combines bold, background and foreground and resets them one by one', () => {
    expect(ansiToHtml('\x1b[1;33;44mA\x1b[22mB\x1b[39mC\x1b[49mD')).toBe(
      '<span class="ansi-yellow-fg ansi-blue-bg ansi-bold">A</span>' +
        '<span class="ansi-yellow-fg ansi-blue-bg">B</span>' +
        '<span class="ansi-blue-bg">C</span>D',
    );
  });

  it('maps 256-colour and truecolour to the nearest palette class', () => {
    expect(ansiToHtml('\x1b[38;5;1mx')).toBe('<span class="ansi-red-fg">x</span>');
    expect(ansiToHtml('\x1b[38;5;196mx')).toBe('<span class="ansi-bright-red-fg">x</span>');
    expect(ansiToHtml('\x1b[38;5;241mx')).toBe('<span class="ansi-bright-black-fg">x</span>');
    expect(ansiToHtml('\x1b[38;2;0;0;250mx')).toBe('<span class="ansi-blue-fg">x</span>');
    expect(ansiToHtml('\x1b[48;2;250;250;250mx')).toBe(
      '<span class="ansi-bright-white-bg">x</span>',
    );
    expect(ansiToHtml('\x1b[38:2::0:200:0mx')).toBe('<span class="ansi-green-fg">x</span>');
  });

  it('keeps parameters after an extended colour in the same sequence', () => {
    expect(ansiToHtml('\x1b[38;5;28;01mdef')).toBe(
      '<span class="ansi-green-fg ansi-bold">def</span>',
    );
  });

  it('escapes HTML in the text', () => {
    expect(ansiToHtml('<script>alert("x")</script> & \x1b[31m<b>')).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; <span class="ansi-red-fg">&lt;b&gt;</span>',
    );
  });

  it('closes a span left open at the end and never emits empty spans', () => {
    const html = ansiToHtml('\x1b[31munclosed');
    expect(html).toBe('<span class="ansi-red-fg">unclosed</span>');
    expect(ansiToHtml('\x1b[31m\x1b[0m')).toBe('');
  });

  it('never emits a style attribute and drops non-SGR sequences', () => {
    const html = ansiToHtml(`${ZERO_DIVISION_TRACEBACK.join('\n')}\x1b[2K\x1b]0;t\x07`);
    expect(html).not.toMatch(/style=/);
    expect(html).not.toContain('\x1b');
    expect(html).toContain('<span class="ansi-red-fg">ZeroDivisionError</span>: division by zero');
    const opened = (html.match(/<span /g) ?? []).length;
    const closed = (html.match(/<\/span>/g) ?? []).length;
    expect(opened).toBe(closed);
  });

  it('marks inverse video with a class and swaps known colours', () => {
    expect(ansiToHtml('\x1b[7mi\x1b[31mr')).toBe(
      '<span class="ansi-inverse">i</span><span class="ansi-inverse ansi-red-bg">r</span>',
    );
  });
});

describe('applyCarriageReturns', () => {
  it('keeps the last rewrite of a progress line', () => {
    expect(applyCarriageReturns('start\n 10%\r 50%\r100%\ndone\n')).toBe('start\n100%\ndone\n');
  });

  it('treats CRLF as a newline and applies backspaces', () => {
    expect(applyCarriageReturns('a\r\nbc\bd\n')).toBe('a\nbd\n');
  });
});
