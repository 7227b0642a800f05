"""Turning a planned message into what the customer receives: subject, text and HTML bodies, and the PDF.

A level's template is written by a manager in the UI, so it renders in an engine of its own: no loaders (no
{% include %} or {% extends %} of files), no {% load %}able libraries, and a context of plain strings and
numbers, never model instances. The trusted layouts around it (email.html, email.txt, statement.html) are
ordinary project templates.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.defaulttags import DebugNode, LoadNode
from django.template.loader import render_to_string
from django.template.loader_tags import ExtendsNode, IncludeNode
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe

from recoup.core.money import quantize
from recoup.core.templatetags.money import money
from recoup.dunning import rules

_BUILTINS = ["django.template.defaulttags", "django.template.defaultfilters"]
_REFUSED = (IncludeNode, ExtendsNode, LoadNode, DebugNode)


@functools.cache
def _engine(html: bool) -> Engine:
    return Engine(dirs=[], app_dirs=False, libraries={}, builtins=_BUILTINS, autoescape=html, debug=False)


def compile_template(text: str, *, html: bool = False) -> Template:
    """Raises TemplateSyntaxError for a template that cannot render (or uses {% load %}, {% include %}…)."""
    try:
        template = _engine(html).from_string(text)
    except TemplateSyntaxError as exc:
        if "is not a registered tag library" in str(exc):  # {% load %}: this engine has no libraries at all
            raise TemplateSyntaxError("{% load %} is not allowed in a dunning template") from exc
        raise
    for node_type in _REFUSED:
        if template.nodelist.get_nodes_by_type(node_type):
            tag = node_type.__name__.removesuffix("Node").lower()
            raise TemplateSyntaxError(f"{{% {tag} %}} is not allowed in a dunning template")
    return template


def render_template(text: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render a dunning template: escaped for HTML, as it is for text (a Context escapes unless told not to,
    whatever its engine says)."""
    return compile_template(text, html=html).render(Context(context, autoescape=html))


@dataclass(frozen=True)
class Line:
    """One invoice as a message or statement shows it."""

    number: str
    issue_date: dt.date
    due_date: dt.date
    days_past_due: int
    currency: str
    amount: Decimal
    open: Decimal
    disputed: Decimal = Decimal(0)
    level: str = ""
    is_new: bool = False
    invoice_id: int | None = None

    @property
    def dunnable(self) -> Decimal:
        return rules.dunnable(self.open, self.disputed)


@dataclass
class Letter:
    """Everything a message or a statement renders from: plain values only."""

    as_of: dt.date
    customer_name: str
    customer_ref: str
    contact_name: str
    level_name: str
    language: str
    lines: list[Line]
    subject_template: str = ""
    body_template: str = ""
    credits: dict[str, Decimal] = field(default_factory=dict)  # unapplied cash and credit notes, by currency
    statement: list[Line] = field(default_factory=list)  # every open item, for the PDF
    sender_name: str = ""  # who sends a manual email; reminders have none

    def totals(self, attribute: str, *, statement: bool = False) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.statement if statement else self.lines:
            sums[line.currency] += getattr(line, attribute)
        return {c: quantize(v, c) for c, v in sorted(sums.items()) if v}

    def template_context(self) -> dict[str, Any]:
        due = self.totals("dunnable")
        disputed = self.totals("disputed")
        return {
            "company_name": settings.RECOUP_COMPANY_NAME,
            "company_email": company_email(),
            "customer_name": self.customer_name,
            "customer_ref": self.customer_ref,
            "contact_name": self.contact_name,
            "level_name": self.level_name,
            "sender_name": self.sender_name,
            "as_of": self.as_of.isoformat(),
            "total_due": _money_list(due),
            "disputed_total": _money_list(disputed),
            "invoice_count": len(self.lines),
            "oldest_days_past_due": max((line.days_past_due for line in self.lines), default=0),
            "invoices": [
                {
                    "number": line.number,
                    "issue_date": line.issue_date.isoformat(),
                    "due_date": line.due_date.isoformat(),
                    "days_past_due": line.days_past_due,
                    "open": money(line.open, line.currency),
                    "disputed": money(line.disputed, line.currency) if line.disputed else "",
                    "due": money(line.dunnable, line.currency),
                    "level": line.level,
                }
                for line in self.lines
            ],
        }


def company_email() -> str:
    """The address alone, from DEFAULT_FROM_EMAIL ("Acme AR <ar@acme.example>" → "ar@acme.example")."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def _money_list(totals: dict[str, Decimal]) -> str:
    return " + ".join(money(amount, currency) for currency, amount in totals.items())


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_subject(letter: Letter, context: dict[str, Any] | None = None) -> str:
    text = render_template(letter.subject_template, context or letter.template_context())
    return " ".join(text.split())


def render_email(letter: Letter, *, statement_attached: bool | None = None) -> RenderedEmail:
    """The email of a letter. `statement_attached` None: as RECOUP_DUNNING_ATTACH_STATEMENT says (reminders);
    a manual email never carries one."""
    context = letter.template_context()
    subject = render_subject(letter, context)
    body_text = render_template(letter.body_template, context).strip()
    page = {
        **context,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_as_html(body_text),
        "lines": letter.lines,
        "due_totals": letter.totals("dunnable"),
        "disputed_totals": letter.totals("disputed"),
        "statement_attached": (
            settings.RECOUP_DUNNING_ATTACH_STATEMENT if statement_attached is None else statement_attached
        ),
    }
    # Plain str, not SafeString: a page that shows the HTML (in an iframe's srcdoc) must escape it like any
    # other text.
    return RenderedEmail(
        subject=subject,
        text=str.__str__(render_to_string("dunning/email.txt", page)).strip() + "\n",
        html=str.__str__(render_to_string("dunning/email.html", page)),
    )


def body_as_html(text: str) -> SafeString:
    """A body is text, markup in the template included: escaped whole, then paragraphs and line breaks."""
    return mark_safe(linebreaks(text, autoescape=True))  # escaped by linebreaks itself


def render_letter_body(letter: Letter) -> str:
    return body_as_html(render_template(letter.body_template, letter.template_context()).strip())


STATEMENT_CSS = Path(__file__).resolve().parent / "static" / "dunning" / "statement.css"
# From this many open items a statement may run past its first page, and its pages are numbered ("Page 2 of
# 3"). Below it they are not: the page-margin box costs a fifth of a one-page statement's rendering time.
NUMBERED_FROM_LINES = 15


def render_statement_pdf(letter: Letter, *, with_letter: bool = False) -> bytes:
    """The customer's statement of open items as of the letter's date; a letter puts its body first."""
    from weasyprint import HTML  # imported here: 0.8 s at start-up, and only senders need it

    page = {
        "company_name": settings.RECOUP_COMPANY_NAME,
        "company_email": company_email(),
        "letter": letter,
        "letter_body": render_letter_body(letter) if with_letter else "",
        "lines": letter.statement,
        "open_totals": letter.totals("open", statement=True),
        "disputed_totals": letter.totals("disputed", statement=True),
        "due_totals": letter.totals("dunnable", statement=True),
        "credits": {c: v for c, v in sorted(letter.credits.items()) if v},
        "numbered": len(letter.statement) >= NUMBERED_FROM_LINES,
    }
    html = render_to_string("dunning/statement.html", page)
    pdf: bytes = HTML(string=html).write_pdf(font_config=_font_config(), stylesheets=[_statement_css()])
    return pdf


@functools.cache
def _statement_css() -> Any:
    from weasyprint import CSS

    return CSS(filename=str(STATEMENT_CSS), font_config=_font_config())


@functools.cache
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()
