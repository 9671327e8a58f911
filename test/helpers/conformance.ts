import Ajv2020 from 'ajv/dist/2020.js';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { openApiDocument } from '../../gateways/rest/openapi.js';
import { asyncApiDocument } from '../../gateways/ws/asyncapi.js';

// Conformance: every HTTP answer the test client (http.ts) receives and every WebSocket frame the
// test client (ws-client.ts) receives is checked against the generated OpenAPI and AsyncAPI
// documents — status, media type and body; frame against its message — so a route or frame that
// sends something undocumented fails the test that met it. What was met is recorded; the
// conformance project (test/conformance/) checks after the whole suite that every operation and
// every server frame was met at least once.

type Json = Record<string, unknown>;

export interface Seen {
  /** operationId → statuses answered. */
  operations: Record<string, number[]>;
  /** AsyncAPI message names of the frames received. */
  frames: string[];
}

const seenOperations = new Map<string, Set<number>>();
const seenFrames = new Set<string>();
const violations: string[] = [];

/** What this test file met so far. */
export function seen(): Seen {
  return {
    operations: Object.fromEntries([...seenOperations].map(([id, statuses]) => [id, [...statuses].sort()])),
    frames: [...seenFrames].sort(),
  };
}

/** Violations not yet reported (the setup file fails the test they happened in). */
export function takeViolations(): string[] {
  return violations.splice(0);
}

/** Rewrites a document's component references to point into one registered schema. */
function pointInto(value: unknown, from: string, to: string): unknown {
  return JSON.parse(JSON.stringify(value).replaceAll(`"$ref":"${from}`, `"$ref":"${to}`));
}

const formats = <A extends Ajv.default>(ajv: A): A => {
  addFormats.default(ajv);
  return ajv;
};

// --- HTTP ----------------------------------------------------------------------------------------

interface Route {
  method: string;
  pattern: RegExp;
  literals: number;
  operation: Json & { operationId: string; responses: Record<string, Json> };
}

class OpenApiCheck {
  private readonly doc = openApiDocument() as Json & { paths: Record<string, Record<string, Json>>; components: { schemas: Json; responses: Record<string, Json> } };
  private readonly ajv = formats(new Ajv2020.default({ allErrors: true, strictTypes: false, strictTuples: false }));
  private readonly routes: Route[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv.addSchema({ $id: 'urn:switchboard:openapi', $defs: pointInto(this.doc.components.schemas, '#/components/schemas/', '#/$defs/') });
    for (const [path, methods] of Object.entries(this.doc.paths)) {
      const segments = path.split('/').filter(Boolean);
      const pattern = new RegExp(`^/${segments.map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.]/g, '\\.'))).join('/')}$`);
      for (const [method, operation] of Object.entries(methods)) {
        this.routes.push({ method: method.toUpperCase(), pattern, literals: segments.filter((s) => !s.startsWith('{')).length, operation: operation as Route['operation'] });
      }
    }
  }

  check(method: string, url: string, status: number, contentType: string | null, body: string): string | null {
    const path = url.split('?')[0]!;
    // The simulator's handset controls are the simulator's own, documented in docs/simulator.md.
    if (path.startsWith('/simulator/')) return null;
    const route = this.routes.filter((r) => r.method === (method === 'HEAD' ? 'GET' : method) && r.pattern.test(path)).sort((a, b) => b.literals - a.literals)[0];
    if (!route) {
      // Not an operation: only the router's own refusals may answer.
      if (status !== 404 && status !== 405) return `${method} ${path} answered ${status}, but no documented operation has this path and method`;
      return this.checkBody('unrouted', { $ref: '#/components/schemas/Error' }, 'application/json', body, `${method} ${path} (no such operation)`);
    }
    const op = route.operation;
    const what = `${op.operationId} (${method} ${path}) answered ${status}`;
    (seenOperations.get(op.operationId) ?? seenOperations.set(op.operationId, new Set()).get(op.operationId)!).add(status);
    // Refusals a route gives are listed with it; only faults (5xx) may fall to `default`.
    let response = op.responses[String(status)] ?? (status >= 500 ? op.responses.default : undefined);
    if (!response) return `${what}, which its description does not list (${Object.keys(op.responses).join(', ')})`;
    if (typeof response.$ref === 'string') response = this.doc.components.responses[response.$ref.split('/').pop()!]!;
    const content = response.content as Record<string, { schema: Json }> | undefined;
    if (!content) return body.length === 0 ? null : `${what} with a body, but the description has none`;
    const essence = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const media = content[essence];
    if (!media) return `${what} as "${contentType}", but the description has ${Object.keys(content).join(', ')}`;
    return this.checkBody(`${op.operationId} ${status} ${essence}`, media.schema, essence, body, what);
  }

