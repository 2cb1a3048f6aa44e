import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { chromium, type Page } from 'playwright-core';
import type { NodeRecord } from '../src/core/types.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { startServer, waitFor, type ServerProc } from '../test/harness/processes.js';
import { syntheticFleet } from './synthetic-fleet.js';

// npm run bench:dashboard [-- --nodes N --tasks N --runs N]
// The dashboard against a seeded large state: 10,000 nodes (the scheduler bench's synthetic fleet:
// cloud regions of four providers and a thousand edge sites) and one job of 100,000 tasks in a mix
// of states, in a real control plane's SQLite store. Debian's chromium (headless, through
// playwright-core) then loads each page; the figures are the time from navigation until the page
// shows its data, and frame intervals while scrolling the nodes table, the task grid and hovering
// map markers (requestAnimationFrame timestamps inside the page; 16.7 ms is 60 frames a second).
// Also the size and time of the API answers the pages read. Last line JSON.
//
// The seeded nodes have no agents, so after the restart they are unreachable, then down: their
// state does not matter to what is drawn. The job is finished, so it is read from the store, not
// held in memory.

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} expects a whole number >= 1`);
  return value;
}

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function median(values: readonly number[]): number {
  return percentile(values, 50);
}

interface Frames {
  readonly frames: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  /** Frames that took longer than 50 ms (a visible stutter). */
  readonly over50: number;
}

function frameStats(intervals: readonly number[]): Frames {
  return {
    frames: intervals.length, p50Ms: round(median(intervals)), p95Ms: round(percentile(intervals, 95)),
    maxMs: round(Math.max(...intervals)), over50: intervals.filter((i) => i > 50).length,
  };
}

/**
 * Runs `step(frame)` once per animation frame for `count` frames inside the page and returns the
 * intervals between frames. Written as a string: this project's TypeScript has no DOM types.
 */
async function framesWhile(page: Page, count: number, step: string): Promise<number[]> {
  return page.evaluate(`new Promise((resolve) => {
    const times = [];
    const tick = (t) => {
      times.push(t);
      const frame = times.length;
      ${step}
      if (frame < ${count}) requestAnimationFrame(tick);
      else resolve(times.slice(1).map((x, i) => x - times[i]));
    };
    requestAnimationFrame(tick);
  })`);
}

async function timedGet(server: ServerProc, path: string): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(new URL(path, server.url), { headers: { authorization: `Bearer ${server.adminToken}` } });
  const body = await response.arrayBuffer();
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return { ms: round(performance.now() - started), bytes: body.byteLength };
}

async function seed(server: ServerProc, nodeCount: number, taskCount: number): Promise<{ jobId: string; seedMs: number }> {
  const started = performance.now();
  // The job goes in through the API, so its records are exactly what a submission makes; there
  // are no nodes yet, so its tasks wait. Then the server stops and the store is seeded around it.
  const job = await server.client.submitJob({ name: 'big-batch', tasks: taskCount, command: ['true'], resources: { cpu: '0.1', memory: '16Mi' } });
  await server.kill('SIGTERM');
  const now = Date.now();
  const nodes: NodeRecord[] = syntheticFleet({ nodes: nodeCount, edgeSites: 1000, edgeShare: 0.6, seed: 7 }).map((n, i) => ({
    name: n.name, provider: n.provider, region: n.region, zone: n.zone, site: n.site, kind: n.kind, jurisdiction: n.jurisdiction, lat: n.lat, lon: n.lon,
    capacity: n.capacity, priceHour: n.priceHour, labels: n.labels, taints: n.taints, rttMs: {}, state: 'ready', cordoned: false, drainDeadline: null,
    dataUrl: null, agentVersion: 'seeded', joinedAt: now - 86_400_000, lastSeenAt: now,
    usage: { runningAttempts: i % 4, cpuMillis: (i % 4) * 500, memoryBytes: 0, loadAvg1: 0 },
  }));
  const store = openSqliteStore(join(server.dataDir, 'atoll.db'));
  await store.write({ nodes });
  await store.close();
  // Task states in a mix a long batch ends with: mostly succeeded, some failed and cancelled.
  const db = new BetterSqlite3(join(server.dataDir, 'atoll.db'));
  db.prepare(`UPDATE tasks SET state = CASE WHEN idx % 100 < 90 THEN 'succeeded' WHEN idx % 100 < 97 THEN 'failed' ELSE 'cancelled' END,
    node = ?, attempts = 1, finished_at = ? WHERE job_id = ?`).run(nodes[0]!.name, now, job.id);
  db.prepare(`UPDATE jobs SET state = 'failed', started_at = ?, finished_at = ?, reason = 'seeded: 7% of tasks failed',
    stages = json_set(stages, '$[0].state', 'failed', '$[0].finishedAt', ?) WHERE id = ?`).run(now - 3_600_000, now, now, job.id);
  db.close();
  return { jobId: job.id, seedMs: Math.round(performance.now() - started) };
}

async function main(): Promise<void> {
  const nodeCount = flag('nodes', 10_000);
  const taskCount = flag('tasks', 100_000);
  const runs = flag('runs', 3);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  let server = await startServer();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const { jobId, seedMs } = await seed(server, nodeCount, taskCount);
    server = await startServer({ dataDir: server.dataDir, port: server.port });
    await waitFor(async () => ((await server.client.fleetSummary()).nodes === nodeCount ? true : undefined), 60_000, 'the seeded nodes');
    console.log(`seeded ${nodeCount} nodes and a job of ${taskCount} tasks in ${seedMs} ms; control plane ${server.url}`);

    const api = {
      fleet: await timedGet(server, '/v1/fleet'),
      nodesPage: await timedGet(server, '/v1/nodes?limit=200'),
      nodesAll: await timedGet(server, '/v1/nodes'),
      taskStates: await timedGet(server, `/v1/jobs/${jobId}/task-states`),
      jobs: await timedGet(server, '/v1/jobs?limit=500'),
    };
    const sites = (await server.client.fleetSummary()).sites.length;
    console.log(`API: fleet summary ${api.fleet.ms} ms (${api.fleet.bytes} B, ${sites} sites); a page of 200 nodes ${api.nodesPage.ms} ms (${api.nodesPage.bytes} B); every node ${api.nodesAll.ms} ms (${api.nodesAll.bytes} B, not read by the pages); task states ${api.taskStates.ms} ms (${api.taskStates.bytes} B)`);

    const load: Record<string, number[]> = { overview: [], nodes: [], job: [] };
    const frames: Record<string, number[]> = { nodesScroll: [], taskGridScroll: [], mapHover: [] };
    for (let run = 1; run <= runs; run += 1) {
      // A fresh browser context each run: nothing cached, signed in through a one-time link.
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      const link = await server.client.createSignInLink();
      let t = performance.now();
      await page.goto(new URL(link.path, server.url).href);
      await page.waitForSelector('[data-testid=site-marker]', { timeout: 60_000 });
      load.overview!.push(performance.now() - t);
      const markers = await page.locator('[data-testid=site-marker]').count();
      // Hover across markers: the tooltip follows, and the frames must keep coming.
      frames.mapHover!.push(...await framesWhile(page, 120, `
        const all = document.querySelectorAll('[data-testid=site-marker]');
        const m = all[frame % all.length];
        m.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
        m.dispatchEvent(new MouseEvent('mouseout', { bubbles: true }));`));

      t = performance.now();
      await page.getByRole('link', { name: 'Nodes', exact: true }).click();
      await page.waitForSelector('.vtable-body .vtable-row:not(.loading)', { timeout: 60_000 });
      load.nodes!.push(performance.now() - t);
      frames.nodesScroll!.push(...await framesWhile(page, 300, `document.querySelector('.vtable-body').scrollTop += 240;`));
      const lastRow = await page.evaluate(`document.querySelector('.vtable-body').scrollTop`) as number;

      t = performance.now();
      await page.goto(new URL(`/#/job/${jobId}`, server.url).href);
      await page.waitForSelector('[data-testid=task-grid]', { timeout: 60_000 });
      load.job!.push(performance.now() - t);
      frames.taskGridScroll!.push(...await framesWhile(page, 200, `window.scrollBy(0, frame < 100 ? 30 : -30);`));
      console.log(`run ${run}: overview ${Math.round(load.overview!.at(-1)!)} ms (${markers} markers), nodes ${Math.round(load.nodes!.at(-1)!)} ms (scrolled to ${lastRow} px), job with ${taskCount} tasks ${Math.round(load.job!.at(-1)!)} ms`);
      await context.close();
    }
    const figures = {
      nodes: nodeCount, tasks: taskCount, sites, runs,
      loadMs: Object.fromEntries(Object.entries(load).map(([k, v]) => [k, Math.round(median(v))])),
      frames: Object.fromEntries(Object.entries(frames).map(([k, v]) => [k, frameStats(v)])),
      api,
    };
    for (const [k, f] of Object.entries(figures.frames)) console.log(`frames while ${k}: ${f.frames} frames, p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms, max ${f.maxMs} ms, ${f.over50} over 50 ms`);
    console.log(`load (median of ${runs}): overview ${figures.loadMs['overview']} ms, nodes ${figures.loadMs['nodes']} ms, job ${figures.loadMs['job']} ms`);
    console.log(JSON.stringify(figures));
  } finally {
    await browser.close();
    await server.kill('SIGKILL');
  }
}

await main();
