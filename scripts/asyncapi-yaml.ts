// asyncapi.yaml as text: shared by `npm run asyncapi`, which writes it, and the test that fails when it is stale.
import { Document, visit } from 'yaml'
import { buildAsyncApi } from '../src/asyncapi.js'

/**
 * Plain strings that YAML 1.1 readers (PyYAML, Ruby's Psych) take for something else: a date or time, or a boolean.
 * Quoted here: the yaml package's own `version: '1.1'` option quoted them when run from the command line but not
 * under tap (same package, same version), so the file and its staleness test disagreed.
 */
const YAML_1_1_NON_STRINGS = /^(\d{4}-\d\d?-\d\d?([Tt ].*)?|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/

export function renderAsyncApiYaml (): string {
  const doc = new Document(buildAsyncApi())
  visit(doc, {
    Scalar (_key, node) {
      if (typeof node.value === 'string' && YAML_1_1_NON_STRINGS.test(node.value)) node.type = 'QUOTE_DOUBLE'
    }
  })
  // No folding: descriptions keep their own lines, so a change shows up as a readable diff.
  return doc.toString({ lineWidth: 0 })
}
