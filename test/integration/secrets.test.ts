import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { REDACTED_SECRET } from '../../src/core/secret-spec.js';
import type { EventRecord } from '../../src/core/types.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';

// Job secrets end to end, with a real control plane and agent on loopback: a task gets an env
// secret and a file secret and prints only their sha256, so the test can check it got the right
// values while the values themselves must appear nowhere else: not in any API or CLI answer,
// not in either process's logs (at debug level), not in the database files, not in any file of
// either data dir once the attempt is over. The first job waits across a control-plane restart
// before it runs, so its secrets are delivered from what the store kept.

// Distinct, greppable values; the file one has several lines and characters JSON escapes.
const DB_PASSWORD = 'pw-9c41e07b-d3f2-4a51-b0c8-secret-marker-one';
const TLS_KEY = '-----BEGIN PRIVATE KEY-----\nsecret-marker-two-"quoted"\\slash\n-----END PRIVATE KEY-----\n';
const MARKERS = ['secret-marker-one', 'secret-marker-two'];

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// sha256sum prints `<hash>  -`; only the hashes reach the log.
const SCRIPT = 'printf %s "$DB_PASSWORD" | sha256sum | cut -c1-64; sha256sum < "$ATOLL_SECRETS_DIR/tls.key" | cut -c1-64; echo "dir=$ATOLL_SECRETS_DIR"';

function spec(name: string): Record<string, unknown> {
  return {
    name, command: ['sh', '-c', SCRIPT],
    secrets: { 'db-password': { value: DB_PASSWORD, env: 'DB_PASSWORD' }, 'tls-key': { value: TLS_KEY, file: 'tls.key' } },
  };
}

/** Every regular file under `dir`, with its bytes as latin1 text (so any byte sequence is searchable). */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push({ path, text: readFileSync(path).toString('latin1') });
  }
  return out;
}

function expectNoSecret(where: string, text: string): void {
  for (const marker of MARKERS) expect(text.includes(marker), `${where} contains a secret value`).toBe(false);
  // JSON turns the key's newlines into \n: look for its escaped form as well.
  expect(text.includes(JSON.stringify(TLS_KEY).slice(1, -1)), `${where} contains the escaped key`).toBe(false);
}

