// A churn process (workload 5): `concurrency` loops, each opening a WebSocket to a fresh user id and closing it as
// soon as it is open, half of them with a close handshake and half by cutting the TCP connection, until `duration`
// seconds have passed. Prints {cycles, errors} as JSON: one cycle is one connect and one disconnect.
import WebSocket from 'ws'

const { url, duration, concurrency, sourceBase } = JSON.parse(process.argv[2])
const deadline = Date.now() + duration * 1000
let cycles = 0
let errors = 0

async function loop (worker) {
  for (let n = 0; Date.now() < deadline; n++) {
    await new Promise(resolve => {
      const socket = new WebSocket(`${url}/ws/churn${worker}_${n % 100}`, { localAddress: `127.0.0.${2 + ((sourceBase + worker) % 250)}`, perMessageDeflate: false })
      socket.once('open', () => { if (n % 2 === 0) socket.close(1000); else socket.terminate() })
      socket.once('error', () => { errors++ })
      socket.once('close', () => { cycles++; resolve() })
    })
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, worker) => loop(worker)))
process.stdout.write(JSON.stringify({ cycles, errors }) + '\n')
