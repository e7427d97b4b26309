// One unmodified yjs + y-websocket editor, driven by JSON lines on stdin (tests/e2e/collab_support.py).
//   node editor.mjs <httpBase> <wsBase> <noteId> <accessToken>
// Commands: {"op":"insert","index":0,"text":"…"}   {"op":"type","text":"…","index":0}
//           {"op":"wait","text":"…"|"length":N,"timeoutMs":N}   {"op":"dump"}
//           {"op":"offline"}   {"op":"online"}   {"op":"awareness","state":{…}}   {"op":"quit"}
// Events (JSON lines on stdout): synced, denied, closed, dump, waited, error.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import readline from 'node:readline'

const [httpBase, wsBase, noteId, accessToken] = process.argv.slice(2)
const out = (event) => process.stdout.write(JSON.stringify(event) + '\n')

async function ticket () {
  const r = await fetch(`${httpBase}/api/v1/realtime/ticket`, {
    method: 'POST', headers: { Authorization: `Bearer ${accessToken}` }
  })
  if (r.status !== 201) throw new Error(`ticket: ${r.status}`)
  return (await r.json()).ticket
}

const doc = new Y.Doc()
const body = doc.getText('body')
const provider = new WebsocketProvider(wsBase, noteId, doc, {
  WebSocketPolyfill: WebSocket, connect: false, disableBc: true, params: { ticket: await ticket() }
})
// A ticket works once: every reconnect needs a fresh one (docs/collab.md, client guide).
let wanted = true
provider.on('connection-close', (event) => {
  if (event === null) return // our own disconnect()
  out({ event: 'closed', code: event.code })
  provider.shouldConnect = false // its own retry would reuse the spent ticket
  if (wanted) ticket().then((t) => { provider.params = { ticket: t }; provider.connect() }, () => {})
})
provider.on('sync', (synced) => { if (synced) out({ event: 'synced', body: body.toString() }) })
// y-websocket only logs permission-denied; capture it for the test.
const warn = console.warn
console.warn = (...args) => {
  const text = args.join(' ')
  if (text.includes('Permission denied')) out({ event: 'denied', reason: text })
  else warn(...args)
}
provider.connect()

function until (pred, timeoutMs) {
  return new Promise((resolve) => {
    const start = Date.now()
    const tick = () => {
      if (pred()) resolve(true)
      else if (Date.now() - start > timeoutMs) resolve(false)
      else setTimeout(tick, 10)
    }
    tick()
  })
}

const rl = readline.createInterface({ input: process.stdin })
for await (const line of rl) {
  if (!line.trim()) continue
  const cmd = JSON.parse(line)
  try {
    if (cmd.op === 'insert') {
      body.insert(cmd.index ?? 0, cmd.text)
    } else if (cmd.op === 'type') {
      let i = cmd.index ?? body.length
      for (const ch of cmd.text) { body.insert(i, ch); i += ch.length; await new Promise((r) => setTimeout(r, cmd.delayMs ?? 0)) }
    } else if (cmd.op === 'wait') {
      const ok = await until(() => (cmd.text !== undefined ? body.toString() === cmd.text : body.length >= cmd.length), cmd.timeoutMs ?? 10000)
      out({ event: 'waited', ok, body: body.toString() })
    } else if (cmd.op === 'dump') {
      out({ event: 'dump', body: body.toString(), title: doc.getText('title').toString(), synced: provider.synced })
    } else if (cmd.op === 'offline') {
      wanted = false
      provider.disconnect()
      out({ event: 'offline' })
    } else if (cmd.op === 'online') {
      wanted = true
      provider.params = { ticket: await ticket() }
      provider.connect()
    } else if (cmd.op === 'awareness') {
      provider.awareness.setLocalState(cmd.state)
    } else if (cmd.op === 'peers') {
      const states = [...provider.awareness.getStates().entries()].filter(([id]) => id !== doc.clientID)
      out({ event: 'peers', states: states.map(([id, s]) => s) })
    } else if (cmd.op === 'quit') {
      break
    }
  } catch (err) {
    out({ event: 'error', message: String(err) })
  }
}
wanted = false
provider.destroy()
process.exit(0)
