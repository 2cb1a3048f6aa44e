import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, startServer, tempDir, type ServerProc } from '../harness/processes.js';

async function post(server: ServerProc, body: string): Promise<{ status: number; body: { error: { code: string; message: string; problems?: { path: string; message: string }[] } } }> {
  const response = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body,
  });
  return { status: response.status, body: (await response.json()) as never };
}

describe('bad job specs are refused with the path and change nothing', () => {
  let server: ServerProc;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.kill('SIGKILL');
  });

  const cases: readonly [string, unknown, string, RegExp][] = [
    ['memory that is not a size', { name: 'a', command: ['true'], resources: { memory: 'lots' } }, 'resources.memory', /expected a size like 512Mi, got "lots"/],
    ['an unknown top-level field', { name: 'a', command: ['true'], replicas: 3 }, 'replicas', /unknown field/],
    ['an unknown nested field', { name: 'a', command: ['true'], resources: { gpu: 1 } }, 'resources.gpu', /unknown field/],
    ['a command given as a string', { name: 'a', command: 'echo hi' }, 'command', /expected a list of arguments/],
    ['a missing command', { name: 'a' }, 'command', /expected a list of arguments/],
    ['a bad operator', { name: 'a', command: ['true'], placement: { require: [{ key: 'k', operator: 'Near' }] } }, 'placement.require[0].operator', /expected one of/],
    ['In without values', { name: 'a', command: ['true'], placement: { require: [{ key: 'k', operator: 'In' }] } }, 'placement.require[0].values', /non-empty list/],
    ['the old top-level constraints', { name: 'a', command: ['true'], constraints: [{ key: 'k', operator: 'Exists' }] }, 'constraints', /unknown field/],
    ['a lowercase residency', { name: 'a', command: ['true'], placement: { residency: ['eu'] } }, 'placement.residency[0]', /upper case/],
    ['an unknown jurisdiction', { name: 'a', command: ['true'], placement: { residency: ['EU', 'XX'] } }, 'placement.residency[1]', /XX/],
    ['an unknown spread domain', { name: 'a', command: ['true'], placement: { spread: { across: 'country' } } }, 'placement.spread.across', /expected one of "provider", "region", "zone", "site"/],
    ['a toleration Equal without a value', { name: 'a', command: ['true'], tolerations: [{ key: 'edge', operator: 'Equal' }] }, 'tolerations[0].value', /operator Equal needs a value/],
    ['too many tasks', { name: 'a', command: ['true'], tasks: 1_000_000 }, 'tasks', /100000/],
    ['an upper-case name', { name: 'Hello', command: ['true'] }, 'name', /lowercase/],
    ['a bad timeout', { name: 'a', command: ['true'], timeout: 'soon' }, 'timeout', /expected a duration/],
    ['a bad env name', { name: 'a', command: ['true'], env: { 'BAD-NAME': 'x' } }, 'env.BAD-NAME', /environment variable name/],
  ];

  it.each(cases)('refuses %s', async (_label, spec, path, message) => {
    const { status, body } = await post(server, JSON.stringify(spec));
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_spec');
    const problem = body.error.problems?.find((p) => p.path === path);
    expect(problem, JSON.stringify(body.error.problems)).toBeDefined();
    expect(problem!.message).toMatch(message);
  });

  it('refuses JSON that does not parse, a non-object body and an oversized body', async () => {
    expect((await post(server, '{"name": ')).status).toBe(400);
    expect((await post(server, '[1,2]')).body.error.code).toBe('invalid_spec');
    const huge = JSON.stringify({ name: 'big', command: ['true'], env: { X: 'y'.repeat(2 * 1024 * 1024) } });
    const response = await post(server, huge);
    expect(response.status).toBe(413);
    expect(response.body.error.code).toBe('payload_too_large');
  });

  it('stored nothing for any refused spec', async () => {
    expect((await server.client.listJobs()).total).toBe(0);
    // The price book put in force at first start is the only event.
    expect((await server.client.listEvents()).items.map((e) => e.type)).toEqual(['pricing.updated']);
  });

  it('prints the path and exits 1 from `atoll run`', async () => {
    const dir = tempDir('bad-spec');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: demo\ncommand: ["true"]\nresources:\n  memory: lots\n  cpu: 0.5\ntypo: 1\n');
    const cli = startProcess(['run', file, '--server', server.url, '--token', server.adminToken]);
    expect(await cli.exited()).toBe(1);
    expect(cli.output()).toContain('resources.memory: expected a size like 512Mi, got "lots"');
    expect(cli.output()).toContain('typo: unknown field');
    expect((await server.client.listJobs()).total).toBe(0);
  });

  it('refuses unknown query parameters', async () => {
    const response = await fetch(`${server.url}/v1/jobs?limt=5`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('limt: unknown field');
  });
});
