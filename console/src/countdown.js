// The 获取验证码 button's countdown: N秒后重新获取 for `seconds`, then 获取验证码 again.
import { ref, computed, onBeforeUnmount } from 'vue'

export function countdownLabel(remaining) {
  return remaining > 0 ? `${remaining}秒后重新获取` : '获取验证码'
}

// Plain state machine (no Vue) so that tests can drive it with fake timers.
export function createCountdown(onTick, { setInterval: si = setInterval, clearInterval: ci = clearInterval } = {}) {
  let timer = null
  let remaining = 0
  const stop = () => { if (timer !== null) { ci(timer); timer = null } }
  return {
    start(seconds) {
      stop()
      remaining = Math.max(0, Math.floor(seconds))
      onTick(remaining)
      if (remaining === 0) return
      timer = si(() => {
        remaining -= 1
        onTick(remaining)
        if (remaining <= 0) stop()
      }, 1000)
    },
    stop() { stop(); remaining = 0; onTick(0) },
    get remaining() { return remaining },
  }
}

export function useCountdown() {
  const remaining = ref(0)
  const countdown = createCountdown((n) => { remaining.value = n })
  onBeforeUnmount(() => countdown.stop())
  return {
    remaining,
    running: computed(() => remaining.value > 0),
    label: computed(() => countdownLabel(remaining.value)),
    start: (seconds) => countdown.start(seconds),
  }
}
