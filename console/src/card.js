// The card agent on this computer (`eport-card-agent serve`): it reads the card and
// has it sign a challenge's nonce after the PIN, which it asks in a one-time prompt of its own
// (a page of the agent's origin, shown in a frame: the PIN never passes through this page).
import { ApiError } from './errors.js'
import { ref } from 'vue'
import { post } from './api.js'

export const DEFAULT_AGENT = 'http://127.0.0.1:17380'

export function agentBase() {
  return (localStorage.getItem('eport.agent') || DEFAULT_AGENT).replace(/\/$/, '')
}

async function agent(method, path, body) {
  let response
  try {
    response = await fetch(agentBase() + path, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    })
  } catch {
    throw new ApiError(0, 'AGENT_UNREACHABLE', '', {})
  }
  const payload = await response.json().catch(() => null)
  if (response.ok) return payload
  const error = payload?.error || {}
  throw new ApiError(response.status, error.code || 'CARD_ERROR', error.message, error.details)
}

export const readCard = () => agent('GET', '/v1/card')

// What a signature is for: the agent names it in its PIN prompt (绑定, 登录, 法人认领, 实名认领) and
// refuses any other; the gateway's challenge purpose for each (an administrator's claim proves the
// card as a binding does).
export const CHALLENGE_PURPOSES = { bind: 'bind', login: 'login', admin_claim: 'bind', identity: 'identity' }

export const startSigning = (nonce, cardNo, purpose) =>
  agent('POST', '/v1/signatures', { nonce, purpose, card_no: cardNo || undefined })

export async function awaitSignature(requestId, { interval = 400, timeoutMs = 130000, cancelled = () => false } = {}) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && !cancelled()) {
    const answer = await agent('GET', `/v1/signatures/${requestId}`)
    if (answer.state === 'done') return answer.result
    if (answer.state === 'failed') {
      throw new ApiError(0, answer.error?.code || 'CARD_ERROR', answer.error?.message, answer.error?.details)
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
  throw new ApiError(0, 'PIN_TIMEOUT', '', {})
}

// A challenge from the gateway, signed by the card: the proof bind, login and claims send.
// `purpose` is one of CHALLENGE_PURPOSES' keys; `onPrompt(signing)` shows the agent's PIN prompt.
export async function proveCard({ purpose, cardNo, auth, onPrompt }) {
  const challenge = await post('/card-challenges', { purpose: CHALLENGE_PURPOSES[purpose], card_no: cardNo }, { auth })
  const signing = await startSigning(challenge.nonce, cardNo, purpose)
  onPrompt(signing)
  const result = await awaitSignature(signing.request_id)
  return { card_no: result.card_no, challenge_id: challenge.challenge_id, certificate: result.certificate,
    signature: result.signature }
}

// proveCard for a screen: `signing` is the prompt to show while the card waits for its PIN.
export function useCardProof() {
  const signing = ref(null)
  async function prove(purpose, cardNo, auth) {
    try {
      return await proveCard({ purpose, cardNo, auth, onPrompt: (s) => { signing.value = s } })
    } finally {
      signing.value = null
    }
  }
  return { signing, prove }
}
