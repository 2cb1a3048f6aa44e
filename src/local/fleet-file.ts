import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AtollError } from '../core/errors.js';
import { parseYamlDocument } from '../core/yaml-document.js';
import { nodeSpecSchema } from '../core/node-spec.js';
import { parseOrThrow } from '../core/validation.js';

// The fleet file `atoll up` reads: which nodes to start locally, each standing for a machine
// somewhere in the world, and which job to submit the first time.

export const fleetFileSchema = z.strictObject({
  /** Job spec file (relative to the fleet file) submitted when the control plane has no jobs yet. */
  exampleJob: z.string().optional(),
  nodes: z.array(nodeSpecSchema).min(1).max(200),
});

export type FleetFile = z.output<typeof fleetFileSchema>;

/** The validated fleet, plus each node's entry as written (handed to its agent as --config). */
export async function readFleetFile(file: string): Promise<{ fleet: FleetFile; rawNodes: readonly Record<string, unknown>[] }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new AtollError('invalid_request', `cannot read fleet file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const raw = parseYamlDocument(bytes, { what: `fleet file ${file}`, code: 'invalid_request' });
  const fleet = parseOrThrow(fleetFileSchema, raw, `fleet file ${file}`);
  const names = new Set<string>();
  for (const node of fleet.nodes) {
    if (names.has(node.name)) throw new AtollError('invalid_request', `fleet file ${file}: node name ${node.name} appears twice`);
    names.add(node.name);
  }
  return { fleet, rawNodes: (raw as { nodes: Record<string, unknown>[] }).nodes };
}
