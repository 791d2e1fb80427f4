"""HTTP routes of the messages area (see shared/API.md)."""


class MessagesRoutes:
    pass
