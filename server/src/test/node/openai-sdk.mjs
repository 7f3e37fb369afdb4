// Drives a running moe4j server with the official OpenAI Node SDK (npm package `openai`):
// a chat completion, a streamed one, and tool-call round trips. Prints one JSON object on stdout
// that dev.moe4j.server.clients.OpenAiNodeSdkTest asserts on; exits 0 unless the script itself broke.
// --tool-base-url names a second server whose backend calls a get_weather tool (the random demo
// model never does): there the SDK's own tool runner does the whole round trip.
//
//   node openai-sdk.mjs --base-url http://127.0.0.1:PORT/v1 [--tool-base-url URL] [--model NAME] [--api-key KEY]
import OpenAI from "openai";
import fs from "node:fs";

function arg(name, fallback) {
  const i = process.argv.indexOf("--" + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const baseURL = arg("base-url");
if (!baseURL) {
  console.error("usage: node openai-sdk.mjs --base-url http://127.0.0.1:PORT/v1 [--model NAME] [--api-key KEY]");
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: arg("api-key", "no-key"), maxRetries: 0, timeout: 30_000 });

const sdkVersion = JSON.parse(fs.readFileSync(new URL("node_modules/openai/package.json", import.meta.url), "utf8")).version;
const result = { sdkVersion };

/** Runs one step; a thrown error is recorded under the step's name instead of ending the script. */
async function step(name, fn) {
  const t0 = Date.now();
  try {
    result[name] = await fn();
  } catch (e) {
    result[name] = {
      error: { name: e?.constructor?.name ?? "Error", status: e?.status ?? null, message: String(e?.message ?? e) },
    };
  }
  result[name].ms = Date.now() - t0;
}

function summary(c) {
  const choice = c.choices?.[0];
  return {
    id: c.id, object: c.object, model: c.model, created: c.created,
    choices: c.choices?.length ?? 0,
    role: choice?.message?.role ?? null,
    content: choice?.message?.content ?? null,
    reasoningContent: choice?.message?.reasoning_content ?? null,
    toolCalls: choice?.message?.tool_calls ?? null,
    finishReason: choice?.finish_reason ?? null,
    usage: c.usage ?? null,
  };
}

const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather of a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" } },
      required: ["city"],
    },
  },
}];

await step("models", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  return { ids };
});

// the model to talk to: the one asked for, or the first the server lists
const model = arg("model") ?? result.models?.ids?.find((id) => id !== "fast" && id !== "expert") ?? "demo";
result.model = model;
const hello = [{ role: "system", content: "You are terse." }, { role: "user", content: "Say hello in five words." }];

await step("chat", async () => summary(await client.chat.completions.create({
  model, messages: hello, max_tokens: 12, temperature: 0, seed: 7, thinking: { type: "disabled" },
})));

await step("stream", async () => {
  const stream = await client.chat.completions.create({
    model, messages: hello, max_tokens: 12, temperature: 0, seed: 7, thinking: { type: "disabled" },
    stream: true, stream_options: { include_usage: true },
  });
  let content = "";
  let reasoning = "";
  let chunks = 0;
  let finishReason = null;
  let usage = null;
  let usageChunkChoices = null;
  const objects = new Set();
  const ids = new Set();
  // the SDK ends this loop at `data: [DONE]`; an unparsable event or a missing [DONE] would throw or hang
  for await (const chunk of stream) {
    chunks++;
    objects.add(chunk.object);
    ids.add(chunk.id);
    for (const c of chunk.choices ?? []) {
      content += c.delta?.content ?? "";
      reasoning += c.delta?.reasoning_content ?? "";
      if (c.finish_reason) finishReason = c.finish_reason;
    }
    if (chunk.usage) { usage = chunk.usage; usageChunkChoices = chunk.choices?.length ?? 0; }
  }
  return { chunks, content, reasoning, finishReason, usage, usageChunkChoices,
           objects: [...objects], distinctIds: ids.size };
});

await step("streamThinking", async () => {
  const stream = await client.chat.completions.create({
    model, messages: hello, max_tokens: 16, seed: 7, thinking: { type: "enabled" },
    stream: true, stream_options: { include_usage: true },
  });
  let content = "";
  let reasoning = "";
  let reasoningAfterContent = false;
  let finishReason = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices ?? []) {
      if (c.delta?.reasoning_content && content) reasoningAfterContent = true;
      content += c.delta?.content ?? "";
      reasoning += c.delta?.reasoning_content ?? "";
      if (c.finish_reason) finishReason = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { content, reasoning, reasoningAfterContent, finishReason, usage };
});

