// Masks as the API gives them (110105********002X, 133****6117), for what the console shows of
// what a person typed (the API itself only ever answers masked values).
export function maskMobile(mobile) {
  const s = String(mobile ?? '').trim()
  if (!/^\d{11}$/.test(s)) return s.replace(/./g, '*')
  return `${s.slice(0, 3)}****${s.slice(7)}`
}

export function maskIdNumber(idNumber) {
  const s = String(idNumber ?? '').trim().toUpperCase()
  if (s.length !== 18) return s.replace(/./g, '*')
  return `${s.slice(0, 6)}********${s.slice(14)}`
}
