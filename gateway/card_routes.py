"""HTTP routes of the card area (see shared/API.md)."""


class CardRoutes:
    pass