await step("toolsOffered", async () => summary(await client.chat.completions.create({
  model, max_tokens: 12, seed: 3, thinking: { type: "disabled" }, tools, tool_choice: "auto",
  messages: [{ role: "user", content: "What is the weather in Paris?" }],
})));

// the second half of a round trip: the assistant's tool call (with the reasoning that DeepSeek wants
// sent back on tool-calling turns) and the tool's result, in the conversation
const roundTrip = [
  { role: "user", content: "What is the weather in Paris?" },
  {
    role: "assistant", content: "", reasoning_content: "The user wants the weather; call the tool.",
    tool_calls: [{ id: "call_0", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }],
  },
  { role: "tool", tool_call_id: "call_0", content: "{\"temperature_c\":21,\"sky\":\"clear\"}" },
];

await step("toolRoundTrip", async () => summary(await client.chat.completions.create({
  model, max_tokens: 12, seed: 3, thinking: { type: "enabled" }, tools, messages: roundTrip,
})));

await step("toolRoundTripStream", async () => {
  const stream = await client.chat.completions.create({
    model, max_tokens: 12, seed: 3, thinking: { type: "disabled" }, tools, messages: roundTrip,
    stream: true, stream_options: { include_usage: true },
  });
  let content = "";
  let finishReason = null;
  let usage = null;
  let toolCallDeltas = 0;
  for await (const chunk of stream) {
    for (const c of chunk.choices ?? []) {
      content += c.delta?.content ?? "";
      toolCallDeltas += c.delta?.tool_calls?.length ?? 0;
      if (c.finish_reason) finishReason = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  return { content, finishReason, usage, toolCallDeltas };
});

// a server error body reaches the caller as the SDK's APIError with the HTTP status (max_tokens < 1 is invalid)
await step("badRequest", async () => {
  try {
    await client.chat.completions.create({ model, max_tokens: -5, messages: hello });
    return { status: 200 };
  } catch (e) {
    return { status: e.status ?? null, type: e.type ?? e.error?.type ?? null, message: String(e.message) };
  }
});

const toolBaseURL = arg("tool-base-url");
if (toolBaseURL) {
  const tc = new OpenAI({ baseURL: toolBaseURL, apiKey: arg("api-key", "no-key"), maxRetries: 0, timeout: 30_000 });
  const question = [{ role: "user", content: "What is the weather in Paris?" }];
  const weatherResult = JSON.stringify({ temperature_c: 21, sky: "clear" });
  const seen = [];
  const runnable = [{
    type: "function",
    function: {
      name: "get_weather",
      description: "Current weather of a city",
      parameters: tools[0].function.parameters,
      parse: JSON.parse,
      function: (args) => { seen.push(args); return weatherResult; },
    },
  }];

  // by hand: the call arrives as tool_calls, its result goes back with the assistant message as received
  await step("weatherByHand", async () => {
    const first = await tc.chat.completions.create({ model, messages: question, tools, max_tokens: 200 });
    const msg = first.choices[0].message;
    const call = msg.tool_calls?.[0];
    const second = await tc.chat.completions.create({
      model, tools, max_tokens: 200,
      messages: [...question, msg, { role: "tool", tool_call_id: call?.id ?? "none", content: weatherResult }],
    });
    return { first: summary(first), arguments: call ? JSON.parse(call.function.arguments) : null, second: summary(second) };
  });

  // the SDK's tool runner, which calls the function and sends the result back until the model answers
  await step("weatherRunTools", async () => {
    seen.length = 0;
    const runner = tc.chat.completions.runTools({ model, messages: question, tools: runnable, max_tokens: 200 });
    const content = await runner.finalContent();
    return { content, seen: [...seen], messages: runner.messages.map((m) => m.role) };
  });

  await step("weatherRunToolsStream", async () => {
    seen.length = 0;
    const runner = tc.chat.completions.runTools({
      model, messages: question, tools: runnable, max_tokens: 200, stream: true,
      stream_options: { include_usage: true },
    });
    let deltas = "";
    runner.on("content", (d) => { deltas += d; });
    const content = await runner.finalContent();
    const calls = (await runner.allChatCompletions())
      .flatMap((c) => c.choices[0].message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
    return { content, deltas, seen: [...seen], calls, messages: runner.messages.map((m) => m.role),
             usage: (await runner.totalUsage()) };
  });
}

process.stdout.write(JSON.stringify(result) + "\n");
