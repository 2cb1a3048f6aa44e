// node generate.mjs SITE MEGABYTES FILE: a site's sensor readings, reproducible from the site name.
import { createWriteStream } from 'node:fs';

const [site, megabytes, file] = process.argv.slice(2);
if (!site || !megabytes || !file) {
  console.error('usage: node generate.mjs SITE MEGABYTES FILE');
  process.exit(2);
}

// mulberry32 seeded from the site name: the same site always gets the same readings.
let state = [...site].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const out = createWriteStream(file);
const target = Number(megabytes) * 1e6;
let written = 0;
let time = Date.UTC(2026, 10, 28) / 1000;
while (written < target) {
  let chunk = '';
  for (let i = 0; i < 10_000; i++) {
    const sensor = `s${Math.floor(random() * 200)}`;
    const n = Number(sensor.slice(1));
    const mean = 20 + (n % 17);
    const spread = 0.5 + (n % 5) / 10;
    // One reading in 2,000 is a fault: a spike of 5 to 12 spreads.
    const fault = random() < 0.0005 ? (5 + random() * 7) * (random() < 0.5 ? -1 : 1) : 0;
    const value = mean + spread * (gaussian() + fault);
    chunk += `${site}-${sensor},${time++},${value.toFixed(3)}\n`;
  }
  out.write(chunk);
  written += chunk.length;
}
out.end();