describe('job secrets, end to end', () => {
  let server: ServerProc | undefined;
  let agent: (Proc & { dataDir: string }) | undefined;
  const logs: string[] = [];

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await server?.kill('SIGKILL');
  });

  it('gives the task the right values and shows them nowhere else, across a control-plane restart', async () => {
    server = await startServer({ extraArgs: ['--log-level', 'debug'] });
    const first = server;
    // No node yet: the job waits, and is still waiting when the control plane restarts.
    const waiting = await first.client.submitJob(spec('waits-for-restart'));
    await first.kill('SIGTERM');
    logs.push(first.output());
    server = await startServer({ dataDir: first.dataDir, port: first.port, extraArgs: ['--log-level', 'debug'] });

    agent = startAgent(server.url, server.joinToken, { name: 'secrets-node', extraArgs: ['--log-level', 'debug'] }, tempDir('agent-secrets'));
    await waitForReadyNodes(server.client, 1);

    // The second job goes through the CLI, from a YAML file, as a user would submit it; the key
    // comes from a file of its own (--secret), so the spec file holds only the password.
    const cliSpec = spec('via-cli') as { secrets: Record<string, Record<string, string>> };
    delete cliSpec.secrets['tls-key']!['value'];
    const specFile = writeSpec(cliSpec);
    expect(readFileSync(specFile, 'utf8')).not.toContain('secret-marker-two');
    const keyFile = join(tempDir('secrets-key'), 'tls.key');
    writeFileSync(keyFile, TLS_KEY, { mode: 0o600 });
    const secretFlags = ['--secret', `tls-key=file:${keyFile}`];
    const submitted = await runCli(server, 'run', specFile, ...secretFlags, '-o', 'json');
    expect(submitted.code, submitted.stderr).toBe(0);
    const viaCli = JSON.parse(submitted.stdout) as { id: string };

    const expected = [sha256(DB_PASSWORD), sha256(TLS_KEY)];
    const answers: string[] = [submitted.stdout, submitted.stderr];
    for (const jobId of [waiting.id, viaCli.id]) {
      const job = await waitForJobEnd(server.client, jobId);
      expect(job.state, `${jobId}: ${job.reason}`).toBe('succeeded');
      const [task] = await server.client.allTasks(jobId);
      const { items } = await server.client.getLogs(task!.id);
      const stdout = items.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
      const [dbHash, keyHash, dirLine] = stdout.trim().split('\n');
      expect([dbHash, keyHash]).toEqual(expected);
      // A sandboxed task sees its secrets at /atoll/secrets; on the host they live in the attempt's dir.
      const seen = dirLine!.replace(/^dir=/, '');
      const sandboxed = (await server.client.getNode('secrets-node')).labels['atoll.dev/sandbox'] === 'bwrap';
      const secretsDir = join(agent.dataDir, 'attempts', task!.currentAttemptId ?? `${task!.id}.1`, 'secrets');
      expect(seen).toBe(sandboxed ? '/atoll/secrets' : secretsDir);
      expect(existsSync(join(secretsDir, '..')), `the attempt's own dir ${join(secretsDir, '..')} is still there`).toBe(true);
      expect(existsSync(secretsDir), `${secretsDir} is removed once the attempt ended`).toBe(false);

      // Every answer that could carry the spec or anything derived from it.
      const view = await server.client.getJob(jobId);
      expect(view.spec.stages[0]!.secrets).toEqual({
        'db-password': { value: REDACTED_SECRET, env: 'DB_PASSWORD' },
        'tls-key': { value: REDACTED_SECRET, file: 'tls.key' },
      });
      answers.push(
        JSON.stringify(view),
        JSON.stringify(await server.client.listJobs()),
        JSON.stringify(await server.client.allTasks(jobId)),
        JSON.stringify(await server.client.getTask(task!.id)),
        JSON.stringify(await server.client.explainTask(task!.id)),
        JSON.stringify(items),
      );
      for (const format of ['json', 'yaml', 'table']) {
        const shown = await runCli(server, 'job', jobId, '-o', format);
        expect(shown.code, shown.stderr).toBe(0);
        answers.push(shown.stdout, shown.stderr);
      }
      const tasks = await runCli(server, 'task', task!.id, '-o', 'json');
      answers.push(tasks.stdout, tasks.stderr);
    }
    expect(answers.join('\n')).toContain(REDACTED_SECRET);

    const events: EventRecord[] = [];
    for (let after = 0; ;) {
      const { items } = await server.client.listEvents({ after, limit: 1000 });
      if (items.length === 0) break;
      events.push(...items);
      after = items.at(-1)!.seq;
    }
    expect(events.some((e) => e.type === 'job.submitted')).toBe(true);
    answers.push(JSON.stringify(events));
    answers.push(JSON.stringify(await server.client.estimateJob(spec('estimated'))));
    const estimated = await runCli(server, 'run', specFile, ...secretFlags, '--estimate', '-o', 'json');
    expect(estimated.code, estimated.stderr).toBe(0);
    answers.push(estimated.stdout, estimated.stderr);
    // A refusal echoes nothing either: the value is fine, something next to it is not.
    const refused = await runCli(server, 'run', writeSpec({ ...spec('refused'), secrets: { 'db-password': { value: DB_PASSWORD, env: 'DB_PASSWORD', file: 'both' } } }), '-o', 'json');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('secrets.db-password: give exactly one of env');
    answers.push(refused.stdout, refused.stderr);
    // A hand-written body that is not JSON, broken right at a secret: JSON.parse's own message
    // quotes the text there, and must reach neither the answer nor the audit log (Fastify's does not).
    const broken = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST', headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: `{"name": "broken", "command": ["true"], "secrets": {"db": {"value": ${DB_PASSWORD}, "env": "DB"}}}`,
    });
    expect(broken.status).toBe(400);
    const brokenText = await broken.text();
    expect(brokenText).toContain('request body is not valid JSON');
    // V8 would quote the ten characters from the unquoted value on: its start.
    expect(brokenText).not.toContain(DB_PASSWORD.slice(0, 8));
    answers.push(brokenText);
    // The refusal and the submissions are in the audit log (after its batch is written): by name, never by value.
    const audit = await waitFor(async () => {
      const { items } = await server!.client.listAudit({ limit: 1000 });
      return items.filter((e) => e.outcome === 'refused').length >= 2 ? items : undefined;
    }, 10_000, 'the refusal in the audit log');
    answers.push(JSON.stringify(audit), (await runCli(server, 'audit', '-o', 'json')).stdout);
    expectNoSecret('an API or CLI answer', answers.join('\n'));

    // The database while the server runs (atoll.db, its -wal and -shm), and every other file it keeps.
    const serverFiles = filesUnder(server.dataDir);
    expect(serverFiles.map((f) => f.path)).toEqual(expect.arrayContaining([join(server.dataDir, 'atoll.db'), join(server.dataDir, 'atoll.db-wal')]));
    expect(statSync(join(server.dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
    for (const file of serverFiles) expectNoSecret(file.path, file.text);
    for (const file of filesUnder(agent.dataDir)) expectNoSecret(file.path, file.text);

    await agent.kill('SIGTERM');
    await server.kill('SIGTERM');
    logs.push(server.output(), agent.output());
    // The logs ran at debug level and are not empty: the check below reads real output.
    expect(logs.join('').length).toBeGreaterThan(0);
    expectNoSecret('a server or agent log', logs.join('\n'));
    // After a clean stop the WAL is folded into atoll.db: look at the files once more.
    for (const file of filesUnder(server.dataDir)) expectNoSecret(file.path, file.text);
  });
});

