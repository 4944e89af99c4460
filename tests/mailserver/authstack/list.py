#!/usr/bin/python3
"""list.py OUTSIDE_DIR CLIENT_IP HELO SENDER RECIPIENT -- the outside mailing list of a
sender-authentication stack (run by the outside Postfix's pipe transport, message on stdin).

It does what Mailman 3 does with [ARC] enabled, with the libraries Mailman uses (Debian's
python3-authheaders and python3-dkim): checks SPF, DKIM, DMARC and ARC of the incoming post
and writes its own `Authentication-Results: lists.example.com; ...`, then changes the post as a
list does (subject tag, List-Id, a footer: the author's DKIM signature no longer verifies),
ARC-seals it (i=1, d=lists.example.com, carrying those results in ARC-Authentication-Results),
DKIM-signs it as the list and sends it, with the list's bounce address as envelope sender, to
each member (OUTSIDE_DIR/members) at the receiving server's port 25, from 127.0.0.3 (the
address lists.example.com's SPF record names). Exit 75 (EX_TEMPFAIL) on any failure: Postfix
keeps the post and retries.
"""
import smtplib
import sys
import traceback

import authheaders
import dkim

LIST = b"lists.example.com"


def main():
    outside, client_ip, helo, sender, _recipient = sys.argv[1:6]
    env = dict(line.strip().split("=", 1) for line in open(f"{outside}/env") if "=" in line)
    members = [m.strip() for m in open(f"{outside}/members") if m.strip()]
    key = open(f"{outside}/keys/lists.example.com.key", "rb").read()
    # Postfix's pipe hands the post over with LF line ends; DKIM is computed over CRLF.
    raw = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    # 1. What the list saw, as the list's own Authentication-Results.
    results = authheaders.authenticate_message(
        raw, LIST.decode(), spf=True, dkim=True, arc=True, dmarc=True,
        ip=client_ip, mail_from=sender, helo=helo)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    # 2. The list's changes: subject tag, List-Id, footer.
    out = [results.encode()]
    for line in lines:
        if line[:8].lower() == b"subject:":
            line = b"Subject: [leden]" + line[8:]
        out.append(line)
    out.append(b"List-Id: Leden <leden.lists.example.com>")
    out.append(b"List-Post: <mailto:leden@lists.example.com>")
    body = body + b"-- \r\nleden mailing list -- leden@lists.example.com\r\n"
    msg = b"\r\n".join(out) + b"\r\n\r\n" + body
    # 3. ARC seal over the changed post, then the list's own DKIM signature.
    seal = dkim.arc_sign(msg, b"list", LIST, key, LIST)
    msg = b"".join(seal) + msg
    sig = dkim.sign(msg, b"list", LIST, key)
    msg = sig + msg
    # 4. To every member, from the list's address.
    port = int(env["SMTP_PORT"])
    with smtplib.SMTP("127.0.0.1", port, local_hostname="lists.example.com",
                      source_address=("127.0.0.3", 0), timeout=60) as smtp:
        smtp.sendmail("leden-bounces@lists.example.com", members, msg)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 -- Postfix logs stderr with the deferral
        traceback.print_exc()
        sys.exit(75)
