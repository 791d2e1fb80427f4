"""The terminal of `make run` is the phone: with the development SMS provider (outbox), the
launcher prints each SMS as it lands in the outbox (masked mobile, purpose, code), marked as
development only. Real providers send real texts; nothing is printed then."""
import os
from pathlib import Path

from contracts.masking import mask_mobile
from services.notify.sms import opened_lines

PURPOSES = {"register": "注册账户", "login": "手机号登录", "reset_password": "忘记密码", "personal_data": "个人数据"}


def describe(sms):
    purpose = sms.get("purpose", "")
    return (f"[sms] 开发环境短信，仅供开发 (development only): {mask_mobile(str(sms.get('mobile', '')))} "
            f"{PURPOSES.get(purpose, purpose)} 验证码 {sms.get('code', '?')}")


class OutboxFollower:
    """Reads the SMS appended to the outbox since it was made (not the ones before)."""

    def __init__(self, path):
        self.path = Path(path)
        self.offset = self._size()
        self.partial = b""

    def _size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def poll(self):
        size = self._size()
        if size < self.offset:  # the outbox was replaced: start over
            self.offset, self.partial = 0, b""
        if size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = self.partial + f.read(size - self.offset)
        self.offset = size
        *lines, self.partial = data.split(b"\n")
        return [describe(sms) for sms in opened_lines(lines)]
