import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/client.js';
import { fetchTrusting } from '../../src/client/tls-fetch.js';
import type { PartitionRecord } from '../../src/core/data-spec.js';
import type { NodeRecord } from '../../src/core/types.js';
import { importPrivateKey, signDataToken } from '../../src/protocol/data-token.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForReadyNodes } from '../harness/processes.js';

// The data catalog end to end: a control plane and two agents, one in Germany and one in the US,
// each serving its partition store over HTTP. Files go in through `atoll data put` (straight to
// the agent, with a grant the control plane signs) and `atoll data register` (a file already on
// the node's disk), and residency classes keep EU data off the US node at every door.

describe('data catalog', () => {
  let server: ServerProc;
  const agents: (Proc & { dataDir: string })[] = [];
  const work = tempDir('data-files');

  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const node = async (name: string): Promise<NodeRecord> => server.client.getNode(name);

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    agents.push(startAgent(server.url, server.joinToken, { name: 'edge-berlin', kind: 'edge', jurisdiction: 'DE', region: 'de-be', site: 'berlin-shop-3' }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-us-east-1a', provider: 'aws', region: 'us-east-1', jurisdiction: 'US', geo: { lat: 38.9, lon: -77.4 }, labels: { pool: 'us' } }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'edge-paris', kind: 'edge', jurisdiction: 'FR', region: 'fr-idf', site: 'paris-shop-11', geo: { lat: 48.86, lon: 2.35 } }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-eu-central-1a', provider: 'aws', region: 'eu-central-1', jurisdiction: 'DE', labels: { pool: 'cloud-eu' } }));
    await waitForReadyNodes(server.client, 4);
    await server.client.applyPolicy('gdpr', { residencyClasses: { 'eu-personal': ['EU', 'EEA'] } });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('gives every agent a data address', async () => {
    for (const name of ['edge-berlin', 'aws-us-east-1a']) expect((await node(name)).dataUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('uploads a file straight to the node, checks its bytes and catalogues it', async () => {
    const bytes = Buffer.alloc(3 * 2 ** 20 + 7, 'readings,');
    const file = join(work, 'berlin.csv');
    writeFileSync(file, bytes);
    const put = await runCli(server, 'data', 'put', file, '--dataset', 'readings', '--partition', 'berlin', '--node', 'edge-berlin', '--class', 'eu-personal', '-o', 'json');
    expect(put.code, put.stderr).toBe(0);
    const stored = JSON.parse(put.stdout) as PartitionRecord;
    expect(stored).toMatchObject({ namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', bytes: bytes.length, sha256: sha256(bytes), residencyClass: 'eu-personal', createdBy: 'upload' });
    // The bytes are in the agent's content-addressed store.
    const berlin = agents[0]!;
    expect(readFileSync(join(berlin.dataDir, 'data', 'objects', sha256(bytes))).equals(bytes)).toBe(true);
    const shown = await runCli(server, 'data', 'show', 'readings');
    expect(shown.stdout).toContain('berlin');
    expect(shown.stdout).toContain('eu-personal');
  });

  it('refuses to store data of a class on a node outside its jurisdictions, naming the policy', async () => {
    const refused = await server.client.createUpload({ dataset: 'readings', partition: 'us', node: 'aws-us-east-1a', residencyClass: 'eu-personal' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 403 });
    expect((refused as ApiError).message).toContain('policy gdpr');
    const unknown = await server.client.createUpload({ dataset: 'readings', partition: 'x', node: 'edge-berlin', residencyClass: 'no-such-class' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 400, code: 'invalid_spec' });
    expect((await server.client.getDataset('readings')).items.map((p) => p.partition)).toEqual(['berlin']);
  });

  it('registers a file that is already on the node\'s disk', async () => {
    const berlin = agents[0]!;
    const file = join(berlin.dataDir, 'born-here.bin');
    const bytes = Buffer.from('sensor data born at the edge\n'.repeat(1000));
    writeFileSync(file, bytes);
    const registered = await server.client.registerData({ dataset: 'readings', partition: 'berlin-local', node: 'edge-berlin', path: file, residencyClass: 'eu-personal' });
    expect(registered).toMatchObject({ node: 'edge-berlin', bytes: bytes.length, sha256: sha256(bytes), createdBy: 'register' });
    const missing = await server.client.registerData({ dataset: 'readings', partition: 'nope', node: 'edge-berlin', path: '/no/such/file' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).message).toContain('/no/such/file');
  });

  it('has the holder refuse EU data to a US node even with a token signed by the control plane', async () => {
    const berlin = await node('edge-berlin');
    const { partitions, sha } = await server.client.getDataset('readings').then((d) => ({ partitions: d.items, sha: d.items[0]!.sha256 }));
    expect(partitions.length).toBeGreaterThan(0);
    // A token the control plane would never issue (the scheduler keeps readers in the EU), but
    // signed with its real key: the holder must still say no.
    const keys = importPrivateKey(readFileSync(join(server.dataDir, 'data-signing.key'), 'utf8'));
    const forged = signDataToken({
      op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', for: 'aws-us-east-1a',
      forJurisdiction: 'US', sha256: sha, exp: Date.now() + 60_000,
    }, keys.privateKey);
    // Data servers' certificates come from the data CA, which only peers (and this test) trust.
    const fetchData = fetchTrusting({ ca: readFileSync(join(server.dataDir, 'data-ca.crt'), 'utf8') });
    const response = await fetchData(`${berlin.dataUrl}/v1/data/default/readings/berlin`, { headers: { authorization: `Bearer ${forged}` } });
    expect(response.status).toBe(403);
    await response.body?.cancel();
    const refusedEvent = await waitFor(async () => (await server.client.listEvents({ limit: 10_000 })).items.find((e) => e.type === 'transfer.refused'), 10_000, 'a transfer.refused event');
    expect(refusedEvent.data).toMatchObject({ dataset: 'readings', partition: 'berlin', for: 'aws-us-east-1a', forJurisdiction: 'US', policy: 'gdpr' });

    // The same token for a German reader is served, with the checksum header.
    const allowed = signDataToken({
      op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', for: 'edge-berlin',
      forJurisdiction: 'DE', sha256: sha, exp: Date.now() + 60_000,
    }, keys.privateKey);
    const served = await fetchData(`${berlin.dataUrl}/v1/data/default/readings/berlin`, { headers: { authorization: `Bearer ${allowed}` } });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-atoll-sha256')).toBe(sha);
    expect(sha256(Buffer.from(await served.arrayBuffer()))).toBe(sha);
  });

  it('lists datasets and removes a partition from the catalog and the node', async () => {
    const listed = await runCli(server, 'data', 'ls', '-o', 'json');
    expect((JSON.parse(listed.stdout) as { name: string }[]).filter((d) => d.name === 'readings')).toEqual([expect.objectContaining({ name: 'readings', partitions: 2, nodes: ['edge-berlin'], residencyClasses: ['eu-personal'] })]);
    const local = (await server.client.getDataset('readings')).items.find((p) => p.partition === 'berlin-local')!;
    const removed = await runCli(server, 'data', 'rm', 'readings', '--partition', 'berlin-local');
    expect(removed.code, removed.stderr).toBe(0);
    expect((await server.client.getDataset('readings')).items.map((p) => p.partition)).toEqual(['berlin']);
    const object = join(agents[0]!.dataDir, 'data', 'objects', local.sha256);
    await waitFor(() => (existsSync(object) ? undefined : true), 10_000, 'the removed partition\'s bytes to leave the node');
    const gone = await runCli(server, 'data', 'rm', 'readings', '--partition', 'berlin-local');
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('does not exist');
  });

  it('moves a partition put again on another node: the old holder drops its copy', async () => {
    const first = join(work, 'moving-1.txt');
    writeFileSync(first, 'first home\n');
    expect((await runCli(server, 'data', 'put', first, '--dataset', 'moving', '--partition', 'p', '--node', 'edge-paris')).code).toBe(0);
    const object = join(agents[2]!.dataDir, 'data', 'objects', sha256(readFileSync(first)));
    expect(existsSync(object)).toBe(true);
    const second = join(work, 'moving-2.txt');
    writeFileSync(second, 'second home\n');
    expect((await runCli(server, 'data', 'put', second, '--dataset', 'moving', '--partition', 'p', '--node', 'aws-eu-central-1a')).code).toBe(0);
    expect((await server.client.getDataset('moving')).items.map((p) => [p.partition, p.node])).toEqual([['p', 'aws-eu-central-1a']]);
    await waitFor(() => (existsSync(object) ? undefined : true), 10_000, 'the old holder to drop the replaced partition');
  });

  describe('tasks over data', () => {
    /** sha256 of what each site holds, by partition. */
    const sites: Record<string, { node: string; content: Buffer }> = {
      berlin: { node: 'edge-berlin', content: Buffer.from('berlin,21.5\n'.repeat(20_000)) },
      paris: { node: 'edge-paris', content: Buffer.from('paris,19.0\n'.repeat(30_000)) },
      frankfurt: { node: 'aws-eu-central-1a', content: Buffer.from('frankfurt,17.2\n'.repeat(10_000)) },
    };
    // Prints which node ran it and the sha256 of each file it was given.
    const hashInputs = ['sh', '-c', 'cd "$ATOLL_INPUT_DIR" && for f in */*; do echo "$ATOLL_NODE $f $(sha256sum < "$f" | cut -d" " -f1)"; done'];
    const edge = [{ key: 'edge' }];

    beforeAll(async () => {
      for (const [partition, { node, content }] of Object.entries(sites)) {
        const file = join(work, `${partition}.csv`);
        writeFileSync(file, content);
        const put = await runCli(server, 'data', 'put', file, '--dataset', 'sensors', '--partition', partition, '--node', node, '--class', 'eu-personal');
        expect(put.code, put.stderr).toBe(0);
      }
    });

    const logsOf = async (taskId: string) => (await server.client.getLogs(taskId)).items.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');

    it('runs one task per partition on the node that holds it, with its bytes in the input dir', async () => {
      const job = await server.client.submitJob({ name: 'per-site', command: hashInputs, forEach: { dataset: 'sensors' }, tolerations: edge });
      expect(job.taskCount).toBe(3);
      const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, 'the forEach job');
      expect(done.state).toBe('succeeded');
      // Partitions are taken in name order: berlin, frankfurt, paris.
      for (const [index, partition] of ['berlin', 'frankfurt', 'paris'].entries()) {
        const { node, content } = sites[partition]!;
        expect(await logsOf(`${job.id}.${index}`)).toBe(`${node} sensors/${partition} ${sha256(content)}\n`);
      }
      const transfers = (await server.client.listEvents({ job: job.id, limit: 1000 })).items.filter((e) => e.type === 'transfer.completed');
      expect(transfers).toEqual([]);
    });

    it('fetches data a task placed elsewhere needs, checks it, and records the transfer', async () => {
      const job = await server.client.submitJob({
        name: 'away', command: hashInputs, inputs: [{ dataset: 'sensors', partitions: ['berlin', 'paris'] }],
        placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] },
      });
      const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, 'the job reading remote data');
      expect(done.state, done.reason ?? '').toBe('succeeded');
      expect(await logsOf(`${job.id}.0`)).toBe(`aws-eu-central-1a sensors/berlin ${sha256(sites.berlin!.content)}\naws-eu-central-1a sensors/paris ${sha256(sites.paris!.content)}\n`);
      const transfers = (await server.client.listEvents({ job: job.id, limit: 1000 })).items.filter((e) => e.type === 'transfer.completed');
      expect(transfers.map((t) => t.data).sort((a, b) => String(a.partition).localeCompare(String(b.partition)))).toEqual([
        expect.objectContaining({ dataset: 'sensors', partition: 'berlin', bytes: sites.berlin!.content.length, from: expect.objectContaining({ node: 'edge-berlin', jurisdiction: 'DE' }), to: expect.objectContaining({ node: 'aws-eu-central-1a', region: 'eu-central-1' }) }),
        expect.objectContaining({ dataset: 'sensors', partition: 'paris', bytes: sites.paris!.content.length, from: expect.objectContaining({ node: 'edge-paris', site: 'paris-shop-11' }) }),
      ]);
      // The ledger summed up, as `atoll job JOB --transfers` shows it.
      const shown = await runCli(server, 'job', job.id, '--transfers');
      expect(shown.code, shown.stderr).toBe(0);
      const total = sites.berlin!.content.length + sites.paris!.content.length;
      expect(await server.client.jobTransfers(job.id)).toMatchObject({ transfers: 2, bytes: total, byRoute: { 'cross-provider': total } });
      expect(shown.stdout).toContain('transfers: 2');
      expect(shown.stdout).toContain('local/de-be/berlin-shop-3 -> aws/eu-central-1/aws-eu-central-1a (cross-provider, 1 transfer)');
    });

    it('never places a reader of EU-class data on a US node: the task waits with the reason', async () => {
      const job = await server.client.submitJob({
        name: 'to-us', command: hashInputs, inputs: [{ dataset: 'sensors', partitions: ['frankfurt'] }],
        placement: { require: [{ key: 'pool', operator: 'In', values: ['us'] }] },
      });
      const reason = await waitFor(async () => (await server.client.getTask(`${job.id}.0`)).reason ?? undefined, 10_000, 'a waiting reason');
      expect(reason).toContain('1 data class eu-personal not allowed');
      expect((await server.client.getTask(`${job.id}.0`)).state).toBe('pending');
      await server.client.cancelJob(job.id);
    });

    it('keeps each task\'s output files as partitions where they were made, with the inputs\' class, for the next job to read', async () => {
      const map = await server.client.submitJob({
        name: 'map', forEach: { dataset: 'sensors' }, tolerations: edge, output: { dataset: 'summaries' },
        command: ['sh', '-c', 'for f in "$ATOLL_INPUT_DIR"/sensors/*; do echo "$(basename "$f") $(wc -l < "$f")"; done > "$ATOLL_OUTPUT_DIR/summary.txt"'],
      });
      const mapped = await waitFor(async () => ((await server.client.getJob(map.id)).finishedAt !== null ? server.client.getJob(map.id) : undefined), 30_000, 'the map job');
      expect(mapped.state, mapped.reason ?? '').toBe('succeeded');
      const summaries = await server.client.getDataset('summaries');
      expect(summaries.items.map((p) => [p.partition, p.node, p.residencyClass, p.createdBy])).toEqual([
        ['0-summary.txt', 'edge-berlin', 'eu-personal', `${map.id}.0.1`],
        ['1-summary.txt', 'aws-eu-central-1a', 'eu-personal', `${map.id}.1.1`],
        ['2-summary.txt', 'edge-paris', 'eu-personal', `${map.id}.2.1`],
      ]);
      // The reduce runs in one cloud region and reads only the summaries, never the raw readings.
      const reduce = await server.client.submitJob({
        name: 'reduce', inputs: [{ dataset: 'summaries' }], placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] },
        command: ['sh', '-c', 'cat "$ATOLL_INPUT_DIR"/summaries/*'],
      });
      const reduced = await waitFor(async () => ((await server.client.getJob(reduce.id)).finishedAt !== null ? server.client.getJob(reduce.id) : undefined), 30_000, 'the reduce job');
      expect(reduced.state, reduced.reason ?? '').toBe('succeeded');
      expect(await logsOf(`${reduce.id}.0`)).toBe('berlin 20000\nfrankfurt 10000\nparis 30000\n');
      const moved = await server.client.jobTransfers(reduce.id);
      expect(moved.transfers).toBe(2);
      expect(moved.bytes).toBe(summaries.items.filter((p) => p.node !== 'aws-eu-central-1a').reduce((sum, p) => sum + p.bytes, 0));
    });

    it('passes outputs from stage to stage in one job: the reduce reads only what this job\'s map wrote', async () => {
      // A partition already in the dataset from elsewhere: the reduce stage must not pick it up.
      const stale = join(work, 'stale.txt');
      writeFileSync(stale, 'stale 1\n');
      const put = await runCli(server, 'data', 'put', stale, '--dataset', 'site-counts', '--partition', 'stale', '--node', 'aws-eu-central-1a');
      expect(put.code, put.stderr).toBe(0);
      const job = await server.client.submitJob({
        name: 'pipeline',
        stages: [
          {
            name: 'count', forEach: { dataset: 'sensors' }, tolerations: edge, output: { dataset: 'site-counts' },
            command: ['sh', '-c', 'for f in "$ATOLL_INPUT_DIR"/sensors/*; do echo "$(basename "$f") $(wc -l < "$f")"; done > "$ATOLL_OUTPUT_DIR/count.txt"'],
          },
          {
            name: 'total', dependsOn: ['count'], inputs: [{ dataset: 'site-counts' }], output: { dataset: 'site-totals' },
            placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] },
            command: ['sh', '-c', 'echo "$ATOLL_STAGE $ATOLL_STAGE_TASK_INDEX of task $ATOLL_TASK_INDEX" >&2; cat "$ATOLL_INPUT_DIR"/site-counts/* | tee "$ATOLL_OUTPUT_DIR/total.txt"'],
          },
        ],
      });
      // Only the first stage's tasks exist until it is done.
      expect(job.taskCount).toBe(3);
      expect(job.stages.map((s) => [s.name, s.state])).toEqual([['count', 'running'], ['total', 'waiting']]);
      const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, 'the two-stage job');
      expect(done.state, done.reason ?? '').toBe('succeeded');
      expect(done.taskCount).toBe(4);
      expect(done.stages.map((s) => [s.name, s.state, s.firstTask, s.tasks, s.counts.succeeded])).toEqual([['count', 'succeeded', 0, 3, 3], ['total', 'succeeded', 3, 1, 1]]);
      expect(await logsOf(`${job.id}.3`)).toBe('berlin 20000\nfrankfurt 10000\nparis 30000\n');
      const stderr = (await server.client.getLogs(`${job.id}.3`)).items.filter((c) => c.stream === 'stderr').map((c) => c.data).join('');
      expect(stderr).toBe('total 0 of task 3\n');
      const total = await server.client.getTask(`${job.id}.3`);
      expect(total).toMatchObject({ stage: 1, stageName: 'total', node: 'aws-eu-central-1a' });
      // The last stage's output is catalogued too, with the class its inputs carried.
      expect((await server.client.getDataset('site-totals')).items.map((p) => [p.partition, p.node, p.residencyClass])).toEqual([['3-total.txt', 'aws-eu-central-1a', 'eu-personal']]);
      // Only the summaries crossed sites: two edge sites' counts into the region, no raw readings.
      const counts = (await server.client.getDataset('site-counts')).items.filter((p) => p.createdBy.startsWith(`${job.id}.`));
      expect((await server.client.jobTransfers(job.id)).bytes).toBe(counts.filter((p) => p.node !== 'aws-eu-central-1a').reduce((sum, p) => sum + p.bytes, 0));
      const shown = await runCli(server, 'job', job.id);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).toMatch(/count\s+succeeded\s+-\s+0\.\.2\s+3\/3/);
      expect(shown.stdout).toMatch(/total\s+succeeded\s+count\s+3\.\.3\s+1\/1/);
    });

    it('fails a stage whose forEach finds nothing the stages before it wrote, and says so', async () => {
      const job = await server.client.submitJob({
        name: 'empty-handed',
        stages: [
          { name: 'write-nothing', command: ['true'], output: { dataset: 'never-written' } },
          { name: 'each', dependsOn: ['write-nothing'], forEach: { dataset: 'never-written' }, command: ['true'] },
        ],
      });
      const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, 'the job with nothing to read');
      expect(done.state).toBe('failed');
      expect(done.reason).toContain('stage each cannot start: forEach: the stages before it wrote no partition of dataset "never-written"');
      expect(done.stages.map((s) => s.state)).toEqual(['succeeded', 'failed']);
    });

    it('refuses a job naming data the catalog does not have, with the field path', async () => {
      const refused = await server.client.submitJob({ name: 'nothing', command: ['true'], inputs: [{ dataset: 'sensors', partitions: ['berlin', 'tokyo'] }] }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 400, problems: [{ path: 'inputs[0].partitions[1]', message: 'dataset "sensors" has no partition "tokyo"' }] });
    });

    it('detects bytes altered at the holder: the fetch fails on the checksum and the task says so', async () => {
      const held = (await server.client.getDataset('sensors')).items.find((p) => p.partition === 'paris')!;
      const object = join(agents[2]!.dataDir, 'data', 'objects', held.sha256);
      const original = readFileSync(object);
      writeFileSync(object, Buffer.concat([original.subarray(0, 100), Buffer.from('TAMPERED'), original.subarray(108)]));
      try {
        const job = await server.client.submitJob({
          name: 'tampered', command: hashInputs, inputs: [{ dataset: 'sensors', partitions: ['paris'] }],
          placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] },
        });
        const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, 'the job reading tampered data');
        expect(done.state).toBe('failed');
        expect((await server.client.getTask(`${job.id}.0`)).reason).toContain('checksum mismatch');
      } finally {
        writeFileSync(object, original);
      }
    });
  });
});
