import { LIST_PRICE_BOOK, transferPricePerGb, type PriceBook } from '../../core/price-book.js';
import type { TransferPricing } from '../framework/snapshot.js';

// Transfer prices from a price book (core/price-book.ts), in the shape the engine takes. Without
// a book the engine uses list prices: free inside a zone, $0.01/GB across zones, $0.02/GB across
// regions of one provider, $0.09/GB to another provider, the internet or out of an edge site.

export function bookTransferPricing(book: PriceBook): TransferPricing {
  return { perGb: (from, to) => transferPricePerGb(book, from, to).perGb };
}

export const LIST_TRANSFER_RATES = LIST_PRICE_BOOK.transfer.default;

export const LIST_TRANSFER_PRICING: TransferPricing = bookTransferPricing(LIST_PRICE_BOOK);
