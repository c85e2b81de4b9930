import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '/work/wt/desktop/e2e/chromium.mjs';

const [, , w, h, scheme, ...cmds] = process.argv;
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: +w, height: +h }, colorScheme: scheme });
page.on('console', (m) => console.log('console:', m.type(), m.text().slice(0, 200)));
await page.goto('http://localhost:4306/');
await page.waitForFunction(() => !!window.agentos);
let n = 0;
for (const c of cmds) {
  if (c.startsWith('js:')) console.log(await page.evaluate(c.slice(3)));
  else if (c.startsWith('term:')) {
    const i = page.getByRole('textbox', { name: 'command' });
    await i.fill(c.slice(5));
    await i.press('Enter');
    await page.waitForTimeout(800);
  } else if (c.startsWith('app:')) {
    await page.getByRole('button', { name: 'AgentOS', exact: true }).click();
    await page.getByRole('menuitem', { name: c.slice(4) }).click();
    await page.waitForTimeout(800);
  } else if (c.startsWith('key:')) {
    await page.keyboard.press(c.slice(4));
    await page.waitForTimeout(200);
  } else if (c.startsWith('click:')) {
    await page
      .getByRole('button', { name: c.slice(6) })
      .first()
      .click();
    await page.waitForTimeout(500);
  } else if (c.startsWith('wait:')) await page.waitForTimeout(+c.slice(5));
  else if (c === 'shot') {
    await page.screenshot({ path: `/tmp/desk/s${n}.png` });
    console.log('shot', `/tmp/desk/s${n++}.png`);
  } else if (c === 'focus')
    console.log(
      await page.evaluate(() => {
        let e = document.activeElement;
        while (e?.shadowRoot?.activeElement) e = e.shadowRoot.activeElement;
        return e?.outerHTML.slice(0, 150);
      }),
    );
}
await browser.close();
