// web.test.mjs: end-to-end tests of the web sandbox (docs/web.md) in
// headless Chromium against a real binkd started with --demo, with
// demo_bot played by a real long-polling bot (support.mjs).
//   cd tests/web && npm ci && BINKD=../../build/binkd npm test
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  call, launchBrowser, makePng, newPage, openPrivate, sendText, shot, signIn, startBinkd,
  startReceiver, startTestBot,
} from './support.mjs';

let srv;      // the binkd under test
let base;     // its URL
let demo;     // demo.json: alice, demo_bot, the Demo group
let bot;      // the test bot playing demo_bot
let browser;

before(async () => {
  srv = await startBinkd({ args: ['--demo'] });
  base = srv.base;
  demo = srv.demo();
  bot = startTestBot(() => base, demo.bot_token);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (bot) await bot.stop();
  if (srv) {
    const code = await srv.stop();
    assert.equal(code, 0, 'binkd stops cleanly (exit 0):\n' + srv.lines.slice(-30).join('\n'));
  }
});

/* Every page must end its test without console errors, exceptions or
 * dialogs (an alert() would mean injected markup ran). */
function clean(p) {
  assert.deepEqual(p.problems, [], 'console errors or exceptions');
  assert.deepEqual(p.dialogs.filter((d) => d.startsWith('alert')), [], 'alerts');
}

describe('static files', () => {
  test('the page and its files carry type, cache and security headers', async () => {
    const page = await fetch(base + '/');
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const csp = page.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self';/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /connect-src 'self'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<style|style=|onclick=/i, 'no inline script or style');

    for (const [file, type] of [['app.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8'], ['icon.svg', 'image/svg+xml']]) {
      const r = await fetch(base + '/web/' + file);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('content-type'), type);
      const etag = r.headers.get('etag');
      assert.match(etag, /^"[0-9a-f]{20}"$/);
      const again = await fetch(base + '/web/' + file, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304, file + ' revalidates');
    }
    assert.equal((await fetch(base + '/web/nope.js')).status, 404);
    assert.equal((await fetch(base + '/web/app.js', { method: 'POST' })).status, 405);
  });
});

describe('sign-in', () => {
  test('signs in by username with an HttpOnly SameSite=Strict cookie, and out', async () => {
    const p = await newPage(browser);
    await p.page.goto(base + '/');
    await p.page.locator('#login-name').waitFor();
    await shot(p.page, '01-sign-in');
    await signIn(p.page, base, 'carol');
    const cookies = await p.context.cookies();
    const c = cookies.find((x) => x.name === 'bink_session');
    assert.ok(c, 'session cookie set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/');
    assert.equal(await p.page.evaluate(() => document.cookie), '', 'invisible to scripts');
    // The demo user's chats: the Demo group is there for alice, not carol.
    await p.page.locator('#chat-list-empty').waitFor();
    // A reload keeps the session.
    await p.page.reload();
    await p.page.locator('#me-name').filter({ hasText: '@carol' }).waitFor();
    await p.page.locator('#btn-logout').click();
    await p.page.locator('#login-name').waitFor();
    const status = await p.page.evaluate(async () => (await fetch('/app/me', { method: 'POST' })).status);
    assert.equal(status, 401, 'signed out');
    p.problems.length = 0; // the probe above is an expected 401
    clean(p);
    await p.context.close();
  });

  test('a bot name cannot sign in', async () => {
    const p = await newPage(browser);
    await p.page.goto(base + '/');
    await p.page.locator('#login-name').fill('demo_bot');
    await p.page.locator('#login-submit').click();
    await p.page.locator('#login-error').filter({ hasText: 'bot' }).waitFor();
    await p.context.close();
  });
});

