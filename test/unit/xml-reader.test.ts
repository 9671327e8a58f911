import { describe, expect, it } from 'vitest';
import { MAX_XML_DEPTH, XmlError, childElements, parseXml, textOf } from '../../src/sms/simulator/xml-reader.js';
import { parseAnswerXml } from '../../src/sms/simulator/voice.js';

describe('reading Plivo XML', () => {
  it('reads elements, attributes, text, entities, CDATA and skips the declaration and comments', () => {
    const root = parseXml(
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<Response>\n' +
        '  <Dial callerId="14155550100" timeout=\'20\'><Number>14155550199</Number></Dial>\n' +
        '  <!-- a comment --><Speak voice="WOMAN">Caf&#233; &amp; more &lt;3 &#x1F600;</Speak>\n' +
        '  <Message src="1" dst="2" note="say &quot;hi&quot;"><![CDATA[a <b> c]]></Message><Hangup/>\n</Response>',
    );
    expect(root.name).toBe('Response');
    const [dial, speak, message, hangup] = childElements(root);
    expect(dial).toMatchObject({ name: 'Dial', attributes: { callerId: '14155550100', timeout: '20' } });
    expect(childElements(dial!).map((n) => [n.name, textOf(n)])).toEqual([['Number', '14155550199']]);
    expect(textOf(speak!)).toBe('Café & more <3 😀');
    expect(message).toMatchObject({ name: 'Message', attributes: { src: '1', dst: '2', note: 'say "hi"' } });
    expect(textOf(message!)).toBe('a <b> c');
    expect(hangup).toEqual({ name: 'Hangup', attributes: {}, children: [] });
  });

  it.each([
    ['an unclosed element', '<Response><Speak>hi</Response>'],
    ['a stray ampersand', '<Response><Speak>a & b</Speak></Response>'],
    ['a repeated attribute', '<Response a="1" a="2"/>'],
    ['an unquoted attribute', '<Response a=1/>'],
    ['text after the root', '<Response>hi</Response>trailing'],
    ['two roots', '<Response/><Response/>'],
    ['an empty document', ''],
    ['plain text', 'OK'],
    ['an attribute that would reach Object.prototype', '<Response __proto__="x"/>'],
    ['a DOCTYPE', '<!DOCTYPE r [<!ENTITY x "y">]><Response>&x;</Response>'],
  ])('refuses %s with an XmlError', (_what, xml) => {
    expect(() => parseXml(xml)).toThrow(XmlError);
  });

  it('refuses a document nested deeper than the limit with an XmlError, not a stack overflow', () => {
    const deep = (n: number) => `<Response>${'<a>'.repeat(n)}${'</a>'.repeat(n)}</Response>`;
    expect(() => parseXml(deep(MAX_XML_DEPTH - 2))).not.toThrow();
    expect(() => parseXml(deep(MAX_XML_DEPTH + 1))).toThrow(XmlError);
    // An answer URL that returns this must be reported as invalid XML, like any malformed answer.
    expect(() => parseAnswerXml(deep(100_000))).toThrow(XmlError);
  });

  it('reads a voice answer into actions', () => {
    expect(parseAnswerXml('<Response><Speak voice="WOMAN">Hello</Speak><Dial callerId="+14155550100"><Number>1 (415) 555-0199</Number></Dial><Hangup reason="busy"/><Record/></Response>')).toEqual([
      { verb: 'speak', text: 'Hello', voice: 'WOMAN', language: null },
      { verb: 'dial', numbers: ['+14155550199'], callerId: '+14155550100', timeout: null, action: null },
      { verb: 'hangup', reason: 'busy' },
      { verb: 'other', name: 'Record' },
    ]);
    expect(() => parseAnswerXml('<Other/>')).toThrow(XmlError);
  });
});
