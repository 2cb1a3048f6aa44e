import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Proc, runCli, type ServerProc, startAgent, startServer, waitFor, waitForReadyNodes } from '../harness/processes.js';

// The dashboard in a real Chromium (Debian's, which .ci/run installs) against a real control plane
// and real agents at five sites on three continents. Every page is photographed into
// test-results/dashboard/ (look at them: a test can pass on a page nobody could read).

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = join(process.cwd(), 'test-results', 'dashboard');

const FLEET = [
  { name: 'aws-fra-1', provider: 'aws', region: 'eu-central-1', site: 'fra-a', jurisdiction: 'DE', geo: { lat: 50.11, lon: 8.68 }, labels: { pool: 'work' }, priceHour: 0.5 },
  { name: 'gcp-iowa-1', provider: 'gcp', region: 'us-central1', site: 'council-bluffs', jurisdiction: 'US', geo: { lat: 41.26, lon: -95.86 }, labels: { pool: 'work' }, priceHour: 0.4 },
  { name: 'azure-sg-1', provider: 'azure', region: 'southeastasia', site: 'sg-1', jurisdiction: 'SG', geo: { lat: 1.35, lon: 103.82 } },
  { name: 'edge-sao-paulo', provider: 'local', region: 'br-sp', site: 'shop-22', kind: 'edge' as const, jurisdiction: 'BR', geo: { lat: -23.55, lon: -46.63 } },
  { name: 'edge-sydney', provider: 'local', region: 'au-nsw', site: 'shop-4', kind: 'edge' as const, jurisdiction: 'AU', geo: { lat: -33.87, lon: 151.21 } },
];

