"""The collections mailbox: an IMAP poller (imap-tools) that stores each message exactly once and matches
it to a customer.

Exactly once: the folder is opened read-only and each message is fetched with BODY.PEEK, so the mailbox is
never changed. One transaction per message writes its InboundEmail row, unique on (mailbox, UIDVALIDITY,
UID), and advances Mailbox.last_uid under a row lock. A crash before the commit leaves both as they were,
and the next poll takes the message again; a poll that races another, or repeats, writes nothing. When the
server renumbers the folder (a new UIDVALIDITY), the poller starts again from UID 1 under the new validity,
and a message already stored under an older one (same Message-ID) is not stored twice.

Matching, in order (DESIGN.md, "Activity"): In-Reply-To, then References, against the Message-IDs of the
emails we sent; the sender's address, then their domain, against the customers' contacts; invoice numbers
in the subject and text. A matched email lands on its customer's timeline with the invoices it names; any
other waits in the unmatched queue (/inbound/) for a person to assign it. Automatic replies are stored and
matched like the rest, but marked, so that nothing counts them as the customer answering.
"""

from __future__ import annotations

import datetime as dt
import html
import imaplib
import logging
import re
import ssl
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.errors import ImapToolsError, MailboxFolderSelectError, MailboxLoginError

from recoup.activity import inbound_rules as rules
from recoup.activity.models import (
    InboundAttachment,
    InboundEmail,
    InboundStatus,
    Mailbox,
    MatchedBy,
)
from recoup.activity.services import inbound_timeline_add
from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.mail import message_id_domain
from recoup.disputes.services import safe_name
from recoup.dunning.models import MessageStatus, OutboundMessage
from recoup.ledger.models import Contact, Invoice

log = logging.getLogger(__name__)

# What one message may take up: the sender decides how much it sends, we decide how much we keep.
MAX_SUBJECT_CHARS = 998
MAX_ADDRESS_CHARS = 320
MAX_NAME_CHARS = 255
MAX_HEADER_CHARS = 10_000
MAX_TEXT_CHARS = 500_000
MAX_HTML_CHARS = 1_000_000
MAX_ATTACHMENTS = 25
FETCH_CHUNK = 10  # messages per UID FETCH
POLL_LIMIT = 500  # messages per poll; the next poll goes on from there
# The errors of talking to the server: reported on the mailbox and to whoever polled, never raised.
CONNECTION_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, ImapToolsError)


class InboundNotConfigured(DomainError):
    """IMAP_HOST, IMAP_USER or IMAP_PASSWORD is not set."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    ssl: bool = True
    starttls: bool = False
    timeout: int = 30

    @classmethod
    def from_settings(cls) -> ImapSettings:
        required = ("IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD")
        missing = [name for name in required if not getattr(settings, name)]
        if missing:
            raise InboundNotConfigured(
                f"Inbound email is not configured: set {', '.join(missing)} (see docs/operations.md).",
                code="not_configured",
            )
        return cls(
            host=settings.IMAP_HOST,
            port=settings.IMAP_PORT,
            user=settings.IMAP_USER,
            password=settings.IMAP_PASSWORD,
            folder=settings.IMAP_FOLDER or "INBOX",
            ssl=settings.IMAP_SSL,
            starttls=settings.IMAP_STARTTLS,
            timeout=settings.IMAP_TIMEOUT,
        )

    @property
    def key(self) -> str:
        """The Mailbox row this folder keeps its place in."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"[:255]


# Reading a message ------------------------------------------------------------------------------------------


@dataclass
class Attachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass
class Parsed:
    """What we keep of one message, cleaned and bounded."""

    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    from_address: str = ""
    from_name: str = ""
    to: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    sent_at: dt.datetime | None = None
    is_auto_reply: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)  # attachments not kept, and why


