/**
 * Agent chat as conversations: the trained stories260K model answers "Once
 * upon a time" with its reference continuation, streamed; a follow-up goes to
 * the same agent; after a reload the thread and its agent's memory are there;
 * stop, regenerate, safe Markdown, tool cards and the inline "Allow … for this
 * chat?" card; a phone-sized viewport and keyboard-only use; axe-core.
 */
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { loopbackText, openOS } from './os';

const chat = (page: Page) => page.locator('aos-app-chat');
const composer = (page: Page) => chat(page).getByRole('textbox', { name: 'message' });
const sendButton = (page: Page) => chat(page).getByRole('button', { name: 'Send', exact: true });

async function openChat(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Agent chat' }).click();
  await expect(composer(page)).toBeVisible();
}

/** Presses Tab until `target` has focus (at most 20 times). */
async function tabTo(page: Page, target: ReturnType<Page['locator']>): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if (await target.evaluate((el) => el.matches(':focus'))) return;
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}

async function setDefaultModel(page: Page, id: string): Promise<void> {
  await page.evaluate((id) => window.agentos!.call('models.default', { id }), id);
}

async function send(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

/** Waits for the answer to end (Send is enabled again) and returns the last answer's text. */
async function lastAnswer(page: Page): Promise<string> {
  await expect(sendButton(page)).toBeEnabled({ timeout: 60_000 });
  // The answer's words, without the chat's note on how it ended (stories260K fills its length limit).
  return (await chat(page).locator('.item.assistant').last().innerText())
    .replace(/\s*\(cut off: [^)]*\)\s*$/, '')
    .trim();
}

/** The chat agents that are alive, with their short-term memory. */
async function chatAgents(page: Page) {
  return page.evaluate(async () => {
    const k = window.agentos!;
    const procs = (await k.ps()).filter((p) => p.program === 'chat-agent' && p.state !== 'exited');
    return Promise.all(
      procs.map(async (p) => ({
        pid: p.pid,
        model: p.model,
        memory: (
          await k.call<{ entries: { message: { role: string; content: string | null } }[] }>(
            'memory.stm.list',
            { pid: p.pid },
          )
        ).entries.map((e) => e.message),
      })),
    );
  });
}

// The reference continuation of "Once upon a time" (greedy), from public/models/stories260K's README.
const REFERENCE = ', there was a little girl named Lily. She loved to play outside in the park.';

test('stories260K answers "Once upon a time" with its reference story; a follow-up goes to the same agent; after a reload the thread and its agent’s memory are there', async ({
  page,
}) => {
  // Three answers from a real (if tiny) model on WASM and a reload: slow on a loaded 2-core machine.
  test.setTimeout(180_000);
  await openOS(page);
  await setDefaultModel(page, 'stories260K');
  await openChat(page);
  await expect(chat(page).getByRole('combobox', { name: 'model for this chat' })).toHaveValue('stories260K');

  await send(page, 'Once upon a time');
  await expect(chat(page).locator('.item.user')).toHaveText('Once upon a time');
  // It streams: the answer has text while the agent is still writing (Stop enabled), then ends.
  const first = await lastAnswer(page);
  expect(first.startsWith(REFERENCE.trim()) || first.startsWith(REFERENCE.slice(2))).toBe(true);
  const agents = await chatAgents(page);
  expect(agents).toHaveLength(1);
  const pid = agents[0]!.pid;
  expect(agents[0]!.model).toBe('stories260K');
  expect(agents[0]!.memory.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);

  // A follow-up: the same agent, whose memory now holds both turns.
  await send(page, 'Lily saw a cat.');
  const second = await lastAnswer(page);
  expect(second.length).toBeGreaterThan(10);
  expect(second).toMatch(/[a-z]+ [a-z]+/i);
  const after = await chatAgents(page);
  expect(after.map((a) => a.pid)).toEqual([pid]);
  expect(after[0]!.memory.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
    'Once upon a time',
    'Lily saw a cat.',
  ]);
  await expect(chat(page).locator('.item.assistant')).toHaveCount(2);

  // A reload: the thread is listed and opened, and an agent holds its conversation again.
  await page.reload();
  await page.waitForFunction(() => !!window.agentos);
  await expect(chat(page).getByRole('button', { name: 'Once upon a time', exact: true })).toBeVisible();
  await expect(chat(page).locator('.item.user')).toHaveText(['Once upon a time', 'Lily saw a cat.']);
  await expect(chat(page).locator('.item.assistant').first()).toContainText('Lily');
  await expect
    .poll(async () => (await chatAgents(page)).map((a) => a.memory.filter((m) => m.role !== 'system').length))
    .toEqual([4]);
  const revived = (await chatAgents(page))[0]!;
  expect(revived.memory[1]).toEqual({ role: 'user', content: 'Once upon a time' });
  expect(revived.memory[2]!.content?.trim()).toBe(first);
  // And the conversation goes on with it.
  await send(page, 'The cat was happy.');
  await lastAnswer(page);
  const cont = (await chatAgents(page))[0]!;
  expect(cont.pid).toBe(revived.pid);
  expect(cont.memory.filter((m) => m.role === 'user')).toHaveLength(3);
});