describe('talking to demo_bot', () => {
  let p;
  before(async () => {
    p = await newPage(browser);
    await signIn(p.page, base, 'dora');
  });
  after(async () => { await p.context.close(); });

  test('a message gets the bot\'s reply with its buttons', async () => {
    await openPrivate(p.page, 'demo_bot');
    await sendText(p.page, 'hello bot');
    const reply = p.page.locator('.msg', { hasText: 'You said: hello bot' });
    await reply.waitFor();
    await reply.locator('.kb-btn', { hasText: 'Confirm' }).waitFor();
    // The chat is in the list, live.
    await p.page.locator('.chat-item', { hasText: 'Demo Bot' }).waitFor();
    await shot(p.page, '02-chat-with-bot');
    clean(p);
  });

  test('typing / opens the bot\'s command menu; Esc closes it', async () => {
    await p.page.locator('#composer-text').fill('');
    await p.page.locator('#composer-text').pressSequentially('/');
    await p.page.locator('#command-menu li', { hasText: '/start' }).waitFor();
    await p.page.locator('#command-menu li', { hasText: 'What this bot does' }).waitFor();
    await shot(p.page, '03-command-menu');
    await p.page.locator('#composer-text').pressSequentially('h');
    assert.equal(await p.page.locator('#command-menu li').count(), 1);
    await p.page.locator('#composer-text').press('Enter'); // picks /help
    assert.equal(await p.page.locator('#composer-text').inputValue(), '/help ');
    await p.page.locator('#composer-text').press('Escape');
    await p.page.locator('#composer-text').fill('');
    clean(p);
  });

  test('a click shows the answer as a toast and the edit arrives live', async () => {
    const reply = p.page.locator('.msg', { hasText: 'You said: hello bot' });
    await reply.locator('.kb-btn', { hasText: 'Confirm' }).click();
    await p.page.locator('.toast', { hasText: 'You clicked confirm.' }).waitFor();
    const edited = p.page.locator('.msg', { hasText: 'You chose confirm.' });
    await edited.waitFor();
    await edited.locator('.meta', { hasText: 'edited' }).waitFor();
    assert.equal(await edited.locator('.keyboard').count(), 0, 'keyboard removed');
    assert.equal(await p.page.locator('.msg', { hasText: 'You said: hello bot' }).count(), 0);
    await shot(p.page, '04-button-answer');
    clean(p);
  });

  test('show_alert opens a modal offering the url; Esc closes it', async () => {
    await sendText(p.page, 'alert me');
    const reply = p.page.locator('.msg', { hasText: 'You said: alert me' });
    await reply.locator('.kb-btn', { hasText: 'Alert' }).click();
    const modal = p.page.locator('.modal.alert');
    await modal.locator('.alert-text', { hasText: 'This is an alert.' }).waitFor();
    assert.equal(await modal.locator('a.alert-url').getAttribute('href'), 'https://example.com/help');
    await shot(p.page, '05-alert');
    await p.page.keyboard.press('Escape');
    await modal.waitFor({ state: 'detached' });
    clean(p);
  });

  test('an uploaded image is shown inline (the cookie opens /file/)', async () => {
    await p.page.locator('#file-input').setInputFiles({
      name: 'red.png', mimeType: 'image/png', buffer: makePng(40, 30, [200, 40, 40]),
    });
    const img = p.page.locator('.msg.mine img.media');
    await img.waitFor();
    await p.page.waitForFunction(() => {
      const el = document.querySelector('.msg.mine img.media');
      return el && el.complete && el.naturalWidth === 40 && el.naturalHeight === 30;
    });
    await p.page.locator('.msg', { hasText: 'Got your image.' }).waitFor();
    await shot(p.page, '06-image');
    clean(p);
  });

  test('markup in a message is shown as text', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    await sendText(p.page, evil);
    const mine = p.page.locator('.msg.mine .text', { hasText: evil });
    await mine.waitFor();
    assert.equal(await mine.textContent(), evil);
    await p.page.locator('.msg .text', { hasText: 'You said: ' + evil }).waitFor();
    assert.equal(await p.page.locator('img[src="x"]').count(), 0);
    await p.page.waitForTimeout(300);
    clean(p);
  });

  test('replies and quotes', async () => {
    const target = p.page.locator('.msg.mine', { hasText: 'hello bot' }).first();
    await target.locator('.act-quote').click();
    await p.page.locator('#composer-ctx-text', { hasText: 'Quote: hello bot' }).waitFor();
    await sendText(p.page, 'quoting that');
    const q = p.page.locator('.msg.mine', { hasText: 'quoting that' });
    await q.locator('blockquote.quote', { hasText: 'hello bot' }).waitFor();
    await q.locator('.act-reply').click();
    await sendText(p.page, 'a reply');
    await p.page.locator('.msg.mine', { hasText: 'a reply' }).locator('.reply-ref', { hasText: 'quoting that' }).waitFor();
    clean(p);
  });
});

