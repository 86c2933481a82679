// `npm run asyncapi`: regenerates asyncapi.yaml from the WebSocket schemas and the close-code table.
import { writeFile } from 'node:fs/promises'
import { renderAsyncApiYaml } from './asyncapi-yaml.js'

const target = new URL('../../asyncapi.yaml', import.meta.url)
await writeFile(target, renderAsyncApiYaml())
console.log(`wrote ${target.pathname}`)
