"""schemathesis hooks of scripts/contract-fuzz.

Every POST made with a token declares an optional Idempotency-Key. Left alone, the generator
sends the same few short keys ("0", "00", ...) over and over, with other bodies and to other
operations, and the service rightly answers 422 idempotency_key_reused: most of the POSTs
that carry a key then never reach the operation itself. So three times in four a generated
key is replaced by a fresh UUID; the fourth keeps what was generated, so that reuse, replay
and invalid keys are still fuzzed. Nothing is checked less: only what is sent changes.
"""

import random
import uuid

import schemathesis

FRESH_KEY_SHARE = 0.75


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and random.random() < FRESH_KEY_SHARE:
            headers[name] = str(uuid.uuid4())
