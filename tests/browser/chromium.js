// What every browser driver of the tests shares: how Debian's Chromium is started.
"use strict";

// Flags for a machine without Internet access: no first-run, sync, update or
// other background connections, which would only be refused there.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Longest wait for the browser to start, and for one navigation: the daemon is
// local, so these only bound a hang, with room for a busy 2-core CI machine.
const LAUNCH_MS = 60000;
const NAVIGATION_MS = 30000;

module.exports = { ARGS, LAUNCH_MS, NAVIGATION_MS };
