import { Parser, parseAllDocuments, type CST } from 'yaml';
import { checkDocument, MAX_DOCUMENT_DEPTH } from './document-limits.js';
import { AtollError } from './errors.js';

// The one way Atoll reads YAML (and JSON, which YAML includes) from files a user may not have
// written: job specs, policies, price books, node specs, fleet files. The yaml package composes
// documents recursively, so nesting is measured on its concrete syntax tree (built without
// recursion) before any document is composed; aliases are capped against "billion laughs".

/** Largest YAML or JSON text read, in bytes (the server refuses larger bodies anyway). */
export const MAX_YAML_BYTES = 1024 * 1024;
/** Alias uses allowed per document; each may copy a whole subtree, so the cap bounds expansion. */
export const MAX_YAML_ALIASES = 100;

export interface YamlReadOptions {
  /** Named in every error: `job spec job.yaml`, `price book pricing.yaml`. */
  readonly what: string;
  readonly code?: 'invalid_spec' | 'invalid_request';
}

/** One YAML or JSON document from text or raw bytes; throws an AtollError naming the problem and where. */
export function parseYamlDocument(source: string | Uint8Array, options: YamlReadOptions): unknown {
  const documents = parseYamlDocuments(source, options);
  if (documents.length > 1) throw refusal(options, `holds ${documents.length} documents separated by ---; expected one`);
  return documents[0] ?? null;
}

/** Every document of a YAML stream (`---` separated), each checked as parseYamlDocument checks one. */
export function parseYamlDocuments(source: string | Uint8Array, options: YamlReadOptions): unknown[] {
  const text = decode(source, options);
  checkNesting(text, options);
  const documents = parseAllDocuments(text, { uniqueKeys: true });
  return documents.map((document, i) => {
    const error = document.errors[0];
    if (error !== undefined) throw refusal(options, `is not valid YAML or JSON: ${error.message}`);
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: MAX_YAML_ALIASES });
    } catch (cause) {
      // toJS throws for alias expansion past the cap (and for unresolved aliases): a refusal.
      throw refusal(options, `cannot be read: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
    return checkDocument(value, documents.length > 1 ? `${options.what} (document ${i + 1})` : options.what, options.code ?? 'invalid_spec');
  });
}

function decode(source: string | Uint8Array, options: YamlReadOptions): string {
  if (typeof source === 'string') {
    // Up to 3 bytes per UTF-16 unit; only count exactly when the cheap bound says it may be over.
    if (source.length * 3 > MAX_YAML_BYTES && new TextEncoder().encode(source).length > MAX_YAML_BYTES) throw tooLarge(options);
    return source;
  }
  if (source.length > MAX_YAML_BYTES) throw tooLarge(options);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(source);
  } catch {
    // A fatal decoder throws only for bytes that are not UTF-8: say so instead of guessing.
    throw refusal(options, 'is not valid UTF-8 text');
  }
}

function tooLarge(options: YamlReadOptions): AtollError {
  return refusal(options, `is larger than the ${MAX_YAML_BYTES / 1024 / 1024} MiB allowed`);
}

function refusal(options: YamlReadOptions, message: string): AtollError {
  return new AtollError(options.code ?? 'invalid_spec', `${options.what} ${message}`);
}

/** Refuses text whose collections nest deeper than MAX_DOCUMENT_DEPTH, walking the CST with a stack. */
function checkNesting(text: string, options: YamlReadOptions): void {
  const stack: { token: CST.Token | null | undefined; depth: number }[] = [];
  for (const token of new Parser().parse(text)) stack.push({ token, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token === null || token === undefined) continue;
    if (token.type === 'document') {
      stack.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth >= MAX_DOCUMENT_DEPTH) throw refusal(options, `nests lists and objects deeper than the ${MAX_DOCUMENT_DEPTH} levels allowed`);
    for (const item of token.items) {
      if ('key' in item) stack.push({ token: item.key, depth: depth + 1 });
      stack.push({ token: item.value, depth: depth + 1 });
    }
  }
}
