"""HTTP routes of the identity area (see shared/API.md): SMS codes, registration, passwords,
sessions (login and logout) and password resets. `GET /api/v1/me` lives elsewhere."""
import time

from contracts import errors as e
from contracts.identity import PERSONAL_DATA

from . import budgets
from .identity_schemas import (PasswordResetSchema, PasswordSchema, RegisteredSchema, RegistrationSchema,
                               SessionRequestSchema, SessionSchema, SmsCodeAcceptedSchema,
                               SmsCodeRequestSchema)
from .routing import bearer_token, call, route

TAGS = ("identity",)


class IdentityRoutes:
    @route("POST", "/api/v1/sms-codes", summary="Send an SMS code", status=202, auth=False,
           body=SmsCodeRequestSchema, response=SmsCodeAcceptedSchema, tags=TAGS,
           errors=(e.SMS_COOLDOWN, e.SMS_QUOTA_EXCEEDED, e.SMS_CODE_ATTEMPTS_EXCEEDED, e.SMS_DELIVERY_FAILED,
                   e.UNAUTHENTICATED, e.FORBIDDEN),
           budget=budgets.SMS_SEND,
           description="Always 202 for a well-formed request, registered mobile or not; `login` and "
                       "`reset_password` codes are only sent to registered mobiles. Codes are valid 5 "
                       "minutes and single use; one request per mobile and purpose every 60 s and 10 per "
                       "mobile in 24 h, counted for each asking client apart (others never use up "
                       "the owner's); a code has 5 tries, then it is void (ask a new one), and "
                       "5 wrong tries by one client block that client's verification for 15 minutes. 429 errors "
                       "carry `details.retry_after` (seconds). Purpose `personal_data` (one export or one erasure "
                       "of the caller's data) needs a Bearer token and the account's own mobile: 401 without "
                       "one, 403 FORBIDDEN for another mobile.")
    def create_sms_code(self, request, body):
        options = budgets.sms_request_options(request)
        if body["purpose"] == PERSONAL_DATA:  # identity checks that the mobile is the caller's own
            options["actor_user_id"] = self.authenticate(request).user_id
        return call(self.identity.request_sms_code, body["mobile"], body["purpose"], **options)

    @route("POST", "/api/v1/users", summary="Register an account", status=201, auth=False,
           body=RegistrationSchema, response=RegisteredSchema, tags=TAGS,
           errors=(e.SMS_CODE_INVALID, e.ID_NUMBER_TAKEN, e.MOBILE_TAKEN, e.SMS_CODE_ATTEMPTS_EXCEEDED),
           budget=budgets.REGISTRATION,
           description="Needs a `register` SMS code of the mobile. Answers a single-use "
                       "`password_setup_token` (valid 30 minutes) for setting the first password.")
    def create_user(self, request, body):
        return call(self.identity.register, body["name"], body["id_type"], body["id_number"],
                    body["mobile"], body["sms_code"], **budgets.sms_request_options(request))

    @route("PUT", "/api/v1/users/{user_id}/password", summary="Set or change the password", status=204,
           auth=False, body=PasswordSchema, tags=TAGS,
           errors=(e.WEAK_PASSWORD, e.INVALID_CREDENTIALS, e.ACCOUNT_LOCKED, e.UNAUTHENTICATED, e.FORBIDDEN),
           budget=budgets.PASSWORD_CHANGE,
           description="First password: `{password, password_setup_token}` without a token. Later: "
                       "`{password, current_password}` with the user's own Bearer token; it logs "
                       "out every other session of the account (the one making the request stays) "
                       "unless `end_other_sessions: false`. A reset by SMS ends them all. A wrong "
                       "`current_password` counts toward the lockout of logins (423 ACCOUNT_LOCKED).")
    def set_user_password(self, request, body, user_id):
        if "password_setup_token" in body:
            call(self.identity.set_password, user_id, body["password"],
                 password_setup_token=body["password_setup_token"])
            return None
        actor = self.authenticate(request)
        call(self.identity.set_password, user_id, body["password"],
             current_password=body["current_password"], actor_user_id=actor.user_id,
             end_other_sessions=body.get("end_other_sessions"), session_id=actor.session_id)
        return None

    @route("POST", "/api/v1/sessions", summary="Log in", status=201, auth=False,
           body=SessionRequestSchema, response=SessionSchema, tags=TAGS,
           errors=(e.INVALID_CREDENTIALS, e.ACCOUNT_LOCKED, e.SMS_CODE_ATTEMPTS_EXCEEDED,
                   e.CHALLENGE_INVALID, e.CARD_SIGNATURE_INVALID, e.CERTIFICATE_UNTRUSTED,
                   e.CARD_REVOCATION_UNAVAILABLE),
           budget=budgets.LOGIN,
           description="`method` password: `{account, password}` (account = mobile or ID number); "
                       "sms: `{mobile, sms_code}` (a `login` code); card: `{challenge_id, certificate, "
                       "signature}`. The same 401 for an unknown account and a wrong password; 5 "
                       "failures in a row lock the account's password logins for 15 minutes (423 with "
                       "`details.retry_after`), an unknown account's alike; SMS and card logins stay open.")
    def create_session(self, request, body):
        method = body["method"]
        if method == "password":
            return call(self.identity.login_password, body["account"], body["password"])
        if method == "sms":
            return call(self.identity.login_sms, body["mobile"], body["sms_code"],
                        **budgets.sms_request_options(request))
        # The card service verifies the challenge's signature and the certificate, then asks
        # identity for the session (identity.start_card_session).
        return call(self.card.login, body["challenge_id"], body["certificate"], body["signature"])

    @route("DELETE", "/api/v1/sessions/current", summary="Log out", status=204, tags=TAGS,
           description="Revokes the Bearer token for every gateway instance: it is refused from then on.")
    def delete_current_session(self, request, actor):
        call(self.identity.revoke_session, bearer_token(request))
        self.sessions.revoke(actor.session_id, time.time())  # the other instances hear the event
        return None

    @route("POST", "/api/v1/password-resets", summary="Reset the password with an SMS code", status=204,
           auth=False, body=PasswordResetSchema, tags=TAGS,
           errors=(e.SMS_CODE_INVALID, e.WEAK_PASSWORD, e.SMS_CODE_ATTEMPTS_EXCEEDED), budget=budgets.PASSWORD_RESET,
           description="Needs a `reset_password` SMS code of the mobile. Also lifts a lock.")
    def create_password_reset(self, request, body):
        call(self.identity.reset_password, body["mobile"], body["sms_code"], body["new_password"],
             **budgets.sms_request_options(request))
        return None
