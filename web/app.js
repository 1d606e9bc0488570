/*
 * app.js: the bink web sandbox, a single page over the App API (/app/...).
 * Plain JavaScript, no framework, no build step. Authentication is the
 * HttpOnly session cookie set by POST /app/login, so this script never sees
 * a token except a bot's, shown once when it is made. Every piece of text
 * that comes from a user or a bot is put in the page with textContent (the
 * helper h() below never parses HTML); the Content-Security-Policy forbids
 * inline scripts and styles anyway.
 */
'use strict';
(function () {
  // ------------------------------------------------------------------ util
  const $ = (id) => document.getElementById(id);

  /* h('div', {class: 'x', onclick: fn}, 'text', child...): an element whose
   * string children become text nodes (never HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k in el && typeof v !== 'string') el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  class ApiError extends Error {
    constructor(code, msg) { super(msg); this.code = code; }
  }

  /* POST /app/<method> with a JSON body; resolves to the envelope's data. */
  async function api(method, params) {
    let res;
    try {
      res = await fetch('/app/' + method, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(params || {}),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, 'the server cannot be reached');
    }
    let env = null;
    try { env = await res.json(); } catch (e) { /* not JSON */ }
    if (!env || typeof env.code !== 'number') throw new ApiError(res.status, 'HTTP ' + res.status);
    if (env.code !== 200) {
      if (env.code === 401 && method !== 'login') signedOut();
      throw new ApiError(env.code, env.msg || 'error ' + env.code);
    }
    return env.data;
  }

  function toast(text, opts) {
    opts = opts || {};
    const t = h('div', { class: 'toast' + (opts.error ? ' error' : ''), role: 'status' }, text);
    if (opts.url) t.append(h('a', { href: opts.url, target: '_blank', rel: 'noopener noreferrer' }, 'Open link'));
    $('toasts').append(t);
    setTimeout(() => t.remove(), opts.ms || 5000);
    return t;
  }
  const fail = (e) => toast(e && e.message ? e.message : String(e), { error: true });

  function fmtTime(ts) {
    if (!ts) return '';
    const d = new Date(ts * 1000);
    const now = new Date();
    const same = d.toDateString() === now.toDateString();
    return same ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }
  function fmtSize(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
    return (n / 1024 / 1024).toFixed(1) + ' MB';
  }
  const initial = (s) => (s || '?').trim().charAt(0) || '?';

  // ----------------------------------------------------------------- state
  const S = {
    me: null,             // profile
    chats: [],            // /app/chats
    cur: null,            // {type:'group'|'private', id, title, peer?, role?}
    msgs: new Map(),      // message_id -> message (current chat)
    nextBefore: '',       // history cursor of the current chat
    loadingOlder: false,
    users: new Map(),     // user_id -> Promise(card)
    commands: new Map(),  // bot_id -> Promise([commands])
    stickers: null,
    shownAnswers: new Set(),
    es: null, lastEventId: 0, reconnectTimer: 0, wasDown: false,
    ctx: null,            // {kind:'reply'|'quote'|'edit', msg}
    menu: { items: [], sel: 0 },
  };
  const chatKey = (c) => (c.type === 'group' ? 'g:' : 'p:') + c.id;

  function userCard(id) {
    if (!id) return Promise.resolve(null);
    if (S.me && id === S.me.user_id) return Promise.resolve(S.me);
    if (!S.users.has(id)) {
      const p = api('getuser', { user_id: id }).catch(() => ({ user_id: id, username: id, display_name: id }));
      S.users.set(id, p);
    }
    return S.users.get(id);
  }

  // ---------------------------------------------------------------- modals
  let modalStack = [];
  function openModal(title, build, onClose) {
    const prev = document.activeElement;
    const box = h('div', { class: 'modal', role: 'dialog', 'aria-modal': 'true', 'aria-label': title });
    const back = h('div', { class: 'modal-back' }, box);
    const close = () => {
      back.remove();
      modalStack = modalStack.filter((m) => m !== entry);
      if (onClose) onClose();
      if (prev && prev.focus) prev.focus();
    };
    const entry = { back, close };
    box.append(h('div', { class: 'head' }, h('h3', null, title),
      h('button', { type: 'button', class: 'close', 'aria-label': 'Close', onclick: close }, 'Close')));
    back.addEventListener('mousedown', (e) => { if (e.target === back) close(); });
    build(box, close);
    $('modal-root').append(back);
    modalStack.push(entry);
    const f = box.querySelector('input, textarea, button.primary') || box.querySelector('button');
    if (f) f.focus();
    return entry;
  }

  // ---------------------------------------------------------------- sign-in
  function showLogin() {
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-name').focus();
  }
  function signedOut() {
    if (!S.me) return;
    S.me = null;
    localStorage.removeItem('bink.signedIn');
    if (S.es) { S.es.close(); S.es = null; }
    clearTimeout(S.reconnectTimer);
    location.reload();
  }

  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('login-name').value.trim();
    $('login-error').textContent = '';
    $('login-submit').disabled = true;
    try {
      const me = await api('login', { username: name });
      localStorage.setItem('bink.signedIn', '1');
      start(me);
    } catch (err) {
      $('login-error').textContent = err.message;
    } finally {
      $('login-submit').disabled = false;
    }
  });

  $('btn-logout').addEventListener('click', async () => {
    try { await api('logout'); } catch (e) { /* signed out anyway */ }
    localStorage.removeItem('bink.signedIn');
    location.reload();
  });

  function start(me) {
    S.me = me;
    $('login').hidden = true;
    $('app').hidden = false;
    $('me-name').textContent = me.display_name + ' (@' + me.username + ')';
    connectEvents();
    loadChats();
    $('new-chat-name').focus();
  }

  // ------------------------------------------------------------ live events
  const EVENT_NAMES = ['message_new', 'message_edited', 'message_deleted', 'callback_answer',
    'member_joined', 'member_left', 'member_muted', 'member_unmuted', 'chat_updated'];

  function connectEvents() {
    if (S.es) S.es.close();
    clearTimeout(S.reconnectTimer);
    // A new EventSource cannot send Last-Event-ID; binkd takes it from the
    // query too, so a reconnect after the server restarted resumes exactly.
    const url = '/app/events' + (S.lastEventId ? '?last_event_id=' + S.lastEventId : '');
    const es = new EventSource(url);
    S.es = es;
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (ev) => {
        const id = Number(ev.lastEventId);
        if (id) S.lastEventId = id;
        let data = null;
        try { data = JSON.parse(ev.data); } catch (e) { return; }
        onEvent(name, data);
      });
    }
    es.onopen = () => {
      $('live-dot').classList.add('on');
      if (S.wasDown) { S.wasDown = false; loadChats(); }
    };
    es.onerror = () => {
      $('live-dot').classList.remove('on');
      S.wasDown = true;
      if (es.readyState === EventSource.CLOSED && S.es === es && S.me) {
        // The server answered with an error (it was stopping, or the
        // session ended): try again a little later, as the browser would.
        S.reconnectTimer = setTimeout(async () => {
          try { await api('me'); } catch (e) { if (e.code === 401) return; }
          if (S.me) connectEvents();
        }, 2000);
      }
    };
  }

  function inCurrent(m) {
    const c = S.cur;
    if (!c || !m) return false;
    if (m.chat_type === 'group') return c.type === 'group' && m.group_id === c.id;
    return c.type === 'private' && (m.sender_id === c.id || m.target_user_id === c.id);
  }

  let chatsTimer = 0;
  function loadChatsSoon() {
    clearTimeout(chatsTimer);
    chatsTimer = setTimeout(loadChats, 150);
  }
  let readTimer = 0;
  function markReadSoon() {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      const c = S.cur;
      if (!c) return;
      // Reading the newest page marks the chat read (app-api.md history).
      api('history', histParams(c, '', 1)).then(loadChatsSoon, () => {});
    }, 300);
  }

  function onEvent(name, d) {
    switch (name) {
      case 'message_new':
        if (inCurrent(d)) { putMessage(d, true); markReadSoon(); } else loadChatsSoon();
        break;
      case 'message_edited':
      case 'message_deleted':
        if (inCurrent(d) && S.msgs.has(d.message_id)) putMessage(d, false);
        loadChatsSoon();
        break;
      case 'callback_answer':
        showAnswer(d);
        break;
      case 'member_joined':
        if (S.cur && S.cur.type === 'group' && d.group_id === S.cur.id && d.message_id && !S.msgs.has(d.message_id))
          putMessage({ message_id: d.message_id, chat_type: 'group', group_id: d.group_id, sender_id: d.user_id,
            message_type: 'system', content: '', timestamp: Math.floor(Date.now() / 1000) }, true);
        loadChatsSoon();
        break;
      case 'member_left':
        if (S.cur && S.cur.type === 'group' && d.group_id === S.cur.id && d.user_id === S.me.user_id) {
          closeChat();
          toast('You are no longer in that group.');
        }
        loadChatsSoon();
        break;
      case 'member_muted':
      case 'member_unmuted':
        if (S.cur && S.cur.type === 'group' && d.group_id === S.cur.id && d.user_id === S.me.user_id)
          toast(name === 'member_muted' ? 'You were muted in this group.' : 'You can write in this group again.');
        loadChatsSoon();
        break;
      default:
        loadChatsSoon();
    }
  }

  // -------------------------------------------------------------- chat list
  function previewOf(m) {
    if (!m) return 'No messages yet';
    if (m.deleted) return 'Message deleted';
    const kinds = { image: 'Photo', video: 'Video', audio: 'Audio', file: 'File', sticker: 'Sticker', contact: 'Contact' };
    if (m.message_type === 'system') return m.content || 'Someone joined';
    if (m.message_type === 'text') return m.content;
    const label = '[' + (kinds[m.message_type] || m.message_type) + ']';
    if (m.message_type === 'sticker' && m.sticker && m.sticker.emoji) return label + ' ' + m.sticker.emoji;
    return m.content ? label + ' ' + m.content : label;
  }

  async function loadChats() {
    let data;
    try { data = await api('chats'); } catch (e) { if (e.code !== 401) fail(e); return; }
    S.chats = data.chats || [];
    renderChats();
  }

  function chatOf(row) {
    return row.chat_type === 'group'
      ? { type: 'group', id: row.group_id, title: row.title }
      : { type: 'private', id: row.peer.user_id, title: row.peer.display_name, peer: row.peer };
  }

  function renderChats() {
    const list = $('chat-list');
    list.replaceChildren();
    $('chat-list-empty').hidden = S.chats.length > 0;
    for (const row of S.chats) {
      const c = chatOf(row);
      const isBot = c.peer && c.peer.is_bot;
      const li = h('li', {
        class: 'chat-item' + (S.cur && chatKey(S.cur) === chatKey(c) ? ' active' : ''),
        tabindex: 0, role: 'button', 'data-key': chatKey(c),
        onclick: () => openChat(c),
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openChat(c); } },
      },
      h('span', { class: 'avatar' + (c.type === 'group' ? ' group' : isBot ? ' bot' : '') }, initial(c.title)),
      h('span', { class: 'body' },
        h('div', { class: 'title' }, c.title + (c.peer ? '  @' + c.peer.username : '')),
        h('div', { class: 'last' }, previewOf(row.last_message))),
      row.unread_count > 0 && !(S.cur && chatKey(S.cur) === chatKey(c)) ? h('span', { class: 'badge', title: 'unread' }, String(row.unread_count)) : null);
      list.append(li);
    }
  }

  $('new-chat-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('new-chat-name').value.trim().replace(/^@/, '');
    if (!name) return;
    try {
      const card = await api('getuser', { username: name });
      if (card.user_id === S.me.user_id) { toast('That is you.'); return; }
      S.users.set(card.user_id, Promise.resolve(card));
      $('new-chat-name').value = '';
      openChat({ type: 'private', id: card.user_id, title: card.display_name, peer: card });
    } catch (err) { fail(err); }
  });

  // ------------------------------------------------------------------- chat
  function histParams(c, before, limit) {
    const p = c.type === 'group' ? { group_id: c.id } : { peer_id: c.id };
    if (before) p.before = before;
    if (limit) p.limit = limit;
    return p;
  }

  async function openChat(c) {
    S.cur = c;
    S.msgs.clear();
    S.nextBefore = '';
    setContext(null);
    hidePanels();
    $('app').classList.add('in-chat');
    $('chat-none').hidden = true;
    $('chat-head').hidden = false;
    $('messages').hidden = false;
    $('composer').hidden = false;
    $('chat-title').textContent = c.title;
    $('chat-sub').textContent = c.type === 'group' ? 'group' : (c.peer && c.peer.is_bot ? 'bot @' : '@') + (c.peer ? c.peer.username : '');
    $('message-list').replaceChildren();
    $('btn-older').hidden = true;
    for (const li of document.querySelectorAll('.chat-item')) li.classList.toggle('active', li.dataset.key === chatKey(c));
    if (c.type === 'group') {
      api('getgroup', { group_id: c.id }).then((g) => {
        if (S.cur !== c) return;
        c.role = g.role;
        $('chat-sub').textContent = g.member_count + ' members · you are ' + g.role;
      }, () => {});
    }
    $('composer-text').focus();
    try {
      const data = await api('history', histParams(c, '', 30));
      if (S.cur !== c) return;
      const msgs = (data.messages || []).slice().reverse();
      for (const m of msgs) putMessage(m, false);
      S.nextBefore = data.next_before || '';
      $('btn-older').hidden = !S.nextBefore;
      scrollBottom();
      loadChatsSoon();
    } catch (e) { fail(e); }
  }

  function closeChat() {
    S.cur = null;
    S.msgs.clear();
    $('app').classList.remove('in-chat');
    $('chat-none').hidden = false;
    $('chat-head').hidden = true;
    $('messages').hidden = true;
    $('composer').hidden = true;
    for (const li of document.querySelectorAll('.chat-item')) li.classList.remove('active');
  }
  $('btn-back').addEventListener('click', closeChat);

  async function loadOlder() {
    const c = S.cur;
    if (!c || !S.nextBefore || S.loadingOlder) return;
    S.loadingOlder = true;
    const box = $('messages');
    const oldHeight = box.scrollHeight;
    try {
      const data = await api('history', histParams(c, S.nextBefore, 30));
      if (S.cur !== c) return;
      for (const m of data.messages || []) putMessage(m, false, true);
      S.nextBefore = data.next_before || '';
      $('btn-older').hidden = !S.nextBefore;
      box.scrollTop = box.scrollHeight - oldHeight + box.scrollTop;
    } catch (e) { fail(e); } finally { S.loadingOlder = false; }
  }
  $('btn-older').addEventListener('click', loadOlder);
  $('messages').addEventListener('scroll', () => { if ($('messages').scrollTop < 40) loadOlder(); });

  function nearBottom() {
    const b = $('messages');
    return b.scrollHeight - b.scrollTop - b.clientHeight < 120;
  }
  function scrollBottom() {
    const b = $('messages');
    b.scrollTop = b.scrollHeight;
  }

  /* Adds or replaces a message in the open chat. */
  function putMessage(m, isNew, prepend) {
    const stick = isNew && (nearBottom() || m.sender_id === S.me.user_id);
    S.msgs.set(m.message_id, m);
    const el = renderMessage(m);
    const old = document.querySelector('.msg[data-id="' + CSS.escape(m.message_id) + '"]');
    if (old) old.replaceWith(el);
    else if (prepend) $('message-list').prepend(el);
    else $('message-list').append(el);
    if (stick) scrollBottom();
  }

  function fileUrl(id) { return '/file/' + encodeURIComponent(id); }

  function senderName(el, id) {
    if (S.me && id === S.me.user_id) { el.textContent = 'You'; return; }
    el.textContent = id.startsWith('bot_') ? 'bot' : 'user';
    userCard(id).then((c) => { if (c) el.textContent = c.display_name; });
  }

  function snippet(m) {
    if (!m) return 'a message';
    if (m.deleted) return 'a deleted message';
    const s = previewOf(m);
    return s.length > 80 ? s.slice(0, 80) + '…' : s;
  }

  function jumpTo(id) {
    const el = document.querySelector('.msg[data-id="' + CSS.escape(id) + '"]');
    if (!el) return;
    el.scrollIntoView({ block: 'center' });
    el.classList.add('flash');
    setTimeout(() => el.classList.remove('flash'), 1200);
  }

  function renderBody(m) {
    const parts = [];
    const f = m.file || {};
    switch (m.message_type) {
      case 'text':
      case 'system':
        parts.push(h('div', { class: 'text' }, m.content));
        return parts;
      case 'image':
        parts.push(h('a', { href: fileUrl(m.file_id), target: '_blank', rel: 'noopener' },
          h('img', { class: 'media', src: fileUrl(m.file_id), alt: f.file_name || 'image', loading: 'lazy' })));
        break;
      case 'video':
        parts.push(h('video', { class: 'media', src: fileUrl(m.file_id), controls: true, preload: 'metadata' }));
        break;
      case 'audio':
        parts.push(h('audio', { class: 'media', src: fileUrl(m.file_id), controls: true, preload: 'metadata' }));
        break;
      case 'sticker':
        parts.push(h('img', { class: 'sticker', src: fileUrl(m.file_id), alt: (m.sticker && m.sticker.emoji) || 'sticker' }));
        return parts;
      case 'contact': {
        const c = m.contact || {};
        parts.push(h('div', { class: 'contact-card' },
          h('span', { class: 'avatar' + (c.is_bot ? ' bot' : '') }, initial(c.display_name)),
          h('span', { class: 'who' }, h('b', null, c.display_name || ''), h('span', { class: 'un' }, '@' + (c.username || ''))),
          c.user_id && c.user_id !== S.me.user_id
            ? h('button', { type: 'button', onclick: () => openChat({ type: 'private', id: c.user_id, title: c.display_name, peer: c }) }, 'Message')
            : null));
        return parts;
      }
      default:
        break;
    }
    if (m.message_type !== 'image') {
      // Every medium also gets its link (a player may not play the format).
      parts.push(h('a', { class: 'file-link', href: fileUrl(m.file_id), download: f.file_name || 'file' },
        '↓ ', f.file_name || 'file', f.file_size ? ' (' + fmtSize(f.file_size) + ')' : ''));
    }
    if (m.content) parts.push(h('div', { class: 'caption' }, m.content));
    return parts;
  }

  function renderKeyboard(m) {
    const rows = (m.extra && m.extra.inline_keyboard) || [];
    if (!rows.length) return null;
    const kb = h('div', { class: 'keyboard' });
    for (const row of rows) {
      const r = h('div', { class: 'row' });
      for (const b of row || []) {
        if (b.url) {
          r.append(h('a', { href: b.url, target: '_blank', rel: 'noopener noreferrer' }, b.text + ' ↗'));
        } else {
          r.append(h('button', { type: 'button', class: 'kb-btn', onclick: (e) => clickButton(m, b, e.currentTarget) }, b.text));
        }
      }
      kb.append(r);
    }
    return kb;
  }

  function renderMessage(m) {
    const mine = S.me && m.sender_id === S.me.user_id;
    if (m.deleted) {
      return h('li', { class: 'msg deleted' + (mine ? ' mine' : ''), 'data-id': m.message_id }, 'Message deleted');
    }
    if (m.message_type === 'system') {
      const li = h('li', { class: 'msg system', 'data-id': m.message_id }, m.content);
      if (!m.content) { // a member joined (events.md): name them
        const who = h('span');
        senderName(who, m.sender_id);
        li.append(who, ' joined the group');
      }
      return li;
    }
    const li = h('li', { class: 'msg' + (mine ? ' mine' : ''), 'data-id': m.message_id, tabindex: -1 });
    if (!mine && (S.cur && (S.cur.type === 'group'))) {
      const s = h('div', { class: 'sender' });
      senderName(s, m.sender_id);
      li.append(s);
    }
    if (m.reply_to_id) {
      const ref = S.msgs.get(m.reply_to_id);
      li.append(h('div', { class: 'reply-ref', title: 'Show the message', onclick: () => jumpTo(m.reply_to_id) },
        '↪ ', snippet(ref)));
    }
    if (m.quote) {
      const who = h('span', { class: 'who' });
      senderName(who, m.quote.sender_id);
      li.append(h('blockquote', { class: 'quote', onclick: () => jumpTo(m.quote.message_id) },
        who, ': ', m.quote.content || '[' + m.quote.message_type + ']'));
    }
    li.append(...renderBody(m));
    const kb = renderKeyboard(m);
    if (kb) li.append(kb);
    li.append(h('div', { class: 'meta' }, fmtTime(m.timestamp), m.edited_at ? ' · edited' : ''));
    const acts = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'act-reply', onclick: () => setContext({ kind: 'reply', msg: m }) }, 'Reply'),
      h('button', { type: 'button', class: 'act-quote', onclick: () => setContext({ kind: 'quote', msg: m }) }, 'Quote'));
    if (mine && m.message_type === 'text')
      acts.append(h('button', { type: 'button', class: 'act-edit', onclick: () => setContext({ kind: 'edit', msg: m }) }, 'Edit'));
    if (mine || (S.cur && S.cur.type === 'group' && (S.cur.role === 'admin' || S.cur.role === 'owner')))
      acts.append(h('button', { type: 'button', class: 'act-delete', onclick: () => deleteMessage(m) }, 'Delete'));
    li.append(acts);
    return li;
  }

  async function deleteMessage(m) {
    if (!confirm('Delete this message?')) return;
    try {
      await api('deletemessage', { message_id: m.message_id });
    } catch (e) { fail(e); }
  }

  // ---------------------------------------------------------------- buttons
  function showAnswer(a) {
    if (!a || !a.callback_id || S.shownAnswers.has(a.callback_id)) return;
    S.shownAnswers.add(a.callback_id);
    if (!a.text && !a.url) return;
    if (a.show_alert) {
      openModal('Message from the bot', (box, close) => {
        box.classList.add('alert');
        box.append(h('p', { class: 'alert-text' }, a.text || ''));
        const row = h('div', { class: 'row' });
        if (a.url) row.append(h('a', { href: a.url, target: '_blank', rel: 'noopener noreferrer', class: 'alert-url' }, 'Open ' + a.url));
        row.append(h('span', { class: 'spacer' }), h('button', { type: 'button', class: 'primary', onclick: close }, 'OK'));
        box.append(row);
      });
    } else {
      toast(a.text || 'The bot sent a link.', { url: a.url || null });
    }
  }

  async function clickButton(m, b, el) {
    el.disabled = true;
    el.classList.add('busy');
    try {
      const r = await api('clickbutton', { message_id: m.message_id, callback_data: b.callback_data, wait: 10 });
      if (r.answer) showAnswer(Object.assign({ callback_id: r.callback_id }, r.answer));
      else if (!S.shownAnswers.has(r.callback_id)) toast('The bot did not answer in time.');
    } catch (e) { fail(e); } finally {
      el.disabled = false;
      el.classList.remove('busy');
    }
  }

  // --------------------------------------------------------------- composer
  const text = $('composer-text');

  function setContext(ctx) {
    S.ctx = ctx;
    const box = $('composer-ctx');
    if (!ctx) { box.hidden = true; if (text.dataset.editing) { text.value = ''; delete text.dataset.editing; } return; }
    const label = { reply: 'Reply to: ', quote: 'Quote: ', edit: 'Edit: ' }[ctx.kind];
    $('composer-ctx-text').textContent = label + snippet(ctx.msg);
    box.hidden = false;
    if (ctx.kind === 'edit') { text.value = ctx.msg.content; text.dataset.editing = '1'; }
    text.focus();
  }
  $('composer-ctx-cancel').addEventListener('click', () => setContext(null));

  function target() {
    const c = S.cur;
    return c.type === 'group' ? { group_id: c.id } : { target_user_id: c.id };
  }

  async function send(params) {
    const p = Object.assign(target(), params);
    if (S.ctx && S.ctx.kind === 'reply') p.reply_to_id = S.ctx.msg.message_id;
    if (S.ctx && S.ctx.kind === 'quote') p.quote_message_id = S.ctx.msg.message_id;
    const m = await api('sendmessage', p);
    setContext(null);
    if (m && m.message_id && inCurrent(m)) putMessage(m, true);
    return m;
  }

  async function submitText() {
    const value = text.value;
    if (!S.cur || !value.trim()) return;
    $('btn-send').disabled = true;
    try {
      if (S.ctx && S.ctx.kind === 'edit') {
        const m = await api('editmessage', { message_id: S.ctx.msg.message_id, content: value });
        delete text.dataset.editing;
        setContext(null);
        if (m && m.message_id) putMessage(m, false);
      } else {
        await send({ message_type: 'text', content: value });
      }
      text.value = '';
      autosize();
      hideMenu();
    } catch (e) { fail(e); } finally {
      $('btn-send').disabled = false;
      text.focus();
    }
  }

  $('composer-form').addEventListener('submit', (e) => { e.preventDefault(); submitText(); });

  function autosize() {
    text.style.height = 'auto';
    text.style.height = Math.min(text.scrollHeight + 2, 140) + 'px';
  }

  text.addEventListener('keydown', (e) => {
    const menuOpen = !$('command-menu').hidden;
    if (menuOpen && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      moveMenu(e.key === 'ArrowDown' ? 1 : -1);
      return;
    }
    if (menuOpen && (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey))) {
      const item = S.menu.items[S.menu.sel];
      if (item) { e.preventDefault(); pickCommand(item); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitText();
    } else if (e.key === 'Escape') {
      if (menuOpen) hideMenu();
      else if (!$('sticker-panel').hidden) $('sticker-panel').hidden = true;
      else if (S.ctx) setContext(null);
      else return;
      e.stopPropagation();
    }
  });
  text.addEventListener('input', () => { autosize(); updateMenu(); });

  // the bot's command menu
  function botsOfChat() {
    const c = S.cur;
    if (!c) return [];
    if (c.type === 'private') return c.peer && c.peer.is_bot ? [c.id] : [];
    const ids = new Set();
    for (const m of S.msgs.values()) if (m.sender_id && m.sender_id.startsWith('bot_')) ids.add(m.sender_id);
    return [...ids];
  }
  function commandsOf(botId) {
    if (!S.commands.has(botId)) {
      S.commands.set(botId, api('commands', { bot_id: botId }).then((d) => d.commands || [], () => []));
    }
    return S.commands.get(botId);
  }
  async function updateMenu() {
    const v = text.value;
    const m = /^\/(\w*)$/.exec(v);
    if (!m || !S.cur) { hideMenu(); return; }
    const bots = botsOfChat();
    const lists = await Promise.all(bots.map((b) => commandsOf(b).then((cs) => cs.map((c) => ({ bot: b, command: c.command, description: c.description })))));
    if (text.value !== v) return;
    const prefix = m[1].toLowerCase();
    const items = lists.flat().filter((c) => c.command.toLowerCase().startsWith(prefix));
    S.menu = { items, sel: 0 };
    const menu = $('command-menu');
    menu.replaceChildren();
    if (!items.length) { menu.hidden = true; return; }
    items.forEach((c, i) => {
      menu.append(h('li', {
        role: 'option', class: i === 0 ? 'sel' : '', 'aria-selected': i === 0 ? 'true' : 'false',
        onmousedown: (e) => { e.preventDefault(); pickCommand(c); },
      }, h('span', { class: 'cmd' }, '/' + c.command), h('span', { class: 'desc' }, c.description)));
    });
    menu.hidden = false;
  }
  function moveMenu(d) {
    const n = S.menu.items.length;
    if (!n) return;
    S.menu.sel = (S.menu.sel + d + n) % n;
    [...$('command-menu').children].forEach((li, i) => {
      li.classList.toggle('sel', i === S.menu.sel);
      li.setAttribute('aria-selected', i === S.menu.sel ? 'true' : 'false');
      if (i === S.menu.sel) li.scrollIntoView({ block: 'nearest' });
    });
  }
  function hideMenu() { $('command-menu').hidden = true; S.menu = { items: [], sel: 0 }; }
  function pickCommand(c) {
    text.value = '/' + c.command + ' ';
    hideMenu();
    text.focus();
  }

  // stickers
  $('btn-stickers').addEventListener('click', async () => {
    const panel = $('sticker-panel');
    if (!panel.hidden) { panel.hidden = true; return; }
    try {
      if (!S.stickers) {
        const res = await fetch('/app/stickers', { credentials: 'same-origin' });
        const env = await res.json();
        if (env.code !== 200) throw new ApiError(env.code, env.msg);
        S.stickers = env.data.stickers || [];
      }
    } catch (e) { fail(e); return; }
    panel.replaceChildren();
    if (!S.stickers.length) panel.append(h('span', { class: 'hint' }, 'No stickers on this server.'));
    for (const s of S.stickers) {
      panel.append(h('button', {
        type: 'button', title: s.emoji + ' (' + s.set_name + ')',
        onclick: async () => {
          panel.hidden = true;
          try { await send({ message_type: 'sticker', file_id: s.sticker_id }); } catch (e) { fail(e); }
        },
      }, h('img', { src: fileUrl(s.sticker_id), alt: s.emoji })));
    }
    panel.hidden = false;
  });

  // contact cards
  $('btn-contact').addEventListener('click', () => {
    openModal('Send a contact card', (box, close) => {
      const input = h('input', { placeholder: 'username', spellcheck: 'false', autocapitalize: 'off' });
      const form = h('form', { class: 'row' }, input, h('button', { type: 'submit', class: 'primary' }, 'Send'));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const card = await api('getuser', { username: input.value.trim().replace(/^@/, '') });
          await send({ message_type: 'contact', file_id: card.user_id });
          close();
        } catch (err) { fail(err); }
      });
      box.append(form);
    });
  });

  // file upload with a progress bar
  function upload(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/app/uploadfile');
      xhr.responseType = 'json';
      xhr.upload.addEventListener('progress', (e) => {
        if (!e.lengthComputable) return;
        const pct = Math.round((e.loaded / e.total) * 100);
        $('upload-bar').value = pct;
        $('upload-label').textContent = file.name + ' · ' + pct + '%';
      });
      xhr.addEventListener('load', () => {
        const env = xhr.response;
        if (env && env.code === 200) resolve(env.data);
        else reject(new ApiError(env ? env.code : xhr.status, env ? env.msg : 'upload failed (HTTP ' + xhr.status + ')'));
      });
      xhr.addEventListener('error', () => reject(new ApiError(0, 'upload failed: the server cannot be reached')));
      const fd = new FormData();
      fd.append('file', file, file.name);
      xhr.send(fd);
    });
  }

  function typeFor(mime) {
    if (/^image\/(jpeg|png|gif|webp)$/.test(mime)) return 'image';
    if (/^video\/(mp4|quicktime|webm)$/.test(mime)) return 'video';
    if (/^audio\/(mpeg|wav|x-wav|mp4|ogg|flac)$/.test(mime)) return 'audio';
    return 'file';
  }

  $('file-input').addEventListener('change', async (e) => {
    const file = e.target.files && e.target.files[0];
    e.target.value = '';
    if (!file || !S.cur) return;
    $('upload').hidden = false;
    $('upload-bar').value = 0;
    $('upload-label').textContent = file.name;
    try {
      const f = await upload(file);
      const caption = text.dataset.editing ? '' : text.value.trim();
      const type = typeFor(f.mime_type);
      try {
        await send({ message_type: type, file_id: f.file_id, content: caption || undefined });
      } catch (err) {
        if (type === 'file' || err.code !== 400) throw err;
        await send({ message_type: 'file', file_id: f.file_id, content: caption || undefined });
      }
      if (caption) { text.value = ''; autosize(); }
    } catch (err) { fail(err); } finally {
      $('upload').hidden = true;
    }
  });

  function hidePanels() {
    hideMenu();
    $('sticker-panel').hidden = true;
  }

  // ----------------------------------------------------------------- groups
  $('btn-new-group').addEventListener('click', () => {
    openModal('New group', (box, close) => {
      const title = h('input', { placeholder: 'Title', maxlength: 128, 'aria-label': 'Group title' });
      const form = h('form', { class: 'row' }, title, h('button', { type: 'submit', class: 'primary' }, 'Create'));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const g = await api('creategroup', { title: title.value.trim() });
          close();
          await loadChats();
          openChat({ type: 'group', id: g.group_id, title: g.title });
        } catch (err) { fail(err); }
      });
      box.append(form);
    });
  });

  $('btn-chat-info').addEventListener('click', () => {
    const c = S.cur;
    if (!c) return;
    if (c.type === 'private') { peerInfo(c); return; }
    groupInfo(c);
  });

  function peerInfo(c) {
    openModal(c.title, (box) => {
      const p = c.peer || {};
      box.append(h('p', null, (p.is_bot ? 'Bot ' : 'User ') + '@' + (p.username || '')));
      if (p.is_bot) {
        const list = h('ul');
        commandsOf(c.id).then((cs) => {
          if (!cs.length) list.append(h('li', null, 'This bot has no command menu.'));
          for (const cmd of cs) list.append(h('li', null, h('b', null, '/' + cmd.command), ' — ', cmd.description));
        });
        box.append(h('section', null, h('h4', null, 'Commands'), list));
        box.append(h('div', { class: 'row' },
          h('button', { type: 'button', class: 'danger', onclick: async () => {
            try { await api('blockbot', { bot_id: c.id, blocked: true }); toast('Blocked: the bot can no longer write to you.'); } catch (e) { fail(e); }
          } }, 'Block bot'),
          h('button', { type: 'button', onclick: async () => {
            try { await api('blockbot', { bot_id: c.id, blocked: false }); toast('Unblocked.'); } catch (e) { fail(e); }
          } }, 'Unblock')));
      }
    });
  }

  function groupInfo(c) {
    openModal(c.title, (box, close) => {
      const info = h('p', { class: 'group-info' }, 'Loading…');
      const members = h('ul', { class: 'member-list' });
      const adminBox = h('section', { hidden: true });
      box.append(info, adminBox);
      let role = '';
      const refresh = async () => {
        try {
          const g = await api('getgroup', { group_id: c.id });
          role = g.role;
          c.role = g.role;
          info.textContent = g.member_count + ' members · you are ' + g.role + (g.username ? ' · @' + g.username : '');
          if (role === 'admin' || role === 'owner') {
            adminBox.hidden = false;
            const d = await api('members', { group_id: c.id });
            members.replaceChildren();
            for (const mb of d.members || []) members.append(memberRow(mb));
          }
        } catch (e) { fail(e); }
      };
      const memberRow = (mb) => {
        const li = h('li', { 'data-user': mb.username },
          h('span', { class: 'who' }, mb.display_name + ' @' + mb.username + ' '),
          h('span', { class: 'tag' }, mb.role), mb.is_bot ? h('span', { class: 'tag' }, 'bot') : null,
          mb.muted ? h('span', { class: 'tag' }, 'muted') : null);
        if (mb.user_id === S.me.user_id || mb.role === 'owner') return li;
        if (role === 'owner')
          li.append(h('button', { type: 'button', class: 'btn-admin', onclick: () => act('setadmin', { user_id: mb.user_id, admin: mb.role !== 'admin' }) },
            mb.role === 'admin' ? 'Remove admin' : 'Make admin'));
        li.append(h('button', { type: 'button', class: mb.muted ? 'btn-unmute' : 'btn-mute', onclick: () => act(mb.muted ? 'unmutemember' : 'mutemember', { user_id: mb.user_id }) },
          mb.muted ? 'Unmute' : 'Mute'));
        li.append(h('button', { type: 'button', class: 'danger btn-remove', onclick: () => act('removemember', { user_id: mb.user_id }) }, 'Remove'));
        return li;
      };
      const act = async (method, params) => {
        try { await api(method, Object.assign({ group_id: c.id }, params)); await refresh(); } catch (e) { fail(e); }
      };
      const addInput = h('input', { placeholder: 'username of a user or a bot', class: 'add-member-name', spellcheck: 'false', autocapitalize: 'off' });
      const addForm = h('form', { class: 'row' }, addInput, h('button', { type: 'submit', class: 'primary' }, 'Add member'));
      addForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const card = await api('getuser', { username: addInput.value.trim().replace(/^@/, '') });
          await api('addmember', { group_id: c.id, user_id: card.user_id });
          addInput.value = '';
          toast('Added ' + card.display_name + '.');
          await refresh();
        } catch (err) { fail(err); }
      });
      adminBox.append(h('h4', null, 'Members'), addForm, members);
      box.append(h('div', { class: 'row' }, h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'danger btn-leave', onclick: async () => {
          if (!confirm('Leave ' + c.title + '?')) return;
          try { await api('leavegroup', { group_id: c.id }); close(); closeChat(); loadChats(); } catch (e) { fail(e); }
        } }, 'Leave group')));
      refresh();
    });
  }

  // ------------------------------------------------------------------- bots
  function tokenBox(token) {
    const code = h('code', { class: 'token' }, token);
    const copy = h('button', { type: 'button', class: 'copy', onclick: async () => {
      try {
        await navigator.clipboard.writeText(token);
        toast('Token copied.');
      } catch (e) {
        const r = document.createRange();
        r.selectNodeContents(code);
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
        toast('Press Ctrl+C to copy the selected token.');
      }
    } }, 'Copy');
    return h('div', null,
      h('p', null, 'The token, shown only this once. Keep it secret: it lets a program act as the bot.'),
      h('div', { class: 'token-box' }, code, copy));
  }

  $('btn-bots').addEventListener('click', () => {
    let timer = 0;
    openModal('Your bots', (box) => {
      const list = h('div', { class: 'bot-list' });
      const uname = h('input', { placeholder: 'username (must end in bot)', class: 'new-bot-username', spellcheck: 'false', autocapitalize: 'off' });
      const dname = h('input', { placeholder: 'display name', class: 'new-bot-name' });
      const created = h('div');
      const form = h('form', { class: 'row' }, uname, dname, h('button', { type: 'submit', class: 'primary' }, 'Create bot'));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          const b = await api('createbot', { username: uname.value.trim(), display_name: dname.value.trim() || uname.value.trim() });
          uname.value = ''; dname.value = '';
          created.replaceChildren(h('p', null, 'Bot @' + b.username + ' created.'), tokenBox(b.token));
          await refresh();
        } catch (err) { fail(err); }
      });
      box.append(h('section', null, h('h4', null, 'Create a bot'), form, created), h('section', null, h('h4', null, 'Bots you own'), list));
      const logs = new Map(); // bot_id -> refresh fn of its open log
      const refresh = async () => {
        try {
          const d = await api('mybots');
          list.replaceChildren();
          if (!(d.bots || []).length) list.append(h('p', { class: 'hint' }, 'None yet.'));
          for (const b of d.bots || []) list.append(botCard(b, logs));
        } catch (e) { fail(e); }
      };
      refresh();
      timer = setInterval(() => { for (const f of logs.values()) f(); }, 3000);
    }, () => clearInterval(timer));
  });

  function botCard(b, logs) {
    const card = h('div', { class: 'bot-card', 'data-bot': b.username });
    const out = h('div');
    const privacy = h('input', { type: 'checkbox', checked: !!b.privacy_mode, class: 'privacy' });
    privacy.addEventListener('change', async () => {
      try {
        await api('updatebot', { bot_id: b.bot_id, privacy_mode: privacy.checked });
        toast('Privacy mode ' + (privacy.checked ? 'on' : 'off') + '.');
      } catch (e) { privacy.checked = !privacy.checked; fail(e); }
    });
    const url = h('input', { placeholder: 'https://example.com/webhook (empty: none)', value: b.webhook_url || '', class: 'webhook-url', spellcheck: 'false' });
    const secret = h('input', { placeholder: b.has_webhook_secret ? 'secret set (type to replace)' : 'secret (16+ characters, optional)', class: 'webhook-secret', type: 'password', autocomplete: 'new-password' });
    const whForm = h('form', { class: 'row' }, url, secret, h('button', { type: 'submit', class: 'primary save-webhook' }, 'Save webhook'));
    whForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const p = { bot_id: b.bot_id, webhook_url: url.value.trim() };
      if (secret.value) p.webhook_secret = secret.value;
      try { await api('updatebot', p); secret.value = ''; toast('Webhook saved.'); if (logs.has(b.bot_id)) logs.get(b.bot_id)(); } catch (err) { fail(err); }
    });
    const revoke = h('button', { type: 'button', class: 'danger revoke', onclick: async () => {
      if (!confirm('Make a new token for @' + b.username + '? The old one stops working at once.')) return;
      try { const r = await api('revoketoken', { bot_id: b.bot_id }); out.replaceChildren(tokenBox(r.token)); } catch (e) { fail(e); }
    } }, 'Revoke token');
    const logBtn = h('button', { type: 'button', class: 'show-log' }, 'Delivery log');
    const logBox = h('div', { class: 'table-wrap', hidden: true });
    const loadLog = async () => {
      try {
        const d = await api('deliveries', { bot_id: b.bot_id, limit: 20 });
        const rows = d.deliveries || [];
        const table = h('table', { class: 'deliveries' },
          h('thead', null, h('tr', null, ...['time', 'event', 'attempt', 'status', 'HTTP', 'latency', 'error', ''].map((t) => h('th', null, t)))));
        const tb = h('tbody');
        for (const r of rows) {
          tb.append(h('tr', { 'data-update': r.update_id },
            h('td', null, fmtTime(r.at)), h('td', null, r.event_type), h('td', null, String(r.attempt)),
            h('td', { class: 'st-' + r.status }, r.status), h('td', null, r.http_status ? String(r.http_status) : ''),
            h('td', null, r.latency_ms || r.latency_ms === 0 ? r.latency_ms + ' ms' : ''), h('td', null, r.error || ''),
            h('td', null, h('button', { type: 'button', class: 'redeliver', onclick: async () => {
              try { await api('redeliver', { bot_id: b.bot_id, update_id: r.update_id }); toast('Queued again.'); loadLog(); } catch (e) { fail(e); }
            } }, 'Redeliver'))));
        }
        table.append(tb);
        logBox.replaceChildren(rows.length ? table : h('p', { class: 'hint' }, 'No webhook deliveries yet.'));
      } catch (e) { fail(e); logs.delete(b.bot_id); }
    };
    logBtn.addEventListener('click', () => {
      logBox.hidden = !logBox.hidden;
      if (logBox.hidden) logs.delete(b.bot_id);
      else { logs.set(b.bot_id, loadLog); loadLog(); }
    });
    card.append(
      h('div', { class: 'row' }, h('span', { class: 'name' }, b.display_name + ' @' + b.username), h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'open-chat', onclick: () => {
          for (const m of [...modalStack]) m.close();
          openChat({ type: 'private', id: b.bot_id, title: b.display_name, peer: { user_id: b.bot_id, username: b.username, display_name: b.display_name, is_bot: true } });
        } }, 'Chat')),
      h('label', { class: 'check' }, privacy, ' Privacy mode (in groups, hear only commands, mentions and replies)'),
      whForm, h('div', { class: 'row' }, revoke, logBtn), out, logBox);
    return card;
  }

  // --------------------------------------------------------------- keyboard
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    if (modalStack.length) { modalStack[modalStack.length - 1].close(); e.preventDefault(); return; }
    if (!$('sticker-panel').hidden || !$('command-menu').hidden) { hidePanels(); return; }
    if (S.cur && document.activeElement !== text) closeChat();
  });

  // ------------------------------------------------------------------- boot
  async function boot() {
    if (localStorage.getItem('bink.signedIn')) {
      try {
        const me = await api('me');
        start(me);
        return;
      } catch (e) {
        localStorage.removeItem('bink.signedIn');
      }
    }
    showLogin();
  }
  boot();
})();
