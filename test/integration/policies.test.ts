import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/client.js';
import type { PolicyChangeResult } from '../../src/core/policy-impact.js';
import type { PolicyRecord } from '../../src/core/policy-spec.js';
import type { EventRecord, JobView } from '../../src/core/types.js';
import {
  type Proc,
  type ServerProc,
  startAgent,
  startProcess,
  startServer,
  tempDir,
  waitFor,
  waitForJobEnd,
  waitForReadyNodes,
} from '../harness/processes.js';

// Cluster policies end to end: a real control plane with two agents, one in the US on AWS and
// one in Germany on Hetzner, driven through the CLI and the HTTP API.

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'policies');
const FINANCE_FILE = join(EXAMPLES, 'finance.yaml');
const GDPR_FILE = join(EXAMPLES, 'gdpr.yaml');

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly problems?: readonly { path: string; message: string }[] };
}

describe('cluster policies', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  let dataDir: string;
  let port: number;

  const cli = async (...args: string[]): Promise<{ code: number | string; output: string }> => {
    const proc = startProcess([...args, '--server', server.url, '--token', server.adminToken]);
    const code = await proc.exited();
    return { code, output: proc.output() };
  };

  const put = async (name: string, body: unknown, query = ''): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${server.url}/v1/policies/${name}${query}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };

  const refusal = async (name: string, body: unknown, query = ''): Promise<ErrorBody['error']> => {
    const answer = await put(name, body, query);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    return (answer.body as ErrorBody).error;
  };

  const policyEvents = async (): Promise<EventRecord[]> =>
    (await server.client.listEvents({ limit: 10_000 })).items.filter((e) => e.type.startsWith('policy.'));

  const submit = (spec: Record<string, unknown>): Promise<JobView> => server.client.submitJob({ command: ['true'], ...spec });

  const waitForTaskState = (taskId: string, state: string) =>
    waitFor(async () => {
      const task = await server.client.getTask(taskId);
      return task.state === state ? task : undefined;
    }, 30_000, `task ${taskId} to be ${state}`);

  /** A pending task's waiting reason once a scheduling round has considered it. */
  const waitingReason = (taskId: string) =>
    waitFor(async () => {
      const task = await server.client.getTask(taskId);
      return task.state === 'pending' && task.reason ? task.reason : undefined;
    }, 30_000, `a waiting reason for ${taskId}`);

  beforeAll(async () => {
    server = await startServer();
    ({ dataDir, port } = server);
    agents.push(
      startAgent(server.url, server.joinToken, {
        name: 'us-1', cpu: '2', extraArgs: ['--provider', 'aws', '--region', 'us-east-1', '--jurisdiction', 'US', '--geo', '38.9,-77.4'],
      }),
      startAgent(server.url, server.joinToken, {
        name: 'de-1', cpu: '2', extraArgs: ['--provider', 'hetzner', '--region', 'fsn1', '--jurisdiction', 'DE'],
      }),
    );
    await waitForReadyNodes(server.client, 2);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  let sleeper: JobView;
  let waiting: JobView;
  let elsewhere: JobView;

  it('refuses at submit a job that names a jurisdiction nobody defined, with the field path', async () => {
    const response = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nowhere', command: ['true'], placement: { residency: ['DE', 'NARNIA'] } }),
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as ErrorBody;
    expect(error.code).toBe('invalid_spec');
    expect(error.problems?.map((p) => p.path)).toEqual(['placement.residency[1]']);
    expect((await server.client.listJobs()).total).toBe(0);
  });

  it('reports in a dry run which queued and running work a policy would block, and changes nothing', async () => {
    // Runs on the US node until the test ends.
    sleeper = await submit({ name: 'sleeper', namespace: 'finance', command: ['sleep', '300'], resources: { cpu: 0.5 }, placement: { residency: ['US'] } });
    await waitForTaskState(`${sleeper.id}.0`, 'running');
    // Waits for capacity no node has; the US node passes every other rule today.
    waiting = await submit({ name: 'waiting', namespace: 'finance', tasks: 2, resources: { cpu: 16 }, placement: { residency: ['US'] } });
    // The same, in a namespace the policy does not bind.
    elsewhere = await submit({ name: 'elsewhere', namespace: 'default', resources: { cpu: 16 }, placement: { residency: ['US'] } });
    await waitingReason(`${waiting.id}.0`);
    await waitingReason(`${elsewhere.id}.0`);
    const lastSeq = (await server.client.listEvents({ limit: 10_000 })).items.at(-1)!.seq;

    const { code, output } = await cli('policy', 'apply', FINANCE_FILE, '--dry-run');
    expect(code, output).toBe(0);
    expect(output).toContain('policy finance would be created (dry run, nothing changed)');
    expect(output).toContain('blocks 1 queued job');
    expect(output).toMatch(new RegExp(`${waiting.id}\\s+finance\\s+2\\s+denied by policy finance`));
    expect(output).not.toContain(elsewhere.id);
    expect(output).toContain(`${sleeper.id}.0.1`);
    expect(output).toContain('they keep running');

    const spec = parseYaml(readFileSync(FINANCE_FILE, 'utf8')) as Record<string, unknown>;
    const result = await server.client.applyPolicy('finance', spec, { dryRun: true });
    expect(result).toMatchObject({ dryRun: true, created: true, policy: { name: 'finance', spec: { denyJurisdictions: ['US'] } } });
    expect(result.impact.blockedJobs).toEqual([
      { jobId: waiting.id, name: 'waiting', namespace: 'finance', pendingTasks: 2, reason: 'denied by policy finance' },
    ]);
    expect(result.impact.runningOnDeniedNodes).toEqual([
      { jobId: sleeper.id, taskId: `${sleeper.id}.0`, attemptId: `${sleeper.id}.0.1`, node: 'us-1', reason: expect.stringContaining('finance') },
    ]);
    expect(result.message).toContain('keep running');

    expect((await server.client.listPolicies()).total).toBe(0);
    await expect(server.client.getPolicy('finance')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    // Events may still arrive from the running work, but none records a change the dry run made.
    const since = (await server.client.listEvents({ after: lastSeq, limit: 10_000 })).items.map((e) => e.type);
    expect(since.filter((type) => type.startsWith('policy.') || type === 'task.placed' || type === 'task.cancelled')).toEqual([]);
    expect((await server.client.getTask(`${sleeper.id}.0`)).state).toBe('running');
  });

  it('applies a policy from the CLI: it is listed and shown, running work keeps running', async () => {
    const applied = await cli('policy', 'apply', FINANCE_FILE);
    expect(applied.code, applied.output).toBe(0);
    expect(applied.output).toContain('policy finance created');
    expect(applied.output).toContain(waiting.id);

    const listed = await cli('policy', 'list');
    expect(listed.code, listed.output).toBe(0);
    expect(listed.output).toMatch(/NAME\s+NAMESPACES\s+DENY\s+ALLOW PROVIDERS\s+RESIDENCY CLASSES\s+UPDATED/);
    expect(listed.output).toMatch(/finance\s+finance\s+US\s+aws,gcp,hetzner\s+-\s+\d+s ago/);
    const asJson = JSON.parse((await cli('policy', 'list', '-o', 'json')).output) as PolicyRecord[];
    expect(asJson.map((p) => p.name)).toEqual(['finance']);
    expect(asJson[0]!.spec).toMatchObject({ namespaces: ['finance'], denyJurisdictions: ['US'], allowProviders: ['aws', 'gcp', 'hetzner'] });

    const shown = await cli('policy', 'show', 'finance');
    expect(shown.code, shown.output).toBe(0);
    expect(shown.output).toContain('denyJurisdictions:');
    expect(shown.output).toContain('Finance workloads stay out of the US');

    const events = await policyEvents();
    expect(events.map((e) => [e.type, e.data.name, e.data.created])).toEqual([['policy.applied', 'finance', true]]);
    expect(events[0]!.data.spec).toEqual(asJson[0]!.spec);

    // Not evicted: the attempt on the now denied node runs on.
    await new Promise((r) => setTimeout(r, 500));
    const task = await server.client.getTask(`${sleeper.id}.0`);
    expect(task).toMatchObject({ state: 'running', node: 'us-1', currentAttemptId: `${sleeper.id}.0.1` });
  });

  // Needs the scheduler to honour policies (src/scheduler, policy filter).
  it('places no new work of the bound namespace on a denied node, and leaves other namespaces alone', async () => {
    const fresh = await submit({ name: 'fresh', namespace: 'finance', tasks: 4, resources: { cpu: 0.1 } });
    expect((await waitForJobEnd(server.client, fresh.id)).state).toBe('succeeded');
    expect(new Set((await server.client.allTasks(fresh.id)).map((t) => t.node))).toEqual(new Set(['de-1']));

    const blocked = await submit({ name: 'blocked', namespace: 'finance', resources: { cpu: 0.1 }, placement: { residency: ['US'] } });
    expect(await waitingReason(`${blocked.id}.0`)).toContain('denied by policy finance');

    const free = await submit({ name: 'free', namespace: 'default', resources: { cpu: 0.1 }, placement: { residency: ['US'] } });
    expect((await waitForJobEnd(server.client, free.id)).state).toBe('succeeded');
    expect((await server.client.allTasks(free.id)).map((t) => t.node)).toEqual(['us-1']);
  });

  it('refuses bad policies with the field path and changes nothing', async () => {
    const before = await server.client.getPolicy('finance');
    const eventsBefore = (await policyEvents()).length;

    let error = await refusal('finance', { namespaces: ['finance'], denyJurisdictions: ['XX'] });
    expect(error.code).toBe('invalid_spec');
    expect(error.problems?.map((p) => p.path)).toEqual(['denyJurisdictions[0]']);

    error = await refusal('finance', { namespaces: ['finance'], denyJurisdictions: ['us'] });
    expect(error.problems?.map((p) => p.path)).toEqual(['denyJurisdictions[0]']);

    error = await refusal('finance', { namespaces: ['finance'], denyJurisdiction: ['US'] });
    expect(error.problems).toEqual(expect.arrayContaining([{ path: 'denyJurisdiction', message: 'unknown field; remove it or check its spelling' }]));

    error = await refusal('finance', { name: 'other', denyJurisdictions: ['US'] });
    expect(error.problems?.map((p) => p.path)).toEqual(['name']);
    expect(error.message).toContain('"other" differs from the name in the path, "finance"');

    error = await refusal('scoped', { namespaces: ['finance'], jurisdictionGroups: { DACH: ['DE', 'AT', 'CH'] } });
    expect(error.problems?.map((p) => p.path)).toEqual(['jurisdictionGroups']);

    error = await refusal('empty', { namespaces: ['finance'] });
    expect(error.message).toContain('a policy needs at least one rule');

    const badQuery = await put('finance', { denyJurisdictions: ['US'] }, '?dry=true');
    expect(badQuery.status).toBe(400);
    expect((badQuery.body as ErrorBody).error.message).toContain('dry: unknown field');

    // The CLI prints the path and exits 1.
    const file = join(tempDir('bad-policy'), 'bad.yaml');
    writeFileSync(file, 'name: finance\nnamespaces: [finance]\ndenyJurisdictions: [XX]\n');
    const bad = await cli('policy', 'apply', file);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('denyJurisdictions[0]');

    expect(await server.client.getPolicy('finance')).toEqual(before);
    expect((await server.client.listPolicies()).items.map((p) => p.name)).toEqual(['finance']);
    expect(await policyEvents()).toHaveLength(eventsBefore);
  });

  it('lets policies define jurisdiction groups that jobs and other policies use, and guards them', async () => {
    const gdpr = await cli('policy', 'apply', GDPR_FILE);
    expect(gdpr.code, gdpr.output).toBe(0);
    expect(gdpr.output).toContain('policy gdpr created');
    expect(gdpr.output).toContain('blocks no queued or running work');

    const dach = await submit({ name: 'dach', resources: { cpu: 0.1 }, placement: { residency: ['DACH'] } });
    expect((await waitForJobEnd(server.client, dach.id)).state).toBe('succeeded');
    expect((await server.client.allTasks(dach.id)).map((t) => t.node)).toEqual(['de-1']);

    // A second definition of a group is refused.
    const clash = await refusal('dach-again', { jurisdictionGroups: { DACH: ['DE'] } });
    expect(clash.problems?.map((p) => p.path)).toEqual(['jurisdictionGroups.DACH']);

    await server.client.applyPolicy('audit', { namespaces: ['audit'], denyJurisdictions: ['DACH'] });
    // Deleting or rewriting gdpr would leave `audit` naming a group nobody defines.
    await expect(server.client.deletePolicy('gdpr')).rejects.toMatchObject({ status: 409, code: 'conflict', message: expect.stringContaining('audit') });
    await expect(server.client.applyPolicy('gdpr', { residencyClasses: { 'eu-personal': ['EU'] } })).rejects.toMatchObject({ status: 409 });
    expect((await server.client.getPolicy('gdpr')).spec.jurisdictionGroups).toEqual({ DACH: ['DE', 'AT', 'CH'] });

    const deleted = await server.client.deletePolicy('audit');
    expect(deleted).toMatchObject({ policy: { name: 'audit' }, dryRun: false, impact: { blockedJobs: [], runningOnDeniedNodes: [] } });
    await expect(server.client.deletePolicy('audit')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(server.client.getPolicy('audit')).rejects.toBeInstanceOf(ApiError);
    expect((await policyEvents()).filter((e) => e.data.name === 'audit').map((e) => e.type)).toEqual(['policy.applied', 'policy.deleted']);
  });

  it('applies every policy of a multi-document file in order', async () => {
    const file = join(tempDir('multi-policy'), 'nordics.yaml');
    writeFileSync(file, [
      '---',
      'name: nordics',
      'jurisdictionGroups: { NORDICS: [SE, NO, FI, DK] }',
      '---',
      '# uses the group the document above defines',
      'name: research',
      'namespaces: [research]',
      'denyJurisdictions: [NORDICS, US]',
      '',
    ].join('\n'));
    const applied = await cli('policy', 'apply', file, '-o', 'json');
    expect(applied.code, applied.output).toBe(0);
    const results = JSON.parse(applied.output) as PolicyChangeResult[];
    expect(results.map((r) => [r.policy.name, r.created, r.dryRun])).toEqual([['nordics', true, false], ['research', true, false]]);
    expect((await server.client.getPolicy('research')).spec.denyJurisdictions).toEqual(['NORDICS', 'US']);

    const again = await cli('policy', 'apply', file, '--dry-run');
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('policy nordics would be replaced');
    expect(again.output).toContain('policy research would be replaced');
  });

  it('deletes a policy from the CLI, and work it blocked is placed', async () => {
    const blocked = (await server.client.listJobs({ namespace: 'finance' })).items.find((j) => j.name === 'blocked');
    expect(blocked?.counts.pending).toBe(1);
    const deleted = await cli('policy', 'delete', 'finance');
    expect(deleted.code, deleted.output).toBe(0);
    expect(deleted.output).toContain('policy finance deleted');
    // Needs the scheduler to honour policies: with the denial gone the US node takes it.
    expect((await waitForJobEnd(server.client, blocked!.id)).state).toBe('succeeded');
    expect((await server.client.allTasks(blocked!.id)).map((t) => t.node)).toEqual(['us-1']);

    const missing = await cli('policy', 'show', 'finance');
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('policy "finance" does not exist');
  });

  it('keeps policies across a control-plane crash and restart', async () => {
    const before = (await server.client.listPolicies()).items;
    expect(before.map((p) => p.name)).toEqual(['gdpr', 'nordics', 'research']);
    await server.kill('SIGKILL');
    server = await startServer({ dataDir, port });
    expect((await server.client.listPolicies()).items).toEqual(before);
    // The restored groups are in force: a job naming one is still accepted.
    const job = await submit({ name: 'after-restart', placement: { residency: ['DACH'] } });
    expect(job.spec.stages[0]!.placement.residency).toEqual(['DACH']);
  });
});
