#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""fake_stripe.py - a fake of Stripe's HTTP API for the billing tests.

    python3 tests/fake_stripe.py --port 0 --port-file F [--key sk_test_...] [--verbose]

Listens on 127.0.0.1, writes the bound port to F (atomically, once listening)
and serves until SIGTERM or SIGINT. Python standard library only.

Stripe's API, with the semantics the billing service relies on:

  POST /v1/customers              name, email, metadata[...], invoice_settings[...]
  GET  /v1/customers/ID
  POST /v1/payment_intents        amount, currency (lower case), customer,
                                  payment_method, confirm, off_session,
                                  description, metadata[...]
  GET  /v1/payment_intents/ID

  - "Authorization: Bearer <key>" or a 401 invalid_request_error;
  - form-encoded bodies (application/x-www-form-urlencoded, else a 400),
    "a[b]=c" read as {"a": {"b": "c"}}; JSON answers, with a Request-Id;
  - Idempotency-Key on POST, per key: the same key and the same method, path
    and parameters replays the stored answer with "Idempotent-Replayed: true";
    other parameters are a 400 idempotency_error; a request still running
    under that key is a 409 idempotency_error. Like Stripe, answers to
    requests refused before they ran (401, 400 validation, injected 500s) are
    not stored, so they can be retried;
  - a confirmed PaymentIntent succeeds and creates a charge, or for a
    declining customer fails with a 402 card_error card_declined whose error
    carries the intent (status requires_payment_method), or for a processing
    customer stays "processing" with a pending charge.

Test endpoints (no key needed, not recorded):

  GET  /_requests    every /v1 request, in order: {"method", "path", "headers"
                     (names lower case), "body" (raw), "form" (decoded pairs as
                     an object, the last value of a repeated key)}
  GET  /_charges     the charges created: {"id": "ch_...", "payment_intent",
                     "customer", "amount", "currency", "status": "succeeded" or
                     "pending"}; declines create none
  POST /_control     a JSON object, all keys optional:
      "reset": true               forget everything (applied first)
      "fail_next": N              answer the next N /v1 requests 500 api_error
                                  without running them
      "timeout_next": N           run the next N /v1 requests that get past
                                  the key and idempotency checks only after
                                  sleeping "sleep_ms" (default 1500), longer
                                  than the client waits: the object is created
                                  and its answer stored though nobody reads it
      "sleep_ms": MS
      "decline_customers": [ID] or {ID: decline_code}   (default generic_decline)
      "processing_customers": [ID]
      "default_payment_method": {customer ID: "pm_..."}
      "intent_status": {payment intent ID: status}  settle a processing intent
