"""Deleting one aggregate's stored events and snapshots from a service's store: the one exception to
"events are immutable", for an aggregate whose very id must not stay in the store (a card index
under its legacy id, the uuid5 of a plain card number: services/card/application.py). Only for an
aggregate whose content lives on elsewhere (moved) and that no integration event was mapped from:
the notification log then has a gap where its events were, which readers of it skip (positions are
ids, not counts). Works on each store the platform runs on: SQLite, PostgreSQL (eventsourcing-
sqlalchemy), memory."""
import uuid

from eventsourcing.popo import POPOAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder


def delete_aggregate(app, aggregate_id):
    """Every stored event and snapshot of `aggregate_id` gone from `app`'s store (idempotent)."""
    aggregate_id = uuid.UUID(str(aggregate_id))
    recorders = [app.recorder] + ([app.snapshots.recorder] if app.snapshots is not None else [])
    for recorder in recorders:
        _delete(recorder, aggregate_id)


def _delete(recorder, aggregate_id):
    if isinstance(recorder, SQLiteAggregateRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {recorder.events_table_name} WHERE originator_id = ?", (aggregate_id.hex,))
    elif isinstance(recorder, POPOAggregateRecorder):
        with recorder._database_lock:
            recorder._stored_events_index.pop(str(aggregate_id), None)  # its notifications stay: memory is tests'
    else:  # eventsourcing_sqlalchemy
        records = recorder.events_record_cls
        with recorder.transaction(commit=True) as session:
            session.query(records).filter(records.originator_id == aggregate_id).delete(synchronize_session=False)
