// Drives a running strata server with the official `openai` npm client and prints what it saw as one
// JSON object on stdout; tests/server/openai_client_test.cpp starts the server, runs this and checks
// the results against the engine's own output. Usage: node client_test.mjs BASE_URL MODEL [--chat]
import OpenAI from "openai";

const [baseURL, model, ...flags] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, timeout: 120000 });
const prompt = "Once upon a time";
const out = {};

async function failure(call) {
  try {
    await call();
    return { status: null };
  } catch (e) {
    return { status: e.status ?? null, type: e.type ?? e.error?.type ?? null, param: e.param ?? e.error?.param ?? null,
             message: e.message, name: e.constructor.name };
  }
}

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const completion = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0 });
out.completion = { text: completion.choices[0].text, finish_reason: completion.choices[0].finish_reason,
                   usage: completion.usage };

const stream = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, stream: true,
                                                 stream_options: { include_usage: true } });
out.stream = { text: "", chunks: 0, finish_reason: null, usage: null };
for await (const chunk of stream) {
  out.stream.chunks += 1;
  if (chunk.usage) out.stream.usage = chunk.usage;
  for (const choice of chunk.choices) {
    out.stream.text += choice.text ?? "";
    if (choice.finish_reason) out.stream.finish_reason = choice.finish_reason;
  }
}

const sampled = await client.completions.create({ model, prompt, max_tokens: 8, temperature: 0.9, seed: 7, n: 2,
                                                  logprobs: 2 });
out.sampled = sampled.choices.map((c) => ({ text: c.text, tokens: c.logprobs?.tokens?.length ?? 0 }));

out.errors = {
  temperature: await failure(() => client.completions.create({ model, prompt, temperature: 9 })),
  model: await failure(() => client.completions.create({ model: "no-such-model", prompt })),
  context: await failure(() => client.completions.create({ model, prompt, max_tokens: 1 << 20 })),
};

if (flags.includes("--chat")) {
  const messages = [{ role: "system", content: "You are terse." }, { role: "user", content: "Say hello." }];
  const chat = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
  out.chat = { content: chat.choices[0].message.content, role: chat.choices[0].message.role,
               finish_reason: chat.choices[0].finish_reason, usage: chat.usage };
  const chatStream = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0,
                                                            stream: true });
  out.chat_stream = { content: "", role: null };
  for await (const chunk of chatStream)
    for (const choice of chunk.choices) {
      if (choice.delta.role) out.chat_stream.role = choice.delta.role;
      out.chat_stream.content += choice.delta.content ?? "";
    }
  out.errors.messages = await failure(() => client.chat.completions.create({ model, messages: [] }));
}

process.stdout.write(JSON.stringify(out) + "\n");
