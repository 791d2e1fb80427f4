"""HTTP routes of the enterprise area (see shared/API.md)."""


class EnterpriseRoutes:
    pass