describe('web dashboard', () => {
  let server: ServerProc;
  const agents = new Map<string, Proc>();
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const go = async (hash: string) => {
    await page.goto(new URL(`/${hash}`, server.url).href);
  };
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium), as .ci/run does, or set CHROMIUM_PATH`);
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    for (const spec of FLEET) agents.set(spec.name, startAgent(server.url, server.joinToken, spec));
    await waitForReadyNodes(server.client, FLEET.length);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    // The fleet's CA is its own: the browser is told to accept it, as a user would trust .atoll/ca.crt.
    page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([...agents.values()].map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('signs in with a one-time link, which then no longer works, and keeps the token out of the address bar', async () => {
    const link = await server.client.createSignInLink();
    expect(link.path).toMatch(/^\/#sign-in=[A-Za-z0-9_-]{32}$/);
    await page.goto(new URL(link.path, server.url).href);
    await expect.poll(() => page.getByTestId('live-status').textContent(), { timeout: 15_000 }).toBe('Live');
    expect(page.url()).not.toContain(link.code);
    expect(page.url()).toMatch(/#\/overview$/);
    await expect.poll(() => page.locator('.whoami').textContent()).toBe('admin');
    // A second browser with the same link is turned away: the code was spent.
    const other = await browser.newPage({ ignoreHTTPSErrors: true });
    await other.goto(new URL(link.path, server.url).href);
    await expect.poll(() => other.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('unknown, used or expired');
    await other.close();
  });

  it('shows one marker per site on the map, coloured by health, with details on hover', async () => {
    await go('#/overview');
    const markers = page.getByTestId('site-marker');
    await expect.poll(() => markers.count(), { timeout: 10_000 }).toBe(FLEET.length);
    expect(await page.locator('[data-testid=site-marker].health-healthy').count()).toBe(FLEET.length);
    await page.locator('[data-testid=site-marker][aria-label^="sg-1"]').hover();
    const tooltip = page.getByRole('tooltip');
    await expect.poll(() => tooltip.textContent()).toContain('azure · southeastasia · SG');
    expect(await tooltip.textContent()).toContain('1/1 nodes ready');
    await shot('overview');
  });

  it('draws a line between two sites when data moves between them, and lists where the data lives', async () => {
    const file = join(SHOTS, 'readings.csv');
    writeFileSync(file, 'sensor,value\n'.repeat(50_000));
    const put = await runCli(server, 'data', 'put', file, '--dataset', 'readings', '--partition', 'sao-paulo', '--node', 'edge-sao-paulo');
    expect(put.code, put.stderr).toBe(0);
    rmSync(file);
    const job = await server.client.submitJob({
      name: 'read-remote', command: ['sh', '-c', 'wc -c "$ATOLL_INPUT_DIR"/readings/sao-paulo'], inputs: [{ dataset: 'readings', partitions: ['sao-paulo'] }],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['work'] }] },
    });
    await waitFor(async () => ((await server.client.getJob(job.id)).state === 'succeeded' ? true : undefined), 30_000, 'the reading job');
    await go('#/overview');
    await expect.poll(() => page.getByTestId('transfer-line').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('transfer-line').locator('title').textContent()).toMatch(/^shop-22 → (fra-a|council-bluffs): 1 transfer, 650000 bytes$/);
    await go('#/data');
    await page.getByRole('button', { name: 'readings' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Partitions of readings' }).textContent()).toContain('edge-sao-paulo');
    await expect.poll(() => page.getByRole('region', { name: 'Recent transfers' }).textContent()).toContain('readings/sao-paulo');
    await shot('data');
  });

  it('opens a job, its stage graph and task grid, and a task\'s placement explanation', async () => {
    const job = await server.client.submitJob({
      name: 'long-runner', tasks: 4, command: ['sh', '-c', 'echo "on $ATOLL_NODE"; sleep 60'],
      resources: { cpu: '0.5', memory: '64Mi' }, placement: { require: [{ key: 'pool', operator: 'In', values: ['work'] }] },
      retry: { attempts: 3, nodeLosses: 3 },
    });
    await waitFor(async () => ((await server.client.getJob(job.id)).counts.running === 4 ? true : undefined), 20_000, 'four running tasks');
    await go('#/jobs');
    await page.getByRole('link', { name: 'long-runner' }).click();
    await expect.poll(() => page.getByTestId('stage').count()).toBe(1);
    await expect.poll(() => page.getByRole('list', { name: 'tasks by state' }).textContent()).toContain('running 4');
    await page.getByLabel('Open task number').fill('0');
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    const explanation = page.getByTestId('placement-explanation');
    const task = await server.client.getTask(`${job.id}.0`);
    await expect.poll(() => explanation.textContent(), { timeout: 10_000 }).toContain(`Chose ${task.node}`);
    const text = await explanation.textContent();
    // Rejected: the nodes outside pool=work, each with the rule that said no.
    expect(text).toContain('azure-sg-1');
    expect(text).toMatch(/label|pool/);
    expect(await page.getByRole('table').filter({ hasText: 'Weighted' }).count()).toBe(1);
    await shot('job');
    await go('#/jobs');
    await expect.poll(() => page.getByRole('link', { name: 'long-runner' }).count()).toBe(1);
    await shot('jobs');
  });

  it('shows a SIGKILLed agent\'s node turn unreachable, its site red, and its tasks move to the other node', async () => {
    const job = (await server.client.listJobs()).items.find((j) => j.name === 'long-runner')!;
    await go('#/overview');
    await shot('overview-with-transfer');
    const tasks = await server.client.listTasks(job.id);
    const victim = tasks.items[0]!.node!;
    const survivor = FLEET.find((n) => n.labels?.pool === 'work' && n.name !== victim)!.name;
    const moved = tasks.items.filter((t) => t.node === victim).map((t) => t.id);
    await go('#/nodes');
    const row = page.getByRole('row').filter({ hasText: victim });
    await expect.poll(() => row.textContent()).toContain('ready');
    await agents.get(victim)!.kill('SIGKILL');
    await expect.poll(() => row.textContent(), { timeout: 15_000 }).toMatch(/unreachable|down/);
    await shot('nodes');
    await go('#/overview');
    const site = FLEET.find((n) => n.name === victim)!.site;
    await expect.poll(() => page.locator(`[data-testid=site-marker][aria-label^="${site}"]`).getAttribute('class'), { timeout: 10_000 }).toContain('health-down');
    // Each task that ran on the dead node now runs on the survivor, as its page says.
    await go(`#/job/${encodeURIComponent(job.id)}/${encodeURIComponent(moved[0]!)}`);
    const panel = page.getByRole('region', { name: `Task ${moved[0]}` });
    await expect.poll(() => panel.textContent(), { timeout: 20_000 }).toContain(`on ${survivor}`);
    expect(await panel.getByRole('list').filter({ hasText: 'lost' }).count()).toBeGreaterThan(0);
  });

  it('lists a policy applied through the API as soon as it is applied, with what it says', async () => {
    await go('#/policies');
    await expect.poll(() => page.locator('main').textContent()).toContain('No policies');
    await server.client.applyPolicy('gdpr', { description: 'EU personal data stays in the EU', residencyClasses: { 'eu-personal': ['EU', 'EEA'] }, denyJurisdictions: ['AU'] });
    const card = page.locator('[data-testid=policy][data-name=gdpr]');
    await expect.poll(() => card.textContent(), { timeout: 10_000 }).toContain('read only in EU, EEA');
    expect(await card.textContent()).toContain('Never runs in');
    // A job that may run only in Australia meets the policy's denial: the policy says what it blocked.
    await server.client.submitJob({ name: 'down-under', command: ['true'], placement: { residency: ['AU'] }, tolerations: [{ key: 'edge' }] });
    await expect.poll(() => card.textContent(), { timeout: 15_000 }).toMatch(/task\.unplaceable.*denied by policy gdpr/);
    await shot('policies');
  });

  it('lets an admin cordon and uncordon a node from the nodes table, and filters it by name', async () => {
    await go('#/nodes');
    await page.getByRole('searchbox').fill('sydney');
    await expect.poll(() => page.getByRole('row').count()).toBe(2);
    await page.getByRole('button', { name: 'Cordon edge-sydney' }).click();
    await expect.poll(async () => (await server.client.getNode('edge-sydney')).cordoned).toBe(true);
    await page.getByRole('button', { name: 'Uncordon edge-sydney' }).click();
    await expect.poll(async () => (await server.client.getNode('edge-sydney')).cordoned).toBe(false);
    await page.getByRole('searchbox').fill('');
  });

  it('shows spend by provider and over time', async () => {
    await go('#/spend');
    // The running attempts on the priced nodes accrue compute, which the page shows by provider.
    await expect.poll(() => page.getByRole('region', { name: 'By provider' }).textContent(), { timeout: 10_000 }).toContain('gcp');
    const today = new Date().toISOString().slice(0, 10);
    expect(await page.getByRole('region', { name: 'Over time' }).locator('table').textContent()).toContain(today);
    await shot('spend');
  });

  it('recovers after the control plane restarts: reconnects, then shows what happened meanwhile', async () => {
    await go('#/overview');
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('Live');
    await server.kill('SIGTERM');
    await expect.poll(() => page.getByTestId('live-status').textContent(), { timeout: 10_000 }).toBe('Reconnecting…');
    const restarted = await startServer({ dataDir: server.dataDir, port: server.port, extraArgs: ['--heartbeat', '200ms'] });
    server = restarted;
    await expect.poll(() => page.getByTestId('live-status').textContent(), { timeout: 20_000 }).toBe('Live');
    // An event made after the restart reaches the page without a reload.
    await server.client.cordonNode('azure-sg-1');
    await expect.poll(() => page.getByRole('list', { name: 'events, newest first' }).textContent(), { timeout: 10_000 }).toContain('node.cordoned');
  });

  it('works with the keyboard, in the dark theme, and at tablet width', async () => {
    await page.setViewportSize({ width: 820, height: 1100 });
    await go('#/overview');
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    // The choice outlives a reload (and the reload puts the focus back at the top).
    await page.reload();
    await expect.poll(() => page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('Live');
    // Tab from the top: the skip link first, then the page links.
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Overview');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toMatch(/#\/nodes$/);
    // Nothing wider than the window: the page reflows instead of scrolling sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await shot('nodes-dark-tablet');
    await go('#/overview');
    await shot('overview-dark-tablet');
    expect(pageErrors).toEqual([]);
  });

  it('goes back to the sign-in form, without a script error, when its session is revoked', async () => {
    await go('#/overview');
    await expect.poll(() => page.getByTestId('live-status').textContent()).toBe('Live');
    const sessions = (await server.client.listTokens()).items.filter((t) => t.name === 'dashboard-session');
    expect(sessions.length).toBeGreaterThan(0);
    for (const session of sessions) await server.client.revokeToken(session.id);
    await expect.poll(() => page.getByLabel('API token').count(), { timeout: 10_000 }).toBe(1);
    await shot('signed-out');
    expect(pageErrors).toEqual([]);
  });
});
