"""HTTP routes of the audit area (see shared/API.md)."""


class AuditRoutes:
    pass
