/**
 * Links by channel count. QEMU's blackout rate depends on the NIC and on how many migration
 * channels carry the stream: `multifd-channels` (`qapi/migration.json`, default 2, read with
 * `query-migrate-parameters`) when the `multifd` capability is on, one main channel otherwise. A
 * link the VMM names `100G` that migrates over 8 multifd channels is fitted and predicted as
 * `100G@8ch`; one channel (or no channel count) keeps the plain name. The fit gives a
 * (link, channel count) group its own rate once it has {@link MIN_CHANNEL_GROUP_BLACKOUTS}
 * blackouts and folds a smaller one into its link's own group (`blackout-fit.ts`); a prediction
 * for a (link, channel count) the model has no rate for uses the link's, then `default`
 * (`predict.ts`, `resolveLink` says which).
 */

const CHANNEL_SUFFIX = /^(.*)@(\d+)ch$/;

/**
 * Blackouts a (link, channel count) group needs to get its own rate rather than its link's:
 * choice — the same 30 a Theil–Sen slope with a usable ±1σ interval wants elsewhere in the fit
 * (fewer: the link's pooled rate, shrunk by `link-fit.ts`, is the better estimate).
 */
export const MIN_CHANNEL_GROUP_BLACKOUTS = 30;

/** The model's name for `link` crossed over `channels` migration channels. */
export function channelLinkName(link: string, channels: number | undefined): string {
  return channels !== undefined && Number.isInteger(channels) && channels > 1 ? `${link}@${channels}ch` : link;
}

/** The link a channel-qualified name belongs to (`100G@8ch` → `100G`), or `undefined` for a plain name. */
export function baseLinkName(name: string): string | undefined {
  const m = CHANNEL_SUFFIX.exec(name);
  return m === null ? undefined : m[1];
}
