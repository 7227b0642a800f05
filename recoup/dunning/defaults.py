"""The default policy the first migration creates, and the built-in templates a level gets when a policy file
names none. Templates are Django template syntax over the plain values listed in docs/dunning.md; the email
layout adds the table of invoices and the totals after the body, so a body never has to list them itself."""

from __future__ import annotations

from typing import Any

# Template kinds: a courtesy notice before the due date, a reminder, and the final notice.
COURTESY, REMINDER, FINAL = "courtesy", "reminder", "final"

TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    COURTESY: {
        "en": {
            "subject": "{{ company_name }}: invoices due soon ({{ total_due }})",
            "body": (
                "Dear {{ contact_name|default:customer_name }},\n\n"
                "This is a friendly note that the invoices below fall due shortly. If payment is already on "
                "its way, thank you, and please disregard this message.\n\n"
                "Kind regards,\n{{ company_name }} Accounts Receivable"
            ),
        },
        "fr": {
            "subject": "{{ company_name }} : factures bientôt à échéance ({{ total_due }})",
            "body": (
                "Bonjour {{ contact_name|default:customer_name }},\n\n"
                "Pour mémoire, les factures ci-dessous arrivent bientôt à échéance. Si le paiement est déjà "
                "en cours, merci, et ne tenez pas compte de ce message.\n\n"
                "Cordialement,\nLe service clients de {{ company_name }}"
            ),
        },
        "de": {
            "subject": "{{ company_name }}: Rechnungen bald fällig ({{ total_due }})",
            "body": (
                "Guten Tag {{ contact_name|default:customer_name }},\n\n"
                "wir möchten Sie freundlich daran erinnern, dass die folgenden Rechnungen in Kürze fällig "
                "werden. Falls die Zahlung bereits veranlasst ist, danken wir Ihnen.\n\n"
                "Mit freundlichen Grüßen\n{{ company_name }} Debitorenbuchhaltung"
            ),
        },
    },
    REMINDER: {
        "en": {
            "subject": "{{ company_name }}: {{ level_name|lower }}, {{ total_due }} overdue",
            "body": (
                "Dear {{ contact_name|default:customer_name }},\n\n"
                "Our records show the invoices below as unpaid past their due date. Please arrange payment "
                "of {{ total_due }}, or reply to this email if anything is in question."
                "{% if disputed_total %} Amounts under dispute ({{ disputed_total }}) are not requested."
                "{% endif %}\n\n"
                "Kind regards,\n{{ company_name }} Accounts Receivable"
            ),
        },
        "fr": {
            "subject": "{{ company_name }} : rappel, {{ total_due }} échus",
            "body": (
                "Bonjour {{ contact_name|default:customer_name }},\n\n"
                "Sauf erreur de notre part, les factures ci-dessous restent impayées après leur échéance. "
                "Merci de régler {{ total_due }}, ou de répondre à ce message en cas de question."
                "{% if disputed_total %} Les montants contestés ({{ disputed_total }}) ne sont pas "
                "réclamés.{% endif %}\n\n"
                "Cordialement,\nLe service clients de {{ company_name }}"
            ),
        },
        "de": {
            "subject": "{{ company_name }}: Zahlungserinnerung, {{ total_due }} überfällig",
            "body": (
                "Guten Tag {{ contact_name|default:customer_name }},\n\n"
                "nach unseren Unterlagen sind die folgenden Rechnungen nach Fälligkeit noch offen. Bitte "
                "überweisen Sie {{ total_due }} oder antworten Sie auf diese E-Mail, falls etwas unklar ist."
                "{% if disputed_total %} Strittige Beträge ({{ disputed_total }}) werden nicht gefordert."
                "{% endif %}\n\n"
                "Mit freundlichen Grüßen\n{{ company_name }} Debitorenbuchhaltung"
            ),
        },
    },
    FINAL: {
        "en": {
            "subject": "{{ company_name }}: final notice, {{ total_due }} overdue",
            "body": (
                "Dear {{ contact_name|default:customer_name }},\n\n"
                "Despite our earlier reminders, the invoices below remain unpaid. Please pay "
                "{{ total_due }} within 7 days. Without payment or a reply we will place your account on "
                "credit hold and pass the matter on for collection.\n\n"
                "Regards,\n{{ company_name }} Accounts Receivable"
            ),
        },
        "fr": {
            "subject": "{{ company_name }} : dernier rappel, {{ total_due }} échus",
            "body": (
                "Bonjour {{ contact_name|default:customer_name }},\n\n"
                "Malgré nos précédents rappels, les factures ci-dessous restent impayées. Merci de régler "
                "{{ total_due }} sous 7 jours. À défaut de paiement ou de réponse, votre compte sera bloqué "
                "et le dossier transmis au recouvrement.\n\n"
                "Cordialement,\nLe service clients de {{ company_name }}"
            ),
        },
        "de": {
            "subject": "{{ company_name }}: Letzte Mahnung, {{ total_due }} überfällig",
            "body": (
                "Guten Tag {{ contact_name|default:customer_name }},\n\n"
                "trotz unserer Erinnerungen sind die folgenden Rechnungen weiterhin offen. Bitte zahlen Sie "
                "{{ total_due }} innerhalb von 7 Tagen. Andernfalls sperren wir Ihr Kundenkonto und geben "
                "die Forderung an das Inkasso ab.\n\n"
                "Mit freundlichen Grüßen\n{{ company_name }} Debitorenbuchhaltung"
            ),
        },
    },
}


