// The live feed: GET /tasky/v1/live answers the tasks that are running or finished lately
// and the newest task id, from a per-process cache on the server; polled with If-None-Match,
// an unchanged feed is a 304 that costs the store nothing.
import { api } from "./api.js";
import { poll } from "./live.js";

export const FEED = "/tasky/v1/live";

/** Call `onChange(feed)` with each new state of the feed while the tab is visible. */
export function watchFeed(onChange, intervalMs = 2000) {
  return poll(async () => {
    const { data, notModified } = await api(FEED, { etag: true });
    if (!notModified) return onChange(data);
    return undefined;
  }, intervalMs);
}
