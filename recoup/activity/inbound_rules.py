"""Pure rules of inbound email: no ORM, no network. What a Message-ID is, whether a message was sent by a
machine (an out-of-office or other automatic reply, a bounce), which words of a text could be invoice
numbers, and which sender domains say nothing about who the sender works for.

The sender controls every byte of a message, so everything here bounds what it reads and returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# What one message may make us look up: Message-IDs it refers to, words that could be invoice numbers.
MAX_REFERENCES = 50
MAX_TOKENS = 1_000
MAX_SCANNED_CHARS = 200_000
TOKEN_MAX_CHARS = 64  # no invoice's external id is longer

# Free mailbox providers: a sender there could be anyone, so their domain matches no customer.
PUBLIC_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "t-online.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "qq.com",
        "163.com",
    }
)
# Providers with a domain per country (yahoo.co.uk, hotmail.fr, outlook.de …).
PUBLIC_DOMAIN_BRANDS = frozenset({"yahoo", "hotmail", "outlook", "live", "gmx", "aol"})

# Subjects an automatic reply starts with, in the languages customers write in (lower case).
AUTO_REPLY_SUBJECTS = (
    "out of office",
    "out of the office",
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto:",
    "away from the office",
    "abwesenheitsnotiz",
    "automatische antwort",
    "abwesend",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "risposta automatica",
    "fuori ufficio",
    "automatisch antwoord",
    "afwezig",
    "resposta automática",
    "autosvar",
    "automaattinen vastaus",
)
AUTO_PRECEDENCE = frozenset({"auto_reply", "bulk", "junk"})

_MESSAGE_ID = re.compile(r"<([^<>\s]{1,990})>")
# A run of the characters invoice numbers are made of; trimmed of the punctuation around it afterwards.
_TOKEN = re.compile(r"[\w\-/.#]+")
_TRIM = "-/.#_"


def normalize_message_id(value: str) -> str:
    """A Message-ID compared as mail clients do: without its angle brackets, in lower case."""
    return value.strip().strip("<>").strip().lower()


def message_ids(header: str) -> list[str]:
    """The Message-IDs an In-Reply-To or References header names, in order, normalised, at most
    MAX_REFERENCES. A header without angle brackets counts as one bare ID."""
    found = _MESSAGE_ID.findall(header or "")
    if not found and header and header.strip() and " " not in header.strip():
        found = [header.strip()]
    ids: list[str] = []
    for value in found:
        normal = normalize_message_id(value)
        if normal and normal not in ids:
            ids.append(normal)
        if len(ids) >= MAX_REFERENCES:
            break
    return ids


def reply_ids(in_reply_to: str, references: str) -> list[str]:
    """What a reply refers to, most telling first: In-Reply-To, then References newest to oldest."""
    ordered = message_ids(in_reply_to) + list(reversed(message_ids(references)))
    unique: list[str] = []
    for value in ordered:
        if value not in unique:
            unique.append(value)
    return unique[:MAX_REFERENCES]


def is_auto_reply(headers: Mapping[str, Iterable[str]], subject: str) -> bool:
    """Whether a machine sent the message: an out-of-office, a vacation or other automatic reply, a bulk
    mailing or a bounce (RFC 3834 Auto-Submitted, the X-Autoreply/X-Autorespond headers, Precedence, a
    delivery report, and the subjects the common clients give them). `headers` maps lower-case names to
    their values."""

    def values(name: str) -> list[str]:
        return [str(v).strip().lower() for v in headers.get(name, ())]

    if any(v and v != "no" for v in values("auto-submitted")):
        return True
    if values("x-autoreply") or values("x-autorespond") or values("x-autoresponder"):
        return True
    if any(v in AUTO_PRECEDENCE for v in values("precedence") + values("x-precedence")):
        return True
    if any(v.startswith("multipart/report") for v in values("content-type")):  # a bounce (RFC 6522)
        return True
    return _auto_subject(subject)


def _auto_subject(subject: str) -> bool:
    text = " ".join((subject or "").split()).lower()
    return text.startswith(AUTO_REPLY_SUBJECTS)


def invoice_tokens(*texts: str) -> list[str]:
    """The words of `texts` that could be invoice numbers, as whole tokens: letters, digits and the marks
    numbers use (- / . # _), with at least one digit and at least three characters; each also upper-cased
    (a customer writes "inv-0042" for INV-0042). At most MAX_TOKENS, first found first."""
    tokens: list[str] = []
    seen: set[str] = set()
    budget = MAX_SCANNED_CHARS
    for text in texts:
        chunk = (text or "")[:budget]
        budget -= len(chunk)
        for match in _TOKEN.finditer(chunk):
            word = match.group(0).strip(_TRIM)
            if not 3 <= len(word) <= TOKEN_MAX_CHARS or not any(c.isdigit() for c in word):
                continue
            for variant in (word, word.upper()):
                if variant not in seen:
                    seen.add(variant)
                    tokens.append(variant)
            if len(tokens) >= MAX_TOKENS:
                return tokens[:MAX_TOKENS]
        if budget <= 0:
            break
    return tokens


def address_domain(address: str) -> str:
    local, at, domain = (address or "").strip().rpartition("@")
    return domain.strip().rstrip(".").lower() if at and local else ""


def is_public_domain(domain: str) -> bool:
    """A free mailbox provider's domain: it tells nothing about whose employee the sender is."""
    domain = domain.lower()
    if domain in PUBLIC_DOMAINS:
        return True
    brand = domain.split(".", 1)[0]
    return brand in PUBLIC_DOMAIN_BRANDS and "." in domain


_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


def clean_content_type(value: str) -> str:
    """The declared type when it looks like one (shown, never trusted); else application/octet-stream."""
    value = (value or "").strip().lower()
    return value if _CONTENT_TYPE.match(value) else "application/octet-stream"


def clean_text(value: str | None, limit: int) -> str:
    """Text that every database stores: no NUL, no lone surrogates (from undecodable bytes), "\n" line
    ends (mail has CRLF), at most `limit` characters."""
    if not value:
        return ""
    text = str(value)[: limit * 2].replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def clean_line(value: str | None, limit: int) -> str:
    """A header value on one line: control characters become spaces, runs of space collapse."""
    text = clean_text(value, limit * 2)
    text = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return " ".join(text.split())[:limit]
