"""The pure rules of inbound email, on plain values: Message-IDs, automatic replies, invoice tokens, domains,
and the cleaning of what a sender controls."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recoup.activity import inbound_rules as rules


def test_message_ids_are_read_in_order_without_brackets_in_lower_case():
    header = "<A1@X.example>\r\n <b2@y.example> <A1@x.example> junk"

    assert rules.message_ids(header) == ["a1@x.example", "b2@y.example"]
    assert rules.message_ids("  Bare.ID@Host.example ") == ["bare.id@host.example"]
    assert rules.message_ids("two words") == []
    assert rules.message_ids("") == []


def test_a_reply_refers_first_to_in_reply_to_then_to_references_newest_first():
    assert rules.reply_ids("<c@x>", "<a@x> <b@x> <c@x>") == ["c@x", "b@x", "a@x"]
    assert rules.reply_ids("", "") == []


def test_a_hostile_references_header_is_cut_to_the_limit():
    header = " ".join(f"<id{n}@x>" for n in range(500))

    ids = rules.reply_ids("", header)

    assert len(ids) == rules.MAX_REFERENCES == 50
    assert ids[0] == "id49@x"  # the newest of the first 50 read


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"auto-submitted": ["auto-replied"]}, "Re: invoice"),
        ({"auto-submitted": ["auto-generated"]}, "Undeliverable"),
        ({"x-autoreply": ["yes"]}, "Re: invoice"),
        ({"x-autorespond": ["Vacation"]}, "Re: invoice"),
        ({"precedence": ["auto_reply"]}, "Re: invoice"),
        ({"precedence": ["Bulk"]}, "Newsletter"),
        ({"precedence": ["junk"]}, "Offer"),
        ({"content-type": ["multipart/report; report-type=delivery-status"]}, "Mail delivery failed"),
        ({}, "Out of Office: Your account"),
        ({}, "Automatic reply: Your account"),
        ({}, "Abwesenheitsnotiz: Ihr Konto"),
        ({}, "Réponse automatique : Votre compte"),
        ({}, "  AUTO: Pat is out of the office"),
    ],
)
def test_an_automatic_reply_is_recognised(headers, subject):
    assert rules.is_auto_reply(headers, subject) is True


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"auto-submitted": ["no"]}, "Re: invoice"),
        ({"precedence": ["list"]}, "Re: invoice"),
        ({}, "Re: Out of office? We paid"),
        ({}, "Payment for INV-1"),
        ({}, ""),
    ],
)
def test_a_person_writing_is_not_an_automatic_reply(headers, subject):
    assert rules.is_auto_reply(headers, subject) is False


def test_invoice_tokens_are_whole_words_with_a_digit_and_their_upper_case():
    text = "Paid inv-0042, INV/2026/7 and #A-17. Not 12, not (x), not INV-0042x9? Ref: 2026-03-02."

    assert rules.invoice_tokens("Re: INV-0042", text) == [
        "INV-0042",
        "inv-0042",
        "INV/2026/7",
        "A-17",
        "INV-0042x9",
        "INV-0042X9",
        "2026-03-02",
    ]


def test_invoice_tokens_are_bounded():
    many = " ".join(f"N{n:05d}" for n in range(5000))
    long_word = "9" * 65

    assert len(rules.invoice_tokens(many)) == rules.MAX_TOKENS
    assert rules.invoice_tokens(long_word) == []
    assert rules.invoice_tokens("x" * rules.MAX_SCANNED_CHARS + " INV-1") == []


def test_free_mail_domains_are_public_and_company_domains_are_not():
    assert [rules.is_public_domain(d) for d in ("gmail.com", "yahoo.co.uk", "hotmail.fr", "GMX.AT")] == [
        True,
        True,
        True,
        True,
    ]
    assert [rules.is_public_domain(d) for d in ("acme.example", "outlookgroup.com", "live")] == [
        False,
        False,
        False,
    ]
    assert rules.address_domain("Pat@Acme.Example.") == "acme.example"
    assert rules.address_domain("@acme.example") == rules.address_domain("nobody") == ""


def test_content_types_are_shown_only_when_they_look_like_one():
    assert rules.clean_content_type("Application/PDF") == "application/pdf"
    assert rules.clean_content_type('text/html"><script>') == "application/octet-stream"
    assert rules.clean_content_type("") == "application/octet-stream"


def test_text_is_cleaned_of_nul_and_lone_surrogates_and_cut():
    assert rules.clean_text("a\x00b\r\nc\rd\udcff", 100) == "ab\nc\nd?"
    assert rules.clean_text("x" * 10, 4) == "xxxx"
    assert rules.clean_line("Re:\r\n\tpaid\x07 now", 100) == "Re: paid now"


@given(st.text(max_size=300))
def test_cleaned_text_is_always_storable(value):
    cleaned = rules.clean_text(value, 200)

    assert "\x00" not in cleaned and len(cleaned) <= 200
    cleaned.encode("utf-8")  # never a lone surrogate
    line = rules.clean_line(value, 100)
    assert len(line) <= 100 and all(ord(c) >= 32 and ord(c) != 127 for c in line)
