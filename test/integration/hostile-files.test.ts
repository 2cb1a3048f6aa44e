import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileYamlTexts } from '../../src/core/testing/hostile-values.js';
import { runCli, startServer, tempDir, type ServerProc } from '../harness/processes.js';

// The CLI reading files someone else wrote: each hostile file is refused with exit code 1 and a
// message that names the problem, before anything reaches the server.

describe('hostile spec, policy and price book files', () => {
  let server: ServerProc;
  const dir = tempDir('hostile-files');

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.kill('SIGKILL');
  });

  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it.each<{ what: string; command: string[]; content: string | Buffer; message: RegExp }>([
    { what: 'an alias bomb as a job spec', command: ['run'], content: hostileYamlTexts[0]!, message: /Excessive alias count/ },
    { what: 'nesting 50,000 deep as a job spec', command: ['run'], content: '['.repeat(50_000) + ']'.repeat(50_000), message: /deeper than the 32 levels allowed/ },
    { what: 'a job spec that is not UTF-8', command: ['run'], content: Buffer.from('name: caf\xe9\ncommand: [x]\n', 'latin1'), message: /is not valid UTF-8/ },
    { what: 'a __proto__ env key', command: ['run'], content: 'name: a\ncommand: [x]\nenv: {__proto__: {polluted: yes}}\n', message: /env\.__proto__: "__proto__" is a reserved key/ },
    { what: 'an alias bomb as a policy', command: ['policy', 'apply'], content: hostileYamlTexts[0]!, message: /Excessive alias count/ },
    { what: 'an infinite number in a price book', command: ['pricing', 'apply'], content: 'compute: []\ntransfer: {internet: .inf}\n', message: /transfer\.internet: expected a finite number/ },
  ])('refuses $what with exit code 1 and the reason', async ({ command, content, message }) => {
    const jobsBefore = (await server.client.listJobs()).items.length;
    const result = await runCli(server, ...command, file(`f-${Math.random().toString(36).slice(2)}.yaml`, content));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(message);
    expect((await server.client.listJobs()).items.length).toBe(jobsBefore);
  });
});
