/**
 * What the HTML report takes from the notebook as HTML (HTML outputs, rendered markdown),
 * sanitized: no scripts, handlers, styles or `data:` URLs survive; embedded images become assets.
 */
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';
import type { JSONObject } from '../notebook/model';
import { EMBEDDED_IMAGE_TYPES, decodeBase64, type AssetCollector } from './html-assets';
import { isJSONObject, mimeText } from './run-metadata';

/** Where sanitized HTML comes from; names the files its embedded images become. */
export interface SanitizeContext {
  assets: AssetCollector;
  /** File name prefix for images extracted from this fragment, e.g. `cell3-out1`. */
  prefix: string;
  /** Markdown cell attachments (`attachment:name` image sources). */
  attachments?: JSONObject;
}

/** Turns an embedded image (`data:` URI or attachment) into an asset; null when unusable. */
function extractImage(
  src: string,
  context: SanitizeContext,
  counter: { n: number },
): string | null {
  const dataUri = /^data:([\w.+/-]+)(;[^,]*)?,([\s\S]*)$/i.exec(src.trim());
  if (dataUri !== null) {
    const mime = dataUri[1].toLowerCase();
    const ext = EMBEDDED_IMAGE_TYPES[mime];
    if (ext === undefined) {
      return null;
    }
    const isBase64 = /;base64/i.test(dataUri[2] ?? '');
    const payload = dataUri[3];
    let data: Buffer;
    try {
      data = isBase64 ? decodeBase64(payload) : Buffer.from(decodeURIComponent(payload), 'utf8');
    } catch {
      return null;
    }
    counter.n += 1;
    return context.assets.add(`${context.prefix}-img${counter.n}.${ext}`, data);
  }
  if (src.startsWith('attachment:') && context.attachments !== undefined) {
    const name = decodeURIComponent(src.slice('attachment:'.length));
    const bundle = context.attachments[name];
    if (!isJSONObject(bundle)) {
      return null;
    }
    for (const [mime, ext] of Object.entries(EMBEDDED_IMAGE_TYPES)) {
      const text = mimeText(bundle[mime]);
      if (text !== null) {
        const data = mime === 'image/svg+xml' ? text : decodeBase64(text);
        const safeName = name.replace(/[^\w.-]+/g, '_').replace(/\.[^.]*$/, '');
        return context.assets.add(`${context.prefix}-${safeName || 'attachment'}.${ext}`, data);
      }
    }
  }
  return null;
}

/**
 * Sanitizes HTML from the notebook: no scripts, event handlers, `style` attributes or elements,
 * frames, forms or `javascript:`/`data:` URLs survive. Embedded images become asset files.
 */
export function sanitize(dirty: string, context: SanitizeContext): string {
  const counter = { n: 0 };
  return sanitizeHtml(dirty, {
    allowedTags: [
      ...sanitizeHtml.defaults.allowedTags,
      'img',
      'del',
      'ins',
      'details',
      'summary',
      'center',
      'font',
    ],
    disallowedTagsMode: 'discard',
    nonTextTags: [
      'script',
      'style',
      'textarea',
      'option',
      'noscript',
      'svg',
      'math',
      'iframe',
      'object',
      'embed',
      'template',
      'title',
      'head',
      'select',
      'button',
    ],
    allowedAttributes: {
      a: ['href', 'name', 'title'],
      img: ['src', 'alt', 'title', 'width', 'height'],
      table: ['class', 'border'],
      th: ['colspan', 'rowspan', 'align', 'valign', 'scope'],
      td: ['colspan', 'rowspan', 'align', 'valign'],
      ol: ['start', 'type'],
      code: ['class'],
      abbr: ['title'],
      details: ['open'],
    },
    allowedClasses: { table: ['dataframe'], code: [/^language-[\w-]+$/] },
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesByTag: { img: ['http', 'https'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    parseStyleAttributes: false,
    transformTags: {
      img: (tagName, attribs) => {
        const src = attribs.src ?? '';
        if (/^(data|attachment):/i.test(src.trim())) {
          const extracted = extractImage(src, context, counter);
          const { src: _src, ...rest } = attribs;
          return { tagName, attribs: extracted === null ? rest : { ...rest, src: extracted } };
        }
        return { tagName, attribs };
      },
    },
  });
}

/** Whether sanitized HTML still shows anything (text, an image, a rule). */
export function hasVisibleContent(html: string): boolean {
  return /<(img|hr)\b/i.test(html) || html.replace(/<[^>]*>/g, '').trim() !== '';
}

const markdown = new Marked({ gfm: true, breaks: false });

/** Renders markdown to sanitized HTML. */
export function renderMarkdown(source: string, context: SanitizeContext): string {
  return sanitize(markdown.parse(source, { async: false }), context);
}
