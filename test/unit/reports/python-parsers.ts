/**
 * Real parsers for the report tests, borrowed from python3 (always present on nbstage machines):
 * expat via ElementTree for the JUnit XML (it rejects anything not well-formed XML 1.0), and the
 * standard library's HTML tokenizer to list every tag and attribute of the HTML report.
 */
import { execFileSync } from 'node:child_process';

/** An XML element as parsed. */
export interface XmlNode {
  tag: string;
  attrs: Record<string, string>;
  text: string;
  children: XmlNode[];
}

const XML_SCRIPT = `
import json, sys
import xml.etree.ElementTree as ET
def walk(e):
    return {"tag": e.tag, "attrs": dict(e.attrib), "text": e.text or "", "children": [walk(c) for c in e]}
root = ET.fromstring(sys.stdin.buffer.read())
print(json.dumps(walk(root)))
`;

/** Parses XML strictly; throws (with python's message) when it is not well-formed. */
export function parseXml(xml: string): XmlNode {
  const out = execFileSync('python3', ['-c', XML_SCRIPT], {
    input: Buffer.from(xml, 'utf8'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(out.toString('utf8')) as XmlNode;
}

/** Every descendant element with the given tag. */
export function findAll(node: XmlNode, tag: string): XmlNode[] {
  const found: XmlNode[] = [];
  const visit = (n: XmlNode): void => {
    if (n.tag === tag) {
      found.push(n);
    }
    n.children.forEach(visit);
  };
  visit(node);
  return found;
}

/** A start tag as the HTML tokenizer saw it. */
export interface HtmlTag {
  tag: string;
  attrs: [string, string | null][];
}

const HTML_SCRIPT = `
import json, sys
from html.parser import HTMLParser
tags = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        tags.append({"tag": tag, "attrs": attrs})
    def handle_startendtag(self, tag, attrs):
        tags.append({"tag": tag, "attrs": attrs})
p = P(convert_charrefs=True)
p.feed(sys.stdin.buffer.read().decode("utf-8"))
p.close()
print(json.dumps(tags))
`;

/** Lists every start tag of an HTML document with its attributes (entities decoded). */
export function htmlTags(html: string): HtmlTag[] {
  const out = execFileSync('python3', ['-c', HTML_SCRIPT], {
    input: Buffer.from(html, 'utf8'),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(out.toString('utf8')) as HtmlTag[];
}