class _TextOfHtml(HTMLParser):
    """The readable text of an HTML body (for matching and for showing), without scripts and styles."""

    BREAKS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # a parser that gives up keeps what it read
        pass
    lines = (" ".join(line.split()) for line in html.unescape("".join(parser.parts)).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse(message: MailMessage, *, max_attachment_bytes: int) -> Parsed:
    """The message as we store it. Every value is the sender's: cleaned of what a database refuses and cut
    to the model's sizes; attachments past the size or count limit are left out and named in `left_out`."""
    headers = {name: tuple(values) for name, values in message.headers.items()}
    sender = message.from_values
    subject = rules.clean_line(message.subject, MAX_SUBJECT_CHARS)
    body_html = rules.clean_text(message.html, MAX_HTML_CHARS)
    body_text = rules.clean_text(message.text, MAX_TEXT_CHARS) or html_to_text(body_html)[:MAX_TEXT_CHARS]
    parsed = Parsed(
        message_id=rules.clean_line(message.obj.get("Message-ID", ""), 998),
        in_reply_to=rules.clean_line(message.obj.get("In-Reply-To", ""), MAX_HEADER_CHARS),
        references=rules.clean_line(message.obj.get("References", ""), MAX_HEADER_CHARS),
        from_address=rules.clean_line(sender.email if sender else "", MAX_ADDRESS_CHARS),
        from_name=rules.clean_line(sender.name if sender else "", MAX_NAME_CHARS),
        to=rules.clean_line(", ".join(message.to), MAX_HEADER_CHARS),
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        sent_at=_sent_at(message),
        is_auto_reply=rules.is_auto_reply(headers, subject),
    )
    limit = max_attachment_bytes
    for part in message.attachments:
        is_document = part.filename or part.content_disposition == "attachment"
        if not (is_document or part.content_type == "message/rfc822"):
            continue  # an inline image of a signature: part of the body, not a document
        name = safe_name(rules.clean_line(part.filename, 255) or _default_name(part.content_type))
        if len(parsed.attachments) >= MAX_ATTACHMENTS:
            parsed.left_out.append(f"{name}: more than {MAX_ATTACHMENTS} attachments")
            continue
        payload = part.payload
        if len(payload) > limit:
            parsed.left_out.append(f"{name}: {len(payload):,} bytes, over the {limit:,}-byte limit")
            continue
        if not payload:
            parsed.left_out.append(f"{name}: empty")
            continue
        parsed.attachments.append(Attachment(name, rules.clean_content_type(part.content_type), payload))
    return parsed


def _default_name(content_type: str) -> str:
    return "forwarded-message.eml" if content_type == "message/rfc822" else "attachment"


def _sent_at(message: MailMessage) -> dt.datetime | None:
    try:
        sent = message.date
    except Exception:
        return None
    if sent.year < 1971:  # imap-tools' "could not read it"
        return None
    if timezone.is_naive(sent):
        sent = sent.replace(tzinfo=dt.UTC)
    return sent


def unreadable(error: Exception) -> Parsed:
    """A message that cannot be read: kept in the queue, so that a person sees it and nothing is lost."""
    why = f"{type(error).__name__}: {error}"[:2000]
    return Parsed(subject="(a message Recoup could not read)", body_text=why)


# Matching ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    customer_id: int | None = None
    matched_by: str = ""
    invoice_ids: tuple[int, ...] = ()


def match(parsed: Parsed) -> Match:
    """The customer the message is from, and how we know; with the customer's invoices it names."""
    named = _named_invoices(parsed)
    customer_id = _by_reply(rules.reply_ids(parsed.in_reply_to, parsed.references))
    if customer_id is not None:
        return _matched(customer_id, MatchedBy.REPLY, named)
    found = _by_sender(parsed.from_address)
    if found is not None:
        return _matched(found[0], found[1], named)
    customers = {customer for _, customer in named}
    if len(customers) == 1:
        return _matched(customers.pop(), MatchedBy.INVOICE, named)
    return Match()


def _matched(customer_id: int, how: str, named: Sequence[tuple[int, int]]) -> Match:
    return Match(customer_id, how, tuple(sorted(pk for pk, customer in named if customer == customer_id)))


def _by_reply(ids: Sequence[str]) -> int | None:
    """The customer of the first Message-ID (most telling first) that is one of our sent emails."""
    if not ids:
        return None
    sent = OutboundMessage.objects.filter(status=MessageStatus.SENT)
    variants = {f"<{value}>" for value in ids} | {value for value in ids}
    rows = sent.filter(message_id__in=variants).values_list("message_id", "customer_id")
    customers = {rules.normalize_message_id(mid): customer for mid, customer in rows}
    ours = message_id_domain().lower()
    missing = [value for value in ids if value not in customers and value.endswith("@" + ours)]
    if missing:  # our own IDs in another case than we wrote them: rare, so the unindexed look-up is too
        rows = (
            sent.annotate(normal=Lower("message_id"))
            .filter(normal__in=[f"<{value}>" for value in missing])
            .values_list("message_id", "customer_id")
        )
        customers.update({rules.normalize_message_id(mid): customer for mid, customer in rows})
    return next((customers[value] for value in ids if value in customers), None)


def _by_sender(address: str) -> tuple[int, str] | None:
    """A contact with the sender's address, else (not for free-mail providers or our own domain) contacts at
    the sender's domain, when they all belong to one customer."""
    domain = rules.address_domain(address)
    if not domain:
        return None
    exact = list(
        Contact.objects.filter(email__iexact=address).values_list("customer_id", flat=True).distinct()[:2]
    )
    if len(exact) == 1:
        return exact[0], MatchedBy.SENDER
    if exact:  # the address of two customers' contacts: neither the address nor its domain can tell
        return None
    if rules.is_public_domain(domain) or domain == message_id_domain().lower():
        return None
    at_domain = list(
        Contact.objects.filter(email__iendswith="@" + domain)
        .values_list("customer_id", flat=True)
        .distinct()[:2]
    )
    return (at_domain[0], MatchedBy.DOMAIN) if len(at_domain) == 1 else None


def _named_invoices(parsed: Parsed) -> list[tuple[int, int]]:
    """(invoice id, customer id) of each invoice whose number appears in the subject or text as a token."""
    tokens = rules.invoice_tokens(parsed.subject, parsed.body_text)
    if not tokens:
        return []
    return list(Invoice.objects.filter(external_id__in=tokens).values_list("pk", "customer_id"))


# Polling ----------------------------------------------------------------------------------------------------


@dataclass
class PollResult:
    key: str
    uidvalidity: int | None = None
    fetched: int = 0
    stored: int = 0
    matched: int = 0
    unmatched: int = 0
    auto_replies: int = 0
    skipped: int = 0  # already stored (a repeated or concurrent poll, or a folder renumbered)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def summary(self) -> str:
        if self.error:
            return f"{self.key}: {self.error}"
        noun = "email" if self.stored == 1 else "emails"
        return (
            f"{self.key}: {self.stored} new {noun} ({self.matched} matched, {self.unmatched} unmatched, "
            f"{self.auto_replies} automatic replies); {self.skipped} already stored."
        )


class Poller:
    """Reads the folder of one IMAP account from where it stopped. `poll()` never raises for the server's
    errors (a refused connection, a bad password, a missing folder): it records them on the Mailbox and
    returns them in the result."""

    def __init__(self, config: ImapSettings | None = None, *, limit: int = POLL_LIMIT) -> None:
        self.config = config or ImapSettings.from_settings()
        self.limit = limit
        self.max_attachment_bytes = settings.RECOUP_INBOUND_MAX_ATTACHMENT_BYTES

    def poll(self) -> PollResult:
        mailbox, _ = Mailbox.objects.get_or_create(key=self.config.key)
        result = PollResult(key=mailbox.key)
        try:
            with self._connected() as box:
                validity = self._select(box)
                result.uidvalidity = validity
                last_uid = self._begin(mailbox.pk, validity)
                # "UID n:*" always includes the last message, even when n is past it.
                found = (int(raw) for raw in box.uids(f"UID {last_uid + 1}:*"))
                uids = sorted(uid for uid in found if uid > last_uid)
                for chunk in _chunks(uids[: self.limit], FETCH_CHUNK):
                    wanted = set(chunk)
                    fetched = box.fetch(uid_list=[str(u) for u in chunk], mark_seen=False, bulk=True)
                    for message in sorted(fetched, key=lambda m: int(m.uid or 0)):
                        uid = int(message.uid or 0)
                        if uid not in wanted:
                            continue
                        result.fetched += 1
                        self._count(result, self._store(mailbox.pk, validity, uid, message))
        except CONNECTION_ERRORS as exc:
            result.error = self._describe(exc)
            log.warning("inbound email: polling %s failed: %s", mailbox.key, result.error)
            Mailbox.objects.filter(pk=mailbox.pk).update(polled_at=timezone.now(), last_error=result.error)
            return result
        except Exception as exc:  # a bug or the database: shown on the queue page, then raised
            error = f"{type(exc).__name__}: {exc}"[:2000]
            with suppress(DatabaseError):  # the database itself may be what failed
                Mailbox.objects.filter(pk=mailbox.pk).update(polled_at=timezone.now(), last_error=error)
            raise
        Mailbox.objects.filter(pk=mailbox.pk).update(polled_at=timezone.now(), last_error="")
        return result

    # The server ---------------------------------------------------------------------------------------------

    @contextmanager
    def _connected(self) -> Iterator[BaseMailBox]:
        config = self.config
        box: BaseMailBox
        if config.ssl:
            box = MailBox(config.host, port=config.port, timeout=config.timeout, ssl_context=_tls())
        elif config.starttls:
            box = MailBoxStartTls(config.host, port=config.port, timeout=config.timeout, ssl_context=_tls())
        else:
            box = MailBoxUnencrypted(config.host, port=config.port, timeout=config.timeout)
        try:
            box.login(config.user, config.password, initial_folder=None)
            yield box
        finally:
            with suppress(*CONNECTION_ERRORS):  # a connection already broken has nothing to log out of
                box.logout()

    def _select(self, box: BaseMailBox) -> int:
        """Open the folder read-only (EXAMINE: nothing in it changes) and read its UIDVALIDITY."""
        box.folder.set(self.config.folder, readonly=True)
        raw = (box.client.untagged_responses.get("UIDVALIDITY") or [b""])[-1]
        if isinstance(raw, bytes) and raw.isdigit():
            return int(raw)
        return int(box.folder.status(self.config.folder, ["UIDVALIDITY"])["UIDVALIDITY"])

    def _describe(self, exc: BaseException) -> str:
        config = self.config
        where = f"{config.host}:{config.port}"
        if isinstance(exc, MailboxLoginError):
            return f"The IMAP server {where} refused the login of {config.user}: {_server_text(exc)}"
        if isinstance(exc, MailboxFolderSelectError):
            return f"The folder {config.folder!r} cannot be opened on {where}: {_server_text(exc)}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS with the IMAP server {where} failed: {exc}"
        if isinstance(exc, TimeoutError):
            return f"The IMAP server {where} did not answer within {config.timeout} seconds."
        if isinstance(exc, OSError):
            return f"Cannot reach the IMAP server {where}: {exc.strerror or exc}"
        return f"The IMAP server {where} failed: {type(exc).__name__}: {exc}"[:2000]

    # The database -------------------------------------------------------------------------------------------

    @transaction.atomic
    def _begin(self, mailbox_pk: int, validity: int) -> int:
        """Where to go on from: last_uid, or 0 under a UIDVALIDITY seen for the first time."""
        mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_pk)
        if mailbox.uidvalidity != validity:
            before = mailbox.uidvalidity
            mailbox.uidvalidity, mailbox.last_uid = validity, 0
            mailbox.save(update_fields=["uidvalidity", "last_uid"])
            if before is not None:
                log.warning(
                    "inbound email: %s has a new UIDVALIDITY (%s → %s)", mailbox.key, before, validity
                )
                data = {"from": before, "to": validity}
                record_event(actor=None, verb="inbound.uidvalidity", target=mailbox, data=data)
        return mailbox.last_uid

    def _store(self, mailbox_pk: int, validity: int, uid: int, message: MailMessage) -> InboundEmail | None:
        """Store one message and move last_uid past it, in one transaction; None when it was stored already
        (by another poll, or under an older UIDVALIDITY)."""
        try:
            parsed = parse(message, max_attachment_bytes=self.max_attachment_bytes)
        except Exception as exc:  # one bad message must not stop the mailbox
            log.exception("inbound email: message %s of %s cannot be read", uid, self.config.key)
            parsed = unreadable(exc)
        found = match(parsed)
        files: list[str] = []
        try:
            with transaction.atomic():
                mailbox = Mailbox.objects.select_for_update().get(pk=mailbox_pk)
                if mailbox.uidvalidity != validity or uid <= mailbox.last_uid:
                    return None  # another poll took it first
                mailbox.last_uid = uid
                mailbox.save(update_fields=["last_uid"])
                if _stored_before(mailbox, validity, parsed.message_id):
                    return None
                try:
                    with transaction.atomic():
                        email = _create(mailbox, validity, uid, parsed, found)
                except IntegrityError:
                    return None  # (mailbox, uidvalidity, uid) is there: this UID was stored
                if found.invoice_ids:
                    email.invoices.set(found.invoice_ids)
                for attachment in parsed.attachments:
                    files.append(_save_attachment(email, attachment))
                if email.customer_id is not None:
                    inbound_timeline_add(email=email, actor=None, left_out=parsed.left_out)
                record_event(
                    actor=None,
                    verb="inbound.received",
                    target=email,
                    data={
                        "status": email.status,
                        "matched_by": email.matched_by,
                        "is_auto_reply": email.is_auto_reply,
                        "left_out": parsed.left_out,
                    },
                )
                return email
        except BaseException:
            storage = InboundAttachment._meta.get_field("file").storage
            for name in files:  # no row: no file left behind
                storage.delete(name)
            raise

    @staticmethod
    def _count(result: PollResult, email: InboundEmail | None) -> None:
        if email is None:
            result.skipped += 1
            return
        result.stored += 1
        result.matched += email.status == InboundStatus.MATCHED
        result.unmatched += email.status == InboundStatus.UNMATCHED
        result.auto_replies += email.is_auto_reply


