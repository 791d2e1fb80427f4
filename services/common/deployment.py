"""The services of the platform, written once: the launcher starts them, the gateway asks them."""
import importlib.util

from .settings import setting

# service name -> its Nameko class (module:Class, since a module also imports mixins with
# entrypoints that `nameko run` would otherwise try to run); the gateway last, it needs the others
SERVICES = {
    "notify": "services.notify.service:NotifyService",
    "identity": "services.identity.service:IdentityService",
    "enterprise": "services.enterprise.service:EnterpriseService",
    "card": "services.card.service:CardService",
    "authz": "services.authz.service:AuthzService",
    "audit": "services.audit.service:AuditService",
    "sso": "services.sso.service:SsoService",
    "gateway": "gateway.service:GatewayService",
}
BACKENDS = tuple(name for name in SERVICES if name != "gateway")  # what the gateway calls
# the services whose relay publishes integration events (`<name>.events`): `eport events` reads
# them, the audit log records and rebuilds from them
PUBLISHERS = ("identity", "enterprise", "card", "authz", "sso")


def available_services():
    """The services whose code is in this checkout."""
    return {name: target for name, target in SERVICES.items()
            if importlib.util.find_spec(target.split(":")[0]) is not None}


def deployed_services():
    """The services of this deployment: EPORT_SERVICES (set by the launcher), else all available."""
    names = setting("EPORT_SERVICES")
    if names:
        return {n for n in names.split(",") if n}
    return set(available_services())
