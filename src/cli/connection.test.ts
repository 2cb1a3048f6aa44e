import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConnection } from './connection.js';

function dataDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'atoll-conn-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('resolveConnection', () => {
  it('takes the server URL, token and CA from the local data dir, https by default', () => {
    const dir = dataDir({ 'admin.token': 'atoll_admin_x\n', 'ca.crt': 'CA-PEM' });
    expect(resolveConnection({}, {}, dir)).toEqual({ server: 'https://127.0.0.1:7700', token: 'atoll_admin_x', ca: 'CA-PEM' });
  });

  it('prefers --ca over $ATOLL_CA over the data dir', () => {
    const dir = dataDir({ 'admin.token': 't', 'ca.crt': 'FROM-DIR' });
    const flagFile = join(dataDir({ 'a.crt': 'FROM-FLAG' }), 'a.crt');
    const envFile = join(dataDir({ 'b.crt': 'FROM-ENV' }), 'b.crt');
    expect(resolveConnection({ ca: flagFile }, { ATOLL_CA: envFile }, dir).ca).toBe('FROM-FLAG');
    expect(resolveConnection({}, { ATOLL_CA: envFile }, dir).ca).toBe('FROM-ENV');
  });

  it('refuses an https server with no CA to check it against, saying where one is looked for', () => {
    const dir = dataDir({ 'admin.token': 't' });
    expect(() => resolveConnection({}, {}, dir)).toThrow(/no CA to check https:\/\/127\.0\.0\.1:7700 against: pass --ca/);
  });

  it('refuses a --ca file it cannot read, naming the flag and the file', () => {
    const dir = dataDir({ 'admin.token': 't' });
    expect(() => resolveConnection({ ca: '/no/such/ca.crt' }, {}, dir)).toThrow('--ca: cannot read /no/such/ca.crt: ENOENT');
  });

  it('needs no CA for a plain-http (--insecure) server', () => {
    const dir = dataDir({ 'admin.token': 't' });
    expect(resolveConnection({ server: 'http://127.0.0.1:7700' }, {}, dir)).toEqual({ server: 'http://127.0.0.1:7700', token: 't', ca: undefined });
  });
});
