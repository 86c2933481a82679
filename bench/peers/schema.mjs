// The same body contract as pushwire's /send-message, as plain JSON Schema, for the Node peers.
const userId = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.@:-]+$' }
export const sendMessageBody = {
  type: 'object',
  required: ['sender', 'receiver', 'message'],
  additionalProperties: false,
  properties: { sender: userId, receiver: userId, message: { type: 'string', minLength: 1, maxLength: 1000, pattern: '\\S' } }
}
export const broadcastBody = {
  type: 'object',
  required: ['sender', 'message'],
  additionalProperties: false,
  properties: { sender: userId, message: sendMessageBody.properties.message }
}
export const result = { type: 'object', properties: { status: { type: 'string' }, id: { type: 'string' } } }
export const strictAjv = { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } }
