/**
 * Comparing image outputs by what they show, not by their bytes: PNG and JPEG are decoded and
 * compared pixel by pixel with pixelmatch (the same picture encoded with other settings is the
 * same picture), SVG is text whose generated ids are renumbered.
 */
import * as jpeg from 'jpeg-js';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';

/** The mime types compared by pixels. */
export const PIXEL_IMAGE_MIMES: readonly string[] = ['image/png', 'image/jpeg'];

/** How different two pictures may be and still be the same. */
export interface ImageTolerance {
  /** Fraction of pixels (0 to 1) allowed to differ; default 0. */
  tolerance?: number;
  /** pixelmatch's per-pixel colour threshold (0 to 1, smaller is stricter); default 0.1. */
  threshold?: number;
}

/** Why two pictures differ. */
export interface ImageDifference {
  /** One line, e.g. `310 of 4096 pixels differ (7.57%, tolerance 0%)`. */
  message: string;
  /** How many pixels differ, when both pictures could be decoded and have the same size. */
  differentPixels?: number;
  /** Pixels in each picture, when both have the same size. */
  totalPixels?: number;
}

/** A decoded picture: RGBA bytes, four per pixel. */
interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes base64 image data of a pixel mime type; throws when it is not such an image. */
function decode(mime: string, base64: string): Pixels {
  // nbformat allows base64 to be split over lines.
  const bytes = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  if (mime === 'image/png') {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, data: png.data };
  }
  const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  return { width: image.width, height: image.height, data: image.data };
}

/** The percentage of a fraction, with two decimals. */
function percent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))}%`;
}

/**
 * Whether two base64 images of a pixel mime type (`image/png`, `image/jpeg`) show the same
 * picture: null when they do, else why not. Pictures of different sizes differ; otherwise they
 * are the same when the fraction of pixels pixelmatch finds different is at most
 * `tolerance` (anti-aliased pixels are not counted, as pixelmatch does by default). Data that
 * cannot be decoded is compared by its bytes.
 */
export function compareImages(
  mime: string,
  baseline: string,
  actual: string,
  options: ImageTolerance = {},
): ImageDifference | null {
  if (baseline === actual) {
    return null;
  }
  let b: Pixels;
  let a: Pixels;
  try {
    b = decode(mime, baseline);
    a = decode(mime, actual);
  } catch (err) {
    const same = baseline.replace(/\s+/g, '') === actual.replace(/\s+/g, '');
    const why = err instanceof Error ? err.message : String(err);
    return same ? null : { message: `the images differ and cannot be decoded (${why})` };
  }
  if (a.width !== b.width || a.height !== b.height) {
    return { message: `size ${b.width}x${b.height} became ${a.width}x${a.height}` };
  }
  const total = a.width * a.height;
  const tolerance = options.tolerance ?? 0;
  const different = pixelmatch(b.data, a.data, null, a.width, a.height, {
    threshold: options.threshold ?? 0.1,
  });
  if (total === 0 || different / total <= tolerance) {
    return null;
  }
  return {
    message: `${different} of ${total} pixels differ (${percent(different / total)}, tolerance ${percent(tolerance)})`,
    differentPixels: different,
    totalPixels: total,
  };
}

/**
 * One line describing a pixel image for a readable diff, `<image/png 64x48>`, or
 * `<image/png, not decodable>`: the bytes themselves say nothing to a reader.
 */
export function describeImage(mime: string, base64: string): string {
  try {
    const { width, height } = decode(mime, base64);
    return `<${mime} ${width}x${height}>`;
  } catch {
    return `<${mime}, not decodable>`;
  }
}

/**
 * SVG text with its generated ids renumbered in order of appearance (`id="p3e2f1a0b9c"` and
 * every `#p3e2f1a0b9c` reference become `id="svg-id-1"`, `#svg-id-1`): matplotlib salts its ids
 * with a random value per process, so two runs of the same plot name them differently.
 */
export function normalizeSvg(svg: string): string {
  const ids = new Map<string, string>();
  for (const m of svg.matchAll(/\bid="([^"]+)"/g)) {
    if (!ids.has(m[1])) {
      ids.set(m[1], `svg-id-${ids.size + 1}`);
    }
  }
  if (ids.size === 0) {
    return svg;
  }
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${ids.get(id) ?? id}"`)
    .replace(/#([^\s"'()]+)/g, (whole, id: string) => {
      const renamed = ids.get(id);
      return renamed === undefined ? whole : `#${renamed}`;
    });
}