def _create(mailbox: Mailbox, validity: int, uid: int, parsed: Parsed, found: Match) -> InboundEmail:
    return InboundEmail.objects.create(
        mailbox=mailbox,
        uidvalidity=validity,
        uid=uid,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        to=parsed.to,
        subject=parsed.subject,
        body_text=parsed.body_text,
        body_html=parsed.body_html,
        sent_at=parsed.sent_at,
        customer_id=found.customer_id,
        status=InboundStatus.MATCHED if found.customer_id is not None else InboundStatus.UNMATCHED,
        matched_by=found.matched_by,
        is_auto_reply=parsed.is_auto_reply,
    )


def _stored_before(mailbox: Mailbox, validity: int, message_id: str) -> bool:
    """After the folder was renumbered, the messages it held come again under new UIDs: one stored under an
    older UIDVALIDITY with the same Message-ID is not stored twice."""
    if not message_id:
        return False
    older = InboundEmail.objects.filter(mailbox=mailbox).exclude(uidvalidity=validity)
    return older.filter(message_id=message_id).exists()


def _save_attachment(email: InboundEmail, attachment: Attachment) -> str:
    """Store the file under a random name (the sender's name is shown, never used as a path)."""
    stem, dot, extension = attachment.filename.rpartition(".")
    suffix = f".{extension.lower()}" if dot and stem and extension.isalnum() and len(extension) <= 8 else ""
    row = InboundAttachment(
        email=email,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=len(attachment.payload),
    )
    row.file.save(f"{uuid.uuid4().hex}{suffix}", ContentFile(attachment.payload), save=False)
    try:
        row.save()
    except BaseException:
        row.file.storage.delete(str(row.file.name))
        raise
    return str(row.file.name)


def _server_text(exc: BaseException) -> str:
    """What the server said, from an imap-tools error: its response text, not Python's repr."""
    result = getattr(exc, "command_result", None)
    data = result[1] if isinstance(result, tuple) and len(result) > 1 else None
    if isinstance(data, list):
        texts = [item.decode(errors="replace") if isinstance(item, bytes) else str(item) for item in data]
        return " ".join(texts)[:500] or str(exc)
    return str(exc)[:500]


def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _chunks(values: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


def poll_inbound(*, limit: int = POLL_LIMIT) -> PollResult:
    """Poll the mailbox the IMAP_* settings name (raises InboundNotConfigured when they name none)."""
    return Poller(limit=limit).poll()
