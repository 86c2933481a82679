// The OpenAPI document as YAML, rendered from the route schemas of an app built with the default config.
import { buildApp } from './app.js'
import { defaultConfig } from './config.js'

export async function renderOpenApiYaml (): Promise<string> {
  const app = await buildApp(defaultConfig)
  try {
    return app.swagger({ yaml: true })
  } finally {
    await app.close()
  }
}
