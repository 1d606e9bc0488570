// support.mjs: what the web sandbox's browser tests need around the page:
// a real binkd, a real bot (long polling, like any bot would), a webhook
// receiver, and headless Chromium (Debian's, driven by playwright-core;
// no browser is ever downloaded).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BINKD = process.env.BINKD || path.resolve(here, '../../build/binkd');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(here, 'artifacts');

// ------------------------------------------------------------------ binkd
/* Starts binkd on a fresh data directory (or `dataDir`) and resolves once it
 * prints "listening on http://127.0.0.1:PORT". */
export function startBinkd({ dataDir, listen = '127.0.0.1:0', args = [] } = {}) {
  dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'bink-web-'));
  const proc = spawn(BINKD, ['--listen', listen, '--data', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('binkd did not start:\n' + lines.join('\n'))), 10000);
    const onData = (buf) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (!line) continue;
        lines.push(line);
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve({
            base: m[1], port: Number(m[2]), proc, dataDir, lines,
            demo: () => JSON.parse(fs.readFileSync(path.join(dataDir, 'demo.json'), 'utf8')),
            stop: () => stopProc(proc),
          });
        }
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error('binkd exited with ' + code + ':\n' + lines.join('\n')));
    });
  });
}

function stopProc(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
    const kill = setTimeout(() => proc.kill('SIGKILL'), 15000);
    proc.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    proc.kill('SIGTERM');
  });
}

/* One Bot API or App API call with a bearer token: the envelope's data. */
export async function call(base, token, method, params) {
  const res = await fetch(base + method, {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: JSON.stringify(params || {}),
  });
  const env = await res.json();
  if (env.code !== 200) throw new Error(method + ': ' + env.code + ' ' + env.msg);
  return env.data;
}

// -------------------------------------------------------------------- bot
/* A small bot over getupdates long polling, the flow of the SDK's button
 * bot: any text is answered "You said: …" with Confirm / Cancel / Alert
 * buttons; a click is answered with answercallback (an alert with a url for
 * "alert"), and Confirm / Cancel edit the message and remove the keyboard. */
export function startTestBot(getBase, token) {
  const ctl = { stopped: false, abort: null, seen: [] };
  const keyboard = [
    [{ text: 'Confirm', callback_data: 'confirm' }, { text: 'Cancel', callback_data: 'cancel' }],
    [{ text: 'Alert', callback_data: 'alert' }],
  ];
  const api = (m, p) => call(getBase(), token, '/bot/' + m, p);
  const loop = async () => {
    await api('botapisetcommands', {
      commands: [
        { command: 'start', description: 'Say hello' },
        { command: 'help', description: 'What this bot does' },
      ],
    });
    let offset = 0;
    while (!ctl.stopped) {
      let events;
      try {
        ctl.abort = new AbortController();
        const res = await fetch(getBase() + '/bot/getupdates', {
          method: 'POST',
          headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
          body: JSON.stringify({ offset, timeout: 5 }),
          signal: ctl.abort.signal,
        });
        const env = await res.json();
        if (env.code !== 200) throw new Error(env.msg);
        events = env.data;
      } catch (e) {
        if (ctl.stopped) return;
        await new Promise((r) => setTimeout(r, 300)); // the server restarts
        continue;
      }
      for (const ev of events) {
        offset = ev.update_id + 1;
        ctl.seen.push(ev);
        try { await handle(ev); } catch (e) { console.error('test bot:', e.message); }
      }
    }
  };
  const handle = async (ev) => {
    const to = ev.group_id ? { group_id: ev.group_id } : { target_user_id: ev.sender_id };
    if (ev.event_type === 'private_message' || ev.event_type === 'group_message') {
      if (ev.message_type === 'text') {
        await api('sendmessage', { ...to, message_type: 'text', content: 'You said: ' + ev.content,
          extra: { inline_keyboard: keyboard } });
      } else {
        await api('sendmessage', { ...to, message_type: 'text', content: 'Got your ' + ev.message_type + '.' });
      }
    } else if (ev.event_type === 'callback_query') {
      if (ev.callback_data === 'alert') {
        await api('answercallback', { callback_id: ev.callback_id, text: 'This is an alert.', show_alert: true,
          url: 'https://example.com/help' });
        return;
      }
      await api('answercallback', { callback_id: ev.callback_id, text: 'You clicked ' + ev.callback_data + '.' });
      await api('editmessage', { message_id: ev.message_id, content: 'You chose ' + ev.callback_data + '.',
        extra: { inline_keyboard: [] } });
    }
  };
  const done = loop();
  ctl.stop = async () => {
    ctl.stopped = true;
    if (ctl.abort) ctl.abort.abort();
    await done.catch(() => {});
  };
  return ctl;
}

// ---------------------------------------------------------------- webhook
/* A webhook receiver on 127.0.0.1: answers 200 and keeps what it got. */
export function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ url: 'http://127.0.0.1:' + server.address().port + '/hook', got,
        stop: () => new Promise((r) => server.close(r)) });
    });
  });
}

// ---------------------------------------------------------------- browser
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/* Debian's Chromium. playwright-core gives every launch a fresh profile
 * (its own temporary --user-data-dir) and removes it on close. */
export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/* A page in a new context (its own cookies) that records console errors,
 * uncaught exceptions and dialogs (alert() from injected markup would show
 * up there). */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('exception: ' + e.message));
  page.on('dialog', async (d) => {
    dialogs.push(d.type() + ': ' + d.message());
    if (d.type() === 'confirm') await d.accept(); else await d.dismiss();
  });
  return { context, page, problems, dialogs };
}

export async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: false });
}

/* Signs in on the page by username. */
export async function signIn(page, base, username) {
  await page.goto(base + '/');
  await page.locator('#login-name').fill(username);
  await page.locator('#login-name').press('Enter');
  await page.locator('#me-name').filter({ hasText: '@' + username }).waitFor();
}

/* Opens a private chat with `username` from the sidebar. */
export async function openPrivate(page, username) {
  await page.locator('#new-chat-name').fill(username);
  await page.locator('#new-chat-name').press('Enter');
  await page.locator('#chat-title').filter({ hasText: /./ }).waitFor();
  await page.locator('#chat-sub').filter({ hasText: '@' + username }).waitFor();
}

/* Types a message in the composer and sends it with Enter. */
export async function sendText(page, text) {
  await page.locator('#composer-text').fill(text);
  await page.locator('#composer-text').press('Enter');
}

/* A valid w x h PNG filled with one colour (built here: no binary fixture). */
export function makePng(w, h, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const x of buf) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set([r, g, b], y * (w * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}
