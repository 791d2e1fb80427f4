"""HTTP routes of the identity area (see shared/API.md)."""


class IdentityRoutes:
    pass
