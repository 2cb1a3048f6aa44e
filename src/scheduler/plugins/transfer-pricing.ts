import type { SnapshotNode, TransferPricing } from '../framework/snapshot.js';

// Dollars per GB by where data moves, in the shape of public cloud list prices (2026): free
// inside a zone, about $0.01 across zones, $0.02 across regions of one provider and about $0.09
// out to the internet or another provider. The spend work replaces this with the price book.

export const LIST_TRANSFER_RATES = Object.freeze({
  sameZone: 0,
  crossZone: 0.01,
  crossRegion: 0.02,
  internet: 0.09,
});

export const LIST_TRANSFER_PRICING: TransferPricing = {
  perGb(from: SnapshotNode, to: SnapshotNode): number {
    if (from.provider !== to.provider || from.provider === '') return LIST_TRANSFER_RATES.internet;
    if (from.region !== to.region) return LIST_TRANSFER_RATES.crossRegion;
    if (from.zone !== to.zone) return LIST_TRANSFER_RATES.crossZone;
    return LIST_TRANSFER_RATES.sameZone;
  },
};