  private checkBody(key: string, schema: Json, essence: string, body: string, what: string): string | null {
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(pointInto(schema, '#/components/schemas/', 'urn:switchboard:openapi#/$defs/') as Json);
      this.compiled.set(key, validate);
    }
    let value: unknown = body;
    if (essence === 'application/json') {
      try {
        value = JSON.parse(body);
      } catch {
        return `${what} with a body that is not JSON: ${body.slice(0, 200)}`;
      }
    }
    if (validate(value)) return null;
    return `${what} with a body its description does not allow: ${this.ajv.errorsText(validate.errors)}; body ${body.slice(0, 500)}`;
  }
}

let openApi: OpenApiCheck | null = null;

/** Checks one HTTP answer against the operation it answers; throws (and fails the test) when it does not conform. */
export function checkHttpAnswer(method: string, url: string, status: number, contentType: string | null, body: string): void {
  const problem = (openApi ??= new OpenApiCheck()).check(method, url, status, contentType, body);
  if (problem) throw new Error(`Not as documented in docs/openapi.json: ${problem}`);
}

// --- WebSocket -----------------------------------------------------------------------------------

class AsyncApiCheck {
  private readonly doc = asyncApiDocument() as Json & {
    components: { schemas: Json; messages: Record<string, { payload: { $ref: string } }> };
    operations: Record<string, { action: string; reply?: { messages: Array<{ $ref: string }> } }>;
  };
  private readonly ajv = formats(new Ajv.default({ allErrors: true, strictTypes: false, strictTuples: false }));
  private readonly validators = new Map<string, ValidateFunction>();
  /** Command type → the name of the message acknowledging it. */
  readonly ackOf = new Map<string, string>();

  constructor() {
    this.ajv.addSchema({ $id: 'urn:switchboard:asyncapi', definitions: pointInto(this.doc.components.schemas, '#/components/schemas/', '#/definitions/') });
    for (const [name, message] of Object.entries(this.doc.components.messages)) {
      this.validators.set(name, this.ajv.compile({ $ref: message.payload.$ref.replace('#/components/schemas/', 'urn:switchboard:asyncapi#/definitions/') }));
    }
    for (const [command, op] of Object.entries(this.doc.operations)) {
      const ack = op.reply?.messages.map((m) => m.$ref.split('/').pop()!).find((n) => n !== 'error');
      if (op.action === 'receive' && ack) this.ackOf.set(command, ack);
    }
  }

  /** The message a frame is, or a problem. `answering`: the command type it answers, when known. */
  check(frame: Json, answering: string | undefined): string | null {
    const candidates: string[] = [];
    if (frame.type === 'ack') {
      if (frame.re === 'hello' && answering === undefined) candidates.push('hello');
      else if (answering !== undefined) candidates.push(this.ackOf.get(answering) ?? `(no ack for ${answering})`);
      else candidates.push(...new Set(this.ackOf.values()));
    } else if (frame.type === 'error') {
      candidates.push(frame.code === 'access_revoked' && frame.re === undefined ? 'accessRevoked' : 'error');
    } else if (typeof frame.type === 'string' && this.validators.has(frame.type) && !this.ackOf.has(frame.type)) {
      candidates.push(frame.type);
    }
    if (candidates.length === 0) return `a frame of type ${JSON.stringify(frame.type)} that no message describes: ${JSON.stringify(frame).slice(0, 300)}`;
    const errors: string[] = [];
    for (const name of candidates) {
      const validate = this.validators.get(name);
      if (!validate) {
        errors.push(`${name}: not a message`);
        continue;
      }
      if (validate(frame)) {
        seenFrames.add(name);
        return null;
      }
      errors.push(`${name}: ${this.ajv.errorsText(validate.errors)}`);
    }
    return `a frame that is not ${candidates.join(' or ')} as described (${errors.join('; ')}): ${JSON.stringify(frame).slice(0, 500)}`;
  }
}

let asyncApi: AsyncApiCheck | null = null;

/**
 * Checks one received frame against its AsyncAPI message; a frame that does not conform is recorded
 * as a violation (it arrives in a socket callback, where throwing would fail no test in particular).
 */
export function checkFrame(frame: Json, answering: string | undefined): void {
  const problem = (asyncApi ??= new AsyncApiCheck()).check(frame, answering);
  if (problem) violations.push(`Not as documented in docs/asyncapi.json: ${problem}`);
}
