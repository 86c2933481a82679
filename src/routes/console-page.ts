// The console's HTML and CSS. The page is static markup; src/console/app.ts (built for the browser) brings it to life.
import { USER_ID_PATTERN } from '../client/names.js'

export interface ConsolePageOptions {
  /** Receivers need a token: show the token field. */
  receiverAuth: boolean
  /** Publishers need an API key: show the API key field. */
  publisherAuth: boolean
  maxMessageLength: number
}

// The same pattern as the server's, without anchors: the HTML pattern attribute anchors it itself.
// The message limit is in Unicode characters (code points, as the server counts: 🎉 is one). The textarea has no
// maxlength: that counts UTF-16 units (🎉 is two) and cuts a paste short without a word. The page's script checks
// data-max-length instead and says what is wrong.
const userIdPattern = USER_ID_PATTERN.slice(1, -1)
const hiddenUnless = (shown: boolean): string => shown ? '' : ' hidden'

export function consolePage (options: ConsolePageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pushwire console</title>
<link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/console/app.js"></script>
</head>
<body>
<header>
  <h1>pushwire <span>console</span></h1>
  <p>HTTP in, WebSocket out: listen as a user, send, and watch messages arrive.</p>
</header>
<main>
  <section class="card" aria-labelledby="listen-title">
    <h2 id="listen-title">Listen</h2>
    <form id="connect-form">
      <label for="user-id">User id</label>
      <input id="user-id" name="userId" required maxlength="64" pattern="${userIdPattern}" autocomplete="off" spellcheck="false" value="alice">
      <label for="topics">Topics <span class="hint">comma-separated, optional</span></label>
      <input id="topics" name="topics" autocomplete="off" spellcheck="false" placeholder="news, orders">
      <div${hiddenUnless(options.receiverAuth)}>
        <label for="token">Receiver token</label>
        <input id="token" name="token" type="password" autocomplete="off">
      </div>
      <div class="actions">
        <button type="submit" id="connect">Connect</button>
        <button type="button" id="disconnect" class="secondary" disabled>Disconnect</button>
      </div>
    </form>
    <p id="status" class="status" data-state="idle" role="status" aria-live="polite">
      <span class="light" aria-hidden="true"></span><span id="status-text">not connected</span>
    </p>
  </section>

  <section class="card" aria-labelledby="send-title">
    <h2 id="send-title">Send</h2>
    <form id="send-form">
      <fieldset>
        <legend>Deliver to</legend>
        <label class="choice"><input type="radio" name="mode" value="direct" checked> a user</label>
        <label class="choice"><input type="radio" name="mode" value="topic"> a topic</label>
        <label class="choice"><input type="radio" name="mode" value="broadcast"> everyone</label>
      </fieldset>
      <label for="sender">Sender</label>
      <input id="sender" name="sender" required maxlength="64" pattern="${userIdPattern}" autocomplete="off" spellcheck="false" value="console">
      <div id="target-field">
        <label for="target" id="target-label">Receiver</label>
        <input id="target" name="target" required maxlength="64" autocomplete="off" spellcheck="false">
      </div>
      <label for="message">Message</label>
      <textarea id="message" name="message" required rows="3" data-max-length="${options.maxMessageLength}"></textarea>
      <div${hiddenUnless(options.publisherAuth)}>
        <label for="api-key">API key</label>
        <input id="api-key" name="apiKey" type="password" autocomplete="off">
      </div>
      <div class="actions"><button type="submit">Send</button></div>
    </form>
    <p id="send-result" class="result" role="status" aria-live="polite"></p>
  </section>

  <section class="card" aria-labelledby="presence-title">
    <h2 id="presence-title">Presence</h2>
    <form id="presence-form">
      <label for="presence-user">User id</label>
      <input id="presence-user" name="userId" required maxlength="64" pattern="${userIdPattern}" autocomplete="off" spellcheck="false">
      <p class="hint"${hiddenUnless(options.publisherAuth)}>Sent with the API key above: presence is for publishers.</p>
      <div class="actions"><button type="submit">Check</button></div>
    </form>
    <p id="presence-result" class="result" role="status" aria-live="polite"></p>
  </section>

  <section class="card feed" aria-labelledby="feed-title">
    <h2 id="feed-title">Live feed</h2>
    <p id="feed-empty" class="hint">No messages yet. Connect, then send one.</p>
    <ol id="feed" aria-live="polite" aria-relevant="additions"></ol>
  </section>
</main>
<footer>
  Contracts: <a href="/openapi.json">OpenAPI (HTTP)</a> · <a href="/asyncapi.json">AsyncAPI (WebSocket)</a> · <a href="/stats">/stats</a>
</footer>
</body>
</html>
`
}

// Colours checked for WCAG AA contrast (4.5:1 or better for text) on their backgrounds. The focus ring's amber is
// 3.9:1 on the cards and 3.6:1 on the page (1.4.11 asks 3:1 of a focus indicator; the brighter #f4b400 was 1.85:1).
export const CONSOLE_CSS = `:root {
  --bg: #f5f7fa; --card: #ffffff; --ink: #1b2330; --muted: #4a5567; --line: #d5dbe4;
  --accent: #0b5fd1; --accent-ink: #ffffff; --ok: #137333; --warn: #a15c00; --bad: #b3261e; --idle: #5f6b7a;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; line-height: 1.45; }
header { background: #101828; color: #f3f6fb; padding: 1.25rem 2rem; }
header h1 { margin: 0; font-size: 1.5rem; letter-spacing: .02em; }
header h1 span { font-weight: 400; color: #b9c6db; }
header p { margin: .25rem 0 0; color: #d0d9e7; }
main { display: grid; gap: 1rem; padding: 1.25rem 2rem; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem 1.25rem; }
.card h2 { margin: 0 0 .75rem; font-size: 1.1rem; }
.feed { grid-column: 1 / -1; }
label { display: block; font-weight: 600; margin: .6rem 0 .2rem; }
label.choice { display: inline-flex; gap: .35rem; align-items: center; font-weight: 400; margin: 0 1rem 0 0; }
.hint { font-weight: 400; color: var(--muted); }
input, textarea { width: 100%; font: inherit; color: var(--ink); background: #fff; padding: .45rem .6rem; border: 1px solid #8a96a8; border-radius: .4rem; }
input[type=radio] { width: auto; }
fieldset { border: 1px solid var(--line); border-radius: .4rem; margin: 0; padding: .4rem .75rem .6rem; }
legend { font-weight: 600; padding: 0 .25rem; }
button { font: inherit; font-weight: 600; padding: .45rem 1rem; border-radius: .4rem; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button:disabled { opacity: .55; cursor: not-allowed; }
:focus-visible { outline: 3px solid #b07600; outline-offset: 2px; }
.actions { margin-top: .8rem; display: flex; gap: .5rem; }
.status { display: flex; align-items: center; gap: .5rem; margin: .9rem 0 0; font-weight: 600; }
.light { width: .8rem; height: .8rem; border-radius: 50%; background: var(--idle); flex: none; }
.status[data-state=connecting] .light { background: var(--warn); }
.status[data-state=open] .light { background: var(--ok); box-shadow: 0 0 0 3px #c8e6cf; }
.status[data-state=reconnecting] .light { background: var(--warn); animation: pulse 1s infinite alternate; }
.status[data-state=closed] .light { background: var(--bad); }
@keyframes pulse { to { opacity: .35; } }
@media (prefers-reduced-motion: reduce) { .status .light { animation: none !important; } }
.result { min-height: 1.5rem; margin: .6rem 0 0; }
.result.ok { color: var(--ok); }
.result.bad { color: var(--bad); }
#feed { list-style: none; margin: 0; padding: 0; display: grid; gap: .5rem; }
#feed li { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: .4rem; padding: .5rem .75rem; }
#feed li.topic { border-left-color: #7b3fc4; }
#feed li.broadcast { border-left-color: var(--warn); }
.meta { display: flex; flex-wrap: wrap; gap: .5rem; color: var(--muted); font-size: .9rem; }
.meta .who { color: var(--ink); font-weight: 600; }
.text { margin: .25rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { padding: 0 2rem 1.5rem; color: var(--muted); }
footer a { color: var(--accent); }
`
