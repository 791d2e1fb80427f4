import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { countdownLabel, createCountdown } from '../src/countdown.js'

describe('获取验证码 countdown', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  it('labels the button with the seconds left, then 获取验证码 again', () => {
    expect(countdownLabel(60)).toBe('60秒后重新获取')
    expect(countdownLabel(1)).toBe('1秒后重新获取')
    expect(countdownLabel(0)).toBe('获取验证码')
  })

  it('counts down once a second and stops at zero', () => {
    const ticks = []
    const countdown = createCountdown((n) => ticks.push(n))
    countdown.start(3)
    vi.advanceTimersByTime(1000)
    expect(ticks).toEqual([3, 2])
    vi.advanceTimersByTime(5000)
    expect(ticks).toEqual([3, 2, 1, 0])
    expect(vi.getTimerCount()).toBe(0)
  })

  it('starts over from the new value when restarted (a retry_after of the server)', () => {
    const ticks = []
    const countdown = createCountdown((n) => ticks.push(n))
    countdown.start(60)
    vi.advanceTimersByTime(2000)
    countdown.start(5)
    vi.advanceTimersByTime(1000)
    expect(ticks).toEqual([60, 59, 58, 5, 4])
    expect(vi.getTimerCount()).toBe(1)
  })

  it('does not start for zero or a negative value, and stop clears the timer', () => {
    const ticks = []
    const countdown = createCountdown((n) => ticks.push(n))
    countdown.start(-3)
    expect(vi.getTimerCount()).toBe(0)
    countdown.start(10)
    countdown.stop()
    expect(vi.getTimerCount()).toBe(0)
    expect(countdown.remaining).toBe(0)
  })
})
