"""card's part of a person's export (shared/API.md "Personal data"): each card binding of the person
with its history, the history of each card they bound (its certificate's SHA-256 pinned there),
and the challenges issued to them or to those cards (binds, logins, identity claims)."""
from services.common.personal_data import events_naming, history

from .domain import BindingList, CardBinding, CardIndex, Challenge, LoginChallengeSpent


def personal_data(app, user_id):
    listed = app.find(BindingList.create_id(f"user:{user_id}"), BindingList)
    bindings, card_nos = [], []
    for enterprise_id in listed.items if listed else []:
        binding = app.find(CardBinding.create_id(user_id, enterprise_id), CardBinding)
        if binding is None:
            continue
        events = history(app, binding.id)
        card_nos += [ev["fields"]["card_no"] for ev in events if ev["fields"].get("card_no")]
        bindings.append({"enterprise_id": enterprise_id, "card_no": binding.card_no, "card_type": binding.card_type,
                         "bound": binding.bound, "history": events})
    card_nos = list(dict.fromkeys(card_nos))
    cards = [{"card_no": card_no, "history": history(app, CardIndex.create_id(card_no))} for card_no in card_nos]
    challenges = events_naming(app, user_id, (Challenge, LoginChallengeSpent),
                               also=lambda ev: getattr(ev, "card_no", None) in card_nos)
    return {"card_bindings": bindings, "cards": cards, "card_challenges": challenges}
