#!/usr/bin/env python3
"""token_server.py -- a small OAuth2 authorization server on 127.0.0.1 for the integration tests.

It issues access tokens (client_credentials and refresh_token grants, RFC 6749), rotates refresh
tokens, and answers Dovecot's token introspection (RFC 7662, introspection_mode = post), so the
test Dovecot can take XOAUTH2/OAUTHBEARER logins and Postfix SMTP AUTH through Dovecot SASL.
Standard library only.

Usage: token_server.py [--port N] [--user ADDRESS] [--client-id ID] [--client-secret SECRET]
                       [--expires-in SECONDS]
Prints "TOKEN_PORT=N" on stdout once it listens (port 0 = any free port).

Endpoints:
  POST /token             grant_type=client_credentials | refresh_token (client auth: HTTP Basic
                          or client_id/client_secret in the form)
  POST /introspect        token=...  ->  {"active": true, "username": USER} or {"active": false}
  POST /admin/refresh-token   issue a refresh token (what a consent flow would give) -> text
  POST /admin/expire      expire every access token issued so far (a token "expires mid-IDLE")
  POST /admin/revoke      revoke every refresh token (the administrator withdrew consent)
  GET  /admin/stats       counters as JSON: issued, refreshed, introspected, refused
"""

import argparse
import base64
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
ACCESS = {}      # token -> expiry (unix time)
REFRESH = set()  # valid refresh tokens
STATS = {"issued": 0, "refreshed": 0, "introspected": 0, "refused": 0}
ARGS = None


def new_access_token():
    token = "at-" + secrets.token_urlsafe(24)
    ACCESS[token] = time.time() + ARGS.expires_in
    STATS["issued"] += 1
    return token


def new_refresh_token():
    token = "rt-" + secrets.token_urlsafe(24)
    REFRESH.add(token)
    return token


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the tests read the counters instead
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def client_ok(self, form):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth[6:]).decode()
            user, _, pw = pair.partition(":")
            client_id, secret = urllib.parse.unquote(user), urllib.parse.unquote(pw)
        if client_id != ARGS.client_id:
            return False
        # A public client (refresh_token grant without a secret) is allowed, a wrong secret is not.
        return secret in (None, "", ARGS.client_secret) if form.get("grant_type") == "refresh_token" \
            else secret == ARGS.client_secret

    def do_GET(self):
        if self.path == "/admin/stats":
            with LOCK:
                return self.reply(200, dict(STATS))
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        path = urllib.parse.urlparse(self.path).path
        form = self.form()
        with LOCK:
            if path == "/token":
                return self.token(form)
            if path == "/introspect":
                STATS["introspected"] += 1
                token = form.get("token", "")
                expiry = ACCESS.get(token)
                if expiry is not None and expiry > time.time():
                    return self.reply(200, {"active": True, "username": ARGS.user,
                                            "scope": "https://mail.google.com/"})
                STATS["refused"] += 1
                return self.reply(200, {"active": False})
            if path == "/admin/refresh-token":
                return self.reply(200, new_refresh_token(), "text/plain")
            if path == "/admin/expire":
                for token in ACCESS:
                    ACCESS[token] = 0
                return self.reply(200, {"expired": len(ACCESS)})
            if path == "/admin/revoke":
                n = len(REFRESH)
                REFRESH.clear()
                return self.reply(200, {"revoked": n})
        self.reply(404, {"error": "not_found"})

    def token(self, form):
        if not self.client_ok(form):
            return self.reply(401, {"error": "invalid_client",
                                    "error_description": "unknown client or wrong secret"})
        grant = form.get("grant_type")
        if grant == "client_credentials":
            return self.reply(200, {"access_token": new_access_token(), "token_type": "Bearer",
                                    "expires_in": ARGS.expires_in})
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in REFRESH:
                return self.reply(400, {"error": "invalid_grant",
                                        "error_description": "refresh token revoked or expired"})
            REFRESH.discard(old)  # rotation: the old one is spent
            STATS["refreshed"] += 1
            return self.reply(200, {"access_token": new_access_token(), "token_type": "Bearer",
                                    "expires_in": ARGS.expires_in,
                                    "refresh_token": new_refresh_token()})
        return self.reply(400, {"error": "unsupported_grant_type"})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", default="info@example.org")
    p.add_argument("--client-id", default="klachtd-test")
    p.add_argument("--client-secret", default="app-secret")
    p.add_argument("--expires-in", type=int, default=3600)
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"TOKEN_PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
