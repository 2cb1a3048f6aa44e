import { z } from 'zod';
import type { FieldProblem } from './errors.js';

// `secrets` in a job spec: named values the task gets as environment variables or as files.
// The control plane seals the values as soon as the spec is accepted (server/secrets/), so the
// spec it stores and returns holds REDACTED_SECRET in their place.
//
// Every message here describes a bad value without quoting it: refusals travel back to the CLI
// and from there into terminals and CI logs, which must never show a secret.

/** What the stored spec and every API answer show instead of a secret's value. */
export const REDACTED_SECRET = '[redacted]';
/** Largest value, in UTF-8 bytes: enough for a TLS key and its chain or a kubeconfig. */
export const MAX_SECRET_BYTES = 64 * 1024;
/** Most secrets one stage's tasks get (job-level and stage-level ones together). */
export const MAX_SECRETS_PER_STAGE = 32;
/** All of one stage's secret values together, in bytes: they travel with every attempt. */
export const MAX_SECRET_BYTES_PER_STAGE = 256 * 1024;

const SECRET_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A plain file name in the attempt's secrets dir: no slash, no leading dot, so never `..`. */
export const SECRET_FILE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Names of the variables the agent sets itself; a secret must not hide one. */
const RESERVED_ENV_PREFIX = 'ATOLL_';

/** One secret as parsed: its value and where the task finds it (exactly one of env and file). */
export interface SecretSpec {
  readonly value: string;
  readonly env?: string;
  readonly file?: string;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON Schema of `schema` without its `$schema` line, to describe a wrapped schema. */
function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

/** What is wrong with a secret value, in words that never repeat it; undefined when it is fine. */
function valueProblem(value: unknown): string | undefined {
  if (value === undefined) return 'missing; give the secret value as a string';
  if (typeof value !== 'string') {
    const kind = value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
    return `expected the secret value as a string, got ${kind} (quote numbers and booleans in YAML: "1234")`;
  }
  if (value.length === 0) return 'the secret value is empty';
  if (value === REDACTED_SECRET) return `${REDACTED_SECRET} is what the API shows in place of a secret; give the real value`;
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_SECRET_BYTES) return `the secret value is ${bytes} bytes; at most ${MAX_SECRET_BYTES} are allowed`;
  return undefined;
}

const secretValueSchema = z
  .custom<string>((value) => valueProblem(value) === undefined, { error: (issue) => valueProblem(issue.input) ?? 'invalid secret value' })
  .meta({ type: 'string', minLength: 1, description: `at most ${MAX_SECRET_BYTES} bytes` });

const secretFieldsSchema = z.strictObject({
  value: secretValueSchema,
  /** Given to the task as this environment variable. */
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name like DB_PASSWORD').optional(),
  /** Written to $ATOLL_SECRETS_DIR/<file> (mode 0600) for the task. */
  file: z.string().regex(SECRET_FILE_PATTERN, 'expected a plain file name like "tls.key" (letters, digits, ".", "_", "-"; not starting with ".")').optional(),
});

const secretSchema = z
  .custom<Record<string, unknown>>(isPlainObject, { error: 'expected an object like { value: "...", env: DB_PASSWORD } or { value: "...", file: tls.key }' })
  .pipe(secretFieldsSchema)
  .superRefine((secret, ctx) => {
    if ((secret.env === undefined) === (secret.file === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of env (an environment variable) or file (a file in $ATOLL_SECRETS_DIR)' });
    }
    // spawn refuses a NUL in the environment, and its error would quote the value.
    if (secret.env !== undefined && secret.value.includes('\0')) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'an environment variable cannot hold a NUL character; deliver this secret as a file' });
    }
  })
  .meta(jsonSchemaOf(secretFieldsSchema));

const secretMapSchema = z.record(
  z.string().regex(SECRET_NAME_PATTERN, 'expected a secret name of lowercase letters, digits and dashes (at most 63), like "db-password"'),
  secretSchema,
);

/** `secrets`: secret name -> { value, env | file }. */
export const secretsSchema = z
  .custom<Record<string, unknown>>(isPlainObject, { error: 'expected a map of secret name to { value, env } or { value, file }' })
  .pipe(secretMapSchema)
  .meta(jsonSchemaOf(secretMapSchema));

export type SecretsSpec = Readonly<Record<string, SecretSpec>>;

/**
 * Problems of one stage's secrets once job-level and stage-level ones are merged: counts, total
 * size, and two deliveries to one place. `at` turns a field into the path the user wrote.
 */
export function stageSecretProblems(secrets: SecretsSpec, env: Readonly<Record<string, string>>, at: (field: string) => string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const entries = Object.entries(secrets);
  if (entries.length > MAX_SECRETS_PER_STAGE) problems.push({ path: at('secrets'), message: `${entries.length} secrets; a stage's tasks get at most ${MAX_SECRETS_PER_STAGE}` });
  const bytes = entries.reduce((sum, [, s]) => sum + Buffer.byteLength(s.value), 0);
  if (bytes > MAX_SECRET_BYTES_PER_STAGE) problems.push({ path: at('secrets'), message: `the secret values are ${bytes} bytes together; at most ${MAX_SECRET_BYTES_PER_STAGE} are allowed per stage` });
  const envTaken = new Map<string, string>();
  const fileTaken = new Map<string, string>();
  for (const [name, secret] of entries) {
    if (secret.env !== undefined) {
      const path = at(`secrets.${name}.env`);
      if (secret.env.startsWith(RESERVED_ENV_PREFIX)) problems.push({ path, message: `${RESERVED_ENV_PREFIX}* variables are set by atoll; choose another name` });
      else if (Object.hasOwn(env, secret.env)) problems.push({ path, message: `${secret.env} is also set in env; a variable comes from one place only` });
      const other = envTaken.get(secret.env);
      if (other !== undefined) problems.push({ path, message: `secret ${other} already goes to ${secret.env}` });
      envTaken.set(secret.env, name);
    } else if (secret.file !== undefined) {
      const other = fileTaken.get(secret.file);
      if (other !== undefined) problems.push({ path: at(`secrets.${name}.file`), message: `secret ${other} already goes to file ${secret.file}` });
      fileTaken.set(secret.file, name);
    }
  }
  return problems;
}

/** The same secrets with every value replaced by REDACTED_SECRET: what is stored and shown. */
export function redactSecrets(secrets: SecretsSpec): SecretsSpec {
  return Object.fromEntries(Object.entries(secrets).map(([name, secret]) => [name, { ...secret, value: REDACTED_SECRET }]));
}
