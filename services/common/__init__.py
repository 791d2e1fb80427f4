"""What every service is built from. A service imports these names, and rarely anything else here:

    from services.common.application import ServiceApplication, retry_on_conflict   # its application
    from services.common.commands import command                                       # its commands
    from services.common.rpc import rpc, RpcProxy, call_with_deadline                 # its RPCs, its calls
    from services.common.messaging import on_event                                    # its consumers
    from services.common.dependency import EventSourced                               # store + relay
    from services.common.operations import Operated, Rebuilding                       # `eport` asks these
    from services.common.settings import setting, secret                              # its settings
    from services.common.aggregates import KeyedList                                  # a keyed list aggregate

- `application.py`: `ServiceApplication` (subclass it, set `service_name`: `load`, `find`,
  `consume`), `retry_on_conflict(attempt)` (409 CONFLICT after the tries).
- `commands.py`: `@command` (a command method receives its `run`: `run.save(..., answer=)`,
  `run.refuse`, `run.resuming` of a `@command(resumable=True)`).
- `rpc.py`: `@rpc` (never nameko's), `RpcProxy(service)` (never nameko's) and
  `call_with_deadline(proxy.method, *args)` for every call to another service (through the service's
  `peers.py`), 503 SERVICE_UNAVAILABLE when it does not answer in time.
- `messaging.py`: `@on_event(consumer, source)`, the idempotent consumer's entrypoint.
- `dependency.py`: `EventSourced(AppClass, to_integration)`, the application as a Nameko dependency
  with the relay that publishes its integration events; `swap.py`'s `SwappableEventSourced` for a
  store `eport rebuild` replaces.
- `operations.py`: `Operated`, the `ops_*` RPCs of every service class; `Rebuilding` for a read model.
- `settings.py`: `setting(NAME)`, `secret(NAME)`, `var_dir()`, `development()`: every setting
  declared there once.

The rest is plumbing those use, each module saying what it holds: `bootstrap.py` (the wiring: the
event store's environment, the relay's positions, the published log, made from the settings),
`deployment.py` (the list of services),
`context.py`, `correlation.py`, `turns.py`, `consuming.py`, `exchange_binding.py`, `deadletters.py`,
`relay.py`, `published.py`, `positions.py`, `event_keys.py`, `cipher.py`, `compression.py`,
`timeline.py`, `outages.py`, `postgres.py`, `secret_rules.py`, `person_keys.py` (per-person keys:
docs/PERSONAL_DATA.md), `durable.py`, `erasure.py` (what every service does on UserErased),
`broadcasts.py` (an event every instance hears, signed by its source),
`broker_addresses.py` (a cluster's AMQP_URI). docs/conventions.md tells how to use them.
"""
