// `npm run openapi`: regenerates openapi.yaml from the route schemas.
import { writeFile } from 'node:fs/promises'
import { renderOpenApiYaml } from '../src/openapi.js'

const target = new URL('../../openapi.yaml', import.meta.url)
await writeFile(target, await renderOpenApiYaml())
console.log(`wrote ${target.pathname}`)
