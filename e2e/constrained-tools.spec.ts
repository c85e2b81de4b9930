/**
 * Tool calls valid by construction, in real Chromium: an agent's tool loop (the SDK's
 * ctx.llm with `tools`, then ctx.tools.call with what the model asked) on stories260K — a
 * story model that has never seen JSON — through the kernel, the prompted-tools layer and
 * the transformers.js driver's XGrammar-constrained decoding in a tab's engine worker.
 * Every one of 100 tool calls must be valid against its tool's own JSON schema.
 */
import { type Schema, Validator } from '@cfworker/json-schema';
import { expect, test } from '@playwright/test';
import { openOS, program } from './os';

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'math.evaluate',
      description: 'evaluate an arithmetic expression such as (2+3)*4 exactly, a calculator',
      parameters: {
        type: 'object',
        properties: { expression: { type: 'string', maxLength: 1000 } },
        required: ['expression'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'time.now',
      description: 'the current date and time (ISO 8601) and time zone',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
    },
  },
  {
    type: 'function',
    function: {
      name: 'pet.adopt',
      description: 'adopt a pet',
      parameters: {
        type: 'object',
        properties: {
          kind: { type: 'string', enum: ['cat', 'dog', 'bird'] },
          age: { type: 'integer' },
          name: { type: 'string' },
          vaccinated: { type: 'boolean' },
        },
        required: ['kind', 'age', 'name', 'vaccinated'],
        additionalProperties: false,
      },
    },
  },
] as const;

const LOOP = program(`
  const { tools, rounds, maxTokens } = ctx.args;
  const tasks = ['What is 2 + 3?', 'Once upon a time', 'What time is it?', 'Lily wanted a dog.', 'Tom had a red ball.'];
  const calls = [];
  let errors = 0;
  for (let i = 0; calls.length < rounds && i < rounds * 2; i++) {
    const messages = [{ role: 'user', content: tasks[i % tasks.length] }];
    const out = await ctx.llm.chat.completions.create({
      model: 'stories260K',
      messages,
      tools,
      tool_choice: 'required', // a story model writes its story when left to choose ('auto')
      temperature: i % 2 ? 0.7 : 0,
      seed: i,
      max_tokens: maxTokens,
    });
    const choice = out.choices[0];
    for (const c of choice.message.tool_calls ?? []) {
      calls.push({ name: c.function.name, arguments: c.function.arguments, finish: choice.finish_reason });
      // The loop runs what the model asked for, as an agent would (pet.adopt is not a real tool).
      if (c.function.name !== 'pet.adopt')
        await ctx.tools.call(c.function.name, JSON.parse(c.function.arguments)).catch(() => errors++);
    }
    if (!choice.message.tool_calls) calls.push({ content: choice.message.content, finish: choice.finish_reason });
  }
  await ctx.print(JSON.stringify({ calls: calls.slice(0, rounds), errors }));
`);

test('stories260K makes 100 of 100 schema-valid tool calls in an agent’s tool loop, by constrained decoding', async ({
  page,
}) => {
  test.setTimeout(300_000);
  await openOS(page);
  const result = await page.evaluate(
    async ({ source, tools }) => {
      const k = window.agentos!;
      const pid = await k.spawn(
        'tool loop',
        { models: ['stories260K'], tools: ['time.now', 'math.evaluate'] },
        { source, args: { tools, rounds: 100, maxTokens: 80 } },
      );
      const exit = await k.wait(pid, 280_000);
      return { exit, out: await k.output(pid) };
    },
    { source: LOOP, tools: TOOLS },
  );
  expect(result.exit.exitCode, result.out).toBe(0);
  const { calls } = JSON.parse(result.out) as {
    calls: Array<{ name?: string; arguments?: string; content?: string; finish: string }>;
  };
  expect(calls).toHaveLength(100);
  const validators = new Map(
    TOOLS.map((t) => [t.function.name as string, new Validator(t.function.parameters as unknown as Schema)]),
  );
  let valid = 0;
  for (const c of calls) {
    const v = c.name ? validators.get(c.name) : undefined;
    if (v && c.finish === 'tool_calls' && v.validate(JSON.parse(c.arguments!)).valid) valid++;
  }
  expect(valid, JSON.stringify(calls.filter((c) => !c.name).slice(0, 3))).toBe(100);
});
