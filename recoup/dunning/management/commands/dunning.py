"""recoup dunning run --as-of DATE [--dry-run] | send | policy import FILE.yaml | policy export NAME"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from recoup.core.cli import date_argument
from recoup.core.errors import DomainError
from recoup.dunning import delivery, policies, services, tasks
from recoup.dunning.models import DunningPolicy
from recoup.dunning.planning import Plan
from recoup.dunning.rules import SKIP_TEXT, Skip


class Command(BaseCommand):
    help = "Dunning: plan a run, deliver the outbox, import and export policies (docs/dunning.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser(
            "run", help="move invoices up their levels as of a date and queue the messages"
        )
        run.add_argument("--as-of", type=date_argument, default=None, help="YYYY-MM-DD; default today")
        run.add_argument("--dry-run", action="store_true", help="show what would go out; change nothing")
        actions.add_parser("send", help="deliver every outbox message whose send time has passed")
        policy = actions.add_parser("policy", help="policies as YAML files")
        policy_actions = policy.add_subparsers(dest="policy_action", required=True)
        load = policy_actions.add_parser("import", help="create or update a policy from a YAML file")
        load.add_argument("file")
        dump = policy_actions.add_parser("export", help="print a policy as YAML")
        dump.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "run":
                self._run(options["as_of"] or timezone.localdate(), dry_run=options["dry_run"])
            elif action == "send":
                self.stdout.write(f"Delivered: {delivery.deliver_due()}")
            elif options["policy_action"] == "import":
                self._import(Path(options["file"]))
            else:
                self._export(options["name"])
        except DomainError as refused:
            raise CommandError(refused.message) from None

    def _run(self, as_of: dt.date, *, dry_run: bool) -> None:
        result = services.dunning_run(actor=None, as_of=as_of, dry_run=dry_run)
        self.stdout.write(summary(result.report, run_id=result.run.pk if result.run else None))
        if dry_run:
            self.stdout.write("")
            self.stdout.write(outgoing(result.plan))
            self.stdout.write("Dry run: nothing was written and nothing was sent.")
            return
        delivered = tasks.send_due()
        if delivered is None:
            self.stdout.write("Handed to the workers, which send what is due.")
        else:
            self.stdout.write(f"Delivered: {delivered}")

    def _import(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc
        spec = policies.parse_yaml(text, source=str(path))
        policy, created = services.policy_save(actor=None, spec=spec)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} policy {policy.name!r} with {len(spec.levels)} levels.")

    def _export(self, name: str) -> None:
        policy = DunningPolicy.objects.filter(name=name).first()
        if policy is None:
            known = ", ".join(DunningPolicy.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No policy named {name!r} (policies: {known}).")
        self.stdout.write(policies.policy_as_yaml(policy), ending="")


def summary(report: dict[str, Any], *, run_id: int | None) -> str:
    """The run's report as a console table: messages by level and channel, skipped invoices by reason."""
    title = f"Dunning run as of {report['as_of']}" + (f" (run {run_id})" if run_id else " (dry run)")
    lines = [
        title,
        f"Customers: {report['customers']:,}   messages: {report['messages_total']:,}   "
        f"invoices moved: {report['invoices_moved']:,}",
    ]
    channels = ["email", "letter", "call"]
    if report["messages"]:
        width = max(len(label) for label in report["messages"])
        lines.append("")
        lines.append(f"{'level'.ljust(width)}  " + "  ".join(c.rjust(6) for c in channels))
        for label, counts in report["messages"].items():
            lines.append(f"{label.ljust(width)}  " + "  ".join(f"{counts.get(c, 0):>6,}" for c in channels))
    if report["skipped"]:
        lines.append("")
        lines.append("Skipped invoices:")
        for reason, count in sorted(report["skipped"].items(), key=lambda item: -item[1]):
            text = SKIP_TEXT.get(Skip(reason), reason) if reason in Skip._value2member_map_ else reason
            lines.append(f"  {count:>8,}  {reason}: {text}")
    actions = report.get("actions", {})
    if actions.get("tasks") or actions.get("credit_holds"):
        lines.append(f"Actions: {actions['tasks']} review task(s), {actions['credit_holds']} credit hold(s)")
    return "\n".join(lines)


def outgoing(plan: Plan) -> str:
    """A dry run's list: one line per message that would go out."""
    lines = []
    for customer_plan, communication in plan.outgoing():
        invoices = ", ".join(
            f"{d.external_id}{' (new)' if d.target is not None else ''}" for d in customer_plan.listed()
        )
        via = communication.channel + (" (no email address)" if communication.fallback_from else "")
        lines.append(
            f"{customer_plan.customer.external_id}  {via}  {plan.level_name(communication.level.id)}  "
            f"at {communication.send_at.isoformat(timespec='minutes')}: {invoices}"
        )
    return "\n".join(lines) or "Nothing would go out."
