"""The person's own data (shared/API.md "Personal data"): spending the personal_data SMS code of one
export, and identity's part of the export. A mixin of IdentityApplication (PersonalDataHost)."""
from typing import Protocol

from contracts.times import iso_of_epoch
from contracts.validators import check_field
from services.common.application import retry_on_conflict
from services.common.commands import command
from services.common.personal_data import history, plain

from .collaborators import Core, SmsCodeChecks
from .domain import ACCOUNT_BUSY, User, UserNotFound
from .inputs import sms_code_input

LOGIN_EVENTS = ("User.LoggedIn", "User.LoginFailed", "User.Locked")


class PersonalDataHost(Core, Protocol):
    """What PersonalData needs of the application it is mixed into (tests/unit/test_identity_mixins.py)."""
    sms_checks: SmsCodeChecks


class PersonalData:
    @command
    def spend_export_code(self, run, actor_user_id, sms_code, client=None):
        """Spends the caller's personal_data code for one export (its answer follows from the other
        services, never stored: this command's record answers None). 401 without a live account."""
        code = check_field("sms_code", sms_code_input, sms_code)
        client = self.sms_checks.client_key(client)

        def attempt():
            user = self.sms_checks.own_account(actor_user_id)
            run.save(self.sms_checks.spend_personal_data_code(run, user, code, self.clock(), client), answer=None)

        retry_on_conflict(attempt, message=ACCOUNT_BUSY)

    def personal_data(self, user_id):
        """identity's part of the export of `user_id` (the gateway's, from the verified token):
        the account unmasked, its logins and every stored event of it."""
        user = self.find(user_id, User)
        if user is None:
            raise UserNotFound("No such user.")
        events = history(self, user.id)
        account = {"user_id": str(user.id), "name": user.name, "id_type": user.id_type, "id_number": user.id_number,
                   "mobile": user.mobile, "registered_at": iso_of_epoch(user.registered_at),
                   "identity_verified": user.identity_verified, "has_password": user.has_password,
                   "last_login_at": None if user.last_login_at is None else iso_of_epoch(user.last_login_at)}
        return plain({"account": account, "logins": [ev for ev in events if ev["type"] in LOGIN_EVENTS],
                      "account_history": events})
