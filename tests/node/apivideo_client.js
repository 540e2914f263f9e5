// Drives api.video's official Node.js client against HookCast, as a customer's code would:
// only `baseUri` differs from talking to api.video. Called by
// tests/integration/test_apivideo_clients.py with one JSON argument:
//   {"baseUri", "apiKey", "badKey", "url", "events": [first, second]}
// and prints one JSON object of what the client returned, for the test to assert on.
"use strict";

const ApiVideoClient = require("@api.video/nodejs-client");

function failure(error) {
  // ApiVideoError keeps the HTTP status and the parsed problem document.
  return { status: error.code, problem: error.problemDetails };
}

function shown(webhook) {
  return { ...webhook, createdAt: webhook.createdAt.toISOString() };
}

async function main() {
  const config = JSON.parse(process.argv[2]);
  const client = new ApiVideoClient({ apiKey: config.apiKey, baseUri: config.baseUri });
  const [first, second] = config.events;
  const out = {};

  const a = await client.webhooks.create({ events: [first], url: `${config.url}/a` });
  const b = await client.webhooks.create({ events: [first, second], url: `${config.url}/b` });
  const c = await client.webhooks.create({ events: [second], url: `${config.url}/c` });
  out.created = [a, b, c].map(shown);

  const page = await client.webhooks.list({ events: first, currentPage: 2, pageSize: 1 });
  out.page = { data: page.data.map(shown), pagination: page.pagination };
  // The client's documented way to read the rate limit: its *WithResponseHeaders() calls.
  const { body: listed, headers } = await client.webhooks.listWithResponseHeaders();
  out.all = listed.data.map((hook) => hook.webhookId);
  out.rateLimit = {
    limit: headers["x-ratelimit-limit"],
    remaining: headers["x-ratelimit-remaining"],
    retryAfter: headers["x-ratelimit-retry-after"],
  };

  out.got = shown(await client.webhooks.get(a.webhookId));
  out.deleted = await client.webhooks.delete(b.webhookId);
  try {
    await client.webhooks.get(b.webhookId);
    out.gotDeleted = null;
  } catch (error) {
    out.gotDeleted = failure(error);
  }

  const token = await client.getAccessToken();
  out.token = { tokenType: token.tokenType, expiresIn: token.expiresIn };

  const stranger = new ApiVideoClient({ apiKey: config.badKey, baseUri: config.baseUri });
  try {
    await stranger.webhooks.list();
    out.stranger = null;
  } catch (error) {
    out.stranger = failure(error);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  const problem = error.problemDetails ? ` ${JSON.stringify(error.problemDetails)}` : "";
  process.stderr.write(`${error.stack || error}${problem}\n`);
  process.exit(1);
});