describe('bots', () => {
  test('create a bot, copy its token once, set its webhook, see deliveries', async () => {
    const receiver = await startReceiver();
    const p = await newPage(browser);
    try {
      await signIn(p.page, base, 'erin');
      await p.page.locator('#btn-bots').click();
      await p.page.locator('.new-bot-username').fill('erins_test_bot');
      await p.page.locator('.new-bot-name').fill('Erin Test');
      await p.page.locator('.new-bot-name').press('Enter');
      const token = p.page.locator('.token-box code');
      await token.waitFor();
      assert.match(await token.textContent(), /^b1\./);
      const card = p.page.locator('.bot-card[data-bot="erins_test_bot"]');
      await card.waitFor();
      // privacy mode toggles
      await card.locator('input.privacy').uncheck();
      await p.page.locator('.toast', { hasText: 'Privacy mode off.' }).waitFor();
      // the webhook
      await card.locator('.webhook-url').fill(receiver.url);
      await card.locator('.webhook-secret').fill('a-secret-of-enough-length');
      await card.locator('.save-webhook').click();
      await p.page.locator('.toast', { hasText: 'Webhook saved.' }).waitFor();
      await card.locator('.show-log').click();
      await card.locator('.table-wrap', { hasText: 'No webhook deliveries yet.' }).waitFor();
      await shot(p.page, '07-bots');
      // an event for the bot: write to it
      await card.locator('.open-chat').click();
      await p.page.locator('.modal').waitFor({ state: 'detached' });
      await sendText(p.page, 'hi webhook');
      await p.page.locator('.msg.mine', { hasText: 'hi webhook' }).waitFor();
      for (let i = 0; i < 100 && receiver.got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(receiver.got.length, 1, 'the receiver got the event');
      assert.equal(JSON.parse(receiver.got[0].body).content, 'hi webhook');
      assert.ok(receiver.got[0].headers['webhook-signature']);
      // the delivery log shows it
      await p.page.locator('#btn-bots').click();
      const card2 = p.page.locator('.bot-card[data-bot="erins_test_bot"]');
      await card2.locator('.show-log').click();
      const row = card2.locator('.deliveries tbody tr').first();
      await row.locator('td', { hasText: 'delivered' }).waitFor();
      await row.locator('td', { hasText: 'private_message' }).waitFor();
      await row.locator('td', { hasText: '200' }).waitFor();
      // redeliver: the log updates by itself (polling) to a second delivery
      await row.locator('.redeliver').click();
      for (let i = 0; i < 100 && receiver.got.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(receiver.got.length, 2, 'redelivered');
      // revoke: a new token, shown once
      await card2.locator('.revoke').click();
      await card2.locator('.token-box code').waitFor();
      assert.match(await card2.locator('.token-box code').textContent(), /^b1\./);
      await shot(p.page, '08-delivery-log');
      await p.page.keyboard.press('Escape');
      clean(p);
    } finally {
      await p.context.close();
      await receiver.stop();
    }
  });
});

describe('groups', () => {
  test('two people in one group see each other live; admin, mute, leave', async () => {
    const a = await newPage(browser);
    const b = await newPage(browser);
    try {
      await signIn(b.page, base, 'gina');
      await signIn(a.page, base, 'fred');
      // fred creates a group and adds gina and demo_bot by username
      await a.page.locator('#btn-new-group').click();
      await a.page.locator('.modal input').fill('Team <b>room</b>');
      await a.page.locator('.modal input').press('Enter');
      await a.page.locator('#chat-title', { hasText: 'Team <b>room</b>' }).waitFor();
      await a.page.locator('#btn-chat-info').click();
      await a.page.locator('.add-member-name').fill('gina');
      await a.page.locator('.add-member-name').press('Enter');
      await a.page.locator('.member-list li[data-user="gina"]').waitFor();
      await a.page.locator('.add-member-name').fill('demo_bot');
      await a.page.locator('.add-member-name').press('Enter');
      await a.page.locator('.member-list li[data-user="demo_bot"]').waitFor();
      // make gina an admin, then not
      await a.page.locator('.member-list li[data-user="gina"] .btn-admin', { hasText: 'Make admin' }).click();
      await a.page.locator('.member-list li[data-user="gina"] .tag', { hasText: 'admin' }).waitFor();
      await a.page.locator('.member-list li[data-user="gina"] .btn-admin', { hasText: 'Remove admin' }).click();
      await a.page.locator('.member-list li[data-user="gina"] .tag', { hasText: 'member' }).waitFor();
      await shot(a.page, '09-group-members');
      await a.page.keyboard.press('Escape');
      // gina sees the group appear live and opens it
      const item = b.page.locator('.chat-item', { hasText: 'Team <b>room</b>' });
      await item.waitFor();
      await item.click();
      await sendText(a.page, 'hello gina');
      await b.page.locator('.msg', { hasText: 'hello gina' }).waitFor();
      await sendText(b.page, 'hello fred');
      await a.page.locator('.msg', { hasText: 'hello fred' }).locator('.sender', { hasText: 'gina' }).waitFor();
      // a command addressed to the bot in the group gets its reply
      await sendText(a.page, '/start@demo_bot');
      await b.page.locator('.msg', { hasText: 'You said: /start@demo_bot' }).waitFor();
      await shot(b.page, '10-group-second-user');
      // mute gina: she is told; her message is refused
      await a.page.locator('#btn-chat-info').click();
      await a.page.locator('.member-list li[data-user="gina"] .btn-mute').click();
      await a.page.locator('.member-list li[data-user="gina"] .tag', { hasText: 'muted' }).waitFor();
      await b.page.locator('.toast', { hasText: 'You were muted' }).waitFor();
      await a.page.locator('.member-list li[data-user="gina"] .btn-unmute').click();
      await b.page.locator('.toast', { hasText: 'You can write' }).waitFor();
      await a.page.keyboard.press('Escape');
      // gina leaves
      await b.page.locator('#btn-chat-info').click();
      await b.page.locator('.btn-leave').click();
      await b.page.locator('#chat-none').waitFor();
      await b.page.locator('.chat-item', { hasText: 'Team <b>room</b>' }).waitFor({ state: 'detached' });
      clean(a);
      clean(b);
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});

describe('small screens and keyboards', () => {
  test('at 360 px the list and the chat take turns; Esc goes back', async () => {
    const p = await newPage(browser, { viewport: { width: 360, height: 740 } });
    try {
      await p.page.goto(base + '/');
      await p.page.locator('#login-name').fill('alice');
      await p.page.keyboard.press('Enter');
      await p.page.locator('#me-name').filter({ hasText: '@alice' }).waitFor();
      await p.page.locator('.chat-item', { hasText: 'Demo' }).first().waitFor();
      await shot(p.page, '11-mobile-chats');
      const width = await p.page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 360, 'no horizontal scrolling: ' + width);
      await p.page.locator('.chat-item', { hasText: 'Demo' }).first().focus();
      await p.page.keyboard.press('Enter');
      await p.page.locator('#composer-text').waitFor();
      assert.equal(await p.page.locator('#sidebar').isVisible(), false);
      await sendText(p.page, 'from a phone');
      await p.page.locator('.msg.mine', { hasText: 'from a phone' }).waitFor();
      await shot(p.page, '12-mobile-chat');
      await p.page.locator('#btn-back').click();
      await p.page.locator('#sidebar').waitFor();
      clean(p);
    } finally {
      await p.context.close();
    }
  });
});

describe('live updates across a restart', () => {
  test('the page reconnects after binkd restarts and gets what it missed', async () => {
    const p = await newPage(browser);
    try {
      await signIn(p.page, base, 'hank');
      await openPrivate(p.page, 'demo_bot');
      await sendText(p.page, 'before the restart');
      await p.page.locator('.msg', { hasText: 'You said: before the restart' }).waitFor();
      await p.page.locator('#live-dot.on').waitFor();
      // restart binkd on the same port and data
      const { port, dataDir } = srv;
      assert.equal(await srv.stop(), 0, 'binkd stops cleanly');
      await p.page.locator('#live-dot:not(.on)').waitFor();
      srv = await startBinkd({ dataDir, listen: '127.0.0.1:' + port });
      assert.equal(srv.base, base);
      // the bot writes while the page may still be reconnecting
      const hank = await call(base, demo.bot_token, '/bot/sendmessage', {
        target_user_id: (await p.page.evaluate(async () => (await (await fetch('/app/me', { method: 'POST' })).json()).data.user_id)),
        message_type: 'text', content: 'while you were away',
      });
      assert.ok(hank.message_id);
      await p.page.locator('.msg', { hasText: 'while you were away' }).waitFor({ timeout: 20000 });
      await p.page.locator('#live-dot.on').waitFor();
      // Only the outage's own network errors are allowed here.
      const other = p.problems.filter((x) => !/ERR_CONNECTION_REFUSED|Failed to load resource|EventSource/.test(x));
      assert.deepEqual(other, []);
    } finally {
      await p.context.close();
    }
  });
});
