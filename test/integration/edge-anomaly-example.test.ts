import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { ATOLL_BIN, freePort, startProcess, tempDir, waitFor, type Proc } from '../harness/processes.js';

// examples/edge-anomaly/run.sh as a user runs it, against the example local fleet (`atoll up`),
// with small data so it stays quick: both pipelines must agree, and edge-first must move at least
// 20 times fewer bytes across sites than the centralized way.

const REPO = join(ATOLL_BIN, '..', '..');
const run = promisify(execFile);

let up: Proc | undefined;

afterAll(async () => {
  await up?.kill('SIGINT');
});

it('runs the edge-first and the centralized pipeline to the same anomalies, edge-first moving 20x fewer bytes', async () => {
  const cwd = tempDir('edge-anomaly');
  const port = await freePort();
  up = startProcess(['up', '--fleet', join(REPO, 'examples', 'fleet.yaml'), '--port', String(port), '--no-example-job'], { cwd, env: { ATOLL_SERVER: '', ATOLL_TOKEN: '' } });
  await waitFor(() => (up!.output().includes('nodes are up') ? true : undefined), 45_000, `atoll up to start:\n${up.output()}`);
  const token = readFileSync(join(cwd, '.atoll', 'admin.token'), 'utf8').trim();
  const { stdout } = await run('bash', [join(REPO, 'examples', 'edge-anomaly', 'run.sh')], {
    env: { ...process.env, MB: '3', ATOLL_SERVER: `https://127.0.0.1:${port}`, ATOLL_TOKEN: token, ATOLL_CA: join(cwd, '.atoll', 'ca.crt') },
  });
  expect(stdout).toContain('same anomalies found both ways');
  const edge = Number(/edge-first: +(\d+) bytes/.exec(stdout)?.[1]);
  const central = Number(/centralized: +(\d+) bytes/.exec(stdout)?.[1]);
  expect(central).toBeGreaterThan(9_000_000);
  expect(edge).toBeGreaterThan(0);
  expect(central / edge).toBeGreaterThanOrEqual(20);
  // Priced with examples/pricing.yaml: shipping raw readings out of the shops costs more.
  const edgeTransfer = Number(/edge-first: .*\(\$(\d+\.\d+) of it moving data\)/.exec(stdout)?.[1]);
  const centralTransfer = Number(/centralized: .*\(\$(\d+\.\d+) of it moving data\)/.exec(stdout)?.[1]);
  expect(centralTransfer).toBeGreaterThan(edgeTransfer);
}, 120_000);
