// asyncapi.yaml as text: shared by `npm run asyncapi`, which writes it, and the test that fails when it is stale.
import { stringify } from 'yaml'
import { buildAsyncApi } from '../src/asyncapi.js'

export function renderAsyncApiYaml (): string {
  // No folding: descriptions keep their own lines, so a change shows up as a readable diff.
  return stringify(buildAsyncApi(), { lineWidth: 0 })
}
