import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

// The committed API descriptions, checked by validators other people's tools are built on: what
// clients generate code from must load in them without an error. (generated-docs.test.ts checks
// that the committed files are what the schemas generate.)

const read = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');

describe('docs/openapi.json', () => {
  it('is a valid OpenAPI document with every $ref resolved (swagger-parser)', async () => {
    // validate() dereferences in place and throws on the first problem.
    await expect(SwaggerParser.validate(JSON.parse(read('openapi.json')))).resolves.toBeTruthy();
  });

  it("passes Redocly's recommended rules without an error or a warning", async () => {
    const config = await createConfig({
      extends: ['recommended'],
      rules: {
        // Liveness, readiness, metrics and the document itself refuse nothing: no 4xx to describe.
        'operation-4xx-response': 'off',
      },
    });
    const problems = await lintFromString({ source: read('openapi.json'), absoluteRef: 'docs/openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });
});

describe('docs/asyncapi.json', () => {
  it('parses with the AsyncAPI parser without an error or a warning', async () => {
    const { document, diagnostics } = await new Parser().parse(read('asyncapi.json'));
    const serious = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning);
    expect(serious.map((d) => `${d.code}: ${d.message} at ${d.path.join('/')}`)).toEqual([]);
    expect(document).toBeDefined();
    // Every frame the server sends is a message of the channel.
    expect(document!.channels().get('ws')!.messages().all().map((m) => m.id())).toEqual(expect.arrayContaining(['hello', 'openAck', 'lock', 'accessRevoked', 'error']));
  });

  it("passes Redocly's recommended rules without an error or a warning", async () => {
    const problems = await lintFromString({ source: read('asyncapi.json'), absoluteRef: 'docs/asyncapi.json', config: await createConfig({ extends: ['recommended'] }) });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`)).toEqual([]);
  });
});
