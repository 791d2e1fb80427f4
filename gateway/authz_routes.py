"""HTTP routes of the authz area (see shared/API.md)."""


class AuthzRoutes:
    pass
