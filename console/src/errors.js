// The one table of Chinese messages for the API's error codes (error-messages.json), and how an
// error is shown: under the field it concerns when the form has that field, else above the form.
import table from './error-messages.json'

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message || code)
    this.status = status
    this.code = code
    this.details = details && typeof details === 'object' ? details : {}
  }
}

export const ERROR_CODES = Object.keys(table.codes)

function fill(template, details) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (details[key] ?? '').toString())
}

export function messageOf(code, details = {}) {
  const entry = table.codes[code]
  if (!entry) return `操作失败（${code}）`
  return fill(entry.message, details)
}

// One message of a 400's details (English from the API) in Chinese.
export function fieldMessage(text) {
  if (typeof text !== 'string') return '格式不正确'
  if (table.fieldMessages[text]) return table.fieldMessages[text]
  for (const [prefix, message] of Object.entries(table.fieldMessagePrefixes)) {
    if (text.startsWith(prefix)) return message
  }
  return '格式不正确'
}

function firstMessage(value) {
  if (Array.isArray(value)) return firstMessage(value[0])
  if (value && typeof value === 'object') return firstMessage(Object.values(value)[0])
  return value
}

// -> {form: string|null, fields: {field: message}}; `fields` are the form's own field names,
// `aliases` maps an API field name to the form's (e.g. account -> mobile), and `readAs` a code to the
// one it means on this form (手机号登录: INVALID_CREDENTIALS is a wrong or expired code, its only credential).
export function describeError(error, fields = [], aliases = {}, readAs = {}) {
  if (!(error instanceof ApiError)) return { form: messageOf('AGENT_UNREACHABLE'), fields: {} }
  const inForm = (name) => fields.includes(aliases[name] || name)
  const formName = (name) => aliases[name] || name
  const out = { form: null, fields: {} }
  if (error.code === 'VALIDATION_ERROR') {
    const elsewhere = []
    for (const [name, messages] of Object.entries(error.details)) {
      if (inForm(name)) out.fields[formName(name)] = fieldMessage(firstMessage(messages))
      else elsewhere.push(fieldMessage(firstMessage(messages)))
    }
    if (elsewhere.length || !Object.keys(out.fields).length) {
      out.form = [messageOf('VALIDATION_ERROR'), ...elsewhere].join('：')
    }
    return out
  }
  const code = readAs[error.code] || error.code
  const message = messageOf(code, error.details)
  const target = (table.codes[code]?.field || []).find(inForm)
  if (target) out.fields[formName(target)] = message
  else out.form = message
  return out
}

// A 400 naming the fields an administrator types when the registry does not know the USCC.
export function asksForManualFields(error) {
  return error instanceof ApiError && error.code === 'VALIDATION_ERROR' &&
    ['name', 'address', 'business_scope'].some((f) => f in error.details)
}
