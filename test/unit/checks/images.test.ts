/**
 * Image comparison by pixels, on PNGs and JPEGs made here: the same picture encoded with other
 * zlib settings or filters is the same, a changed region differs and says by how many pixels.
 */
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { compareImages, describeImage, normalizeSvg } from '../../../pipelines/checks/images';

/** A 64x48 gradient with a 10x8 red square at (x, y) when given. */
function picture(square?: { x: number; y: number }): PNG {
  const png = new PNG({ width: 64, height: 48 });
  for (let y = 0; y < 48; y += 1) {
    for (let x = 0; x < 64; x += 1) {
      const i = (y * 64 + x) * 4;
      const inSquare =
        square !== undefined &&
        x >= square.x &&
        x < square.x + 10 &&
        y >= square.y &&
        y < square.y + 8;
      png.data[i] = inSquare ? 255 : x * 4;
      png.data[i + 1] = inSquare ? 0 : y * 5;
      png.data[i + 2] = inSquare ? 0 : 128;
      png.data[i + 3] = 255;
    }
  }
  return png;
}

const base64 = (buf: Buffer): string => buf.toString('base64');

describe('compareImages', () => {
  it('finds a PNG re-encoded with other zlib settings and filters the same', () => {
    const fast = base64(PNG.sync.write(picture(), { deflateLevel: 1, filterType: 0 }));
    const small = base64(PNG.sync.write(picture(), { deflateLevel: 9, filterType: 4 }));
    expect(fast).not.toBe(small);
    expect(compareImages('image/png', fast, small)).toBeNull();
    // nbformat may split base64 over lines.
    expect(compareImages('image/png', fast, small.replace(/(.{76})/g, '$1\n'))).toBeNull();
  });

  it('says how many pixels a changed region makes differ', () => {
    const before = base64(PNG.sync.write(picture()));
    const after = base64(PNG.sync.write(picture({ x: 20, y: 10 })));
    expect(compareImages('image/png', before, after)).toEqual({
      message: '80 of 3072 pixels differ (2.6%, tolerance 0%)',
      differentPixels: 80,
      totalPixels: 3072,
    });
    expect(compareImages('image/png', before, after, { tolerance: 0.03 })).toBeNull();
  });

  it('finds pictures of different sizes different', () => {
    const small = new PNG({ width: 32, height: 48 });
    small.data.fill(255);
    const d = compareImages(
      'image/png',
      base64(PNG.sync.write(picture())),
      base64(PNG.sync.write(small)),
    );
    expect(d?.message).toBe('size 64x48 became 32x48');
    expect(describeImage('image/png', base64(PNG.sync.write(small)))).toBe('<image/png 32x48>');
  });

  it('compares JPEGs by pixels, within a tolerance for lossy re-encoding', () => {
    const raw = picture();
    const q90 = base64(jpeg.encode({ width: 64, height: 48, data: raw.data }, 90).data);
    const q80 = base64(jpeg.encode({ width: 64, height: 48, data: raw.data }, 80).data);
    expect(q90).not.toBe(q80);
    expect(compareImages('image/jpeg', q90, q80)).toBeNull();
    const changed = picture({ x: 0, y: 0 });
    const other = base64(jpeg.encode({ width: 64, height: 48, data: changed.data }, 90).data);
    expect(compareImages('image/jpeg', q90, other)?.differentPixels).toBeGreaterThanOrEqual(60);
  });

  it('compares undecodable data by its bytes', () => {
    expect(compareImages('image/png', 'bm90IGEgcG5n', 'bm90IGEgcG5n')).toBeNull();
    expect(compareImages('image/png', 'bm90IGEgcG5n', 'YWxzbyBub3Q=')?.message).toMatch(
      /cannot be decoded/,
    );
  });
});

describe('normalizeSvg', () => {
  it("renumbers matplotlib's salted ids and their references", () => {
    const svg = (salt: string): string =>
      `<svg><defs><clipPath id="p${salt}"><rect/></clipPath></defs>` +
      `<g clip-path="url(#p${salt})"><use xlink:href="#m${salt}"/></g><path id="m${salt}" d="M 0 1"/></svg>`;
    expect(normalizeSvg(svg('3e2f1a0b9c'))).toBe(normalizeSvg(svg('77aa01bc2d')));
    expect(normalizeSvg(svg('3e2f1a0b9c'))).toContain('url(#svg-id-1)');
    expect(normalizeSvg(svg('3e2f1a0b9c'))).not.toBe(
      normalizeSvg(svg('77aa01bc2d').replace('M 0 1', 'M 0 2')),
    );
  });
});