def template_kind(position: int, offset_days: int, final_position: int) -> str:
    if offset_days < 0:
        return COURTESY
    return FINAL if position >= final_position else REMINDER


def default_templates(kind: str) -> dict[str, dict[str, str]]:
    return {language: dict(text) for language, text in TEMPLATES[kind].items()}


# The policy the first migration creates (the dunning issue's "sensible default").
DEFAULT_POLICY: dict[str, Any] = {
    "name": "Standard",
    "description": (
        "A friendly notice before the due date, two reminders, a call, a final notice, then escalation to a "
        "manager with a credit hold."
    ),
    "default": True,
    "levels": [
        {"name": "Friendly notice", "offset_days": -3, "channels": ["email"]},
        {"name": "Reminder", "offset_days": 3, "channels": ["email"], "min_gap_days": 3},
        {"name": "Second reminder", "offset_days": 15, "channels": ["email"], "min_gap_days": 5},
        {"name": "Call", "offset_days": 30, "channels": ["call", "email"], "min_gap_days": 5},
        {"name": "Final notice", "offset_days": 45, "channels": ["email"], "min_gap_days": 5},
        {
            "name": "Escalation",
            "offset_days": 60,
            "channels": [],
            "actions": {"task_for_role": "manager", "credit_hold": True},
        },
    ],
}


# Emails a collector sends by hand (MessageTemplate), in English: (name, tone, subject, body). Migration 0004
# creates them once; the body may use every variable of a dunning template, plus sender_name.
MESSAGE_TEMPLATES: list[tuple[str, str, str, str]] = [
    (
        "Following up on our call",
        "friendly",
        "{{ company_name }}: following up on our call",
        "Dear {{ contact_name|default:customer_name }},\n\n"
        "Thank you for your time on the phone today. As discussed, the invoices below are open"
        "{% if total_due %}, {{ total_due }} in all{% endif %}. Please reply to this email if anything is "
        "in question.\n\n"
        "Kind regards,\n{{ sender_name|default:company_name }}\n{{ company_name }} Accounts Receivable",
    ),
    (
        "Invoice details",
        "friendly",
        "{{ company_name }}: the invoices you asked about",
        "Dear {{ contact_name|default:customer_name }},\n\n"
        "As requested, here are the details of the invoices below. Your reference with us is "
        "{{ customer_ref }}.\n\n"
        "Kind regards,\n{{ sender_name|default:company_name }}\n{{ company_name }} Accounts Receivable",
    ),
    (
        "Payment plan proposal",
        "friendly",
        "{{ company_name }}: a payment plan for {{ total_due|default:'your open invoices' }}",
        "Dear {{ contact_name|default:customer_name }},\n\n"
        "We would be glad to agree a payment plan for the invoices below. Please reply with the amounts and "
        "dates that work for you, and we will confirm them in writing.\n\n"
        "Kind regards,\n{{ sender_name|default:company_name }}\n{{ company_name }} Accounts Receivable",
    ),
    (
        "Payment received, thank you",
        "friendly",
        "{{ company_name }}: thank you for your payment",
        "Dear {{ contact_name|default:customer_name }},\n\n"
        "Thank you: we have received your payment. "
        "{% if invoice_count %}The invoices below remain open."
        "{% else %}Your account is up to date.{% endif %}"
        "\n\nKind regards,\n{{ sender_name|default:company_name }}\n{{ company_name }} Accounts Receivable",
    ),
    (
        "Final demand before escalation",
        "firm",
        "{{ company_name }}: {{ total_due }} overdue, final demand",
        "Dear {{ contact_name|default:customer_name }},\n\n"
        "Despite our reminders, the invoices below, {{ total_due }} in all, remain unpaid. Unless payment "
        "reaches us within 7 days, we will pass the matter on for collection without further notice.\n\n"
        "{{ sender_name|default:company_name }}\n{{ company_name }} Accounts Receivable",
    ),
]
