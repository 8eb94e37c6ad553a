"""schemathesis hooks of scripts/contract-fuzz.

Every POST made with a token declares an optional Idempotency-Key. Left alone, the generator
sends the same few short keys ("0", "00", ...) over and over, with other bodies and to other
operations, and the service rightly answers 422 idempotency_key_reused: most of the POSTs
that carry a key then never reach the operation itself. So three times in four a generated
key is replaced by a fresh UUID; the fourth keeps what was generated, so that reuse, replay
and invalid keys are still fuzzed. Nothing is checked less: only what is sent changes.
"""

import json
import os
import random
import urllib.error
import urllib.request
import uuid

import schemathesis

FRESH_KEY_SHARE = 0.75


@schemathesis.hook
def before_call(context, case, kwargs):
    fresh_idempotency_keys(case)
    with_the_callers_token(case)


def fresh_idempotency_keys(case):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and random.random() < FRESH_KEY_SHARE:
            headers[name] = str(uuid.uuid4())


# The caller's token is set here on every case (CONTRACT_FUZZ_TOKEN), in place of whatever
# was generated, as `-H Authorization: ...` would. But POST /api/v1/auth/logout ends the
# session of the token it is sent with: with the pass's own token, every later case of the
# pass would only hear 401 session_ended. So a logout is sent with the token of a session
# started for it (the pass's caller logs in again, named by CONTRACT_FUZZ_LOGIN as
# "user name:password"), and really ends that one.
def with_the_callers_token(case):
    token = os.environ.get("CONTRACT_FUZZ_TOKEN")
    if not token:
        return
    if case.path == "/api/v1/auth/logout" and case.method.upper() == "POST":
        token = fresh_session_token(case)
    if case.headers is None:
        case.headers = {}
    for name in list(case.headers):
        if name.lower() == "authorization":
            del case.headers[name]
    case.headers["Authorization"] = f"Bearer {token}"


def fresh_session_token(case):
    username, password = os.environ["CONTRACT_FUZZ_LOGIN"].split(":", 1)
    base = os.environ["CONTRACT_FUZZ_BASE"]
    req = urllib.request.Request(
        base + "/api/v1/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["access_token"]
    except urllib.error.HTTPError:
        # The pass's own wrong guesses at POST /api/v1/auth/password may have made the
        # account wait (429): the logout is then sent with a token that is no longer valid,
        # and answers 401, rather than end the pass's session.
        return os.environ["CONTRACT_FUZZ_TOKEN"] + "x"
