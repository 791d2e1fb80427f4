"""A local stand-in for Tencent Cloud SMS's API (sms.tencentcloudapi.com, version 2021-01-11), as
its documentation describes it, for the tests of services/notify/sms_tencent.py: the real SDK talks
to it over HTTP. It checks what the provider checks first (the TC3-HMAC-SHA256 signature of the
request with the SecretKey, the action and version headers) and answers SendSms with the documented
shapes: {"Response": {"SendStatusSet": [{"SerialNo", "PhoneNumber", "Fee", "SessionContext", "Code",
"Message", "IsoCode"}], "RequestId"}}, or {"Response": {"Error": {"Code", "Message"}, "RequestId"}}.
What it answers next is scripted (`script`: a list of "Ok", an error code, or an HTTP status)."""
import hashlib
import hmac
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_ID, SECRET_KEY = "AKIDtestsecretid0000000000000000", "testsecretkey0000000000000000000"
AUTH = re.compile(r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>[\d-]+)/(?P<service>\w+)/tc3_request, "
                  r"SignedHeaders=(?P<signed>[\w;-]+), Signature=(?P<signature>[0-9a-f]{64})")
STATUS_ERRORS = ("LimitExceeded.", "InvalidParameterValue.", "FailedOperation.")  # per number, in SendStatusSet


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key, method, headers, body, signed, date, service, timestamp):
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower() if name == 'content-type' else headers[name]}\n"
                                for name in signed.split(";"))
    canonical = "\n".join([method, "/", "", canonical_headers, signed, hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencentSms:
    def __init__(self):
        self.requests, self.script = [], []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def answer(self, headers, body):
        """(HTTP status, JSON answer) of one request, as the provider would."""
        request_id = str(uuid.uuid4())
        auth = AUTH.fullmatch(headers.get("authorization", ""))
        if auth is None or auth["id"] != SECRET_ID or headers.get("x-tc-version") != "2021-01-11" \
                or headers.get("x-tc-action") != "SendSms" or auth["service"] != "sms":
            return 200, _error("AuthFailure.SecretIdNotFound", "the SecretId is not found", request_id)
        expected = tc3_signature(SECRET_KEY, "POST", headers, body, auth["signed"], auth["date"], "sms",
                                 headers["x-tc-timestamp"])
        if not hmac.compare_digest(expected, auth["signature"]):
            return 200, _error("AuthFailure.SignatureFailure", "the signature is wrong", request_id)
        sms = json.loads(body)
        self.requests.append({"headers": headers, "body": sms})
        step = self.script.pop(0) if self.script else "Ok"
        if isinstance(step, int):
            return step, {"message": "bad gateway"}
        if step != "Ok" and not step.startswith(STATUS_ERRORS):
            return 200, _error(step, f"{step} happened", request_id)
        return 200, {"Response": {"RequestId": request_id, "SendStatusSet": [
            {"SerialNo": "2028:" + uuid.uuid4().hex, "PhoneNumber": number, "Fee": 1, "SessionContext": "",
             "Code": step, "Message": "send success" if step == "Ok" else step, "IsoCode": "CN"}
            for number in sms["PhoneNumberSet"]]}}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer = fake.answer(headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def _error(code, message, request_id):
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
