#!/usr/bin/env python3
"""token_server.py -- a small OAuth2 authorization server on 127.0.0.1 for the integration tests.

It plays the parts of Microsoft Entra and Google's token service that klachtd uses, with their
error payloads, and answers Dovecot's token introspection (RFC 7662, introspection_mode = post),
so the test Dovecot takes XOAUTH2/OAUTHBEARER logins and Postfix SMTP AUTH through Dovecot SASL.
Signatures are verified with the openssl command; otherwise the standard library only.

Grants (POST to a token endpoint):
  client_credentials       client_secret, or client_assertion (RFC 7523 2.2: PS256 or RS256,
                           x5t#S256 or x5t of --client-cert, aud = the endpoint, iss = sub =
                           client id, exp within 10 minutes, jti never reused)
  refresh_token            rotates: the old refresh token is spent
  urn:...:jwt-bearer       Google service account (RFC 7523 2.1): RS256 with --sa-public-key,
                           iss = --sa-email, aud = the endpoint, sub a known user, exp - iat <=
                           3600, and domain-wide delegation granted (/admin/dwd) for the scope
  urn:...:device_code      RFC 8628; pending until /admin/device/approve
  authorization_code       with PKCE S256 and the same redirect_uri as /authorize
Endpoints:
  /token                               Google-shaped errors (invalid_grant, "Invalid JWT ...")
  /TENANT/oauth2/v2.0/token            Microsoft-shaped errors (AADSTS codes in error_codes)
  /TENANT/oauth2/v2.0/devicecode       device authorization (RFC 8628 3.1)
  GET /authorize                       the browser's step: 302 to redirect_uri?code=&state=
  POST /introspect                     token=...  ->  {"active": true, "username": USER}
Admin:
  POST /admin/refresh-token            a refresh token, as a consent would give (text)
  POST /admin/expire                   every access token issued so far expires now
  POST /admin/revoke                   every refresh token is revoked
  POST /admin/device/approve?user=U    the pending device codes are signed in (as U)
  POST /admin/device/decline           the pending device codes are declined
  POST /admin/dwd?scope=S              domain-wide delegation for the service account (S="" none)
  POST /admin/introspection?active=no  Dovecot's introspection refuses every token (a provider
                                       that has not applied new permissions yet); =yes again
  GET  /admin/stats                    counters: issued, refreshed, introspected, refused
  GET  /admin/last-assertion           header and claims of the last assertion received

Usage: token_server.py [--port N] [--user ADDRESS] [--client-id ID] [--client-secret SECRET]
   [--expires-in S] [--tenant T] [--client-cert PEM] [--sa-email E] [--sa-public-key PEM]
   [--jwt-tokens] [--grant-scopes "S1 S2"] [--app-roles "R1 R2"]
Prints "TOKEN_PORT=N" on stdout once it listens (port 0 = any free port).
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
ACCESS = {}      # token -> (expiry, username)
REFRESH = {}     # refresh token -> username
DEVICE = {}      # device_code -> {"user_code", "state": pending|approved|declined, "user", "scope"}
CODES = {}       # authorization code -> {"challenge", "redirect_uri", "scope", "user"}
JTIS = set()     # client assertion ids seen (no replay)
STATS = {"issued": 0, "refreshed": 0, "introspected": 0, "refused": 0}
STATE = {"dwd_scope": "", "introspection": True, "last_assertion": None}
ARGS = None
CERT = {}        # x5t#S256 / x5t / public key path of --client-cert


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_cert(path):
    der = subprocess.run(["openssl", "x509", "-in", path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    pub = subprocess.run(["openssl", "x509", "-in", path, "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    fd, pub_path = tempfile.mkstemp(suffix=".pem")
    os.write(fd, pub)
    os.close(fd)
    CERT["x5t#S256"] = b64url(hashlib.sha256(der).digest())
    CERT["x5t"] = b64url(hashlib.sha1(der).digest())
    CERT["pub"] = pub_path


def verify(alg, signing_input, signature, pub_path):
    """RS256 or PS256 signature check with the openssl command: True when it holds."""
    if alg not in ("RS256", "PS256"):
        return False
    with tempfile.TemporaryDirectory() as d:
        data, sig = os.path.join(d, "data"), os.path.join(d, "sig")
        with open(data, "wb") as f:
            f.write(signing_input)
        with open(sig, "wb") as f:
            f.write(signature)
        cmd = ["openssl", "dgst", "-sha256", "-verify", pub_path, "-signature", sig]
        if alg == "PS256":
            cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]
        return subprocess.run(cmd + [data], capture_output=True).returncode == 0


def parse_jwt(token):
    """(header, claims, signing_input, signature) or None."""
    try:
        h, c, s = token.split(".")
        return (json.loads(b64url_decode(h)), json.loads(b64url_decode(c)),
                f"{h}.{c}".encode(), b64url_decode(s))
    except Exception:  # noqa: BLE001 -- any malformed assertion is simply refused
        return None


def new_access_token(user, claims=None):
    opaque = "at-" + secrets.token_urlsafe(24)
    token = opaque
    if ARGS.jwt_tokens and claims is not None:
        now = int(time.time())
        body = {"aud": "https://outlook.office365.com", "iss": f"https://sts.windows.net/{ARGS.tenant}/",
                "iat": now, "nbf": now, "exp": now + ARGS.expires_in, "tid": ARGS.tenant,
                "appid": ARGS.client_id, "ver": "1.0"}
        body.update(claims)
        head = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": "test"}).encode())
        token = f"{head}.{b64url(json.dumps(body).encode())}.{opaque}"
    ACCESS[token] = (time.time() + ARGS.expires_in, user)
    STATS["issued"] += 1
    return token


def new_refresh_token(user):
    token = "rt-" + secrets.token_urlsafe(24)
    REFRESH[token] = user
    return token


def granted(requested):
    """The scopes a consent grants: --grant-scopes when given, else what was asked."""
    scopes = ARGS.grant_scopes.split() if ARGS.grant_scopes is not None else requested.split()
    return [s for s in scopes if s != "offline_access"]


def delegated_claims(scopes, user):
    return {"aud": "https://outlook.office.com",
            "scp": " ".join(s.rsplit("/", 1)[-1] for s in scopes), "upn": user}


def ms_error(status, error, code, text, suberror=None):
    body = {"error": error,
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {secrets.token_hex(8)}\r\n"
                                 f"Correlation ID: {secrets.token_hex(8)}\r\nTimestamp: "
                                 f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
            "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": secrets.token_hex(8), "correlation_id": secrets.token_hex(8),
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
    if suberror:
        body["suberror"] = suberror
    return status, body


def g_error(status, error, text):
    return status, {"error": error, "error_description": text}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the tests read the counters instead
        pass

    def reply(self, status, body, content_type="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def client(self, form):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth[6:]).decode()
            user, _, pw = pair.partition(":")
            client_id, secret = urllib.parse.unquote(user), urllib.parse.unquote(pw)
        return client_id, secret

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with LOCK:
            if url.path == "/admin/stats":
                return self.reply(200, dict(STATS))
            if url.path == "/admin/last-assertion":
                return self.reply(200, STATE["last_assertion"] or {})
            if url.path == "/authorize":
                return self.authorize(query)
        self.reply(404, {"error": "not_found"})

    def authorize(self, q):
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != ARGS.client_id:
            return self.reply(401, "Error 401: invalid_client\nThe OAuth client was not found.",
                              "text/plain")
        if not redirect.startswith("http://127.0.0.1:") and not redirect.startswith("http://[::1]:"):
            return self.reply(400, "Error 400: redirect_uri_mismatch", "text/plain")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self.reply(400, "Error 400: invalid_request (PKCE required)", "text/plain")
        code = "4/" + secrets.token_urlsafe(24)
        CODES[code] = {"challenge": q["code_challenge"], "redirect_uri": redirect,
                       "scope": q.get("scope", ""), "user": q.get("login_hint") or ARGS.user}
        params = {"state": q.get("state", ""), "code": code, "scope": " ".join(granted(q.get("scope", "")))}
        location = redirect + ("&" if "?" in redirect else "/?") + urllib.parse.urlencode(params)
        self.reply(302, "", "text/plain", headers=[("Location", location)])

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        path = url.path
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        form = self.form()
        parts = path.strip("/").split("/")
        with LOCK:
            if path == "/token":
                return self.reply(*self.token(form, None))
            if len(parts) == 4 and parts[1:3] == ["oauth2", "v2.0"] and parts[3] in ("token", "devicecode"):
                tenant = parts[0]
                problem = self.tenant_problem(tenant, form)
                if problem:
                    return self.reply(*problem)
                if parts[3] == "devicecode":
                    return self.reply(*self.devicecode(form, tenant))
                return self.reply(*self.token(form, tenant))
            if path == "/introspect":
                STATS["introspected"] += 1
                entry = ACCESS.get(form.get("token", ""))
                if STATE["introspection"] and entry is not None and entry[0] > time.time():
                    return self.reply(200, {"active": True, "username": entry[1],
                                            "scope": "https://mail.google.com/"})
                STATS["refused"] += 1
                return self.reply(200, {"active": False})
            if path == "/admin/refresh-token":
                return self.reply(200, new_refresh_token(ARGS.user), "text/plain")
            if path == "/admin/expire":
                for token, (_, user) in list(ACCESS.items()):
                    ACCESS[token] = (0, user)
                return self.reply(200, {"expired": len(ACCESS)})
            if path == "/admin/revoke":
                n = len(REFRESH)
                REFRESH.clear()
                return self.reply(200, {"revoked": n})
            if path == "/admin/device/approve":
                n = 0
                for d in DEVICE.values():
                    if d["state"] == "pending":
                        d["state"], d["user"], n = "approved", query.get("user", ARGS.user), n + 1
                return self.reply(200, {"approved": n})
            if path == "/admin/device/decline":
                for d in DEVICE.values():
                    d["state"] = "declined"
                return self.reply(200, {})
            if path == "/admin/dwd":
                STATE["dwd_scope"] = query.get("scope", "")
                return self.reply(200, {"dwd": STATE["dwd_scope"]})
            if path == "/admin/introspection":
                STATE["introspection"] = query.get("active", "yes") != "no"
                return self.reply(200, {"active": STATE["introspection"]})
        self.reply(404, {"error": "not_found"})

    def endpoint(self, tenant):
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        return f"{host}/{tenant}/oauth2/v2.0/token" if tenant else f"{host}/token"

    def tenant_problem(self, tenant, form):
        if tenant.lower() in ("common", "organizations", "consumers"):
            return ms_error(400, "invalid_request", 50194,
                            f"Application '{form.get('client_id', '')}'(klachtd) is not configured as a "
                            "multi-tenant application. Usage of the /common endpoint is not supported "
                            "for such applications created after '10/15/2018'. Use a tenant-specific "
                            "endpoint or configure the application to be multi-tenant.")
        if tenant != ARGS.tenant:
            return ms_error(400, "invalid_request", 90002,
                            f"Tenant '{tenant}' not found. Check to make sure you have the correct "
                            "tenant ID and are signing into the correct cloud.")
        if form.get("client_id", ARGS.client_id) != ARGS.client_id:
            return ms_error(400, "unauthorized_client", 700016,
                            f"Application with identifier '{form.get('client_id')}' was not found in "
                            f"the directory '{tenant}'. This can happen if the application has not "
                            "been installed by the administrator of the tenant or consented to by "
                            "any user in the tenant. You may have sent your authentication request "
                            "to the wrong tenant.")
        return None

    def devicecode(self, form, tenant):
        code = secrets.token_urlsafe(24)
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        DEVICE[code] = {"user_code": user_code, "state": "pending", "user": None,
                        "scope": form.get("scope", "")}
        return 200, {"device_code": code, "user_code": user_code,
                     "verification_uri": "https://microsoft.com/devicelogin",
                     "expires_in": 900, "interval": 1,
                     "message": f"To sign in, use a web browser to open the page "
                                f"https://microsoft.com/devicelogin and enter the code {user_code} "
                                f"to authenticate."}

    def token(self, form, tenant):
        grant = form.get("grant_type")
        ms = tenant is not None
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.jwt_bearer(form)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            return self.device_token(form)
        if grant == "authorization_code":
            return self.authorization_code(form)
        client_id, secret = self.client(form)
        assertion = form.get("client_assertion")
        if assertion is not None:
            problem = self.check_assertion(assertion, form, tenant)
            if problem:
                return problem
        elif client_id != ARGS.client_id:
            return (ms_error(401, "invalid_client", 700016, f"Application with identifier "
                             f"'{client_id}' was not found in the directory.") if ms else
                    g_error(401, "invalid_client", "unknown client or wrong secret"))
        elif not (grant == "refresh_token" and secret in (None, "")) and secret != ARGS.client_secret:
            # A public client (refresh_token grant without a secret) is allowed, a wrong secret not.
            return (ms_error(401, "invalid_client", 7000215, "Invalid client secret provided. "
                             "Ensure the secret being sent in the request is the client secret "
                             "value, not the client secret ID, for a secret added to app "
                             f"'{client_id}'.") if ms else
                    g_error(401, "invalid_client", "unknown client or wrong secret"))
        if grant == "client_credentials":
            roles = ARGS.app_roles.split()
            return 200, {"access_token": new_access_token(ARGS.user, {"roles": roles}),
                         "token_type": "Bearer", "expires_in": ARGS.expires_in,
                         "ext_expires_in": ARGS.expires_in}
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            user = REFRESH.pop(old, None)  # rotation: the old one is spent
            if user is None:
                return (ms_error(400, "invalid_grant", 70000, "The provided value for the "
                                 "'refresh_token' is not valid. The refresh token has been revoked "
                                 "or has expired.") if ms else
                        g_error(400, "invalid_grant", "refresh token revoked or expired"))
            STATS["refreshed"] += 1
            scopes = granted(form.get("scope", "") or "https://outlook.office.com/IMAP.AccessAsUser.All "
                                                        "https://outlook.office.com/SMTP.Send")
            return 200, {"access_token": new_access_token(user, delegated_claims(scopes, user)),
                         "token_type": "Bearer", "expires_in": ARGS.expires_in,
                         "scope": form.get("scope", "") or "https://mail.google.com/",
                         "refresh_token": new_refresh_token(user)}
        return 400, {"error": "unsupported_grant_type"}

    def check_assertion(self, assertion, form, tenant):
        """A client assertion (Microsoft certificate credentials): None when it holds."""
        parsed = parse_jwt(assertion)
        bad = lambda code, text: ms_error(401, "invalid_client", code, text)  # noqa: E731
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return ms_error(400, "invalid_request", 50027, "client_assertion_type is not jwt-bearer")
        if parsed is None or not CERT:
            return bad(50027, "JWT token is invalid or malformed.")
        header, claims, signing_input, signature = parsed
        STATE["last_assertion"] = {"header": header, "claims": claims}
        thumb = header.get("x5t#S256") or header.get("x5t")
        if thumb not in (CERT["x5t#S256"], CERT["x5t"]):
            return bad(700027, f"The certificate with identifier used to sign the client assertion "
                               f"is not registered on application. [Reason - The key was not found., "
                               f"Thumbprint of key used by client: '{thumb}']")
        if not verify(header.get("alg"), signing_input, signature, CERT["pub"]):
            return bad(700027, "Client assertion failed signature validation.")
        now = time.time()
        if claims.get("aud") != self.endpoint(tenant):
            return bad(700021, f"Client assertion audience claim does not match Realm issuer. "
                               f"Review the documentation at "
                               f"https://learn.microsoft.com/entra/identity-platform/"
                               f"certificate-credentials . ({claims.get('aud')})")
        if claims.get("iss") != ARGS.client_id or claims.get("sub") != ARGS.client_id:
            return bad(700016, "Application with identifier in the assertion was not found.")
        if not (claims.get("nbf", 0) - 300 <= now <= claims.get("exp", 0)) or claims["exp"] - now > 3600:
            return bad(700024, "Client assertion is not within its valid time range.")
        if not claims.get("jti") or claims["jti"] in JTIS:
            return bad(700023, "Client assertion jti is missing or was used before.")
        JTIS.add(claims["jti"])
        return None

    def jwt_bearer(self, form):
        """A Google service account's assertion (domain-wide delegation)."""
        parsed = parse_jwt(form.get("assertion", ""))
        if parsed is None or not ARGS.sa_public_key:
            return g_error(400, "invalid_grant", "Invalid JWT Signature.")
        header, claims, signing_input, signature = parsed
        STATE["last_assertion"] = {"header": header, "claims": claims}
        if header.get("alg") != "RS256" or claims.get("iss") != ARGS.sa_email or \
                not verify("RS256", signing_input, signature, ARGS.sa_public_key):
            return g_error(400, "invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if exp - iat > 3600 or iat > now + 300 or exp < now:
            return g_error(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token "
                           "(60 minutes) and in a reasonable timeframe. Check your iat and exp "
                           "values in the JWT claim.")
        if claims.get("aud") != self.endpoint(None):
            return g_error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        if claims.get("sub") != ARGS.user:
            return g_error(400, "invalid_grant", "Invalid email or User ID")
        scopes = claims.get("scope", "").split()
        if not scopes or any(s not in STATE["dwd_scope"].split() for s in scopes):
            return g_error(401, "unauthorized_client", "Client is unauthorized to retrieve access "
                           "tokens using this method, or client not authorized for any of the "
                           "scopes requested.")
        return 200, {"access_token": new_access_token(claims["sub"]), "token_type": "Bearer",
                     "expires_in": ARGS.expires_in}

    def device_token(self, form):
        d = DEVICE.get(form.get("device_code", ""))
        if d is None:
            return ms_error(400, "invalid_grant", 70000, "The provided value for the input "
                            "parameter 'device_code' is not valid.")
        if d["state"] == "pending":
            return ms_error(400, "authorization_pending", 70016, "OAuth 2.0 device flow error. "
                            "Authorization is pending. Continue polling.")
        if d["state"] == "declined":
            return ms_error(400, "authorization_declined", 70016, "the user declined")
        del DEVICE[form["device_code"]]
        scopes = granted(d["scope"])
        body = {"access_token": new_access_token(d["user"], delegated_claims(scopes, d["user"])),
                "token_type": "Bearer", "expires_in": ARGS.expires_in, "scope": " ".join(scopes)}
        if "offline_access" in d["scope"].split():
            body["refresh_token"] = new_refresh_token(d["user"])
        return 200, body

    def authorization_code(self, form):
        c = CODES.pop(form.get("code", ""), None)
        if c is None:
            return g_error(400, "invalid_grant", "Malformed auth code.")
        client_id, secret = self.client(form)
        if client_id != ARGS.client_id or secret != ARGS.client_secret:
            return g_error(401, "invalid_client", "Unauthorized")
        if form.get("redirect_uri") != c["redirect_uri"]:
            return g_error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if b64url(hashlib.sha256(verifier.encode()).digest()) != c["challenge"]:
            return g_error(400, "invalid_grant", "Invalid code verifier.")
        scopes = granted(c["scope"])
        body = {"access_token": new_access_token(c["user"]), "token_type": "Bearer",
                "expires_in": ARGS.expires_in, "scope": " ".join(scopes),
                "refresh_token": new_refresh_token(c["user"])}
        if "openid" in c["scope"].split():
            # An OpenID id_token naming the account (unsigned: klachtd only reads its email).
            claims = {"iss": "https://accounts.google.com", "aud": ARGS.client_id,
                      "email": c["user"], "email_verified": True, "iat": int(time.time()),
                      "exp": int(time.time()) + 3600}
            body["id_token"] = (b64url(json.dumps({"alg": "none"}).encode()) + "." +
                                b64url(json.dumps(claims).encode()) + ".")
        return 200, body


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", default="info@example.org")
    p.add_argument("--client-id", default="klachtd-test")
    p.add_argument("--client-secret", default="app-secret")
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--tenant", default="00000000-0000-4000-8000-000000000001")
    p.add_argument("--client-cert")
    p.add_argument("--sa-email", default="klachtd@klachtd-test.iam.gserviceaccount.com")
    p.add_argument("--sa-public-key")
    p.add_argument("--jwt-tokens", action="store_true")
    p.add_argument("--grant-scopes")
    p.add_argument("--app-roles", default="IMAP.AccessAsApp SMTP.SendAsApp")
    ARGS = p.parse_args()
    if ARGS.client_cert:
        load_cert(ARGS.client_cert)
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    print(f"TOKEN_PORT={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
