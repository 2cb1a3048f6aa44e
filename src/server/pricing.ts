import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtollError } from '../core/errors.js';
import { parseYamlDocument } from '../core/yaml-document.js';
import { nodePrice, parsePriceBook, transferPricePerGb, type NodePrice, type PriceBook, type PricedLocation, type PricedNode } from '../core/price-book.js';
import { bookTransferPricing, type TransferPricing } from '../scheduler/engine.js';

// The price book in force, with what the control plane derives from it: each node's hourly price
// (memoised per node record, since placement asks for every node every round) and transfer
// prices in the shape the placement engine takes. A new book is a new Pricing object, so
// whatever caches against the old one sees the change.

/** The settings row the book is kept under. */
export const PRICE_BOOK_SETTING = 'price-book';

/** The book `atoll server` uses when neither `--pricing` nor an earlier `PUT /v1/pricing` gave one. */
export function defaultPriceBookFile(): string {
  // Found from this file up to the package root, so it works from src/ (tests) and dist/src/ alike.
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'examples', 'pricing.yaml');
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
  }
}

export class Pricing {
  private readonly nodes = new WeakMap<PricedNode, NodePrice>();
  readonly transfer: TransferPricing;

  constructor(
    readonly book: PriceBook,
    readonly updatedAt: number,
  ) {
    this.transfer = bookTransferPricing(book);
  }

  /** The node's price per hour and where it comes from; the same record gets the same object. */
  node(record: PricedNode): NodePrice {
    let price = this.nodes.get(record);
    if (price === undefined) {
      price = nodePrice(this.book, record);
      this.nodes.set(record, price);
    }
    return price;
  }

  transferPrice(from: PricedLocation, to: PricedLocation): ReturnType<typeof transferPricePerGb> {
    return transferPricePerGb(this.book, from, to);
  }
}

/** A price book from a YAML (or JSON) file, validated; errors name the file and the field. */
export async function readPriceBookFile(path: string | URL): Promise<PriceBook> {
  const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new AtollError('invalid_request', `cannot read the price book ${String(path)}: ${error.code ?? error.message}`);
  });
  try {
    return parsePriceBook(parseYamlDocument(bytes, { what: 'price book', code: 'invalid_request' }));
  } catch (error) {
    if (error instanceof AtollError) throw new AtollError(error.code, `${String(path)}: ${error.message}`, { problems: error.problems });
    throw error;
  }
}
