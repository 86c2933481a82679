// The console page's script: listens through pushwire/client, sends with fetch, all to its own origin.
// Every piece of text from the network is set with textContent, never parsed as HTML.
import { connect, type MessageFrame, type PushwireClient } from '../client/index.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

const connectForm = $<HTMLFormElement>('connect-form')
const connectButton = $<HTMLButtonElement>('connect')
const disconnectButton = $<HTMLButtonElement>('disconnect')
const status = $<HTMLParagraphElement>('status')
const statusText = $<HTMLSpanElement>('status-text')
const sendForm = $<HTMLFormElement>('send-form')
const sendResult = $<HTMLParagraphElement>('send-result')
const targetField = $<HTMLDivElement>('target-field')
const targetLabel = $<HTMLLabelElement>('target-label')
const target = $<HTMLInputElement>('target')
const presenceForm = $<HTMLFormElement>('presence-form')
const presenceResult = $<HTMLParagraphElement>('presence-result')
const feed = $<HTMLOListElement>('feed')
const feedEmpty = $<HTMLParagraphElement>('feed-empty')
const sender = $<HTMLInputElement>('sender')
const value = (id: string): string => $<HTMLInputElement>(id).value.trim()

const MAX_FEED_ITEMS = 200
let client: PushwireClient | null = null
let countdown: ReturnType<typeof setInterval> | undefined

function showStatus (state: string, text: string): void {
  clearInterval(countdown)
  status.dataset.state = state
  statusText.textContent = text
}

function showReconnecting (delayMs: number): void {
  const at = Date.now() + delayMs
  const tick = (): void => {
    statusText.textContent = `reconnecting in ${Math.max(0, Math.ceil((at - Date.now()) / 1000))} s`
  }
  showStatus('reconnecting', '')
  tick()
  countdown = setInterval(tick, 250)
}

function setConnected (connected: boolean): void {
  connectButton.disabled = connected
  disconnectButton.disabled = !connected
}

connectForm.addEventListener('submit', event => {
  event.preventDefault()
  client?.close()
  const topics = value('topics').split(',').map(topic => topic.trim()).filter(topic => topic !== '')
  const token = value('token')
  const userId = value('user-id')
  // Until the person types their own, messages are sent as the user they listen as.
  if (sender.dataset.edited !== 'true') sender.value = userId
  const current = connect({ url: location.origin, userId, topics, ...(token === '' ? {} : { token }) })
  client = current
  setConnected(true)
  showStatus('connecting', 'connecting…')
  // Events of a client replaced by a newer one are ignored.
  current.on('open', () => { if (client === current) showStatus('open', 'open') })
  current.on('reconnecting', ({ delayMs }) => { if (client === current) showReconnecting(delayMs) })
  current.on('message', frame => { if (client === current) addToFeed(frame) })
  current.on('error', error => { if (client === current && error.fatal) showStatus('closed', `stopped: ${error.message}`) })
  current.on('close', ({ willReconnect }) => {
    if (client !== current || willReconnect) return
    setConnected(false)
    if (status.dataset.state !== 'closed') showStatus('closed', 'closed')
  })
})

sender.addEventListener('input', () => { sender.dataset.edited = 'true' })
disconnectButton.addEventListener('click', () => { client?.close() })

function addToFeed (frame: MessageFrame): void {
  const item = document.createElement('li')
  const meta = document.createElement('div')
  meta.className = 'meta'
  const who = document.createElement('span')
  who.className = 'who'
  const route = 'receiver' in frame ? `→ ${frame.receiver}` : 'topic' in frame ? `→ #${frame.topic}` : '→ everyone'
  item.className = 'receiver' in frame ? 'direct' : 'topic' in frame ? 'topic' : 'broadcast'
  who.textContent = `${frame.sender} ${route}`
  const time = document.createElement('time')
  time.dateTime = frame.sentAt
  time.textContent = new Date(frame.sentAt).toLocaleTimeString()
  meta.append(who, time)
  const text = document.createElement('p')
  text.className = 'text'
  text.textContent = frame.message
  item.append(meta, text)
  feed.prepend(item)
  feedEmpty.hidden = true
  while (feed.children.length > MAX_FEED_ITEMS) feed.lastElementChild?.remove()
}

function mode (): string {
  return (sendForm.elements.namedItem('mode') as RadioNodeList).value
}

function showMode (): void {
  const current = mode()
  targetField.hidden = current === 'broadcast'
  target.required = current !== 'broadcast'
  targetLabel.textContent = current === 'topic' ? 'Topic' : 'Receiver'
}
sendForm.addEventListener('change', showMode)
showMode()

// The server's limit is in code points, which maxlength cannot express (see console-page.ts). A message over it
// makes the field invalid, so the browser does not submit the form, and the reason is shown next to the button.
const message = $<HTMLTextAreaElement>('message')
const maxLength = Number(message.dataset.maxLength)
message.addEventListener('input', () => {
  const length = [...message.value].length
  message.setCustomValidity(length > maxLength ? `The message is ${length} characters long; the limit is ${maxLength}.` : '')
})
message.addEventListener('invalid', () => {
  if (message.validity.customError) showResult(sendResult, message.validationMessage, false)
})

/** The publisher key, when one is entered: the POST routes and presence need it in auth mode. */
function apiKeyHeader (): Record<string, string> {
  const apiKey = value('api-key')
  return apiKey === '' ? {} : { authorization: `Bearer ${apiKey}` }
}

sendForm.addEventListener('submit', event => {
  event.preventDefault()
  const current = mode()
  const body: Record<string, string> = { sender: value('sender'), message: message.value }
  if (current === 'direct') body.receiver = value('target')
  if (current === 'topic') body.topic = value('target')
  const path = current === 'direct' ? '/send-message' : current === 'topic' ? '/publish' : '/broadcast'
  const headers = { 'content-type': 'application/json', ...apiKeyHeader() }
  showResult(sendResult, 'sending…', true)
  request(path, { method: 'POST', headers, body: JSON.stringify(body) }).then(answer => {
    if (answer.ok) showResult(sendResult, `${String(answer.body.status)} · id ${String(answer.body.id)}`, true)
    else showResult(sendResult, answer.error, false)
  }, (err: Error) => { showResult(sendResult, `request failed: ${err.message}`, false) })
})

presenceForm.addEventListener('submit', event => {
  event.preventDefault()
  const userId = value('presence-user')
  request(`/presence/${encodeURIComponent(userId)}`, { headers: apiKeyHeader() }).then(answer => {
    if (!answer.ok) return showResult(presenceResult, answer.error, false)
    const count = Number(answer.body.connections)
    showResult(presenceResult, count > 0 ? `${userId} is online (${count} connection${count === 1 ? '' : 's'})` : `${userId} is offline`, true)
  }, (err: Error) => { showResult(presenceResult, `request failed: ${err.message}`, false) })
})

function showResult (element: HTMLElement, text: string, ok: boolean): void {
  element.textContent = text
  element.className = `result ${ok ? 'ok' : 'bad'}`
}

/** fetch to this origin, with pushwire's JSON error body turned into one readable line. */
async function request (path: string, init: RequestInit): Promise<{ ok: boolean, body: Record<string, unknown>, error: string }> {
  const res = await fetch(path, init)
  const body = await res.json().catch(() => ({})) as Record<string, unknown>
  return { ok: res.ok, body, error: `${res.status}: ${String(body.message ?? res.statusText)}` }
}