"""

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INTENT_STATUSES = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "canceled",
    "succeeded",
)


def new_id(prefix):
    return prefix + "_" + secrets.token_hex(12)


def stripe_error(status, etype, message, **extra):
    err = {"type": etype, "message": message}
    err.update(extra)
    return status, {"error": err}


def nest(pairs):
    """Stripe's form convention: "metadata[k]=v" is {"metadata": {"k": "v"}}."""
    out = {}
    for key, value in pairs:
        if "[" in key and key.endswith("]"):
            outer, inner = key[:-1].split("[", 1)
            sub = out.setdefault(outer, {})
            if isinstance(sub, dict):
                sub[inner] = value
        else:
            out[key] = value
    return out


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = []
        self.customers = {}
        self.intents = {}
        self.charges = []
        # (key, idempotency key) -> {"fingerprint", "status", "body", "request_id"}
        # or None while the first request under it runs
        self.idempotency = {}
        self.fail_next = 0
        self.timeout_next = 0
        self.sleep_ms = 1500
        self.decline = {}
        self.processing = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-stripe/1"

    # ---- plumbing ---------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_stripe: " + (fmt % args) + "\n")

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout_next): the answer is lost

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        raw = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        st = self.server.state
        if path == "/_requests" and method == "GET":
            with st.lock:
                return self.send_json(200, list(st.requests))
        if path == "/_charges" and method == "GET":
            with st.lock:
                return self.send_json(200, list(st.charges))
        if path == "/_control" and method == "POST":
            return self.control(raw)
        if path.startswith("/v1/"):
            return self.api(method, path, raw)
        return self.send_json(*stripe_error(404, "invalid_request_error",
                                            "Unrecognized request URL (%s: %s)." % (method, path)))

    def control(self, raw):
        try:
            ctl = json.loads(raw or b"{}")
            if not isinstance(ctl, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.send_json(400, {"error": str(e)})
        st = self.server.state
        with st.lock:
            if ctl.get("reset"):
                st.reset()
            st.fail_next += int(ctl.get("fail_next", 0))
            st.timeout_next += int(ctl.get("timeout_next", 0))
            if "sleep_ms" in ctl:
                st.sleep_ms = int(ctl["sleep_ms"])
            decline = ctl.get("decline_customers", {})
            if isinstance(decline, list):
                decline = {c: "generic_decline" for c in decline}
            st.decline.update(decline)
            st.processing.update(ctl.get("processing_customers", []))
            for cus, pm in ctl.get("default_payment_method", {}).items():
                if cus in st.customers:
                    st.customers[cus]["invoice_settings"]["default_payment_method"] = pm
            for pi, status in ctl.get("intent_status", {}).items():
                if pi in st.intents and status in INTENT_STATUSES:
                    st.intents[pi]["status"] = status
                    for ch in st.charges:
                        if ch["payment_intent"] == pi:
                            ch["status"] = "succeeded" if status == "succeeded" else "failed"
        return self.send_json(200, {"ok": True})

    # ---- the API ----------------------------------------------------------

    def api(self, method, path, raw):
        st = self.server.state
        request_id = new_id("req")
        body = raw.decode("utf-8", "replace")
        try:
            pairs = urllib.parse.parse_qsl(body, keep_blank_values=True, strict_parsing=bool(body),
                                           encoding="utf-8", errors="strict")
        except (ValueError, UnicodeDecodeError):
            pairs = None
        idem_key = self.headers.get("Idempotency-Key") if method == "POST" else None
        with st.lock:
            st.requests.append({
                "method": method,
                "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "form": dict(pairs or []),
            })
            if st.fail_next > 0:
                st.fail_next -= 1
                status, obj = stripe_error(500, "api_error", "An unknown error occurred")
                return self.send_json(status, obj, {"Request-Id": request_id,
                                                    "Stripe-Should-Retry": "true"})

        auth = self.headers.get("Authorization", "")
        if auth != "Bearer " + self.server.key:
            shown = auth[7:][:8] + "*" * 8 if auth.startswith("Bearer ") else ""
            status, obj = stripe_error(401, "invalid_request_error",
                                       "Invalid API Key provided: %s" % shown)
            return self.send_json(status, obj, {"Request-Id": request_id})
        if method == "POST" and pairs is None:
            status, obj = stripe_error(400, "invalid_request_error", "Invalid request body.")
            return self.send_json(status, obj, {"Request-Id": request_id})
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        if method == "POST" and ctype != "application/x-www-form-urlencoded":
            status, obj = stripe_error(400, "invalid_request_error",
                                       "Invalid Content-Type %r: Stripe takes form-encoded bodies"
                                       % ctype)
            return self.send_json(status, obj, {"Request-Id": request_id})

        slot = None
        if idem_key is not None:
            slot = (self.server.key, idem_key)
            fingerprint = [method, path, sorted(pairs)]
            with st.lock:
                if slot in st.idempotency:
                    stored = st.idempotency[slot]
                    if stored is None:
                        status, obj = stripe_error(
                            409, "idempotency_error",
                            "There is currently another in-progress request using this "
                            "Idempotent Key (that probably means you submitted twice, and the "
                            "other request is still going through): %s. Please try again "
                            "later." % idem_key)
                        return self.send_json(status, obj, {"Request-Id": request_id,
                                                            "Stripe-Should-Retry": "true"})
                    if stored["fingerprint"] != fingerprint:
                        status, obj = stripe_error(
                            400, "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than "
                            "'%s' if you meant to execute a different request." % idem_key)
                        return self.send_json(status, obj, {"Request-Id": request_id})
                    return self.send_json(stored["status"], stored["body"], {
                        "Request-Id": request_id,
                        "Idempotent-Replayed": "true",
                        "Original-Request": stored["request_id"],
                    })
                st.idempotency[slot] = None  # in progress

        with st.lock:
            sleep = 0
            if st.timeout_next > 0:
                st.timeout_next -= 1
                sleep = st.sleep_ms / 1000.0
        if sleep:
            time.sleep(sleep)
        status, obj, store = self.run(method, path, nest(pairs or []))
        if slot is not None:
            with st.lock:
                if store:
                    # a copy: the replay is the first answer, whatever the object became
                    st.idempotency[slot] = {"fingerprint": fingerprint, "status": status,
                                            "body": json.loads(json.dumps(obj)),
                                            "request_id": request_id}
                else:
                    st.idempotency.pop(slot, None)
        return self.send_json(status, obj, {"Request-Id": request_id})

    def run(self, method, path, form):
        """(status, object, store under the idempotency key)."""
        parts = path.strip("/").split("/")
        st = self.server.state
        with st.lock:
            if parts == ["v1", "customers"] and method == "POST":
                return self.create_customer(form)
            if parts == ["v1", "payment_intents"] and method == "POST":
                return self.create_intent(form)
            if len(parts) == 3 and method == "GET" and parts[1] in ("customers", "payment_intents"):
                table = st.customers if parts[1] == "customers" else st.intents
                obj = table.get(parts[2])
                if obj is None:
                    kind = "customer" if parts[1] == "customers" else "payment_intent"
                    return stripe_error(404, "invalid_request_error",
                                        "No such %s: '%s'" % (kind, parts[2]),
                                        code="resource_missing", param="id") + (False,)
                return 200, obj, True
        return stripe_error(404, "invalid_request_error",
                            "Unrecognized request URL (%s: %s)." % (method, path)) + (False,)

    def create_customer(self, form):
        st = self.server.state
        metadata = form.get("metadata", {})
        settings = form.get("invoice_settings", {})
        if not isinstance(metadata, dict) or not isinstance(settings, dict):
            return stripe_error(400, "invalid_request_error", "Invalid object",
                                code="parameter_invalid_string") + (False,)
        cus = {
            "id": new_id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "livemode": False,
            "name": form.get("name"),
            "email": form.get("email"),
            "metadata": metadata,
            "default_source": None,
            "invoice_settings": {
                "default_payment_method": settings.get("default_payment_method"),
            },
        }
        st.customers[cus["id"]] = cus
        return 200, cus, True

    def create_intent(self, form):
        st = self.server.state

        def invalid(message, param, code="parameter_invalid_integer"):
            return stripe_error(400, "invalid_request_error", message, param=param,
                                code=code) + (False,)

        amount = form.get("amount", "")
        if not amount.isdigit() or int(amount) <= 0 or len(amount) > 12:
            return invalid("Invalid positive integer", "amount")
        currency = form.get("currency", "")
        if len(currency) != 3 or not currency.isascii() or not currency.islower():
            return invalid("Invalid currency: %s" % currency, "currency", "parameter_invalid")
        customer = form.get("customer")
        if customer not in st.customers:
            return invalid("No such customer: '%s'" % customer, "customer", "resource_missing")
        if form.get("confirm") != "true":
            return invalid("this fake only confirms on creation", "confirm", "parameter_invalid")
        metadata = form.get("metadata", {})
        if not isinstance(metadata, dict):
            return invalid("Invalid object", "metadata", "parameter_invalid_string")

        pm = form.get("payment_method") or \
            st.customers[customer]["invoice_settings"]["default_payment_method"] or \
            new_id("pm")
        pi = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "created": int(time.time()),
            "livemode": False,
            "amount": int(amount),
            "currency": currency,
            "customer": customer,
            "payment_method": pm,
            "description": form.get("description"),
            "metadata": metadata,
            "confirmation_method": "automatic",
            "capture_method": "automatic",
            "last_payment_error": None,
            "latest_charge": None,
            "status": "succeeded",
        }
        st.intents[pi["id"]] = pi
        if customer in st.decline:
            charge_id = new_id("ch")
            error = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": st.decline[customer],
                "message": "Your card was declined.",
                "charge": charge_id,
            }
            pi["status"] = "requires_payment_method"
            pi["latest_charge"] = charge_id
            pi["last_payment_error"] = dict(error)
            error["payment_intent"] = pi
            return 402, {"error": error}, True
        charge = {
            "id": new_id("ch"),
            "payment_intent": pi["id"],
            "customer": customer,
            "amount": pi["amount"],
            "currency": currency,
            "status": "succeeded",
        }
        if customer in st.processing:
            pi["status"] = "processing"
            charge["status"] = "pending"
        pi["latest_charge"] = charge["id"]
        st.charges.append(charge)
        return 200, pi, True


def main():
    ap = argparse.ArgumentParser(description="a fake Stripe HTTP API for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--key", default="sk_test_tollgate")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.state = State()
    server.key = args.key
    server.verbose = args.verbose

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print(port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
