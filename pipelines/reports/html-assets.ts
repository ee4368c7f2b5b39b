/**
 * The files an HTML report refers to (its stylesheet and images) while it is rendered: unique
 * names in the report's assets folder, the stylesheet read once, image data decoded.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A file the report refers to; `name` is relative to the report's folder. */
export interface HtmlAsset {
  name: string;
  data: Buffer | string;
}

/** Raster image mimetypes written as files, with their extensions. */
export const RASTER_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
};

/** Mimetypes accepted from `data:` URIs and attachments, with their extensions. */
export const EMBEDDED_IMAGE_TYPES: Record<string, string> = {
  ...RASTER_TYPES,
  'image/svg+xml': 'svg',
  'image/webp': 'webp',
};

let stylesheet: string | null = null;

/**
 * The report stylesheet. It lives beside this module in the sources; compiled output does not
 * carry it, so from `dist/pipelines/reports/` it is read from the source tree.
 */
export function loadStylesheet(): string {
  if (stylesheet === null) {
    const candidates = [
      path.join(__dirname, 'report.css'),
      path.resolve(__dirname, '../../../pipelines/reports/report.css'),
    ];
    const found = candidates.find((candidate) => existsSync(candidate));
    if (found === undefined) {
      throw new Error(`report.css not found (looked in ${candidates.join(', ')})`);
    }
    stylesheet = readFileSync(found, 'utf8');
  }
  return stylesheet;
}

/** The assets of one report being rendered, and how the page refers to them. */
export class AssetCollector {
  readonly assets: HtmlAsset[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly dirName: string) {}

  /** Adds a file to the assets folder and returns its URL relative to the report. */
  add(fileName: string, data: Buffer | string): string {
    let unique = fileName;
    for (let n = 2; this.names.has(unique); n += 1) {
      const ext = path.extname(fileName);
      unique = `${fileName.slice(0, fileName.length - ext.length)}-${n}${ext}`;
    }
    this.names.add(unique);
    this.assets.push({ name: `${this.dirName}/${unique}`, data });
    return [...this.dirName.split('/'), unique].map((part) => encodeURIComponent(part)).join('/');
  }
}

/** Decodes base64 image data (nbformat stores it with or without line breaks). */
export function decodeBase64(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'base64');
}
