// opsloop sandbox console: renders the local workspace's snapshot and acts as a sample user.
// Plain JavaScript, no build step, no dependencies. Every piece of message content is put in
// the page with textContent / text nodes (never innerHTML): message text is untrusted.
"use strict";

(() => {
  const API = "/console/api/";
  // The add-reaction picker's choices: approvals first, as the bot asks for them.
  const PICKER = ["white_check_mark", "+1", "x", "eyes", "tada", "rocket", "heart", "pray"];
  const EMOJI = {
    "+1": "👍", thumbsup: "👍", "-1": "👎", thumbsdown: "👎", white_check_mark: "✅",
    heavy_check_mark: "✔️", ballot_box_with_check: "☑️", x: "❌", negative_squared_cross_mark: "❎",
    eyes: "👀", tada: "🎉", rocket: "🚀", fire: "🔥", warning: "⚠️", rotating_light: "🚨",
    hourglass: "⌛", hourglass_flowing_sand: "⏳", stopwatch: "⏱️", question: "❓",
    exclamation: "❗", heavy_exclamation_mark: "❗", red_circle: "🔴", large_green_circle: "🟢",
    large_yellow_circle: "🟡", large_blue_circle: "🔵", white_circle: "⚪", ok_hand: "👌",
    heart: "❤️", smile: "😄", slightly_smiling_face: "🙂", thinking_face: "🤔", "100": "💯",
    repeat: "🔁", arrows_counterclockwise: "🔄", no_entry: "⛔", no_entry_sign: "🚫",
    stop_sign: "🛑", construction: "🚧", bug: "🐛", ship: "🚢", wrench: "🔧", hammer: "🔨",
    gear: "⚙️", lock: "🔒", unlock: "🔓", key: "🔑", package: "📦", memo: "📝",
    clipboard: "📋", bar_chart: "📊", chart_with_upwards_trend: "📈", mag: "🔍", bell: "🔔",
    link: "🔗", robot_face: "🤖", wave: "👋", pray: "🙏", clap: "👏", sparkles: "✨",
    information_source: "ℹ️", arrow_right: "➡️", leftwards_arrow_with_hook: "↩️",
    skull: "💀", boom: "💥", whale: "🐳", calendar: "📅", pushpin: "📌", sos: "🆘",
    green_heart: "💚", broken_heart: "💔", zap: "⚡", checkered_flag: "🏁", ticket: "🎫",
    test_tube: "🧪", label: "🏷️", scroll: "📜", page_facing_up: "📄", inbox_tray: "📥",
    outbox_tray: "📤", white_square_button: "🔳", radio_button: "🔘", hourglass_done: "⌛",
  };
  const COLORS = ["#4a154b", "#1264a3", "#2eb67d", "#e01e5a", "#ecb22e", "#36c5f0", "#9f69e7"];

  const ui = {
    snap: null,
    version: null,
    channel: null,
    user: null,
    collapsed: new Set(),
    seen: {},
    history: [],
    historyAt: 0,
    usersKey: "",
    statusTimer: null,
    picker: null,
  };
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // -- lookups ------------------------------------------------------------------------
  function findUser(id) {
    return (ui.snap && ui.snap.users.find((u) => u.id === id)) || null;
  }
  function userName(id) {
    if (id === "USLACKBOT") return "Slackbot";
    const user = findUser(id);
    return user ? user.name : id || "someone";
  }
  function channelName(id) {
    const chan = ui.snap && ui.snap.channels.find((c) => c.id === id);
    return chan ? chan.name : id;
  }
  function groupHandle(id) {
    const group = ui.snap && ui.snap.usergroups.find((g) => g.id === id);
    return group ? group.handle : id;
  }
  function currentChannel() {
    return (ui.snap && ui.snap.channels.find((c) => c.id === ui.channel)) || null;
  }
  function compareTs(a, b) {
    return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  }

  // -- mrkdwn ---------------------------------------------------------------------------
  function decode(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }
  function emojify(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
  }
  function addText(parent, text) {
    parent.appendChild(document.createTextNode(emojify(decode(text))));
  }
  function safeUrl(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }
  function link(parent, url, label) {
    const href = safeUrl(url);
    if (!href) return addText(parent, label || url);
    const a = el("a", null, decode(label || url));
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    parent.appendChild(a);
  }

  // <@U..>, <#C..>, <!here>, <!subteam^S..>, <!date^..|fallback>, <url|label>
  function entity(parent, inner) {
    const bar = inner.indexOf("|");
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? "" : inner.slice(bar + 1);
    if (target.startsWith("@")) {
      parent.appendChild(el("span", "mention", "@" + (label || userName(target.slice(1)))));
    } else if (target.startsWith("#")) {
      parent.appendChild(el("span", "mention", "#" + (label || channelName(target.slice(1)))));
    } else if (target.startsWith("!subteam^")) {
      parent.appendChild(el("span", "mention", "@" + (label || groupHandle(target.slice(9)))));
    } else if (target.startsWith("!date^")) {
      addText(parent, label || target);
    } else if (target.startsWith("!")) {
      parent.appendChild(el("span", "mention", "@" + (label || target.slice(1))));
    } else if (label || safeUrl(decode(target))) {
      link(parent, decode(target), label);
    } else {
      addText(parent, "<" + inner + ">"); // not an entity: show it as typed
    }
  }

  const INLINE = new RegExp(
    [
      "`([^`\\n]+)`",
      "<([^<>\\n]+)>",
      "(?<![\\w*])\\*(?=\\S)([^*\\n]*?\\S)\\*(?![\\w*])",
      "(?<![\\w])_(?=\\S)([^_\\n]*?\\S)_(?!\\w)",
      "(?<![\\w~])~(?=\\S)([^~\\n]*?\\S)~(?![\\w~])",
    ].join("|"),
    "g",
  );

  function inline(parent, text) {
    let at = 0;
    for (const m of text.matchAll(INLINE)) {
      if (m.index > at) addText(parent, text.slice(at, m.index));
      if (m[1] !== undefined) parent.appendChild(el("code", null, decode(m[1])));
      else if (m[2] !== undefined) entity(parent, m[2]);
      else {
        const tag = m[3] !== undefined ? "strong" : m[4] !== undefined ? "em" : "s";
        const span = el(tag);
        inline(span, m[3] ?? m[4] ?? m[5]);
        parent.appendChild(span);
      }
      at = m.index + m[0].length;
    }
    if (at < text.length) addText(parent, text.slice(at));
  }

  function lines(parent, text) {
    const rows = text.split("\n");
    rows.forEach((row, i) => {
      const quote = row.match(/^(?:&gt;|>) ?(.*)$/);
      if (quote) {
        const bq = el("blockquote");
        inline(bq, quote[1]);
        parent.appendChild(bq);
        return;
      }
      inline(parent, row);
      if (i < rows.length - 1) parent.appendChild(document.createTextNode("\n"));
    });
  }

  function mrkdwn(parent, text) {
    const parts = String(text || "").split("```");
    if (parts.length % 2 === 0) {
      const last = parts.pop(); // an unclosed ``` stays as typed
      parts.push(parts.pop() + "```" + last);
    }
    parts.forEach((part, i) => {
      if (i % 2 === 1) {
        parent.appendChild(el("pre", "codeblock", decode(part.replace(/^\n|\n$/g, ""))));
        return;
      }
      let plain = part;
      if (i > 0) plain = plain.replace(/^\n/, "");
      if (i < parts.length - 1) plain = plain.replace(/\n$/, "");
      if (plain) lines(parent, plain);
    });
    return parent;
  }

  function textObject(parent, obj) {
    if (!obj) return parent;
    if (obj.type === "plain_text") addText(parent, obj.text || "");
    else mrkdwn(parent, obj.text || "");
    return parent;
  }

  // -- Block Kit ------------------------------------------------------------------------
  function element(elem, ctx) {
    if (elem.type === "button") {
      const button = el("button", "bk-button" + (elem.style ? " " + elem.style : ""));
      button.type = "button";
      textObject(button, elem.text);
      button.addEventListener("click", () => clickButton(button, elem, ctx));
      return button;
    }
    if (elem.type === "image") return el("span", "bk-element", "🖼 " + (elem.alt_text || "image"));
    const label = elem.placeholder ? elem.placeholder.text : elem.type;
    return el("span", "bk-element", "[" + label + "]");
  }

  function richText(parent, node) {
    const style = node.style || {};
    switch (node.type) {
      case "text": {
        let target = parent;
        if (style.code) target = parent.appendChild(el("code"));
        else if (style.bold) target = parent.appendChild(el("strong"));
        else if (style.italic) target = parent.appendChild(el("em"));
        target.appendChild(document.createTextNode(node.text || ""));
        return;
      }
      case "link": return link(parent, node.url || "", node.text || "");
      case "user": return entity(parent, "@" + node.user_id);
      case "channel": return entity(parent, "#" + node.channel_id);
      case "usergroup": return entity(parent, "!subteam^" + node.usergroup_id);
      case "emoji": return addText(parent, ":" + node.name + ":");
      case "rich_text_preformatted": {
        const pre = parent.appendChild(el("pre", "codeblock"));
        return (node.elements || []).forEach((child) => richText(pre, child));
      }
      case "rich_text_quote": {
        const bq = parent.appendChild(el("blockquote"));
        return (node.elements || []).forEach((child) => richText(bq, child));
      }
      case "rich_text_list":
        return (node.elements || []).forEach((item) => {
          parent.appendChild(document.createTextNode("• "));
          richText(parent, item);
          parent.appendChild(document.createTextNode("\n"));
        });
      default:
        return (node.elements || []).forEach((child) => richText(parent, child));
    }
  }

  function block(b, ctx) {
    switch (b.type) {
      case "section": {
        const box = el("div", "block-section");
        const main = box.appendChild(el("div", "section-main"));
        if (b.text) textObject(main.appendChild(el("div", "text")), b.text);
        if (b.fields && b.fields.length) {
          const grid = main.appendChild(el("div", "fields"));
          b.fields.forEach((f) => textObject(grid.appendChild(el("div", "field")), f));
        }
        if (b.accessory) box.appendChild(element(b.accessory, ctx));
        return box;
      }
      case "header":
        return textObject(el("div", "block-header"), b.text);
      case "context": {
        const box = el("div", "block-context");
        (b.elements || []).forEach((item) => {
          if (item.type === "image") box.appendChild(el("span", null, "🖼 " + (item.alt_text || "")));
          else box.appendChild(textObject(el("span", "text"), item));
        });
        return box;
      }
      case "divider":
        return el("hr", "block-divider");
      case "actions": {
        const box = el("div", "block-actions");
        (b.elements || []).forEach((item) => box.appendChild(element(item, ctx)));
        return box;
      }
      case "image": {
        const box = el("div", "block-image");
        const title = (b.title && b.title.text) || b.alt_text || "image";
        link(box, b.image_url || "", "🖼 " + title);
        return box;
      }
      case "rich_text": {
        const box = el("div", "text");
        richText(box, b);
        return box;
      }
      case "input":
        return el("div", "block-unknown", "[input: " + ((b.label && b.label.text) || "") + "]");
      default:
        return el("div", "block-unknown", "[" + b.type + " block]");
    }
  }

  function attachment(a, ctx) {
    const box = el("div", "attachment");
    const color = { good: "#2eb886", warning: "#daa038", danger: "#a30200" }[a.color] || a.color;
    if (/^#?[0-9a-f]{3,8}$/i.test(color || "")) box.style.borderLeftColor = "#" + color.replace("#", "");
    if (a.pretext) mrkdwn(box.appendChild(el("div", "text")), a.pretext);
    if (a.title) {
      const title = box.appendChild(el("div", "title"));
      if (a.title_link) link(title, a.title_link, a.title);
      else addText(title, a.title);
    }
    if (a.text) mrkdwn(box.appendChild(el("div", "text")), a.text);
    if (a.fields && a.fields.length) {
      const grid = box.appendChild(el("div", "fields"));
      a.fields.forEach((f) => {
        const cell = grid.appendChild(el("div", "field"));
        cell.appendChild(el("strong", null, f.title || ""));
        cell.appendChild(document.createTextNode("\n"));
        mrkdwn(cell, f.value || "");
      });
    }
    if (a.blocks) a.blocks.forEach((b) => box.appendChild(block(b, ctx)));
    if (a.footer) box.appendChild(textObject(el("div", "block-context"), { text: a.footer }));
    return box;
  }

  // -- messages -----------------------------------------------------------------------
  function avatar(name, isBot, small) {
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    const box = el("div", "avatar" + (small ? " small" : ""), isBot ? "🤖" : name[0].toUpperCase());
    box.style.background = isBot ? "#611f69" : COLORS[hash % COLORS.length];
    box.setAttribute("aria-hidden", "true");
    return box;
  }

  function formatTime(ts) {
    const when = new Date(parseInt(ts, 10) * 1000);
    const time = el("span", "time", when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }));
    time.title = when.toLocaleString() + " (ts " + ts + ")";
    return time;
  }

  // As Slack shows them: one chip per reaction someone added, with its count (a reaction
  // stays even when the bot does not count it), then a control to add one.
  function reactions(m, ctx) {
    const row = el("div", "reactions");
    (m.reactions || []).forEach((r) => {
      const reacted = r.users.includes(ui.user);
      const chip = row.appendChild(el("button", "chip" + (reacted ? " mine" : "")));
      chip.type = "button";
      chip.dataset.reaction = r.name;
      chip.title = ":" + r.name + ": by " + r.users.map(userName).join(", ") +
        (reacted ? " (click to remove yours)" : " (click to add yours)");
      chip.appendChild(document.createTextNode(EMOJI[r.name] || ":" + r.name + ":"));
      chip.appendChild(el("span", "count", r.count));
      chip.addEventListener("click", () => react(ctx, r.name, reacted));
    });
    row.appendChild(addReaction(m, ctx));
    return row;
  }

  function addReaction(m, ctx) {
    const key = ctx.channel + ":" + ctx.ts;
    const box = el("span", "add-reaction-box");
    const open = ui.picker === key;
    const button = box.appendChild(el("button", "add-reaction" + (open ? " open" : ""), "☺+"));
    button.type = "button";
    button.title = "Add reaction";
    button.setAttribute("aria-label", "Add reaction");
    button.setAttribute("aria-expanded", String(open));
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      ui.picker = open ? null : key;
      render();
    });
    if (!open) return box;
    const mine = new Set((m.reactions || []).filter((r) => r.users.includes(ui.user)).map((r) => r.name));
    const picker = box.appendChild(el("span", "picker"));
    picker.setAttribute("role", "menu");
    PICKER.forEach((name) => {
      const choice = picker.appendChild(el("button", mine.has(name) ? "mine" : "", EMOJI[name]));
      choice.type = "button";
      choice.dataset.reaction = name;
      choice.title = (mine.has(name) ? "Remove :" : "React with :") + name + ":";
      choice.setAttribute("aria-label", choice.title);
      choice.setAttribute("role", "menuitem");
      choice.addEventListener("click", (event) => {
        event.stopPropagation();
        ui.picker = null;
        render();
        react(ctx, name, mine.has(name));
      });
    });
    return box;
  }

  function message(m, opts) {
    const ctx = { channel: ui.channel, ts: m.ts };
    const isBot = opts.ephemeral || m.is_bot;
    const author = isBot ? (ui.snap.bot.name || "opsloop") : userName(m.user);
    const row = el("div", "msg" + (opts.ephemeral ? " ephemeral" : ""));
    row.dataset.ts = m.ts;
    row.appendChild(avatar(author, isBot, opts.reply));
    const body = row.appendChild(el("div", "body"));
    const meta = body.appendChild(el("div", "meta"));
    meta.appendChild(el("span", "author", author));
    if (isBot) meta.appendChild(el("span", "app-badge", "app"));
    meta.appendChild(formatTime(m.ts));
    if (m.edit_count > 0) meta.appendChild(el("span", "edited", "(edited)"));
    if (opts.ephemeral) meta.appendChild(el("span", "eph-marker", "Only visible to you"));
    if (m.subtype === "tombstone") body.appendChild(el("div", "text block-unknown", m.text));
    else if (m.blocks && m.blocks.length) {
      const box = body.appendChild(el("div", "blocks"));
      m.blocks.forEach((b) => box.appendChild(block(b, ctx)));
    } else mrkdwn(body.appendChild(el("div", "text")), m.text);
    (m.attachments || []).forEach((a) => body.appendChild(attachment(a, ctx)));
    (m.files || []).forEach((f) => {
      const line = body.appendChild(el("div", "file"));
      const a = line.appendChild(el("a", null, "📎 " + (f.title || f.name) + " (" + f.size + " bytes)"));
      a.href = safeUrl(f.url_private) || "#";
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    });
    if (!opts.ephemeral && m.subtype !== "tombstone") body.appendChild(reactions(m, ctx));
    if (opts.replies && opts.replies.length) body.appendChild(thread(m, opts.replies));
    return row;
  }

  function thread(parent, replies) {
    const key = ui.channel + ":" + parent.ts;
    const open = !ui.collapsed.has(key);
    const box = el("div");
    const count = replies.length;
    const toggle = box.appendChild(el("button", "thread-toggle",
      (open ? "▾ " : "▸ ") + count + (count === 1 ? " reply" : " replies") + (open ? "" : " (show)")));
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.addEventListener("click", () => {
      if (open) ui.collapsed.add(key);
      else ui.collapsed.delete(key);
      render();
    });
    if (open) {
      const list = box.appendChild(el("div", "thread"));
      replies.forEach((r) => list.appendChild(message(r.item, { reply: true, ephemeral: r.ephemeral })));
    }
    return box;
  }

  // -- page -------------------------------------------------------------------------------
  function latestTs(chan) {
    let latest = "0";
    chan.messages.forEach((m) => {
      [m, ...m.replies].forEach((x) => { if (compareTs(x.ts, latest) > 0) latest = x.ts; });
    });
    return latest;
  }

  function renderChannels() {
    const list = $("channels");
    list.replaceChildren();
    ui.snap.channels.forEach((chan) => {
      // Direct messages with the app show only to the person they are with.
      if (chan.im_user && chan.im_user !== ui.user) return;
      if (!(chan.id in ui.seen)) ui.seen[chan.id] = latestTs(chan);
      if (chan.id === ui.channel) ui.seen[chan.id] = latestTs(chan);
      let unread = 0;
      chan.messages.forEach((m) => {
        [m, ...m.replies].forEach((x) => { if (compareTs(x.ts, ui.seen[chan.id]) > 0) unread += 1; });
      });
      const item = list.appendChild(el("li"));
      const button = item.appendChild(el("button", chan.id === ui.channel ? "active" : unread ? "unread" : ""));
      button.type = "button";
      const mark = chan.im_user ? "💬 opsloop ↔ " : chan.is_private ? "🔒 " : "# ";
      button.appendChild(el("span", null, mark + chan.name));
      if (unread) button.appendChild(el("span", "badge", unread));
      button.addEventListener("click", () => selectChannel(chan.id));
    });
  }

  function renderUsers() {
    const people = ui.snap.users.filter((u) => !u.is_bot && u.id !== "USLACKBOT");
    const key = people.map((u) => u.id + u.name).join(",");
    if (!people.some((u) => u.id === ui.user)) {
      const saved = localStorage.getItem("opsloop.console.user");
      ui.user = (people.find((u) => u.id === saved) || people[0] || {}).id || null;
    }
    if (key === ui.usersKey) return;
    ui.usersKey = key;
    const select = $("user");
    select.replaceChildren();
    people.forEach((u) => {
      const option = select.appendChild(el("option", null, u.name + " (" + u.real_name + ")"));
      option.value = u.id;
    });
    select.value = ui.user || "";
  }

  function renderMessages(chan, channelChanged) {
    const box = $("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const keep = box.scrollTop;
    const mine = (chan.ephemerals && chan.ephemerals[ui.user]) || [];
    const parents = new Set(chan.messages.map((m) => m.ts));
    const items = chan.messages.map((m) => ({ item: m, ephemeral: false }));
    mine.forEach((e) => {
      if (!e.thread_ts || !parents.has(e.thread_ts)) items.push({ item: e, ephemeral: true });
    });
    items.sort((a, b) => compareTs(a.item.ts, b.item.ts));
    const nodes = items.map(({ item, ephemeral }) => {
      if (ephemeral) return message(item, { ephemeral: true });
      const replies = item.replies.map((r) => ({ item: r, ephemeral: false }));
      mine.filter((e) => e.thread_ts === item.ts).forEach((e) => replies.push({ item: e, ephemeral: true }));
      replies.sort((a, b) => compareTs(a.item.ts, b.item.ts));
      return message(item, { replies });
    });
    if (!nodes.length) {
      nodes.push(el("p", "empty", "No messages in #" + chan.name + " yet. Try /ops help below."));
    }
    box.replaceChildren(...nodes);
    box.scrollTop = channelChanged || nearBottom ? box.scrollHeight : keep;
  }

  let rendered = null;
  function render() {
    if (!ui.snap) return;
    $("team-name").textContent = ui.snap.team.name;
    if (!currentChannel()) {
      const wanted = decodeURIComponent(location.hash.slice(1));
      const chan = ui.snap.channels.find((c) => c.name === wanted || c.id === wanted) || ui.snap.channels[0];
      ui.channel = chan ? chan.id : null;
    }
    renderUsers();
    renderChannels();
    const chan = currentChannel();
    if (!chan) return;
    $("channel-title").textContent = (chan.is_private ? "🔒 " : "#") + chan.name;
    $("channel-meta").textContent = chan.members.length + " members: " + chan.members.map(userName).join(", ");
    document.title = "#" + chan.name + " · opsloop sandbox";
    renderMessages(chan, rendered !== chan.id);
    rendered = chan.id;
  }

  function selectChannel(id) {
    ui.channel = id;
    history.replaceState(null, "", "#" + channelName(id));
    render();
    $("command").focus();
  }

  // -- actions ------------------------------------------------------------------------
  function status(text, kind) {
    const box = $("status");
    box.textContent = text;
    box.className = "status " + (kind || "");
    clearTimeout(ui.statusTimer);
    ui.statusTimer = setTimeout(() => { box.textContent = ""; box.className = "status"; },
      kind === "error" ? 15000 : 7000);
  }

  async function post(name, body) {
    const response = await fetch(API + name, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  }

  function ackText(what, data) {
    if (data.bot_status === null || data.bot_status === undefined) return what + " (no bot connected)";
    const body = data.bot_body ? " — " + data.bot_body.slice(0, 200) : "";
    return what + " → bot acknowledged: HTTP " + data.bot_status + body;
  }

  async function act(name, body, what) {
    status(what + " …", "");
    try {
      const data = await post(name, body);
      status(ackText(what, data), data.bot_status >= 400 ? "error" : "ok");
      return true;
    } catch (err) {
      status(what + " failed: " + err.message, "error");
      return false;
    }
  }

  function react(ctx, name, remove) {
    const what = (remove ? "Removed :" : "Reacted :") + name + ": as " + userName(ui.user);
    return act("react", { user: ui.user, channel: ctx.channel, ts: ctx.ts, name, remove }, what);
  }

  async function clickButton(button, elem, ctx) {
    const confirmText = elem.confirm && elem.confirm.text && elem.confirm.text.text;
    if (confirmText && !window.confirm(confirmText)) return;
    const url = elem.url && safeUrl(elem.url);
    if (url) window.open(url, "_blank", "noopener,noreferrer");
    button.disabled = true;
    const label = button.textContent;
    const body = { user: ui.user, channel: ctx.channel, ts: ctx.ts, action_id: elem.action_id, value: elem.value };
    await act("click", body, "Clicked “" + label + "” as " + userName(ui.user));
    button.disabled = false;
  }

  async function sendCommand(event) {
    event.preventDefault();
    const input = $("command");
    const line = input.value.trim();
    if (!line) return;
    const parts = line.match(/^(\S+)\s*([\s\S]*)$/);
    if (!parts[1].startsWith("/")) {
      status("Slash commands start with /, for example: /ops help", "error");
      return;
    }
    ui.history.push(line);
    ui.historyAt = ui.history.length;
    input.value = "";
    const body = { user: ui.user, channel: ui.channel, command: parts[1], text: parts[2] };
    const ok = await act("command", body, line + " as " + userName(ui.user) + " in #" + channelName(ui.channel));
    if (!ok && !input.value) input.value = line;
  }

  function recall(event) {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    if (!ui.history.length) return;
    event.preventDefault();
    const step = event.key === "ArrowUp" ? -1 : 1;
    ui.historyAt = Math.min(Math.max(ui.historyAt + step, 0), ui.history.length);
    event.target.value = ui.history[ui.historyAt] || "";
  }

  // -- live updates ---------------------------------------------------------------------
  function live(on, detail) {
    $("live").className = "live " + (on ? "on" : "off");
    $("live-text").textContent = on ? "live" : "reconnecting… " + (detail || "");
  }

  async function poll() {
    let failures = 0;
    for (;;) {
      try {
        const query = ui.version === null ? "" : "?since=" + ui.version + "&wait=25";
        const response = await fetch(API + "state" + query, { cache: "no-store" });
        if (!response.ok) throw new Error("HTTP " + response.status);
        const snap = await response.json();
        failures = 0;
        live(true);
        if (snap.version !== ui.version) {
          ui.version = snap.version;
          ui.snap = snap;
          render();
        }
      } catch (err) {
        failures += 1;
        live(false, err.message);
        await new Promise((done) => setTimeout(done, Math.min(1000 * 2 ** failures, 10000)));
      }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("composer").addEventListener("submit", sendCommand);
    $("command").addEventListener("keydown", recall);
    $("user").addEventListener("change", (event) => {
      ui.user = event.target.value;
      localStorage.setItem("opsloop.console.user", ui.user);
      render();
    });
    document.addEventListener("click", () => {
      if (ui.picker === null) return;
      ui.picker = null;
      render();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || ui.picker === null) return;
      ui.picker = null;
      render();
    });
    window.addEventListener("hashchange", () => {
      const wanted = decodeURIComponent(location.hash.slice(1));
      const chan = ui.snap && ui.snap.channels.find((c) => c.name === wanted || c.id === wanted);
      if (chan && chan.id !== ui.channel) selectChannel(chan.id);
    });
    poll();
  });
})();