test('stop ends an answer midway and the chat goes on; regenerate replaces the last answer', async ({
  page,
}) => {
  await openOS(page);
  await page.evaluate(() =>
    window.agentos!.call('models.load', {
      id: 'slow-chat',
      engine: 'deterministic',
      options: { decodeTokensPerSecond: 5, defaultLength: 200 },
    }),
  );
  await setDefaultModel(page, 'slow-chat');
  await openChat(page);
  await send(page, 'tell me about the kernel');
  const stop = chat(page).getByRole('button', { name: 'Stop' });
  // Some of the answer is there (Markdown paragraphs), and more is coming.
  await expect(chat(page).locator('.item.assistant').last().locator('p').first()).toBeVisible();
  await stop.click();
  await expect(chat(page).locator('.item.assistant').last()).toContainText('(stopped)');
  await expect(sendButton(page)).toBeEnabled();
  const stoppedText = (await chat(page).locator('.item.assistant').last().innerText()).replace(
    '(stopped)',
    '',
  );
  // 200 tokens at 5 a second could not have been written in full.
  expect(stoppedText.trim().split(/\s+/).length).toBeLessThan(100);
  const [agent] = await chatAgents(page);
  expect(agent!.memory.at(-1)!.role).toBe('assistant');

  // Regenerate, on a fast model: a different answer replaces the last one; memory keeps only it.
  await page.evaluate(() =>
    window.agentos!.call('models.load', { id: 'fast-chat', engine: 'deterministic', options: {} }),
  );
  await chat(page).getByRole('combobox', { name: 'model for this chat' }).selectOption('fast-chat');
  await send(page, 'tell me about memory');
  const before = await lastAnswer(page);
  await chat(page).getByRole('button', { name: 'Regenerate' }).click();
  const regenerated = await lastAnswer(page);
  expect(regenerated).not.toBe(before);
  expect(regenerated.length).toBeGreaterThan(10);
  await expect(chat(page).locator('.item.assistant')).toHaveCount(2);
  const [again] = await chatAgents(page);
  const tail = again!.memory.slice(again!.memory.findLastIndex((m) => m.role === 'user'));
  expect(tail.map((m) => m.role)).toEqual(['user', 'assistant']);
  expect(tail[1]!.content).toBe(regenerated);
});

test('a conversation that outgrows the model’s context is summarised in the agent’s memory, and goes on', async ({
  page,
}) => {
  await openOS(page);
  await page.evaluate(() =>
    window.agentos!.call('models.load', {
      id: 'small-context',
      engine: 'deterministic',
      options: { contextWindow: 160 },
    }),
  );
  await setDefaultModel(page, 'small-context');
  await openChat(page);
  const said: string[] = [];
  for (let i = 1; i <= 6; i++) {
    const line = `say turn ${i} ${'word '.repeat(12)}`;
    said.push(line);
    await send(page, line);
    expect(await lastAnswer(page)).toBe(`turn ${i} ${'word '.repeat(12)}`.trim());
  }
  const [agent] = await chatAgents(page);
  // The oldest turns were replaced by a summary; the newest are kept word for word.
  expect(
    agent!.memory.some(
      (m) => m.role === 'system' && /^Summary of earlier conversation/.test(m.content ?? ''),
    ),
  ).toBe(true);
  expect(agent!.memory.filter((m) => m.role === 'user').map((m) => m.content)).not.toContain(said[0]);
  expect(agent!.memory.filter((m) => m.role === 'user').at(-1)!.content).toBe(said[5]);
  // The whole thread is still shown to the user.
  await expect(chat(page).locator('.item.user')).toHaveCount(6);
});

