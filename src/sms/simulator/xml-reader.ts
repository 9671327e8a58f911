import { EntityDecoder } from '@nodable/entities';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

// Reads Plivo XML documents (<Response> with <Dial>, <Speak>, <Message>...) into a small element
// tree, through fast-xml-parser. Malformed input throws XmlError: the simulator reports it, as
// Plivo would refuse to execute the document.
//
// The parser alone is lenient (it closes what is left open), so the document is validated first.
// XMLValidator is marked deprecated in favour of a separate package that brings a second parser;
// the pinned version keeps it. A DOCTYPE is refused outright (Plivo XML never has one, and its
// entities are the classic expansion attack); numeric character references are decoded, named
// ones other than XML's five are left as written.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
}

export type XmlNode = XmlElement | string;

export class XmlError extends Error {
  override name = 'XmlError';
}

/** Deeper than any Plivo document; a bound on the work a hostile answer can cause. */
export const MAX_XML_DEPTH = 32;

const TEXT = '#text';
const CDATA = '#cdata';
const ATTRIBUTES = ':@';

// fast-xml-parser's `preserveOrder` shape: [{ Tag: [...children], ':@': {attr: value} }, { '#text': 'x' }]
type OrderedNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  cdataPropName: CDATA,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: MAX_XML_DEPTH,
  entityDecoder: new EntityDecoder({ numericAllowed: true, onInputEntity: () => 'throw' }),
});

export function parseXml(input: string): XmlElement {
  const src = input.replace(/^\uFEFF/, '');
  if (/<!DOCTYPE/i.test(src)) throw new XmlError('DOCTYPE is not supported');
  const valid = XMLValidator.validate(src);
  if (valid !== true) throw new XmlError(`${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  let tree: OrderedNode[];
  try {
    tree = parser.parse(src) as OrderedNode[];
  } catch (e) {
    throw new XmlError(e instanceof Error ? e.message : 'unreadable XML', { cause: e });
  }
  const roots = tree.map(toNode).filter((n): n is XmlElement => typeof n !== 'string');
  if (roots.length !== 1) throw new XmlError(`Expected one root element, found ${roots.length}`);
  return roots[0]!;
}

function toNode(node: OrderedNode): XmlNode {
  if (TEXT in node) return String(node[TEXT]);
  if (CDATA in node) return (node[CDATA] as OrderedNode[]).map((n) => String(n[TEXT] ?? '')).join('');
  const name = Object.keys(node).find((k) => k !== ATTRIBUTES);
  if (name === undefined) throw new XmlError('Empty node');
  const attributes = node[ATTRIBUTES] as Record<string, unknown> | undefined;
  return {
    name,
    attributes: Object.fromEntries(Object.entries(attributes ?? {}).map(([k, v]) => [k, String(v)])),
    children: (node[name] as OrderedNode[]).map(toNode),
  };
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