describe('job secrets on an agent that is killed mid-attempt', () => {
  let server: ServerProc | undefined;
  const agents: Proc[] = [];

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('removes the secret files the killed process left when the agent starts again', async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms', '--unreachable-after', '600ms', '--lost-after', '300ms'] });
    const dataDir = tempDir('agent-killed');
    const first = startAgent(server.url, server.joinToken, { name: 'killed-node' }, dataDir);
    agents.push(first);
    await waitForReadyNodes(server.client, 1);
    const job = await server.client.submitJob({
      name: 'long-with-secret', command: ['sh', '-c', 'cat "$ATOLL_SECRETS_DIR/tls.key" > /dev/null && sleep 30'],
      secrets: { 'tls-key': { value: TLS_KEY, file: 'tls.key' } },
    });
    const attempt = `${job.id}.0.1`;
    const secretsDir = join(dataDir, 'attempts', attempt, 'secrets');
    await waitFor(async () => ((await server!.client.getTask(`${job.id}.0`)).state === 'running' && existsSync(secretsDir) ? true : undefined), 20_000, 'the task to run with its secret file');
    // While it runs, the file is there for the task alone.
    expect(statSync(join(secretsDir, 'tls.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(secretsDir, 'tls.key'), 'utf8')).toBe(TLS_KEY);

    await first.kill('SIGKILL');
    expect(existsSync(secretsDir), 'a killed agent cannot clean up').toBe(true);
    // The restarted agent stops the task the killed one left, and removes its secrets.
    const second = startAgent(server.url, '', { name: 'killed-node' }, dataDir);
    agents.push(second);
    await waitFor(() => (existsSync(secretsDir) ? undefined : true), 20_000, 'the restarted agent to remove the old secrets');
    await server.client.cancelJob(job.id);
    await waitFor(() => (readdirSync(join(dataDir, 'attempts')).some((a) => existsSync(join(dataDir, 'attempts', a, 'secrets'))) ? undefined : true), 20_000, 'no secrets dir left once the job is cancelled');
    for (const file of filesUnder(dataDir)) expectNoSecret(file.path, file.text);
  });
});

function writeSpec(value: Record<string, unknown>): string {
  const file = join(tempDir('secrets-spec'), 'job.yaml');
  writeFileSync(file, toYaml(value));
  return file;
}
