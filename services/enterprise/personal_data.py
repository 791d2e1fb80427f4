"""enterprise's part of a person's export (shared/API.md "Personal data"): each association the
person applied for, with the name it holds and its history, and the events of those enterprises
that name the person (an administrator's handover, a role certified with their card)."""
from services.common.personal_data import history, mentioning

from .domain import Association, AssociationList, Enterprise


def personal_data(app, user_id):
    mine = app.find(AssociationList.create_id(AssociationList.user_key(user_id)), AssociationList)
    associations, enterprises = [], {}
    for association_id in mine.items if mine else []:
        association = app.find(association_id, Association)
        if association is None:
            continue
        enterprise = app.find(association.enterprise_id, Enterprise)
        associations.append({"association_id": str(association.id), "enterprise_id": association.enterprise_id,
                             "enterprise_name": None if enterprise is None else enterprise.name,
                             "uscc": None if enterprise is None else enterprise.uscc,
                             "role": association.role, "status": association.status,
                             "user_name": association.user_name, "history": history(app, association.id)})
        if enterprise is not None and association.enterprise_id not in enterprises:
            enterprises[association.enterprise_id] = mentioning(history(app, enterprise.id), user_id)
    return {"associations": associations,
            "enterprise_events": [ev for events in enterprises.values() for ev in events]}
