"""SMS entrypoints of the notify service."""


class SmsEntrypoints:
    pass
