"""Inbox entrypoints of the notify service."""


class InboxEntrypoints:
    pass