test('a model that cannot load says why in the thread, and the chat goes on with another', async ({
  page,
}) => {
  await openOS(page);
  // A transformers.js model whose files are not on this origin: its load fails with ENOENT.
  await page.evaluate(() =>
    window
      .agentos!.call('models.load', {
        id: 'missing-model',
        engine: 'transformers',
        options: { model: 'no-such-model' },
      })
      .catch(() => null),
  );
  await setDefaultModel(page, 'missing-model');
  await openChat(page);
  await send(page, 'hello');
  await expect(sendButton(page)).toBeEnabled({ timeout: 30_000 });
  await expect(chat(page).locator('.item.error')).toContainText(
    /^The agent could not answer: ENOENT: .*no-such-model/,
  );
  await chat(page).getByRole('combobox', { name: 'model for this chat' }).selectOption('deterministic');
  await send(page, 'say it works now');
  expect(await lastAnswer(page)).toBe('it works now');
});

test('model output is rendered as Markdown with nothing in it able to run', async ({ page }) => {
  await openOS(page);
  await setDefaultModel(page, 'deterministic');
  await openChat(page);
  await send(
    page,
    'say **bold** and <img src=x onerror="window.__pwned=1"> and [a](javascript:window.__pwned=2)',
  );
  await lastAnswer(page);
  const answer = chat(page).locator('.item.assistant').last();
  await expect(answer.locator('strong')).toHaveText('bold');
  await expect(answer.locator('img')).toHaveCount(1);
  expect(await answer.locator('img').getAttribute('onerror')).toBeNull();
  expect(await answer.locator('a').getAttribute('href')).toBeNull();
  expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('a tool the agent lacks shows "Allow … for this chat?"; allowed, it runs and shows as a card', async ({
  page,
}) => {
  const { url, close } = await loopbackText('hello from loopback');
  try {
    await openOS(page);
    await setDefaultModel(page, 'deterministic');
    await openChat(page);
    await send(page, `use http.fetch url=${url}`);
    const card = chat(page).getByRole('group', { name: 'permission request' });
    await expect(card).toContainText('Allow http.fetch for this chat?');
    await expect(card).toContainText(new URL(url).origin);
    await card.getByRole('button', { name: 'Allow for this chat' }).click();
    const tool = chat(page).locator('details.tool');
    await expect(tool).toContainText('http.fetch returned');
    await tool.locator('summary').click();
    await expect(tool).toContainText('hello from loopback');
    expect(await lastAnswer(page)).toContain('hello from loopback');
    await expect(card).toHaveCount(0);
  } finally {
    close();
  }
});

test('on a phone-sized screen, by keyboard alone: write, send, read the answer; no axe violations', async ({
  page,
}) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openOS(page);
  await setDefaultModel(page, 'deterministic');
  await page.keyboard.press('Control+Alt+L');
  await expect(page.getByRole('menuitem', { name: 'Terminal' })).toBeFocused();
  // The launcher's items are one stop for Tab; the arrow keys move between them.
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menuitem', { name: 'Agent chat' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(composer(page)).toBeVisible();
  await tabTo(page, composer(page));
  await page.keyboard.type('say hello from the keyboard');
  await page.keyboard.press('Enter');
  expect(await lastAnswer(page)).toBe('hello from the keyboard');
  // Everything fits the width: no horizontal scrolling of the chat.
  const fits = await chat(page).evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
  expect(fits).toBe(true);
  const box = (await composer(page).boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);

  await page.addScriptTag({ content: readFileSync('node_modules/axe-core/axe.min.js', 'utf8') });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(ctx: unknown, o: unknown): Promise<{ violations: { id: string; nodes: unknown[] }[] }> };
      }
    ).axe;
    const r = await axe.run(
      { include: [{ fromShadowDom: ['aos-desktop', 'aos-app-chat'] }] },
      { runOnly: ['wcag2a', 'wcag2aa'] },
    );
    return r.violations.map((v) => `${v.id} (${v.nodes.length})`);
  });
  expect(violations).toEqual([]);
});
