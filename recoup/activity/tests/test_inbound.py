"""The IMAP poller against a real Dovecot on loopback: messages delivered by IMAP APPEND are stored exactly
once, matched to their customer in the documented order, and land on the timeline with their attachments."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recoup.activity import inbound
from recoup.activity.inbound import ImapSettings, Poller
from recoup.activity.models import (
    EntryKind,
    InboundAttachment,
    InboundEmail,
    InboundStatus,
    Mailbox,
    MatchedBy,
    TimelineEntry,
)
from recoup.activity.tasks import poll_inbound
from recoup.core.mail import new_message_id
from recoup.core.models import Event
from recoup.dunning.models import Channel, MessageStatus, OutboundMessage

pytestmark = pytest.mark.django_db
DUE = dt.date(2026, 3, 2)


def mail(
    subject: str = "About our account",
    *,
    sender: str = "Pat Payer <pat@nowhere.example>",
    body: str = "Hello,\nplease see below.\n",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "ar@acme.example"
    message["Subject"] = subject
    message["Date"] = "Tue, 03 Mar 2026 10:15:00 +0100"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def sent_email(
    customer, *, status: str = MessageStatus.SENT, domain: str = "acme.example"
) -> OutboundMessage:
    """An email a collector sent the customer by hand (no level, so it has a request key), with its
    Message-ID as the outbox writes it."""
    return OutboundMessage.objects.create(
        customer=customer,
        level=None,
        request_key=uuid.uuid4().hex,
        channel=Channel.EMAIL,
        as_of=DUE,
        send_at=timezone.now(),
        sent_at=timezone.now() if status == MessageStatus.SENT else None,
        status=status,
        subject="Your account",
        message_id=new_message_id("dunning", domain),
    )


def poll(**kwargs) -> inbound.PollResult:
    """A new poller each time, as after a restart of the process."""
    result = Poller(**kwargs).poll()
    assert result.error == ""
    return result


def entry_of(email: InboundEmail) -> TimelineEntry:
    return TimelineEntry.objects.get(source_type="activity.inboundemail", source_id=str(email.pk))


# Matching ---------------------------------------------------------------------------------------------------


def test_a_reply_to_our_message_id_lands_on_that_customers_timeline_with_the_invoices_it_names(books, imap):
    acme = books.customer("ACME", emails=("ap@acme-corp.example",))
    invoice = books.invoice(acme, DUE, external_id="INV-0042")
    books.invoice(acme, DUE, external_id="INV-0043")
    ours = sent_email(acme)
    uid = imap.deliver(
        mail(
            "Re: Your account",
            sender="Someone <someone@gmail.com>",
            body="We paid INV-0042 yesterday.\n",
            headers={"In-Reply-To": ours.message_id, "References": ours.message_id},
        )
    )

    result = poll()

    email = InboundEmail.objects.get()
    assert (result.fetched, result.stored, result.matched, result.unmatched, result.skipped) == (
        1,
        1,
        1,
        0,
        0,
    )
    assert (email.uid, email.customer_id, email.status, email.matched_by) == (
        uid,
        acme.pk,
        InboundStatus.MATCHED,
        MatchedBy.REPLY,
    )
    assert (email.from_address, email.from_name, email.subject) == (
        "someone@gmail.com",
        "Someone",
        "Re: Your account",
    )
    assert email.in_reply_to == ours.message_id and email.to == "ar@acme.example"
    assert email.sent_at == dt.datetime(2026, 3, 3, 9, 15, tzinfo=dt.UTC)
    assert email.body_text == "We paid INV-0042 yesterday.\n" and not email.is_auto_reply
    assert list(email.invoices.all()) == [invoice]
    entry = entry_of(email)
    assert (entry.customer_id, entry.kind, entry.status, entry.title) == (
        acme.pk,
        EntryKind.EMAIL_IN,
        "received",
        "Email from Someone: Re: Your account",
    )
    assert entry.body == "We paid INV-0042 yesterday.\n"
    assert entry.occurred_at == email.sent_at
    assert list(entry.invoices.all()) == [invoice]
    mailbox = Mailbox.objects.get()
    assert mailbox.key == f"{imap.user}@127.0.0.1:{imap.port}/INBOX"
    assert (mailbox.last_uid, mailbox.uidvalidity, mailbox.last_error) == (uid, imap.uidvalidity(), "")
    assert mailbox.polled_at is not None


def test_references_match_newest_first_whatever_the_case(books, imap, settings):
    settings.RECOUP_MESSAGE_ID_DOMAIN = "AR.Acme.Example"  # our IDs keep this case; mail clients may not
    acme, globex = books.customer("ACME"), books.customer("GLOBEX", emails=("ap@globex.example",))
    older, newer = sent_email(globex), sent_email(acme, domain="AR.Acme.Example")
    assert newer.message_id.endswith("@AR.Acme.Example>")
    references = f"{older.message_id} <unknown@elsewhere.example> {newer.message_id.lower()}"
    imap.deliver(mail("Re: Re: Your account", headers={"References": references}))

    poll()

    email = InboundEmail.objects.get()
    assert (email.customer_id, email.matched_by) == (acme.pk, MatchedBy.REPLY)


def test_a_message_id_we_never_sent_matches_nothing_and_waits_in_the_queue(books, imap):
    acme = books.customer("ACME", emails=("ap@acme-corp.example",))
    pending = sent_email(acme, status=MessageStatus.PENDING)  # written, not sent: nobody can reply to it
    imap.deliver(mail("Re: hello", headers={"In-Reply-To": pending.message_id}))

    result = poll()

    email = InboundEmail.objects.get()
    assert (result.stored, result.matched, result.unmatched) == (1, 0, 1)
    assert (email.status, email.customer_id, email.matched_by) == (InboundStatus.UNMATCHED, None, "")
    assert not TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).exists()
    assert list(email.invoices.all()) == []


def test_the_senders_address_then_their_domain_match_a_customers_contacts(books, imap):
    acme = books.customer("ACME", emails=("Accounts.Payable@Acme-Corp.example",))
    globex = books.customer("GLOBEX", emails=("ap@globex.example",))
    imap.deliver(mail("Payment", sender="AP <accounts.payable@acme-corp.example>"))
    imap.deliver(mail("Question", sender="Controller <controller@globex.example>"))

    poll()

    by_address, by_domain = InboundEmail.objects.order_by("uid")
    assert (by_address.customer_id, by_address.matched_by) == (acme.pk, MatchedBy.SENDER)
    assert (by_domain.customer_id, by_domain.matched_by) == (globex.pk, MatchedBy.DOMAIN)
    assert entry_of(by_domain).customer_id == globex.pk


def test_a_domain_two_customers_share_or_a_free_mail_domain_matches_nobody(books, imap):
    books.customer("EAST", emails=("ap@holding.example",))
    books.customer("WEST", emails=("billing@holding.example",))
    books.customer("SOLO", emails=("solo.trader@gmail.com",))
    imap.deliver(mail("Hello", sender="someone@holding.example"))
    imap.deliver(mail("Hello", sender="another.trader@gmail.com"))

    result = poll()

    assert (result.stored, result.unmatched) == (2, 2)
    assert list(InboundEmail.objects.values_list("status", "customer_id")) == [
        (InboundStatus.UNMATCHED, None),
        (InboundStatus.UNMATCHED, None),
    ]
    assert not TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).exists()


def test_an_unknown_sender_goes_to_the_unmatched_queue_with_its_text_and_nothing_on_a_timeline(books, imap):
    books.customer("ACME", emails=("ap@acme-corp.example",))
    imap.deliver(mail("A question", sender="Stranger <stranger@elsewhere.example>", body="Who are you?"))

    result = poll()

    email = InboundEmail.objects.get()
    assert (result.stored, result.matched, result.unmatched) == (1, 0, 1)
    assert (email.status, email.customer_id, email.from_address, email.body_text) == (
        InboundStatus.UNMATCHED,
        None,
        "stranger@elsewhere.example",
        "Who are you?\n",
    )
    assert not TimelineEntry.objects.exists()
    assert Event.objects.get(verb="inbound.received").data == {
        "status": "unmatched",
        "matched_by": "",
        "is_auto_reply": False,
        "left_out": [],
    }


def test_an_invoice_number_in_the_subject_matches_its_customer_as_a_whole_token(books, imap):
    acme = books.customer("ACME", emails=("ap@acme-corp.example",))
    wanted = books.invoice(acme, DUE, external_id="INV-0042")
    other = books.customer("OTHER", emails=("ap@other.example",))
    books.invoice(other, DUE, external_id="INV-00421")
    imap.deliver(mail("Remittance for inv-0042.", sender="treasury@bank.example", body="See attached."))

    result = poll()

    email = InboundEmail.objects.get()
    assert (result.matched, email.customer_id, email.matched_by) == (1, acme.pk, MatchedBy.INVOICE)
    assert list(email.invoices.all()) == [wanted]
    assert list(entry_of(email).invoices.all()) == [wanted]


def test_invoice_numbers_of_two_customers_are_ambiguous_and_match_nobody(books, imap):
    acme, other = books.customer("ACME"), books.customer("OTHER", emails=("ap@other.example",))
    books.invoice(acme, DUE, external_id="A-1001")
    books.invoice(other, DUE, external_id="B-2002")
    imap.deliver(mail("Invoices A-1001 and B-2002", sender="treasury@bank.example"))

    poll()

    email = InboundEmail.objects.get()
    assert (email.status, email.customer_id, list(email.invoices.all())) == (
        InboundStatus.UNMATCHED,
        None,
        [],
    )
    assert not TimelineEntry.objects.exists()


def test_an_out_of_office_reply_is_stored_and_matched_but_marked_and_never_a_response(books, imap):
    acme = books.customer("ACME", emails=("ap@acme-corp.example",))
    ours = sent_email(acme)
    imap.deliver(
        mail(
            "Automatic reply: Your account",
            sender="AP <ap@acme-corp.example>",
            body="I am out of the office until Monday.",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": ours.message_id},
        )
    )
    imap.deliver(mail("Abwesenheitsnotiz: Ihr Konto", sender="AP <ap@acme-corp.example>"))
    imap.deliver(mail("Real answer", sender="AP <ap@acme-corp.example>", headers={"Auto-Submitted": "no"}))

    result = poll()

    assert (result.stored, result.matched, result.auto_replies) == (3, 3, 2)
    emails = list(InboundEmail.objects.order_by("uid"))
    assert [(e.is_auto_reply, e.customer_id, e.matched_by) for e in emails] == [
        (True, acme.pk, MatchedBy.REPLY),
        (True, acme.pk, MatchedBy.SENDER),
        (False, acme.pk, MatchedBy.SENDER),
    ]
    assert [(entry_of(e).status, entry_of(e).title) for e in emails] == [
        ("auto_reply", "Automatic reply from AP: Automatic reply: Your account"),
        ("auto_reply", "Automatic reply from AP: Abwesenheitsnotiz: Ihr Konto"),
        ("received", "Email from AP: Real answer"),
    ]


# Attachments ------------------------------------------------------------------------------------------------


def test_an_attachment_is_saved_under_a_random_name_and_linked_and_one_too_large_is_left_out(
    books, imap, settings, media_root
):
    settings.RECOUP_INBOUND_MAX_ATTACHMENT_BYTES = 1000
    books.customer("ACME", emails=("ap@acme-corp.example",))
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 3
    message = mail("Remittance advice", sender="ap@acme-corp.example")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="../../etc/remit advice.pdf")
    message.add_attachment(b"x" * 1001, maintype="application", subtype="zip", filename="big.zip")
    imap.deliver(message)

    poll()

    email = InboundEmail.objects.get()
    attachment = InboundAttachment.objects.get()
    assert (attachment.email_id, attachment.filename, attachment.content_type, attachment.size) == (
        email.pk,
        "remit_advice.pdf",
        "application/pdf",
        len(pdf),
    )
    stored = Path(attachment.file.path)
    assert stored.read_bytes() == pdf
    assert stored.parent.parent.parent == Path(media_root) / "inbound"
    assert len(stored.stem) == 32 and stored.suffix == ".pdf" and "remit" not in stored.name
    left_out = "big.zip: 1,001 bytes, over the 1,000-byte limit"
    assert entry_of(email).body.endswith(f"[Attachments not kept: {left_out}]")
    assert Event.objects.get(verb="inbound.received", target_id=str(email.pk)).data["left_out"] == [left_out]


def test_an_html_only_message_keeps_its_html_and_gets_its_text_without_scripts(books, imap):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "x@nowhere.example", "ar@acme.example", "HTML"
    message.set_content(
        "<html><head><style>p{}</style><script>alert(1)</script></head>"
        "<body><p>Paid &amp; done</p><p>INV-9</p></body></html>",
        subtype="html",
    )
    imap.deliver(message)

    poll()

    email = InboundEmail.objects.get()
    assert email.body_text == "Paid & done\n\nINV-9"
    assert "<script>alert(1)</script>" in email.body_html


def test_what_a_database_cannot_store_is_cleaned_from_hostile_headers(books, imap):
    raw = (
        b"From: =?utf-8?q?Evil=00Name?= <evil@nowhere.example>\r\n"
        b"To: ar@acme.example\r\n"
        b"Subject: =?utf-8?q?Null=00byte?=\r\n"
        b"Message-ID: <evil@nowhere.example>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"body with a \x00 NUL and bad bytes \xff\r\n"
    )
    imap.deliver(raw)

    result = poll()

    email = InboundEmail.objects.get()
    assert result.stored == 1
    assert "\x00" not in email.subject + email.from_name + email.body_text
    assert (email.subject, email.from_name) == ("Nullbyte", "EvilName")
    assert email.body_text == "body with a  NUL and bad bytes \n"  # the undecodable byte is dropped


# Exactly once -----------------------------------------------------------------------------------------------


def test_a_restart_does_not_reprocess_and_goes_on_from_the_last_uid(books, imap):
    imap.deliver(mail("First"))
    imap.deliver(mail("Second"))
    assert poll().stored == 2

    again = poll()  # a new poller: as after a restart
    assert (again.fetched, again.stored, again.skipped) == (0, 0, 0)  # "UID 3:*" answers UID 2: filtered

    third = imap.deliver(mail("Third"))
    later = poll()

    assert (later.fetched, later.stored) == (1, 1)
    assert list(InboundEmail.objects.order_by("uid").values_list("subject", flat=True)) == [
        "First",
        "Second",
        "Third",
    ]
    assert Mailbox.objects.get().last_uid == third


def test_the_same_uids_polled_again_write_nothing(books, imap):
    books.customer("ACME", emails=("ap@acme-corp.example",))
    imap.deliver(mail("One", sender="ap@acme-corp.example"))
    imap.deliver(mail("Two", sender="ap@acme-corp.example"))
    poll()
    # A second poller that read last_uid before the first one committed: it fetches the same UIDs.
    Mailbox.objects.update(last_uid=0)

    result = poll()

    assert (result.fetched, result.stored, result.skipped) == (2, 0, 2)
    assert InboundEmail.objects.count() == 2
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).count() == 2
    assert Mailbox.objects.get().last_uid == 2


class Crash(BaseException):
    """The process dies: not an error anything catches."""


def test_a_crash_between_fetch_and_commit_leaves_nothing_and_the_next_poll_stores_it_once(
    books, imap, monkeypatch, media_root
):
    books.customer("ACME", emails=("ap@acme-corp.example",))
    imap.deliver(mail("Committed", sender="ap@acme-corp.example"))
    crashing = mail("Crashes", sender="ap@acme-corp.example")
    crashing.add_attachment(b"%PDF-1.4 remit", maintype="application", subtype="pdf", filename="r.pdf")
    imap.deliver(crashing)
    real = inbound.record_event

    def crash_on_the_second(**kwargs):
        if kwargs["target"].subject == "Crashes":
            raise Crash  # the row, its attachment and timeline entry are written; the commit is not
        return real(**kwargs)

    monkeypatch.setattr(inbound, "record_event", crash_on_the_second)
    with pytest.raises(Crash):
        Poller().poll()

    assert list(InboundEmail.objects.values_list("subject", flat=True)) == ["Committed"]
    assert InboundAttachment.objects.count() == 0 and not list(Path(media_root).rglob("*.pdf"))
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).count() == 1
    assert Mailbox.objects.get().last_uid == 1

    monkeypatch.setattr(inbound, "record_event", real)
    result = poll()

    assert (result.fetched, result.stored) == (1, 1)
    assert list(InboundEmail.objects.order_by("uid").values_list("subject", flat=True)) == [
        "Committed",
        "Crashes",
    ]
    assert InboundAttachment.objects.get().email.subject == "Crashes"
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).count() == 2
    assert Mailbox.objects.get().last_uid == 2


def test_an_error_in_recoup_is_shown_on_the_mailbox_and_raised_and_nothing_is_stored(
    books, imap, monkeypatch
):
    imap.deliver(mail("One"))

    def broken(parsed):
        raise RuntimeError("boom")

    monkeypatch.setattr(inbound, "match", broken)
    with pytest.raises(RuntimeError, match=r"^boom$"):
        Poller().poll()

    mailbox = Mailbox.objects.get()
    assert (mailbox.last_error, mailbox.last_uid, InboundEmail.objects.count()) == (
        "RuntimeError: boom",
        0,
        0,
    )


def test_a_message_that_cannot_be_read_is_queued_and_does_not_stop_the_mailbox(books, imap, monkeypatch):
    imap.deliver(mail("Unreadable"))
    imap.deliver(mail("Fine"))
    real = inbound.parse

    def parse(message, **kwargs):
        if message.subject == "Unreadable":
            raise ValueError("bad MIME")
        return real(message, **kwargs)

    monkeypatch.setattr(inbound, "parse", parse)
    result = poll()

    assert (result.stored, result.unmatched) == (2, 2)
    assert list(InboundEmail.objects.order_by("uid").values_list("subject", "body_text", "status")) == [
        ("(a message Recoup could not read)", "ValueError: bad MIME", "unmatched"),
        ("Fine", "Hello,\nplease see below.\n", "unmatched"),
    ]


def test_a_new_uidvalidity_starts_again_from_uid_1_and_stores_nothing_twice(books, imap, settings):
    settings.IMAP_FOLDER = "Collections"
    imap.create_folder("Collections")
    first, second = mail("First"), mail("Second")
    imap.deliver(first, "Collections")
    imap.deliver(second, "Collections")
    poll()
    old_validity = Mailbox.objects.get().uidvalidity
    # The server renumbers the folder: it is made again, the old messages come back, and a new one arrives.
    imap.delete_folder("Collections")
    imap.create_folder("Collections")
    imap.deliver(second, "Collections")
    new_uid = imap.deliver(mail("New"), "Collections")
    new_validity = imap.uidvalidity("Collections")

    result = poll()

    assert new_validity != old_validity and new_uid == 2
    assert (result.uidvalidity, result.fetched, result.stored, result.skipped) == (new_validity, 2, 1, 1)
    assert list(
        InboundEmail.objects.order_by("uidvalidity", "uid").values_list("uidvalidity", "uid", "subject")
    ) == [
        (old_validity, 1, "First"),
        (old_validity, 2, "Second"),
        (new_validity, 2, "New"),
    ]
    mailbox = Mailbox.objects.get()
    assert (mailbox.key.endswith("/Collections"), mailbox.uidvalidity, mailbox.last_uid) == (
        True,
        new_validity,
        2,
    )
    assert Event.objects.get(verb="inbound.uidvalidity").data == {"from": old_validity, "to": new_validity}


def test_polling_reads_the_mailbox_without_changing_it(books, imap):
    uid = imap.deliver(mail("Unread"))

    poll()

    assert "\\Seen" not in imap.flags(uid)


def test_a_poll_takes_at_most_its_limit_and_the_next_goes_on(books, imap):
    for n in range(3):
        imap.deliver(mail(f"Message {n}"))

    assert poll(limit=2).stored == 2
    assert Mailbox.objects.get().last_uid == 2
    assert poll(limit=2).stored == 1
    assert InboundEmail.objects.count() == 3


# Errors, the command and the task ---------------------------------------------------------------------------


def test_a_refused_connection_is_recorded_on_the_mailbox_and_returned_not_raised(db, settings):
    from recoup.core.tests.support import free_port

    port = free_port()  # nothing listens there
    config = ImapSettings(host="127.0.0.1", port=port, user="ar@example.com", password="pw", ssl=False)

    result = Poller(config).poll()

    assert result.error.startswith(f"Cannot reach the IMAP server 127.0.0.1:{port}: ")
    assert "refused" in result.error.lower()
    mailbox = Mailbox.objects.get()
    assert (mailbox.last_error, mailbox.last_uid, mailbox.uidvalidity) == (result.error, 0, None)
    assert InboundEmail.objects.count() == 0


def test_a_wrong_password_is_reported_by_the_command_without_a_traceback(books, imap, settings):
    imap.deliver(mail("Never read"))
    settings.IMAP_PASSWORD = "wrong"

    with pytest.raises(CommandError) as refused:
        call_command("inbound", "poll")

    assert str(refused.value).startswith(
        f"Polling {imap.user}@127.0.0.1:{imap.port}/INBOX failed: The IMAP server 127.0.0.1:{imap.port} "
        f"refused the login of {imap.user}: "
    )
    assert "wrong" not in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert Mailbox.objects.get().last_error in str(refused.value) and InboundEmail.objects.count() == 0


def test_tls_against_a_plain_server_is_reported_as_a_tls_failure(books, imap, settings):
    settings.IMAP_SSL = True
    imap.deliver(mail("Not read"))

    result = Poller().poll()

    assert result.error.startswith(f"TLS with the IMAP server 127.0.0.1:{imap.port} failed: ")
    assert InboundEmail.objects.count() == 0 and Mailbox.objects.get().last_error == result.error


def test_a_missing_folder_is_reported(books, imap, settings):
    settings.IMAP_FOLDER = "Nope"

    result = Poller().poll()

    assert result.error.startswith(f"The folder 'Nope' cannot be opened on 127.0.0.1:{imap.port}: ")
    assert InboundEmail.objects.count() == 0


def test_the_command_says_what_is_missing_when_imap_is_not_configured(db, settings):
    settings.IMAP_HOST, settings.IMAP_USER, settings.IMAP_PASSWORD = "", "ar@example.com", ""

    with pytest.raises(
        CommandError, match=r"^Inbound email is not configured: set IMAP_HOST, IMAP_PASSWORD "
    ):
        call_command("inbound", "poll")

    assert Mailbox.objects.count() == 0
    assert poll_inbound() == {
        "error": "Inbound email is not configured: set IMAP_HOST, IMAP_PASSWORD (see docs/operations.md)."
    }


def test_the_command_polls_and_prints_what_it_stored(books, imap, capsys):
    books.customer("ACME", emails=("ap@acme-corp.example",))
    imap.deliver(mail("One", sender="ap@acme-corp.example"))
    imap.deliver(mail("Two"))

    call_command("inbound", "poll")

    assert capsys.readouterr().out == (
        f"{imap.user}@127.0.0.1:{imap.port}/INBOX: 2 new emails (1 matched, 1 unmatched, "
        "0 automatic replies); 0 already stored.\n"
    )


def test_the_celery_task_polls_the_configured_mailbox(books, imap):
    imap.deliver(mail("Via beat"))

    done = poll_inbound.delay().get(timeout=30)

    assert (done["stored"], done["unmatched"], done["error"]) == (1, 1, "")
    assert InboundEmail.objects.get().subject == "Via beat"


def test_without_dovecot_the_tests_fail_under_ci_and_skip_elsewhere(monkeypatch):
    from recoup.activity.tests import imap_support

    monkeypatch.setattr(imap_support, "find", lambda program: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"^Dovecot is not installed .*; CI=true needs it\.$"):
        imap_support.start_dovecot()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"^Dovecot is not installed"):
        imap_support.start_dovecot()


def imap_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """config.settings loaded in a fresh interpreter with these IMAP variables (and no others)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMAP_", "RECOUP_INBOUND")) and k != "DATABASE_URL"
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.IMAP_SSL, s.IMAP_STARTTLS, s.IMAP_PORT, s.IMAP_FOLDER, "
        "s.CELERY_BEAT_SCHEDULE.get('inbound-poll'))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "RECOUP_INSECURE_DEFAULTS": "1",
            "DATABASE_URL": "sqlite://:memory:",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_beat_polls_only_with_a_host_and_tls_is_the_default():
    unset, imaps = (
        imap_settings(),
        imap_settings(IMAP_HOST="imap.example.com", RECOUP_INBOUND_POLL_SECONDS="30"),
    )
    starttls = imap_settings(IMAP_HOST="imap.example.com", IMAP_STARTTLS="1")
    both = imap_settings(IMAP_SSL="1", IMAP_STARTTLS="yes")

    assert (unset.returncode, unset.stdout) == (0, "True False 993 INBOX None\n"), unset.stderr
    assert (
        imaps.stdout
        == "True False 993 INBOX {'task': 'recoup.activity.tasks.poll_inbound', 'schedule': 30.0}\n"
    )
    assert starttls.stdout.startswith("False True 143 INBOX {'task': ")
    assert both.returncode != 0
    assert "Set at most one of IMAP_SSL and IMAP_STARTTLS." in both.stderr
