import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { e164FromDigits } from './plivo-format.js';
import { sendSignedRequest, type SigningTokens } from './signed-request.js';
import { childElements, parseXml, textOf, XmlError, type XmlElement } from './xml-reader.js';

// An incoming call, as far as Switchboard uses voice: Plivo requests the application's answer_url
// (plivo.md §7) and executes the XML it gets back. The simulator does not play audio; it reports
// what the XML asked for (forward the call with <Dial>, say something with <Speak>, hang up).

export type VoiceAction =
  | { verb: 'dial'; numbers: string[]; callerId: string | null; timeout: number | null; action: string | null }
  | { verb: 'speak'; text: string; voice: string | null; language: string | null }
  | { verb: 'hangup'; reason: string | null }
  | { verb: 'other'; name: string };

export interface CallResult {
  callUuid: string;
  /** E.164. */
  from: string;
  to: string;
  /** answered: the XML was read; failed: the answer URL did not give usable XML. */
  status: 'answered' | 'failed';
  answerUrl: string;
  httpStatus: number | null;
  actions: VoiceAction[];
  /** The first <Dial>: where the call is forwarded, if anywhere. */
  dial: Extract<VoiceAction, { verb: 'dial' }> | null;
  error: string | null;
}

export interface AnswerRequest {
  answerUrl: string;
  answerMethod: 'GET' | 'POST';
  /** Plivo-style digits. */
  from: string;
  to: string;
  signing: SigningTokens;
  clock: Clock;
  timeoutMs: number;
}

function intOrNull(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v.trim())) return null;
  return Number(v.trim());
}

function dialAction(el: XmlElement): Extract<VoiceAction, { verb: 'dial' }> {
  const numbers = childElements(el)
    .filter((c) => c.name === 'Number' || c.name === 'User')
    .map((c) => {
      const target = textOf(c);
      return c.name === 'Number' ? e164FromDigits(target.replace(/[\s\-().]/g, '').replace(/^\+/, '')) : target;
    })
    .filter((t) => t.length > 0);
  const callerId = el.attributes['callerId'];
  return {
    verb: 'dial',
    numbers,
    callerId: callerId ? e164FromDigits(callerId.replace(/^\+/, '')) : null,
    timeout: intOrNull(el.attributes['timeout']),
    action: el.attributes['action'] ?? null,
  };
}

/** Reads a Plivo XML answer into actions; throws XmlError when it is not a <Response> document. */
export function parseAnswerXml(xml: string): VoiceAction[] {
  const root = parseXml(xml);
  if (root.name !== 'Response') throw new XmlError(`The root element is <${root.name}>, not <Response>`);
  return childElements(root).map((el): VoiceAction => {
    switch (el.name) {
      case 'Dial':
        return dialAction(el);
      case 'Speak':
        return { verb: 'speak', text: textOf(el), voice: el.attributes['voice'] ?? null, language: el.attributes['language'] ?? null };
      case 'Hangup':
        return { verb: 'hangup', reason: el.attributes['reason'] ?? null };
      default:
        return { verb: 'other', name: el.name };
    }
  });
}

export async function answerCall(req: AnswerRequest): Promise<CallResult> {
  const callUuid = randomUUID();
  const base = {
    callUuid,
    from: e164FromDigits(req.from),
    to: e164FromDigits(req.to),
    answerUrl: req.answerUrl,
  };
  const res = await sendSignedRequest({
    url: req.answerUrl,
    method: req.answerMethod,
    params: {
      CallUUID: callUuid,
      From: req.from,
      To: req.to,
      CallStatus: 'ringing',
      Direction: 'inbound',
      ALegUUID: callUuid,
      ALegRequestUUID: randomUUID(),
      Event: 'StartApp',
    },
    signing: req.signing,
    clock: req.clock,
    timeoutMs: req.timeoutMs,
  });
  if (!res.ok) {
    return { ...base, status: 'failed', httpStatus: res.status, actions: [], dial: null, error: `answer_url failed: ${res.detail}` };
  }
  try {
    const actions = parseAnswerXml(res.body);
    const dial = actions.find((a): a is Extract<VoiceAction, { verb: 'dial' }> => a.verb === 'dial') ?? null;
    return { ...base, status: 'answered', httpStatus: res.status, actions, dial, error: null };
  } catch (e) {
    const why = e instanceof XmlError ? e.message : 'unreadable answer';
    return { ...base, status: 'failed', httpStatus: res.status, actions: [], dial: null, error: `answer_url returned invalid XML: ${why}` };
  }
}
