import { z } from 'zod';

// zod schemas → JSON Schema components for the generated API descriptions (OpenAPI and AsyncAPI).
// A schema named with `.meta({ id })` becomes one shared component, referenced by `$ref` wherever it
// appears; everything else is written inline. Requests are described as clients write them
// (`input`: defaults optional, transforms' inputs); answers as the server writes them (`output`:
// every object closed, so an undocumented field is a documentation bug a test can catch).

export type Io = 'input' | 'output';
export type JsonSchema = Record<string, unknown>;

export interface JsonSchemaOptions {
  target: 'draft-2020-12' | 'draft-07';
  /** Where components live in the document, e.g. `#/components/schemas/`. */
  refPrefix: string;
}

export interface Converted {
  /** Shared components by name. */
  components: Record<string, JsonSchema>;
  /** The schemas asked for inline, by the key they were given under. */
  inline: Record<string, JsonSchema>;
}

const INLINE = '~inline~';


/** The component name of a schema: its `.meta({ id })`. */
export function componentName(schema: z.ZodType): string | undefined {
  return z.globalRegistry.get(schema)?.id;
}

/**
 * Converts the named schemas (each must carry `.meta({ id })`) to components, and the `inline` ones
 * to schemas written in place (their own named parts still become components). Fails when one
 * name would stand for two different schemas, so a component cannot silently change meaning.
 */
export function toJsonSchemas(
  named: Array<[z.ZodType, Io]>,
  inline: Record<string, [z.ZodType, Io]>,
  options: JsonSchemaOptions,
): Converted {
  const components: Record<string, JsonSchema> = {};
  const inlined: Record<string, JsonSchema> = {};
  for (const io of ['input', 'output'] as const) {
    const registry = z.registry<{ id: string }, z.core.$ZodType>();
    const add = (schema: z.core.$ZodType, id: string) => {
      const known = registry.get(schema)?.id;
      if (known !== undefined && known !== id) throw new Error(`One schema registered as "${known}" and "${id}"`);
      if (known === undefined) registry.add(schema, { id });
    };
    for (const [schema, schemaIo] of named) {
      if (schemaIo !== io) continue;
      const id = componentName(schema);
      if (!id) throw new Error('A component schema needs .meta({ id })');
      add(schema, id);
    }
    // An inline schema is converted inside a wrapper of its own: registering the schema itself
    // would turn its other uses (an Id in a body, say) into references to it.
    for (const [key, [schema, schemaIo]] of Object.entries(inline)) if (schemaIo === io) add(z.object({ value: schema }), INLINE + key);
    if (registry._idmap.size === 0) continue;

    let schemas: Record<string, JsonSchema>;
    for (;;) {
      ({ schemas } = z.toJSONSchema(registry, { target: options.target, io, unrepresentable: 'throw', uri: (id) => options.refPrefix + id }) as {
        schemas: Record<string, JsonSchema>;
      });
      // Named schemas met on the way (nested, not asked for) land in `__shared`: make them components too.
      const shared = schemas.__shared?.[options.target === 'draft-07' ? 'definitions' : '$defs'] as Record<string, unknown> | undefined;
      if (!shared) break;
      for (const id of Object.keys(shared)) {
        const schema = z.globalRegistry._idmap.get(id);
        if (!schema) throw new Error(`A schema without a name is used recursively (${id}); give it .meta({ id })`);
        add(schema, id);
      }
    }
    for (const [name, schema] of Object.entries(schemas)) {
      const { $schema: _dialect, $id: _id, ...body } = schema;
      if (name.startsWith(INLINE)) {
        inlined[name.slice(INLINE.length)] = (body.properties as Record<string, JsonSchema>).value!;
        continue;
      }
      const before = components[name];
      if (before && JSON.stringify(before) !== JSON.stringify(body)) {
        throw new Error(`Component "${name}" reads differently as a request and as an answer; name the two apart`);
      }
      components[name] = body;
    }
  }
  return { components, inline: inlined };
}
