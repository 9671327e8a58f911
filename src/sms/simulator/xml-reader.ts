// Just enough XML to read Plivo XML documents (<Response> with <Dial>, <Speak>, <Message>...):
// elements, attributes, text, the five named entities and numeric references, comments, CDATA,
// processing instructions and a DOCTYPE-free prolog. No namespaces, no DTDs. Malformed input
// throws XmlError: the simulator reports it, as Plivo would refuse to execute the document.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

export class XmlError extends Error {
  override name = 'XmlError';
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = NAMED[ref];
    if (named === undefined) throw new XmlError(`Unknown entity ${whole}`);
    return named;
  });
}

const NAME = /^[A-Za-z_][\w.:-]*/;

export function parseXml(input: string): XmlElement {
  let pos = 0;
  const src = input.replace(/^\uFEFF/, '');

  const fail = (what: string): never => {
    throw new XmlError(`${what} at offset ${pos}`);
  };

  const skipMisc = (): void => {
    for (;;) {
      const rest = src.slice(pos);
      const ws = /^\s+/.exec(rest);
      if (ws) {
        pos += ws[0].length;
        continue;
      }
      if (rest.startsWith('<?')) {
        const end = src.indexOf('?>', pos);
        if (end < 0) fail('Unterminated processing instruction');
        pos = end + 2;
        continue;
      }
      if (rest.startsWith('<!--')) {
        const end = src.indexOf('-->', pos);
        if (end < 0) fail('Unterminated comment');
        pos = end + 3;
        continue;
      }
      return;
    }
  };

  const parseElement = (): XmlElement => {
    if (src[pos] !== '<') fail('Expected an element');
    pos += 1;
    const name = NAME.exec(src.slice(pos))?.[0] ?? fail('Expected an element name');
    pos += name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      const ws = /^\s*/.exec(src.slice(pos))![0];
      pos += ws.length;
      if (src.startsWith('/>', pos)) {
        pos += 2;
        return { name, attributes, children: [] };
      }
      if (src[pos] === '>') {
        pos += 1;
        break;
      }
      if (ws.length === 0) fail('Expected whitespace before an attribute');
      const attr = /^([A-Za-z_][\w.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(src.slice(pos)) ?? fail(`Malformed attribute in <${name}>`);
      if (attr[1]! in attributes) fail(`Duplicate attribute ${attr[1]}`);
      attributes[attr[1]!] = decodeEntities(attr[3] ?? attr[4] ?? '');
      pos += attr[0].length;
    }
    const children: XmlNode[] = [];
    for (;;) {
      if (pos >= src.length) fail(`Unclosed <${name}>`);
      if (src.startsWith('</', pos)) {
        const close = /^<\/([A-Za-z_][\w.:-]*)\s*>/.exec(src.slice(pos)) ?? fail('Malformed closing tag');
        if (close[1] !== name) fail(`</${close[1]}> closes <${name}>`);
        pos += close[0].length;
        return { name, attributes, children };
      }
      if (src.startsWith('<!--', pos)) {
        const end = src.indexOf('-->', pos);
        if (end < 0) fail('Unterminated comment');
        pos = end + 3;
        continue;
      }
      if (src.startsWith('<![CDATA[', pos)) {
        const end = src.indexOf(']]>', pos);
        if (end < 0) fail('Unterminated CDATA');
        children.push(src.slice(pos + 9, end));
        pos = end + 3;
        continue;
      }
      if (src.startsWith('<?', pos)) {
        const end = src.indexOf('?>', pos);
        if (end < 0) fail('Unterminated processing instruction');
        pos = end + 2;
        continue;
      }
      if (src[pos] === '<') {
        children.push(parseElement());
        continue;
      }
      const next = src.indexOf('<', pos);
      const end = next < 0 ? src.length : next;
      children.push(decodeEntities(src.slice(pos, end)));
      pos = end;
    }
  };

  skipMisc();
  if (src.startsWith('<!DOCTYPE', pos)) fail('DOCTYPE is not supported');
  const root = parseElement();
  skipMisc();
  if (pos < src.length) fail('Content after the root element');
  return root;
}

/** The element's text, children's text included, trimmed. */
export function textOf(el: XmlElement): string {
  return el.children
    .map((c) => (typeof c === 'string' ? c : textOf(c)))
    .join('')
    .trim();
}

export function childElements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => typeof c !== 'string');
}
