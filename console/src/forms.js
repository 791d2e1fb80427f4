// One form's state: a message under each field, one above the form for the rest, and whether
// it is being sent. run(action) clears the messages, sends, and shows what went wrong. `aliases` and
// `readAs` as in describeError.
import { reactive, ref } from 'vue'
import { describeError } from './errors.js'

export function useFormErrors(fields, aliases = {}, readAs = {}) {
  const state = reactive({ form: '', fields: Object.fromEntries(fields.map((f) => [f, ''])) })
  const busy = ref(false)
  const form = {
    state,
    busy,
    clear() {
      state.form = ''
      for (const f of fields) state.fields[f] = ''
    },
    show(error) {
      const shown = describeError(error, fields, aliases, readAs)
      state.form = shown.form || ''
      for (const f of fields) state.fields[f] = shown.fields[f] || ''
      return shown
    },
    async run(action, onError = () => {}) {
      form.clear()
      busy.value = true
      try {
        return await action()
      } catch (error) {
        onError(error)
        form.show(error)
        return undefined
      } finally {
        busy.value = false
      }
    },
  }
  return form
}

// A form's own rules, beside it: {field: message} for what must be given before it is sent (a
// checkbox ticked, a text not blank); each missing one's message under its field. True when any is.
export function missingRequired(form, rules, errors) {
  let missing = false
  for (const [name, message] of Object.entries(rules)) {
    const value = form[name]
    if (typeof value === 'boolean' ? !value : !String(value ?? '').trim()) {
      errors.state.fields[name] = message
      missing = true
    }
  }
  return missing
}
