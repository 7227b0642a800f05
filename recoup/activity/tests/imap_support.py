"""A real IMAP server for the inbound-email tests: Dovecot from Debian's dovecot-imapd, on loopback.

The session starts one Dovecot with a configuration written into a short directory under /tmp (not pytest's
tmp_path: the auth process, running as an unprivileged user, must be able to read the users file). Each test
gets a fresh account of its own (`imap`), so every test starts from an empty INBOX with its own UIDVALIDITY,
and the Django settings point the poller at it. Messages arrive by IMAP APPEND, as a mail server would file
them.

Without Dovecot the tests skip with the reason, except under CI=true, where they fail (like the browser
tests and pdftotext).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imap_tools import MailBoxUnencrypted

from recoup.core.tests.support import free_port

MISSING = "Dovecot is not installed (apt-get install -y dovecot-imapd)"
SBIN = ("/usr/sbin", "/usr/local/sbin")
ACCOUNTS = 200  # made up front; more are added (slowly) when a session needs them


def find(program: str) -> str | None:
    return shutil.which(program) or next(
        (f"{d}/{program}" for d in SBIN if os.access(f"{d}/{program}", os.X_OK)), None
    )


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = recoup-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_max_userip_connections = 100
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{chroot}}}
{anvil}"""


@dataclass
class ImapAccount:
    """One mailbox on the test server: deliver messages into it, and reach into it as its owner would."""

    host: str
    port: int
    user: str
    password: str
    server: Dovecot

    def connect(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted(self.host, port=self.port, timeout=10).login(
            self.user, self.password, initial_folder=None
        )

    def deliver(self, message: EmailMessage | bytes, folder: str = "INBOX") -> int:
        """APPEND the message to `folder`; its UID there."""
        raw = message if isinstance(message, bytes) else message.as_bytes()
        with self.connect() as box:
            _, data = box.append(raw, folder)
        found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
        assert found, data
        return int(found.group(1))

    def create_folder(self, folder: str) -> None:
        with self.connect() as box:
            box.folder.create(folder)

    def delete_folder(self, folder: str) -> None:
        with self.connect() as box:
            box.folder.delete(folder)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.connect() as box:
            return box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"]

    def flags(self, uid: int, folder: str = "INBOX") -> tuple[str, ...]:
        with self.connect() as box:
            box.folder.set(folder, readonly=True)
            [message] = box.fetch(uid_list=[str(uid)], mark_seen=False, headers_only=True)
            return message.flags


@dataclass
class Dovecot:
    root: Path
    port: int
    uid: int
    gid: int
    proc: subprocess.Popen[bytes] | None = None
    passwords: list[str] = field(default_factory=list)
    taken: int = 0

    def write_users(self, count: int) -> None:
        """Accounts made before the server starts. Dovecot reads a changed passwd-file again at most once a
        second, so an account added while it runs may not log in at once; then the test waits that second."""
        with (self.root / "users").open("a") as users:
            for _ in range(count):
                self.passwords.append(secrets.token_hex(8))
                n = len(self.passwords)
                home = self.root / "mail" / f"ar{n}@example.com"
                users.write(
                    f"ar{n}@example.com:{{PLAIN}}{self.passwords[-1]}:{self.uid}:{self.gid}::{home}::\n"
                )

    def add_account(self) -> ImapAccount:
        """The next unused user: an empty mailbox."""
        if self.taken == len(self.passwords):
            self.write_users(1)
            time.sleep(1.1)
        self.taken += 1
        user = f"ar{self.taken}@example.com"
        return ImapAccount("127.0.0.1", self.port, user, self.passwords[self.taken - 1], self)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_dovecot() -> Dovecot:
    dovecot = find("dovecot")
    if dovecot is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{MISSING}; CI=true needs it.")
        pytest.skip(MISSING)
    root = Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))  # short: socket paths are at most 108 bytes
    root.chmod(0o755)
    port = free_port()
    if os.geteuid() == 0:
        # Dovecot never gives mail access as uid 0: the mail belongs to nobody.
        internal_user, login_user = "dovecot", "dovenull"
        internal_group = grp.getgrgid(pwd.getpwnam("dovecot").pw_gid).gr_name
        account = pwd.getpwnam("nobody")
        uid, gid = account.pw_uid, account.pw_gid
        chroot = anvil = ""
    else:
        # As an unprivileged user, every Dovecot process runs as that user, without chroots.
        account = pwd.getpwuid(os.getuid())
        uid, gid = account.pw_uid, account.pw_gid
        internal_user = login_user = account.pw_name
        internal_group = grp.getgrgid(gid).gr_name
        chroot = "  chroot =\n"
        anvil = "service anvil {\n  chroot =\n}\n"
    (root / "mail").mkdir()
    os.chown(root / "mail", uid, gid)
    conf = root / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            root=root,
            port=port,
            internal_user=internal_user,
            internal_group=internal_group,
            login_user=login_user,
            chroot=chroot,
            anvil=anvil,
        )
    )
    server = Dovecot(root=root, port=port, uid=uid, gid=gid)
    server.write_users(ACCOUNTS)
    server.proc = subprocess.Popen([dovecot, "-F", "-c", str(conf)], stderr=subprocess.PIPE)
    try:
        wait_port(port, server.proc)
    except OSError:
        server.proc.kill()
        _, stderr = server.proc.communicate(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"Dovecot did not start: {stderr.decode(errors='replace')}{server.log()}")
    return server


def stop_dovecot(server: Dovecot) -> None:
    if server.proc is not None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        stop_dovecot(server)


@pytest.fixture
def imap(dovecot: Dovecot, settings) -> ImapAccount:
    """A fresh account on the test Dovecot, and the IMAP settings pointing the poller at its INBOX."""
    account = dovecot.add_account()
    settings.IMAP_HOST, settings.IMAP_PORT = account.host, account.port
    settings.IMAP_USER, settings.IMAP_PASSWORD = account.user, account.password
    settings.IMAP_FOLDER = "INBOX"
    settings.IMAP_SSL = settings.IMAP_STARTTLS = False
    return account


@pytest.fixture
def make_inbound(db):
    """make_inbound(subject=…, body_text=…, customer=…, attachments={"name.pdf": b"…"}): a stored email, as
    the poller would have left it, for tests of what people do with one (no IMAP server needed)."""
    from django.core.files.base import ContentFile

    from recoup.activity.models import InboundAttachment, InboundEmail, InboundStatus, Mailbox

    def make(*, attachments: dict[str, bytes] | None = None, **fields: Any) -> InboundEmail:
        mailbox, _ = Mailbox.objects.get_or_create(
            key="ar@imap.example:993/INBOX", defaults={"uidvalidity": 7}
        )
        mailbox.last_uid += 1
        mailbox.save(update_fields=["last_uid"])
        fields.setdefault("from_address", "pat@nowhere.example")
        fields.setdefault("subject", f"Message {mailbox.last_uid}")
        fields.setdefault(
            "status", InboundStatus.MATCHED if fields.get("customer") else InboundStatus.UNMATCHED
        )
        email = InboundEmail.objects.create(mailbox=mailbox, uidvalidity=7, uid=mailbox.last_uid, **fields)
        for name, payload in (attachments or {}).items():
            row = InboundAttachment(
                email=email, filename=name, content_type="application/pdf", size=len(payload)
            )
            row.file.save(f"{secrets.token_hex(16)}.pdf", ContentFile(payload), save=False)
            row.save()
        return email

    return make
